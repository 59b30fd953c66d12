// QueryService, rows path: every count equals a brute-force answer over the same events — batch
// cells where a batch run covers the window (or the whole rolled bucket), speed cells elsewhere;
// window edges and misaligned ranges; open versus final windows; rollups widen the range and keep
// the totals; readers on four threads stay consistent while a writer commits. (Raw-log filters,
// the batch job and top-K: tst_query_raw_topk.cpp; bad parameters and ad resolution:
// tst_query_parameters.cpp.)

#include "engine/query/query_test_support.h"

#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <random>
#include <set>
#include <thread>

using namespace adclick::engine;
using namespace adclick::test;


class TestQueryService : public QObject {
    Q_OBJECT

    QTemporaryDir m_finalDir; // finished run: every window final, no lateness
    QTemporaryDir m_openDir; // unfinished run: lateness 20 s, open windows at the end
    DataSet m_final;
    DataSet m_open;
    TimeMs m_t0 = 0; // the final data set's nominal start (an hour boundary)

private slots:
    void initTestCase()
    {
        DataSpec spec;
        spec.stream.seed = 11;
        spec.stream.events = 20000;
        spec.stream.stepMs = 540; // three hours of event time
        QVERIFY(buildDataDirectory(m_finalDir.path(), spec, m_final));
        m_t0 = spec.stream.startMs;
        QVERIFY(m_final.speed.lateDropped > 0 && m_final.speed.duplicates > 0);

        DataSpec open;
        open.stream.seed = 12;
        open.stream.events = 6000;
        open.stream.stepMs = 50;
        open.latenessMs = 20 * kMsPerSecond;
        open.finish = false;
        QVERIFY(buildDataDirectory(m_openDir.path(), open, m_open));
    }

    void rowsUseBatchWhereCovered()
    {
        QTemporaryDir dir;
        QVERIFY(copyDataDirectory(m_finalDir.path(), dir.path()));
        const TimeMs m = kMsPerMinute;
        const Coverage cov { { m_t0 + 20 * m, m_t0 + 65 * m }, { m_t0 + 100 * m, m_t0 + 101 * m } };
        {
            auto store = openWritable(dir.path());
            QVERIFY(store);
            // Two adjacent runs make one covered range.
            QVERIFY(writeOracleBatchRun(*store, m_final, m_t0 + 20 * m, m_t0 + 50 * m));
            QVERIFY(writeOracleBatchRun(*store, m_final, m_t0 + 50 * m, m_t0 + 65 * m));
            QVERIFY(writeOracleBatchRun(*store, m_final, m_t0 + 100 * m, m_t0 + 101 * m));
        }
        QueryService svc(dir.path().toStdString(), queryOptions(m_final));
        std::vector<std::pair<TimeMs, TimeMs>> ranges {
            { m_final.minEventMs, m_final.maxEventMs + 1 },
            { m_t0 + 20 * m, m_t0 + 65 * m },
            { m_t0 + 19 * m, m_t0 + 66 * m },
            { m_t0 + 20 * m + 30000, m_t0 + 64 * m + 1 },
            { m_t0 + 100 * m, m_t0 + 101 * m },
            { m_t0 + 100 * m + 59999, m_t0 + 100 * m + 60000 },
        };
        std::mt19937_64 rng(3);
        for (int i = 0; i < 12; ++i) {
            const TimeMs a = m_t0 - 5 * m + static_cast<TimeMs>(rng() % (190 * m));
            ranges.emplace_back(a, a + 1 + static_cast<TimeMs>(rng() % (40 * m)));
        }
        std::vector<AdId> ads = adsByVolume(m_final);
        ads.resize(6);
        ads.push_back(adsByVolume(m_final).back()); // a rare ad
        ads.push_back(999); // no clicks at all
        bool batchDiffers = false;
        for (AdId ad : ads)
            for (const auto& [from, to] : ranges) {
                const CountResult r = svc.count(ad, from, to);
                QVERIFY2(r.ok(), r.error.c_str());
                const TimeMs a = windowStartOf(from, m);
                const TimeMs b = ceilMinute(to);
                QCOMPARE(r.fromMs, a);
                QCOMPARE(r.toMs, b);
                QVERIFY(!r.widened);
                QCOMPARE(r.path, CountPath::Rows);
                QVERIFY2(r.total == expectedRows(m_final, cov, ad, a, b), qPrintable(describe(r)));
                const std::uint64_t batch = coveredWindows(cov, a, b);
                QCOMPARE(r.provenance.batchWindows, batch);
                QCOMPARE(r.provenance.speedFinalWindows, windowsIn(a, b) - batch);
                QCOMPARE(r.provenance.openWindows, std::uint64_t(0));
                QCOMPARE(r.exact, batch == windowsIn(a, b));
                QVERIFY(!r.partial);
                batchDiffers = batchDiffers || expectedRows(m_final, {}, ad, a, b) != r.total;
            }
        QVERIFY(batchDiffers); // the data tells batch rows from speed rows apart
    }

    void rangeEdges()
    {
        // One ad, one partition, hand-placed events: at from, at to − 1 ms, at to, and beyond.
        const TimeMs t = m_t0;
        const TimeMs m = kMsPerMinute;
        const std::vector<TimeMs> times { t, t + 1, t + 10 * m - 1, t + 10 * m, t + 10 * m + 1, t + 20 * m - 1,
            t + 20 * m, t + 30 * m, t + 45 * m };
        std::vector<ClickEvent> events;
        for (TimeMs at : times) {
            ClickEvent e;
            e.eventTimeMs = at;
            e.adId = 9;
            e.country = packCountry('U', 'S');
            e.clickId = 1000 + events.size();
            e.offset = static_cast<std::int64_t>(events.size());
            events.push_back(e);
        }
        QTemporaryDir dir;
        DataSpec spec;
        spec.stream.partitions = 1;
        spec.finish = false;
        DataSet d;
        QVERIFY(buildDataDirectory(dir.path(), spec, d, events));
        QueryService svc(dir.path().toStdString(), queryOptions(d));
        const std::vector<std::pair<TimeMs, TimeMs>> ranges { { t, t + 10 * m }, { t + 1, t + 10 * m },
            { t, t + 10 * m + 1 }, { t + 10 * m - 1, t + 10 * m }, { t + 10 * m, t + 20 * m },
            { t + 10 * m + 1, t + 20 * m - 1 }, { t + 20 * m, t + 20 * m + 1 }, { t - m, t } };
        for (const auto& [from, to] : ranges) {
            const CountResult r = svc.count(9, from, to);
            QVERIFY2(r.ok(), r.error.c_str());
            const TimeMs a = windowStartOf(from, m);
            const TimeMs b = ceilMinute(to);
            std::uint64_t want = 0;
            for (TimeMs at : times)
                want += at >= a && at < b ? 1 : 0;
            QVERIFY2(r.total == want, qPrintable(describe(r)));
            QCOMPARE(r.fromMs, a);
            QCOMPARE(r.toMs, b);
            QCOMPARE(r.provenance.speedFinalWindows + r.provenance.openWindows, windowsIn(a, b));
        }
        // [t, t + 10 min) holds the events at t and t + 10 min − 1 ms, not the one at t + 10 min.
        QCOMPARE(svc.count(9, t, t + 10 * m).total + 2, svc.count(9, t, t + 10 * m + 1).total);
    }

    void openVersusFinal()
    {
        QueryService svc(m_openDir.path().toStdString(), queryOptions(m_open));
        const TimeMs wm = m_open.speed.watermarkMs;
        const TimeMs lateness = m_open.config.window.allowedLatenessMs;
        const TimeMs m = kMsPerMinute;
        const TimeMs end = ceilMinute(m_open.maxEventMs + 1);
        std::vector<AdId> ads = adsByVolume(m_open);
        ads.push_back(999); // no rows at all: open or final by the watermark alone
        for (AdId ad : ads) {
            for (const auto& [from, to] : std::vector<std::pair<TimeMs, TimeMs>> {
                     { end - 6 * m, end + 2 * m }, { m_open.minEventMs, wm - 2 * m }, { wm - m, wm + m } }) {
                const CountResult r = svc.count(ad, from, to);
                QVERIFY2(r.ok(), r.error.c_str());
                QVERIFY(r.checkpoint.present);
                QCOMPARE(r.checkpoint.watermarkMs, wm);
                const TimeMs a = windowStartOf(from, m);
                const TimeMs b = ceilMinute(to);
                QVERIFY2(r.total == expectedRows(m_open, {}, ad, a, b), qPrintable(describe(r)));
                std::uint64_t open = 0;
                for (TimeMs w = a; w < b; w += m)
                    open += w + m + lateness > wm ? 1 : 0;
                QCOMPARE(r.provenance.openWindows, open);
                QCOMPARE(r.provenance.speedFinalWindows, windowsIn(a, b) - open);
                QCOMPARE(r.partial, open > 0);
            }
        }
    }

    void finalityFollowsRowsThenWatermark_data()
    {
        QTest::addColumn<qint64>("latenessMs");
        QTest::newRow("no lateness") << qint64(0);
        QTest::newRow("lateness 90 s") << qint64(90 * kMsPerSecond);
    }
    void finalityFollowsRowsThenWatermark()
    {
        // A window is final when its rows are; without rows, when end + lateness ≤ watermark.
        QFETCH(qint64, latenessMs);
        QTemporaryDir dir;
        const TimeMs t = m_t0;
        const TimeMs m = kMsPerMinute;
        const TimeMs wm = t + 10 * m;
        const std::map<TimeMs, bool> rows { { t + 1 * m, true }, { t + 2 * m, false }, { t + 9 * m, false },
            { t + 10 * m, true }, { t + 12 * m, true }, { t + 13 * m, false } };
        {
            auto store = openWritable(dir.path());
            QVERIFY(store);
            CheckpointData ck;
            ck.watermarkMs = wm;
            for (const auto& [start, final] : rows) {
                MinuteRow r;
                r.key = { 3, start, packCountry('D', 'E'), DeviceClass::Desktop };
                r.count = 5;
                r.final = final;
                ck.rows.push_back(r);
            }
            QCOMPARE(store->writeCheckpoint(ck), StoreStatus::Ok);
        }
        QueryService::Options options;
        options.allowedLatenessMs = latenessMs;
        QueryService svc(dir.path().toStdString(), options);
        const CountResult r = svc.count(3, t, t + 15 * m);
        QVERIFY2(r.ok(), r.error.c_str());
        std::uint64_t open = 0;
        for (TimeMs w = t; w < t + 15 * m; w += m) {
            const auto it = rows.find(w);
            open += (it != rows.end() ? !it->second : w + m + latenessMs > wm) ? 1 : 0;
        }
        QCOMPARE(r.total, std::uint64_t(5 * rows.size()));
        QCOMPARE(r.provenance.openWindows, open);
        QCOMPARE(r.provenance.speedFinalWindows, 15 - open);
        // Filters come from the rows.
        QCOMPARE(svc.count(3, t, t + 15 * m, { "de", "desktop", {}, {} }).total, r.total);
        QCOMPARE(svc.count(3, t, t + 15 * m, { "us", {}, {}, {} }).total, std::uint64_t(0));
        QCOMPARE(svc.count(3, t, t + 15 * m, { {}, "MOBILE", {}, {} }).total, std::uint64_t(0));
    }

    void repeatedCountsFollowEveryNewCheckpoint()
    {
        // Counts are cached per store version: a new checkpoint must show at once (same service, ad, range, filters).
        QTemporaryDir dir;
        const TimeMs t = m_t0;
        const TimeMs m = kMsPerMinute;
        auto store = openWritable(dir.path());
        QVERIFY(store);
        QueryService svc(dir.path().toStdString());
        auto write = [&](std::uint64_t count, bool final, TimeMs watermark) {
            CheckpointData ck;
            ck.watermarkMs = watermark;
            ck.rows.push_back({ { 7, t, packCountry('D', 'E'), DeviceClass::Desktop }, count });
            ck.rows.back().final = final;
            return store->writeCheckpoint(ck);
        };
        QCOMPARE(write(5, false, t), StoreStatus::Ok);
        for (int i = 0; i < 3; ++i) { // repeated: answered from the cache, same answer
            const CountResult r = svc.count(7, t, t + m, { "de", {}, {}, {} });
            QVERIFY2(r.ok() && r.total == 5 && r.provenance.openWindows == 1, r.error.c_str());
        }
        QCOMPARE(write(9, true, t + 2 * m), StoreStatus::Ok);
        const CountResult after = svc.count(7, t, t + m, { "de", {}, {}, {} });
        QVERIFY2(after.total == 9 && after.provenance.openWindows == 0 && after.provenance.speedFinalWindows == 1,
            qPrintable(QString("after a new checkpoint: total %1, open %2").arg(after.total).arg(after.provenance.openWindows)));
        QCOMPARE(svc.count(7, t, t + m, { "us", {}, {}, {} }).total, std::uint64_t(0)); // filters are part of the key
    }

    void regionAndClassFilters()
    {
        QueryService svc(m_finalDir.path().toStdString(), queryOptions(m_final));
        const TimeMs from = windowStartOf(m_final.minEventMs, kMsPerMinute);
        const TimeMs to = m_t0 + 90 * kMsPerMinute;
        for (AdId ad : adsByVolume(m_final))
            for (const char* region : { "", "us", "De", "IN", "FR" })
                for (const char* cls : { "", "mobile", "Desktop", "bot", "other", "tablet" }) {
                    CountFilters f;
                    f.region = region;
                    f.userAgentClass = cls;
                    CountryCode country = 0;
                    DeviceClass device = DeviceClass::Other;
                    parseCountry(region, country);
                    parseDeviceClass(cls, device);
                    const auto keep = [&](const WindowKey& k) {
                        return (!*region || k.country == country) && (!*cls || k.device == device);
                    };
                    const CountResult r = svc.count(ad, from, to, f);
                    QVERIFY2(r.ok(), r.error.c_str());
                    QCOMPARE(r.path, CountPath::Rows);
                    QCOMPARE(r.total, expectedRows(m_final, {}, ad, from, to, {}, keep));
                }
    }

    void rolledUpRangesKeepTotals()
    {
        QTemporaryDir dir;
        QVERIFY(copyDataDirectory(m_finalDir.path(), dir.path()));
        const TimeMs m = kMsPerMinute;
        const TimeMs h = kMsPerHour;
        // Hour 0 wholly covered by batch, hour 1 half covered: after rollup hour 1 is speed.
        const Coverage cov { { m_t0, m_t0 + h }, { m_t0 + 90 * m, m_t0 + 2 * h } };
        auto store = openWritable(dir.path());
        QVERIFY(store);
        QVERIFY(writeOracleBatchRun(*store, m_final, m_t0, m_t0 + h));
        QVERIFY(writeOracleBatchRun(*store, m_final, m_t0 + 90 * m, m_t0 + 2 * h));
        QueryService svc(dir.path().toStdString(), queryOptions(m_final));
        const std::vector<AdId> ads = adsByVolume(m_final);
        std::map<std::pair<AdId, TimeMs>, std::uint64_t> before; // hour-aligned totals before the rollup
        for (AdId ad : ads)
            for (TimeMs start : { m_t0 - h, m_t0, m_t0 + h, m_t0 + 2 * h }) {
                const CountResult r = svc.count(ad, start, start + h);
                QCOMPARE(r.total, expectedRows(m_final, cov, ad, start, start + h));
                before[{ ad, start }] = r.total;
            }

        RollupReport report;
        QCOMPARE(
            store->rollup(m_final.lastProcessingMs + 10 * kMsPerDay, RetentionConfig {}, &report), StoreStatus::Ok);
        QVERIFY(report.minuteRowsRolled > 0);
        QVERIFY(report.minuteCutoffMs > m_final.maxEventMs);
        Levels levels { report.minuteCutoffMs, report.hourCutoffMs };
        for (AdId ad : ads) {
            for (TimeMs start : { m_t0 - h, m_t0, m_t0 + h, m_t0 + 2 * h }) {
                const CountResult r = svc.count(ad, start, start + h);
                QVERIFY2(r.ok(), r.error.c_str());
                QVERIFY(!r.widened);
                QCOMPARE(r.provenance.hourBuckets, std::uint64_t(1));
                QCOMPARE(r.total, expectedRows(m_final, cov, ad, start, start + h, levels));
                if (start != m_t0 + h) // batch coverage is hour-aligned there: unchanged by the rollup
                    QCOMPARE(r.total, (before[{ ad, start }]));
                QCOMPARE(r.provenance.batchWindows, start == m_t0 ? std::uint64_t(60) : std::uint64_t(0));
            }
            // Misaligned: widened to whole hours, and said so.
            const CountResult r = svc.count(ad, m_t0 + 10 * m + 5, m_t0 + 70 * m + 1);
            QVERIFY2(r.ok(), r.error.c_str());
            QVERIFY(r.widened);
            QCOMPARE(r.fromMs, m_t0);
            QCOMPARE(r.toMs, m_t0 + 2 * h);
            QVERIFY(!r.notes.empty());
            QCOMPARE(r.total, expectedRows(m_final, cov, ad, m_t0, m_t0 + 2 * h, levels));
            QCOMPARE(r.provenance.batchWindows + r.provenance.speedFinalWindows, std::uint64_t(120));
            const CountResult all = svc.count(ad, m_final.minEventMs, m_final.maxEventMs + 1);
            QCOMPARE(
                all.total, expectedRows(m_final, cov, ad, windowStartOf(m_final.minEventMs, h), m_t0 + 4 * h, levels));
        }

        // Hours into days: a few minutes' range answers for the whole day.
        RetentionConfig days;
        days.minuteRetentionMs = kMsPerDay;
        days.hourRetentionMs = 2 * kMsPerDay;
        QCOMPARE(store->rollup(m_final.lastProcessingMs + 10 * kMsPerDay, days, &report), StoreStatus::Ok);
        QVERIFY(report.hourRowsRolled > 0);
        levels = { report.minuteCutoffMs, report.hourCutoffMs };
        const TimeMs day = windowStartOf(m_t0 + 10 * m, kMsPerDay);
        for (AdId ad : ads) {
            const CountResult r = svc.count(ad, m_t0 + 10 * m, m_t0 + 20 * m);
            QVERIFY2(r.ok(), r.error.c_str());
            QVERIFY(r.widened);
            QCOMPARE(r.fromMs, day);
            QCOMPARE(r.toMs, day + kMsPerDay);
            QCOMPARE(r.provenance.dayBuckets, std::uint64_t(1));
            QCOMPARE(r.total, expectedRows(m_final, cov, ad, day, day + kMsPerDay, levels));
        }

        // Past the aggregate retention nothing is left, and the answer says so.
        QCOMPARE(
            store->rollup(m_final.lastProcessingMs + 200 * kMsPerDay, RetentionConfig {}, &report), StoreStatus::Ok);
        const CountResult gone = svc.count(ads.front(), m_t0, m_t0 + h);
        QVERIFY2(gone.ok(), gone.error.c_str());
        QCOMPARE(gone.total, std::uint64_t(0));
        // The range lies in the day-rollup band: its whole day is reported missing.
        QCOMPARE(gone.provenance.missingWindows, std::uint64_t(kMsPerDay / kMsPerMinute));
        QCOMPARE(gone.fromMs, gone.toMs);
        QVERIFY(!gone.notes.empty());
    }

    void concurrentReadersSeeConsistentSnapshots()
    {
        // Checkpoint i: minute i−1 of ad 7 becomes final with count i, minute i opens with count 1,
        // watermark = minute i. After every 10th checkpoint a batch run covers minutes [0, i) with
        // count 2(j+1). Each answer must match the checkpoint and batch coverage it reports.
        QTemporaryDir dir;
        const TimeMs t = m_t0;
        const TimeMs m = kMsPerMinute;
        constexpr int kCheckpoints = 150;
        constexpr std::uint64_t kWindows = 200;
        QueryService svc(dir.path().toStdString(), {}); // before the database exists
        std::atomic<bool> done { false };
        std::atomic<int> answered { 0 };
        std::atomic<int> failures { 0 };
        std::mutex failureMutex;
        std::string firstFailure;
        std::set<std::uint64_t> sequencesSeen; // guarded by failureMutex
        auto fail = [&](const std::string& what) {
            std::lock_guard lock(failureMutex);
            if (failures++ == 0)
                firstFailure = what;
        };
        auto reader = [&] {
            while (!done.load()) {
                const CountResult r = svc.count(7, t, t + static_cast<TimeMs>(kWindows) * m);
                if (r.status == QueryStatus::Unavailable)
                    continue; // the database is being created
                if (!r.ok()) {
                    fail("count: " + r.error);
                    continue;
                }
                const std::uint64_t s = r.checkpoint.present ? r.checkpoint.sequence : 0;
                {
                    std::lock_guard lock(failureMutex);
                    sequencesSeen.insert(s);
                }
                const std::uint64_t b = r.provenance.batchWindows;
                const std::uint64_t want = s == 0 ? 0 : b * (b + 1) + (s * (s + 1) - b * (b + 1)) / 2 + 1;
                const bool batchOk = b % 10 == 0 && b <= s && b + 10 >= s / 10 * 10;
                if (r.total != want || !batchOk || r.provenance.speedFinalWindows != s - b
                    || r.provenance.openWindows != kWindows - s
                    || (s > 0 && r.checkpoint.watermarkMs != t + static_cast<TimeMs>(s) * m))
                    fail("inconsistent: sequence " + std::to_string(s) + " batch " + std::to_string(b) + " total "
                        + std::to_string(r.total));
                const TopKQueryResult top = svc.topK(t, t + static_cast<TimeMs>(kWindows) * m, 3);
                if (top.ok() && top.checkpoint.present) {
                    const std::uint64_t ts = top.checkpoint.sequence;
                    const std::uint64_t tb = top.provenance.batchWindows;
                    const std::uint64_t twant = tb * (tb + 1) + (ts * (ts + 1) - tb * (tb + 1)) / 2 + 1;
                    if (top.entries.size() != 1 || top.entries[0].adId != 7 || top.entries[0].count != twant)
                        fail("inconsistent top-K at sequence " + std::to_string(ts));
                }
                ++answered;
            }
        };
        std::vector<std::thread> readers;
        for (int i = 0; i < 4; ++i)
            readers.emplace_back(reader);
        {
            auto store = openWritable(dir.path());
            QVERIFY(store);
            for (int i = 1; i <= kCheckpoints; ++i) {
                CheckpointData ck;
                ck.watermarkMs = t + i * m;
                MinuteRow closed;
                closed.key = { 7, t + (i - 1) * m, packCountry('U', 'S'), DeviceClass::Mobile };
                closed.count = static_cast<std::uint64_t>(i);
                closed.final = true;
                MinuteRow open = closed;
                open.key.windowStartMs = t + i * m;
                open.count = 1;
                open.final = false;
                ck.rows = { closed, open };
                QCOMPARE(store->writeCheckpoint(ck), StoreStatus::Ok);
                if (i % 10 == 0) {
                    std::vector<BatchCell> cells;
                    for (int j = 0; j < i; ++j) {
                        BatchCell c;
                        c.key = { 7, t + j * m, packCountry('U', 'S'), DeviceClass::Mobile };
                        c.count = 2 * static_cast<std::uint64_t>(j + 1);
                        cells.push_back(c);
                    }
                    BatchRunRecord run;
                    run.fromMs = t;
                    run.toMs = t + i * m;
                    QCOMPARE(store->writeBatchRun(run, cells), StoreStatus::Ok);
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
            }
        }
        done = true;
        for (std::thread& r : readers)
            r.join();
        QVERIFY2(failures.load() == 0, firstFailure.c_str());
        QVERIFY(answered.load() > 0);
        QVERIFY(sequencesSeen.size() >= 3); // the readers ran while the writer committed
        const CountResult last = svc.count(7, t, t + static_cast<TimeMs>(kWindows) * m);
        QCOMPARE(last.checkpoint.sequence, std::uint64_t(kCheckpoints));
    }
};

QTEST_GUILESS_MAIN(TestQueryService)
#include "tst_query_service.moc"
