#pragma once

#include "core/ad_dictionary.h"
#include "core/clock.h"
#include "ingest/kafka_source.h"
#include "ingest/user_agent.h"
#include "pipeline/partition_router.h"
#include "pipeline/pipeline.h"
#include "storage/pg_partition_checkpointer.h"
#include "storage/pg_store.h"

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace adclick::engine {

struct PartitionedIngestConfig {
    PipelineConfig pipeline; ///< each owned partition runs its own Pipeline with these settings
    std::string sourceKey; ///< the topic: partition checkpoints are keyed by it
    std::string instanceId; ///< this instance in the store (owner of its claims)
    std::string host; ///< where its REST API listens, for the instance list ("127.0.0.1:8081")
    std::string sharedDir; ///< raw logs under <sharedDir>/raw/p<N>/e<epoch>/ (empty: no raw log)
    TimeMs checkpointIntervalMs = 1000; ///< wall time between checkpoints (staleness of the shared rows)
    std::size_t pumpRecords = 8192; ///< records per poll of the consumer
};

/// One partition this instance owns now.
struct OwnedPartitionStatus {
    std::uint32_t partition = 0;
    std::int64_t epoch = 0;
    std::int64_t lastOffset = -1; ///< last offset committed to the store
    std::int64_t lag = -1; ///< broker end − position (-1: not known)
    TimeMs watermarkMs = kMinTimeMs;
    std::uint64_t accepted = 0; ///< accepted by the partition's pipeline (restored with its state)
    std::uint64_t rowsRestored = 0; ///< open cells restored at the claim
    std::uint64_t recordsReplayed = 0; ///< raw log records replayed at the claim (dedup, top-K)
};

/// What /v1/pipeline shows of this instance (any thread).
struct PartitionedIngestStatus {
    std::string instanceId;
    std::vector<OwnedPartitionStatus> partitions;
    std::uint64_t claims = 0; ///< partitions claimed since start
    std::uint64_t releases = 0; ///< partitions released (revoked, checkpointed first)
    std::uint64_t fenced = 0; ///< partitions lost to a newer claim (their last checkpoint refused)
    std::uint64_t checkpoints = 0; ///< committed partition checkpoints
    std::uint64_t accepted = 0; ///< sum over the partitions owned now (their pipelines' counters); after close() the last figure
    std::int64_t lastCheckpointWallMs = 0;
    std::uint64_t unrouted = 0; ///< records of partitions without a pipeline here (must stay 0)
    std::string sourceState = "connecting"; ///< the consumer's health
    std::string error; ///< the fatal error that stopped ingestion (empty while healthy)
    std::vector<std::string> warnings; ///< restore warnings (raw log gaps), newest last
};

/// The ingest of one instance of a scale-out deployment (issue 11, docs/SCALE-OUT.md): a Kafka
/// consumer-group member whose assigned partitions each run their own Pipeline, checkpointed to
/// the shared PostgreSQL store per partition. The group's assignment drives the claims:
/// - assigned → claim (a new epoch), restore the partition's state, open cells and raw log
///   (de-duplication, top-K), and resume after its last counted offset;
/// - revoked → every record already polled for it is processed, then a final checkpoint;
/// - fenced (a newer claim owns it: this instance stalled past the session timeout) → dropped
///   without writing anything.
/// Checkpoints run every checkpointIntervalMs; after each, the offsets go to the group (a
/// display and a hand-over hint, never ahead of the store) and the instance row is refreshed.
///
/// open(), step(), runUntil() and close() run on one ingest thread; status() and requestStop()
/// from any thread.
class PartitionedIngest {
public:
    PartitionedIngest(PartitionedIngestConfig config, KafkaSourceConfig kafka, std::string conninfo, Clock& clock);
    ~PartitionedIngest();
    PartitionedIngest(const PartitionedIngest&) = delete;
    PartitionedIngest& operator=(const PartitionedIngest&) = delete;

    /// Connects to the store and the broker. False with error().
    bool open();
    /// One poll of the consumer, one step of every owned pipeline, a checkpoint when due.
    /// False once a fatal error stopped ingestion (error()).
    bool step();
    /// step() until requestStop() or a fatal error. Then close(). Returns 0, or 3 on error.
    int run();
    /// Final checkpoint of every owned partition, offsets to the group, leave the group. Idempotent.
    void close();

    /// Stops at once as a crash would (tests, ingest thread): no final checkpoint, no hand-over of
    /// offsets; what was counted since the last checkpoint is lost with it, as after kill -9.
    void abandon();

    void requestStop() { m_stop.store(true, std::memory_order_release); }
    bool stopRequested() const { return m_stop.load(std::memory_order_acquire); }
    PartitionedIngestStatus status() const;
    std::string error() const;
    const PartitionedIngestConfig& config() const { return m_config; }

private:
    struct Owned {
        std::unique_ptr<Pipeline> pipeline;
        std::unique_ptr<PgPartitionCheckpointer> checkpointer;
        std::uint64_t acceptedAtClaim = 0;
    };
    void adopt(const std::vector<std::uint32_t>& partitions);
    void drainAndCheckpointAll();
    bool checkpointAll(bool commitOffsets);
    void release(std::uint32_t partition, bool fenced);
    void releaseInactive();
    void heartbeat();
    void publishStatus();
    void fail(std::string message);

    PartitionedIngestConfig m_config;
    KafkaSourceConfig m_kafkaConfig;
    std::string m_conninfo;
    Clock& m_clock;
    AdDictionary m_ads;
    UserAgentDictionary m_userAgents;
    std::unique_ptr<PgStore> m_store;
    std::unique_ptr<KafkaSource> m_source;
    std::unique_ptr<PartitionRouter> m_router;
    std::map<std::uint32_t, Owned> m_owned;
    std::int64_t m_lastCheckpointWallMs = 0;
    bool m_failed = false;
    bool m_closed = false;
    std::atomic<bool> m_stop { false };
    PartitionedIngestStatus m_counters; ///< ingest thread's running figures
    mutable std::mutex m_statusMutex;
    PartitionedIngestStatus m_status; ///< published copy
};

} // namespace adclick::engine
