#include "ingest_session.h"

#include "api_json.h"
#include "batch_command.h"
#include "ingest/file_source.h"
#include "ingest/kafka_source.h"
#include "ingest/synthetic_source.h"
#include "run_report.h"

#include <QJsonDocument>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

namespace adclick::app {

using namespace adclick::engine;

namespace {
/// Collects window summaries as the pipeline finalises them (ingest thread).
class SummaryCollector : public PipelineSink {
public:
    std::vector<WindowSummary> pending;
    void onResults(std::span<const WindowResult>, std::span<const LateDropDelta>,
        std::span<const WindowSummary> summaries) override
    {
        pending.insert(pending.end(), summaries.begin(), summaries.end());
    }
};

/// Identity of a source for its stored offsets: what must match for a restart to resume it.
std::string sourceKeyOf(const RunOptions& o)
{
    if (o.source == SourceKind::Generator)
        return "generator seed=" + std::to_string(o.generator.seed)
            + " partitions=" + std::to_string(o.generator.partitions);
    if (o.source == SourceKind::Kafka) // not the brokers or the group: a restart may use others
        return "kafka topic " + o.kafka.topic;
    if (o.input == "-")
        return "file -";
    std::error_code ec;
    const auto abs = std::filesystem::absolute(o.input, ec);
    return "file " + (ec ? o.input : abs.string());
}

void printRecovery(const RecoveryReport& r, const std::string& dir, bool json, std::FILE* out, std::FILE* err)
{
    if (json)
        std::fprintf(out,
            "{\"type\":\"recovery\",\"data_dir\":\"%s\",\"restored\":%s,\"checkpoint\":%llu,"
            "\"accepted_before\":%llu,\"rows_restored\":%llu,\"raw_records_replayed\":%llu,"
            "\"raw_bytes_truncated\":%llu,\"seconds\":%.3f}\n",
            jsonEscape(dir).c_str(), r.restored ? "true" : "false", static_cast<unsigned long long>(r.checkpointSequence),
            static_cast<unsigned long long>(r.nextSequence), static_cast<unsigned long long>(r.rowsRestored),
            static_cast<unsigned long long>(r.replayedRecords), static_cast<unsigned long long>(r.rawBytesTruncated),
            r.seconds);
    else if (!r.restored)
        std::fprintf(out, "store: %s (no checkpoint yet: fresh start)\n", dir.c_str());
    else
        std::fprintf(out,
            "store: %s — resumed from checkpoint #%llu: %llu events already accepted, watermark %s, %llu open "
            "cells restored, %llu raw records replayed, %llu raw bytes after the checkpoint discarded (%.2f s)\n",
            dir.c_str(), static_cast<unsigned long long>(r.checkpointSequence),
            static_cast<unsigned long long>(r.nextSequence),
            r.watermarkMs <= kMinTimeMs ? "none" : formatIsoUtc(r.watermarkMs).c_str(),
            static_cast<unsigned long long>(r.rowsRestored), static_cast<unsigned long long>(r.replayedRecords),
            static_cast<unsigned long long>(r.rawBytesTruncated), r.seconds);
    for (const std::string& w : r.warnings)
        std::fprintf(err, "adclick: warning: %s\n", w.c_str());
}

void printBatchRun(const BatchJobResult& r, const std::string& dir, bool json, std::FILE* out)
{
    if (json)
        std::fprintf(out, "%s\n", QJsonDocument(batchRunJson(r, dir)).toJson(QJsonDocument::Compact).constData());
    else
        std::fputs(batchRunText(r).c_str(), out);
}

void printStoreSummary(const CheckpointStats& s, const std::string& dir, bool json, std::FILE* out)
{
    const double bytesPerEvent = s.rawRecords ? static_cast<double>(s.rawBytes) / static_cast<double>(s.rawRecords) : 0;
    if (json) {
        std::fprintf(out,
            "{\"type\":\"store\",\"data_dir\":\"%s\",\"checkpoints\":%llu,\"last_checkpoint\":%llu,"
            "\"failed_attempts\":%llu,\"rows_written\":%llu,\"max_commit_ms\":%.3f,\"max_ingest_stall_ms\":%.3f,"
            "\"raw_records\":%llu,\"raw_bytes\":%llu,\"quarantined\":%llu}\n",
            jsonEscape(dir).c_str(), static_cast<unsigned long long>(s.checkpoints),
            static_cast<unsigned long long>(s.lastSequence), static_cast<unsigned long long>(s.failedAttempts),
            static_cast<unsigned long long>(s.rowsWritten), s.maxCommitMs, s.maxCaptureMs,
            static_cast<unsigned long long>(s.rawRecords), static_cast<unsigned long long>(s.rawBytes),
            static_cast<unsigned long long>(s.quarantined));
        return;
    }
    std::fprintf(out,
        "store: %llu checkpoints (last #%llu; longest commit %.1f ms, longest ingest stall %.2f ms), %llu rows "
        "written; raw log +%llu records, %.1f bytes/event; %llu records quarantined\n",
        static_cast<unsigned long long>(s.checkpoints), static_cast<unsigned long long>(s.lastSequence), s.maxCommitMs,
        s.maxCaptureMs, static_cast<unsigned long long>(s.rowsWritten), static_cast<unsigned long long>(s.rawRecords),
        bytesPerEvent, static_cast<unsigned long long>(s.quarantined));
}
} // namespace

IngestSession::IngestSession(RunOptions options, std::FILE* out, std::FILE* err)
    : m_options(std::move(options))
    , m_out(out)
    , m_err(err)
{
}

IngestSession::~IngestSession() = default;

void IngestSession::requestStop()
{
    m_stop.store(true, std::memory_order_release);
    if (m_pipeline)
        m_pipeline->requestStop(); // an atomic store: safe from a signal handler
}

std::optional<CheckpointStats> IngestSession::checkpointStats() const
{
    if (!m_checkpointer)
        return std::nullopt;
    return m_checkpointer->stats();
}

bool IngestSession::open()
{
    const RunOptions& options = m_options;
    if (options.clock == ClockKind::Real || options.source == SourceKind::Kafka)
        m_clock = std::make_unique<SystemClock>();
    else if (options.source == SourceKind::Generator)
        m_clock = std::make_unique<VirtualClock>(options.generator.startTimeMs);
    else
        m_clock = std::make_unique<VirtualClock>(SystemClock().nowMs());

    // The store opens first: it restores the named ads, so their ids match the stored rows
    // before the source interns anything.
    if (options.store) {
        CheckpointerConfig cc = options.checkpoints;
        m_dataDir = options.dataDirectory.empty() ? defaultDataDirectory() : options.dataDirectory;
        cc.dataDirectory = m_dataDir;
        cc.sourceKey = sourceKeyOf(options);
        if (const char* trace = std::getenv("ADCLICK_TRACE_CHECKPOINTS"))
            cc.tracePath = trace;
        std::string error;
        m_checkpointer = Checkpointer::open(cc, m_ads, m_userAgents, error);
        if (!m_checkpointer) {
            std::fprintf(m_err, "adclick: %s\n", error.c_str());
            return false;
        }
    }

    if (options.source == SourceKind::Generator) {
        auto generator = std::make_unique<SyntheticSource>(options.generator, *m_clock, m_ads, m_userAgents);
        if (options.durationMs) // exactly the records whose processing time falls in the duration
            generator->setLimit(static_cast<std::uint64_t>(
                static_cast<double>(*options.durationMs) * options.generator.ratePerSec / 1000.0));
        m_source = std::move(generator);
    } else if (options.source == SourceKind::Kafka) {
        auto kafka = std::make_unique<KafkaSource>(options.kafka, *m_clock, m_ads, m_userAgents);
        if (!kafka->isOpen()) {
            std::fprintf(m_err, "adclick: cannot read from Kafka: %s\n", kafka->error().c_str());
            return false;
        }
        m_kafka = kafka.get();
        m_source = std::move(kafka);
    } else {
        auto file = std::make_unique<FileSource>(options.input, *m_clock, m_ads, m_userAgents, options.speedup);
        if (!file->isOpen()) {
            std::fprintf(m_err, "adclick: cannot read input: %s\n", file->error().c_str());
            return false;
        }
        m_source = std::move(file);
    }
    m_sourceDescription = m_source->describe();

    m_pipeline = std::make_unique<Pipeline>(options.pipeline, *m_source, *m_clock);
    m_collector = std::make_unique<SummaryCollector>();
    m_pipeline->addSink(m_collector.get());
    if (m_stop.load())
        m_pipeline->requestStop(); // a stop came while the store was opening
    if (m_checkpointer) {
        std::string error;
        if (!m_checkpointer->recover(*m_pipeline, *m_source, m_recovery, error)) {
            std::fprintf(m_err, "adclick: cannot recover from %s: %s\n", m_dataDir.c_str(), error.c_str());
            return false;
        }
        printRecovery(m_recovery, m_dataDir, options.json, m_out, m_err);
    }
    if (m_kafka && m_checkpointer)
        m_kafka->setRevokeHook([this] {
            // Inside a rebalance, between steps: what was handed out becomes durable before the
            // partitions go to another member. A failure leaves the last checkpoint as the hand-over.
            std::string error;
            if (!m_checkpointer->checkpointNow(error))
                std::fprintf(m_err, "adclick: checkpoint before a rebalance failed: %s\n", error.c_str());
        });
    m_pipeline->publishSnapshot();
    if (m_checkpointer && options.batchSchedule.intervalMs >= 0) {
        // The scheduler also runs requested recounts (REST, dashboard); interval 0 = none scheduled.
        BatchScheduleConfig bc = options.batchSchedule;
        bc.allowedLatenessMs = options.pipeline.window.allowedLatenessMs;
        m_batches = std::make_unique<BatchScheduler>(m_dataDir, bc);
    }
    if (m_stop.load())
        m_pipeline->requestStop();
    return true;
}

int IngestSession::loop(bool keepBatches)
{
    const RunOptions& options = m_options;
    const PipelineConfig& config = options.pipeline;
    Pipeline& pipeline = *m_pipeline;
    auto& collector = static_cast<SummaryCollector&>(*m_collector);
    RunReport report(m_out, options.json, options.topN, m_ads);
    if (!options.json)
        std::fprintf(m_out,
            "adclick %s: %s, window %s, watermark bound %s, allowed lateness %s, late policy %s, %u shard(s)\n",
            keepBatches ? "serve" : "run", m_sourceDescription.c_str(), formatDurationMs(config.window.windowMs).c_str(),
            formatDurationMs(config.watermark.boundMs).c_str(),
            formatDurationMs(config.window.allowedLatenessMs).c_str(),
            std::string(latePolicyName(config.window.latePolicy)).c_str(), config.shards);
    std::fflush(m_out);

    const auto wallStart = std::chrono::steady_clock::now();
    auto lastProgress = wallStart;
    const TimeMs startMs = m_clock->nowMs();
    const TimeMs untilMs = options.durationMs ? startMs + *options.durationMs : 0;
    auto printPending = [&](bool withTopK) {
        if (collector.pending.empty())
            return;
        for (const WindowSummary& w : collector.pending)
            report.window(w, pipeline.watermark(), m_clock->nowMs());
        collector.pending.clear();
        if (withTopK)
            report.topK(pipeline.topK(config.topK.k));
        std::fflush(m_out);
    };

    bool endOfStream = false;
    bool reportedPause = false;
    bool storeFailed = false;
    while (!pipeline.stopRequested()) {
        if (m_checkpointer && m_checkpointer->failed()) {
            std::fprintf(m_err,
                "adclick: ingestion stopped: %s. The database in %s is damaged and cannot take checkpoints; "
                "its last good checkpoint and the raw log are left untouched (check it with sqlite3 "
                "adclick.db 'PRAGMA integrity_check').\n",
                m_checkpointer->stats().pauseReason.c_str(), m_dataDir.c_str());
            storeFailed = true;
            break;
        }
        if (m_checkpointer && m_checkpointer->paused()) {
            // Nothing is ingested until the store can take a checkpoint again.
            if (!reportedPause)
                std::fprintf(m_err, "adclick: ingestion paused: %s (retrying)\n",
                    m_checkpointer->stats().pauseReason.c_str());
            reportedPause = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            m_checkpointer->afterStep();
            continue;
        }
        if (reportedPause) {
            std::fprintf(m_err, "adclick: ingestion resumed: the store accepts checkpoints again\n");
            reportedPause = false;
        }
        const PollResult r = pipeline.step();
        if (m_checkpointer)
            m_checkpointer->afterStep();
        if (m_kafka && m_checkpointer) {
            CheckpointStats cs = m_checkpointer->stats();
            if (cs.lastSequence != m_kafkaCommittedSequence) {
                m_kafkaCommittedSequence = cs.lastSequence;
                m_kafka->commitDurable(cs.durableOffsets);
            }
        }
        if (m_batches) {
            m_batches->poll(m_clock->nowMs(), pipeline.watermark());
            for (const BatchJobResult& b : m_batches->takeFinished())
                printBatchRun(b, m_dataDir, options.json, m_out);
        }
        printPending(true);
        if (r == PollResult::EndOfStream) {
            endOfStream = true;
            break;
        }
        if (untilMs > 0 && m_clock->nowMs() >= untilMs)
            break;
        const auto now = std::chrono::steady_clock::now();
        // Progress between windows: every second as JSON, every 5 s as text.
        if (now - lastProgress >= std::chrono::seconds(options.json ? 1 : 5)) {
            lastProgress = now;
            pipeline.publishSnapshot();
            report.progress(*pipeline.snapshot());
            std::fflush(m_out);
        }
    }
    // End of the run: the last complete window's top-K, then flush every window still open —
    // unless the store keeps them open for the next run (stopped before the input ended).
    const TopKResult lastTopK = pipeline.topK(config.topK.k);
    if (endOfStream || !m_checkpointer) {
        pipeline.finish();
        if (!options.json && !collector.pending.empty())
            std::fprintf(m_out, "end of run: finalising %zu open window(s)\n", collector.pending.size());
    } else if (!options.json) {
        std::fprintf(m_out,
            "stopped before the input ended: open windows stay open in the checkpoint; the next run "
            "with --data-dir %s continues them\n",
            m_dataDir.c_str());
    }
    printPending(false);
    report.topK(lastTopK);
    const double wallSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count();
    pipeline.publishSnapshot();
    report.summary(*pipeline.snapshot(), wallSeconds);
    if (m_batches && (!keepBatches || m_stop.load())) { // a recount still running is cancelled: it writes nothing
        m_batches->cancel();
        m_batches->waitIdle();
        for (const BatchJobResult& b : m_batches->takeFinished())
            printBatchRun(b, m_dataDir, options.json, m_out);
    }
    int rc = 0;
    if (m_checkpointer) {
        std::string error;
        if (storeFailed) {
            (void)m_checkpointer->close(error); // no final checkpoint: stops the store thread
            rc = 3;
        } else if (!m_checkpointer->close(error)) {
            std::fprintf(m_err, "adclick: %s; the last good checkpoint is kept and the next run resumes from it\n",
                error.c_str());
            rc = 3;
        }
        printStoreSummary(m_checkpointer->stats(), m_dataDir, options.json, m_out);
    }
    if (m_kafka && !storeFailed && rc == 0)
        m_kafka->close(); // after the final checkpoint: hands the durable positions to the group
    std::fflush(m_out);
    m_ended.store(true, std::memory_order_release);
    return rc;
}

} // namespace adclick::app
