#pragma once

#include "core/clock.h"
#include "ingest/event_source.h"
#include "ingest/json_codec.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace adclick::engine {

struct KafkaSourceConfig {
    std::string brokers; ///< bootstrap.servers
    std::string topic;
    std::string group; ///< group.id
    bool startLatest = false; ///< where a partition with no stored offset starts (default earliest)
    std::string deadLetterTopic; ///< empty: rejected records go to the quarantine file only
    bool stopAtEnd = false; ///< EndOfStream once every assigned partition reached its end (tests, replays)
    int sessionTimeoutMs = 6000; ///< group session timeout: a crashed member is noticed after this
    int metadataTimeoutMs = 10000; ///< how long the constructor waits for the topic's metadata
    /// "cooperative-sticky" for incremental (cooperative) rebalances; default eager "range,roundrobin".
    std::string assignmentStrategy = "range,roundrobin";
    std::vector<std::pair<std::string, std::string>> extraProperties; ///< more librdkafka settings
};

/// A consumer-group member reading NDJSON clicks (the seed schema) from one Kafka topic.
/// - Offsets belong to our store: seek(p, o) (Checkpointer::recover) sets where partition p resumes
///   (after offset o). On assignment a partition starts at max(that position, the group's committed
///   offset), else at the configured start (earliest/latest). The group offsets are written only
///   from durable positions (commitDurable(), after a checkpoint, and on revocation after the
///   revoke hook made a checkpoint), so they are a display and a hand-over to the next owner,
///   never ahead of what some member's store holds.
/// - Rebalances, eager and cooperative: before a partition is released the revoke hook runs (the
///   app takes a checkpoint there), then its position is committed and it is unassigned. Messages
///   of partitions not assigned any more, or below the position, are never handed out (none lost,
///   none doubled).
/// - A record's position is (partition, Kafka offset); malformed records are rejected with the
///   codec's reason and their original bytes (first 4 KiB) and, with a dead-letter topic,
///   produced there whole with the headers adclick-reject-reason, adclick-source-partition and
///   adclick-source-offset.
/// - A broker outage shows in status() (brokers up/known from librdkafka's statistics, transport
///   errors); the consumer keeps its place and resumes when the broker is back.
/// - poll() blocks at most ~50 ms. Not thread-safe: one ingest thread uses it.
class KafkaSource final : public EventSource {
public:
    KafkaSource(KafkaSourceConfig config, const Clock& clock, AdDictionary& ads, UserAgentDictionary& userAgents,
        CodecLimits limits = {});
    ~KafkaSource() override;
    KafkaSource(const KafkaSource&) = delete;
    KafkaSource& operator=(const KafkaSource&) = delete;

    /// False when the consumer could not be created or the topic's metadata not read; error() says why.
    bool isOpen() const;
    std::string error() const;

    PollResult poll(IngestBatch& batch, std::size_t maxEvents) override;
    std::uint32_t partitionCount() const override;
    /// "kafka topic T on B, group G".
    std::string describe() const override;
    /// Partition `partition` resumes after `offset` (-1: no stored offset, the configured start).
    bool seek(std::uint32_t partition, std::int64_t offset) override;
    SourceStatus status() const override;
    /// True while this member is assigned the partition.
    bool partitionActive(std::uint32_t partition) const override;

    /// Runs before partitions are released in a rebalance (inside poll()): make everything handed
    /// out so far durable (a checkpoint). Null: nothing to do (no store).
    void setRevokeHook(std::function<void()> hook);
    /// Runs when partitions are assigned (inside poll()), before their start positions are chosen:
    /// an owner of partition state elsewhere (the shared store) restores it and seek()s each one;
    /// the partition then starts at max(that position, the group's committed offset).
    void setAssignHook(std::function<void(const std::vector<std::uint32_t>&)> hook);
    /// Commits to the group, for partitions still assigned, the positions after `lastOffsets`
    /// (last durable offset per partition, -1: none) — call after a checkpoint committed.
    void commitDurable(const std::vector<std::int64_t>& lastOffsets);
    /// Commits the current positions of every assigned partition (clean shutdown, after the final
    /// checkpoint) and leaves the group. Idempotent.
    void close();

    RejectCounters rejectCounters() const;
    std::uint64_t acceptedCount() const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

/// Parses "host:port[,host:port…]" loosely: non-empty and without spaces. For option checks.
bool plausibleBrokerList(const std::string& brokers);

} // namespace adclick::engine
