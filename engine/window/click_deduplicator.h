#pragma once

#include "core/flat_u64_map.h"
#include "core/time_units.h"

#include <cstdint>

namespace adclick::engine {

/// Drops resent clicks: an event whose click id was already seen within the horizon is a
/// duplicate. Memory is bounded by two generations of click ids: a generation is retired
/// once the watermark has advanced horizonMs past its start, so every id is remembered for
/// at least horizonMs of watermark progress (and at most 2×). Decisions depend only on the
/// event sequence and the watermark, so they are deterministic. Not thread-safe.
class ClickDeduplicator {
public:
    explicit ClickDeduplicator(TimeMs horizonMs = 10 * kMsPerMinute);

    /// True if clickId (non-zero) was seen within the horizon; otherwise remembers it.
    /// sequence: the event's ordinal among accepted events (its raw log sequence), recorded
    /// where a generation starts so recovery can rebuild the generations from the raw log.
    bool isDuplicate(std::uint64_t clickId, TimeMs watermarkMs, std::uint64_t sequence = 0)
    {
        if (watermarkMs >= m_rotateAtMs)
            rotate(watermarkMs, sequence);
        if (m_previous.contains(clickId) || m_current.contains(clickId))
            return true;
        m_current[clickId] = 1;
        return false;
    }

    TimeMs horizonMs() const { return m_horizonMs; }
    std::size_t rememberedIds() const { return m_current.size() + m_previous.size(); }
    std::size_t memoryBytes() const { return m_current.memoryBytes() + m_previous.memoryBytes(); }

    /// Where the generations begin, for checkpoints: ids of accepted events with sequence in
    /// [previousStart, currentStart) are the previous generation, from currentStart on the
    /// current one (previousStart == currentStart: the previous generation is empty).
    struct Generations {
        TimeMs rotateAtMs = kMinTimeMs;
        std::uint64_t previousStart = 0;
        std::uint64_t currentStart = 0;
    };
    Generations generations() const { return m_generations; }
    /// Recovery: clears everything and sets the generation bounds; then feed the ids with
    /// restoreId() in sequence order.
    void restore(const Generations& g);
    /// Recovery: remembers clickId as seen by the accepted event `sequence` (not a duplicate).
    void restoreId(std::uint64_t clickId, std::uint64_t sequence)
    {
        if (sequence >= m_generations.currentStart)
            m_current[clickId] = 1;
        else if (sequence >= m_generations.previousStart)
            m_previous[clickId] = 1;
    }

private:
    void rotate(TimeMs watermarkMs, std::uint64_t sequence);

    TimeMs m_horizonMs;
    TimeMs m_rotateAtMs;
    Generations m_generations;
    FlatU64Map<std::uint8_t> m_current { 1024 };
    FlatU64Map<std::uint8_t> m_previous { 16 };
};

} // namespace adclick::engine
