#pragma once

#include "core/time_units.h"

#include <cstdint>
#include <vector>

namespace adclick::engine {

struct WatermarkConfig {
    TimeMs boundMs = 2 * kMsPerMinute; ///< bounded out-of-orderness
    TimeMs idleTimeoutMs = 30 * kMsPerSecond; ///< processing time without events before a partition is idle; 0 = never
};

/// State of one source partition, for metrics and the dashboard.
struct PartitionWatermark {
    TimeMs maxEventTimeMs = kMinTimeMs;
    TimeMs watermarkMs = kMinTimeMs; ///< maxEventTime − bound
    TimeMs lastActivityMs = 0; ///< processing time of its last event
    std::uint64_t events = 0;
    bool idle = false;
};

/// Per-partition bounded-out-of-orderness watermarks (Flink's
/// forBoundedOutOfOrderness + withIdleness). The pipeline watermark is the minimum over
/// partitions that are not idle and never moves backwards; when every partition is idle
/// it holds. A partition becomes idle after idleTimeoutMs of processing time without
/// events and active again with its next event.
/// Per-event cost is O(1) amortised (the minimum is only recomputed when the partition
/// holding it advances). Not thread-safe: owned by the ingest thread.
class WatermarkTracker {
public:
    WatermarkTracker(WatermarkConfig config, std::uint32_t partitions, TimeMs startProcessingTimeMs);

    /// Records an event of `partition` (< partitions()) and returns the new pipeline watermark.
    TimeMs observe(std::uint32_t partition, TimeMs eventTimeMs)
    {
        PartitionWatermark& p = m_partitions[partition];
        ++p.events;
        p.lastActivityMs = m_nowMs;
        if (p.idle) {
            p.idle = false;
            --m_idleCount;
            m_minDirty = true;
        }
        if (eventTimeMs > p.maxEventTimeMs) {
            p.maxEventTimeMs = eventTimeMs;
            p.watermarkMs = eventTimeMs - m_config.boundMs;
            if (partition == m_minPartition)
                m_minDirty = true;
        }
        if (m_minDirty)
            recompute();
        return m_watermarkMs;
    }

    /// Sets processing time (call before observing a batch's events) and re-evaluates
    /// idleness. Returns the pipeline watermark.
    TimeMs advanceProcessingTime(TimeMs nowMs);
    /// Forces the watermark to at least t (end of a bounded input: +infinity closes everything).
    void forceWatermark(TimeMs t);

    TimeMs watermark() const { return m_watermarkMs; }
    const std::vector<PartitionWatermark>& partitions() const { return m_partitions; }
    std::uint32_t idlePartitions() const { return m_idleCount; }
    const WatermarkConfig& config() const { return m_config; }
    /// Recovery: puts back the state a checkpoint saved (partitions(), watermark(), processing time).
    void restore(const std::vector<PartitionWatermark>& partitions, TimeMs watermarkMs, TimeMs nowMs);
    TimeMs processingTimeMs() const { return m_nowMs; }
    /// Adds partitions (a source that discovers more, e.g. Kafka); new ones start active.
    void resize(std::uint32_t partitions);
    /// Marks a partition this process does not read now (a Kafka partition another group member
    /// owns, or none yet): it counts as idle, so it does not hold the watermark, until released is
    /// set false again. Not part of the checkpointed state: the source says it after a restart.
    void setReleased(std::uint32_t partition, bool released);
    bool released(std::uint32_t partition) const { return partition < m_released.size() && m_released[partition]; }

private:
    void recompute();

    WatermarkConfig m_config;
    std::vector<PartitionWatermark> m_partitions;
    std::vector<bool> m_released; ///< per partition: read by no one here (counts as idle)
    std::uint32_t m_releasedCount = 0;
    TimeMs m_nowMs;
    TimeMs m_watermarkMs = kMinTimeMs;
    std::uint32_t m_minPartition = 0;
    std::uint32_t m_idleCount = 0;
    bool m_minDirty = true;
};

} // namespace adclick::engine
