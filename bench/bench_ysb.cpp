// Workload 5 of issue 10: the Yahoo Streaming Benchmark query (JSON events → filter
// event_type == "view" → join ad_id → campaign (100 campaigns × 10 ads) → count per campaign per
// 10 s event-time window) over YSB-shaped JSON lines generated in memory beforehand, so the figure
// is events per second per core of the engine, without the Kafka and Redis of the original setup.
//
//   (a) YsbCampaignCounter, 1 thread (the per-core figure)
//   (b) YsbCampaignCounter, 2 threads (the lines split in two, counters merged at the end)
//   (c) in-process baseline: simdjson On-Demand + std::unordered_map<std::string, campaign> join +
//       std::map<(campaign, window), count> — the straightforward C++ of the same query.
// Every run's counts must equal (a)'s reference counts (exit 1 otherwise).
//
// Usage: bench_ysb [--events N] [--runs N]   Each figure: median of --runs after one warm-up.
// Prints a RESULT line for scripts/bench.

#include "ingest/ysb_codec.h"
#include "ingest/ysb_generator.h"
#include "window/ysb_campaign_counter.h"

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <thread>
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
        rates.push_back(static_cast<double>(events)
            / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(rates.begin(), rates.end());
    return { rates[rates.size() / 2], rates.front(), rates.back() };
}

[[noreturn]] void fail(const char* what)
{
    std::fprintf(stderr, "bench_ysb: %s\n", what);
    std::exit(1); // NOLINT(concurrency-mt-unsafe): main thread only
}

void print(const char* name, const Stats& s, const Stats* baseline)
{
    std::printf("%-58s %8.2f M events/s  %6.1f ns/event  (min %.2f, max %.2f)", name, s.median / 1e6,
        1e9 / s.median, s.min / 1e6, s.max / 1e6);
    if (baseline)
        std::printf("  %.2fx baseline", s.median / baseline->median);
    std::printf("\n");
    std::fflush(stdout);
}

using Counts = std::map<std::pair<std::uint32_t, TimeMs>, std::uint64_t>;

Counts toCounts(const std::vector<YsbWindowCount>& rows)
{
    Counts c;
    for (const YsbWindowCount& r : rows)
        c[{ r.campaign, r.windowStartMs }] = r.views;
    return c;
}

/// (c): the same query written plainly on simdjson.
Counts baselineQuery(const std::string& text, const std::unordered_map<std::string, std::uint32_t>& campaignOf)
{
    Counts counts;
    simdjson::ondemand::parser parser;
    const simdjson::padded_string padded(text);
    simdjson::ondemand::document_stream stream;
    if (parser.iterate_many(padded, 1 << 20).get(stream) != simdjson::SUCCESS)
        fail("simdjson iterate_many");
    for (auto doc : stream) {
        simdjson::ondemand::object obj;
        if (doc.get_object().get(obj) != simdjson::SUCCESS)
            continue;
        std::string_view type, ad, time;
        if (obj["event_type"].get_string().get(type) != simdjson::SUCCESS || type != "view")
            continue;
        if (obj["ad_id"].get_string().get(ad) != simdjson::SUCCESS
            || obj["event_time"].get_string().get(time) != simdjson::SUCCESS)
            continue;
        const auto it = campaignOf.find(std::string(ad));
        if (it == campaignOf.end())
            continue;
        const TimeMs t = std::strtoll(std::string(time).c_str(), nullptr, 10);
        ++counts[{ it->second, t - t % 10000 }];
    }
    return counts;
}

} // namespace

int main(int argc, char** argv)
{
    std::size_t events = 2'000'000;
    int runs = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--events"))
            events = std::stoull(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--runs"))
            runs = std::max(1, std::stoi(argv[i + 1]));
        else
            fail("usage: bench_ysb [--events N] [--runs N]");
    }

    YsbGeneratorConfig config; // 100 campaigns × 10 ads, 1 M events per second of event time
    YsbGenerator gen(config);
    std::string text;
    text.reserve(events * 270);
    for (std::size_t i = 0; i < events; ++i)
        gen.next(text);
    const auto& table = gen.adCampaigns();
    std::printf("adclick YSB benchmark: %zu JSON events (%.0f bytes each on average, %.0f MB), %zu campaigns x %zu ads,"
                " 10 s windows; median of %d runs after a warm-up\n",
        events, static_cast<double>(text.size()) / static_cast<double>(events), static_cast<double>(text.size()) / 1e6,
        static_cast<std::size_t>(config.campaigns), static_cast<std::size_t>(config.adsPerCampaign), runs);

    YsbCampaignCounter reference(table);
    reference.addLines(text);
    const Counts expected = toCounts(reference.results());
    if (reference.counters().rejected != 0 || reference.counters().counted == 0)
        fail("the generated stream did not decode");

    const Stats one = measure(runs, events, [&] {
        YsbCampaignCounter c(table);
        c.addLines(text);
        if (c.counters().counted != reference.counters().counted)
            fail("1-thread count differs");
    });

    // Split at a line boundary near the middle.
    std::size_t mid = text.find('\n', text.size() / 2);
    mid = mid == std::string::npos ? text.size() : mid + 1;
    const std::string_view all(text);
    Counts twoCounts;
    const Stats two = measure(runs, events, [&] {
        YsbCampaignCounter a(table), b(table);
        std::thread t([&] { b.addLines(all.substr(mid)); });
        a.addLines(all.substr(0, mid));
        t.join();
        a.merge(b);
        if (a.counters().counted != reference.counters().counted)
            fail("2-thread count differs");
        twoCounts = toCounts(a.results());
    });
    if (twoCounts != expected)
        fail("2-thread counts differ from the reference");

    std::unordered_map<std::string, std::uint32_t> campaignOf;
    for (const auto& [ad, c] : table)
        campaignOf.emplace(YsbCodec::formatUuid(ad), c);
    Counts baseCounts;
    const Stats base = measure(runs, events, [&] { baseCounts = baselineQuery(text, campaignOf); });
    if (baseCounts != expected)
        fail("the simdjson baseline's counts differ from YsbCampaignCounter's");

    print("(c) baseline: simdjson On-Demand + unordered_map + std::map", base, nullptr);
    print("(a) YsbCampaignCounter, 1 thread (per core)", one, &base);
    print("(b) YsbCampaignCounter, 2 threads", two, &base);
    std::printf("counted %llu views of %zu events into %zu (campaign, window) rows; counts equal in all three\n",
        static_cast<unsigned long long>(reference.counters().counted), events, expected.size());
    std::printf("RESULT ysb1_median=%.0f ysb1_min=%.0f ysb1_max=%.0f ysb2_median=%.0f ysb2_min=%.0f ysb2_max=%.0f "
                "base_median=%.0f base_min=%.0f base_max=%.0f\n",
        one.median, one.min, one.max, two.median, two.min, two.max, base.median, base.min, base.max);
    return 0;
}
