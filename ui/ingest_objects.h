#pragma once

#include "batch/batch_scheduler.h"
#include "core/ad_dictionary.h"
#include "dashboard_settings.h"
#include "ingest/event_source.h"
#include "ingest/user_agent.h"
#include "pipeline/pipeline.h"
#include "storage/checkpointer.h"

#include <memory>
#include <string>

namespace adclick::ui {

class ScaledClock;

/// One incarnation of the speed layer, as `adclick run` wires it: store (checkpointer +
/// recovery), source, pipeline and batch scheduler. Built, stepped and destroyed on the
/// dashboard's ingest thread only (batches() may be shared with other threads: thread-safe).
/// A crash is simulated by destroying it with abandon(): no final checkpoint, exactly as a
/// kill -9 leaves the store.
class IngestObjects {
public:
    IngestObjects(DashboardSettings settings, ScaledClock& clock);
    ~IngestObjects();
    IngestObjects(const IngestObjects&) = delete;
    IngestObjects& operator=(const IngestObjects&) = delete;

    /// Opens the store, builds the source and pipeline, recovers from the last checkpoint.
    bool open(std::string& error);
    /// One batch; false when ingestion must stop (store damaged). `ended` is set at end of input.
    bool step(bool& ended, std::string& error);
    /// Clean stop: cancels a running batch job, takes the final checkpoint, closes the store.
    bool close(std::string& error);
    /// Crash: drops everything without a final checkpoint (the store keeps its last one).
    void abandon();

    engine::Pipeline& pipeline() { return *m_pipeline; }
    engine::SyntheticSource* generator() { return m_generator; }
    std::shared_ptr<engine::BatchScheduler> batches() const { return m_batches; }
    std::optional<engine::CheckpointStats> checkpointStats() const;
    bool storePaused() const { return m_checkpointer && m_checkpointer->paused(); }
    const engine::RecoveryReport& recovery() const { return m_recovery; }
    const std::string& dataDirectory() const { return m_dataDir; }
    const std::string& sourceDescription() const { return m_sourceDescription; }

private:
    DashboardSettings m_settings;
    ScaledClock& m_clock;
    engine::AdDictionary m_ads;
    engine::UserAgentDictionary m_userAgents;
    std::unique_ptr<engine::Checkpointer> m_checkpointer;
    std::unique_ptr<engine::EventSource> m_source;
    engine::SyntheticSource* m_generator = nullptr;
    engine::KafkaSource* m_kafka = nullptr;
    std::uint64_t m_kafkaCommittedSequence = 0;
    std::unique_ptr<engine::Pipeline> m_pipeline;
    std::shared_ptr<engine::BatchScheduler> m_batches;
    engine::RecoveryReport m_recovery;
    std::string m_dataDir;
    std::string m_sourceDescription;
    bool m_finished = false;
};

} // namespace adclick::ui
