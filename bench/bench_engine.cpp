// Engine throughput, printed as numbers and ratios against a plain std::unordered_map
// aggregator run over the same events in the same process (the baseline).
//
//   (a) aggregation core over pre-generated events in memory: watermarks, late policy,
//       windows keyed by ad × country × device, and the sliding top-K (exact + Count-Min)
//   (b) generator + aggregation end to end (virtual clock, as fast as possible)
//   (c) baseline: std::unordered_map<(ad, minute, country, device), count> over the events of (a)
//
// Usage: bench_engine [--events N] [--ads N] [--runs N] [--shards N] [--e2e-only 1] [--core-only 1]
// --core-only runs (a) alone (no baseline, no generator run): the loop to profile.
// --e2e-only runs (b) alone, so the peak RSS printed at the end is the engine's own memory
// (e.g. --ads 1000000 for the 1 M distinct ads memory goal).
// Each figure is the median of --runs measured runs after one warm-up run, with min and max.

#include "core/clock.h"
#include "ingest/synthetic_source.h"
#include "ingest/vector_source.h"
#include "pipeline/pipeline.h"
#include "window/window_types.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

using namespace adclick::engine;

namespace {

struct Stats {
    double median = 0, min = 0, max = 0; // events per second
};

Stats measure(int runs, std::size_t events, const std::function<void()>& body)
{
    body(); // warm-up
    std::vector<double> rates;
    for (int i = 0; i < runs; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        body();
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        rates.push_back(static_cast<double>(events) / s);
    }
    std::sort(rates.begin(), rates.end());
    return { rates[rates.size() / 2], rates.front(), rates.back() };
}

void print(const char* name, const Stats& s, const Stats* baseline)
{
    std::printf("%-52s %8.2f M events/s  %6.1f ns/event  (min %.2f, max %.2f)", name, s.median / 1e6, 1e9 / s.median,
        s.min / 1e6, s.max / 1e6);
    if (baseline)
        std::printf("  ratio vs baseline %.2fx", s.median / baseline->median);
    std::printf("\n");
    std::fflush(stdout);
}

GeneratorConfig benchGenerator(std::uint32_t ads)
{
    GeneratorConfig g;
    g.seed = 7;
    g.adCount = ads;
    g.ratePerSec = 50000;
    g.lateFraction = 0.01;
    g.duplicateFraction = 0;
    g.malformedFraction = 0;
    g.clickIds = false;
    return g;
}

PipelineConfig benchPipeline(std::uint32_t shards)
{
    PipelineConfig c;
    c.shards = shards;
    c.batchSize = 4096;
    c.deduplicate = false;
    c.snapshotIntervalMs = 250;
    return c;
}

double peakRssMiB()
{
    rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

} // namespace

int main(int argc, char** argv)
{
    std::size_t events = 10'000'000;
    std::uint32_t ads = 100'000;
    int runs = 5;
    std::uint32_t maxShards = 2;
    bool e2eOnly = false;
    bool coreOnly = false;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--events"))
            events = std::stoull(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--ads"))
            ads = static_cast<std::uint32_t>(std::stoul(argv[i + 1]));
        else if (!std::strcmp(argv[i], "--runs"))
            runs = std::stoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--e2e-only"))
            e2eOnly = std::strcmp(argv[i + 1], "0") != 0;
        else if (!std::strcmp(argv[i], "--core-only"))
            coreOnly = std::strcmp(argv[i + 1], "0") != 0;
        else if (!std::strcmp(argv[i], "--shards"))
            maxShards = static_cast<std::uint32_t>(std::stoul(argv[i + 1]));
    }
    std::printf("adclick engine benchmark: %zu events, %u ads (Zipf 1.1), 1%% late, window 60 s, top-K 100 "
                "(exact + Count-Min), median of %d runs\n",
        events, ads, runs);

    if (e2eOnly) {
        for (std::uint32_t shards = 1; shards <= maxShards; ++shards) {
            std::size_t stateBytes = 0;
            const Stats e2e = measure(runs, events, [&] {
                AdDictionary d;
                UserAgentDictionary u;
                VirtualClock clock(benchGenerator(ads).startTimeMs);
                SyntheticSource gen(benchGenerator(ads), clock, d, u);
                gen.setLimit(events);
                Pipeline p(benchPipeline(shards), gen, clock);
                p.run();
                stateBytes = p.snapshot()->stateBytes;
                p.finish();
            });
            const std::string name = "(b) generator + aggregation, " + std::to_string(shards) + " shard(s)";
            print(name.c_str(), e2e, nullptr);
            std::printf("    engine state at the end: %.0f MiB\n", static_cast<double>(stateBytes) / (1 << 20));
        }
        std::printf("peak RSS: %.0f MiB\n", peakRssMiB());
        return 0;
    }

    // Pre-generate the events once.
    AdDictionary dict;
    UserAgentDictionary uas;
    std::vector<ClickEvent> data;
    data.reserve(events);
    {
        VirtualClock clock(benchGenerator(ads).startTimeMs);
        SyntheticSource gen(benchGenerator(ads), clock, dict, uas);
        IngestBatch batch;
        while (data.size() < events) {
            batch.clear();
            gen.poll(batch, std::min<std::size_t>(65536, events - data.size()));
            data.insert(data.end(), batch.events.begin(), batch.events.end());
        }
    }
    const TimeMs arrivalMs = data.back().eventTimeMs; // every event has arrived when the run starts
    const std::uint32_t partitions = benchGenerator(ads).partitions;

    // (c) baseline
    std::size_t baselineGroups = 0;
    const Stats baseline = coreOnly ? Stats { 1, 1, 1 } : measure(runs, events, [&] {
        std::unordered_map<std::uint64_t, std::uint64_t> counts;
        for (const ClickEvent& e : data) {
            const std::uint64_t minute = static_cast<std::uint64_t>(e.eventTimeMs / kMsPerMinute);
            const std::uint64_t key = (static_cast<std::uint64_t>(e.adId) << 32) ^ (minute << 20)
                ^ (static_cast<std::uint64_t>(e.country) << 3) ^ static_cast<std::uint64_t>(e.device);
            ++counts[key];
        }
        baselineGroups = counts.size();
    });
    if (!coreOnly)
        print("(c) baseline std::unordered_map (ad,minute,country,dev)", baseline, nullptr);

    // (a) aggregation core
    for (std::uint32_t shards = 1; shards <= maxShards; ++shards) {
        std::uint64_t counted = 0;
        const Stats core = measure(runs, events, [&] {
            VirtualClock clock(data.front().eventTimeMs);
            VectorSource src(std::span<const ClickEvent>(data), partitions, arrivalMs);
            Pipeline p(benchPipeline(shards), src, clock);
            p.run();
            p.finish();
            counted = p.counters().counted;
        });
        const std::string name = "(a) aggregation core, " + std::to_string(shards) + " shard(s)";
        print(name.c_str(), core, coreOnly ? nullptr : &baseline);
        if (counted + 0 == 0)
            std::printf("    warning: nothing counted\n");
    }

    // (b) generator + aggregation end to end
    for (std::uint32_t shards = 1; shards <= maxShards && !coreOnly; ++shards) {
        const Stats e2e = measure(runs, events, [&] {
            AdDictionary d;
            UserAgentDictionary u;
            VirtualClock clock(benchGenerator(ads).startTimeMs);
            SyntheticSource gen(benchGenerator(ads), clock, d, u);
            gen.setLimit(events);
            Pipeline p(benchPipeline(shards), gen, clock);
            p.run();
            p.finish();
        });
        const std::string name = "(b) generator + aggregation, " + std::to_string(shards) + " shard(s)";
        print(name.c_str(), e2e, &baseline);
    }
    std::printf("baseline groups: %zu; peak RSS: %.0f MiB\n", baselineGroups, peakRssMiB());
    return 0;
}
