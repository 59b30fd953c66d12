#pragma once

#include "dashboard_settings.h"
#include "pipeline/pipeline_snapshot.h"
#include "query/query_service.h"
#include "storage/checkpointer.h"

#include <QObject>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace adclick::ui {

class ScaledClock;

enum class EngineState { Stopped, Starting, Running, Paused, Ended, Failed };
QString engineStateName(EngineState s);

/// What an injected crash did: the in-memory figures at the instant of the crash, the durable
/// checkpoint the store held, and what recovery restored and replayed from it.
struct CrashReport {
    engine::PipelineCounters countersAtCrash; ///< in memory when the pipeline was torn down
    std::uint64_t checkpointAtCrash = 0; ///< last durable checkpoint sequence
    engine::RecoveryReport recovery; ///< of the restart that followed
    double downSeconds = 0; ///< teardown + recovery, wall time
    std::int64_t crashedAtWallMs = 0;
};

/// Immutable picture of the dashboard's engine, published by the ingest thread (~20 Hz) and
/// polled by the GUI. Never mutated after publication: safe to share across threads.
struct EngineStatus {
    std::uint64_t sequence = 0;
    std::uint64_t sessions = 0; ///< pipelines started so far (a crash recovery starts one)
    EngineState state = EngineState::Stopped;
    std::string message; ///< why Failed, or a note
    std::shared_ptr<const engine::PipelineSnapshot> snapshot; ///< null before the first start
    std::optional<engine::CheckpointStats> checkpoint;
    std::optional<engine::BatchSchedulerStatus> batch;
    engine::TimeMs clockMs = 0; ///< processing clock now
    double speed = 1.0; ///< chosen
    double effectiveSpeed = 1.0; ///< achieved (fast-forward is held back to what the pipeline does)
    std::string sourceDescription;
    std::string dataDirectory;
    engine::RecoveryReport recovery; ///< of the running pipeline's start
    std::optional<CrashReport> lastCrash;
    DashboardSettings settings; ///< those the running pipeline was started with
};

/// The dashboard's engine: an ingest thread that owns the speed layer (IngestObjects) and runs
/// it as `adclick serve` does, plus the controls the dashboard needs — start, pause, stop, clock
/// speed, live generator knobs, restart with new settings, crash injection and batch runs — and
/// the QueryService the panels and the REST server read.
///
/// Lives on the GUI thread; every method returns at once (commands are queued to the ingest
/// thread). status() is the only way state crosses back: an immutable snapshot.
class DashboardEngine final : public QObject {
    Q_OBJECT
public:
    explicit DashboardEngine(DashboardSettings settings, QObject* parent = nullptr);
    ~DashboardEngine() override; ///< stops with a final checkpoint and joins the ingest thread

    /// Starts (or restarts from its checkpoint) with `settings`. Generator seed/partitions and the
    /// data directory are fixed for the engine's lifetime.
    void start(const DashboardSettings& settings);
    void start() { start(m_settings); }
    /// Pause: processing time stands still and nothing is polled; resume continues.
    void setPaused(bool paused);
    /// Clean stop: final checkpoint, store closed.
    void stop();
    /// Tears the pipeline down WITHOUT a final checkpoint and recovers it from the store.
    void injectCrash();
    void setSpeed(double speed);
    /// Live generator knobs (rate, ads, skew, late, duplicates, malformed, burst). Here
    /// burstStartMs is an absolute processing time (epoch ms); the ingest thread converts it.
    void setGeneratorConfig(const engine::GeneratorConfig& config);
    /// Stops ingestion with a final checkpoint and waits (window close). Idempotent.
    void shutdown();

    /// Starts a batch recount of [fromMs, toMs); false with why if one runs or none can.
    bool requestBatch(engine::TimeMs fromMs, engine::TimeMs toMs, QString& why, std::uint64_t* id = nullptr);
    void cancelBatch();
    std::optional<engine::BatchRequestStatus> batchRequest(std::uint64_t id) const;

    /// The running pipeline's batch scheduler (null when stopped); any thread. Shared: a restart
    /// replaces it while a caller may still use the old one.
    std::shared_ptr<engine::BatchScheduler> batchScheduler() const;
    /// Processing clock now (epoch ms); any thread.
    engine::TimeMs nowMs() const;
    std::shared_ptr<const EngineStatus> status() const;
    std::shared_ptr<const engine::PipelineSnapshot> snapshot() const;
    engine::QueryService& queries() { return *m_queries; }
    const DashboardSettings& settings() const { return m_settings; }
    const std::string& dataDirectory() const { return m_dataDir; }

private:
    enum class Command { Start, Stop, Crash, Quit };
    struct Pending {
        Command command;
        DashboardSettings settings;
    };
    void ingestThread();
    void post(Command c, const DashboardSettings& s);
    void publish(class IngestObjects* session, EngineState state, const std::string& message);

    DashboardSettings m_settings;
    std::string m_dataDir;
    std::unique_ptr<ScaledClock> m_clock;
    std::unique_ptr<engine::QueryService> m_queries;

    mutable std::mutex m_mutex;
    std::condition_variable m_wake;
    std::deque<Pending> m_commands;
    std::optional<engine::GeneratorConfig> m_pendingGenerator;
    std::shared_ptr<const EngineStatus> m_status;
    std::shared_ptr<engine::BatchScheduler> m_batches;
    std::optional<CrashReport> m_lastCrash;
    std::uint64_t m_sequence = 0;
    std::uint64_t m_sessions = 0;
    bool m_shutdown = false;
    std::thread m_thread;
};

} // namespace adclick::ui
