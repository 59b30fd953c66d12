#pragma once

#include "core/click_event.h"
#include "core/time_units.h"
#include "ingest/ip_address.h"
#include "storage/batch_rows.h"
#include "storage/raw_log.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace adclick::engine {

/// Which raw records a count keeps (all set fields must match).
struct RawRecordFilter {
    std::optional<AdId> adId;
    std::optional<CountryCode> country;
    std::optional<DeviceClass> device;
    std::optional<IpPrefix> ip; ///< exact address or CIDR, v4 or v6
    std::string userAgentContains; ///< case-insensitive (ASCII) substring of the raw user agent; empty = any

    bool empty() const { return !adId && !country && !device && !ip && userAgentContains.empty(); }
};

/// Progress of a running count, reported on the calling thread about every 100 ms and once at the end.
struct BatchProgress {
    std::uint64_t bytesDone = 0; ///< segment bytes walked (read or skipped by header)
    std::uint64_t bytesTotal = 0; ///< bytes to walk (all passes)
    std::uint64_t recordsRead = 0; ///< raw records decoded so far
    double seconds = 0; ///< since the count started
    double fraction() const { return bytesTotal == 0 ? 1.0 : static_cast<double>(bytesDone) / static_cast<double>(bytesTotal); }
    double recordsPerSecond() const { return seconds > 0 ? static_cast<double>(recordsRead) / seconds : 0.0; }
};

struct BatchCountOptions {
    TimeMs fromMs = 0; ///< aligned down to the window
    TimeMs toMs = 0; ///< aligned up to the window
    TimeMs windowMs = kMsPerMinute;
    unsigned threads = 2; ///< worker threads (the calling thread is one of them); 0 = hardware
    bool deduplicate = true; ///< count a click id once per (ad, window)
    /// Read only records before this position (the last checkpoint's raw end: later records may be
    /// rolled back by a crash, and the writer's current block is still being written).
    std::optional<RawLogPosition> end;
    RawRecordFilter filter;
    /// Called on the calling thread; may be empty.
    std::function<void(const BatchProgress&)> progress;
    /// Set to true from any thread to stop; the count then returns Status::Cancelled.
    const std::atomic<bool>* cancel = nullptr;
    /// Memory bound of the de-duplication tables: a range expected to hold more records is counted
    /// in consecutive time slices of whole windows (each re-reads the blocks that overlap it).
    std::uint64_t maxRecordsPerSlice = 48ull << 20;
};

struct BatchCountResult {
    enum class Status : std::uint8_t { Done, Cancelled, Failed };
    Status status = Status::Done;
    std::string error;
    TimeMs fromMs = 0; ///< effective (window-aligned) range
    TimeMs toMs = 0;
    /// One per (ad, window, country, device) with at least one raw record, in no particular order
    /// (sortCells() puts them in WindowKey order).
    std::vector<BatchCell> cells;
    std::uint64_t recordsRead = 0; ///< raw records decoded
    std::uint64_t recordsInRange = 0; ///< decoded records in [fromMs, toMs) that pass the filter
    std::uint64_t counted = 0;
    std::uint64_t duplicates = 0;
    std::uint64_t lateDropped = 0; ///< counted records the speed layer dropped as late
    std::uint64_t segmentsRead = 0;
    std::uint64_t segmentsSkipped = 0; ///< excluded by their header's time range
    std::uint64_t blocksRead = 0;
    std::uint64_t blocksSkipped = 0; ///< excluded by their block header
    std::uint64_t bytesRead = 0;
    std::uint64_t rawEndSequence = 0; ///< records with sequence below this were eligible
    TimeMs maxEventTimeMs = kMinTimeMs; ///< newest event of the segments overlapping the range (by their headers)
    std::vector<RawLogDamage> damage; ///< unreadable parts of the log (their records are not counted)
    unsigned threads = 1;
    unsigned slices = 1;
    double seconds = 0;
    bool ok() const { return status == Status::Done; }
};

/// The batch layer's exact recount: reads the raw log's segments (in parallel, each worker a
/// contiguous run of segments so that log order decides which copy of a click id counts), keeps
/// records whose event time is in the range and that pass the filter, and counts them per
/// (ad, window, country, device) with the speed layer's disposition of each record alongside.
/// Never reads the speed view. Any thread; independent of a live writer.
BatchCountResult countRawLog(const std::string& rawDirectory, const BatchCountOptions& options);

/// Sorts cells of windowMs-aligned windows into WindowKey order (a radix sort on the key).
void sortCells(std::vector<BatchCell>& cells, TimeMs windowMs = kMsPerMinute);

/// Sums a count result's cells (the total a filtered query returns).
std::uint64_t totalCount(const BatchCountResult& r);

} // namespace adclick::engine
