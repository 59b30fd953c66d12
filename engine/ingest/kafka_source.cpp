#include "ingest/kafka_source.h"

#include "ingest/kafka_handles.h"
#include "ingest/kafka_stats.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <thread>

namespace adclick::engine {

namespace {
constexpr std::size_t kMaxQuarantineBytes = 4096;
constexpr int kPollWaitMs = 50;
constexpr int kCommittedLookupMs = 5000;
constexpr std::size_t kMaxBatchMessages = 16384;
constexpr std::int64_t kNoOffset = -1;
constexpr int kHandOverWaitMs = 1000;
constexpr int kMaxHandOverAttempts = 3; // assignment callbacks

std::int64_t steadyMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
} // namespace

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
        rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts, void* opaque)
    {
        auto& d = *static_cast<Impl*>(opaque);
        const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
        ++d.health.rebalances;
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
            d.assign(parts, cooperative);
        else
            d.revoke(parts, cooperative);
    }

    /// Commits the positions of partitions released in a rebalance whose commit the group refused.
    void retryHandOver()
    {
        if (pendingHandOver.empty() || !consumer)
            return;
        KafkaPartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(pendingHandOver.size())));
        for (const auto& [p, offset] : pendingHandOver)
            rd_kafka_topic_partition_list_add(list.get(), config.topic.c_str(), static_cast<int32_t>(p))->offset
                = offset;
        const rd_kafka_resp_err_t e = rd_kafka_commit(consumer.get(), list.get(), 0);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR || ++handOverAttempts > kMaxHandOverAttempts) {
            if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
                lastError = std::string("hand-over commit failed: ") + rd_kafka_err2str(e);
            pendingHandOver.clear();
            handOverAttempts = 0;
        }
    }

    /// The group's committed offsets of `parts` (−1 where none); read twice, a moment apart, when a
    /// partition has no position of ours: the member that released it may still be committing.
    std::vector<std::int64_t> committedOffsets(const rd_kafka_topic_partition_list_t* parts)
    {
        std::vector<std::int64_t> out(static_cast<std::size_t>(parts->cnt), kNoOffset);
        bool needsHandOver = false;
        for (int i = 0; i < parts->cnt; ++i) {
            const auto p = static_cast<std::uint32_t>(parts->elems[i].partition);
            needsHandOver = needsHandOver || p >= next.size() || next[p] < 0;
        }
        // Given every partition, no member is handing any over to us right now (a member that
        // leaves commits before it leaves): no need to wait for a late hand-over commit.
        if (parts->cnt >= static_cast<int>(next.size()))
            needsHandOver = false;
        for (int round = 0; round < (needsHandOver ? 2 : 1); ++round) {
            if (round > 0)
                std::this_thread::sleep_for(std::chrono::milliseconds(kHandOverWaitMs));
            KafkaPartitionList committed(rd_kafka_topic_partition_list_copy(parts));
            if (rd_kafka_committed(consumer.get(), committed.get(), kCommittedLookupMs) != RD_KAFKA_RESP_ERR_NO_ERROR)
                continue;
            for (int i = 0; i < parts->cnt; ++i)
                if (committed->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR && committed->elems[i].offset >= 0)
                    out[static_cast<std::size_t>(i)]
                        = std::max(out[static_cast<std::size_t>(i)], committed->elems[i].offset);
        }
        return out;
    }

    void assign(rd_kafka_topic_partition_list_t* parts, bool cooperative)
    {
        retryHandOver(); // the group is up again: what we released last time goes to the next owner now
        if (assignHook) { // the app restores these partitions and seeks them (seek() below sets next[p])
            std::vector<std::uint32_t> added;
            for (int i = 0; i < parts->cnt; ++i) {
                grow(static_cast<std::uint32_t>(parts->elems[i].partition) + 1);
                added.push_back(static_cast<std::uint32_t>(parts->elems[i].partition));
            }
            assignHook(added);
        }
        // What the group holds: another member's hand-over (or our own earlier commit).
        const std::vector<std::int64_t> committed = committedOffsets(parts);
        for (int i = 0; i < parts->cnt; ++i) {
            auto& tp = parts->elems[i];
            const auto p = static_cast<std::uint32_t>(tp.partition);
            grow(p + 1);
            const std::int64_t start = std::max(next[p], committed[static_cast<std::size_t>(i)]);
            tp.offset = start >= 0 ? start : (config.startLatest ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING);
            next[p] = start;
            assignStart[p] = start;
            if (!assigned[p])
                ++assignedCount;
            assigned[p] = true;
            atEnd[p] = false;
        }
        rd_kafka_error_t* e = nullptr;
        if (cooperative)
            e = rd_kafka_incremental_assign(consumer.get(), parts);
        else
            (void)rd_kafka_assign(consumer.get(), parts);
        if (e) {
            lastError = std::string("assign failed: ") + rd_kafka_error_string(e);
            rd_kafka_error_destroy(e);
        }
    }

    void revoke(rd_kafka_topic_partition_list_t* parts, bool cooperative)
    {
        // Everything handed out so far becomes durable before anyone else may read on.
        // (Also when the assignment was lost: our own checkpoint is always safe to take; only the
        // hand-over commit below is skipped, since another member may own the partitions already.)
        if (revokeHook)
            revokeHook();
        KafkaPartitionList positions(rd_kafka_topic_partition_list_new(parts->cnt));
        for (int i = 0; i < parts->cnt; ++i) {
            const auto p = static_cast<std::uint32_t>(parts->elems[i].partition);
            if (p < next.size() && next[p] >= 0)
                rd_kafka_topic_partition_list_add(positions.get(), config.topic.c_str(), static_cast<int32_t>(p))
                    ->offset
                    = next[p];
        }
        if (handOver && positions->cnt > 0 && !rd_kafka_assignment_lost(consumer.get())) {
            // A real Kafka takes this commit while the group prepares the rebalance; librdkafka's mock
            // refuses it (REBALANCE_IN_PROGRESS): it is retried in our next assignment callback, when
            // the group is up again, and the new owner reads the group's offsets twice, a second apart.
            if (rd_kafka_commit(consumer.get(), positions.get(), 0) != RD_KAFKA_RESP_ERR_NO_ERROR)
                for (int i = 0; i < positions->cnt; ++i)
                    pendingHandOver.emplace_back(
                        static_cast<std::uint32_t>(positions->elems[i].partition), positions->elems[i].offset);
        }
        for (int i = 0; i < parts->cnt; ++i) {
            const auto p = static_cast<std::uint32_t>(parts->elems[i].partition);
            if (p < assigned.size() && assigned[p]) {
                assigned[p] = false;
                --assignedCount;
            }
        }
        if (cooperative) {
            if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(consumer.get(), parts))
                rd_kafka_error_destroy(e);
        } else {
            (void)rd_kafka_assign(consumer.get(), nullptr);
            std::fill(assigned.begin(), assigned.end(), false);
            assignedCount = 0;
        }
    }

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

KafkaSource::KafkaSource(KafkaSourceConfig config, const Clock& clock, AdDictionary& ads,
    UserAgentDictionary& userAgents, CodecLimits limits)
    : m_impl(std::make_unique<Impl>(std::move(config), clock, ads, userAgents, limits))
{
    if (!m_impl->open()) {
        m_impl->deadLetters.reset();
        m_impl->queue.reset();
        m_impl->consumer.reset();
    }
}

KafkaSource::~KafkaSource()
{
    // Without close() the positions may not be durable: leave the group without handing them over.
    m_impl->handOver = false;
    close();
}

void KafkaSource::close()
{
    Impl& d = *m_impl;
    if (d.closed)
        return;
    d.closed = true;
    d.revokeHook = nullptr;
    d.assignHook = nullptr;
    if (d.consumer && d.subscribed) {
        // Our positions are durable by now (the final checkpoint came first): hand them over.
        KafkaPartitionList positions(rd_kafka_topic_partition_list_new(static_cast<int>(d.next.size())));
        for (std::uint32_t p = 0; p < d.next.size(); ++p)
            if (d.assigned[p] && d.next[p] >= 0)
                rd_kafka_topic_partition_list_add(positions.get(), d.config.topic.c_str(), static_cast<int32_t>(p))
                    ->offset
                    = d.next[p];
        if (d.handOver && positions->cnt > 0)
            (void)rd_kafka_commit(d.consumer.get(), positions.get(), 0);
        d.handOver = false; // committed above; the revocation inside consumer_close must not again
        (void)rd_kafka_consumer_close(d.consumer.get());
    }
    if (d.deadLetters)
        (void)rd_kafka_flush(d.deadLetters.get(), 5000);
    d.queue.reset();
}

bool KafkaSource::isOpen() const
{
    return m_impl->consumer != nullptr;
}

std::string KafkaSource::error() const
{
    return m_impl->error;
}

PollResult KafkaSource::poll(IngestBatch& batch, std::size_t maxEvents)
{
    Impl& d = *m_impl;
    batch.processingTimeMs = std::max(batch.processingTimeMs, d.clock.nowMs());
    if (!d.consumer || d.closed)
        return PollResult::EndOfStream;
    if (!d.subscribed && !d.subscribe())
        return PollResult::EndOfStream;
    if (d.deadLetters)
        rd_kafka_poll(d.deadLetters.get(), 0);
    const std::size_t want = std::clamp<std::size_t>(maxEvents, 1, kMaxBatchMessages);
    // Whatever is queued now; if nothing, wait briefly for one message and take what came with it.
    ssize_t n = rd_kafka_consume_batch_queue(d.queue.get(), 0, d.messages.data(), want);
    if (n == 0) {
        if (rd_kafka_message_t* first = rd_kafka_consumer_poll(d.consumer.get(), kPollWaitMs)) {
            d.messages[0] = first;
            const ssize_t more
                = want > 1 ? rd_kafka_consume_batch_queue(d.queue.get(), 0, d.messages.data() + 1, want - 1) : 0;
            n = 1 + std::max<ssize_t>(more, 0);
        }
    }
    std::size_t produced = 0;
    for (ssize_t i = 0; i < n; ++i) {
        KafkaMessage m(d.messages[static_cast<std::size_t>(i)]);
        if (d.take(batch, *m))
            ++produced;
    }
    batch.processingTimeMs = std::max(batch.processingTimeMs, d.clock.nowMs());
    if (produced > 0)
        return PollResult::Events;
    return d.config.stopAtEnd && d.allAtEnd() ? PollResult::EndOfStream : PollResult::Idle;
}

std::uint32_t KafkaSource::partitionCount() const
{
    return std::max<std::uint32_t>(1, static_cast<std::uint32_t>(m_impl->next.size()));
}

std::string KafkaSource::describe() const
{
    const KafkaSourceConfig& c = m_impl->config;
    std::string s = "kafka topic " + c.topic + " on " + c.brokers + ", group " + c.group;
    if (!c.deadLetterTopic.empty())
        s += ", dead letters to " + c.deadLetterTopic;
    return s;
}

bool KafkaSource::seek(std::uint32_t partition, std::int64_t offset)
{
    Impl& d = *m_impl;
    if (offset < -1)
        return false;
    d.grow(partition + 1);
    d.next[partition] = offset >= 0 ? offset + 1 : kNoOffset;
    if (d.assigned[partition] && offset >= 0) {
        KafkaPartitionList one(rd_kafka_topic_partition_list_new(1));
        rd_kafka_topic_partition_list_add(one.get(), d.config.topic.c_str(), static_cast<int32_t>(partition))->offset
            = offset + 1;
        if (rd_kafka_error_t* e = rd_kafka_seek_partitions(d.consumer.get(), one.get(), 5000)) {
            rd_kafka_error_destroy(e);
            return false;
        }
    }
    return true;
}

SourceStatus KafkaSource::status() const
{
    Impl& d = *m_impl;
    d.refreshHealth();
    SourceStatus s = d.health;
    s.partitions.reserve(d.next.size());
    for (std::uint32_t p = 0; p < d.next.size(); ++p) {
        SourcePartitionStatus ps;
        ps.partition = p;
        ps.assigned = d.assigned[p];
        ps.position = d.next[p];
        if (d.consumer && d.assigned[p]) {
            int64_t low = -1;
            int64_t high = -1;
            if (rd_kafka_get_watermark_offsets(
                    d.consumer.get(), d.config.topic.c_str(), static_cast<int32_t>(p), &low, &high)
                    == RD_KAFKA_RESP_ERR_NO_ERROR
                && high >= 0) {
                ps.highWatermark = high;
                if (ps.position >= 0)
                    ps.lag = std::max<std::int64_t>(0, high - ps.position);
                else if (d.atEnd[p])
                    ps.lag = 0;
            }
        }
        s.partitions.push_back(ps);
    }
    return s;
}

bool KafkaSource::partitionActive(std::uint32_t partition) const
{
    return partition < m_impl->assigned.size() && m_impl->assigned[partition];
}

void KafkaSource::setRevokeHook(std::function<void()> hook)
{
    m_impl->revokeHook = std::move(hook);
}

void KafkaSource::setAssignHook(std::function<void(const std::vector<std::uint32_t>&)> hook)
{
    m_impl->assignHook = std::move(hook);
}

void KafkaSource::commitDurable(const std::vector<std::int64_t>& lastOffsets)
{
    Impl& d = *m_impl;
    if (!d.consumer || d.closed || !d.subscribed)
        return;
    KafkaPartitionList positions(rd_kafka_topic_partition_list_new(static_cast<int>(lastOffsets.size())));
    for (std::uint32_t p = 0; p < lastOffsets.size() && p < d.assigned.size(); ++p) {
        // Never behind the start of the current assignment: that could hand over a position
        // another member has already passed.
        if (!d.assigned[p] || lastOffsets[p] < 0 || lastOffsets[p] + 1 < d.assignStart[p])
            continue;
        rd_kafka_topic_partition_list_add(positions.get(), d.config.topic.c_str(), static_cast<int32_t>(p))->offset
            = lastOffsets[p] + 1;
    }
    if (positions->cnt > 0)
        (void)rd_kafka_commit(d.consumer.get(), positions.get(), 1);
}

RejectCounters KafkaSource::rejectCounters() const
{
    return m_impl->codec.counters();
}

std::uint64_t KafkaSource::acceptedCount() const
{
    return m_impl->codec.acceptedCount();
}

bool plausibleBrokerList(const std::string& brokers)
{
    return !brokers.empty() && brokers.find_first_of(" \t\n") == std::string::npos;
}

} // namespace adclick::engine
