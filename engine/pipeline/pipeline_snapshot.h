#pragma once

#include "core/time_units.h"
#include "ingest/event_source.h"
#include "ingest/reject_reason.h"
#include "window/topk_types.h"
#include "window/watermark_tracker.h"
#include "window/window_types.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace adclick::engine {

/// Lateness of late events (watermark − event time) in power-of-two second buckets:
/// bucket 0 < 1 s, bucket i ∈ [2^(i−1), 2^i) s, the last bucket open-ended.
struct LatenessHistogram {
    static constexpr int kBuckets = 16;
    std::array<std::uint64_t, kBuckets> counts {};
    static int bucketOf(TimeMs latenessMs)
    {
        const TimeMs s = latenessMs / kMsPerSecond;
        int b = 0;
        while (b < kBuckets - 1 && (TimeMs { 1 } << b) <= s)
            ++b;
        return b;
    }
    void add(TimeMs latenessMs) { ++counts[bucketOf(latenessMs)]; }
};

/// Cumulative counters of the speed layer since start. Every record polled ends in exactly
/// one of: rejected, duplicate, lateDropped, counted (counted includes lateUpdated).
struct PipelineCounters {
    std::uint64_t received = 0; ///< records polled (accepted + rejected)
    std::uint64_t accepted = 0; ///< decoded events
    std::uint64_t duplicates = 0;
    std::uint64_t lateDropped = 0;
    std::uint64_t lateUpdated = 0;
    std::uint64_t counted = 0;
    RejectCounters rejected;
    std::uint64_t batches = 0;
    std::uint64_t windowsFinalised = 0;
    std::uint64_t cellsEmitted = 0;
};

/// Immutable picture of the pipeline, published at most every snapshotIntervalMs of wall time
/// for the UI, the REST server and the CLI. Safe to share across threads (never mutated).
struct PipelineSnapshot {
    std::uint64_t sequence = 0;
    std::string source;
    SourceStatus sourceStatus; ///< connection health and per-partition lag (Kafka)
    TimeMs processingTimeMs = 0;
    TimeMs watermarkMs = kMinTimeMs;
    TimeMs maxEventTimeMs = kMinTimeMs;
    std::vector<PartitionWatermark> partitions;
    std::uint32_t idlePartitions = 0;
    PipelineCounters counters;
    LatenessHistogram lateness;
    double wallSeconds = 0; ///< wall time since the pipeline started
    double eventsPerWallSecond = 0; ///< received rate over the last second (or more) of wall time
    std::size_t openWindows = 0;
    std::size_t openCells = 0;
    std::size_t stateBytes = 0; ///< windows + top-K + de-duplication memory
    std::size_t dedupIds = 0;
    std::uint32_t shards = 1;
    std::vector<WindowSummary> recentWindows; ///< most recent last
    TopKResult topK;
    bool finished = false;
};

} // namespace adclick::engine
