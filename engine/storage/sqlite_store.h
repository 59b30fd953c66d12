#pragma once

#include "core/click_event.h"
#include "core/time_units.h"
#include "ingest/reject_reason.h"
#include "storage/batch_rows.h"
#include "storage/raw_log.h"
#include "window/window_types.h"

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace adclick::engine {

/// A speed-layer minute row as the checkpoint writes it: the ABSOLUTE count of the cell
/// (UPSERT, so writing it again is harmless). final = 0 for a window still open (partial).
struct MinuteRow {
    WindowKey key;
    std::uint64_t count = 0;
    std::uint64_t lateUpdated = 0;
    std::uint32_t revision = 0;
    bool final = false;
};

/// A stored row as read back (speed or batch; minute, hour or day).
struct StoredRow {
    WindowKey key; ///< key.windowStartMs = bucket start (minute, hour or day)
    std::uint64_t count = 0;
    std::uint64_t lateUpdated = 0;
    std::uint64_t lateDropped = 0;
    std::uint32_t revision = 0;
    bool final = true;
};

/// Source offset of one partition ("the next event is the one after offset").
struct SourceOffset {
    std::uint32_t partition = 0;
    std::int64_t offset = -1;
};

/// Everything one checkpoint commits, in ONE transaction.
struct CheckpointData {
    std::uint64_t sequence = 0; ///< set by writeCheckpoint (previous + 1); read back by loadCheckpoint
    TimeMs processingTimeMs = 0;
    TimeMs watermarkMs = kMinTimeMs;
    std::int64_t wallTimeMs = 0; ///< system time of the commit (for "checkpoint age")
    RawLogPosition rawEnd; ///< durable end of the raw log (fsync'd before the commit)
    std::string sourceKey; ///< identifies the source the offsets belong to ("generator seed=1 …")
    std::vector<SourceOffset> offsets; ///< replaces the source's previous offsets
    std::vector<std::uint8_t> state; ///< opaque pipeline state (watermarks, dedup, counters…)
    std::vector<std::pair<AdId, std::string>> newAds; ///< named ads interned since the last checkpoint
    std::vector<MinuteRow> rows; ///< changed speed cells (absolute)
    std::vector<LateDropDelta> lateDrops; ///< late-dropped events since the last checkpoint (added)
    std::array<std::uint64_t, kRejectReasonCount> quarantined {}; ///< ABSOLUTE totals per reason
};

/// Retention and rollup settings (defaults from DESIGN.md "Retention and rollups").
struct RetentionConfig {
    TimeMs minuteRetentionMs = 7 * kMsPerDay; ///< minute rows older than this roll into hours
    TimeMs hourRetentionMs = 30 * kMsPerDay; ///< hour rows older than this roll into days
    TimeMs aggregateRetentionMs = 90 * kMsPerDay; ///< anything older is deleted
};

struct RollupReport {
    std::uint64_t minuteRowsRolled = 0;
    std::uint64_t hourRowsRolled = 0;
    std::uint64_t rowsDeleted = 0;
    TimeMs minuteCutoffMs = 0; ///< minute rows before this are now hour rows (hour-aligned)
    TimeMs hourCutoffMs = 0; ///< hour rows before this are now day rows (day-aligned)
    TimeMs deleteCutoffMs = 0; ///< rows before this are gone (day-aligned)
};

/// The cutoffs of a rollup at nowMs (row counts left 0): minute rows before an hour boundary
/// `minuteRetentionMs` back roll into hours, hours before a day boundary into days, and rows
/// before a day boundary `aggregateRetentionMs` back are deleted.
inline RollupReport rollupCutoffs(TimeMs nowMs, const RetentionConfig& config)
{
    RollupReport r;
    r.minuteCutoffMs = windowStartOf(nowMs - config.minuteRetentionMs, kMsPerHour);
    r.hourCutoffMs = windowStartOf(nowMs - config.hourRetentionMs, kMsPerDay);
    r.deleteCutoffMs = windowStartOf(nowMs - config.aggregateRetentionMs, kMsPerDay);
    return r;
}

enum class StoreStatus : std::uint8_t {
    Ok,
    Full, ///< SQLITE_FULL / ENOSPC: retry when space is back
    IoError, ///< any other failure; error() says what
    Corrupt, ///< SQLITE_CORRUPT / SQLITE_NOTADB: the database file is damaged; retrying cannot help
    Fenced, ///< PostgreSQL store: the partition was claimed by another instance; nothing was written
};

enum class RowLevel : std::uint8_t { Minute, Hour, Day };
enum class RowKind : std::uint8_t { Speed, Batch };

/// The embedded SQLite store (C API, WAL, synchronous=NORMAL, prepared statements, numbered
/// migrations recorded in schema_version). One connection; not thread-safe — the store thread
/// owns it. Readers on other threads open their own SqliteStore (WAL readers do not block the
/// writer). Failed writes roll back: the last good checkpoint is always intact.
///
/// Tables (migration 1): schema_version, ads, speed_minute / batch_minute (key ad_id,
/// window_start, country, device; WITHOUT ROWID), speed_hour / speed_day / batch_hour /
/// batch_day rollups, checkpoint (one row: the latest), source_offset, quarantine_stats,
/// rollup_state.
class SqliteStore {
public:
    struct Options {
        bool readOnly = false;
        int busyTimeoutMs = 5000;
        int cacheSizeKiB = 32 * 1024; ///< page cache of this connection (PRAGMA cache_size)
        /// WAL pages after which a commit copies the WAL into the database file (PRAGMA
        /// wal_autocheckpoint). Larger: fewer, bigger copies, and cells updated by successive
        /// checkpoints are copied once; the WAL grows to about this many 4 KiB pages.
        int walAutoCheckpointPages = 1000;
        /// Cap on the database file (PRAGMA max_page_count; 0 = none): a write that would grow it
        /// past this fails with StoreStatus::Full, as a full disk would.
        std::uint64_t maxDatabaseBytes = 0;
    };
    /// Opens (creating and migrating) the database file. nullptr with error on failure.
    static std::unique_ptr<SqliteStore> open(const std::string& path, Options options, std::string& error);
    ~SqliteStore();
    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;

    int schemaVersion() const;
    static int latestSchemaVersion();

    /// Commits a checkpoint in one transaction; data.sequence is ignored (assigned). On failure
    /// nothing of it is visible and the previous checkpoint stays.
    StoreStatus writeCheckpoint(const CheckpointData& data);
    /// The latest checkpoint without its rows (rows/lateDrops stay empty); false if none.
    bool loadCheckpoint(CheckpointData& out);

    /// Named ads in id order.
    void forEachAd(const std::function<void(AdId, const std::string&)>& f);
    /// Speed minute rows with windowStart in [fromMs, toMs), in key order.
    void forEachSpeedMinute(TimeMs fromMs, TimeMs toMs, const std::function<void(const StoredRow&)>& f);
    /// Rows of any table with bucket start in [fromMs, toMs).
    void forEachRow(RowKind kind, RowLevel level, TimeMs fromMs, TimeMs toMs,
        const std::function<void(const StoredRow&)>& f);
    /// Sum of count over every level of `kind` for buckets starting in [fromMs, toMs) (adId 0 =
    /// all ads). Hour/day rows count wholly when their start is in range.
    std::uint64_t total(RowKind kind, TimeMs fromMs, TimeMs toMs, AdId adId = 0);
    std::uint64_t rowCount(RowKind kind, RowLevel level);
    std::array<std::uint64_t, kRejectReasonCount> quarantined();

    /// Rolls minute → hour → day and deletes rows past the aggregate retention, relative to
    /// nowMs (processing time from the Clock), in one transaction. Totals are unchanged by a
    /// rollup. Idempotent.
    StoreStatus rollup(TimeMs nowMs, const RetentionConfig& config, RollupReport* report = nullptr);

    // The batch layer (sqlite_batch.cpp). ------------------------------------------------------

    /// Replaces the batch rows of [run.fromMs, run.toMs) by `cells` (which must lie in that range)
    /// and records the run, in one transaction; run.runId is set. Re-running a range replaces it.
    StoreStatus writeBatchRun(BatchRunRecord& run, std::span<const BatchCell> cells);
    /// Completed runs whose range overlaps [fromMs, toMs), oldest first.
    std::vector<BatchRunRecord> batchRuns(TimeMs fromMs, TimeMs toMs);
    /// The latest run (any range); false if none.
    bool latestBatchRun(BatchRunRecord& out);
    /// batch_minute rows with window start in [fromMs, toMs), in key order, with their speed columns.
    void forEachBatchCell(TimeMs fromMs, TimeMs toMs, const std::function<void(const BatchCell&)>& f);
    /// Minute rows before this are rolled into hours (rollup_state); kMinTimeMs if never rolled.
    TimeMs minuteCutoffMs();
    /// Records that raw log retention deleted segments whose newest event was at newestDeletedMs
    /// (keeps the maximum). The raw log is complete only for the minutes after it.
    StoreStatus noteRawLogDeleted(TimeMs newestDeletedMs);
    /// The newest event time retention ever deleted; kMinTimeMs if it never deleted anything.
    TimeMs rawLogDeletedThroughMs();

    /// Size of the database file plus its WAL.
    std::uint64_t fileBytes() const;
    const std::string& path() const;
    const std::string& error() const { return m_error; }

    /// Test hook: while set, every write fails with StoreStatus::Full before touching the file
    /// (as a full disk would), leaving the database as it was.
    void setInjectedFailure(bool on) { m_injectFailure = on; }
    /// Test hook: called inside writeCheckpoint's transaction after every statement ran and
    /// just before COMMIT (to copy the files of a database caught mid-transaction).
    void setBeforeCommitHook(std::function<void()> hook);

private:
    SqliteStore() = default;
    struct Impl;
    std::unique_ptr<Impl> m_impl;
    std::string m_error;
    bool m_injectFailure = false;
};

/// The directory adclick keeps its data in: $XDG_DATA_HOME/adclick, else ~/.local/share/adclick.
std::string defaultDataDirectory();

} // namespace adclick::engine
