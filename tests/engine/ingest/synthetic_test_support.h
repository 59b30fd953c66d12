#pragma once

// Shared by the synthetic generator tests: collecting records and measuring their mix.

#include "core/hash.h"
#include "ingest/country_codes.h"
#include "ingest/ip_address.h"
#include "ingest/synthetic_source.h"

#include <QtTest>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace adclick::test {

using namespace adclick::engine;

struct Run {
    std::vector<ClickEvent> events;
    std::vector<RejectedRecord> rejected;
};

// Polls until `records` records (accepted + rejected) were produced or the stream ends. Batch
// sizes are `batch`, or random in [1, 2·batch] when `rng` is given.
Run collect(SyntheticSource& source, std::uint64_t records, std::size_t batch, std::mt19937_64* rng = nullptr)
{
    Run run;
    IngestBatch b;
    std::uint64_t produced = 0;
    while (produced < records) {
        b.clear();
        std::size_t n = rng ? 1 + (*rng)() % (2 * batch) : batch;
        n = static_cast<std::size_t>(std::min<std::uint64_t>(n, records - produced));
        const PollResult r = source.poll(b, n);
        produced += b.events.size() + b.rejected.size();
        run.events.insert(run.events.end(), b.events.begin(), b.events.end());
        run.rejected.insert(run.rejected.end(), b.rejected.begin(), b.rejected.end());
        if (r == PollResult::EndOfStream)
            break;
    }
    return run;
}

bool sameEvents(const std::vector<ClickEvent>& a, const std::vector<ClickEvent>& b)
{
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(ClickEvent)) == 0);
}

bool sameRejected(const std::vector<RejectedRecord>& a, const std::vector<RejectedRecord>& b)
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].reason != b[i].reason || a[i].position.offset != b[i].position.offset
            || a[i].position.partition != b[i].position.partition || a[i].bytes != b[i].bytes)
            return false;
    return true;
}

std::uint64_t sequenceOf(SourcePosition p, std::uint32_t partitions)
{
    return static_cast<std::uint64_t>(p.offset) * partitions + p.partition;
}

// Records of a run from sequence `from` on.
Run tail(const Run& run, std::uint64_t from, std::uint32_t partitions)
{
    Run t;
    for (const ClickEvent& e : run.events)
        if (sequenceOf(e.position(), partitions) >= from)
            t.events.push_back(e);
    for (const RejectedRecord& r : run.rejected)
        if (sequenceOf(r.position, partitions) >= from)
            t.rejected.push_back(r);
    return t;
}

GeneratorConfig noisyConfig()
{
    GeneratorConfig c;
    c.seed = 42;
    c.adCount = 5000;
    c.userCount = 20000;
    c.partitions = 4;
    c.lateFraction = 0.03;
    c.duplicateFraction = 0.02;
    c.malformedFraction = 0.01;
    return c;
}

GeneratorConfig cleanConfig()
{
    GeneratorConfig c;
    c.seed = 3;
    c.lateFraction = 0;
    c.duplicateFraction = 0;
    c.malformedFraction = 0;
    c.clickIds = false;
    return c;
}

struct Env {
    AdDictionary ads;
    UserAgentDictionary userAgents;
    VirtualClock clock;
    SyntheticSource source;
    explicit Env(const GeneratorConfig& c)
        : clock(c.startTimeMs)
        , source(c, clock, ads, userAgents)
    {
    }
};

// Sorted-descending empirical shares vs. exact Zipf probabilities: cumulative share of the
// `k` most frequent ads.
double zipfCumulative(std::uint32_t n, double s, std::uint32_t k)
{
    double total = 0, head = 0;
    for (std::uint32_t r = 1; r <= n; ++r) {
        const double p = std::pow(static_cast<double>(r), -s);
        total += p;
        if (r <= k)
            head += p;
    }
    return head / total;
}

std::size_t residentBytes()
{
    std::ifstream statm("/proc/self/statm");
    std::size_t pages = 0, resident = 0;
    statm >> pages >> resident;
    return resident * 4096;
}

} // namespace adclick::test
