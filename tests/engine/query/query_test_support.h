#pragma once

// Shared by the QueryService tests: a data directory written by a real Pipeline + Checkpointer
// from random events (out of order, late, duplicated, with IPv4/IPv6 addresses and real user-agent
// strings), and brute-force answers over the same events: the speed layer's cells (runOracle),
// the batch layer's cells (a click id once per ad and minute) and filtered raw counts.

#include "engine/support/oracle.h"
#include "engine/support/random_events.h"

#include "core/ad_dictionary.h"
#include "core/clock.h"
#include "ingest/country_codes.h"
#include "ingest/ip_address.h"
#include "ingest/user_agent.h"
#include "ingest/vector_source.h"
#include "pipeline/pipeline.h"
#include "query/query_service.h"
#include "storage/checkpointer.h"
#include "storage/sqlite_store.h"

#include <QtTest>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace adclick::test {

using namespace adclick::engine;

using CellCounts = std::map<WindowKey, std::uint64_t>;

inline const std::vector<std::string>& userAgentTexts()
{
    static const std::vector<std::string> texts {
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Mobile Safari/537.36",
        "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Safari/605.1.15",
        "Googlebot/2.1 (+http://www.google.com/bot.html)",
        "curl/8.4.0",
    };
    return texts;
}

/// The address text of host `h` of pool `p` (0, 1: IPv4; 2, 3: IPv6).
inline std::string addressText(int pool, std::uint32_t h)
{
    switch (pool) {
    case 0:
        return "10.1." + std::to_string(h % 4) + "." + std::to_string(h / 4 % 256);
    case 1:
        return "192.168.7." + std::to_string(h % 256);
    case 2:
        return "2001:db8:1:" + std::to_string(h % 4) + "::" + std::to_string(h / 4 % 100 + 1);
    default:
        return "2001:db8:2::" + std::to_string(h % 200 + 1);
    }
}

struct DataSpec {
    RandomStreamSpec stream;
    TimeMs latenessMs = 0;
    bool finish = true; ///< end the input (every window final) before closing
    TimeMs checkpointIntervalMs = 5 * kMsPerSecond;
};

/// A data directory and everything the oracles need about what was written into it.
struct DataSet {
    DataSpec spec;
    PipelineConfig config;
    std::vector<ClickEvent> events; ///< arrival order, as the pipeline saw them
    std::vector<std::string> uaText; ///< by uaId
    OracleResult speed; ///< runOracle over events
    CellCounts speedCells; ///< speed.cells as plain counts
    CellCounts batchCells; ///< a click id once per (ad, minute)
    TimeMs minEventMs = 0;
    TimeMs maxEventMs = 0;
    TimeMs lastProcessingMs = 0;
};

inline PipelineConfig pipelineConfig(TimeMs latenessMs)
{
    PipelineConfig c;
    c.window.windowMs = kMsPerMinute;
    c.window.allowedLatenessMs = latenessMs;
    c.window.latePolicy = LatePolicy::Drop;
    c.watermark.boundMs = 30 * kMsPerSecond;
    c.watermark.idleTimeoutMs = 0;
    c.dedupHorizonMs = 30 * kMsPerDay;
    c.maxFutureMs = 0;
    c.topK.k = 10;
    c.snapshotIntervalMs = 1000000;
    return c;
}

/// Interns the test user agents; uaText[id] is the text of each.
inline std::vector<std::uint16_t> internUserAgents(UserAgentDictionary& uas, std::vector<std::string>& uaText)
{
    std::vector<std::uint16_t> ids;
    for (const std::string& ua : userAgentTexts()) {
        ids.push_back(uas.intern(ua));
        if (uaText.size() <= ids.back())
            uaText.resize(ids.back() + 1u);
        uaText[ids.back()] = ua;
    }
    return ids;
}

/// Gives each event an address and a user agent derived from its click id (so a resend keeps
/// them), and the device class the user agent implies.
inline void decorate(std::vector<ClickEvent>& events, const std::vector<std::uint16_t>& uaIds)
{
    for (ClickEvent& e : events) {
        const std::uint64_t h = e.clickId * 0x9E3779B97F4A7C15ULL;
        const int pool = static_cast<int>(h >> 62);
        bool isV6 = false;
        if (!parseIp(addressText(pool, static_cast<std::uint32_t>(h >> 20)), e.ip, isV6))
            qFatal("bad test address");
        e.flags = static_cast<std::uint8_t>(isV6 ? ClickEvent::kFlagIpv6 : 0);
        const std::size_t ua = (h >> 8) % uaIds.size();
        e.uaId = uaIds[ua];
        e.device = classifyUserAgent(userAgentTexts()[ua]);
    }
}

/// The batch layer's answer: every record counts once per (ad, minute, click id), wherever the
/// speed layer put it (late-dropped included).
inline CellCounts batchOracle(const std::vector<ClickEvent>& events)
{
    CellCounts out;
    std::set<std::tuple<AdId, TimeMs, std::uint64_t>> seen;
    for (const ClickEvent& e : events) {
        const TimeMs start = windowStartOf(e.eventTimeMs, kMsPerMinute);
        if (e.clickId != 0 && !seen.insert({ e.adId, start, e.clickId }).second)
            continue;
        ++out[WindowKey { e.adId, start, e.country, e.device }];
    }
    return out;
}

/// Runs events through a Pipeline + Checkpointer into `dir` (adclick.db + raw/): randomStream(spec)
/// decorated with addresses and user agents, or `given` (arrival order) when not empty.
inline bool buildDataDirectory(
    const QString& dir, const DataSpec& spec, DataSet& data, std::vector<ClickEvent> given = {})
{
    data.spec = spec;
    data.config = pipelineConfig(spec.latenessMs);
    AdDictionary ads;
    UserAgentDictionary uas;
    CheckpointerConfig cc;
    cc.dataDirectory = dir.toStdString();
    cc.intervalMs = spec.checkpointIntervalMs;
    cc.sourceKey = "query test seed=" + std::to_string(spec.stream.seed);
    std::string error;
    auto checkpointer = Checkpointer::open(cc, ads, uas, error);
    if (!checkpointer) {
        qWarning("checkpointer: %s", error.c_str());
        return false;
    }
    data.events = given.empty() ? randomStream(spec.stream) : std::move(given);
    decorate(data.events, internUserAgents(uas, data.uaText));
    // Processing time follows the newest event seen (+ 1 s): monotonic, never behind event time.
    std::vector<VectorSource::Record> records;
    TimeMs newest = kMinTimeMs;
    data.minEventMs = INT64_MAX;
    data.maxEventMs = INT64_MIN;
    for (const ClickEvent& e : data.events) {
        newest = std::max(newest, e.eventTimeMs);
        data.minEventMs = std::min(data.minEventMs, e.eventTimeMs);
        data.maxEventMs = std::max(data.maxEventMs, e.eventTimeMs);
        VectorSource::Record r;
        r.event = e;
        r.processingTimeMs = newest + kMsPerSecond;
        records.push_back(r);
    }
    data.lastProcessingMs = newest + kMsPerSecond;
    VirtualClock clock(data.events.front().eventTimeMs);
    VectorSource source(std::move(records), spec.stream.partitions);
    source.setBatchSizes(100, 700, spec.stream.seed);
    Pipeline pipeline(data.config, source, clock);
    RecoveryReport report;
    if (!checkpointer->recover(pipeline, source, report, error)) {
        qWarning("recover: %s", error.c_str());
        return false;
    }
    while (pipeline.step() != PollResult::EndOfStream)
        checkpointer->afterStep();
    if (spec.finish)
        pipeline.finish();
    if (!checkpointer->checkpointNow(error) || !checkpointer->close(error)) {
        qWarning("checkpoint: %s", error.c_str());
        return false;
    }
    data.speed = runOracle(data.events, data.config, spec.stream.partitions);
    for (const auto& [key, cell] : data.speed.cells)
        data.speedCells[key] = cell.count;
    data.batchCells = batchOracle(data.events);
    return true;
}

/// Copies a closed data directory (database, WAL, raw log) so a test may change its copy.
inline bool copyDataDirectory(const QString& from, const QString& to)
{
    std::error_code ec;
    std::filesystem::copy(from.toStdString(), to.toStdString(),
        std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing, ec);
    if (ec)
        qWarning("copy: %s", ec.message().c_str());
    return !ec;
}

/// Merged [from, to) ranges covered by batch runs.
using Coverage = std::vector<std::pair<TimeMs, TimeMs>>;

/// The row granularity a test expects at time t (the store's rollup cutoffs).
struct Levels {
    TimeMs minuteCutoffMs = kMinTimeMs;
    TimeMs hourCutoffMs = kMinTimeMs;
    TimeMs sizeAt(TimeMs t) const
    {
        if (t < std::min(hourCutoffMs, minuteCutoffMs))
            return kMsPerDay;
        return t < minuteCutoffMs ? kMsPerHour : kMsPerMinute;
    }
};

inline bool covered(const Coverage& cov, TimeMs from, TimeMs to)
{
    return std::any_of(cov.begin(), cov.end(), [&](const auto& c) { return c.first <= from && to <= c.second; });
}

/// Brute-force rows answer: Σ over cells of `ad` in [from, to), each bucket (minute, or the
/// hour/day it was rolled into) from the batch cells if a batch run covers the whole bucket,
/// else from the speed cells. keep filters cells (region / class).
inline std::uint64_t expectedRows(const DataSet& d, const Coverage& cov, AdId ad, TimeMs from, TimeMs to,
    const Levels& levels = {}, const std::function<bool(const WindowKey&)>& keep = {})
{
    std::uint64_t n = 0;
    for (bool batch : { false, true })
        for (const auto& [key, count] : batch ? d.batchCells : d.speedCells) {
            if (key.adId != ad || key.windowStartMs < from || key.windowStartMs >= to || (keep && !keep(key)))
                continue;
            const TimeMs size = levels.sizeAt(key.windowStartMs);
            const TimeMs bucket = windowStartOf(key.windowStartMs, size);
            if (covered(cov, bucket, bucket + size) == batch)
                n += count;
        }
    return n;
}

inline bool inPrefix(const IpBytes& ip, const IpBytes& base, int bits)
{
    for (int i = 0; i < 128 && i < bits; ++i) {
        const int bit = 7 - i % 8;
        if (((ip[i / 8] >> bit) & 1) != ((base[i / 8] >> bit) & 1))
            return false;
    }
    return true;
}

inline std::string lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

/// Brute-force raw answer: records of `ad` with event time in [from, to) that match, a click id
/// once per (ad, minute) — the first copy in log order, as the batch layer keeps it. Records before
/// firstSequence (the raw log sequence = the index in d.events) are left out.
inline std::uint64_t expectedRaw(const DataSet& d, AdId ad, TimeMs from, TimeMs to,
    const std::function<bool(const ClickEvent&, const std::string&)>& match, std::size_t firstSequence = 0)
{
    std::uint64_t n = 0;
    std::set<std::pair<TimeMs, std::uint64_t>> seen;
    for (std::size_t i = firstSequence; i < d.events.size(); ++i) {
        const ClickEvent& e = d.events[i];
        if (e.adId != ad || e.eventTimeMs < from || e.eventTimeMs >= to)
            continue;
        if (e.clickId != 0 && !seen.insert({ windowStartOf(e.eventTimeMs, kMsPerMinute), e.clickId }).second)
            continue;
        if (match(e, d.uaText[e.uaId]))
            ++n;
    }
    return n;
}

/// Ads ordered by the number of events (busiest first).
inline std::vector<AdId> adsByVolume(const DataSet& d)
{
    std::map<AdId, std::uint64_t> n;
    for (const auto& [key, count] : d.batchCells)
        n[key.adId] += count;
    std::vector<AdId> ads;
    for (const auto& [ad, count] : n)
        ads.push_back(ad);
    std::stable_sort(ads.begin(), ads.end(), [&](AdId a, AdId b) { return n[a] > n[b]; });
    return ads;
}

inline std::unique_ptr<SqliteStore> openWritable(const QString& dir)
{
    std::string error;
    auto store = SqliteStore::open((dir + "/adclick.db").toStdString(), {}, error);
    if (!store)
        qWarning("store: %s", error.c_str());
    return store;
}

/// Records a batch run over [from, to) whose rows are the batch oracle's cells (so rows tests do
/// not depend on the batch job).
inline bool writeOracleBatchRun(SqliteStore& store, const DataSet& d, TimeMs from, TimeMs to)
{
    std::vector<BatchCell> cells;
    for (const auto& [key, count] : d.batchCells)
        if (key.windowStartMs >= from && key.windowStartMs < to) {
            BatchCell c;
            c.key = key;
            c.count = count;
            cells.push_back(c);
        }
    BatchRunRecord run;
    run.fromMs = from;
    run.toMs = to;
    run.trigger = "test";
    return store.writeBatchRun(run, cells) == StoreStatus::Ok;
}

inline QString describe(const CountResult& r)
{
    QString s = QString("total=%1 path=%2 [%3, %4) batch=%5 final=%6 open=%7 raw=%8 missing=%9 error=%10")
                    .arg(r.total)
                    .arg(QString::fromStdString(std::string(countPathName(r.path))))
                    .arg(QString::fromStdString(formatIsoUtc(r.fromMs)))
                    .arg(QString::fromStdString(formatIsoUtc(r.toMs)))
                    .arg(r.provenance.batchWindows)
                    .arg(r.provenance.speedFinalWindows)
                    .arg(r.provenance.openWindows)
                    .arg(r.provenance.rawLogWindows)
                    .arg(r.provenance.missingWindows)
                    .arg(QString::fromStdString(r.error));
    for (const std::string& n : r.notes)
        s += "\n  note: " + QString::fromStdString(n);
    return s;
}

/// The service's options for a data set written with the data set's pipeline configuration.
inline QueryService::Options queryOptions(const DataSet& d)
{
    QueryService::Options o;
    o.windowMs = kMsPerMinute;
    o.allowedLatenessMs = d.config.window.allowedLatenessMs;
    return o;
}

inline std::uint64_t windowsIn(TimeMs from, TimeMs to)
{
    return static_cast<std::uint64_t>((to - from) / kMsPerMinute);
}

inline TimeMs ceilMinute(TimeMs t)
{
    const TimeMs f = windowStartOf(t, kMsPerMinute);
    return f == t ? t : f + kMsPerMinute;
}

/// Windows of [from, to) that a batch run covers.
inline std::uint64_t coveredWindows(const Coverage& cov, TimeMs from, TimeMs to)
{
    std::uint64_t n = 0;
    for (TimeMs m = from; m < to; m += kMsPerMinute)
        n += covered(cov, m, m + kMsPerMinute) ? 1 : 0;
    return n;
}

} // namespace adclick::test
