#include "run_command.h"

#include "ingest/file_source.h"
#include "ingest/synthetic_source.h"
#include "pipeline/pipeline.h"
#include "run_report.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <memory>

namespace adclick::app {

using namespace adclick::engine;

namespace {
std::atomic<Pipeline*> g_running { nullptr };

extern "C" void onSignal(int)
{
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
} // namespace

int runRunCommand(const RunOptions& options, std::FILE* out, std::FILE* err)
{
    AdDictionary ads;
    UserAgentDictionary userAgents;
    std::unique_ptr<Clock> clock;
    if (options.clock == ClockKind::Real)
        clock = std::make_unique<SystemClock>();
    else if (options.source == SourceKind::Generator)
        clock = std::make_unique<VirtualClock>(options.generator.startTimeMs);
    else
        clock = std::make_unique<VirtualClock>(SystemClock().nowMs());

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
    RunReport report(out, options.json, options.topN, ads);

    g_running.store(&pipeline);
    auto previousInt = std::signal(SIGINT, onSignal);
    auto previousTerm = std::signal(SIGTERM, onSignal);

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

    while (!pipeline.stopRequested()) {
        const PollResult r = pipeline.step();
        printPending(true);
        if (r == PollResult::EndOfStream)
            break;
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
    // End of the run: the last complete window's top-K, then flush every window still open.
    const TopKResult lastTopK = pipeline.topK(config.topK.k);
    pipeline.finish();
    if (!options.json && !collector.pending.empty())
        std::fprintf(out, "end of run: finalising %zu open window(s)\n", collector.pending.size());
    printPending(false);
    report.topK(lastTopK);
    const double wallSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count();
    report.summary(*pipeline.snapshot(), wallSeconds);

    std::signal(SIGINT, previousInt);
    std::signal(SIGTERM, previousTerm);
    g_running.store(nullptr);
    return 0;
}

} // namespace adclick::app
