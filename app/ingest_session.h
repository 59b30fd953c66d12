#pragma once

#include "batch/batch_scheduler.h"
#include "core/ad_dictionary.h"
#include "core/clock.h"
#include "ingest/event_source.h"
#include "ingest/kafka_source.h"
#include "ingest/user_agent.h"
#include "pipeline/pipeline.h"
#include "run_options.h"
#include "storage/checkpointer.h"

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>

namespace adclick::app {

/// The speed layer of one process, as `adclick run` and `adclick serve` drive it: clock, store
/// (checkpointer + recovery), source, pipeline and the batch scheduler, and the ingest loop that
/// steps them and prints windows, top ads and progress (text or JSON lines).
///
/// open() and loop() run on the ingest thread (loop() may be on another thread than the one that
/// created the session). From any thread: snapshot(), checkpointStats(), batches(), requestStop(),
/// nowMs(), the const accessors.
class IngestSession {
public:
    IngestSession(RunOptions options, std::FILE* out, std::FILE* err);
    ~IngestSession();
    IngestSession(const IngestSession&) = delete;
    IngestSession& operator=(const IngestSession&) = delete;

    /// Builds everything and recovers from the store. False after printing why on err.
    bool open();
    /// Steps the pipeline until requestStop(), the duration or the end of the input; then
    /// finishes, takes the final checkpoint and closes the store. Returns the exit code (0, or 3
    /// when the final checkpoint failed). With keepBatches the scheduler keeps running
    /// afterwards (serve: POST /v1/batch/runs still works); else it is cancelled.
    int loop(bool keepBatches = false);

    void requestStop();
    bool stopRequested() const { return m_stop.load(std::memory_order_acquire); }
    /// True once loop() has returned (the store is closed).
    bool ended() const { return m_ended.load(std::memory_order_acquire); }

    std::shared_ptr<const engine::PipelineSnapshot> snapshot() const { return m_pipeline->snapshot(); }
    engine::Pipeline& pipeline() { return *m_pipeline; }
    const engine::PipelineConfig& pipelineConfig() const { return m_options.pipeline; }
    /// nullopt without a store.
    std::optional<engine::CheckpointStats> checkpointStats() const;
    /// Null without a store.
    engine::BatchScheduler* batches() { return m_batches.get(); }
    /// Processing time (the clock of the source: real or virtual).
    engine::TimeMs nowMs() const { return m_clock->nowMs(); }
    /// Empty without a store.
    const std::string& dataDirectory() const { return m_dataDir; }
    const RunOptions& options() const { return m_options; }
    const std::string& sourceDescription() const { return m_sourceDescription; }
    const engine::RecoveryReport& recovery() const { return m_recovery; }

private:
    RunOptions m_options;
    std::FILE* m_out;
    std::FILE* m_err;
    engine::AdDictionary m_ads;
    engine::UserAgentDictionary m_userAgents;
    std::unique_ptr<engine::Clock> m_clock;
    std::unique_ptr<engine::Checkpointer> m_checkpointer;
    std::unique_ptr<engine::EventSource> m_source;
    engine::KafkaSource* m_kafka = nullptr; ///< m_source when it reads Kafka
    std::uint64_t m_kafkaCommittedSequence = 0; ///< last checkpoint whose offsets went to the group
    std::unique_ptr<engine::Pipeline> m_pipeline;
    std::unique_ptr<engine::PipelineSink> m_collector;
    std::unique_ptr<engine::BatchScheduler> m_batches;
    std::string m_dataDir;
    std::string m_sourceDescription;
    engine::RecoveryReport m_recovery;
    std::atomic<bool> m_stop { false };
    std::atomic<bool> m_ended { false };
};

} // namespace adclick::app
