#pragma once

// A data directory written the way `adclick run` writes one — a real Pipeline and Checkpointer over
// a VectorSource — for the batch-layer tests: stop at a point, checkpoint, crash, resume, finish.

#include "core/ad_dictionary.h"
#include "core/clock.h"
#include "ingest/user_agent.h"
#include "ingest/vector_source.h"
#include "pipeline/pipeline.h"
#include "storage/checkpointer.h"

#include <QtTest>

#include <memory>
#include <string>
#include <vector>

namespace adclick::test {

using namespace adclick::engine;

/// One "process" over a data directory: every event arrives at processing time `arrivalMs`, so
/// checkpoints happen only when asked (checkpointNow / close).
struct StoreRun {
    StoreRun(const std::string& dir, const std::vector<ClickEvent>& events, const PipelineConfig& config,
        std::uint32_t partitions, TimeMs arrivalMs)
        : clock(arrivalMs)
    {
        CheckpointerConfig cc;
        cc.dataDirectory = dir;
        cc.sourceKey = "vector";
        std::string error;
        checkpointer = Checkpointer::open(cc, ads, uas, error);
        if (!checkpointer)
            qFatal("open: %s", error.c_str());
        source = std::make_unique<VectorSource>(VectorSource::fromEvents(events, arrivalMs), partitions);
        pipeline = std::make_unique<Pipeline>(config, *source, clock);
        if (!checkpointer->recover(*pipeline, *source, recovery, error))
            qFatal("recover: %s", error.c_str());
    }

    /// Steps until at most `remaining` events are left to poll, or to the end of input (then
    /// finish(), unless `finishAtEnd` is false: the last windows stay open). Returns the events
    /// consumed from the start of the source.
    std::size_t stepUntil(std::size_t remaining, std::size_t total, bool finishAtEnd = true)
    {
        while (source->remaining() > remaining) {
            const PollResult r = pipeline->step();
            checkpointer->afterStep();
            if (r == PollResult::EndOfStream)
                break;
        }
        if (source->remaining() == 0) {
            while (pipeline->step() != PollResult::EndOfStream)
                checkpointer->afterStep();
            if (finishAtEnd)
                pipeline->finish();
        }
        return total - source->remaining();
    }
    void checkpoint()
    {
        std::string error;
        if (!checkpointer->checkpointNow(error))
            qFatal("checkpoint: %s", error.c_str());
    }
    void close()
    {
        std::string error;
        if (!checkpointer->close(error))
            qFatal("close: %s", error.c_str());
    }

    VirtualClock clock;
    AdDictionary ads;
    UserAgentDictionary uas;
    std::unique_ptr<Checkpointer> checkpointer;
    std::unique_ptr<VectorSource> source;
    std::unique_ptr<Pipeline> pipeline;
    RecoveryReport recovery;
};

/// The oracle's configuration: no idleness, de-duplication longer than the data, no future limit.
inline PipelineConfig reconcileConfig(LatePolicy policy, std::uint32_t shards)
{
    PipelineConfig c;
    c.window.windowMs = kMsPerMinute;
    c.window.latePolicy = policy;
    c.window.updateRetentionMs = 2 * kMsPerMinute;
    c.watermark.boundMs = 20 * kMsPerSecond;
    c.watermark.idleTimeoutMs = 0;
    c.dedupHorizonMs = 30 * kMsPerDay;
    c.shards = shards;
    c.batchSize = 700;
    c.maxFutureMs = 0;
    c.snapshotIntervalMs = 1000000;
    return c;
}

} // namespace adclick::test
