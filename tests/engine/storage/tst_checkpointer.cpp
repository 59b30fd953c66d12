// Checkpointer in process: a run stopped and resumed from its checkpoint (at several points, with
// de-duplication generations rotating, the late-update policy and two shards) ends with exactly the
// rows of an uninterrupted run; the top-K right after recovery equals the uninterrupted run's at
// the same point; a store that fails (as on a full disk) pauses ingestion, keeps the last good
// checkpoint, and resumes when it works again; a damaged database stops it for good (no retries).

#include "core/clock.h"
#include "ingest/synthetic_source.h"
#include "pipeline/pipeline.h"
#include "storage/checkpointer.h"
#include "storage/raw_log.h"
#include "storage/sqlite_handle.h"
#include "storage/sqlite_store.h"

#include <QTemporaryDir>
#include <QtTest>

#include <fcntl.h>
#include <map>
#include <sqlite3.h>
#include <unistd.h>

using namespace adclick::engine;

namespace {
struct Scenario {
    GeneratorConfig generator;
    PipelineConfig pipeline;
    std::uint64_t records = 0;
};

Scenario scenario()
{
    Scenario s;
    s.generator.seed = 5;
    s.generator.ratePerSec = 5000;
    s.generator.adCount = 500;
    s.generator.lateFraction = 0.05;
    s.generator.lateDelayMeanMs = 60 * kMsPerSecond;
    s.generator.duplicateFraction = 0.03;
    s.generator.malformedFraction = 0.002;
    s.pipeline.watermark.boundMs = 20 * kMsPerSecond;
    s.pipeline.window.latePolicy = LatePolicy::Update;
    s.pipeline.window.updateRetentionMs = 2 * kMsPerMinute;
    s.pipeline.dedupHorizonMs = kMsPerMinute; // generations rotate several times
    s.pipeline.shards = 2;
    s.pipeline.batchSize = 1000;
    s.records = 5000ull * 360; // 6 minutes
    return s;
}

/// One "process": dictionaries, clock, source, pipeline and checkpointer over a data directory.
struct Run {
    explicit Run(const QString& dir, const Scenario& s, TimeMs intervalMs = kMsPerSecond)
        : clock(s.generator.startTimeMs)
    {
        CheckpointerConfig cc;
        cc.dataDirectory = dir.toStdString();
        cc.intervalMs = intervalMs;
        cc.sourceKey = "generator seed=5";
        std::string error;
        checkpointer = Checkpointer::open(cc, ads, uas, error);
        if (!checkpointer)
            qFatal("open: %s", error.c_str());
        source = std::make_unique<SyntheticSource>(s.generator, clock, ads, uas);
        source->setLimit(s.records);
        pipeline = std::make_unique<Pipeline>(s.pipeline, *source, clock);
        if (!checkpointer->recover(*pipeline, *source, recovery, error))
            qFatal("recover: %s", error.c_str());
    }
    /// Steps until the end of input (then finish) or `steps` steps; true at the end of input.
    bool step(std::uint64_t steps = UINT64_MAX)
    {
        for (std::uint64_t i = 0; i < steps; ++i) {
            while (checkpointer->paused()) {
                QTest::qWait(20);
                checkpointer->afterStep();
            }
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
    RecoveryReport recovery;
};

struct Rows {
    std::map<WindowKey, std::tuple<std::uint64_t, std::uint64_t, std::uint64_t, bool>> cells;
    std::uint64_t total = 0;
};

Rows readRows(const QString& dir)
{
    Rows r;
    std::string error;
    auto store = SqliteStore::open((dir + "/adclick.db").toStdString(), { true, 5000 }, error);
    if (!store)
        qFatal("store: %s", error.c_str());
    store->forEachSpeedMinute(kMinTimeMs, INT64_MAX / 4, [&](const StoredRow& row) {
        r.cells[row.key] = { row.count, row.lateUpdated, row.lateDropped, row.final };
        r.total += row.count;
    });
    return r;
}

std::uint64_t storedCheckpoint(const QString& dir)
{
    std::string error;
    auto store = SqliteStore::open((dir + "/adclick.db").toStdString(), { true, 5000 }, error);
    CheckpointData ck;
    return store && store->loadCheckpoint(ck) ? ck.sequence : 0;
}
} // namespace

class TestCheckpointer : public QObject {
    Q_OBJECT

private slots:
    void resumedRunEqualsUninterruptedRun_data()
    {
        QTest::addColumn<QList<int>>("stops"); // steps between restarts
        QTest::newRow("one stop early") << QList<int> { 40 };
        QTest::newRow("stops across rotations") << QList<int> { 150, 170, 190, 300 };
        QTest::newRow("many short runs") << QList<int> { 60, 60, 60, 60, 60, 60, 60, 60 };
    }
    void resumedRunEqualsUninterruptedRun()
    {
        QFETCH(QList<int>, stops);
        const Scenario s = scenario();
        QTemporaryDir refDir, dir;
        PipelineCounters refCounters;
        std::vector<TopKResult> refTopK; // the reference's top-K at each stop point
        {
            Run ref(refDir.path(), s);
            std::uint64_t done = 0;
            for (int n : stops) {
                QVERIFY(!ref.step(static_cast<std::uint64_t>(n)));
                done += static_cast<std::uint64_t>(n);
                refTopK.push_back(ref.pipeline->topK(100));
            }
            QVERIFY(ref.step());
            refCounters = ref.pipeline->counters();
            ref.close();
        }
        std::size_t stopIndex = 0;
        for (int n : stops) {
            Run run(dir.path(), s);
            if (stopIndex > 0) {
                QVERIFY(run.recovery.restored);
                // Top-K rebuilt from the raw log: the exact answer equals the reference's.
                const TopKResult got = run.pipeline->topK(100);
                const TopKResult& want = refTopK[stopIndex - 1];
                QCOMPARE(got.windowEndMs, want.windowEndMs);
                QCOMPARE(got.exact.size(), want.exact.size());
                for (std::size_t i = 0; i < got.exact.size(); ++i) {
                    QCOMPARE(got.exact[i].adId, want.exact[i].adId);
                    QCOMPARE(got.exact[i].count, want.exact[i].count);
                }
            }
            QVERIFY(!run.step(static_cast<std::uint64_t>(n)));
            run.close();
            ++stopIndex;
        }
        {
            Run last(dir.path(), s);
            QVERIFY(last.recovery.restored);
            QVERIFY(last.recovery.replayedRecords > 0);
            const std::string warnings = last.recovery.warnings.empty() ? "" : last.recovery.warnings.front();
            QVERIFY2(last.recovery.warnings.empty(), warnings.c_str());
            QVERIFY(last.step());
            const PipelineCounters& c = last.pipeline->counters();
            QCOMPARE(c.received, refCounters.received);
            QCOMPARE(c.accepted, refCounters.accepted);
            QCOMPARE(c.duplicates, refCounters.duplicates);
            QCOMPARE(c.lateDropped, refCounters.lateDropped);
            QCOMPARE(c.lateUpdated, refCounters.lateUpdated);
            QCOMPARE(c.counted, refCounters.counted);
            last.close();
        }
        QVERIFY(refCounters.duplicates > 0 && refCounters.lateUpdated > 0 && refCounters.lateDropped > 0);
        const Rows want = readRows(refDir.path());
        const Rows got = readRows(dir.path());
        QVERIFY(want.cells.size() > 1000);
        QCOMPARE(got.total, want.total);
        QCOMPARE(got.cells.size(), want.cells.size());
        QVERIFY(got.cells == want.cells);
    }

    void failingStorePausesAndKeepsLastCheckpoint()
    {
        const Scenario s = scenario();
        QTemporaryDir refDir, dir;
        {
            Run ref(refDir.path(), s);
            QVERIFY(ref.step());
            ref.close();
        }
        Run run(dir.path(), s, 200);
        QVERIFY(!run.step(100));
        QTRY_VERIFY(storedCheckpoint(dir.path()) > 0);
        run.checkpointer->injectStoreFailure(true);
        // Keep stepping until the failure is seen: ingestion pauses.
        for (int i = 0; i < 2000 && !run.checkpointer->paused(); ++i) {
            run.pipeline->step();
            run.checkpointer->afterStep();
            QTest::qWait(1);
        }
        QVERIFY(run.checkpointer->paused());
        const CheckpointStats failing = run.checkpointer->stats();
        QVERIFY(failing.failedAttempts > 0);
        QVERIFY2(
            failing.pauseReason.find("checkpoint commit failed") != std::string::npos, failing.pauseReason.c_str());
        const std::uint64_t kept = storedCheckpoint(dir.path());
        QTest::qWait(1200); // retries happen meanwhile, all failing
        QCOMPARE(storedCheckpoint(dir.path()), kept);
        QVERIFY(run.checkpointer->stats().failedAttempts > failing.failedAttempts);
        run.checkpointer->injectStoreFailure(false);
        QTRY_VERIFY(!run.checkpointer->paused());
        QTRY_VERIFY(storedCheckpoint(dir.path()) > kept);
        QVERIFY(run.step());
        run.close();
        const Rows want = readRows(refDir.path());
        const Rows got = readRows(dir.path());
        QCOMPARE(got.total, want.total);
        QVERIFY(got.cells == want.cells);
    }

    void damagedDatabaseStopsInsteadOfRetrying()
    {
        // A commit that finds the file damaged (SQLITE_CORRUPT) can never succeed: the checkpointer
        // must say so and stop, not pause and retry forever.
        const Scenario s = scenario();
        QTemporaryDir dir;
        {
            Run first(dir.path(), s, 200);
            QVERIFY(!first.step(300)); // several minutes finalised: speed_minute has rows
            first.close();
        }
        const std::uint64_t kept = storedCheckpoint(dir.path());
        QVERIFY(kept > 0);
        const std::string db = (dir.path() + "/adclick.db").toStdString();
        std::int64_t root = 0, pageSize = 0;
        {
            SqliteDb plain;
            QVERIFY(SqliteDb::open(db, SQLITE_OPEN_READONLY, plain).ok());
            QVERIFY(plain.queryInt64("SELECT rootpage FROM sqlite_schema WHERE name = 'speed_minute'", root).ok());
            QVERIFY(plain.queryInt64("PRAGMA page_size", pageSize).ok());
        }
        QVERIFY(root > 1 && pageSize >= 512);
        { // the table's root page gets an invalid b-tree page type, as a stray write would leave it
            const int fd = ::open(db.c_str(), O_WRONLY);
            QVERIFY(fd >= 0);
            const unsigned char bad = 0x01;
            QCOMPARE(::pwrite(fd, &bad, 1, static_cast<off_t>((root - 1) * pageSize)), static_cast<ssize_t>(1));
            ::close(fd);
        }
        Run run(dir.path(), s, 200);
        QVERIFY(run.recovery.restored);
        for (int i = 0; i < 5000 && !run.checkpointer->failed(); ++i) {
            if (!run.checkpointer->paused())
                run.pipeline->step();
            run.checkpointer->afterStep();
            QTest::qWait(1);
        }
        QVERIFY(run.checkpointer->failed());
        const CheckpointStats failed = run.checkpointer->stats();
        QVERIFY(failed.failed);
        QVERIFY2(failed.pauseReason.find("malformed") != std::string::npos, failed.pauseReason.c_str());
        QTest::qWait(600); // a retry would happen every 100 ms
        QCOMPARE(run.checkpointer->stats().failedAttempts, failed.failedAttempts);
        std::string error;
        QVERIFY(!run.checkpointer->checkpointNow(error));
        QVERIFY(!run.checkpointer->close(error)); // no final checkpoint, and it returns
        QCOMPARE(storedCheckpoint(dir.path()), kept);
    }

    void hundredDaysRollUpAndExpire()
    {
        // 100 simulated days at one click every 2 s in virtual time: maintenance driven by the clock rolls
        // minutes into hours and days and deletes what is past retention; per-day totals inside
        // the retention equal what the speed layer emitted, and nothing grows without bound.
        struct DaySink : PipelineSink {
            std::map<TimeMs, std::uint64_t> perDay;
            void onResults(std::span<const WindowResult> results, std::span<const LateDropDelta>,
                std::span<const WindowSummary>) override
            {
                for (const WindowResult& r : results)
                    if (r.revision == 0)
                        perDay[windowStartOf(r.key.windowStartMs, kMsPerDay)] += r.count;
            }
        };
        Scenario s;
        s.generator.seed = 9;
        s.generator.ratePerSec = 0.5;
        s.generator.adCount = 40;
        s.generator.lateFraction = 0;
        s.generator.jitterMaxMs = 1000;
        s.generator.duplicateFraction = 0;
        s.generator.malformedFraction = 0;
        s.pipeline.watermark.boundMs = 5 * kMsPerSecond;
        s.records = 86400ull * 100 / 2;
        QTemporaryDir dir;
        VirtualClock clock(s.generator.startTimeMs);
        AdDictionary ads;
        UserAgentDictionary uas;
        CheckpointerConfig cc;
        cc.dataDirectory = dir.path().toStdString();
        cc.intervalMs = kMsPerHour;
        cc.maintenanceIntervalMs = 6 * kMsPerHour;
        cc.rawLog.segmentMaxAgeMs = kMsPerDay;
        cc.sourceKey = "generator seed=9";
        std::string error;
        auto cp = Checkpointer::open(cc, ads, uas, error);
        QVERIFY2(cp, error.c_str());
        SyntheticSource source(s.generator, clock, ads, uas);
        source.setLimit(s.records);
        Pipeline pipeline(s.pipeline, source, clock);
        DaySink days;
        pipeline.addSink(&days);
        RecoveryReport rep;
        QVERIFY2(cp->recover(pipeline, source, rep, error), error.c_str());
        std::uint64_t maxRows = 0;
        std::size_t maxSegments = 0;
        const QString db = dir.path() + QStringLiteral("/adclick.db");
        for (std::uint64_t step = 0;; ++step) {
            const PollResult r = pipeline.step();
            cp->afterStep();
            if (step % 50 == 0) {
                std::string e;
                auto reader = SqliteStore::open(db.toStdString(), { true, 5000 }, e);
                if (reader) {
                    std::uint64_t rows = 0;
                    for (RowLevel level : { RowLevel::Minute, RowLevel::Hour, RowLevel::Day })
                        rows += reader->rowCount(RowKind::Speed, level);
                    maxRows = std::max(maxRows, rows);
                }
                maxSegments = std::max(maxSegments, RawLogReader(cc.dataDirectory + "/raw").segments().size());
            }
            if (r == PollResult::EndOfStream)
                break;
        }
        pipeline.finish();
        QVERIFY2(cp->checkpointNow(error), error.c_str());
        QVERIFY2(cp->maintainNow(error), error.c_str());
        const CheckpointStats st = cp->stats();
        // Maintenance runs after a commit once 6 h of processing time passed; commits coalesce when
        // the store is slower than the virtual clock, so there are fewer runs than 100 days / 6 h.
        QVERIFY(st.maintenanceRuns >= 2);
        const TimeMs now = pipeline.processingTimeMs();
        QVERIFY2(cp->close(error), error.c_str());

        auto store = SqliteStore::open(db.toStdString(), { true, 5000 }, error);
        QVERIFY2(store, error.c_str());
        const TimeMs minuteCut = windowStartOf(now - 7 * kMsPerDay, kMsPerHour);
        const TimeMs hourCut = windowStartOf(now - 30 * kMsPerDay, kMsPerDay);
        const TimeMs deleteCut = windowStartOf(now - 90 * kMsPerDay, kMsPerDay);
        TimeMs oldestMinute = INT64_MAX, oldestHour = INT64_MAX, oldestDay = INT64_MAX, newestHour = kMinTimeMs;
        store->forEachRow(RowKind::Speed, RowLevel::Minute, kMinTimeMs, INT64_MAX / 4,
            [&](const StoredRow& r) { oldestMinute = std::min(oldestMinute, r.key.windowStartMs); });
        store->forEachRow(RowKind::Speed, RowLevel::Hour, kMinTimeMs, INT64_MAX / 4, [&](const StoredRow& r) {
            oldestHour = std::min(oldestHour, r.key.windowStartMs);
            newestHour = std::max(newestHour, r.key.windowStartMs);
        });
        store->forEachRow(RowKind::Speed, RowLevel::Day, kMinTimeMs, INT64_MAX / 4,
            [&](const StoredRow& r) { oldestDay = std::min(oldestDay, r.key.windowStartMs); });
        QVERIFY(oldestMinute >= minuteCut);
        QVERIFY(oldestHour >= hourCut);
        QVERIFY(newestHour < minuteCut);
        QVERIFY(oldestDay >= deleteCut);
        QVERIFY(oldestDay < hourCut); // day rows exist
        // Every whole day inside the retention still adds up to what the speed layer emitted.
        int daysChecked = 0;
        for (const auto& [day, count] : days.perDay) {
            if (day < deleteCut || day + kMsPerDay > windowStartOf(now, kMsPerDay))
                continue;
            QCOMPARE(store->total(RowKind::Speed, day, day + kMsPerDay), count);
            ++daysChecked;
        }
        QVERIFY(daysChecked >= 85);
        // Bounded: at most 7 days of minute rows + hours + days, whatever the length of the run.
        const std::uint64_t minuteRows = store->rowCount(RowKind::Speed, RowLevel::Minute);
        const std::uint64_t finalRows = minuteRows + store->rowCount(RowKind::Speed, RowLevel::Hour)
            + store->rowCount(RowKind::Speed, RowLevel::Day);
        qInfo(
            "100 days: %llu maintenance runs; rows now %llu (peak %llu), raw segments now %zu (peak %zu), db %.1f MiB",
            static_cast<unsigned long long>(st.maintenanceRuns), static_cast<unsigned long long>(finalRows),
            static_cast<unsigned long long>(maxRows), RawLogReader(cc.dataDirectory + "/raw").segments().size(),
            maxSegments, static_cast<double>(store->fileBytes()) / (1 << 20));
        QVERIFY(maxRows < finalRows * 3);
        QVERIFY(RawLogReader(cc.dataDirectory + "/raw").segments().size() <= 9);
        for (const RawSegmentInfo& seg : RawLogReader(cc.dataDirectory + "/raw").segments())
            QVERIFY(seg.maxEventTimeMs >= now - 8 * kMsPerDay);
    }

    void secondProcessOnTheSameDirectoryIsRefused()
    {
        QTemporaryDir dir;
        CheckpointerConfig cc;
        cc.dataDirectory = dir.path().toStdString();
        AdDictionary ads;
        UserAgentDictionary uas;
        std::string error;
        auto first = Checkpointer::open(cc, ads, uas, error);
        QVERIFY(first);
        // flock locks are per open file description: a second open in this process conflicts too.
        auto second = Checkpointer::open(cc, ads, uas, error);
        QVERIFY(!second);
        QVERIFY2(error.find("in use by another adclick process") != std::string::npos, error.c_str());
    }
};

QTEST_GUILESS_MAIN(TestCheckpointer)
#include "tst_checkpointer.moc"
