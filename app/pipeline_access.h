#pragma once

#include "ingest_session.h"

#include "batch/batch_scheduler.h"
#include "pipeline/pipeline_snapshot.h"
#include "storage/checkpointer.h"

#include <memory>
#include <optional>
#include <string>

namespace adclick::app {

/// What the REST server needs from the pipeline running in its process: figures for
/// /v1/pipeline, /metrics and /healthz, and the batch scheduler for /v1/batch/runs. Implemented
/// over an IngestSession (`adclick serve`) and over the dashboard's engine (`adclick dashboard`).
/// Called on the server's event-loop thread; implementations must be safe against the ingest
/// thread (they return values or shared ownership, never pointers into live state).
class PipelineAccess {
public:
    virtual ~PipelineAccess() = default;
    /// Processing time now (the source's clock: real or virtual), epoch ms.
    virtual engine::TimeMs nowMs() const = 0;
    /// Null before the first snapshot.
    virtual std::shared_ptr<const engine::PipelineSnapshot> snapshot() const = 0;
    /// nullopt without a store.
    virtual std::optional<engine::CheckpointStats> checkpointStats() const = 0;
    /// Null without a store. Shared: a restarted pipeline may replace the scheduler meanwhile.
    virtual std::shared_ptr<engine::BatchScheduler> batches() = 0;
    virtual std::string sourceDescription() const = 0;
    virtual engine::TimeMs watermarkBoundMs() const = 0;
    /// Minute rows older than this are rolled up (aggregate retention), ms.
    virtual engine::TimeMs aggregateRetentionMs() const = 0;
    /// True once ingestion has ended for good (no live answers any more).
    virtual bool ended() const = 0;
};

/// PipelineAccess over an IngestSession that outlives it (`adclick serve`).
class IngestSessionAccess final : public PipelineAccess {
public:
    explicit IngestSessionAccess(IngestSession& session)
        : m_session(session)
    {
    }
    engine::TimeMs nowMs() const override { return m_session.nowMs(); }
    std::shared_ptr<const engine::PipelineSnapshot> snapshot() const override { return m_session.snapshot(); }
    std::optional<engine::CheckpointStats> checkpointStats() const override { return m_session.checkpointStats(); }
    std::shared_ptr<engine::BatchScheduler> batches() override
    {
        // Not owning: the session keeps its scheduler for its whole life.
        return std::shared_ptr<engine::BatchScheduler>(std::shared_ptr<void>(), m_session.batches());
    }
    std::string sourceDescription() const override { return m_session.sourceDescription(); }
    engine::TimeMs watermarkBoundMs() const override { return m_session.pipelineConfig().watermark.boundMs; }
    engine::TimeMs aggregateRetentionMs() const override
    {
        return m_session.options().checkpoints.retention.aggregateRetentionMs;
    }
    bool ended() const override { return m_session.ended(); }

private:
    IngestSession& m_session;
};

} // namespace adclick::app
