// The batch layer's throughput and latency, each figure next to a baseline measured in the same process:
//
//   (1) exact recount (countRawLog) of a page-cached raw log with 1 and 2 threads: records/s, and
//       the speedup of 2 threads over 1. The log is written by the real speed layer (generator →
//       Pipeline → RawLogWriter through a PipelineSink), so every record carries its disposition.
//   (2) peer baseline: SQLite (in-memory, loaded from the same raw records, loading not timed;
//       --sqlite-events N for the first N only) running the same exact per-cell unique-click count
//         SELECT ad_id, minute, country, device, count(DISTINCT click_id) FROM clicks GROUP BY …
//       The generator's resends carry all fields of the original (ad, event time, user → country,
//       device), so count(DISTINCT click_id) per cell equals the batch layer's "a click id counts
//       once per ad and minute". Both totals and cell counts must agree (exit 1 otherwise).
//   (3) an IP-filtered count (one popular ad + one exact IPv4 address) over M minutes of raw log
//       at 50 K clicks/s, 2 threads: latency, records scanned, blocks skipped. This log is written
//       from the generator directly (dispositions all Counted; the count does not depend on them).
//
// Usage: bench_batch [--events N] [--runs N] [--sqlite-events N] [--sqlite-threads N]
//                    [--ip-minutes M | --ip-hour | --skip-ip] [--dir PATH] [--export-tsv PATH]
// --export-tsv writes every record of the log of (1) as "ad_id<TAB>unix seconds<TAB>country<TAB>
// device<TAB>click_id" lines (the same events, for a peer such as ClickHouse; scripts/bench);
// --skip-ip skips (3). The last line is a RESULT line of key=value figures for scripts/bench.
// Logs go to a temporary directory under --dir (default /tmp), removed at exit.

#include "batch/batch_counter.h"
#include "core/ad_dictionary.h"
#include "core/clock.h"
#include "ingest/ip_address.h"
#include "ingest/synthetic_source.h"
#include "ingest/user_agent.h"
#include "pipeline/pipeline.h"
#include "storage/raw_log.h"
#include "storage/sqlite_handle.h"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <tuple>
#include <vector>

using namespace adclick::engine;
namespace fs = std::filesystem;

namespace {

using SteadyClock = std::chrono::steady_clock;

std::string g_tempDir; // removed by atexit, also on the error exits

[[noreturn]] void fail(const std::string& what)
{
    std::fprintf(stderr, "bench_batch: %s\n", what.c_str());
    std::exit(1); // NOLINT(concurrency-mt-unsafe): only the main thread calls fail()
}

double secondsSince(SteadyClock::time_point t0)
{
    return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

struct Timing {
    double median = 0, min = 0, max = 0; // seconds
};

/// One warm-up call (unless warmUp is false), then `runs` timed calls of body().
template <typename F> Timing timeRuns(int runs, F&& body, bool warmUp = true)
{
    if (warmUp)
        body();
    std::vector<double> s;
    for (int i = 0; i < runs; ++i) {
        const auto t0 = SteadyClock::now();
        body();
        s.push_back(secondsSince(t0));
    }
    std::sort(s.begin(), s.end());
    return { s[s.size() / 2], s.front(), s.back() };
}

/// Appends every accepted event of a polled batch (with the speed layer's disposition) to the log,
/// like the Checkpointer does; takes a cut once `cutAtRecords` records are in (the SQLite subset).
class RawLogSink final : public PipelineSink {
public:
    RawLogSink(RawLogWriter& writer, std::uint64_t cutAtRecords)
        : m_writer(writer)
        , m_cutAt(cutAtRecords)
    {
    }
    void onBatch(const IngestBatch& batch) override
    {
        if (batch.events.empty())
            return;
        if (!m_writer.append(batch.events.data(), batch.events.size(), batch.processingTimeMs))
            fail("raw log append: " + m_writer.error());
        if (!m_cut && m_cutAt != 0 && m_writer.recordsWritten() >= m_cutAt) {
            RawLogWriter::Cut cut;
            if (!m_writer.cut(cut))
                fail("raw log cut: " + m_writer.error());
            m_cut = cut.end;
        }
    }
    const std::optional<RawLogPosition>& cutEnd() const { return m_cut; }

private:
    RawLogWriter& m_writer;
    std::uint64_t m_cutAt;
    std::optional<RawLogPosition> m_cut;
};

std::unique_ptr<RawLogWriter> openWriter(
    const std::string& dir, const UserAgentDictionary& uas, const AdDictionary& ads)
{
    RawLogConfig rc;
    rc.directory = dir;
    std::string error;
    auto w = RawLogWriter::open(rc, nullptr, uas, ads, error);
    if (!w)
        fail("raw log open: " + error);
    return w;
}

struct LogFacts {
    std::uint64_t records = 0, bytes = 0, segments = 0;
    TimeMs minMs = 0, maxMs = 0;
};

LogFacts describeLog(const std::string& dir)
{
    LogFacts f;
    RawLogReader reader(dir);
    bool first = true;
    for (const RawSegmentInfo& s : reader.segments()) {
        ++f.segments;
        f.records += s.records;
        f.bytes += s.bytes;
        if (s.records == 0)
            continue;
        f.minMs = first ? s.minEventTimeMs : std::min(f.minMs, s.minEventTimeMs);
        f.maxMs = first ? s.maxEventTimeMs : std::max(f.maxMs, s.maxEventTimeMs);
        first = false;
    }
    return f;
}

BatchCountResult count(const std::string& dir, const LogFacts& log, unsigned threads,
    const RawRecordFilter& filter = {}, std::optional<RawLogPosition> end = std::nullopt)
{
    BatchCountOptions o;
    o.fromMs = log.minMs;
    o.toMs = log.maxMs + 1;
    o.threads = threads;
    o.filter = filter;
    o.end = end;
    BatchCountResult r = countRawLog(dir, o);
    if (!r.ok())
        fail("countRawLog: " + r.error);
    if (!r.damage.empty())
        fail("countRawLog reported damage: " + r.damage.front().reason);
    return r;
}

/// The SQLite peer: an in-memory table of the same raw records and the same exact count.
class SqlitePeer {
public:
    explicit SqlitePeer(int helperThreads)
    {
        const SqliteStatus st = SqliteDb::open(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, m_db);
        if (!st.ok())
            fail("sqlite open: " + st.message);
        // Default page cache and temp store: a bigger cache or temp_store=MEMORY made this query
        // 30-50 % slower (its sorter merges bigger in-memory runs).
        const std::string pragma = "PRAGMA threads=" + std::to_string(helperThreads) + ";";
        check(m_db.exec(pragma.c_str()));
        check(m_db.exec("CREATE TABLE clicks(ad_id INTEGER, minute INTEGER, country INTEGER, device INTEGER,"
                        " click_id INTEGER); BEGIN;"));
        check(m_db.prepare("INSERT INTO clicks VALUES(?,?,?,?,?)", m_insert));
    }
    void add(const ClickEvent& e)
    {
        m_insert.bindInt64(1, e.adId)
            .bindInt64(2, windowStartOf(e.eventTimeMs, kMsPerMinute) / kMsPerMinute)
            .bindInt64(3, e.country)
            .bindInt64(4, static_cast<int>(e.device))
            .bindInt64(5, static_cast<std::int64_t>(e.clickId));
        check(m_insert.run());
        m_insert.reset();
        ++m_rows;
    }
    void finishLoading() { check(m_db.exec("COMMIT;")); }
    /// Runs the query, stepping through every result row: (Σ counts, result rows).
    std::pair<std::uint64_t, std::uint64_t> query()
    {
        if (!m_select.valid())
            check(m_db.prepare("SELECT ad_id, minute, country, device, count(DISTINCT click_id) FROM clicks"
                               " GROUP BY ad_id, minute, country, device",
                m_select));
        std::uint64_t total = 0, rows = 0;
        SqliteStatement::Step s;
        while ((s = m_select.step()) == SqliteStatement::Step::Row) {
            total += static_cast<std::uint64_t>(m_select.columnInt64(4));
            ++rows;
        }
        if (s == SqliteStatement::Step::Error)
            fail("sqlite query: " + m_select.status().message);
        m_select.reset();
        return { total, rows };
    }
    std::uint64_t rows() const { return m_rows; }

private:
    static void check(const SqliteStatus& st)
    {
        if (!st.ok())
            fail("sqlite: " + st.message);
    }
    SqliteDb m_db;
    SqliteStatement m_insert, m_select;
    std::uint64_t m_rows = 0;
};

double mega(double v)
{
    return v / 1e6;
}

} // namespace

int main(int argc, char** argv)
{
    std::uint64_t events = 20000000;
    std::uint64_t sqliteEvents = 0; // 0 = all records of the log; else the first N (the ratio is per event)
    int runs = 5;
    int sqliteThreads = 1; // PRAGMA threads: helper threads of SQLite's sorter (1 = two cores in use)
    int ipMinutes = 10;
    bool skipIp = false;
    std::string exportTsv;
    std::string base = "/tmp";
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--ip-hour") {
            ipMinutes = 60;
            continue;
        }
        if (a == "--skip-ip") {
            skipIp = true;
            continue;
        }
        if (i + 1 >= argc)
            fail("usage: bench_batch [--events N] [--runs N] [--sqlite-events N] [--sqlite-threads N] "
                 "[--ip-minutes M | --ip-hour] [--dir PATH]");
        const char* v = argv[++i];
        if (a == "--events")
            events = std::strtoull(v, nullptr, 10);
        else if (a == "--runs")
            runs = std::max(1, std::atoi(v));
        else if (a == "--sqlite-events")
            sqliteEvents = std::strtoull(v, nullptr, 10);
        else if (a == "--sqlite-threads")
            sqliteThreads = std::max(0, std::atoi(v));
        else if (a == "--ip-minutes")
            ipMinutes = std::max(1, std::atoi(v));
        else if (a == "--dir")
            base = v;
        else if (a == "--export-tsv")
            exportTsv = v;
        else
            fail("unknown option " + a);
    }
    const auto benchStart = SteadyClock::now();
    g_tempDir = base + "/adclick-bench-batch-" + std::to_string(::getpid());
    fs::create_directories(g_tempDir);
    std::atexit([] {
        std::error_code ec;
        fs::remove_all(g_tempDir, ec);
    });
    std::printf("adclick batch benchmark: median of %d runs after a warm-up (min, max alongside); logs in %s\n\n", runs,
        g_tempDir.c_str());

    // ---- (1) recount of a page-cached raw log written by the speed layer --------------------------
    const std::string rawDir = g_tempDir + "/raw";
    const GeneratorConfig g; // defaults: 100 K ads, Zipf 1.1, 0.5 % resends, 1 % late, 0.1 % malformed
    std::optional<RawLogPosition> sqliteEnd;
    double buildSeconds = 0;
    {
        const auto t0 = SteadyClock::now();
        VirtualClock clock(g.startTimeMs);
        AdDictionary ads;
        UserAgentDictionary uas;
        SyntheticSource source(g, clock, ads, uas);
        source.setLimit(events);
        auto writer = openWriter(rawDir, uas, ads);
        RawLogSink sink(*writer, sqliteEvents != 0 && sqliteEvents < events ? sqliteEvents : 0);
        Pipeline pipeline(PipelineConfig {}, source, clock);
        pipeline.addSink(&sink);
        while (pipeline.step() != PollResult::EndOfStream) { }
        pipeline.finish();
        if (!writer->close())
            fail("raw log close: " + writer->error());
        sqliteEnd = sink.cutEnd();
        buildSeconds = secondsSince(t0);
    }
    const LogFacts log = describeLog(rawDir);

    // One read of the whole log: warms the page cache and loads the SQLite table (records of the
    // subset only, when one is asked for).
    SqlitePeer sqlite(sqliteThreads);
    double loadSeconds = 0;
    {
        const auto t0 = SteadyClock::now();
        const std::uint64_t sqliteLimit = sqliteEnd ? sqliteEnd->nextSequence : UINT64_MAX;
        std::uint64_t withoutClickId = 0;
        std::FILE* tsv = exportTsv.empty() ? nullptr : std::fopen(exportTsv.c_str(), "w");
        if (!exportTsv.empty() && !tsv)
            fail("cannot write " + exportTsv);
        RawLogReader reader(rawDir);
        reader.scanFromSequence(0, [&](const RawRecord& rec) {
            if (tsv)
                std::fprintf(tsv, "%u\t%lld\t%u\t%d\t%llu\n", rec.event.adId,
                    static_cast<long long>(rec.event.eventTimeMs / 1000), static_cast<unsigned>(rec.event.country),
                    static_cast<int>(rec.event.device), static_cast<unsigned long long>(rec.event.clickId));
            if (rec.sequence < sqliteLimit) {
                sqlite.add(rec.event);
                withoutClickId += rec.event.clickId == 0;
            }
            return true;
        });
        sqlite.finishLoading();
        if (tsv && std::fclose(tsv) != 0)
            fail("cannot write " + exportTsv);
        if (reader.damagedBlocks() != 0)
            fail("raw log damaged: " + reader.damage().front().reason);
        if (withoutClickId != 0) // count(DISTINCT) would then differ from the batch rule by design
            fail(std::to_string(withoutClickId) + " records without click id: the SQLite query does not model them");
        loadSeconds = secondsSince(t0);
    }
    std::printf(
        "(1) batch recount: %.2f M records (generator defaults through the speed layer, %.0f s to build),\n"
        "    %.1f MB raw log in %llu segments (%.1f bytes/record), page-cached; range %.1f minutes of event time\n",
        mega(static_cast<double>(log.records)), buildSeconds, static_cast<double>(log.bytes) / 1e6,
        static_cast<unsigned long long>(log.segments),
        static_cast<double>(log.bytes) / static_cast<double>(log.records),
        static_cast<double>(log.maxMs - log.minMs) / kMsPerMinute);
    std::fflush(stdout);

    BatchCountResult reference = count(rawDir, log, 2);
    std::uint64_t counted = reference.counted;
    auto recount = [&](unsigned threads) {
        return timeRuns(runs, [&] {
            const BatchCountResult r = count(rawDir, log, threads);
            if (r.counted != counted || r.cells.size() != reference.cells.size() || r.recordsRead != log.records)
                fail("recount with " + std::to_string(threads) + " threads differs: " + std::to_string(r.counted)
                    + " vs " + std::to_string(counted));
        });
    };
    const Timing one = recount(1);
    const Timing two = recount(2);
    const auto records = static_cast<double>(log.records);
    std::printf("    %-34s %12s %8s %8s %9s %10s\n", "workload", "M records/s", "min", "max", "median s", "vs 1 thr");
    std::printf("    %-34s %12.2f %8.2f %8.2f %9.3f %9.2fx\n", "countRawLog, 1 thread", mega(records / one.median),
        mega(records / one.max), mega(records / one.min), one.median, 1.0);
    std::printf("    %-34s %12.2f %8.2f %8.2f %9.3f %9.2fx\n", "countRawLog, 2 threads", mega(records / two.median),
        mega(records / two.max), mega(records / two.min), two.median, one.median / two.median);
    std::printf("    counted %llu of %llu records (%llu duplicates) in %zu cells, %u slice(s)\n\n",
        static_cast<unsigned long long>(counted), static_cast<unsigned long long>(log.records),
        static_cast<unsigned long long>(reference.duplicates), reference.cells.size(), reference.slices);
    std::fflush(stdout);

    // ---- (2) SQLite over the same records ---------------------------------------------------------
    std::pair<std::uint64_t, std::uint64_t> sqliteResult;
    // ~40 s per run over 20 M rows: the median of up to 3 runs, no warm-up (the table was just
    // loaded, so its pages are hot), like bench_storage's baseline.
    const int sqliteRuns = std::min(runs, 3);
    const Timing sq = timeRuns(
        sqliteRuns, [&] { sqliteResult = sqlite.query(); }, false);
    // The batch count of exactly the records SQLite holds (the whole log, or up to the subset's cut).
    const BatchCountResult same = sqliteEnd ? count(rawDir, log, 2, {}, sqliteEnd) : reference;
    const auto sqRows = static_cast<double>(sqlite.rows());
    const double batchRate = records / two.median;
    const double sqliteRate = sqRows / sq.median;
    std::printf("(2) peer baseline: SQLite %s, in-memory table of %.2f M rows%s (loaded in %.0f s, not timed),\n"
                "    PRAGMA threads=%d; SQLite: median of %d runs without warm-up\n",
        sqlite3_libversion(), mega(sqRows), sqliteEnd ? " (a subset: the first records of the log)" : "", loadSeconds,
        sqliteThreads, sqliteRuns);
    std::printf("    %-58s %11s %8s %8s %9s %10s\n", "workload", "M events/s", "min", "max", "median s", "vs SQLite");
    std::printf("    %-58s %11.3f %8.3f %8.3f %9.3f %9.2fx\n",
        "SQLite GROUP BY ad,minute,country,device count(DISTINCT)", mega(sqliteRate), mega(sqRows / sq.max),
        mega(sqRows / sq.min), sq.median, 1.0);
    std::printf("    %-58s %11.3f %8.3f %8.3f %9.3f %9.2fx\n", "countRawLog, 2 threads (part 1)", mega(batchRate),
        mega(records / two.max), mega(records / two.min), two.median, batchRate / sqliteRate);
    const bool equal = same.counted == sqliteResult.first && same.cells.size() == sqliteResult.second;
    std::printf("    totals: batch %llu clicks in %zu cells, SQLite %llu clicks in %llu rows: %s\n\n",
        static_cast<unsigned long long>(same.counted), same.cells.size(),
        static_cast<unsigned long long>(sqliteResult.first), static_cast<unsigned long long>(sqliteResult.second),
        equal ? "equal" : "DIFFERENT");
    std::fflush(stdout);
    if (!equal)
        fail("the batch layer and SQLite disagree");

    std::printf("RESULT records=%llu counted=%llu cells=%zu batch1_median=%.0f batch1_min=%.0f batch1_max=%.0f "
                "batch2_median=%.0f batch2_min=%.0f batch2_max=%.0f sqlite_rows=%.0f sqlite_median=%.0f "
                "sqlite_min=%.0f sqlite_max=%.0f sqlite_runs=%d\n",
        static_cast<unsigned long long>(log.records), static_cast<unsigned long long>(counted), reference.cells.size(),
        records / one.median, records / one.max, records / one.min, batchRate, records / two.max, records / two.min,
        sqRows, sqliteRate, sqRows / sq.max, sqRows / sq.min, sqliteRuns);
    std::fflush(stdout);
    if (skipIp)
        return 0;

    // ---- (3) IP-filtered count over M minutes at 50 K/s -------------------------------------------
    fs::remove_all(rawDir); // only one big log on disk at a time
    const std::string ipDir = g_tempDir + "/raw-ip";
    GeneratorConfig gi;
    gi.ratePerSec = 50000;
    const std::uint64_t ipRecords = static_cast<std::uint64_t>(ipMinutes) * 60 * 50000;
    AdId topAd = 0;
    double topShare = 0;
    IpBytes ip {};
    {
        const auto t0 = SteadyClock::now();
        VirtualClock clock(gi.startTimeMs);
        AdDictionary ads;
        UserAgentDictionary uas;
        SyntheticSource source(gi, clock, ads, uas);
        source.setLimit(ipRecords);
        auto writer = openWriter(ipDir, uas, ads);
        std::vector<std::uint64_t> perAd(gi.adCount + 1);
        std::vector<IpBytes> firstV4(gi.adCount + 1);
        std::vector<bool> haveV4(gi.adCount + 1);
        IngestBatch batch;
        PollResult pr = PollResult::Events;
        while (pr != PollResult::EndOfStream) {
            batch.clear();
            pr = source.poll(batch, 8192);
            for (const ClickEvent& e : batch.events) {
                if (e.adId > gi.adCount)
                    continue;
                ++perAd[e.adId];
                if (!e.isIpv6() && !haveV4[e.adId]) {
                    haveV4[e.adId] = true;
                    firstV4[e.adId] = e.ip;
                }
            }
            if (!batch.events.empty()
                && !writer->append(batch.events.data(), batch.events.size(), batch.processingTimeMs))
                fail("raw log append: " + writer->error());
        }
        if (!writer->close())
            fail("raw log close: " + writer->error());
        topAd = static_cast<AdId>(std::max_element(perAd.begin(), perAd.end()) - perAd.begin());
        ip = firstV4[topAd];
        topShare = static_cast<double>(perAd[topAd])
            / static_cast<double>(std::max<std::uint64_t>(1, writer->recordsWritten()));
        std::printf(
            "(3) IP-filtered count: %d minutes of raw log at 50 K clicks/s written from the generator in %.0f s "
            "(dispositions all Counted)\n",
            ipMinutes, secondsSince(t0));
    }
    const LogFacts ipLog = describeLog(ipDir);
    const std::string ipText = formatIp(ip);
    RawRecordFilter filter;
    filter.adId = topAd;
    filter.ip = IpPrefix::parse(ipText);
    if (!filter.ip)
        fail("cannot parse " + ipText);
    // The oracle, in the page-cache warm-up read: a click id counts once per ad and minute.
    std::uint64_t expected = 0;
    {
        std::set<std::tuple<std::uint64_t, TimeMs>> seen;
        RawLogReader reader(ipDir);
        reader.scanFromSequence(0, [&](const RawRecord& rec) {
            const ClickEvent& e = rec.event;
            if (e.adId == topAd && e.ip == ip
                && (e.clickId == 0 || seen.insert({ e.clickId, windowStartOf(e.eventTimeMs, kMsPerMinute) }).second))
                ++expected;
            return true;
        });
    }
    BatchCountResult last;
    const Timing lat = timeRuns(runs, [&] {
        last = count(ipDir, ipLog, 2, filter);
        if (last.counted != expected)
            fail("filtered count " + std::to_string(last.counted) + " != oracle " + std::to_string(expected));
    });
    const auto blocks = static_cast<double>(last.blocksRead + last.blocksSkipped);
    const double scale = 60.0 / ipMinutes;
    std::printf("    %.2f M records, %.1f GB in %llu segments; filter: ad %u (the most clicked, %.1f %% of records)"
                " and ip %s\n",
        mega(static_cast<double>(ipLog.records)), static_cast<double>(ipLog.bytes) / 1e9,
        static_cast<unsigned long long>(ipLog.segments), topAd, 100.0 * topShare, ipText.c_str());
    std::printf("    %-34s %10s %8s %8s %13s %10s %8s\n", "workload", "median ms", "min", "max", "recs scanned",
        "blocks skp", "matches");
    std::printf("    %-34s %10.0f %8.0f %8.0f %13llu %9.1f%% %8llu\n", "countRawLog ad+ip, 2 threads", lat.median * 1e3,
        lat.min * 1e3, lat.max * 1e3, static_cast<unsigned long long>(last.recordsRead),
        blocks > 0 ? 100.0 * static_cast<double>(last.blocksSkipped) / blocks : 0.0,
        static_cast<unsigned long long>(last.counted));
    // Each time slice re-reads the blocks that overlap it (late events make neighbours overlap).
    const std::uint64_t segmentVisits = last.segmentsSkipped + last.segmentsRead;
    std::printf(
        "    scanned %.1f M records/s; %u time slice(s) read %.2fx the log's records; segment visits skipped by "
        "header %llu of %llu\n",
        mega(static_cast<double>(last.recordsRead) / lat.median), last.slices,
        static_cast<double>(last.recordsRead) / static_cast<double>(ipLog.records),
        static_cast<unsigned long long>(last.segmentsSkipped), static_cast<unsigned long long>(segmentVisits));
    const std::uint64_t sliceRecords = BatchCountOptions {}.maxRecordsPerSlice;
    const std::uint64_t hourSlices = (180000000ull + sliceRecords - 1) / sliceRecords;
    if (ipMinutes < 60)
        std::printf("    1 hour at 50 K/s (180 M records), EXTRAPOLATED linearly (x%.1f) from %d minutes: ~%.0f ms\n"
                    "    (likely low: 180 M records are counted in %llu time slices of <= 48 M, which re-read "
                    "overlapping blocks; measure with --ip-hour)\n",
            scale, ipMinutes, lat.median * scale * 1e3, static_cast<unsigned long long>(hourSlices));
    fs::remove_all(ipDir);

    const std::string span = ipMinutes == 60 ? "1 hour" : std::to_string(ipMinutes) + " min";
    const std::string extrapolated = ipMinutes >= 60
        ? ""
        : " (1 hour extrapolated: ~" + std::to_string(static_cast<long long>(lat.median * scale * 1e3)) + " ms)";
    std::printf("\nsummary: recount %.1f M events/s on 2 threads (goal 50 M/s: %.0f %%), %.1fx SQLite; "
                "IP-filtered count over %s: %.0f ms%s; whole run %.0f s\n",
        mega(batchRate), 100.0 * batchRate / 50e6, batchRate / sqliteRate, span.c_str(), lat.median * 1e3,
        extrapolated.c_str(), secondsSince(benchStart));
    return 0;
}
