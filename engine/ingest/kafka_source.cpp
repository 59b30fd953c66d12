#include "ingest/kafka_source_impl.h"

namespace adclick::engine {

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
