#pragma once

#include "ingest/reject_reason.h"
#include "storage/pg_connection.h"
#include "storage/sqlite_store.h"

#include <array>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace adclick::engine {

/// Where one source partition stands in the shared store, and who owns it.
struct PartitionCheckpoint {
    std::string sourceKey; ///< the topic (or source) the partition belongs to
    std::uint32_t partition = 0;
    std::string owner; ///< instance id of the owner
    std::int64_t epoch = 0; ///< the owner's claim; a write with an older epoch is fenced off
    std::uint64_t sequence = 0; ///< checkpoints committed for this partition (0: none yet)
    std::int64_t lastOffset = -1; ///< the last record counted; resume after it (-1: none, from the start)
    TimeMs processingTimeMs = 0;
    TimeMs watermarkMs = kMinTimeMs;
    std::int64_t wallTimeMs = 0;
    /// The partition's raw log, durable up to rawEnd, as written under epoch rawEpoch (0: none yet).
    std::int64_t rawEpoch = 0;
    RawLogPosition rawEnd;
    std::vector<std::uint8_t> state; ///< the partition's pipeline state (open windows, dedup…)
};

/// Everything one partition checkpoint commits, in ONE transaction, if its epoch still owns it.
struct PartitionCheckpointData {
    PartitionCheckpoint position; ///< sequence is assigned (previous + 1)
    std::vector<std::pair<AdId, std::string>> newAds;
    std::vector<MinuteRow> rows; ///< changed speed cells of this partition (ABSOLUTE)
    std::vector<LateDropDelta> lateDrops; ///< late-dropped since the last checkpoint (added)
    std::array<std::uint64_t, kRejectReasonCount> quarantined {}; ///< ABSOLUTE totals of the partition
};

/// The PostgreSQL store (libpq): the shared store of several adclick instances consuming one
/// Kafka topic in a consumer group (issue 11). Speed rows and checkpoints are scoped by source
/// partition (see PgSchema): an instance claims a partition when the group assigns it, restores
/// that partition's state from its checkpoint, and commits checkpoints that are refused when a
/// newer claim took the partition over (StoreStatus::Fenced) — a stalled or killed instance
/// can never overwrite its successor's counts. Queries sum the partitions.
///
/// One connection; not thread-safe (one PgStore per thread).
class PgStore {
public:
    /// Connects and migrates. nullptr with `error` on failure.
    static std::unique_ptr<PgStore> open(const std::string& conninfo, std::string& error);
    ~PgStore();
    PgStore(const PgStore&) = delete;
    PgStore& operator=(const PgStore&) = delete;

    int schemaVersion() const { return m_version; }
    std::string describe() const { return m_conn->describe(); }
    const std::string& error() const { return m_error; }

    /// Takes `partition` of `sourceKey` over for `owner`: a new epoch (1 for a partition never
    /// seen), returned with the partition's last checkpoint in `out` (its state to restore and
    /// the offset to resume from). Every later write of an older epoch is fenced.
    StoreStatus claimPartition(
        const std::string& sourceKey, std::uint32_t partition, const std::string& owner, PartitionCheckpoint& out);
    /// Commits a partition checkpoint if position.owner/epoch still own the partition: Fenced
    /// (and nothing written) when another claim took it over. position.sequence is set.
    StoreStatus writePartitionCheckpoint(PartitionCheckpointData& data);
    /// Speed minute rows of one partition with windowStart >= fromMs (a new owner restores the
    /// partition's open windows from them), in key order.
    void forEachPartitionRow(std::uint32_t partition, TimeMs fromMs, const std::function<void(const StoredRow&)>& f);
    /// Every partition's checkpoint of `sourceKey` (state left empty), by partition.
    std::vector<PartitionCheckpoint> partitions(const std::string& sourceKey);

    /// Speed minute rows with windowStart in [fromMs, toMs), summed over partitions, in key order.
    /// final = every partition's row of the cell is final.
    void forEachSpeedMinute(TimeMs fromMs, TimeMs toMs, const std::function<void(const StoredRow&)>& f);
    /// Sum of count over the speed (minute, hour, day) or batch rows starting in [fromMs, toMs)
    /// (adId 0 = all ads), as SqliteStore::total.
    std::uint64_t total(RowKind kind, TimeMs fromMs, TimeMs toMs, AdId adId = 0);
    /// Quarantined records per reason, summed over partitions.
    std::array<std::uint64_t, kRejectReasonCount> quarantined();
    /// Named ads in id order.
    void forEachAd(const std::function<void(AdId, const std::string&)>& f);

    /// Records this instance (id, host) and its figures (a JSON object) now.
    StoreStatus heartbeat(const std::string& instanceId, const std::string& host, const std::string& statusJson);
    struct Instance {
        std::string id;
        std::string host;
        std::int64_t startedWallMs = 0;
        std::int64_t heartbeatWallMs = 0;
        std::string statusJson;
    };
    std::vector<Instance> instances();

    /// Rolls minute → hour → day rows and deletes rows past the aggregate retention relative to
    /// nowMs, in one transaction, as SqliteStore::rollup (speed minute rows of every partition
    /// are summed into the hour rows; the report counts rows as stored, so a speed minute cell
    /// counts once per partition). Instances running it at once take turns (advisory lock).
    StoreStatus rollup(TimeMs nowMs, const RetentionConfig& config, RollupReport* report = nullptr);
    /// Rows as stored (speed minute rows: one per cell and partition).
    std::uint64_t rowCount(RowKind kind, RowLevel level);

    // The batch layer (pg_batch.cpp), as SqliteStore's. -------------------------------------

    /// Replaces the batch rows of [run.fromMs, run.toMs) by `cells` and records the run (with the
    /// instance that ran it), in one transaction; run.runId is set.
    StoreStatus writeBatchRun(BatchRunRecord& run, std::span<const BatchCell> cells, const std::string& instanceId = {});
    std::vector<BatchRunRecord> batchRuns(TimeMs fromMs, TimeMs toMs);
    bool latestBatchRun(BatchRunRecord& out);
    void forEachBatchCell(TimeMs fromMs, TimeMs toMs, const std::function<void(const BatchCell&)>& f);
    TimeMs minuteCutoffMs();
    StoreStatus noteRawLogDeleted(TimeMs newestDeletedMs);
    TimeMs rawLogDeletedThroughMs();

    /// The batch layer runs on one instance at a time: the session-level advisory lock
    /// PgSchema::kBatchLockKey. False when another instance holds it. Released by
    /// releaseBatchLock() or when this connection ends (a crashed holder frees it).
    bool tryBatchLock();
    void releaseBatchLock();

private:
    PgStore() = default;
    StoreStatus fail(const PgResult& r, const char* what);
    StoreStatus fail(std::string message);

    std::unique_ptr<PgConnection> m_conn;
    int m_version = 0;
    std::string m_error;
};

} // namespace adclick::engine
