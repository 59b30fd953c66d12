#pragma once

#include "pipeline/pipeline.h"
#include "window/topk_tracker.h"

#include <QJsonArray>
#include <QJsonObject>

#include <memory>
#include <string>
#include <vector>

namespace adclick::app {

/// How SimShardModel routes an event to one of its shards.
enum class ShardRouting {
    SourcePartition, ///< shard = source partition mod shards (a Kafka topic whose producers do not key by ad)
    User, ///< shard = user hash mod shards (partitioned by user, e.g. for sessionisation)
    Ad, ///< shard = shardOfAd(ad), as the engine's own shards: the two-level merge is exact
};

/// The scenario's `shard_model` section: a second, simulator-side set of shards beside the engine's.
struct ShardModelSpec {
    std::uint32_t shards = 0; ///< 0: no model
    ShardRouting routing = ShardRouting::SourcePartition;
    std::uint32_t k = 10;
};

/// Two-level top-K when shards are NOT partitioned by ad id. The engine's own shards are always
/// partitioned by ad (shardOfAd), so its local-top-K merge (mergeTopK) is exact. This model feeds
/// the same counted events (a PipelineSink, called before the engine aggregates them, with the
/// same watermark) into its own real engine TopKTracker per shard, routed by `routing`, and at
/// each sample compares three merges over the same complete window with the engine's answer:
///  - naive: union of each shard's local top-K, summing the counts it was sent (the seed design);
///  - TPUT (Cao & Wang 2004): local top-K, then every (ad, count) ≥ τ1/m, prune by upper bound,
///    then exact per-shard counts of the remaining candidates — exact with a bounded exchange;
///  - full: every per-ad partial count summed over shards before ranking — exact, ships everything.
/// Precision is tie-aware (an ad whose true count equals the K-th true count is a hit); counts
/// are compared per listed ad with the model's summed partial counts. Single-threaded (ingest thread).
class SimShardModel : public engine::PipelineSink {
public:
    SimShardModel(ShardModelSpec spec, const engine::TopKConfig& topK);
    ~SimShardModel() override;

    /// The pipeline whose batches arrive (its watermark is read in onBatch); may change on restart.
    void attach(const engine::Pipeline* pipeline) { m_pipeline = pipeline; }
    void onBatch(const engine::IngestBatch& batch) override;
    /// Compares the merges with `engine` (Pipeline::topK(k) at the same watermark) and keeps a sample.
    void sample(engine::TimeMs offsetMs, const engine::TopKResult& engine);
    /// Adds the figures (naive_/tput_/merged_/partitioned_…) and the "shard_samples" series.
    void figures(const std::string& prefix, QJsonObject& figures, QJsonObject& series) const;

private:
    std::uint32_t shardOf(const engine::ClickEvent& e) const;

    ShardModelSpec m_spec;
    const engine::Pipeline* m_pipeline = nullptr;
    std::vector<std::unique_ptr<engine::TopKTracker>> m_shards;
    engine::TimeMs m_lastWindowEndMs = engine::kMinTimeMs;

    struct Sample {
        engine::TimeMs offsetMs = 0;
        double naivePrecision = 0;
        double tputPrecision = 0;
        double mergedPrecision = 0;
        double partitionedPrecision = 0; ///< the engine's own (ad-partitioned) two-level answer
        std::uint64_t naiveMaxCountError = 0;
        std::uint64_t tputMaxCountError = 0;
        std::uint64_t mergedMaxCountError = 0;
        std::uint64_t naiveShipped = 0; ///< (ad, count) pairs sent to the merger
        std::uint64_t tputShipped = 0;
        std::uint64_t mergedShipped = 0;
        std::uint64_t engineMismatches = 0; ///< full merge's top-K counts ≠ the engine's exact top-K
        bool naiveTop1Wrong = false;
    };
    std::vector<Sample> m_samples;
};

} // namespace adclick::app
