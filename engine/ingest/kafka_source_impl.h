#pragma once

// The private state of KafkaSource, shared by kafka_source.cpp (polling, seeking, status) and
// kafka_rebalance.cpp (the group's assignments and revocations). Not part of the engine's API.

#include "ingest/kafka_handles.h"
#include "ingest/kafka_source.h"
#include "ingest/kafka_stats.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <thread>

namespace adclick::engine {

namespace kafkadetail {
inline constexpr std::size_t kMaxQuarantineBytes = 4096;
inline constexpr int kPollWaitMs = 50;
inline constexpr int kCommittedLookupMs = 5000;
inline constexpr std::size_t kMaxBatchMessages = 16384;
inline constexpr std::int64_t kNoOffset = -1;
inline constexpr int kHandOverWaitMs = 1000;
inline constexpr int kMaxHandOverAttempts = 3; // assignment callbacks

inline std::int64_t steadyMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
} // namespace kafkadetail

// Only kafka_source.cpp and kafka_rebalance.cpp include this header.
using namespace kafkadetail;

struct KafkaSource::Impl {
    KafkaSourceConfig config;
    const Clock& clock;
    JsonCodec codec;
    std::string error;
    KafkaHandle consumer;
    KafkaQueue queue;
    KafkaHandle deadLetters;
    KafkaTopic deadLetterTopic;
    bool subscribed = false;
    bool closed = false;
    bool handOver = true; ///< commit positions when partitions are released (false: abandoned)
    std::function<void()> revokeHook;
    std::function<void(const std::vector<std::uint32_t>&)> assignHook;
    std::vector<std::pair<std::uint32_t, std::int64_t>> pendingHandOver; ///< released, commit refused so far
    int handOverAttempts = 0;

    // Per partition. next: the offset of the next message to hand out (-1: not known yet).
    std::vector<std::int64_t> next;
    std::vector<std::int64_t> assignStart; ///< concrete start of the latest assignment (-1: logical)
    std::vector<bool> assigned;
    std::vector<bool> atEnd;
    std::uint32_t assignedCount = 0;

    // Health.
    SourceStatus health;
    std::int64_t lastTransportErrorMs = 0;
    std::string lastError;
    KafkaStatsReader stats;

    std::vector<rd_kafka_message_t*> messages;

    Impl(KafkaSourceConfig c, const Clock& cl, AdDictionary& ads, UserAgentDictionary& uas, CodecLimits limits)
        : config(std::move(c))
        , clock(cl)
        , codec(ads, uas, limits)
    {
        health.external = true;
        health.state = "connecting";
        messages.resize(kMaxBatchMessages);
    }

    void grow(std::uint32_t partitions)
    {
        if (partitions <= next.size())
            return;
        next.resize(partitions, kNoOffset);
        assignStart.resize(partitions, kNoOffset);
        assigned.resize(partitions, false);
        atEnd.resize(partitions, false);
    }

    bool open()
    {
        std::vector<std::pair<std::string, std::string>> props = {
            { "bootstrap.servers", config.brokers },
            { "group.id", config.group },
            { "client.id", "adclick" },
            { "enable.auto.commit", "false" },
            { "enable.auto.offset.store", "false" },
            { "auto.offset.reset", config.startLatest ? "latest" : "earliest" },
            { "enable.partition.eof", "true" },
            { "session.timeout.ms", std::to_string(config.sessionTimeoutMs) },
            { "heartbeat.interval.ms", std::to_string(std::max(100, config.sessionTimeoutMs / 5)) },
            { "partition.assignment.strategy", config.assignmentStrategy },
            { "statistics.interval.ms", "1000" },
            { "fetch.wait.max.ms", "50" },
            { "queued.min.messages", "200000" },
            { "log.connection.close", "false" },
        };
        for (const auto& p : config.extraProperties)
            props.push_back(p);
        KafkaConf conf = makeKafkaConf(props, error);
        if (!conf)
            return false;
        rd_kafka_conf_set_opaque(conf.get(), this);
        rd_kafka_conf_set_rebalance_cb(conf.get(), &Impl::onRebalance);
        rd_kafka_conf_set_error_cb(conf.get(), &Impl::onError);
        rd_kafka_conf_set_stats_cb(conf.get(), &Impl::onStats);
        rd_kafka_conf_set_log_cb(conf.get(), &Impl::onLog);
        char err[512];
        consumer.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err));
        if (!consumer) {
            error = std::string("cannot create the Kafka consumer: ") + err;
            return false;
        }
        (void)conf.release(); // rd_kafka_new took it
        rd_kafka_poll_set_consumer(consumer.get());
        queue.reset(rd_kafka_queue_get_consumer(consumer.get()));

        // The partition count, before recovery seeks partitions.
        KafkaTopic topic(rd_kafka_topic_new(consumer.get(), config.topic.c_str(), nullptr));
        const rd_kafka_metadata_t* md = nullptr;
        const rd_kafka_resp_err_t merr
            = rd_kafka_metadata(consumer.get(), 0, topic.get(), &md, config.metadataTimeoutMs);
        if (merr != RD_KAFKA_RESP_ERR_NO_ERROR) {
            error = "cannot read the metadata of topic " + config.topic + " from " + config.brokers + ": "
                + rd_kafka_err2str(merr);
            return false;
        }
        std::uint32_t partitions = 0;
        rd_kafka_resp_err_t terr = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        for (int i = 0; i < md->topic_cnt; ++i)
            if (config.topic == md->topics[i].topic) {
                terr = md->topics[i].err;
                partitions = static_cast<std::uint32_t>(md->topics[i].partition_cnt);
            }
        rd_kafka_metadata_destroy(md);
        if (terr != RD_KAFKA_RESP_ERR_NO_ERROR || partitions == 0) {
            error = "topic " + config.topic + " is not available on " + config.brokers + ": " + rd_kafka_err2str(terr);
            return false;
        }
        grow(partitions);

        if (!config.deadLetterTopic.empty()) {
            KafkaConf pconf
                = makeKafkaConf({ { "bootstrap.servers", config.brokers }, { "client.id", "adclick-dlq" },
                                    { "enable.idempotence", "true" }, { "acks", "all" }, { "linger.ms", "20" } },
                    error);
            if (!pconf)
                return false;
            rd_kafka_conf_set_opaque(pconf.get(), this);
            rd_kafka_conf_set_dr_msg_cb(pconf.get(), &Impl::onDeadLetterDelivered);
            rd_kafka_conf_set_log_cb(pconf.get(), &Impl::onLog);
            deadLetters.reset(rd_kafka_new(RD_KAFKA_PRODUCER, pconf.get(), err, sizeof err));
            if (!deadLetters) {
                error = std::string("cannot create the dead-letter producer: ") + err;
                return false;
            }
            (void)pconf.release();
            deadLetterTopic.reset(rd_kafka_topic_new(deadLetters.get(), config.deadLetterTopic.c_str(), nullptr));
        }
        return true;
    }

    bool subscribe()
    {
        KafkaPartitionList topics(rd_kafka_topic_partition_list_new(1));
        rd_kafka_topic_partition_list_add(topics.get(), config.topic.c_str(), RD_KAFKA_PARTITION_UA);
        const rd_kafka_resp_err_t e = rd_kafka_subscribe(consumer.get(), topics.get());
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            error = std::string("cannot subscribe to ") + config.topic + ": " + rd_kafka_err2str(e);
            return false;
        }
        subscribed = true;
        return true;
    }

    // --- callbacks (all served on the ingest thread, inside poll()) ---

    static void onLog(const rd_kafka_t*, int, const char*, const char*) { }

    static void onError(rd_kafka_t*, int err, const char* reason, void* opaque)
    {
        auto& d = *static_cast<Impl*>(opaque);
        const auto code = static_cast<rd_kafka_resp_err_t>(err);
        d.lastError = std::string(rd_kafka_err2name(code)) + ": " + reason;
        if (code == RD_KAFKA_RESP_ERR__TRANSPORT || code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN
            || code == RD_KAFKA_RESP_ERR__RESOLVE)
            d.lastTransportErrorMs = steadyMs();
        d.refreshHealth();
    }

    static int onStats(rd_kafka_t*, char* json, size_t len, void* opaque)
    {
        auto& d = *static_cast<Impl*>(opaque);
        KafkaBrokerCounts counts;
        if (d.stats.read(json, len, counts)) {
            d.health.brokersKnown = counts.known;
            d.health.brokersUp = counts.up;
            d.refreshHealth();
        }
        return 0; // librdkafka frees json
    }

    static void onDeadLetterDelivered(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque)
    {
        auto& d = *static_cast<Impl*>(opaque);
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
            ++d.health.deadLettered;
        else
            ++d.health.deadLetterFailures;
    }

    static void onRebalance(
        rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts, void* opaque);
    /// Commits the positions of partitions released in a rebalance whose commit the group refused.
    void retryHandOver();
    /// The group's committed offsets of `parts` (−1 where none); read twice, a moment apart, when a
    /// partition has no position of ours: the member that released it may still be committing.
    std::vector<std::int64_t> committedOffsets(const rd_kafka_topic_partition_list_t* parts);
    /// Runs the assign hook, then starts each partition at max(our position, the group's offset).
    void assign(rd_kafka_topic_partition_list_t* parts, bool cooperative);
    /// Runs the revoke hook (a checkpoint), hands the positions over, unassigns.
    void revoke(rd_kafka_topic_partition_list_t* parts, bool cooperative);

    void refreshHealth()
    {
        // A broker we were connected to and lost, or no broker reachable at all.
        const bool recentTransportError = lastTransportErrorMs > 0 && steadyMs() - lastTransportErrorMs < 3000;
        const bool brokerDown = health.brokersUp < health.brokersKnown;
        const bool outage = brokerDown || (recentTransportError && health.brokersUp == 0);
        if (outage && health.connected)
            ++health.outages;
        health.connected = !outage;
        if (outage)
            health.state = "outage: " + std::to_string(health.brokersUp) + " of " + std::to_string(health.brokersKnown)
                + " brokers up" + (lastError.empty() ? std::string() : " (" + lastError + ")");
        else if (health.brokersKnown == 0)
            health.state = "connecting";
        else
            health.state = "ok";
    }

    // --- messages ---

    void reject(IngestBatch& batch, RejectReason reason, SourcePosition position, const rd_kafka_message_t& m)
    {
        const auto* bytes = static_cast<const char*>(m.payload);
        const std::size_t len = bytes ? m.len : 0;
        batch.rejected.push_back(
            RejectedRecord { reason, position, std::string(bytes, std::min(len, kMaxQuarantineBytes)) });
        if (!deadLetters)
            return;
        const std::string_view why = rejectReasonName(reason);
        const std::string part = std::to_string(position.partition);
        const std::string off = std::to_string(position.offset);
        const rd_kafka_resp_err_t e = rd_kafka_producev(deadLetters.get(), RD_KAFKA_V_RKT(deadLetterTopic.get()),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(const_cast<char*>(bytes), len),
            RD_KAFKA_V_KEY(m.key, m.key_len), RD_KAFKA_V_HEADER("adclick-reject-reason", why.data(), why.size()),
            RD_KAFKA_V_HEADER("adclick-source-topic", config.topic.data(), config.topic.size()),
            RD_KAFKA_V_HEADER("adclick-source-partition", part.data(), part.size()),
            RD_KAFKA_V_HEADER("adclick-source-offset", off.data(), off.size()), RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            ++health.deadLetterFailures;
    }

    // One message: handed out (event or rejection), skipped, or noted as an end of partition.
    // Returns true when it went into the batch.
    bool take(IngestBatch& batch, rd_kafka_message_t& m)
    {
        if (m.err != RD_KAFKA_RESP_ERR_NO_ERROR && m.err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            lastError = std::string(rd_kafka_err2name(m.err)) + ": " + rd_kafka_message_errstr(&m);
            if (m.err == RD_KAFKA_RESP_ERR__TRANSPORT || m.err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
                lastTransportErrorMs = steadyMs();
            return false;
        }
        if (m.partition < 0)
            return false;
        const auto p = static_cast<std::uint32_t>(m.partition);
        grow(p + 1);
        if (m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (assigned[p] && (next[p] < 0 || m.offset >= next[p]))
                atEnd[p] = true;
            return false;
        }
        // Not ours any more (revoked while in flight), or already handed out (re-fetched after a
        // re-assignment): the owner of the position reads it.
        if (!assigned[p] || (next[p] >= 0 && m.offset < next[p]))
            return false;
        next[p] = m.offset + 1;
        atEnd[p] = false;
        const SourcePosition position { m.offset, p };
        ClickEvent e;
        RejectReason reason = RejectReason::NotJson;
        const std::string_view bytes(static_cast<const char*>(m.payload), m.payload ? m.len : 0);
        if (codec.decode(bytes, e, reason) == JsonCodec::Status::Rejected) {
            reject(batch, reason, position, m);
            return true;
        }
        e.setPosition(position);
        batch.events.push_back(e);
        return true;
    }

    bool allAtEnd() const
    {
        if (assignedCount == 0)
            return false;
        for (std::size_t p = 0; p < assigned.size(); ++p)
            if (assigned[p] && !atEnd[p])
                return false;
        return true;
    }
};

} // namespace adclick::engine
