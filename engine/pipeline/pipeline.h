#pragma once

#include "core/clock.h"
#include "ingest/event_source.h"
#include "pipeline/pipeline_config.h"
#include "pipeline/pipeline_snapshot.h"
#include "window/click_deduplicator.h"
#include "window/topk_tracker.h"
#include "window/watermark_tracker.h"
#include "window/window_aggregator.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace adclick::engine {

class ShardPool;

/// What a checkpoint takes from the pipeline (captureCheckpoint(), ingest thread, between steps).
struct PipelineCheckpoint {
    std::vector<std::uint8_t> state; ///< watermarks, counters, de-duplication generations, top-K slot starts
    std::vector<SourcePosition> offsets; ///< last consumed offset per partition (-1: none yet)
    std::vector<WindowResult> changedOpenCells; ///< partial counts of open cells changed since the last capture
    TimeMs processingTimeMs = 0;
    TimeMs watermarkMs = kMinTimeMs;
    std::uint64_t nextSequence = 0; ///< accepted events so far = raw log sequence of the next one
    std::uint64_t replayFromSequence = 0; ///< recovery replays the raw log from here (dedup, top-K)
    bool finished = false; ///< finish() ran: every window was finalised
};

/// Receives what the pipeline produces, on the ingest thread.
class PipelineSink {
public:
    virtual ~PipelineSink() = default;
    /// Every polled batch after classification: accepted events carry their disposition
    /// (counted, late-dropped, late-updated, duplicate), rejected records their reason.
    virtual void onBatch(const IngestBatch& batch) { }
    /// Cells that became final (or were corrected), late drops and window summaries.
    virtual void onResults(std::span<const WindowResult> results, std::span<const LateDropDelta> lateDrops,
        std::span<const WindowSummary> summaries)
    {
    }
};

/// Wires a source through decode → watermark → de-duplication → late classification →
/// sharded windows and top-K. step() runs one batch on the calling thread (the ingest
/// thread); shards other than 0 run on their own threads in fork-join per batch.
/// Only snapshot() and requestStop() may be called from other threads.
class Pipeline {
public:
    Pipeline(PipelineConfig config, EventSource& source, Clock& clock);
    ~Pipeline();
    Pipeline(const Pipeline&) = delete;
    Pipeline& operator=(const Pipeline&) = delete;

    void addSink(PipelineSink* sink) { m_sinks.push_back(sink); }

    /// Polls and processes one batch. Virtual clocks are advanced to the batch's processing time.
    PollResult step();
    /// Runs step() until the source ends, processing time reaches untilProcessingTimeMs
    /// (if > 0), or requestStop(). Then publishes a final snapshot. Returns the last result.
    PollResult run(TimeMs untilProcessingTimeMs = 0);
    /// Ends the input: advances the watermark past every window so all become final.
    void finish();
    /// Thread-safe.
    void requestStop() { m_stop.store(true, std::memory_order_release); }
    bool stopRequested() const { return m_stop.load(std::memory_order_acquire); }

    /// Thread-safe: the latest published snapshot (never null).
    std::shared_ptr<const PipelineSnapshot> snapshot() const;
    /// Ingest thread: builds and publishes a snapshot now (includes a fresh top-K).
    void publishSnapshot();
    /// Ingest thread: top-K over the latest complete window.
    TopKResult topK(std::uint32_t k);

    /// Ingest thread, between steps: the state a checkpoint needs. Clears the changed marks of
    /// the open cells it returns, so each capture holds what changed since the previous one.
    void captureCheckpoint(PipelineCheckpoint& out);

    /// Recovery, before the first step(), in this order: restoreState(); restoreCell() for every
    /// stored speed row of a window holdsWindow() says is still held; replayEvent() for every raw
    /// log record from replayFromSequence() up to the checkpoint's end, in log order; finishRestore().
    /// The pipeline then continues exactly as the run that wrote the checkpoint would have.
    bool restoreState(std::span<const std::uint8_t> state, std::string& error);
    bool holdsWindow(TimeMs windowStartMs) const;
    void restoreCell(const WindowKey& key, std::uint64_t count, std::uint64_t lateUpdated, std::uint32_t revision);
    std::uint64_t replayFromSequence() const;
    void replayEvent(const ClickEvent& e, std::uint64_t sequence);
    void finishRestore();
    /// Last consumed offset per source partition (-1: none), as restored or advanced since.
    const std::vector<std::int64_t>& sourceOffsets() const { return m_offsets; }
    bool finished() const { return m_finished; }

    const PipelineConfig& config() const { return m_config; }
    const PipelineCounters& counters() const { return m_counters; }
    TimeMs watermark() const { return m_watermarks.watermark(); }
    /// Processing time of the last step (ingest thread).
    TimeMs processingTimeMs() const { return m_watermarks.processingTimeMs(); }
    const WatermarkTracker& watermarks() const { return m_watermarks; }
    /// Ingest thread: partial counts of open windows, f(const WindowKey&, const WindowAggregator::Cell&).
    template <typename F> void forEachOpenCell(F&& f) const
    {
        for (const auto& s : m_shards)
            s->windows.forEachOpenCell(f);
    }

private:
    struct Shard {
        explicit Shard(const PipelineConfig& c)
            : windows(c.window)
            , topK(c.topK)
        {
        }
        WindowAggregator windows;
        TopKTracker topK;
        std::vector<ClickEvent> input;
        FlatU64Map<std::uint32_t> batchCounts { 8192 }; ///< (top-K slot, ad) → events in this batch
        std::vector<TopKTracker::Increment> increments; ///< batchCounts in slot order, for TopKTracker::add
    };
    void classify(IngestBatch& batch);
    /// inPlace: with one shard, the batch's events are aggregated where they are.
    void aggregate(TimeMs watermarkMs, const std::vector<ClickEvent>* inPlace = nullptr);
    void deliverResults();
    /// Remembers the raw log sequence of the first counted event of each top-K slot.
    void noteTopKSlot(std::int64_t slot, std::uint64_t sequence);
    void pruneTopKSlots();

    PipelineConfig m_config;
    EventSource& m_source;
    Clock& m_clock;
    WatermarkTracker m_watermarks;
    ClickDeduplicator m_dedup;
    std::vector<std::unique_ptr<Shard>> m_shards;
    std::unique_ptr<ShardPool> m_pool;
    std::vector<PipelineSink*> m_sinks;
    IngestBatch m_batch;
    PipelineCounters m_counters;
    LatenessHistogram m_lateness;
    std::vector<WindowResult> m_results;
    std::vector<LateDropDelta> m_lateDrops;
    std::vector<WindowSummary> m_summaries;
    std::vector<WindowSummary> m_recentSummaries;
    std::atomic<bool> m_stop { false };
    bool m_finished = false;
    std::vector<std::int64_t> m_offsets; ///< last consumed offset per partition
    /// (top-K slot index, sequence of its first counted event), for slots still live.
    std::vector<std::pair<std::int64_t, std::uint64_t>> m_topKSlotStarts;

    mutable std::mutex m_snapshotMutex;
    std::shared_ptr<const PipelineSnapshot> m_snapshot;
    std::uint64_t m_snapshotSequence = 0;
    std::chrono::steady_clock::time_point m_startWall;
    std::chrono::steady_clock::time_point m_lastSnapshotWall; ///< start of the current rate interval
    std::chrono::steady_clock::time_point m_lastPublishWall;
    std::uint64_t m_lastSnapshotReceived = 0;
    double m_rate = 0; ///< received per wall second over the last complete interval (≥ 1 s)
};

} // namespace adclick::engine
