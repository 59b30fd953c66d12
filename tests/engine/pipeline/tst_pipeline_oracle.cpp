// Every final window of the speed layer equals a brute-force count of the same events under
// the same watermark rules, whatever the batch sizes, shard count and late policy.

#include "engine/support/oracle.h"
#include "engine/support/random_events.h"
#include "ingest/vector_source.h"
#include "pipeline/pipeline.h"

#include <QtTest>

using namespace adclick::engine;
using namespace adclick::test;

class TestPipelineOracle : public QObject {
    Q_OBJECT

private:
    static PipelineConfig config(LatePolicy policy, TimeMs latenessMs, std::uint32_t shards)
    {
        PipelineConfig c;
        c.window.windowMs = kMsPerMinute;
        c.window.allowedLatenessMs = latenessMs;
        c.window.latePolicy = policy;
        c.window.updateRetentionMs = 2 * kMsPerMinute;
        c.watermark.boundMs = 30 * kMsPerSecond;
        c.watermark.idleTimeoutMs = 0;
        c.dedupHorizonMs = 30 * kMsPerDay;
        c.shards = shards;
        c.maxFutureMs = 0;
        c.topK.k = 10;
        c.snapshotIntervalMs = 1000000;
        return c;
    }

    struct Run {
        CollectingSink sink;
        PipelineCounters counters;
        TimeMs watermarkBeforeFinish = 0;
        TopKResult topK;
    };

    static void runPipeline(Run& run, const std::vector<ClickEvent>& events, const PipelineConfig& cfg,
        std::uint32_t partitions, std::size_t minBatch, std::size_t maxBatch, std::uint64_t seed)
    {
        VirtualClock clock(events.front().eventTimeMs);
        VectorSource source(VectorSource::fromEvents(events, events.front().eventTimeMs), partitions);
        source.setBatchSizes(minBatch, maxBatch, seed);
        Pipeline p(cfg, source, clock);
        p.addSink(&run.sink);
        p.run();
        run.watermarkBeforeFinish = p.watermark();
        run.topK = p.topK(cfg.topK.k);
        p.finish();
        run.counters = p.counters();
    }

private slots:
    void finalWindowsEqualOracle_data()
    {
        QTest::addColumn<int>("policy");
        QTest::addColumn<qint64>("latenessMs");
        QTest::addColumn<int>("shards");
        QTest::addColumn<int>("minBatch");
        QTest::addColumn<int>("maxBatch");
        QTest::addColumn<int>("shuffleBlock");
        QTest::addColumn<quint64>("seed");
        int row = 0;
        for (int policy : { 0, 1 })
            for (qint64 lateness : { qint64(0), qint64(20000) })
                for (int shards : { 1, 2, 3 })
                    for (auto [mn, mx] : { std::pair { 1, 1 }, std::pair { 1, 64 }, std::pair { 500, 5000 } })
                        for (int block : { 1, 50 }) {
                            const quint64 seed = 1000 + quint64(row++);
                            QTest::addRow("%s late=%llds shards=%d batch=%d-%d shuffle=%d", policy ? "update" : "drop",
                                static_cast<long long>(lateness / 1000), shards, mn, mx, block)
                                << policy << lateness << shards << mn << mx << block << seed;
                        }
    }

    void finalWindowsEqualOracle()
    {
        QFETCH(int, policy);
        QFETCH(qint64, latenessMs);
        QFETCH(int, shards);
        QFETCH(int, minBatch);
        QFETCH(int, maxBatch);
        QFETCH(int, shuffleBlock);
        QFETCH(quint64, seed);

        RandomStreamSpec spec;
        spec.seed = seed % 7 + 1; // a handful of streams, each seen under many configurations
        auto events = randomStream(spec);
        if (shuffleBlock > 1)
            shuffleLocally(events, static_cast<std::size_t>(shuffleBlock), seed);
        const auto cfg = config(policy ? LatePolicy::Update : LatePolicy::Drop, latenessMs, std::uint32_t(shards));
        const OracleResult expected = runOracle(events, cfg, spec.partitions);
        QVERIFY(expected.lateDropped + expected.lateUpdated > 0); // the data exercises lateness
        QVERIFY(expected.duplicates > 0);

        Run run;
        runPipeline(run, events, cfg, spec.partitions, std::size_t(minBatch), std::size_t(maxBatch), seed);

        QCOMPARE(run.watermarkBeforeFinish, expected.watermarkMs);
        QCOMPARE(run.sink.cells.size(), expected.cells.size());
        QVERIFY(run.sink.cells == expected.cells);
        QVERIFY(run.sink.lateDrops == expected.lateDrops);
        QCOMPARE(run.counters.counted, expected.counted);
        QCOMPARE(run.counters.duplicates, expected.duplicates);
        QCOMPARE(run.counters.lateDropped, expected.lateDropped);
        QCOMPARE(run.counters.lateUpdated, expected.lateUpdated);
        QCOMPARE(run.counters.received, std::uint64_t(events.size()));
        QCOMPARE(run.counters.counted + run.counters.duplicates + run.counters.lateDropped, run.counters.accepted);
        if (policy == 0) {
            // Under drop every cell is emitted exactly once.
            for (const auto& [key, n] : run.sink.emissions)
                QCOMPARE(n, 1);
        }
        // Window summaries add up to the counted events at finalisation.
        std::uint64_t summarised = 0;
        for (const auto& s : run.sink.summaries)
            summarised += s.counted;
        if (policy == 0) {
            QCOMPARE(summarised, expected.counted);
        } else {
            // Late updates after finalisation are corrections, not part of the first summary.
            QVERIFY(summarised <= expected.counted);
            QVERIFY(expected.counted - summarised <= expected.lateUpdated);
        }

        // Exact top-K of the last complete window equals a brute-force ranking.
        QVERIFY(run.topK.valid);
        std::map<AdId, std::uint64_t> perAd;
        for (std::size_t i = 0; i < events.size(); ++i) {
            const auto d = expected.dispositions[i];
            if (d != ClickEvent::Disposition::Counted && d != ClickEvent::Disposition::LateUpdated)
                continue;
            if (events[i].eventTimeMs >= run.topK.windowStartMs && events[i].eventTimeMs < run.topK.windowEndMs)
                ++perAd[events[i].adId];
        }
        std::vector<TopKEntry> brute;
        for (auto [ad, n] : perAd)
            brute.push_back({ ad, n });
        std::sort(brute.begin(), brute.end(), [](const TopKEntry& a, const TopKEntry& b) {
            return a.count != b.count ? a.count > b.count : a.adId < b.adId;
        });
        brute.resize(std::min<std::size_t>(brute.size(), cfg.topK.k));
        QCOMPARE(run.topK.exact.size(), brute.size());
        for (std::size_t i = 0; i < brute.size(); ++i) {
            QCOMPARE(run.topK.exact[i].adId, brute[i].adId);
            QCOMPARE(run.topK.exact[i].count, brute[i].count);
        }
        for (const auto& a : run.topK.approx)
            QVERIFY(a.estimate >= a.exactCount);
        QVERIFY(run.topK.withinBound);
    }

    void resultsIdenticalAcrossShardsAndBatches()
    {
        RandomStreamSpec spec;
        spec.seed = 99;
        spec.events = 30000;
        const auto events = randomStream(spec);
        const auto base = config(LatePolicy::Update, 10000, 1);
        Run reference;
        runPipeline(reference, events, base, spec.partitions, 4096, 4096, 1);
        for (std::uint32_t shards : { 2u, 4u }) {
            for (std::size_t batch : { std::size_t(1), std::size_t(333) }) {
                auto cfg = base;
                cfg.shards = shards;
                Run other;
                runPipeline(other, events, cfg, spec.partitions, batch, batch, 7);
                QVERIFY(other.sink.cells == reference.sink.cells);
                QVERIFY(other.sink.lateDrops == reference.sink.lateDrops);
                QCOMPARE(other.topK.exact.size(), reference.topK.exact.size());
                for (std::size_t i = 0; i < reference.topK.exact.size(); ++i) {
                    QCOMPARE(other.topK.exact[i].adId, reference.topK.exact[i].adId);
                    QCOMPARE(other.topK.exact[i].count, reference.topK.exact[i].count);
                }
            }
        }
    }

    void windowBoundaryAndLateByOneMs()
    {
        // One partition, bound 1 s, 60 s windows, no allowed lateness.
        const TimeMs t0 = 1767225600000LL; // a minute boundary
        auto ev = [&](TimeMs offset, AdId ad) {
            ClickEvent e;
            e.eventTimeMs = t0 + offset;
            e.adId = ad;
            e.country = packCountry('U', 'S');
            return e;
        };
        const std::vector<ClickEvent> events {
            ev(60999, 1), // watermark t0 + 59.999 s: the first window is one ms from final
            ev(0, 1), // on time, exactly at the first window's start
            ev(61000, 1), // watermark t0 + 60 s: the first window is final
            ev(59999, 1), // late by 1 ms: dropped
            ev(60000, 2), // exactly on the boundary: belongs to the second window, on time
        };
        auto cfg = config(LatePolicy::Drop, 0, 1);
        cfg.watermark.boundMs = 1000;
        VirtualClock clock(t0);
        VectorSource source(VectorSource::fromEvents(events, t0), 1);
        source.setBatchSizes(1, 1);
        Pipeline p(cfg, source, clock);
        CollectingSink sink;
        p.addSink(&sink);
        p.run();
        QCOMPARE(p.watermark(), t0 + 60000);
        QCOMPARE(p.counters().lateDropped, std::uint64_t(1));
        QCOMPARE(p.counters().counted, std::uint64_t(4));
        const WindowKey first { 1, t0, packCountry('U', 'S'), DeviceClass::Other };
        QCOMPARE(sink.cells.at(first).count, std::uint64_t(1)); // final, emitted before the end of input
        QCOMPARE(sink.lateDrops.at(first), std::uint64_t(1));
        p.finish();
        QCOMPARE(sink.cells.at(WindowKey { 1, t0 + 60000, packCountry('U', 'S'), DeviceClass::Other }).count,
            std::uint64_t(2));
        QCOMPARE(sink.cells.at(WindowKey { 2, t0 + 60000, packCountry('U', 'S'), DeviceClass::Other }).count,
            std::uint64_t(1));
    }

    void lateUpdateCorrectsFinalWindow()
    {
        const TimeMs t0 = 1767225600000LL;
        std::vector<ClickEvent> events(3);
        for (auto& e : events)
            e.adId = 5;
        events[0].eventTimeMs = t0 + 10;
        events[1].eventTimeMs = t0 + 200000; // watermark t0 + 199 s: first window final
        events[2].eventTimeMs = t0 + 20; // late: corrects the final window
        auto cfg = config(LatePolicy::Update, 0, 1);
        cfg.watermark.boundMs = 1000;
        cfg.window.updateRetentionMs = 10 * kMsPerMinute;
        VirtualClock clock(t0);
        VectorSource source(VectorSource::fromEvents(events, t0), 1);
        source.setBatchSizes(1, 1);
        Pipeline p(cfg, source, clock);
        CollectingSink sink;
        p.addSink(&sink);
        p.run();
        const WindowKey key { 5, t0, 0, DeviceClass::Other };
        QCOMPARE(sink.cells.at(key).count, std::uint64_t(2));
        QCOMPARE(sink.cells.at(key).lateUpdated, std::uint64_t(1));
        QCOMPARE(sink.emissions.at(key), 2); // the first emission and one correction
        QCOMPARE(p.counters().lateUpdated, std::uint64_t(1));
        QCOMPARE(p.counters().lateDropped, std::uint64_t(0));
    }

    void rejectedRecordsAreCountedPerReason()
    {
        RandomStreamSpec spec;
        spec.events = 2000;
        const auto events = randomStream(spec);
        auto records = VectorSource::fromEvents(events, spec.startMs);
        VectorSource::Record bad;
        bad.rejected = true;
        bad.rejection = { RejectReason::BadCountry, { 5, 0 }, "{\"country\":\"ZZ\"}" };
        records.insert(records.begin() + 100, bad);
        bad.rejection.reason = RejectReason::NotJson;
        records.insert(records.begin() + 200, bad);
        records.insert(records.begin() + 300, bad);
        VirtualClock clock(spec.startMs);
        VectorSource source(std::move(records), spec.partitions);
        auto cfg = config(LatePolicy::Drop, 0, 2);
        Pipeline p(cfg, source, clock);
        CollectingSink sink;
        p.addSink(&sink);
        p.run();
        p.finish();
        QCOMPARE(p.counters().rejected[RejectReason::BadCountry], std::uint64_t(1));
        QCOMPARE(p.counters().rejected[RejectReason::NotJson], std::uint64_t(2));
        QCOMPARE(p.counters().rejected.total(), std::uint64_t(3));
        QCOMPARE(p.counters().received, std::uint64_t(events.size() + 3));
        QCOMPARE(sink.batchRejected, std::uint64_t(3));
    }

    void farFutureEventsAreRejectedNotWatermarked()
    {
        RandomStreamSpec spec;
        spec.events = 1000;
        spec.partitions = 1;
        auto events = randomStream(spec);
        events[500].eventTimeMs += 365 * kMsPerDay; // one device with a clock a year ahead
        VirtualClock clock(spec.startMs);
        VectorSource source(VectorSource::fromEvents(events, spec.startMs + 30 * kMsPerSecond), 1);
        auto cfg = config(LatePolicy::Drop, 0, 1);
        cfg.maxFutureMs = kMsPerHour;
        Pipeline p(cfg, source, clock);
        p.run();
        QCOMPARE(p.counters().rejected[RejectReason::TimestampOutOfRange], std::uint64_t(1));
        QVERIFY(p.watermark() < spec.startMs + kMsPerHour); // the bad event did not move it
        QCOMPARE(p.counters().accepted, std::uint64_t(999));
    }
};

QTEST_APPLESS_MAIN(TestPipelineOracle)
#include "tst_pipeline_oracle.moc"
