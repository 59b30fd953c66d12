#pragma once

#include "core/click_event.h"
#include "core/time_units.h"
#include "storage/raw_log.h"

#include <cstdint>
#include <string>

namespace adclick::engine {

/// One batch_minute row: the batch layer's exact recount of a (ad, minute, country, device) cell
/// plus what the speed layer did with the same raw records (read from each record's disposition),
/// which is what lets the reconciler explain a batch − speed gap.
///
/// The batch layer counts every raw record of the cell once per click id (a click id repeated
/// for the same ad in the same minute is a duplicate; records without a click id always count).
/// Records of the cell, by what each layer did:
///   count           = records the batch layer counted
///   lateDropped     = of those, the ones the speed layer dropped as late
///   lateUpdated     = of those, the ones the speed layer counted as late updates
///   speedDuplicates = of those, the ones the speed layer dropped as duplicates (batch kept them:
///                     e.g. a resend with another timestamp)
///   duplicates      = records the batch layer removed as duplicates
///   speedCounted    = records the speed layer counted (Counted or LateUpdated), whatever the
///                     batch layer did with them — what the speed row should say for the same raw
///                     records if the speed layer has no fault.
struct BatchCell {
    WindowKey key;
    std::uint64_t count = 0;
    std::uint64_t lateDropped = 0;
    std::uint64_t lateUpdated = 0;
    std::uint64_t speedDuplicates = 0;
    std::uint64_t duplicates = 0;
    std::uint64_t speedCounted = 0;
    friend bool operator==(const BatchCell&, const BatchCell&) = default;
};

/// The columns of table batch_run in the order both stores read a BatchRunRecord from.
inline constexpr const char* kBatchRunColumns
    = "run_id, from_ms, to_ms, raw_segment, raw_offset, raw_next_sequence, started_wall_ms, finished_wall_ms, "
      "processing_time_ms, trigger, records_read, records_in_range, counted, duplicates, late_dropped, "
      "damaged_blocks, threads, seconds";

/// One completed batch run (table batch_run). Every row is a committed run: its cells were
/// written in the same transaction. The batch layer covers a minute when some run's
/// [fromMs, toMs) contains it; the latest such run (highest runId) wrote its rows.
struct BatchRunRecord {
    std::int64_t runId = 0; ///< assigned by writeBatchRun
    TimeMs fromMs = 0; ///< minute-aligned, inclusive
    TimeMs toMs = 0; ///< minute-aligned, exclusive
    RawLogPosition rawEnd; ///< raw records with sequence < rawEnd.nextSequence were read
    std::int64_t startedWallMs = 0;
    std::int64_t finishedWallMs = 0;
    TimeMs processingTimeMs = 0; ///< Clock time when the run started
    std::string trigger; ///< "manual", "schedule", "rest", "dashboard", "test"
    std::uint64_t recordsRead = 0; ///< raw records decoded
    std::uint64_t recordsInRange = 0; ///< of those, with event time in [fromMs, toMs)
    std::uint64_t counted = 0; ///< Σ count
    std::uint64_t duplicates = 0; ///< Σ duplicates
    std::uint64_t lateDropped = 0; ///< Σ lateDropped
    std::uint64_t damagedBlocks = 0; ///< raw log blocks that could not be read
    std::uint32_t threads = 1;
    double seconds = 0; ///< wall time of the count
};

} // namespace adclick::engine
