#include "window/watermark_tracker.h"

#include <algorithm>

namespace adclick::engine {

WatermarkTracker::WatermarkTracker(WatermarkConfig config, std::uint32_t partitions, TimeMs startProcessingTimeMs)
    : m_config(config)
    , m_partitions(std::max<std::uint32_t>(partitions, 1))
    , m_nowMs(startProcessingTimeMs)
{
    for (auto& p : m_partitions)
        p.lastActivityMs = startProcessingTimeMs;
    recompute();
}

void WatermarkTracker::resize(std::uint32_t partitions)
{
    const std::size_t old = m_partitions.size();
    if (partitions <= old)
        return;
    m_partitions.resize(partitions);
    for (std::size_t i = old; i < partitions; ++i)
        m_partitions[i].lastActivityMs = m_nowMs;
    m_minDirty = true;
    recompute();
}

void WatermarkTracker::setReleased(std::uint32_t partition, bool released)
{
    if (partition >= m_partitions.size() || this->released(partition) == released)
        return;
    if (m_released.size() < m_partitions.size())
        m_released.resize(m_partitions.size(), false);
    m_released[partition] = released;
    m_releasedCount += released ? 1 : -1;
    PartitionWatermark& p = m_partitions[partition];
    if (!released)
        p.lastActivityMs = m_nowMs; // back in our hands: it has its idle timeout from now
    const bool idle
        = released || (m_config.idleTimeoutMs > 0 && m_nowMs - p.lastActivityMs >= m_config.idleTimeoutMs);
    if (idle != p.idle) {
        p.idle = idle;
        m_idleCount += idle ? 1 : -1;
        m_minDirty = true;
    }
    if (m_minDirty)
        recompute();
}

TimeMs WatermarkTracker::advanceProcessingTime(TimeMs nowMs)
{
    m_nowMs = std::max(m_nowMs, nowMs);
    if (m_config.idleTimeoutMs > 0) {
        for (std::size_t i = 0; i < m_partitions.size(); ++i) {
            auto& p = m_partitions[i];
            const bool idle = (m_releasedCount > 0 && released(static_cast<std::uint32_t>(i)))
                || m_nowMs - p.lastActivityMs >= m_config.idleTimeoutMs;
            if (idle != p.idle) {
                p.idle = idle;
                m_idleCount += idle ? 1 : -1;
                m_minDirty = true;
            }
        }
    }
    if (m_minDirty)
        recompute();
    return m_watermarkMs;
}

void WatermarkTracker::restore(const std::vector<PartitionWatermark>& partitions, TimeMs watermarkMs, TimeMs nowMs)
{
    if (partitions.size() > m_partitions.size())
        m_partitions.resize(partitions.size());
    std::copy(partitions.begin(), partitions.end(), m_partitions.begin());
    m_idleCount = 0;
    for (const auto& p : m_partitions)
        m_idleCount += p.idle ? 1 : 0;
    m_nowMs = std::max(m_nowMs, nowMs);
    m_watermarkMs = watermarkMs;
    m_minDirty = true;
    recompute();
}

void WatermarkTracker::forceWatermark(TimeMs t)
{
    m_watermarkMs = std::max(m_watermarkMs, t);
}

void WatermarkTracker::recompute()
{
    m_minDirty = false;
    TimeMs minWm = INT64_MAX;
    bool any = false;
    for (std::uint32_t i = 0; i < m_partitions.size(); ++i) {
        const auto& p = m_partitions[i];
        if (p.idle)
            continue;
        if (!any || p.watermarkMs < minWm) {
            minWm = p.watermarkMs;
            m_minPartition = i;
            any = true;
        }
    }
    if (!any) {
        // Every partition is idle: hold the watermark; any event re-activates its partition.
        m_minPartition = UINT32_MAX;
        return;
    }
    m_watermarkMs = std::max(m_watermarkMs, minWm);
}

} // namespace adclick::engine
