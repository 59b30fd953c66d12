#include "sim_runner.h"

#include "batch/batch_job.h"
#include "core/time_units.h"
#include "sim_figures.h"
#include "sim_retention.h"

#include <QJsonArray>

#include <filesystem>

namespace adclick::app {

using namespace adclick::engine;

namespace {
std::uint32_t faultAdOf(const std::string& spec)
{
    const std::string prefix = "double-count-ad:";
    return spec.rfind(prefix, 0) == 0 ? static_cast<std::uint32_t>(std::stoul(spec.substr(prefix.size()))) : 0;
}
} // namespace

SimRunner::SimRunner(Scenario scenario, std::string workDir, bool ci)
    : m_scenario(std::move(scenario))
    , m_workDir(std::move(workDir))
    , m_durationMs(ci && m_scenario.ciDurationMs ? *m_scenario.ciDurationMs : m_scenario.durationMs)
{
}

SimRunner::~SimRunner()
{
    m_cancelOracle = true;
    if (m_oracle.valid())
        m_oracle.wait();
    crashSession();
}

std::uint64_t SimRunner::recordsProduced() const
{
    return m_source ? m_source->nextSequence() : 0;
}

void SimRunner::startOracle()
{
    // Same generator settings and record count as the engine's source: an independent copy of
    // the input, counted on its own thread while the engine runs.
    m_cancelOracle = true;
    if (m_oracle.valid())
        m_oracle.wait();
    m_cancelOracle = false;
    m_oracle = std::async(std::launch::async, [config = m_options.generator, records = m_records, this] {
        return SimOracle::compute(config, records, &m_cancelOracle);
    });
}

void SimRunner::say(const std::string& text)
{
    if (!m_narrative)
        return;
    const TimeMs t = m_pipeline || m_started ? offsetMs() : 0;
    const std::string variant = m_scenario.variants[m_variant].name;
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "[%02lld:%02lld:%02lld] ", static_cast<long long>(t / kMsPerHour),
        static_cast<long long>(t / kMsPerMinute % 60), static_cast<long long>(t / kMsPerSecond % 60));
    m_narrative(stamp + (variant.empty() ? "" : variant + ": ") + text);
}

TimeMs SimRunner::offsetMs() const
{
    return m_clock ? m_clock->nowMs() - m_options.generator.startTimeMs : 0;
}

bool SimRunner::fail(std::string message)
{
    m_error = std::move(message);
    m_done = true;
    crashSession();
    return false;
}

bool SimRunner::openSession(const std::vector<std::string>& extraArgs)
{
    std::string error;
    if (!scenarioRunOptions(m_scenario, m_scenario.variants[m_variant], extraArgs, m_dataDir, m_options, error))
        return fail(m_scenario.variants[m_variant].name + ": " + error);
    const TimeMs resumeAt = m_clock ? m_clock->nowMs() : m_options.generator.startTimeMs;
    m_ads = std::make_unique<AdDictionary>();
    m_userAgents = std::make_unique<UserAgentDictionary>();
    m_clock = std::make_unique<VirtualClock>(resumeAt);
    CheckpointerConfig cc = m_options.checkpoints;
    cc.dataDirectory = m_dataDir;
    cc.sourceKey = "generator seed=" + std::to_string(m_options.generator.seed)
        + " partitions=" + std::to_string(m_options.generator.partitions);
    m_checkpointer = Checkpointer::open(cc, *m_ads, *m_userAgents, error);
    if (!m_checkpointer)
        return fail("cannot open the store in " + m_dataDir + ": " + error);
    m_source = std::make_unique<SyntheticSource>(m_options.generator, *m_clock, *m_ads, *m_userAgents);
    m_records = static_cast<std::uint64_t>(static_cast<double>(m_durationMs) * m_options.generator.ratePerSec / 1000.0);
    m_source->setLimit(m_records);
    m_pipeline = std::make_unique<Pipeline>(m_options.pipeline, *m_source, *m_clock);
    if (m_scenario.shardModel.shards > 0) {
        if (!m_shardModel)
            m_shardModel = std::make_unique<SimShardModel>(m_scenario.shardModel, m_options.pipeline.topK);
        m_shardModel->attach(m_pipeline.get());
        m_pipeline->addSink(m_shardModel.get());
    }
    RecoveryReport report;
    if (!m_checkpointer->recover(*m_pipeline, *m_source, report, error))
        return fail("recovery from " + m_dataDir + " failed: " + error);
    m_replayed += report.replayedRecords;
    m_nextCheckpointMs = offsetMs() + m_options.checkpoints.intervalMs;
    m_nextMaintenanceMs = offsetMs() + m_options.checkpoints.maintenanceIntervalMs;
    if (report.restored)
        say("recovered from checkpoint #" + std::to_string(report.checkpointSequence) + ": "
            + std::to_string(report.nextSequence) + " events already accepted, " + std::to_string(report.rowsRestored)
            + " open cells restored, " + std::to_string(report.replayedRecords) + " raw records replayed, "
            + std::to_string(report.rawBytesTruncated) + " raw bytes after the checkpoint discarded");
    return true;
}

void SimRunner::crashSession()
{
    if (m_checkpointer)
        m_checkpointer.reset(); // no close(): abandoned as a crash leaves it, no final checkpoint
    m_pipeline.reset();
    m_source.reset();
}

bool SimRunner::closeSession()
{
    std::string error;
    if (m_checkpointer) {
        if (!m_checkpointer->close(error))
            return fail("final checkpoint failed: " + error);
        m_checkpoints += 1;
    }
    crashSession();
    return true;
}

bool SimRunner::start()
{
    m_wallStart = std::chrono::steady_clock::now();
    m_started = true;
    m_figures = {};
    m_series = {};
    m_variant = 0;
    m_nextEvent = 0;
    m_samples.clear();
    const auto& v = m_scenario.variants[m_variant];
    m_dataDir = m_workDir + "/data" + (v.name.empty() ? "" : "-" + v.name);
    std::error_code ec;
    std::filesystem::remove_all(m_dataDir, ec);
    std::filesystem::create_directories(m_dataDir, ec);
    if (ec)
        return fail("cannot create " + m_dataDir + ": " + ec.message());
    m_sessionArgs.clear();
    m_crashes = m_restarts = m_checkpoints = m_replayed = m_batchRuns = 0;
    m_faultSpans.clear();
    m_faultFromMs = -1;
    m_faultSpec.clear();
    m_nextSampleMs = 0;
    m_nextRetentionSampleMs = 0;
    m_retentionRows = {};
    m_clock.reset();
    m_shardModel.reset();
    if (!openSession({}))
        return false;
    startOracle();
    m_nextBatchMs = m_options.batchSchedule.intervalMs;
    m_batchFromMs = m_options.generator.startTimeMs - kMsPerHour;
    say("start: " + m_source->describe() + ", watermark bound " + formatDurationMs(m_options.pipeline.watermark.boundMs)
        + ", de-duplication " + (m_options.pipeline.deduplicate ? "on" : "off") + ", " + formatDurationMs(m_durationMs)
        + " of processing time");
    return true;
}

void SimRunner::sample()
{
    while (m_nextSampleMs <= offsetMs()) {
        m_pipeline->publishSnapshot();
        const auto snap = m_pipeline->snapshot();
        SimSample s;
        s.offsetMs = m_nextSampleMs;
        s.watermarkLagMs = snap->watermarkMs <= kMinTimeMs ? 0 : snap->processingTimeMs - snap->watermarkMs;
        s.counted = snap->counters.counted;
        s.lateDropped = snap->counters.lateDropped;
        s.stateBytes = snap->stateBytes;
        const TopKResult top = m_pipeline->topK(10);
        if (m_shardModel)
            m_shardModel->sample(m_nextSampleMs, m_pipeline->topK(m_scenario.shardModel.k));
        if (top.valid && !top.exact.empty()) {
            s.topKPrecision = top.precision;
            s.topKMaxError = top.maxAbsError;
            s.topKErrorBound = top.errorBound;
        }
        m_samples.push_back(s);
        m_nextSampleMs += m_scenario.sampleIntervalMs;
    }
}

bool SimRunner::runBatch(const char* why, TimeMs fromMs, TimeMs toMs)
{
    BatchJobOptions bo;
    bo.fromMs = fromMs;
    bo.toMs = toMs;
    bo.trigger = "simulation";
    bo.processingTimeMs = m_clock ? m_clock->nowMs() : 0;
    const BatchJobResult r = BatchJob::run(m_dataDir, bo);
    if (!r.ok)
        return fail(std::string("batch run (") + why + ") failed: " + r.error);
    ++m_batchRuns;
    say(std::string("batch run (") + why + "): recounted " + std::to_string(r.count.recordsRead) + " raw records ("
        + std::to_string(r.count.lateDropped) + " of them dropped as late by the speed layer) into "
        + std::to_string(r.rowsWritten) + " batch rows");
    return true;
}

bool SimRunner::runRollingBatch()
{
    // Up to the minutes the watermark has closed. A record that arrives after this run (or is not
    // yet checkpointed) has an event time at most jitter + maximum late delay + one checkpoint
    // interval before now: the next run starts there, so every record is counted by a run that
    // sees it, and the raw log may expire behind it.
    const GeneratorConfig& g = m_options.generator;
    const TimeMs nowMs = m_clock->nowMs();
    const TimeMs toMs = windowStartOf(nowMs - m_options.pipeline.watermark.boundMs, kMsPerMinute);
    if (toMs <= m_batchFromMs)
        return true;
    if (!runBatch("rolling", m_batchFromMs, toMs))
        return false;
    m_batchFromMs = std::min(
        toMs, windowStartOf(nowMs - g.jitterMaxMs - g.lateDelayMaxMs - m_options.checkpoints.intervalMs, kMsPerMinute));
    return true;
}

bool SimRunner::runEvent(const SimEvent& e)
{
    const std::string note = e.note.empty() ? "" : " — " + e.note;
    switch (e.kind) {
    case SimEvent::Kind::Crash:
        say("CRASH: the process dies without a final checkpoint" + note);
        ++m_crashes;
        crashSession();
        return openSession(m_sessionArgs);
    case SimEvent::Kind::Restart:
        say("restart with new settings" + note);
        ++m_restarts;
        m_sessionArgs.insert(m_sessionArgs.end(), e.pipelineArgs.begin(), e.pipelineArgs.end());
        return closeSession() && openSession(m_sessionArgs);
    case SimEvent::Kind::Batch:
        return runBatch(e.note.empty() ? "scheduled" : e.note.c_str(), m_options.generator.startTimeMs - kMsPerHour,
            m_options.generator.startTimeMs + m_durationMs + kMsPerHour);
    case SimEvent::Kind::FaultOn:
        say("speed-layer fault ON: " + e.fault + note);
        m_faultSpec = e.fault;
        m_faultFromMs = offsetMs();
        m_sessionArgs.insert(m_sessionArgs.end(), { "--inject-speed-fault", e.fault });
        return closeSession() && openSession(m_sessionArgs);
    case SimEvent::Kind::FaultOff:
        say("speed-layer fault OFF" + note);
        if (m_faultFromMs >= 0)
            m_faultSpans.emplace_back(m_faultFromMs, offsetMs());
        m_faultFromMs = -1;
        m_sessionArgs.insert(m_sessionArgs.end(), { "--inject-speed-fault", "none" });
        return closeSession() && openSession(m_sessionArgs);
    }
    return true;
}

bool SimRunner::advance(TimeMs maxProcessingMs)
{
    if (m_done)
        return false;
    if (!m_started && !start())
        return false;
    const TimeMs nextEventMs
        = m_nextEvent < m_scenario.events.size() ? m_scenario.events[m_nextEvent].atMs : m_durationMs;
    const TimeMs target = std::min({ offsetMs() + std::max<TimeMs>(1, maxProcessingMs), nextEventMs, m_durationMs });
    bool ended = false;
    while (offsetMs() < target) {
        if (m_checkpointer->failed())
            return fail("the store failed: " + m_checkpointer->stats().pauseReason);
        const PollResult r = m_pipeline->step();
        sample();
        std::string error;
        if (offsetMs() >= m_nextCheckpointMs) {
            if (!m_checkpointer->checkpointNow(error))
                return fail("checkpoint failed: " + error);
            ++m_checkpoints;
            while (m_nextCheckpointMs <= offsetMs())
                m_nextCheckpointMs += m_options.checkpoints.intervalMs;
        }
        if (offsetMs() >= m_nextMaintenanceMs) {
            if (!m_checkpointer->maintainNow(error))
                return fail("rollup/retention run failed: " + error);
            while (m_nextMaintenanceMs <= offsetMs())
                m_nextMaintenanceMs += m_options.checkpoints.maintenanceIntervalMs;
        }
        if (m_options.batchSchedule.intervalMs > 0 && offsetMs() >= m_nextBatchMs) {
            if (!runRollingBatch())
                return false;
            while (m_nextBatchMs <= offsetMs())
                m_nextBatchMs += m_options.batchSchedule.intervalMs;
        }
        if (m_scenario.retentionCheck && offsetMs() >= m_nextRetentionSampleMs) {
            RetentionState state;
            if (!readRetentionState(m_dataDir, m_clock->nowMs(), state, error))
                return fail(error);
            m_retentionRows.append(retentionRow(m_nextRetentionSampleMs, state));
            while (m_nextRetentionSampleMs <= offsetMs())
                m_nextRetentionSampleMs += kMsPerDay;
        }
        if (r == PollResult::EndOfStream) {
            ended = true;
            break;
        }
    }
    if (!ended && m_nextEvent < m_scenario.events.size() && offsetMs() >= nextEventMs) {
        if (!runEvent(m_scenario.events[m_nextEvent++]))
            return false;
        return true;
    }
    if (ended || offsetMs() >= m_durationMs)
        return finishVariant();
    return true;
}

bool SimRunner::finishVariant()
{
    const SimVariant& v = m_scenario.variants[m_variant];
    // Events whose time was never reached (the CI duration is shorter) are reported, not run.
    while (m_nextEvent < m_scenario.events.size())
        say("skipped (beyond this run's duration): " + m_scenario.events[m_nextEvent++].path);
    m_pipeline->finish();
    if (m_faultFromMs >= 0)
        m_faultSpans.emplace_back(m_faultFromMs, offsetMs() + kMsPerMinute);
    say("end of input: every window final, final checkpoint");
    const TimeMs endMs = m_clock->nowMs();
    if (m_scenario.retentionCheck) {
        std::string error;
        if (!m_checkpointer->checkpointNow(error) || !m_checkpointer->maintainNow(error))
            return fail("final rollup/retention run failed: " + error);
        say("final rollup/retention run");
    }
    const bool rolling = m_batchFromMs > m_options.generator.startTimeMs - kMsPerHour;
    if (!closeSession()
        || !runBatch(rolling ? "final, since the last rolling run" : "final, over the whole run", m_batchFromMs,
            m_options.generator.startTimeMs + m_durationMs + kMsPerHour))
        return false;

    const SimOracle oracle = m_oracle.get();
    std::vector<std::pair<TimeMs, TimeMs>> spans; // processing offsets → event time, widened by the jitter
    for (const auto& [from, to] : m_faultSpans)
        spans.emplace_back(m_options.generator.startTimeMs + from - m_options.generator.jitterMaxMs - kMsPerMinute,
            m_options.generator.startTimeMs + to + kMsPerMinute);
    const std::string prefix = v.name.empty() ? "" : v.name + ".";
    std::string error;
    if (!storeFigures(m_dataDir, oracle, faultAdOf(m_faultSpec), spans, prefix, m_figures, m_series, error))
        return fail(error);

    auto put = [&](const char* name, double value) { m_figures.insert(QString::fromStdString(prefix + name), value); };
    put("crashes", static_cast<double>(m_crashes));
    put("restarts", static_cast<double>(m_restarts));
    put("checkpoints", static_cast<double>(m_checkpoints));
    put("raw_records_replayed", static_cast<double>(m_replayed));
    put("batch_runs", static_cast<double>(m_batchRuns));
    put("watermark_bound_ms", static_cast<double>(m_options.pipeline.watermark.boundMs));
    std::size_t maxState = 0;
    TimeMs maxLag = 0;
    double lagSum = 0, precisionMin = 1;
    std::uint64_t topKSamples = 0, outOfBound = 0, maxError = 0, boundMin = 0;
    QJsonArray samples;
    for (const SimSample& s : m_samples) {
        maxState = std::max(maxState, s.stateBytes);
        maxLag = std::max(maxLag, s.watermarkLagMs);
        lagSum += static_cast<double>(s.watermarkLagMs);
        if (s.topKPrecision >= 0) {
            ++topKSamples;
            precisionMin = std::min(precisionMin, s.topKPrecision);
            maxError = std::max(maxError, s.topKMaxError);
            boundMin = topKSamples == 1 ? s.topKErrorBound : std::min(boundMin, s.topKErrorBound);
            if (s.topKMaxError > s.topKErrorBound)
                ++outOfBound;
        }
        samples.append(QJsonArray { static_cast<double>(s.offsetMs), static_cast<double>(s.watermarkLagMs),
            static_cast<double>(s.counted), static_cast<double>(s.lateDropped), static_cast<double>(s.stateBytes),
            s.topKPrecision, static_cast<double>(s.topKMaxError), static_cast<double>(s.topKErrorBound) });
    }
    put("max_state_bytes", static_cast<double>(maxState));
    put("max_watermark_lag_ms", static_cast<double>(maxLag));
    put("mean_watermark_lag_ms", m_samples.empty() ? 0.0 : std::round(lagSum / static_cast<double>(m_samples.size())));
    put("topk_samples", static_cast<double>(topKSamples));
    put("topk_precision", topKSamples ? precisionMin : 0.0);
    put("topk_max_error", static_cast<double>(maxError));
    put("topk_error_bound", static_cast<double>(boundMin));
    put("topk_out_of_bound", static_cast<double>(outOfBound));
    m_series.insert(QString::fromStdString(prefix + "samples"), samples);
    if (m_shardModel)
        m_shardModel->figures(prefix, m_figures, m_series);
    if (m_scenario.retentionCheck) {
        if (!retentionFigures(m_dataDir, oracle, endMs, m_options.checkpoints.rawLog.retentionMs,
                m_options.checkpoints.retention, prefix, m_figures, error))
            return fail(error);
        m_series.insert(QString::fromStdString(prefix + "retention"), m_retentionRows);
    }
    say("checked against the oracle: " + std::to_string(oracle.clicks) + " distinct clicks, lost "
        + std::to_string(m_figures.value(QString::fromStdString(prefix + "lost")).toInteger()) + ", doubled "
        + std::to_string(m_figures.value(QString::fromStdString(prefix + "doubled")).toInteger())
        + ", speed-layer late-dropped "
        + std::to_string(m_figures.value(QString::fromStdString(prefix + "late_dropped")).toInteger())
        + ", unexplained gap "
        + std::to_string(m_figures.value(QString::fromStdString(prefix + "unexplained_gap")).toInteger()));

    // Next variant, or done.
    if (++m_variant >= m_scenario.variants.size()) {
        m_variant = m_scenario.variants.size() - 1;
        m_done = true;
        m_wallSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_wallStart).count();
        return false;
    }
    const SimVariant& next = m_scenario.variants[m_variant];
    m_dataDir = m_workDir + "/data-" + next.name;
    std::error_code ec;
    std::filesystem::remove_all(m_dataDir, ec);
    std::filesystem::create_directories(m_dataDir, ec);
    m_sessionArgs.clear();
    m_crashes = m_restarts = m_checkpoints = m_replayed = m_batchRuns = 0;
    m_faultSpans.clear();
    m_faultFromMs = -1;
    m_faultSpec.clear();
    m_nextEvent = 0;
    m_nextSampleMs = 0;
    m_samples.clear();
    m_nextRetentionSampleMs = 0;
    m_retentionRows = {};
    m_clock.reset();
    m_shardModel.reset();
    if (!openSession({}))
        return false;
    startOracle();
    m_nextBatchMs = m_options.batchSchedule.intervalMs;
    m_batchFromMs = m_options.generator.startTimeMs - kMsPerHour;
    say("start: watermark bound " + formatDurationMs(m_options.pipeline.watermark.boundMs) + ", de-duplication "
        + (m_options.pipeline.deduplicate ? "on" : "off"));
    return true;
}

} // namespace adclick::app
