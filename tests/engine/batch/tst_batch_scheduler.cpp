// BatchScheduler: scheduled runs start when processing time reaches the interval, recount only
// final minutes, continue from the previous scheduled run with an overlap; on-demand requests are
// refused while a run is going; status and results are reported; cancel writes nothing.
// Also: after raw log retention deleted segments, a batch run never recounts (and empties) the
// minutes whose raw events are gone.

#include "batch/batch_scheduler.h"
#include "core/clock.h"
#include "ingest/synthetic_source.h"
#include "pipeline/pipeline.h"
#include "storage/checkpointer.h"
#include "storage/raw_log.h"
#include "storage/sqlite_store.h"

#include <QTemporaryDir>
#include <QtTest>

using namespace adclick::engine;

namespace {

/// A data directory with `minutes` minutes of generator traffic, written by the real speed layer.
TimeMs writeData(const QString& dir, int minutes, std::uint64_t seed = 3)
{
    GeneratorConfig g;
    g.seed = seed;
    g.ratePerSec = 1000;
    g.adCount = 50;
    VirtualClock clock(g.startTimeMs);
    AdDictionary ads;
    UserAgentDictionary uas;
    CheckpointerConfig cc;
    cc.dataDirectory = dir.toStdString();
    cc.sourceKey = "generator";
    cc.rawLog.segmentMaxAgeMs = 5 * kMsPerMinute;
    std::string error;
    auto checkpointer = Checkpointer::open(cc, ads, uas, error);
    if (!checkpointer)
        qFatal("open: %s", error.c_str());
    SyntheticSource source(g, clock, ads, uas);
    source.setLimit(static_cast<std::uint64_t>(minutes) * 60 * 1000);
    PipelineConfig pc;
    pc.watermark.boundMs = 5 * kMsPerSecond;
    Pipeline pipeline(pc, source, clock);
    RecoveryReport recovery;
    if (!checkpointer->recover(pipeline, source, recovery, error))
        qFatal("recover: %s", error.c_str());
    while (pipeline.step() != PollResult::EndOfStream)
        checkpointer->afterStep();
    // Not finished: the last windows stay open, as in a live run.
    if (!checkpointer->close(error))
        qFatal("close: %s", error.c_str());
    return g.startTimeMs;
}

std::vector<BatchRunRecord> runs(const QString& dir)
{
    std::string error;
    auto store = SqliteStore::open((dir + "/adclick.db").toStdString(), { true, 5000 }, error);
    return store ? store->batchRuns(kMinTimeMs, INT64_MAX / 4) : std::vector<BatchRunRecord> {};
}

CheckpointData checkpointOf(const QString& dir)
{
    std::string error;
    auto store = SqliteStore::open((dir + "/adclick.db").toStdString(), { true, 5000 }, error);
    CheckpointData ck;
    if (!store || !store->loadCheckpoint(ck))
        qFatal("no checkpoint");
    return ck;
}

} // namespace

class TestBatchScheduler : public QObject {
    Q_OBJECT

private slots:
    void scheduledRunsFollowProcessingTime()
    {
        QTemporaryDir tmp;
        const TimeMs start = writeData(tmp.path(), 30);
        const CheckpointData ck = checkpointOf(tmp.path());
        BatchScheduleConfig cfg;
        cfg.intervalMs = 10 * kMsPerMinute;
        cfg.overlapMs = 5 * kMsPerMinute;
        cfg.firstRangeMs = 20 * kMsPerMinute;
        BatchScheduler scheduler(tmp.path().toStdString(), cfg);

        scheduler.poll(start, ck.watermarkMs); // arms the schedule
        QCOMPARE(scheduler.status().nextScheduledMs, start + 10 * kMsPerMinute);
        scheduler.poll(start + 9 * kMsPerMinute, ck.watermarkMs);
        QVERIFY(!scheduler.status().running);
        QVERIFY(runs(tmp.path()).empty());

        scheduler.poll(start + 10 * kMsPerMinute, ck.watermarkMs);
        scheduler.waitIdle();
        auto done = scheduler.takeFinished();
        QCOMPARE(done.size(), std::size_t(1));
        QVERIFY2(done[0].ok, done[0].error.c_str());
        const TimeMs to = windowStartOf(ck.watermarkMs, kMsPerMinute);
        QCOMPARE(done[0].run.toMs, to);
        QCOMPARE(done[0].run.fromMs, to - 20 * kMsPerMinute);
        QCOMPARE(done[0].run.trigger, std::string("schedule"));
        QCOMPARE(scheduler.status().runsCompleted, std::uint64_t(1));
        QVERIFY(scheduler.status().lastRun.has_value());

        // The next one continues from the previous scheduled run's end, minus the overlap.
        scheduler.poll(start + 20 * kMsPerMinute, ck.watermarkMs);
        scheduler.waitIdle();
        done = scheduler.takeFinished();
        QCOMPARE(done.size(), std::size_t(1));
        QCOMPARE(done[0].run.fromMs, to - 5 * kMsPerMinute);
        QCOMPARE(done[0].run.toMs, to);
        QCOMPARE(runs(tmp.path()).size(), std::size_t(2));
    }

    void requestsAreRefusedWhileRunningAndCancelWritesNothing()
    {
        QTemporaryDir tmp;
        const TimeMs start = writeData(tmp.path(), 20);
        BatchScheduleConfig cfg;
        cfg.intervalMs = 0; // on demand only
        BatchScheduler scheduler(tmp.path().toStdString(), cfg);
        std::string why;
        QVERIFY(!scheduler.request(start, start, "test", start, why));
        QVERIFY(why.find("empty range") != std::string::npos);
        QVERIFY(scheduler.request(start - kMsPerHour, start + kMsPerHour, "test", start, why));
        const bool second = scheduler.request(start, start + kMsPerHour, "test", start, why);
        if (!second) // the first may already have finished on a fast machine
            QVERIFY(why.find("already running") != std::string::npos);
        scheduler.waitIdle();
        for (const BatchJobResult& r : scheduler.takeFinished())
            QVERIFY2(r.ok, r.error.c_str());
        const std::size_t before = runs(tmp.path()).size();
        QVERIFY(before >= 1);

        QVERIFY(scheduler.request(start - kMsPerHour, start + kMsPerHour, "test", start, why));
        scheduler.cancel();
        scheduler.waitIdle();
        const auto done = scheduler.takeFinished();
        QCOMPARE(done.size(), std::size_t(1));
        if (!done[0].ok) { // cancelled before it wrote (the usual case)
            QCOMPARE(done[0].error, std::string("cancelled"));
            QCOMPARE(runs(tmp.path()).size(), before);
            QCOMPARE(scheduler.status().lastError, std::string("cancelled"));
        }
    }

    void requestsHaveIdsWithStatusAndProgress()
    {
        QTemporaryDir tmp;
        const TimeMs start = writeData(tmp.path(), 20);
        BatchScheduleConfig cfg;
        cfg.intervalMs = 0;
        BatchScheduler scheduler(tmp.path().toStdString(), cfg);
        std::string why;
        std::uint64_t first = 0;
        QVERIFY(scheduler.request(start - kMsPerHour, start + kMsPerHour, "rest", start, why, &first));
        QVERIFY(first > 0);
        std::uint64_t busy = 0;
        if (!scheduler.request(start, start + kMsPerHour, "rest", start, why, &busy))
            QCOMPARE(busy, first); // refused while the first runs: names the running one
        scheduler.waitIdle();
        const auto done = scheduler.requestStatus(first);
        QVERIFY(done.has_value());
        QCOMPARE(done->id, first);
        QCOMPARE(done->trigger, std::string("rest"));
        QCOMPARE(done->requestedFromMs, start - kMsPerHour);
        QCOMPARE(done->state, BatchRequestState::Succeeded);
        QVERIFY(done->result.has_value() && done->result->ok);
        QVERIFY(done->result->count.cells.empty()); // figures only: the rows are in the store
        QVERIFY(done->progress.recordsRead > 0);
        QVERIFY(done->finishedWallMs >= done->createdWallMs);

        std::uint64_t second = 0;
        QVERIFY(scheduler.request(start - kMsPerHour, start + kMsPerHour, "rest", start, why, &second));
        QVERIFY(second > first);
        scheduler.cancel();
        scheduler.waitIdle();
        const auto cancelled = scheduler.requestStatus(second);
        QVERIFY(cancelled.has_value());
        QVERIFY(cancelled->state == BatchRequestState::Cancelled || cancelled->state == BatchRequestState::Succeeded);
        const auto recent = scheduler.recentRequests();
        QVERIFY(recent.size() >= 2);
        QCOMPARE(recent.front().id, second); // newest first
        QVERIFY(!scheduler.requestStatus(second + 1000).has_value());
        QCOMPARE(batchRequestStateName(BatchRequestState::Failed), std::string_view("failed"));
    }

    void neverRecountsMinutesWhoseRawEventsAreGone()
    {
        QTemporaryDir tmp;
        const TimeMs start = writeData(tmp.path(), 40);
        const std::string dir = tmp.path().toStdString();
        BatchJobOptions o;
        o.fromMs = start - kMsPerHour;
        o.toMs = start + kMsPerHour;
        BatchJobResult first = BatchJob::run(dir, o);
        QVERIFY2(first.ok, first.error.c_str());

        // Retention deletes the oldest segments (5-minute segments; retention 20 minutes after the
        // data's start, as seen from 30 minutes in).
        TimeMs newestDeleted = kMinTimeMs;
        const std::size_t deleted
            = applyRawLogRetention(dir + "/raw", start + 30 * kMsPerMinute, 10 * kMsPerMinute, nullptr, &newestDeleted);
        QVERIFY(deleted >= 1);
        QVERIFY(newestDeleted > start);
        {
            std::string error;
            auto store = SqliteStore::open(dir + "/adclick.db", {}, error);
            QVERIFY(store);
            QCOMPARE(store->noteRawLogDeleted(newestDeleted), StoreStatus::Ok);
            QCOMPARE(store->rawLogDeletedThroughMs(), newestDeleted);
        }
        std::map<TimeMs, std::uint64_t> before;
        {
            std::string error;
            auto store = SqliteStore::open(dir + "/adclick.db", { true, 5000 }, error);
            store->forEachBatchCell(kMinTimeMs, INT64_MAX / 4, [&](const BatchCell& c) { before[c.key.windowStartMs] += c.count; });
        }
        const BatchJobResult again = BatchJob::run(dir, o);
        QVERIFY2(again.ok, again.error.c_str());
        QCOMPARE(again.run.fromMs, windowStartOf(newestDeleted, kMsPerMinute) + kMsPerMinute);
        QVERIFY2(again.note.find("retention") != std::string::npos, again.note.c_str());
        std::map<TimeMs, std::uint64_t> after;
        std::string error;
        auto store = SqliteStore::open(dir + "/adclick.db", { true, 5000 }, error);
        store->forEachBatchCell(kMinTimeMs, INT64_MAX / 4, [&](const BatchCell& c) { after[c.key.windowStartMs] += c.count; });
        QVERIFY(before == after); // the old minutes keep their counts; the others recount the same
    }
};

QTEST_GUILESS_MAIN(TestBatchScheduler)
#include "tst_batch_scheduler.moc"
