#include "window/click_deduplicator.h"

#include <utility>

namespace adclick::engine {

ClickDeduplicator::ClickDeduplicator(TimeMs horizonMs)
    : m_horizonMs(horizonMs > 0 ? horizonMs : 1)
    , m_rotateAtMs(kMinTimeMs)
{
}

void ClickDeduplicator::restore(const Generations& g)
{
    m_current.clear();
    m_previous.clear();
    m_generations = g;
    m_rotateAtMs = g.rotateAtMs;
}

void ClickDeduplicator::rotate(TimeMs watermarkMs, std::uint64_t sequence)
{
    if (m_rotateAtMs != kMinTimeMs) {
        // A gap of more than one horizon forgets both generations at once, unless the
        // current generation began before the first watermark (ids seen while warming up).
        const bool warmup = m_rotateAtMs - m_horizonMs <= kMinTimeMs;
        const bool longGap = !warmup && watermarkMs >= m_rotateAtMs + m_horizonMs;
        std::swap(m_previous, m_current);
        m_current.clear();
        m_generations.previousStart = m_generations.currentStart;
        m_generations.currentStart = sequence;
        if (longGap) {
            m_previous.clear();
            m_generations.previousStart = sequence;
        }
    }
    m_rotateAtMs = watermarkMs + m_horizonMs;
    m_generations.rotateAtMs = m_rotateAtMs;
}

} // namespace adclick::engine
