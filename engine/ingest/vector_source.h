#pragma once

#include "ingest/event_source.h"

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace adclick::engine {

/// Replays records held in memory: pre-generated events for benchmarks, hand-made
/// sequences for tests. Batch sizes are fixed or drawn at random in [minBatch, maxBatch]
/// from a seed, so a test can show that batch boundaries do not change results. Positions
/// are taken from the events as given. Not thread-safe.
class VectorSource final : public EventSource {
public:
    struct Record {
        ClickEvent event;
        bool rejected = false; ///< true: `rejection` is delivered instead of `event`
        RejectedRecord rejection;
        TimeMs processingTimeMs = 0; ///< processing time at which this record arrives
    };

    VectorSource(std::vector<Record> records, std::uint32_t partitions);
    /// Non-owning: replays records that outlive the source (benchmarks replay one copy many times).
    VectorSource(std::span<const Record> records, std::uint32_t partitions);
    /// Non-owning, accepted events only, all arriving at processingTimeMs: poll() hands them out
    /// with one bulk copy of 64-byte events instead of unpacking 128-byte records one by one.
    VectorSource(std::span<const ClickEvent> events, std::uint32_t partitions, TimeMs processingTimeMs);
    /// Convenience: accepted events only, all arriving at processing time processingTimeMs.
    static std::vector<Record> fromEvents(const std::vector<ClickEvent>& events, TimeMs processingTimeMs);

    /// Batch sizes drawn uniformly from [minBatch, maxBatch] with `seed` (min == max: fixed).
    void setBatchSizes(std::size_t minBatch, std::size_t maxBatch, std::uint64_t seed = 1);

    PollResult poll(IngestBatch& batch, std::size_t maxEvents) override;
    std::uint32_t partitionCount() const override { return m_partitions; }
    std::string describe() const override;
    /// Seeks to the record after the first record whose position equals (partition, offset).
    bool seek(std::uint32_t partition, std::int64_t offset) override;
    void rewind() { m_next = 0; }
    std::size_t remaining() const { return size() - m_next; }

private:
    std::size_t size() const { return m_events.empty() ? m_records.size() : m_events.size(); }
    std::size_t nextBatchSize(std::size_t maxEvents);

    std::vector<Record> m_owned;
    std::span<const Record> m_records;
    std::span<const ClickEvent> m_events; ///< events-only mode when non-empty
    TimeMs m_eventsProcessingTimeMs = 0;
    std::uint32_t m_partitions;
    std::size_t m_next = 0;
    std::size_t m_minBatch = 0;
    std::size_t m_maxBatch = 0;
    std::mt19937_64 m_rng;
};

} // namespace adclick::engine
