#include "window/click_deduplicator.h"

#include <utility>

namespace adclick::engine {

ClickDeduplicator::ClickDeduplicator(TimeMs horizonMs)
    : m_horizonMs(horizonMs > 0 ? horizonMs : 1)
    , m_rotateAtMs(kMinTimeMs)
{
}

void ClickDeduplicator::rotate(TimeMs watermarkMs)
{
    if (m_rotateAtMs != kMinTimeMs) {
        // A gap of more than one horizon forgets both generations at once, unless the
        // current generation began before the first watermark (ids seen while warming up).
        const bool warmup = m_rotateAtMs - m_horizonMs <= kMinTimeMs;
        const bool longGap = !warmup && watermarkMs >= m_rotateAtMs + m_horizonMs;
        std::swap(m_previous, m_current);
        m_current.clear();
        if (longGap)
            m_previous.clear();
    }
    m_rotateAtMs = watermarkMs + m_horizonMs;
}

} // namespace adclick::engine
