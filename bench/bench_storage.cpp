// Storage throughput, each figure next to a baseline measured in the same process:
//
//   (d) SQLite checkpoint: N changed minute rows UPSERTed in one checkpoint transaction
//       vs the same rows upserted one statement per transaction (autocommit) — the baseline
//   (e) raw click log: append (encode + write to the page cache) and full read-back of the same
//       events; bytes per event vs the 64-byte in-memory ClickEvent
//   (f) end to end in virtual time: generator → raw log → windows + top-K → checkpoints every
//       second of processing time, vs the same pipeline with no store; the longest ingest stall a
//       checkpoint caused (capture + raw log cut on the ingest thread) and the longest commit
//
// Usage: bench_storage [--rows N] [--events N] [--runs N] [--dir PATH]
// Files go to a temporary directory under --dir (default /tmp), removed at the end.

#include "core/ad_dictionary.h"
#include "core/clock.h"
#include "ingest/synthetic_source.h"
#include "ingest/user_agent.h"
#include "pipeline/pipeline.h"
#include "storage/checkpointer.h"
#include "storage/raw_log.h"
#include "storage/sqlite_store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

using namespace adclick::engine;
namespace fs = std::filesystem;

namespace {

struct Stats {
    double median = 0, min = 0, max = 0; // items per second
};

Stats measure(int runs, std::size_t items, const std::function<void()>& body, const std::function<void()>& reset = {})
{
    if (reset)
        reset();
    body(); // warm-up
    std::vector<double> rates;
    for (int i = 0; i < runs; ++i) {
        if (reset)
            reset();
        const auto t0 = std::chrono::steady_clock::now();
        body();
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        rates.push_back(static_cast<double>(items) / s);
    }
    std::sort(rates.begin(), rates.end());
    return { rates[rates.size() / 2], rates.front(), rates.back() };
}

void print(const char* name, const char* unit, const Stats& s, const Stats* baseline)
{
    std::printf("%-58s %8.3f M %s/s  (min %.3f, max %.3f)", name, s.median / 1e6, unit, s.min / 1e6, s.max / 1e6);
    if (baseline)
        std::printf("  ratio vs baseline %.1fx", s.median / baseline->median);
    std::printf("\n");
    std::fflush(stdout);
}

std::vector<MinuteRow> randomRows(std::size_t n, std::uint64_t seed)
{
    std::mt19937_64 rng(seed);
    std::vector<MinuteRow> rows(n);
    const TimeMs base = 1767225600000LL;
    for (std::size_t i = 0; i < n; ++i) {
        MinuteRow& r = rows[i];
        r.key.adId = static_cast<AdId>(rng() % 1000000);
        r.key.windowStartMs = base + static_cast<TimeMs>(i % 3) * kMsPerMinute;
        r.key.country = packCountry('A' + static_cast<char>(rng() % 26), 'A' + static_cast<char>(rng() % 26));
        r.key.device = static_cast<DeviceClass>(rng() % kDeviceClassCount);
        r.count = 1 + rng() % 1000;
        r.final = (i & 1) != 0;
    }
    return rows;
}

/// The baseline: the same UPSERT, one autocommitted statement per row (WAL, synchronous=NORMAL,
/// like the store), through the SQLite C API directly.
double upsertOnePerTransaction(const std::string& path, const std::vector<MinuteRow>& rows)
{
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db,
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        "CREATE TABLE IF NOT EXISTS speed_minute(ad_id INTEGER, window_start INTEGER, country INTEGER, device INTEGER,"
        " count INTEGER, late_updated INTEGER, late_dropped INTEGER DEFAULT 0, revision INTEGER, final INTEGER,"
        " PRIMARY KEY(ad_id, window_start, country, device)) WITHOUT ROWID;",
        nullptr, nullptr, nullptr);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db,
        "INSERT INTO speed_minute(ad_id, window_start, country, device, count, late_updated, revision, final)"
        " VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(ad_id, window_start, country, device) DO UPDATE SET"
        " count=excluded.count, late_updated=excluded.late_updated, revision=excluded.revision, final=excluded.final",
        -1, &st, nullptr);
    const auto t0 = std::chrono::steady_clock::now();
    for (const MinuteRow& r : rows) {
        sqlite3_bind_int64(st, 1, r.key.adId);
        sqlite3_bind_int64(st, 2, r.key.windowStartMs);
        sqlite3_bind_int64(st, 3, r.key.country);
        sqlite3_bind_int64(st, 4, static_cast<int>(r.key.device));
        sqlite3_bind_int64(st, 5, static_cast<sqlite3_int64>(r.count));
        sqlite3_bind_int64(st, 6, static_cast<sqlite3_int64>(r.lateUpdated));
        sqlite3_bind_int64(st, 7, r.revision);
        sqlite3_bind_int64(st, 8, r.final ? 1 : 0);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sqlite3_finalize(st);
    sqlite3_close(db);
    return static_cast<double>(rows.size()) / s;
}

GeneratorConfig benchGenerator()
{
    GeneratorConfig g;
    g.seed = 7;
    g.adCount = 100000;
    g.ratePerSec = 50000;
    g.lateFraction = 0.01;
    g.duplicateFraction = 0.005;
    g.malformedFraction = 0.001;
    return g;
}

/// Generator → pipeline (→ checkpointer when dir is non-empty) to the end of `events` records.
CheckpointStats endToEnd(std::uint64_t events, const std::string& dir)
{
    const GeneratorConfig g = benchGenerator();
    VirtualClock clock(g.startTimeMs);
    AdDictionary ads;
    UserAgentDictionary uas;
    std::unique_ptr<Checkpointer> cp;
    std::string error;
    if (!dir.empty()) {
        fs::remove_all(dir);
        CheckpointerConfig cc;
        cc.dataDirectory = dir;
        cc.sourceKey = "bench";
        cp = Checkpointer::open(cc, ads, uas, error);
        if (!cp) {
            std::fprintf(stderr, "bench_storage: %s\n", error.c_str());
            std::exit(1);
        }
    }
    SyntheticSource source(g, clock, ads, uas);
    source.setLimit(events);
    PipelineConfig pc;
    Pipeline pipeline(pc, source, clock);
    RecoveryReport rep;
    if (cp && !cp->recover(pipeline, source, rep, error)) {
        std::fprintf(stderr, "bench_storage: %s\n", error.c_str());
        std::exit(1);
    }
    while (true) {
        if (cp && cp->paused()) {
            usleep(1000);
            cp->afterStep();
            continue;
        }
        const PollResult r = pipeline.step();
        if (cp)
            cp->afterStep();
        if (r == PollResult::EndOfStream)
            break;
    }
    pipeline.finish();
    if (!cp)
        return {};
    if (!cp->close(error)) {
        std::fprintf(stderr, "bench_storage: %s\n", error.c_str());
        std::exit(1);
    }
    return cp->stats();
}

} // namespace

int main(int argc, char** argv)
{
    std::size_t rowCount = 100000;
    std::uint64_t events = 20000000;
    int runs = 5;
    std::string base = "/tmp";
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--rows")
            rowCount = std::strtoull(argv[i + 1], nullptr, 10);
        else if (a == "--events")
            events = std::strtoull(argv[i + 1], nullptr, 10);
        else if (a == "--runs")
            runs = std::max(1, std::atoi(argv[i + 1]));
        else if (a == "--dir")
            base = argv[i + 1];
        else {
            std::fprintf(stderr, "usage: bench_storage [--rows N] [--events N] [--runs N] [--dir PATH]\n");
            return 2;
        }
    }
    const std::string dir = base + "/adclick-bench-storage-" + std::to_string(::getpid());
    fs::create_directories(dir);
    std::printf(
        "adclick storage benchmark: %zu-row checkpoints, %llu events end to end, median of %d runs, files in %s\n",
        rowCount, static_cast<unsigned long long>(events), runs, dir.c_str());

    // (d) checkpoint upserts vs one statement per transaction.
    {
        const std::vector<MinuteRow> rows = randomRows(rowCount, 1);
        std::string error;
        auto store = SqliteStore::open(dir + "/upsert.db", {}, error);
        if (!store) {
            std::fprintf(stderr, "bench_storage: %s\n", error.c_str());
            return 1;
        }
        CheckpointData ck;
        ck.rows = rows;
        std::uint32_t round = 0;
        const Stats batched = measure(runs, rows.size(), [&] {
            for (auto& r : ck.rows)
                r.count += ++round % 7; // every row changes: each checkpoint updates all N
            if (store->writeCheckpoint(ck) != StoreStatus::Ok) {
                std::fprintf(stderr, "bench_storage: %s\n", store->error().c_str());
                std::exit(1);
            }
        });
        const std::vector<MinuteRow> few(
            rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(rows.size(), 20000)));
        std::vector<double> rates;
        for (int i = 0; i < std::min(runs, 3); ++i) {
            fs::remove(dir + "/baseline.db");
            fs::remove(dir + "/baseline.db-wal");
            fs::remove(dir + "/baseline.db-shm");
            rates.push_back(upsertOnePerTransaction(dir + "/baseline.db", few));
        }
        std::sort(rates.begin(), rates.end());
        const Stats single { rates[rates.size() / 2], rates.front(), rates.back() };
        print("(d) baseline: one UPSERT per transaction", "rows", single, nullptr);
        print("(d) checkpoint: N changed rows in one transaction", "rows", batched, &single);
    }

    // (e) raw log append and read-back.
    {
        const GeneratorConfig g = benchGenerator();
        VirtualClock clock(g.startTimeMs);
        AdDictionary ads;
        UserAgentDictionary uas;
        SyntheticSource source(g, clock, ads, uas);
        const std::uint64_t n = std::min<std::uint64_t>(events, 5000000);
        source.setLimit(n);
        std::vector<ClickEvent> all;
        IngestBatch batch;
        while (true) {
            batch.clear();
            const PollResult r = source.poll(batch, 8192);
            all.insert(all.end(), batch.events.begin(), batch.events.end());
            if (r == PollResult::EndOfStream)
                break;
        }
        std::uint64_t bytes = 0;
        const std::string rawDir = dir + "/raw";
        const Stats append = measure(
            runs, all.size(),
            [&] {
                RawLogConfig rc;
                rc.directory = rawDir;
                std::string error;
                auto w = RawLogWriter::open(rc, nullptr, uas, ads, error);
                if (!w) {
                    std::fprintf(stderr, "bench_storage: %s\n", error.c_str());
                    std::exit(1);
                }
                for (std::size_t i = 0; i < all.size(); i += 4096)
                    w->append(all.data() + i, std::min<std::size_t>(4096, all.size() - i), g.startTimeMs);
                RawLogWriter::Cut cut;
                w->cut(cut);
                w->close();
                bytes = w->bytesWritten();
            },
            [&] { fs::remove_all(rawDir); });
        std::uint64_t read = 0;
        const Stats scan = measure(runs, all.size(), [&] {
            read = 0;
            RawLogReader reader(rawDir);
            reader.scanFromSequence(0, [&](const RawRecord&) {
                ++read;
                return true;
            });
        });
        print("(e) raw log append (encode + write)", "events", append, nullptr);
        print("(e) raw log read-back (decode + checksum)", "events", scan, nullptr);
        std::printf("(e) raw log size: %.1f bytes/event (in memory: %zu bytes/event), %llu of %zu records read back\n",
            static_cast<double>(bytes) / static_cast<double>(all.size()), sizeof(ClickEvent),
            static_cast<unsigned long long>(read), all.size());
        fs::remove_all(rawDir);
    }

    // (f) end to end with and without the store.
    {
        const Stats bare = measure(runs, events, [&] { endToEnd(events, {}); });
        CheckpointStats last;
        double maxStall = 0, maxCommit = 0;
        const Stats durable = measure(runs, events, [&] {
            last = endToEnd(events, dir + "/e2e");
            maxStall = std::max(maxStall, last.maxCaptureMs);
            maxCommit = std::max(maxCommit, last.maxCommitMs);
        });
        print("(f) baseline: generator + speed layer, no store", "events", bare, nullptr);
        print("(f) generator + raw log + speed layer + checkpoints", "events", durable, &bare);
        std::printf("(f) per run: %llu checkpoints, %llu rows written, raw log %.1f bytes/event; longest ingest stall "
                    "%.2f ms, longest commit %.1f ms (over all runs)\n",
            static_cast<unsigned long long>(last.checkpoints), static_cast<unsigned long long>(last.rowsWritten),
            last.rawRecords ? static_cast<double>(last.rawBytes) / static_cast<double>(last.rawRecords) : 0.0, maxStall,
            maxCommit);
    }
    fs::remove_all(dir);
    return 0;
}
