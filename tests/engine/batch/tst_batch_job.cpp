// BatchJob over a data directory written by the real speed layer (Pipeline + Checkpointer over
// the synthetic generator with late, duplicate and malformed records): batch rows equal a
// brute-force count of the generator's accepted events; re-running a range replaces it; a run
// during live ingestion reads only what the last checkpoint committed; old ranges are clamped to
// the rollup cutoff; a cancelled run writes nothing.

#include "batch/batch_job.h"
#include "core/clock.h"
#include "ingest/synthetic_source.h"
#include "pipeline/pipeline.h"
#include "storage/checkpointer.h"
#include "storage/sqlite_store.h"

#include <QTemporaryDir>
#include <QtTest>

#include <map>
#include <set>
#include <thread>
#include <tuple>

using namespace adclick::engine;

namespace {

GeneratorConfig generator()
{
    GeneratorConfig g;
    g.seed = 11;
    g.ratePerSec = 4000;
    g.adCount = 300;
    g.lateFraction = 0.04;
    g.lateDelayMeanMs = 90 * kMsPerSecond;
    g.duplicateFraction = 0.03;
    g.malformedFraction = 0.01;
    return g;
}

constexpr std::uint64_t kRecords = 4000ull * 300; // 5 minutes

/// The speed layer writing a data directory, as `adclick run` does.
struct Speed {
    explicit Speed(const QString& dir, std::uint64_t records = kRecords)
        : clock(generator().startTimeMs)
    {
        CheckpointerConfig cc;
        cc.dataDirectory = dir.toStdString();
        cc.intervalMs = kMsPerSecond;
        cc.sourceKey = "generator seed=11";
        std::string error;
        checkpointer = Checkpointer::open(cc, ads, uas, error);
        if (!checkpointer)
            qFatal("open: %s", error.c_str());
        source = std::make_unique<SyntheticSource>(generator(), clock, ads, uas);
        source->setLimit(records);
        PipelineConfig pc;
        pc.watermark.boundMs = 10 * kMsPerSecond;
        pc.batchSize = 2000;
        pipeline = std::make_unique<Pipeline>(pc, *source, clock);
        RecoveryReport recovery;
        if (!checkpointer->recover(*pipeline, *source, recovery, error))
            qFatal("recover: %s", error.c_str());
    }
    bool step(std::uint64_t steps = UINT64_MAX)
    {
        for (std::uint64_t i = 0; i < steps; ++i) {
            const PollResult r = pipeline->step();
            checkpointer->afterStep();
            if (r == PollResult::EndOfStream) {
                pipeline->finish();
                return true;
            }
        }
        return false;
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
    std::unique_ptr<SyntheticSource> source;
    std::unique_ptr<Pipeline> pipeline;
};

/// The generator's accepted events, in order (the same seed gives the same records).
std::vector<ClickEvent> acceptedEvents(std::uint64_t records = kRecords)
{
    VirtualClock clock(generator().startTimeMs);
    AdDictionary ads;
    UserAgentDictionary uas;
    SyntheticSource source(generator(), clock, ads, uas);
    source.setLimit(records);
    std::vector<ClickEvent> out;
    IngestBatch b;
    while (true) {
        b.clear();
        const PollResult r = source.poll(b, 4096);
        out.insert(out.end(), b.events.begin(), b.events.end());
        if (r == PollResult::EndOfStream)
            break;
    }
    return out;
}

/// Brute force: every accepted event once per click id, ad and minute, over the first `n` events.
std::map<WindowKey, std::uint64_t> oracle(const std::vector<ClickEvent>& events, TimeMs from, TimeMs to,
    std::size_t n = SIZE_MAX)
{
    std::map<WindowKey, std::uint64_t> cells;
    std::set<std::tuple<std::uint64_t, AdId, TimeMs>> seen;
    for (std::size_t i = 0; i < events.size() && i < n; ++i) {
        const ClickEvent& e = events[i];
        if (e.eventTimeMs < from || e.eventTimeMs >= to)
            continue;
        const TimeMs m = windowStartOf(e.eventTimeMs, kMsPerMinute);
        if (e.clickId != 0 && !seen.insert({ e.clickId, e.adId, m }).second)
            continue;
        ++cells[{ e.adId, m, e.country, e.device }];
    }
    return cells;
}

std::map<WindowKey, std::uint64_t> batchRows(const QString& dir, TimeMs from = kMinTimeMs, TimeMs to = INT64_MAX / 4)
{
    std::string error;
    auto store = SqliteStore::open((dir + "/adclick.db").toStdString(), { true, 5000 }, error);
    if (!store)
        qFatal("store: %s", error.c_str());
    std::map<WindowKey, std::uint64_t> out;
    store->forEachBatchCell(from, to, [&](const BatchCell& c) { out[c.key] = c.count; });
    return out;
}

std::size_t runCount(const QString& dir)
{
    std::string error;
    auto store = SqliteStore::open((dir + "/adclick.db").toStdString(), { true, 5000 }, error);
    return store ? store->batchRuns(kMinTimeMs, INT64_MAX / 4).size() : 0;
}

QString firstDifference(const std::map<WindowKey, std::uint64_t>& got, const std::map<WindowKey, std::uint64_t>& want)
{
    for (const auto& [k, n] : want) {
        auto it = got.find(k);
        if (it == got.end() || it->second != n)
            return QString("ad %1 minute %2: got %3, want %4")
                .arg(k.adId)
                .arg(formatIsoUtc(k.windowStartMs).c_str())
                .arg(it == got.end() ? 0 : it->second)
                .arg(n);
    }
    return got.size() == want.size() ? QString() : QString("%1 rows, want %2").arg(got.size()).arg(want.size());
}

const TimeMs kFrom = windowStartOf(generator().startTimeMs, kMsPerMinute) - 10 * kMsPerMinute;
const TimeMs kTo = generator().startTimeMs + 20 * kMsPerMinute;

} // namespace

class TestBatchJob : public QObject {
    Q_OBJECT

private slots:
    void batchEqualsOracleAndReRunReplaces()
    {
        QTemporaryDir tmp;
        Speed speed(tmp.path());
        QVERIFY(speed.step());
        speed.close();
        const auto events = acceptedEvents();
        const auto want = oracle(events, kFrom, kTo);

        std::vector<BatchProgress> progress;
        BatchJobOptions o;
        o.fromMs = kFrom;
        o.toMs = kTo;
        o.trigger = "test";
        o.progress = [&](const BatchProgress& p) { progress.push_back(p); };
        BatchJobResult r = BatchJob::run(tmp.path().toStdString(), o);
        QVERIFY2(r.ok, r.error.c_str());
        QVERIFY(r.run.runId > 0);
        QCOMPARE(r.run.rawEnd.nextSequence, std::uint64_t(events.size()));
        QVERIFY2(r.count.lateDropped > 0, "late events the speed layer dropped are counted by the batch");
        QVERIFY(r.count.duplicates > 0);
        QVERIFY(!progress.empty() && progress.back().fraction() == 1.0);
        const QString diff = firstDifference(batchRows(tmp.path()), want);
        QVERIFY2(diff.isEmpty(), qPrintable(diff));

        // The same range again: the rows are replaced, not added; the run is recorded.
        r = BatchJob::run(tmp.path().toStdString(), o);
        QVERIFY2(r.ok, r.error.c_str());
        QCOMPARE(runCount(tmp.path()), std::size_t(2));
        QVERIFY(firstDifference(batchRows(tmp.path()), want).isEmpty());

        // A sub-range recount leaves the other minutes alone.
        o.fromMs = generator().startTimeMs + 2 * kMsPerMinute;
        o.toMs = o.fromMs + kMsPerMinute;
        r = BatchJob::run(tmp.path().toStdString(), o);
        QVERIFY2(r.ok, r.error.c_str());
        QVERIFY(firstDifference(batchRows(tmp.path()), want).isEmpty());
        QCOMPARE(runCount(tmp.path()), std::size_t(3));
    }

    void duringLiveIngestionReadsOnlyCommittedRecords()
    {
        QTemporaryDir tmp;
        Speed speed(tmp.path());
        QVERIFY(!speed.step(200)); // part of the stream, checkpoints committed on the way
        BatchJobResult r;
        std::thread batch([&] {
            BatchJobOptions o;
            o.fromMs = kFrom;
            o.toMs = kTo;
            r = BatchJob::run(tmp.path().toStdString(), o);
        });
        speed.step(100); // the writer keeps appending while the batch reads
        batch.join();
        QVERIFY2(r.ok, r.error.c_str());
        QVERIFY(r.count.damage.empty());
        const std::uint64_t committed = r.run.rawEnd.nextSequence;
        QVERIFY(committed > 0);
        const auto events = acceptedEvents();
        QVERIFY(committed < events.size());
        // Minutes still open at that checkpoint are not recounted (and not covered).
        QVERIFY(r.run.toMs < kTo);
        QVERIFY2(r.note.find("still open") != std::string::npos, r.note.c_str());
        const QString diff = firstDifference(batchRows(tmp.path()), oracle(events, kFrom, r.run.toMs, committed));
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
        speed.step();
        speed.close();
    }

    void oldRangesAreClampedAndCancelWritesNothing()
    {
        QTemporaryDir tmp;
        Speed speed(tmp.path(), 4000ull * 120);
        QVERIFY(speed.step());
        speed.close();
        {
            std::string error;
            auto store = SqliteStore::open((tmp.path() + "/adclick.db").toStdString(), {}, error);
            QVERIFY(store);
            RetentionConfig rc;
            rc.minuteRetentionMs = kMsPerMinute; // minutes older than now − 1 min become hours
            QCOMPARE(store->rollup(generator().startTimeMs + 3 * kMsPerHour, rc), StoreStatus::Ok);
        }
        BatchJobOptions o;
        o.fromMs = kFrom;
        o.toMs = kTo;
        const BatchJobResult r = BatchJob::run(tmp.path().toStdString(), o);
        QVERIFY(!r.ok);
        QVERIFY2(r.error.find("rollup cutoff") != std::string::npos, r.error.c_str());

        QTemporaryDir tmp2;
        Speed again(tmp2.path(), 4000ull * 120);
        QVERIFY(again.step());
        again.close();
        std::atomic<bool> cancel { true };
        o.cancel = &cancel;
        const BatchJobResult c = BatchJob::run(tmp2.path().toStdString(), o);
        QVERIFY(!c.ok);
        QCOMPARE(c.error, std::string("cancelled"));
        QCOMPARE(runCount(tmp2.path()), std::size_t(0));
        QVERIFY(batchRows(tmp2.path()).empty());

        const BatchJobResult none = BatchJob::run(tmp.path().toStdString() + "/missing", o);
        QVERIFY(!none.ok);
        QVERIFY(none.error.find("no store") != std::string::npos);
    }
};

QTEST_GUILESS_MAIN(TestBatchJob)
#include "tst_batch_job.moc"
