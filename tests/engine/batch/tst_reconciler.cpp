// Reconciler: over data directories written by a real Pipeline + Checkpointer and recounted by
// BatchJob, every (ad, minute) gap splits into its causes exactly as a brute-force count of the same
// events says — late drops, duplicates, records that arrived after the batch run — and the
// unexplained gap is 0, or exactly the miscount a speed-layer fault injected (also across a crash).

#include "batch/batch_job.h"
#include "batch/reconciler.h"
#include "engine/batch/reconciler_test_support.h"
#include "engine/storage/raw_log_test_support.h"
#include "engine/support/oracle.h"
#include "engine/support/random_events.h"

#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <map>

using namespace adclick::engine;
using namespace adclick::test;

namespace {

using AdMinute = std::pair<AdId, TimeMs>;

AdMinute adMinute(const ClickEvent& e)
{
    return { e.adId, windowStartOf(e.eventTimeMs, kMsPerMinute) };
}

bool speedCounted(ClickEvent::Disposition d)
{
    return d == ClickEvent::Disposition::Counted || d == ClickEvent::Disposition::LateUpdated;
}

RandomStreamSpec streamSpec(std::uint64_t seed, std::uint32_t partitions)
{
    RandomStreamSpec spec;
    spec.seed = seed;
    spec.events = 20000;
    spec.ads = 30;
    spec.partitions = partitions;
    spec.lateFraction = 0.06;
    return spec;
}

/// [first minute, last minute + 1) of the events.
std::pair<TimeMs, TimeMs> rangeOf(const std::vector<ClickEvent>& events)
{
    TimeMs lo = INT64_MAX, hi = INT64_MIN;
    for (const ClickEvent& e : events) {
        lo = std::min(lo, e.eventTimeMs);
        hi = std::max(hi, e.eventTimeMs);
    }
    return { windowStartOf(lo, kMsPerMinute), windowStartOf(hi, kMsPerMinute) + kMsPerMinute };
}

BatchJobResult runBatch(const QString& dir, TimeMs fromMs, TimeMs toMs)
{
    BatchJobOptions o;
    o.fromMs = fromMs;
    o.toMs = toMs;
    o.trigger = "test";
    BatchJobResult r = BatchJob::run(dir.toStdString(), o);
    if (!r.ok)
        qFatal("batch: %s", r.error.c_str());
    return r;
}

ReconcileReport reconcileAll(const QString& dir, TimeMs fromMs, TimeMs toMs)
{
    ReconcileOptions o;
    o.limit = 0; // every cell
    ReconcileReport r = reconcile(dir.toStdString(), fromMs, toMs, o);
    if (!r.ok)
        qFatal("reconcile: %s", r.error.c_str());
    return r;
}

std::map<AdMinute, GapParts> byCell(const ReconcileReport& r)
{
    std::map<AdMinute, GapParts> out;
    for (const ReconcileCell& c : r.worstCells)
        out[{ c.adId, c.minuteMs }] = c.parts;
    return out;
}

/// Speed count per (ad, minute) from the oracle's cells.
std::map<AdMinute, std::uint64_t> oracleSpeed(const OracleResult& o)
{
    std::map<AdMinute, std::uint64_t> out;
    for (const auto& [key, cell] : o.cells)
        out[{ key.adId, key.windowStartMs }] += cell.count;
    return out;
}

/// The parts must add up, and each must have its sign.
void checkInvariants(const ReconcileReport& r)
{
    GapParts sum;
    for (const ReconcileCell& c : r.worstCells) {
        QCOMPARE(c.parts.gap, static_cast<std::int64_t>(c.parts.batch) - static_cast<std::int64_t>(c.parts.speed));
        QCOMPARE(c.parts.gap, c.parts.explained() + c.parts.unexplained);
        QVERIFY(c.parts.late >= 0);
        QVERIFY(c.parts.afterRun <= 0);
        sum += c.parts;
    }
    QCOMPARE(sum, r.totals);
    QCOMPARE(static_cast<std::uint64_t>(r.worstCells.size()), r.cellCount);
}

} // namespace

class TestReconciler : public QObject {
    Q_OBJECT

private slots:
    void lateDropsAreTheWholeGap_data()
    {
        QTest::addColumn<int>("shards");
        QTest::addColumn<int>("partitions");
        QTest::addColumn<bool>("finish");
        QTest::newRow("one shard") << 1 << 3 << true;
        QTest::newRow("three shards") << 3 << 2 << true;
        QTest::newRow("last windows still open") << 1 << 2 << false;
    }
    void lateDropsAreTheWholeGap()
    {
        QFETCH(int, shards);
        QFETCH(int, partitions);
        QFETCH(bool, finish);
        const auto spec = streamSpec(11 + static_cast<std::uint64_t>(shards), static_cast<std::uint32_t>(partitions));
        const std::vector<ClickEvent> events = randomStream(spec);
        const PipelineConfig cfg = reconcileConfig(LatePolicy::Drop, static_cast<std::uint32_t>(shards));
        const OracleResult oracle = runOracle(events, cfg, spec.partitions);
        QVERIFY(oracle.lateDropped > 500 && oracle.duplicates > 100);

        QTemporaryDir dir;
        {
            StoreRun run(dir.path().toStdString(), events, cfg, spec.partitions, spec.startMs);
            run.stepUntil(0, events.size(), finish);
            run.close();
        }
        const auto [from, to] = rangeOf(events);
        const BatchRunRecord run = runBatch(dir.path(), from, to).run;
        const ReconcileReport r = reconcileAll(dir.path(), from, to);
        checkInvariants(r);
        // The batch layer recounts only final minutes: with the last windows still open (partial
        // speed rows), the run ends at the watermark and the open minutes stay uncovered.
        QCOMPARE(r.speedOpenCells, std::uint64_t { 0 });
        QCOMPARE(r.runs.size(), std::size_t { 1 });
        QCOMPARE(r.uncovered.empty(), finish);
        QCOMPARE(run.toMs < to, !finish);

        std::map<AdMinute, std::uint64_t> lateDrops;
        for (const auto& [key, n] : oracle.lateDrops)
            lateDrops[{ key.adId, key.windowStartMs }] += n;
        const std::map<AdMinute, std::uint64_t> speed = oracleSpeed(oracle);
        const std::map<AdMinute, GapParts> cells = byCell(r);
        std::map<AdMinute, bool> expected; // every covered (ad, minute) either layer has
        for (const auto& kv : speed)
            if (kv.first.second < run.toMs)
                expected[kv.first] = true;
        for (const auto& kv : lateDrops)
            if (kv.first.second < run.toMs)
                expected[kv.first] = true;
        QCOMPARE(cells.size(), expected.size());
        for (const auto& [cell, parts] : cells) {
            const std::uint64_t late = lateDrops.count(cell) ? lateDrops.at(cell) : 0;
            const std::uint64_t counted = speed.count(cell) ? speed.at(cell) : 0;
            QCOMPARE(parts.speed, counted);
            QCOMPARE(parts.batch, counted + late);
            QCOMPARE(parts.gap, static_cast<std::int64_t>(late));
            QCOMPARE(parts.late, static_cast<std::int64_t>(late));
            QCOMPARE(parts.duplicates, std::int64_t { 0 });
            QCOMPARE(parts.afterRun, std::int64_t { 0 });
            QCOMPARE(parts.unexplained, std::int64_t { 0 });
        }
        std::int64_t coveredLate = 0;
        for (const auto& [cell, n] : lateDrops)
            coveredLate += cell.second < run.toMs ? static_cast<std::int64_t>(n) : 0;
        QCOMPARE(r.totals.late, coveredLate);
        QCOMPARE(r.cellsUnexplained, std::uint64_t { 0 });
        QCOMPARE(r.adsUnexplained, std::uint64_t { 0 });
        QVERIFY(r.damage.empty());
    }

    void injectedFaultIsTheUnexplainedGap_data()
    {
        QTest::addColumn<int>("kind");
        QTest::addColumn<double>("fraction");
        QTest::addColumn<int>("policy");
        QTest::addColumn<int>("shards");
        QTest::addColumn<bool>("crash");
        const int drop = static_cast<int>(SpeedFault::Kind::DropCountry);
        const int twice = static_cast<int>(SpeedFault::Kind::DoubleCountAd);
        QTest::newRow("drop 30% of DE") << drop << 0.3 << 0 << 1 << false;
        QTest::newRow("drop all of DE, update policy, 2 shards") << drop << 1.0 << 1 << 2 << false;
        QTest::newRow("double-count ad 2") << twice << 0.0 << 0 << 2 << false;
        QTest::newRow("drop 30% of DE across a crash") << drop << 0.3 << 1 << 1 << true;
        QTest::newRow("double-count ad 2 across a crash") << twice << 0.0 << 0 << 1 << true;
    }
    void injectedFaultIsTheUnexplainedGap()
    {
        QFETCH(int, kind);
        QFETCH(double, fraction);
        QFETCH(int, policy);
        QFETCH(int, shards);
        QFETCH(bool, crash);
        // One partition: a VectorSource seeks back exactly only within one partition.
        const auto spec = streamSpec(23, 1);
        const std::vector<ClickEvent> events = randomStream(spec);
        PipelineConfig cfg
            = reconcileConfig(policy ? LatePolicy::Update : LatePolicy::Drop, static_cast<std::uint32_t>(shards));
        cfg.speedFault.kind = static_cast<SpeedFault::Kind>(kind);
        cfg.speedFault.country = packCountry('D', 'E');
        cfg.speedFault.fraction = fraction;
        cfg.speedFault.adId = 2;
        const OracleResult oracle = runOracle(events, cfg, spec.partitions);

        // The miscount, from the events and the fault rule: batch − speed per (ad, minute).
        std::map<AdMinute, std::int64_t> miscount;
        std::uint64_t countryCounted = 0, hit = 0;
        for (std::size_t i = 0; i < events.size(); ++i) {
            const ClickEvent& e = events[i];
            if (!speedCounted(oracle.dispositions[i]))
                continue;
            if (cfg.speedFault.kind == SpeedFault::Kind::DropCountry && e.country == packCountry('D', 'E')) {
                ++countryCounted;
                if (fraction >= 1.0 || cfg.speedFault.selects(e)) {
                    ++miscount[adMinute(e)];
                    ++hit;
                }
            }
            if (cfg.speedFault.kind == SpeedFault::Kind::DoubleCountAd && e.adId == 2) {
                --miscount[adMinute(e)];
                ++hit;
            }
        }
        QVERIFY(hit > 300);
        if (cfg.speedFault.kind == SpeedFault::Kind::DropCountry) // the draw honours the fraction
            QVERIFY(std::abs(static_cast<double>(hit) / static_cast<double>(countryCounted) - fraction) < 0.05);

        QTemporaryDir dir;
        const std::string path = dir.path().toStdString();
        if (crash) {
            StoreRun first(path, events, cfg, spec.partitions, spec.startMs);
            first.stepUntil(events.size() / 2, events.size());
            first.checkpoint();
            first.stepUntil(events.size() / 2 - 3 * cfg.batchSize, events.size());
            // Destroyed without close(): as a kill -9, the events after the checkpoint are redone.
        }
        {
            StoreRun run(path, events, cfg, spec.partitions, spec.startMs);
            QCOMPARE(run.recovery.restored, crash);
            run.stepUntil(0, events.size());
            run.close();
        }
        const auto [from, to] = rangeOf(events);
        runBatch(dir.path(), from, to);
        const ReconcileReport r = reconcileAll(dir.path(), from, to);
        checkInvariants(r);

        std::int64_t expectedTotal = 0;
        std::uint64_t expectedCells = 0;
        for (const auto& [cell, n] : miscount) {
            expectedTotal += n;
            expectedCells += n != 0;
        }
        for (const auto& [cell, parts] : byCell(r)) {
            const std::int64_t want = miscount.count(cell) ? miscount.at(cell) : 0;
            QCOMPARE(parts.unexplained, want);
        }
        QCOMPARE(r.totals.unexplained, expectedTotal);
        QCOMPARE(r.cellsUnexplained, expectedCells);
        // Worst first: the first cell carries the largest miscount.
        std::int64_t largest = 0;
        for (const auto& [cell, n] : miscount)
            largest = std::max(largest, std::abs(n));
        QCOMPARE(std::abs(r.worstCells.front().parts.unexplained), largest);
        if (cfg.speedFault.kind == SpeedFault::Kind::DoubleCountAd) {
            QCOMPARE(r.adsUnexplained, std::uint64_t { 1 });
            QCOMPARE(r.worstAds.front().adId, AdId { 2 });
            QCOMPARE(r.worstAds.front().parts.unexplained, expectedTotal);
        }
    }

    void recordsAfterTheBatchRunAreExplained_data()
    {
        QTest::addColumn<int>("shards");
        QTest::addColumn<int>("policy");
        QTest::newRow("drop, one shard") << 1 << 0;
        QTest::newRow("update, two shards") << 2 << 1;
    }
    void recordsAfterTheBatchRunAreExplained()
    {
        QFETCH(int, shards);
        QFETCH(int, policy);
        const auto spec = streamSpec(31, 2);
        const std::vector<ClickEvent> events = randomStream(spec);
        const PipelineConfig cfg
            = reconcileConfig(policy ? LatePolicy::Update : LatePolicy::Drop, static_cast<std::uint32_t>(shards));
        const OracleResult oracle = runOracle(events, cfg, spec.partitions);
        const auto [from, to] = rangeOf(events);

        QTemporaryDir dir;
        std::size_t before = 0; // events the batch run saw
        TimeMs coveredTo = 0; // the run recounts the minutes that were final at its checkpoint
        {
            StoreRun run(dir.path().toStdString(), events, cfg, spec.partitions, spec.startMs);
            before = run.stepUntil(events.size() * 2 / 3, events.size());
            run.checkpoint();
            const BatchJobResult batch = runBatch(dir.path(), from, to);
            QCOMPARE(batch.run.rawEnd.nextSequence, static_cast<std::uint64_t>(before));
            coveredTo = batch.run.toMs;
            QVERIFY(coveredTo < to);
            run.stepUntil(0, events.size());
            run.close();
        }
        // The later events of covered minutes: speed-counted ones (late updates; under the drop
        // policy every later event of a final minute is dropped) are in the speed rows, not in the
        // batch rows.
        std::map<AdMinute, std::int64_t> after;
        std::int64_t afterTotal = 0;
        for (std::size_t i = before; i < events.size(); ++i)
            if (speedCounted(oracle.dispositions[i]) && adMinute(events[i]).second < coveredTo) {
                --after[adMinute(events[i])];
                --afterTotal;
            }
        if (policy)
            QVERIFY2(afterTotal < 0, qPrintable(QString::number(afterTotal)));
        else
            QCOMPARE(afterTotal, std::int64_t { 0 });

        const ReconcileReport r = reconcileAll(dir.path(), from, to);
        checkInvariants(r);
        QCOMPARE(r.tailRecordsScanned, static_cast<std::uint64_t>(events.size() - before));
        for (const auto& [cell, parts] : byCell(r)) {
            QCOMPARE(parts.afterRun, after.count(cell) ? after.at(cell) : 0);
            QCOMPARE(parts.unexplained, std::int64_t { 0 });
        }
        QCOMPARE(r.totals.afterRun, afterTotal);
        QCOMPARE(r.totals.unexplained, std::int64_t { 0 });
    }

    void damagedRawLogIsFlagged()
    {
        // A block written after the batch run is damaged: its records are in the speed rows but the
        // tail scan cannot read them, so "arrived after the run" misses them. The gap stays
        // unexplained, and every cell that shows it is flagged with the damage's file and offset.
        // Under the update policy, late updates of minutes the run covered keep arriving after it.
        const auto spec = streamSpec(51, 1);
        const std::vector<ClickEvent> events = randomStream(spec);
        PipelineConfig cfg = reconcileConfig(LatePolicy::Update, 1);
        const auto [from, to] = rangeOf(events);
        QTemporaryDir dir;
        BatchRunRecord batchRun;
        {
            StoreRun run(dir.path().toStdString(), events, cfg, spec.partitions, spec.startMs);
            run.stepUntil(events.size() / 2, events.size());
            run.checkpoint();
            batchRun = runBatch(dir.path(), from, to).run;
            run.stepUntil(0, events.size());
            run.close();
        }
        std::string segment;
        for (const auto& f : std::filesystem::directory_iterator(dir.path().toStdString() + "/raw"))
            if (f.path().extension() == ".acr")
                segment = std::max(segment, f.path().string());
        std::vector<std::uint64_t> tailBlocks;
        for (std::uint64_t offset : blockOffsets(segment))
            if (offset >= batchRun.rawEnd.byteOffset)
                tailBlocks.push_back(offset);
        QVERIFY(!tailBlocks.empty());
        const std::uint64_t damagedBlock = tailBlocks.front();
        flipByte(segment, damagedBlock + rawlog::kBlockHeaderBytes + 40);

        const ReconcileReport r = reconcileAll(dir.path(), from, to);
        checkInvariants(r);
        QCOMPARE(r.damage.size(), std::size_t { 1 });
        QCOMPARE(r.damage[0].damage.path, segment);
        QCOMPARE(r.damage[0].damage.byteOffset, damagedBlock);
        QVERIFY(r.totals.unexplained < 0);
        QVERIFY(r.cellsUnexplained > 0);
        for (const ReconcileCell& c : r.worstCells)
            if (c.parts.unexplained != 0)
                QVERIFY(c.rawDamage);
        for (const ReconcileMinute& m : r.minutes)
            if (m.parts.unexplained != 0)
                QVERIFY(m.rawDamage);

        // Recounted now, the batch run meets the damage itself: it records only how many blocks,
        // and the reconciler re-reads the run's range to say which.
        const BatchRunRecord rerun = runBatch(dir.path(), batchRun.fromMs, batchRun.toMs).run;
        QCOMPARE(rerun.damagedBlocks, std::uint64_t { 1 });
        const ReconcileReport again = reconcileAll(dir.path(), from, to);
        checkInvariants(again);
        QCOMPARE(again.tailRecordsScanned, std::uint64_t { 0 });
        QCOMPARE(again.damage.size(), std::size_t { 1 });
        QCOMPARE(again.damage[0].damage.byteOffset, damagedBlock);
        QCOMPARE(again.totals.unexplained, r.totals.unexplained); // the same records, now missing from the batch
        for (const ReconcileCell& c : again.worstCells)
            if (c.parts.unexplained != 0)
                QVERIFY(c.rawDamage);
    }

    void duplicatesExplainTheGap()
    {
        // A resend of click 7 in the next minute: the speed layer drops it (seen within the horizon),
        // the batch layer counts it in its own minute (+1). Click 9 resent after the speed layer's
        // one-minute horizon but into a window still open: the speed layer counts it again, the
        // batch layer removes it (−1).
        const TimeMs t0 = 1767225600000LL;
        auto event = [&](AdId ad, TimeMs t, std::uint64_t clickId) {
            ClickEvent e;
            e.adId = ad;
            e.eventTimeMs = t;
            e.clickId = clickId;
            e.country = packCountry('U', 'S');
            e.device = DeviceClass::Mobile;
            return e;
        };
        std::vector<ClickEvent> events { event(1, t0 + 1000, 7), event(1, t0 + 61000, 7), event(2, t0 + 2000, 9) };
        for (int m = 1; m <= 6; ++m)
            events.push_back(event(3, t0 + m * kMsPerMinute + 500, 100 + static_cast<std::uint64_t>(m)));
        events.push_back(event(2, t0 + 3000, 9));
        for (std::size_t i = 0; i < events.size(); ++i)
            events[i].offset = static_cast<std::int64_t>(i);
        PipelineConfig cfg = reconcileConfig(LatePolicy::Drop, 1);
        cfg.watermark.boundMs = 0;
        cfg.window.allowedLatenessMs = 30 * kMsPerMinute;
        cfg.dedupHorizonMs = kMsPerMinute;
        cfg.batchSize = 1;

        QTemporaryDir dir;
        {
            StoreRun run(dir.path().toStdString(), events, cfg, 1, t0);
            run.stepUntil(0, events.size());
            QCOMPARE(run.pipeline->counters().duplicates, std::uint64_t { 1 });
            run.close();
        }
        runBatch(dir.path(), t0, t0 + 10 * kMsPerMinute);
        const ReconcileReport r = reconcileAll(dir.path(), t0, t0 + 10 * kMsPerMinute);
        checkInvariants(r);
        const auto cells = byCell(r);
        const GapParts resend = cells.at({ 1, t0 + kMsPerMinute });
        QCOMPARE(resend.speed, std::uint64_t { 0 });
        QCOMPARE(resend.batch, std::uint64_t { 1 });
        QCOMPARE(resend.duplicates, std::int64_t { 1 });
        const GapParts expired = cells.at({ 2, t0 });
        QCOMPARE(expired.speed, std::uint64_t { 2 });
        QCOMPARE(expired.batch, std::uint64_t { 1 });
        QCOMPARE(expired.duplicates, std::int64_t { -1 });
        QCOMPARE(cells.at({ 1, t0 }).gap, std::int64_t { 0 });
        QCOMPARE(r.totals.gap, std::int64_t { 0 });
        QCOMPARE(r.cellsUnexplained, std::uint64_t { 0 });
        QCOMPARE(r.cellCount, std::uint64_t { 9 });
    }

    void uncoveredMinutesAreListedNotReconciled()
    {
        const auto spec = streamSpec(41, 1);
        const std::vector<ClickEvent> events = randomStream(spec);
        const PipelineConfig cfg = reconcileConfig(LatePolicy::Drop, 1);
        const OracleResult oracle = runOracle(events, cfg, spec.partitions);
        QTemporaryDir dir;
        {
            StoreRun run(dir.path().toStdString(), events, cfg, spec.partitions, spec.startMs);
            run.stepUntil(0, events.size());
            run.close();
        }
        const auto [from, to] = rangeOf(events);
        const TimeMs mid = from + (to - from) / kMsPerMinute / 2 * kMsPerMinute;
        runBatch(dir.path(), from, mid);
        const ReconcileReport r = reconcileAll(dir.path(), from - 5 * kMsPerMinute, to);
        checkInvariants(r);
        std::uint64_t speedAfterMid = 0;
        for (const auto& [cell, n] : oracleSpeed(oracle))
            speedAfterMid += cell.second >= mid ? n : 0;
        QVERIFY(speedAfterMid > 1000);
        QCOMPARE(r.uncovered.size(), std::size_t { 2 });
        QCOMPARE(r.uncovered[0].fromMs, from - 5 * kMsPerMinute);
        QCOMPARE(r.uncovered[0].toMs, from);
        QCOMPARE(r.uncovered[1].fromMs, mid);
        QCOMPARE(r.uncovered[1].toMs, to);
        QCOMPARE(r.uncoveredSpeed, speedAfterMid);
        QCOMPARE(r.coveredMinutes, static_cast<std::uint64_t>((mid - from) / kMsPerMinute));
        for (const ReconcileCell& c : r.worstCells)
            QVERIFY(c.minuteMs >= from && c.minuteMs < mid);
        for (const ReconcileMinute& m : r.minutes)
            QCOMPARE(m.covered, m.minuteMs < mid);
        QCOMPARE(r.totals.unexplained, std::int64_t { 0 });
    }

    void errorsNameTheProblem()
    {
        QTemporaryDir dir;
        ReconcileReport r = reconcile(dir.path().toStdString(), 0, kMsPerMinute);
        QVERIFY(!r.ok);
        QVERIFY2(r.error.find("no store") != std::string::npos, r.error.c_str());
        r = reconcile(dir.path().toStdString(), 5 * kMsPerMinute, 5 * kMsPerMinute);
        QVERIFY(!r.ok);
        QVERIFY2(r.error.find("empty range") != std::string::npos, r.error.c_str());
    }
};

QTEST_GUILESS_MAIN(TestReconciler)
#include "tst_reconciler.moc"
