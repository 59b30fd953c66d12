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
    bool isDuplicate(std::uint64_t clickId, TimeMs watermarkMs)
    {
        if (watermarkMs >= m_rotateAtMs)
            rotate(watermarkMs);
        if (m_previous.contains(clickId) || m_current.contains(clickId))
            return true;
        m_current[clickId] = 1;
        return false;
    }

    TimeMs horizonMs() const { return m_horizonMs; }
    std::size_t rememberedIds() const { return m_current.size() + m_previous.size(); }
    std::size_t memoryBytes() const { return m_current.memoryBytes() + m_previous.memoryBytes(); }

private:
    void rotate(TimeMs watermarkMs);

    TimeMs m_horizonMs;
    TimeMs m_rotateAtMs;
    FlatU64Map<std::uint8_t> m_current { 1024 };
    FlatU64Map<std::uint8_t> m_previous { 16 };
};

} // namespace adclick::engine
