#include "ingest/vector_source.h"

#include <algorithm>

namespace adclick::engine {

VectorSource::VectorSource(std::vector<Record> records, std::uint32_t partitions)
    : m_owned(std::move(records))
    , m_records(m_owned)
    , m_partitions(partitions == 0 ? 1 : partitions)
{
}

VectorSource::VectorSource(std::span<const Record> records, std::uint32_t partitions)
    : m_records(records)
    , m_partitions(partitions == 0 ? 1 : partitions)
{
}

VectorSource::VectorSource(std::span<const ClickEvent> events, std::uint32_t partitions, TimeMs processingTimeMs)
    : m_events(events)
    , m_eventsProcessingTimeMs(processingTimeMs)
    , m_partitions(partitions == 0 ? 1 : partitions)
{
}

std::vector<VectorSource::Record> VectorSource::fromEvents(
    const std::vector<ClickEvent>& events, TimeMs processingTimeMs)
{
    std::vector<Record> out(events.size());
    for (std::size_t i = 0; i < events.size(); ++i) {
        out[i].event = events[i];
        out[i].processingTimeMs = processingTimeMs;
    }
    return out;
}

void VectorSource::setBatchSizes(std::size_t minBatch, std::size_t maxBatch, std::uint64_t seed)
{
    m_minBatch = std::max<std::size_t>(1, minBatch);
    m_maxBatch = std::max(m_minBatch, maxBatch);
    m_rng.seed(seed);
}

std::size_t VectorSource::nextBatchSize(std::size_t maxEvents)
{
    std::size_t n = maxEvents;
    if (m_minBatch > 0) {
        std::uniform_int_distribution<std::size_t> dist(m_minBatch, m_maxBatch);
        n = std::min(n, dist(m_rng));
    }
    return std::min(n, size() - m_next);
}

PollResult VectorSource::poll(IngestBatch& batch, std::size_t maxEvents)
{
    if (m_next >= size())
        return PollResult::EndOfStream;
    const std::size_t n = nextBatchSize(maxEvents);
    if (!m_events.empty()) {
        const auto from = m_events.begin() + static_cast<std::ptrdiff_t>(m_next);
        batch.events.insert(batch.events.end(), from, from + static_cast<std::ptrdiff_t>(n));
        batch.processingTimeMs = std::max(batch.processingTimeMs, m_eventsProcessingTimeMs);
        m_next += n;
        return m_next >= size() ? PollResult::EndOfStream : PollResult::Events;
    }
    for (std::size_t i = 0; i < n; ++i) {
        const Record& r = m_records[m_next + i];
        if (r.rejected)
            batch.rejected.push_back(r.rejection);
        else
            batch.events.push_back(r.event);
        batch.processingTimeMs = std::max(batch.processingTimeMs, r.processingTimeMs);
    }
    m_next += n;
    return m_next >= m_records.size() ? PollResult::EndOfStream : PollResult::Events;
}

std::string VectorSource::describe() const
{
    return "memory (" + std::to_string(size()) + " records, " + std::to_string(m_partitions) + " partitions)";
}

bool VectorSource::seek(std::uint32_t partition, std::int64_t offset)
{
    for (std::size_t i = 0; i < m_events.size(); ++i) {
        if (m_events[i].partition == partition && m_events[i].offset == offset) {
            m_next = i + 1;
            return true;
        }
    }
    for (std::size_t i = 0; i < m_records.size(); ++i) {
        const Record& r = m_records[i];
        const SourcePosition p = r.rejected ? r.rejection.position : r.event.position();
        if (p.partition == partition && p.offset == offset) {
            m_next = i + 1;
            return true;
        }
    }
    return false;
}

} // namespace adclick::engine
