#include "run_command.h"

#include "batch_command.h"
#include "ingest/file_source.h"
#include "ingest/synthetic_source.h"
#include "pipeline/pipeline.h"
#include "run_report.h"
#include "storage/checkpointer.h"

#include <QJsonDocument>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>

namespace adclick::app {

using namespace adclick::engine;

namespace {
std::atomic<Pipeline*> g_running { nullptr };
std::atomic<bool> g_stopSignal { false }; ///< SIGINT/SIGTERM seen (possibly before the pipeline exists)

extern "C" void onSignal(int)
{
    g_stopSignal.store(true);
    if (Pipeline* p = g_running.load())
        p->requestStop(); // only an atomic store: async-signal-safe
}

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
            dir.c_str(), r.restored ? "true" : "false", static_cast<unsigned long long>(r.checkpointSequence),
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
            dir.c_str(), static_cast<unsigned long long>(s.checkpoints),
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

int runRunCommand(const RunOptions& options, std::FILE* out, std::FILE* err)
{
    // From the start: a SIGTERM during recovery must still end in a clean, checkpointed exit.
    g_stopSignal.store(false);
    auto previousInt = std::signal(SIGINT, onSignal);
    auto previousTerm = std::signal(SIGTERM, onSignal);
    if (const std::string warning = speedFaultWarning(options); !warning.empty())
        std::fprintf(err, "adclick: warning: %s\n", warning.c_str());
    AdDictionary ads;
    UserAgentDictionary userAgents;
    std::unique_ptr<Clock> clock;
    if (options.clock == ClockKind::Real)
        clock = std::make_unique<SystemClock>();
    else if (options.source == SourceKind::Generator)
        clock = std::make_unique<VirtualClock>(options.generator.startTimeMs);
    else
        clock = std::make_unique<VirtualClock>(SystemClock().nowMs());

    // The store opens first: it restores the named ads, so their ids match the stored rows
    // before the source interns anything.
    std::unique_ptr<Checkpointer> checkpointer;
    std::string dataDir;
    if (options.store) {
        CheckpointerConfig cc = options.checkpoints;
        dataDir = options.dataDirectory.empty() ? defaultDataDirectory() : options.dataDirectory;
        cc.dataDirectory = dataDir;
        cc.sourceKey = sourceKeyOf(options);
        if (const char* trace = std::getenv("ADCLICK_TRACE_CHECKPOINTS"))
            cc.tracePath = trace;
        std::string error;
        checkpointer = Checkpointer::open(cc, ads, userAgents, error);
        if (!checkpointer) {
            std::fprintf(err, "adclick: %s\n", error.c_str());
            return 1;
        }
    }

    std::unique_ptr<EventSource> source;
    if (options.source == SourceKind::Generator) {
        auto generator = std::make_unique<SyntheticSource>(options.generator, *clock, ads, userAgents);
        if (options.durationMs) // exactly the records whose processing time falls in the duration
            generator->setLimit(static_cast<std::uint64_t>(
                static_cast<double>(*options.durationMs) * options.generator.ratePerSec / 1000.0));
        source = std::move(generator);
    } else {
        auto file = std::make_unique<FileSource>(options.input, *clock, ads, userAgents, options.speedup);
        if (!file->isOpen()) {
            std::fprintf(err, "adclick: cannot read input: %s\n", file->error().c_str());
            return 1;
        }
        source = std::move(file);
    }

    PipelineConfig config = options.pipeline;
    Pipeline pipeline(config, *source, *clock);
    SummaryCollector collector;
    pipeline.addSink(&collector);
    if (checkpointer) {
        RecoveryReport recovery;
        std::string error;
        if (!checkpointer->recover(pipeline, *source, recovery, error)) {
            std::fprintf(err, "adclick: cannot recover from %s: %s\n", dataDir.c_str(), error.c_str());
            return 1;
        }
        printRecovery(recovery, dataDir, options.json, out, err);
    }
    RunReport report(out, options.json, options.topN, ads);
    std::unique_ptr<BatchScheduler> batches; // scheduled recounts of the raw log (processing time)
    if (checkpointer && options.batchSchedule.intervalMs > 0) {
        BatchScheduleConfig bc = options.batchSchedule;
        bc.allowedLatenessMs = config.window.allowedLatenessMs;
        batches = std::make_unique<BatchScheduler>(dataDir, bc);
    }

    g_running.store(&pipeline);
    if (g_stopSignal.load())
        pipeline.requestStop(); // the signal came while the store was recovering

    if (!options.json)
        std::fprintf(out,
            "adclick run: %s, window %s, watermark bound %s, allowed lateness %s, late policy %s, %u shard(s)\n",
            source->describe().c_str(), formatDurationMs(config.window.windowMs).c_str(),
            formatDurationMs(config.watermark.boundMs).c_str(),
            formatDurationMs(config.window.allowedLatenessMs).c_str(),
            std::string(latePolicyName(config.window.latePolicy)).c_str(), config.shards);

    const auto wallStart = std::chrono::steady_clock::now();
    auto lastProgress = wallStart;
    const TimeMs startMs = clock->nowMs();
    const TimeMs untilMs = options.durationMs ? startMs + *options.durationMs : 0;
    auto printPending = [&](bool withTopK) {
        if (collector.pending.empty())
            return;
        for (const WindowSummary& w : collector.pending)
            report.window(w, pipeline.watermark(), clock->nowMs());
        collector.pending.clear();
        if (withTopK)
            report.topK(pipeline.topK(config.topK.k));
    };

    bool endOfStream = false;
    bool reportedPause = false;
    while (!pipeline.stopRequested()) {
        if (checkpointer && checkpointer->paused()) {
            // Nothing is ingested until the store can take a checkpoint again.
            if (!reportedPause)
                std::fprintf(
                    err, "adclick: ingestion paused: %s (retrying)\n", checkpointer->stats().pauseReason.c_str());
            reportedPause = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            checkpointer->afterStep();
            continue;
        }
        if (reportedPause) {
            std::fprintf(err, "adclick: ingestion resumed: the store accepts checkpoints again\n");
            reportedPause = false;
        }
        const PollResult r = pipeline.step();
        if (checkpointer)
            checkpointer->afterStep();
        if (batches) {
            batches->poll(clock->nowMs(), pipeline.watermark());
            for (const BatchJobResult& b : batches->takeFinished())
                printBatchRun(b, dataDir, options.json, out);
        }
        printPending(true);
        if (r == PollResult::EndOfStream) {
            endOfStream = true;
            break;
        }
        if (untilMs > 0 && clock->nowMs() >= untilMs)
            break;
        // Progress between windows: every second as JSON, every 5 s as text.
        const auto now = std::chrono::steady_clock::now();
        if (now - lastProgress >= std::chrono::seconds(options.json ? 1 : 5)) {
            lastProgress = now;
            pipeline.publishSnapshot();
            report.progress(*pipeline.snapshot());
        }
    }
    // End of the run: the last complete window's top-K, then flush every window still open —
    // unless the store keeps them open for the next run (stopped before the input ended).
    const TopKResult lastTopK = pipeline.topK(config.topK.k);
    if (endOfStream || !checkpointer) {
        pipeline.finish();
        if (!options.json && !collector.pending.empty())
            std::fprintf(out, "end of run: finalising %zu open window(s)\n", collector.pending.size());
    } else if (!options.json) {
        std::fprintf(out,
            "stopped before the input ended: open windows stay open in the checkpoint; the next run "
            "with --data-dir %s continues them\n",
            dataDir.c_str());
    }
    printPending(false);
    report.topK(lastTopK);
    const double wallSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count();
    report.summary(*pipeline.snapshot(), wallSeconds);
    if (batches) { // a scheduled recount still running is cancelled: it writes nothing
        batches->cancel();
        batches->waitIdle();
        for (const BatchJobResult& b : batches->takeFinished())
            printBatchRun(b, dataDir, options.json, out);
    }
    int rc = 0;
    if (checkpointer) {
        std::string error;
        if (!checkpointer->close(error)) {
            std::fprintf(
                err, "adclick: %s; the last good checkpoint is kept and the next run resumes from it\n", error.c_str());
            rc = 3;
        }
        printStoreSummary(checkpointer->stats(), dataDir, options.json, out);
    }

    g_running.store(nullptr);
    std::signal(SIGINT, previousInt);
    std::signal(SIGTERM, previousTerm);
    return rc;
}

} // namespace adclick::app
