#pragma once

#include "core/click_event.h"
#include "core/time_units.h"
#include "storage/batch_rows.h"
#include "storage/raw_log.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace adclick::engine {

/// A batch − speed gap and its parts. Signed, and they add up by construction:
///   gap = late + duplicates + afterRun + unexplained.
/// From the batch cells (BatchCell) of the same raw records and the raw log tail:
///   late        (+) records the batch counted that the speed layer dropped as late (Σ lateDropped);
///   duplicates  (±) Σ speedDuplicates (records the speed layer dropped as duplicates, the batch
///                   kept) − the records the batch removed as duplicates that the speed layer counted
///                   (speedCounted − (count − lateDropped − speedDuplicates));
///   afterRun    (−) speed-counted records of the cell that the covering batch run had not read:
///                   raw sequence ≥ the run's rawEnd and < the checkpoint's raw end;
///   unexplained     what no cause explains: 0 in a healthy system, whatever the input.
/// Quarantined input explains nothing (neither layer counts it); raw log damage is flagged, not
/// counted (how many records an unreadable block held is unknown).
struct GapParts {
    std::uint64_t speed = 0; ///< Σ speed_minute count
    std::uint64_t batch = 0; ///< Σ batch_minute count
    std::int64_t gap = 0; ///< batch − speed
    std::int64_t late = 0;
    std::int64_t duplicates = 0;
    std::int64_t afterRun = 0; ///< ≤ 0
    std::int64_t unexplained = 0;

    std::int64_t explained() const { return late + duplicates + afterRun; }
    GapParts& operator+=(const GapParts& o);
    friend bool operator==(const GapParts&, const GapParts&) = default;
};

/// One (ad, minute) covered by a batch run.
struct ReconcileCell {
    AdId adId = 0;
    std::string adName; ///< external ad id (the number, or the interned name)
    TimeMs minuteMs = 0;
    GapParts parts;
    std::int64_t runId = 0; ///< the batch run whose rows cover the minute
    bool speedOpen = false; ///< some speed row of it is still open (a partial count)
    bool rawDamage = false; ///< an unreadable raw log block may hold records of this minute
};

/// Per ad, over the covered minutes of the range.
struct ReconcileAd {
    AdId adId = 0;
    std::string adName;
    GapParts parts;
    std::uint64_t minutes = 0; ///< covered minutes with rows of the ad
    std::uint64_t minutesUnexplained = 0; ///< of those, with unexplained ≠ 0
};

/// Per minute of the range that has rows (speed or batch).
struct ReconcileMinute {
    TimeMs minuteMs = 0;
    bool covered = false; ///< false: no batch run covers it; only parts.speed is meaningful
    std::int64_t runId = 0;
    GapParts parts;
    std::uint64_t ads = 0; ///< ads with rows in this minute
    std::uint64_t adsUnexplained = 0;
    bool speedOpen = false;
    bool rawDamage = false;
};

/// A stretch of the range that no batch run covers: reported, never reconciled (there is no
/// batch count to compare with). Run `adclick batch` over it first.
struct UncoveredSpan {
    TimeMs fromMs = 0;
    TimeMs toMs = 0;
    std::uint64_t speed = 0; ///< Σ speed count in it
    std::uint64_t cells = 0; ///< (ad, minute) cells with speed rows in it
};

/// A raw log block the reader could not read, and the minutes it may hold records of (the
/// event-time range of its segment; the whole range when that is unknown).
struct ReconcileDamage {
    RawLogDamage damage;
    TimeMs fromMs = 0;
    TimeMs toMs = 0;
};

struct QuarantineCount {
    std::string reason;
    std::uint64_t count = 0;
};

struct ReconcileOptions {
    /// Worst cells and worst ads kept in the report (0 = all). Minutes are always all kept.
    std::size_t limit = 20;
    /// Scan the raw log tail after the batch runs ("arrived after the batch run") and, for runs
    /// that met damage, their range (to locate it). Off: afterRun stays 0 and is not explained.
    bool scanRawLog = true;
    /// Only this ad's cells (totals, minutes, uncovered spans and worst lists are that ad's).
    std::optional<AdId> adId;
};

/// What reconcile() found. Covered minutes only enter totals, cells and ads; uncovered ones are
/// listed as spans (and as minutes with covered = false).
struct ReconcileReport {
    bool ok = false;
    std::string error; ///< why not ok
    std::string note; ///< e.g. how the range was clamped
    TimeMs fromMs = 0; ///< effective range: minute-aligned, clamped to the minute rollup cutoff
    TimeMs toMs = 0;

    bool hasCheckpoint = false;
    std::uint64_t checkpointSequence = 0;
    TimeMs checkpointProcessingMs = 0;
    TimeMs watermarkMs = kMinTimeMs;
    RawLogPosition rawEnd; ///< of the checkpoint: speed rows reflect exactly the raw records before it

    std::vector<BatchRunRecord> runs; ///< the runs whose rows cover some minute of the range, by id

    GapParts totals; ///< over covered cells
    std::uint64_t cellCount = 0; ///< covered (ad, minute) cells with rows
    std::uint64_t cellsUnexplained = 0; ///< of those, with unexplained ≠ 0
    std::uint64_t adCount = 0;
    std::uint64_t adsUnexplained = 0;
    std::uint64_t coveredMinutes = 0; ///< minutes of the range covered by a run (with rows or not)
    std::uint64_t speedOpenCells = 0; ///< covered cells with an open (partial) speed row

    std::vector<ReconcileCell> worstCells; ///< |unexplained| desc, then |gap| desc; ≤ limit
    std::vector<ReconcileAd> worstAds; ///< same order; ≤ limit
    std::vector<ReconcileMinute> minutes; ///< in time order
    std::vector<UncoveredSpan> uncovered; ///< in time order
    std::uint64_t uncoveredSpeed = 0; ///< Σ speed count in uncovered minutes

    std::vector<QuarantineCount> quarantined; ///< all-time totals by reason (context only)
    std::uint64_t quarantinedTotal = 0;
    std::vector<ReconcileDamage> damage;

    std::uint64_t tailRecordsScanned = 0; ///< raw records read after the oldest covering run's end
    double seconds = 0;
};

/// The reconciler (DESIGN.md "Reconciliation"): for every (ad, minute) of [fromMs, toMs) (aligned
/// out to whole minutes) that a batch run covers, compares the speed count (Σ speed_minute) with
/// the batch count (Σ batch_minute rows of the latest run covering the minute) and splits the gap
/// into its known causes (GapParts); what is left is the unexplained gap. Reads the checkpoint,
/// rows and runs in ONE read transaction (a consistent snapshot, safe beside a live pipeline and
/// batch job in other threads or processes), then the raw log tail up to that checkpoint's raw end.
/// Never writes. Any thread.
ReconcileReport reconcile(
    const std::string& dataDirectory, TimeMs fromMs, TimeMs toMs, const ReconcileOptions& options = {});

} // namespace adclick::engine
