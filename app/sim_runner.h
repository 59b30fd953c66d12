#pragma once

#include "core/ad_dictionary.h"
#include "core/clock.h"
#include "ingest/synthetic_source.h"
#include "ingest/user_agent.h"
#include "pipeline/pipeline.h"
#include "sim_oracle.h"
#include "sim_scenario.h"
#include "sim_shard_model.h"
#include "storage/checkpointer.h"

#include <QJsonArray>
#include <QJsonObject>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

namespace adclick::app {

/// One sample of the running speed layer, taken every minute of processing time (for the charts).
struct SimSample {
    engine::TimeMs offsetMs = 0; ///< processing time since the start of the run
    engine::TimeMs watermarkLagMs = 0; ///< processing time − watermark
    std::uint64_t counted = 0; ///< speed-layer counted events so far
    std::uint64_t lateDropped = 0;
    std::size_t stateBytes = 0;
    double topKPrecision = -1; ///< −1: no top-K yet
    std::uint64_t topKMaxError = 0;
    std::uint64_t topKErrorBound = 0;
};

/// Runs a scenario's timeline on a virtual clock, one variant after the other, each in its own
/// data directory: the generator feeds a real Pipeline with a real Checkpointer (SQLite + raw
/// log); timed events crash, restart, run the batch layer or toggle a speed fault. At the end of
/// each variant it takes a final batch run, reconciles and compares the store with SimOracle.
/// Checkpoints (and rollup/retention runs) are taken synchronously at exact multiples of their
/// processing-time interval, not on the checkpointer's own timer, so that what a crash loses and
/// every figure are the same in every run. With `batch_interval` set, the batch layer also runs at
/// exact multiples of it over the minutes that became final since the previous run (with an overlap
/// for late arrivals), so that a long run can let its raw log expire (`raw_retention`). The oracle
/// of each variant is computed on a second thread while the engine runs.
///
/// Drivable step by step (the desktop dashboard plays a scenario this way): start(), then
/// advance() until it returns false; the narrative callback receives each timestamped step.
/// Single-threaded: call everything from one thread.
class SimRunner {
public:
    using Narrative = std::function<void(const std::string& line)>;

    /// workDir holds one data directory per variant (created, emptied first).
    SimRunner(Scenario scenario, std::string workDir, bool ci);
    ~SimRunner();
    SimRunner(const SimRunner&) = delete;
    SimRunner& operator=(const SimRunner&) = delete;

    void setNarrative(Narrative narrative) { m_narrative = std::move(narrative); }
    /// Opens the first variant. False with `error()` set on failure.
    bool start();
    /// Runs up to `maxProcessingMs` of processing time (stopping early at a timed event or the end
    /// of a variant). Returns false when the whole scenario has finished or failed (see error()).
    bool advance(engine::TimeMs maxProcessingMs = engine::kMsPerMinute);
    bool finished() const { return m_done; }
    const std::string& error() const { return m_error; }

    const Scenario& scenario() const { return m_scenario; }
    engine::TimeMs durationMs() const { return m_durationMs; }
    /// Figures of every finished variant (prefixed "variant." when the scenario has variants).
    const QJsonObject& figures() const { return m_figures; }
    /// Per-variant series for charts: samples, and per minute of event time truth/speed/batch/gap.
    const QJsonObject& series() const { return m_series; }
    /// Samples of the variant running now (or the last one).
    const std::vector<SimSample>& samples() const { return m_samples; }
    /// The live pipeline (null between sessions).
    engine::Pipeline* pipeline() { return m_pipeline.get(); }
    double wallSeconds() const { return m_wallSeconds; }
    /// Records the generator has produced so far in the variant running now.
    std::uint64_t recordsProduced() const;
    /// Processing time since the start of the variant running now.
    engine::TimeMs elapsedMs() const { return offsetMs(); }

private:
    bool openSession(const std::vector<std::string>& extraArgs);
    void crashSession();
    bool closeSession();
    bool runEvent(const SimEvent& e);
    bool finishVariant();
    bool runBatch(const char* why, engine::TimeMs fromMs, engine::TimeMs toMs);
    bool runRollingBatch();
    void startOracle();
    void sample();
    void say(const std::string& text);
    engine::TimeMs offsetMs() const;
    bool fail(std::string message);

    Scenario m_scenario;
    std::string m_workDir;
    engine::TimeMs m_durationMs = 0;
    Narrative m_narrative;
    std::size_t m_variant = 0;
    std::size_t m_nextEvent = 0;
    std::string m_dataDir;
    std::vector<std::string> m_sessionArgs; ///< settings changed by events (restart, faults)
    RunOptions m_options;
    std::uint64_t m_records = 0;

    std::unique_ptr<engine::AdDictionary> m_ads;
    std::unique_ptr<engine::UserAgentDictionary> m_userAgents;
    std::unique_ptr<engine::VirtualClock> m_clock;
    std::unique_ptr<engine::Checkpointer> m_checkpointer;
    std::unique_ptr<engine::SyntheticSource> m_source;
    std::unique_ptr<engine::Pipeline> m_pipeline;
    std::unique_ptr<SimShardModel> m_shardModel; ///< per variant, when the scenario has a shard_model

    // Per variant.
    std::vector<SimSample> m_samples;
    engine::TimeMs m_nextSampleMs = 0;
    engine::TimeMs m_nextCheckpointMs = 0; ///< processing offset of the next (synchronous) checkpoint
    engine::TimeMs m_nextMaintenanceMs = 0;
    engine::TimeMs m_nextBatchMs = 0; ///< batch_interval: processing offset of the next rolling batch run
    engine::TimeMs m_batchFromMs = 0; ///< event time the next rolling (or the final) batch run starts at
    engine::TimeMs m_nextRetentionSampleMs = 0; ///< retention_check: next daily retention sample
    QJsonArray m_retentionRows;
    std::uint64_t m_crashes = 0;
    std::uint64_t m_restarts = 0;
    std::uint64_t m_checkpoints = 0;
    std::uint64_t m_replayed = 0;
    std::uint64_t m_batchRuns = 0;
    std::vector<std::pair<engine::TimeMs, engine::TimeMs>> m_faultSpans; ///< processing time offsets
    engine::TimeMs m_faultFromMs = -1;
    std::string m_faultSpec;
    std::chrono::steady_clock::time_point m_wallStart;

    std::atomic<bool> m_cancelOracle { false };
    std::future<SimOracle> m_oracle; ///< the variant's oracle, computed on its own thread

    QJsonObject m_figures;
    QJsonObject m_series;
    bool m_done = false;
    bool m_started = false;
    std::string m_error;
    double m_wallSeconds = 0;
};

} // namespace adclick::app
