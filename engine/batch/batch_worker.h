#pragma once

// Private to countRawLog (batch_counter.cpp): one worker's walk over a contiguous run of raw log
// segments, counting the records of one time slice.

#include "batch/batch_counter.h"
#include "core/flat_u64_map.h"
#include "storage/raw_segment_scanner.h"

#include <atomic>
#include <map>
#include <vector>

namespace adclick::engine::batchdetail {

/// Windows per slice: a cell key packs the window's index in its slice into 13 bits.
inline constexpr std::uint64_t kMaxSliceWindows = 8192;

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
    std::uint64_t expectedRecords = 0; ///< sizing hint for the tables
};

struct WorkerStats {
    std::uint64_t recordsRead = 0;
    std::uint64_t recordsInRange = 0;
    std::uint64_t blocksRead = 0;
    std::uint64_t blocksSkipped = 0;
    std::uint64_t bytesRead = 0;
    std::uint64_t segmentsRead = 0;
};

class BatchWorker {
public:
    BatchWorker(const WorkerSpec& spec, std::vector<const SegmentPlan*> segments);

    /// Walks the segments; any thread. Throws std::bad_alloc when the tables cannot grow.
    void run();
    /// Un-counts the first copies of click ids that one of `earlier` (workers over earlier
    /// segments) also met: in log order those are the later copies, i.e. duplicates.
    void removeDuplicatesOf(const std::vector<const BatchWorker*>& earlier);
    /// Adds this worker's cells into `out`.
    void mergeInto(std::map<WindowKey, BatchCell>& out) const;

    const WorkerStats& stats() const { return m_stats; }
    std::vector<RawLogDamage>& damage() { return m_damage; }

private:
    void walkSegment(const SegmentPlan& plan);
    void countBlock(rawlog::RawSegmentScanner& scanner, std::uint64_t firstSequence);
    bool userAgentMatches(rawlog::RawSegmentScanner& scanner, std::uint16_t uaId);
    std::uint32_t cellFor(const ClickEvent& e, std::uint64_t windowIndex);

    WorkerSpec m_spec;
    std::vector<const SegmentPlan*> m_segments;
    WorkerStats m_stats;
    std::vector<RawLogDamage> m_damage;
    std::vector<ClickEvent> m_events; ///< one decoded block
    FlatU64Map<std::uint32_t> m_cellIndex; ///< packed (ad, country, device, window index) + 1 → m_cells index
    std::map<WindowKey, std::uint32_t> m_oddCells; ///< cells whose device byte is not a DeviceClass
    std::vector<BatchCell> m_cells;
    /// (click id, ad, window) key → first copy's cell index | disposition << 32
    FlatU64Map<std::uint64_t> m_firstCopies;
    std::vector<std::int8_t> m_uaMatch; ///< per segment: uaId → −1 unknown, 0 no, 1 yes
};

} // namespace adclick::engine::batchdetail
