#pragma once

// Private to countRawLog (batch_counter.cpp). A count runs in two passes per time slice:
//  1. scan: T workers walk contiguous runs of segments, decode blocks, keep the records of the
//     slice that pass the filter, and append each as a 16-byte Pending (cell key with the speed
//     layer's disposition, click-id key) to one of P partitions chosen by (ad, window);
//  2. partition pass: each partition (all of a given ad and window's records) is counted with
//     small, cache-resident tables — the workers' parts in worker order, i.e. log order, so the
//     first copy of a click id is the one that counts — in parallel over partitions.
// Random accesses into tables of millions of cells and click ids would cost a cache miss per
// record; partitioning first makes both passes sequential in memory.

#include "batch/batch_counter.h"
#include "storage/raw_segment_scanner.h"

#include <atomic>
#include <map>
#include <vector>

namespace adclick::engine::batchdetail {

/// Windows per slice: a cell key packs the window's index in its slice into 11 bits.
inline constexpr std::uint64_t kMaxSliceWindows = 2048;

/// A segment file as planned: its usable size (clamped to the end bound) and header facts.
struct SegmentPlan {
    rawlog::SegmentFile file;
    std::uint64_t bytes = 0;
    bool clamped = false; ///< the end bound cuts it: its sealed header (if any) is stale
    bool sealed = false; ///< header range and record count are final
    std::uint64_t records = 0; ///< header count, or an estimate from the size
    TimeMs minMs = 0;
    TimeMs maxMs = 0;
};

/// Shared progress counters (workers add, the coordinating thread reads).
struct Progress {
    std::uint64_t bytesTotal = 0;
    std::atomic<std::uint64_t> bytesDone { 0 };
    std::atomic<std::uint64_t> recordsRead { 0 };
};

struct WorkerSpec {
    TimeMs fromMs = 0; ///< slice, window-aligned
    TimeMs toMs = 0;
    TimeMs windowMs = kMsPerMinute;
    bool deduplicate = true;
    std::uint64_t endSequence = UINT64_MAX; ///< records at or after it are not read
    const RawRecordFilter* filter = nullptr;
    const std::atomic<bool>* cancel = nullptr;
    Progress* progress = nullptr;
    unsigned partitionBits = 0; ///< 2^bits partitions
    std::size_t expectedPerPartition = 0; ///< records one worker is expected to put in a partition
};

struct WorkerStats {
    std::uint64_t recordsRead = 0;
    std::uint64_t recordsInRange = 0;
    std::uint64_t blocksRead = 0;
    std::uint64_t blocksSkipped = 0;
    std::uint64_t bytesRead = 0;
    std::uint64_t segmentsRead = 0;
};

/// One kept record: cellKey = (ad 32 | country 16 | device 3 | window index 11) + 1, with the
/// speed layer's disposition in bits 62–63; copyKey = hash of (click id, ad, window), 0 = no click
/// id (or de-duplication off).
struct Pending {
    std::uint64_t cellKey;
    std::uint64_t copyKey;
};

/// The records of one partition, appended a cache line (4 records) at a time with non-temporal
/// stores: scattering records over thousands of partitions would otherwise cost a cache-line read
/// (write-allocate) from memory for nearly every record.
class PartitionBuffer {
public:
    PartitionBuffer() = default;
    ~PartitionBuffer();
    PartitionBuffer(PartitionBuffer&& o) noexcept;
    PartitionBuffer& operator=(PartitionBuffer&&) = delete;
    PartitionBuffer(const PartitionBuffer&) = delete;

    void reserve(std::size_t records);
    /// Appends 4 records (one 64-byte line). Throws std::bad_alloc.
    void appendLine(const Pending* line);
    /// Appends fewer than 4 records (the staged rest at the end).
    void appendTail(const Pending* records, std::size_t n);
    const Pending* begin() const { return m_data; }
    const Pending* end() const { return m_data + m_size; }
    std::size_t size() const { return m_size; }

private:
    void grow(std::size_t atLeast);
    Pending* m_data = nullptr;
    std::size_t m_size = 0;
    std::size_t m_capacity = 0;
};

/// Pass 1 over a contiguous run of segments.
class BatchWorker {
public:
    BatchWorker(const WorkerSpec& spec, std::vector<const SegmentPlan*> segments);

    /// Walks the segments; any thread. Throws std::bad_alloc when the buffers cannot grow.
    void run();

    const WorkerStats& stats() const { return m_stats; }
    std::vector<RawLogDamage>& damage() { return m_damage; }
    const PartitionBuffer& partition(std::size_t p) const { return m_parts[p]; }
    /// Records whose device byte is not a device class (no room in the packed key; only a foreign
    /// or hand-made log holds them), in log order, counted apart by plain maps.
    const std::vector<ClickEvent>& oddRecords() const { return m_odd; }

private:
    void walkSegment(const SegmentPlan& plan);
    void flushStaged();
    void keepRecords(rawlog::RawSegmentScanner& scanner, std::uint64_t firstSequence);
    bool userAgentMatches(rawlog::RawSegmentScanner& scanner, std::uint16_t uaId);

    WorkerSpec m_spec;
    std::vector<const SegmentPlan*> m_segments;
    WorkerStats m_stats;
    std::vector<RawLogDamage> m_damage;
    std::vector<ClickEvent> m_events; ///< one decoded block
    std::vector<PartitionBuffer> m_parts;
    /// Per partition, up to 4 records waiting to be written as one line (64-byte aligned).
    struct alignas(64) Line {
        Pending records[4];
    };
    std::vector<Line> m_staged;
    std::vector<std::uint8_t> m_stagedCount;
    std::vector<ClickEvent> m_odd;
    std::vector<std::int8_t> m_uaMatch; ///< per segment: uaId → −1 unknown, 0 no, 1 yes
};

/// Pass 2 for partition p: counts the workers' parts in worker order; appends the cells to `out`
/// and the records removed as duplicates to `duplicates`.
void countPartition(const std::vector<const BatchWorker*>& workers, std::size_t p, const WorkerSpec& spec,
    std::vector<BatchCell>& out);
/// The odd records of every worker (in worker order), counted by plain maps.
void countOddRecords(const std::vector<const BatchWorker*>& workers, const WorkerSpec& spec, std::vector<BatchCell>& out);

/// Sorts cells into WindowKey order (LSD radix sort on the key) and adds up cells with equal
/// keys (the same cell counted in several slices). baseMs: a window start ≤ every key's.
void sortAndCombine(std::vector<BatchCell>& cells, TimeMs baseMs, TimeMs windowMs);

} // namespace adclick::engine::batchdetail
