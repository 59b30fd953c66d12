#pragma once

#include "core/time_units.h"
#include "window/topk_types.h"
#include "window/watermark_tracker.h"
#include "window/window_types.h"

#include <cstdint>

namespace adclick::engine {

/// Everything the speed layer needs to know; command-line options map onto these fields.
struct PipelineConfig {
    WindowConfig window;
    WatermarkConfig watermark;
    TopKConfig topK;
    bool deduplicate = true; ///< drop events whose click id was seen within the horizon
    TimeMs dedupHorizonMs = 10 * kMsPerMinute;
    std::uint32_t shards = 1; ///< aggregation shards, partitioned by ad id
    std::size_t batchSize = 4096; ///< records polled per step
    /// Events stamped further than this ahead of processing time are rejected
    /// (TimestampOutOfRange): one bad clock must not push the watermark into the future. 0 = off.
    TimeMs maxFutureMs = kMsPerHour;
    TimeMs snapshotIntervalMs = 100; ///< wall time between published snapshots
    std::size_t recentWindowSummaries = 120; ///< window summaries kept in snapshots
};

} // namespace adclick::engine
