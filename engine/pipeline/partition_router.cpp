#include "pipeline/partition_router.h"

#include <algorithm>

namespace adclick::engine {

class PartitionRouter::Stream final : public EventSource {
public:
    Stream(PartitionRouter& router, std::uint32_t partition)
        : m_router(router)
        , m_partition(partition)
    {
    }

    PollResult poll(IngestBatch& batch, std::size_t maxEvents) override
    {
        batch.processingTimeMs = m_processingTimeMs;
        if (m_events.empty() && m_rejected.empty())
            return m_router.ended() ? PollResult::EndOfStream : PollResult::Idle;
        std::size_t n = 0;
        for (; n < maxEvents && !m_events.empty(); ++n) {
            batch.events.push_back(m_events.front());
            m_events.pop_front();
        }
        for (; n < maxEvents && !m_rejected.empty(); ++n) {
            batch.rejected.push_back(std::move(m_rejected.front()));
            m_rejected.pop_front();
        }
        return PollResult::Events;
    }
    std::uint32_t partitionCount() const override { return m_router.m_upstream.partitionCount(); }
    std::string describe() const override
    {
        return m_router.m_upstream.describe() + ", partition " + std::to_string(m_partition);
    }
    bool seek(std::uint32_t partition, std::int64_t offset) override
    {
        if (partition != m_partition)
            return true; // another partition's position is not this stream's business
        m_events.clear();
        m_rejected.clear();
        return m_router.m_upstream.seek(partition, offset);
    }
    bool partitionActive(std::uint32_t partition) const override
    {
        return partition == m_partition && m_router.m_upstream.partitionActive(partition);
    }
    SourceStatus status() const override { return m_router.m_upstream.status(); }

    std::size_t queued() const { return m_events.size() + m_rejected.size(); }
    std::deque<ClickEvent> m_events;
    std::deque<RejectedRecord> m_rejected;
    TimeMs m_processingTimeMs = 0;

private:
    PartitionRouter& m_router;
    std::uint32_t m_partition;
};

PartitionRouter::PartitionRouter(EventSource& upstream)
    : m_upstream(upstream)
{
}

PartitionRouter::~PartitionRouter() = default;

EventSource& PartitionRouter::stream(std::uint32_t partition)
{
    auto& s = m_streams[partition];
    if (!s)
        s = std::make_unique<Stream>(*this, partition);
    return *s;
}

PollResult PartitionRouter::pump(std::size_t maxRecords)
{
    if (m_ended)
        return PollResult::EndOfStream;
    m_batch.clear();
    const PollResult r = m_upstream.poll(m_batch, maxRecords);
    if (r == PollResult::EndOfStream)
        m_ended = true;
    auto target = [&](std::uint32_t partition) -> Stream* {
        const auto it = m_streams.find(partition);
        if (it == m_streams.end()) {
            ++m_unrouted;
            return nullptr;
        }
        it->second->m_processingTimeMs = std::max(it->second->m_processingTimeMs, m_batch.processingTimeMs);
        return it->second.get();
    };
    for (const ClickEvent& e : m_batch.events)
        if (Stream* s = target(e.partition))
            s->m_events.push_back(e);
    for (RejectedRecord& rej : m_batch.rejected)
        if (Stream* s = target(rej.position.partition))
            s->m_rejected.push_back(std::move(rej));
    // Processing time moves on for every stream, also those that got nothing (idle partitions).
    for (auto& [p, s] : m_streams)
        s->m_processingTimeMs = std::max(s->m_processingTimeMs, m_batch.processingTimeMs);
    return r;
}

std::size_t PartitionRouter::queued(std::uint32_t partition) const
{
    const auto it = m_streams.find(partition);
    return it == m_streams.end() ? 0 : it->second->queued();
}

void PartitionRouter::drop(std::uint32_t partition)
{
    m_streams.erase(partition);
}

} // namespace adclick::engine
