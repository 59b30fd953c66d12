#pragma once

// Private to reconcile() (reconciler.cpp): everything it reads from adclick.db, in one read
// transaction of its own read-only connection, so the checkpoint, the speed rows, the batch rows
// and the batch runs are one consistent snapshot even while a pipeline checkpoints and a batch job
// writes into the same database.

#include "batch/reconciler.h"
#include "storage/sqlite_handle.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace adclick::engine::reconcile_detail {

/// What reconciliation needs of the checkpoint row.
struct CheckpointFacts {
    std::uint64_t sequence = 0;
    TimeMs processingTimeMs = 0;
    TimeMs watermarkMs = kMinTimeMs;
    RawLogPosition rawEnd;
};

/// One speed_minute row, as far as reconciliation needs it.
struct SpeedRow {
    AdId adId = 0;
    TimeMs windowStartMs = 0;
    std::uint64_t count = 0;
    bool final = true;
};

class StoreSnapshot {
public:
    /// Opens the database read-only and begins the read transaction. False with error.
    bool open(const std::string& path, std::string& error);

    /// The latest checkpoint (nullopt: none yet). Read first: it pins the snapshot.
    std::optional<CheckpointFacts> checkpoint(std::string& error);
    /// Minute rows before this are rolled into hours; kMinTimeMs when never rolled.
    TimeMs minuteCutoffMs();
    /// Runs whose range overlaps [fromMs, toMs), by id (none before schema version 2).
    std::vector<BatchRunRecord> runs(TimeMs fromMs, TimeMs toMs, std::string& error);
    bool forEachSpeedRow(TimeMs fromMs, TimeMs toMs, const std::function<void(const SpeedRow&)>& f, std::string& error);
    bool forEachBatchCell(
        TimeMs fromMs, TimeMs toMs, const std::function<void(const BatchCell&)>& f, std::string& error);
    std::vector<QuarantineCount> quarantine(std::string& error);
    /// Ends the read transaction (rows read; the raw log scan that follows must not hold the WAL).
    void endSnapshot() { m_tx.reset(); }
    /// External id of an ad: its decimal number, or its interned name.
    std::string adName(AdId adId);

private:
    SqliteDb m_db;
    std::optional<SqliteTransaction> m_tx;
    int m_schemaVersion = 0;
    SqliteStatement m_adName;
};

} // namespace adclick::engine::reconcile_detail
