#include "dashboard_engine.h"

#include "core/clock.h"
#include "ingest/synthetic_source.h"
#include "ingest_objects.h"
#include "scaled_clock.h"
#include "storage/sqlite_store.h"

#include <chrono>
#include <limits>

namespace adclick::ui {

using namespace adclick::engine;

QString engineStateName(EngineState s)
{
    switch (s) {
    case EngineState::Stopped:
        return QStringLiteral("stopped");
    case EngineState::Starting:
        return QStringLiteral("starting");
    case EngineState::Running:
        return QStringLiteral("running");
    case EngineState::Paused:
        return QStringLiteral("paused");
    case EngineState::Ended:
        return QStringLiteral("input ended");
    case EngineState::Failed:
        return QStringLiteral("failed");
    }
    return {};
}

namespace {
std::int64_t wallMs()
{
    return SystemClock().nowMs();
}
} // namespace

DashboardEngine::DashboardEngine(DashboardSettings settings, QObject* parent)
    : QObject(parent)
    , m_settings(std::move(settings))
    , m_dataDir(m_settings.dataDirectory.empty() ? defaultDataDirectory() : m_settings.dataDirectory)
    , m_clock(std::make_unique<ScaledClock>(SystemClock().nowMs()))
{
    m_settings.dataDirectory = m_dataDir;
    m_clock->setSpeed(m_settings.speed);
    QueryServiceOptions qo;
    qo.windowMs = m_settings.pipeline.window.windowMs;
    qo.allowedLatenessMs = m_settings.pipeline.window.allowedLatenessMs;
    qo.maxConnections = 8;
    m_queries = std::make_unique<QueryService>(m_dataDir, qo);
    m_queries->setLiveSnapshotProvider([this] { return snapshot(); });
    auto initial = std::make_shared<EngineStatus>();
    initial->settings = m_settings;
    initial->dataDirectory = m_dataDir;
    initial->clockMs = m_clock->nowMs();
    initial->speed = m_clock->speed();
    m_status = std::move(initial);
    m_thread = std::thread([this] { ingestThread(); });
}

DashboardEngine::~DashboardEngine()
{
    shutdown();
    m_queries->setLiveSnapshotProvider({});
}

void DashboardEngine::post(Command c, const DashboardSettings& s)
{
    {
        std::lock_guard lock(m_mutex);
        m_commands.push_back({ c, s });
    }
    m_wake.notify_one();
}

void DashboardEngine::start(const DashboardSettings& settings)
{
    DashboardSettings s = settings;
    s.dataDirectory = m_dataDir;
    // The store's offsets belong to one source identity: the seed and partitions stay fixed.
    s.generator.seed = m_settings.generator.seed;
    s.generator.partitions = m_settings.generator.partitions;
    s.generator.burstAdId = 0; // a burst is a live action, not a start setting
    m_settings = s;
    m_queries->setAllowedLatenessMs(s.pipeline.window.allowedLatenessMs); // answers follow the pipeline
    m_clock->setSpeed(s.source == DashboardSource::Kafka ? 1.0 : s.speed);
    m_clock->setPaused(false);
    post(Command::Start, s);
}

void DashboardEngine::setPaused(bool paused)
{
    m_clock->setPaused(paused);
    m_wake.notify_one();
}

void DashboardEngine::stop()
{
    post(Command::Stop, m_settings);
}

void DashboardEngine::injectCrash()
{
    post(Command::Crash, m_settings);
}

void DashboardEngine::setSpeed(double speed)
{
    m_settings.speed = speed;
    if (m_settings.source != DashboardSource::Kafka) // a live topic cannot be read ahead of time
        m_clock->setSpeed(speed);
}

void DashboardEngine::setGeneratorConfig(const GeneratorConfig& config)
{
    GeneratorConfig c = config;
    c.seed = m_settings.generator.seed;
    c.partitions = m_settings.generator.partitions;
    m_settings.generator = c;
    std::lock_guard lock(m_mutex);
    m_pendingGenerator = c;
}

void DashboardEngine::shutdown()
{
    {
        std::lock_guard lock(m_mutex);
        if (m_shutdown)
            return;
        m_shutdown = true;
        m_commands.push_back({ Command::Quit, m_settings });
    }
    m_wake.notify_one();
    if (m_thread.joinable())
        m_thread.join();
}

bool DashboardEngine::requestBatch(TimeMs fromMs, TimeMs toMs, QString& why, std::uint64_t* id)
{
    std::shared_ptr<BatchScheduler> batches;
    {
        std::lock_guard lock(m_mutex);
        batches = m_batches;
    }
    if (!batches) {
        why = QStringLiteral("the pipeline is not running");
        return false;
    }
    std::string reason;
    if (!batches->request(fromMs, toMs, "dashboard", m_clock->nowMs(), reason, id)) {
        why = QString::fromStdString(reason);
        return false;
    }
    return true;
}

void DashboardEngine::cancelBatch()
{
    std::shared_ptr<BatchScheduler> batches;
    {
        std::lock_guard lock(m_mutex);
        batches = m_batches;
    }
    if (batches)
        batches->cancel();
}

std::shared_ptr<BatchScheduler> DashboardEngine::batchScheduler() const
{
    std::lock_guard lock(m_mutex);
    return m_batches;
}

TimeMs DashboardEngine::nowMs() const
{
    return m_clock->nowMs();
}

std::optional<BatchRequestStatus> DashboardEngine::batchRequest(std::uint64_t id) const
{
    std::shared_ptr<BatchScheduler> batches;
    {
        std::lock_guard lock(m_mutex);
        batches = m_batches;
    }
    return batches ? batches->requestStatus(id) : std::nullopt;
}

std::shared_ptr<const EngineStatus> DashboardEngine::status() const
{
    std::lock_guard lock(m_mutex);
    return m_status;
}

std::shared_ptr<const PipelineSnapshot> DashboardEngine::snapshot() const
{
    std::lock_guard lock(m_mutex);
    return m_status->snapshot;
}

void DashboardEngine::publish(IngestObjects* session, EngineState state, const std::string& message)
{
    auto s = std::make_shared<EngineStatus>();
    s->state = state;
    s->message = message;
    s->clockMs = m_clock->nowMs();
    s->speed = m_clock->speed();
    s->effectiveSpeed = m_clock->effectiveSpeed();
    s->dataDirectory = m_dataDir;
    std::shared_ptr<BatchScheduler> batches;
    if (session) {
        s->snapshot = session->pipeline().snapshot();
        s->checkpoint = session->checkpointStats();
        batches = session->batches();
        if (batches)
            s->batch = batches->status();
        s->sourceDescription = session->sourceDescription();
        s->recovery = session->recovery();
    }
    std::lock_guard lock(m_mutex);
    if (!session && m_status->snapshot)
        s->snapshot = m_status->snapshot; // stopped: the charts keep the last picture
    s->sequence = ++m_sequence;
    s->sessions = m_sessions;
    s->lastCrash = m_lastCrash;
    s->settings = m_settings;
    m_batches = std::move(batches);
    m_status = std::move(s);
}

void DashboardEngine::ingestThread()
{
    std::unique_ptr<IngestObjects> session;
    EngineState state = EngineState::Stopped;
    std::string message;
    auto lastPublish = std::chrono::steady_clock::now() - std::chrono::seconds(1);

    auto open = [&](const DashboardSettings& settings) {
        state = EngineState::Starting;
        publish(nullptr, state, message);
        session = std::make_unique<IngestObjects>(settings, *m_clock);
        std::string error;
        if (!session->open(error)) {
            session->abandon();
            session.reset();
            state = EngineState::Failed;
            message = error;
            return;
        }
        {
            std::lock_guard lock(m_mutex);
            ++m_sessions;
        }
        state = EngineState::Running;
        message.clear();
    };
    auto closeSession = [&] {
        if (!session)
            return;
        std::string error;
        if (!session->close(error))
            message = "final checkpoint failed: " + error;
        session.reset();
    };

    for (;;) {
        std::optional<Pending> command;
        std::optional<GeneratorConfig> generator;
        {
            std::unique_lock lock(m_mutex);
            const bool idle = !session || state == EngineState::Ended || m_clock->paused();
            if (idle && m_commands.empty() && !m_pendingGenerator)
                m_wake.wait_for(lock, std::chrono::milliseconds(50));
            if (!m_commands.empty()) {
                command = std::move(m_commands.front());
                m_commands.pop_front();
            }
            generator = std::exchange(m_pendingGenerator, std::nullopt);
        }
        if (command) {
            switch (command->command) {
            case Command::Quit:
                closeSession();
                publish(nullptr, EngineState::Stopped, message);
                return;
            case Command::Stop:
                closeSession();
                state = EngineState::Stopped;
                break;
            case Command::Start:
                closeSession();
                open(command->settings);
                break;
            case Command::Crash: {
                if (!session)
                    break;
                const auto t0 = std::chrono::steady_clock::now();
                CrashReport crash;
                crash.crashedAtWallMs = wallMs();
                crash.countersAtCrash = session->pipeline().counters();
                if (auto cs = session->checkpointStats())
                    crash.checkpointAtCrash = cs->lastSequence;
                session->abandon();
                session.reset();
                open(command->settings);
                if (session)
                    crash.recovery = session->recovery();
                crash.downSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                std::lock_guard lock(m_mutex);
                m_lastCrash = crash;
                break;
            }
            }
            publish(session.get(), state, message);
            continue;
        }
        if (session && generator && session->generator()) {
            SyntheticSource& g = *session->generator();
            generator->burstStartMs -= g.processingTimeOf(0); // the model counts from its origin
            g.setConfig(*generator);
        }
        if (session && state != EngineState::Ended && state != EngineState::Failed) {
            if (m_clock->paused()) {
                state = EngineState::Paused;
            } else {
                state = EngineState::Running;
                bool ended = false;
                std::string error;
                const bool ok = session->step(ended, error);
                // Fast-forward no faster than the pipeline keeps up: the clock stays at most 2 s
                // ahead of the newest event time (plus the generator's ordinary jitter).
                if (session->generator() && m_clock->speed() > 1.0) {
                    TimeMs newest = kMinTimeMs;
                    for (const auto& p : session->pipeline().watermarks().partitions())
                        newest = std::max(newest, p.maxEventTimeMs);
                    if (newest > kMinTimeMs)
                        m_clock->holdBack(newest + session->generator()->config().jitterMaxMs + 2 * kMsPerSecond);
                } else
                    m_clock->holdBack(std::numeric_limits<TimeMs>::max());
                if (!ok) {
                    state = EngineState::Failed;
                    message = error;
                } else if (ended) {
                    state = EngineState::Ended;
                }
            }
        }
        const auto now = std::chrono::steady_clock::now();
        if (now - lastPublish >= std::chrono::milliseconds(50)) {
            lastPublish = now;
            publish(session.get(), state, message);
        }
    }
}

} // namespace adclick::ui
