// QueryService, raw-log path and top-K: IP (exact, CIDR, v4 and v6) and user-agent text filters
// equal a brute-force count of the same events (a click id once per ad and minute, late events
// the speed layer dropped included); after a BatchJob over everything every ad's count equals the
// brute-force batch count; top-K from rows equals a brute-force ranking, and the live answer is
// the pipeline snapshot's.

#include "engine/query/query_test_support.h"

#include "batch/batch_job.h"
#include "pipeline/pipeline_snapshot.h"

#include <QTemporaryDir>
#include <QtTest>

using namespace adclick::engine;
using namespace adclick::test;

namespace {

/// Brute-force top-K over per-ad totals: count desc, ad asc, zero counts left out.
std::vector<TopKEntry> rankAds(const std::map<AdId, std::uint64_t>& totals, std::uint32_t k)
{
    std::vector<TopKEntry> all;
    for (const auto& [ad, n] : totals)
        if (n > 0)
            all.push_back({ ad, n });
    std::sort(all.begin(), all.end(), [](const TopKEntry& a, const TopKEntry& b) {
        return a.count != b.count ? a.count > b.count : a.adId < b.adId;
    });
    if (all.size() > k)
        all.resize(k);
    return all;
}

bool sameEntries(const std::vector<TopKEntry>& a, const std::vector<TopKEntry>& b)
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].adId != b[i].adId || a[i].count != b[i].count)
            return false;
    return true;
}

} // namespace

class TestQueryRawTopK : public QObject {
    Q_OBJECT

    QTemporaryDir m_finalDir;
    QTemporaryDir m_openDir;
    DataSet m_final;
    DataSet m_open;
    TimeMs m_t0 = 0;

private slots:
    void initTestCase()
    {
        DataSpec spec;
        spec.stream.seed = 21;
        spec.stream.events = 20000;
        spec.stream.stepMs = 100; // ~33 minutes
        QVERIFY(buildDataDirectory(m_finalDir.path(), spec, m_final));
        m_t0 = spec.stream.startMs;
        QVERIFY(m_final.speed.lateDropped > 0);

        DataSpec open;
        open.stream.seed = 22;
        open.stream.events = 8000;
        open.stream.stepMs = 60;
        open.latenessMs = 20 * kMsPerSecond;
        open.finish = false;
        QVERIFY(buildDataDirectory(m_openDir.path(), open, m_open));
    }

    void rawFiltersEqualBruteForce_data()
    {
        QTest::addColumn<QString>("ip");
        QTest::addColumn<QString>("ua");
        QTest::addColumn<QString>("region");
        QTest::addColumn<QString>("cls");
        QTest::newRow("v4 /16") << "10.1.0.0/16"
                                << ""
                                << ""
                                << "";
        QTest::newRow("v4 /23") << "10.1.2.0/23"
                                << ""
                                << ""
                                << "";
        QTest::newRow("v4 /24 unaligned base") << "192.168.7.77/24"
                                               << ""
                                               << ""
                                               << "";
        QTest::newRow("v4 exact") << "192.168.7.5"
                                  << ""
                                  << ""
                                  << "";
        QTest::newRow("v6 /48") << "2001:db8:1::/48"
                                << ""
                                << ""
                                << "";
        QTest::newRow("v6 /63") << "2001:db8:1:2::/63"
                                << ""
                                << ""
                                << "";
        QTest::newRow("v6 /32") << "2001:DB8::/32"
                                << ""
                                << ""
                                << "";
        QTest::newRow("v6 exact") << "2001:db8:2::7"
                                  << ""
                                  << ""
                                  << "";
        QTest::newRow("everything ::/0") << "::/0"
                                         << ""
                                         << ""
                                         << "";
        QTest::newRow("ua iphone") << ""
                                   << "iphone"
                                   << ""
                                   << "";
        QTest::newRow("ua upper case") << ""
                                       << "MOZILLA"
                                       << ""
                                       << "";
        QTest::newRow("ua bot") << ""
                                << "bot"
                                << ""
                                << "";
        QTest::newRow("ua absent") << ""
                                   << "no-such-agent"
                                   << ""
                                   << "";
        QTest::newRow("v4 + region") << "10.1.0.0/16"
                                     << ""
                                     << "us"
                                     << "";
        QTest::newRow("ua + class") << ""
                                    << "mozilla"
                                    << ""
                                    << "mobile";
        QTest::newRow("v6 + ua + region") << "2001:db8::/32"
                                          << "android"
                                          << "DE"
                                          << "";
    }
    void rawFiltersEqualBruteForce()
    {
        QFETCH(QString, ip);
        QFETCH(QString, ua);
        QFETCH(QString, region);
        QFETCH(QString, cls);
        // The brute force's own reading of the filter.
        IpBytes base {};
        int bits = 0;
        if (!ip.isEmpty()) {
            const QStringList parts = ip.split('/');
            bool v6 = false;
            QVERIFY(parseIp(parts[0].toStdString(), base, v6));
            bits = parts.size() > 1 ? parts[1].toInt() : (v6 ? 128 : 32);
            if (!v6)
                bits += 96;
        }
        const std::string needle = lower(ua.toStdString());
        CountryCode country = 0;
        DeviceClass device = DeviceClass::Other;
        if (!region.isEmpty())
            QVERIFY(parseCountry(region.toStdString(), country));
        if (!cls.isEmpty())
            QVERIFY(parseDeviceClass(cls.toStdString(), device));
        const auto match = [&](const ClickEvent& e, const std::string& text) {
            return (ip.isEmpty() || inPrefix(e.ip, base, bits))
                && (needle.empty() || lower(text).find(needle) != std::string::npos)
                && (region.isEmpty() || e.country == country) && (cls.isEmpty() || e.device == device);
        };

        QueryService svc(m_finalDir.path().toStdString(), queryOptions(m_final));
        const CountFilters filters { region.toStdString(), cls.toStdString(), ip.toStdString(), ua.toStdString() };
        const TimeMs m = kMsPerMinute;
        std::uint64_t matched = 0;
        std::vector<AdId> ads = adsByVolume(m_final);
        ads.resize(4);
        for (AdId ad : ads)
            for (const auto& [from, to] : std::vector<std::pair<TimeMs, TimeMs>> {
                     { m_final.minEventMs, m_final.maxEventMs + 1 }, { m_t0 + 5 * m + 1, m_t0 + 17 * m - 1 } }) {
                const CountResult r = svc.count(ad, from, to, filters);
                QVERIFY2(r.ok(), r.error.c_str());
                QCOMPARE(r.path, CountPath::RawLog);
                QVERIFY(r.exact);
                QVERIFY(r.raw.has_value());
                QVERIFY(r.raw->recordsRead > 0);
                QCOMPARE(r.raw->damagedBlocks, std::uint64_t(0));
                const TimeMs a = windowStartOf(from, m);
                const TimeMs b = ceilMinute(to);
                QCOMPARE(r.fromMs, a);
                QCOMPARE(r.toMs, b);
                QCOMPARE(r.provenance.rawLogWindows, std::uint64_t((b - a) / m)); // finished: all final
                const std::uint64_t want = expectedRaw(m_final, ad, a, b, match);
                QVERIFY2(r.total == want, qPrintable(describe(r) + QString(" want %1").arg(want)));
                matched += want;
                if (ip == "::/0" && from == m_final.minEventMs) {
                    // Everything: the batch count, late events the speed layer dropped included.
                    std::uint64_t batch = 0;
                    for (const auto& [key, n] : m_final.batchCells)
                        batch += key.adId == ad ? n : 0;
                    QCOMPARE(r.total, batch);
                }
            }
        if (ua != "no-such-agent")
            QVERIFY(matched > 0); // the case is exercised
    }

    void rawPathFlagsOpenWindows()
    {
        QueryService svc(m_openDir.path().toStdString(), queryOptions(m_open));
        const TimeMs wm = m_open.speed.watermarkMs;
        const TimeMs lateness = m_open.config.window.allowedLatenessMs;
        const TimeMs m = kMsPerMinute;
        const TimeMs a = windowStartOf(m_open.minEventMs, m);
        const TimeMs b = ceilMinute(m_open.maxEventMs + 1);
        const AdId ad = adsByVolume(m_open).front();
        const CountResult r = svc.count(ad, a, b, { {}, {}, "::/0", {} });
        QVERIFY2(r.ok(), r.error.c_str());
        std::uint64_t open = 0;
        for (TimeMs w = a; w < b; w += m)
            open += w + m + lateness > wm ? 1 : 0;
        QVERIFY(open > 0);
        QCOMPARE(r.provenance.openWindows, open);
        QCOMPARE(r.provenance.rawLogWindows, std::uint64_t((b - a) / m) - open);
        QVERIFY(r.partial);
        QCOMPARE(r.total, expectedRaw(m_open, ad, a, b, [](const ClickEvent&, const std::string&) { return true; }));
    }

    void rawLogRetentionIsReported()
    {
        // Segments deleted by raw-log retention: the answer starts at the log's oldest event and
        // says how many windows of the request it could not scan.
        QTemporaryDir dir;
        QVERIFY(copyDataDirectory(m_finalDir.path(), dir.path()));
        const std::string raw = (dir.path() + "/raw").toStdString();
        std::vector<RawSegmentInfo> segments = RawLogReader(raw).segments();
        QVERIFY(segments.size() >= 3);
        QVERIFY(std::filesystem::remove(segments.front().path));
        segments.erase(segments.begin());
        const std::size_t firstSequence = segments.front().firstSequence;
        QVERIFY(firstSequence > 0);
        TimeMs rawStart = INT64_MAX;
        for (const RawSegmentInfo& s : segments)
            rawStart = std::min(rawStart, s.minEventTimeMs);

        QueryService svc(dir.path().toStdString(), queryOptions(m_final));
        const TimeMs a = windowStartOf(m_final.minEventMs, kMsPerMinute);
        const TimeMs b = ceilMinute(m_final.maxEventMs + 1);
        const TimeMs start = windowStartOf(rawStart, kMsPerMinute);
        QVERIFY(start > a);
        for (AdId ad : adsByVolume(m_final)) {
            const CountResult r = svc.count(ad, a, b, { {}, {}, {}, "mozilla" });
            QVERIFY2(r.ok(), r.error.c_str());
            QCOMPARE(r.fromMs, start);
            QCOMPARE(r.provenance.missingWindows, std::uint64_t((start - a) / kMsPerMinute));
            QCOMPARE(r.raw->rawStartMs, rawStart);
            QVERIFY(!r.notes.empty());
            const auto mozilla = [](const ClickEvent&, const std::string& ua) {
                return lower(ua).find("mozilla") != std::string::npos;
            };
            QCOMPARE(r.total, expectedRaw(m_final, ad, start, b, mozilla, firstSequence));
        }
    }

    void batchJobOverEverythingEqualsOracle()
    {
        QTemporaryDir dir;
        QVERIFY(copyDataDirectory(m_finalDir.path(), dir.path()));
        const TimeMs from = windowStartOf(m_final.minEventMs, kMsPerMinute);
        const TimeMs to = ceilMinute(m_final.maxEventMs + 1);
        BatchJobOptions o;
        o.fromMs = from;
        o.toMs = to;
        o.trigger = "test";
        const BatchJobResult job = BatchJob::run(dir.path().toStdString(), o);
        QVERIFY2(job.ok, job.error.c_str());

        QueryService svc(dir.path().toStdString(), queryOptions(m_final));
        std::map<AdId, std::uint64_t> batch;
        std::map<AdId, std::uint64_t> speed;
        for (const auto& [key, n] : m_final.batchCells)
            batch[key.adId] += n;
        for (const auto& [key, n] : m_final.speedCells)
            speed[key.adId] += n;
        bool lateEventsCounted = false;
        for (const auto& [ad, n] : batch) {
            const CountResult r = svc.count(ad, from, to);
            QVERIFY2(r.ok(), r.error.c_str());
            QVERIFY2(r.total == n, qPrintable(describe(r)));
            QVERIFY(r.exact);
            QCOMPARE(r.provenance.batchWindows, std::uint64_t((to - from) / kMsPerMinute));
            lateEventsCounted = lateEventsCounted || n != speed[ad];
        }
        QVERIFY(lateEventsCounted);
        const TopKQueryResult top = svc.topK(from, to, 15);
        QVERIFY2(top.ok(), top.error.c_str());
        QVERIFY(sameEntries(top.entries, rankAds(batch, 15)));
    }

    void topKFromRowsEqualsBruteForce_data()
    {
        QTest::addColumn<int>("runs");
        QTest::newRow("one batch run") << 1;
        QTest::newRow("45 separate runs (several statements)") << 45;
    }
    void topKFromRowsEqualsBruteForce()
    {
        QFETCH(int, runs);
        QTemporaryDir dir;
        QVERIFY(copyDataDirectory(m_finalDir.path(), dir.path()));
        const TimeMs m = kMsPerMinute;
        Coverage cov;
        if (runs == 1)
            cov.emplace_back(m_t0 + 3 * m, m_t0 + 11 * m);
        else // every other minute: about 90 alternating batch and speed segments
            for (int i = 0; i < runs; ++i)
                cov.emplace_back(m_t0 - 10 * m + 2 * i * m, m_t0 - 9 * m + 2 * i * m);
        {
            auto store = openWritable(dir.path());
            QVERIFY(store);
            for (const auto& [from, to] : cov)
                QVERIFY(writeOracleBatchRun(*store, m_final, from, to));
        }
        QueryService svc(dir.path().toStdString(), queryOptions(m_final));
        const std::vector<AdId> ads = adsByVolume(m_final);
        for (const auto& [from, to] :
            std::vector<std::pair<TimeMs, TimeMs>> { { m_final.minEventMs, m_final.maxEventMs + 1 },
                { m_t0 + 2 * m + 7, m_t0 + 12 * m }, { m_t0 + 5 * m, m_t0 + 6 * m }, { m_t0 - 30 * m, m_t0 - 20 * m } })
            for (std::uint32_t k : { 1u, 5u, 10u, 100u }) {
                const TimeMs a = windowStartOf(from, m);
                const TimeMs b = ceilMinute(to);
                std::map<AdId, std::uint64_t> totals;
                for (AdId ad : ads)
                    totals[ad] = expectedRows(m_final, cov, ad, a, b);
                const TopKQueryResult r = svc.topK(from, to, k);
                QVERIFY2(r.ok(), r.error.c_str());
                QCOMPARE(r.source, TopKSource::Rows);
                QCOMPARE(r.fromMs, a);
                QCOMPARE(r.toMs, b);
                QVERIFY(sameEntries(r.entries, rankAds(totals, k)));
                QVERIFY(!r.partial);
            }
    }

    void recentTopKFromRows()
    {
        // No live pipeline: the last N minutes before the checkpoint watermark, open windows flagged.
        QueryService svc(m_openDir.path().toStdString(), queryOptions(m_open));
        const TimeMs wm = m_open.speed.watermarkMs;
        const TimeMs m = kMsPerMinute;
        for (std::uint32_t minutes : { 1u, 3u, 5u }) {
            const TopKQueryResult r = svc.topK(minutes, 10u);
            QVERIFY2(r.ok(), r.error.c_str());
            QCOMPARE(r.source, TopKSource::Rows);
            const TimeMs b = windowStartOf(wm, m);
            const TimeMs a = b - static_cast<TimeMs>(minutes) * m;
            QCOMPARE(r.fromMs, a);
            QCOMPARE(r.toMs, b);
            std::map<AdId, std::uint64_t> totals;
            for (AdId ad : adsByVolume(m_open))
                totals[ad] = expectedRows(m_open, {}, ad, a, b);
            QVERIFY(sameEntries(r.entries, rankAds(totals, 10)));
            std::uint64_t open = 0;
            for (TimeMs w = a; w < b; w += m)
                open += w + m + m_open.config.window.allowedLatenessMs > wm ? 1 : 0;
            QCOMPARE(r.provenance.openWindows, open);
            QCOMPARE(r.partial, open > 0);
        }
        // A finished run's watermark is the end of time: the window ends at the newest row.
        QueryService finished(m_finalDir.path().toStdString(), queryOptions(m_final));
        const TopKQueryResult r = finished.topK(5u, 3u);
        QVERIFY2(r.ok(), r.error.c_str());
        TimeMs newest = kMinTimeMs;
        for (const auto& [key, n] : m_final.speedCells)
            newest = std::max(newest, key.windowStartMs);
        QCOMPARE(r.toMs, newest + m);
        QCOMPARE(r.fromMs, newest + m - 5 * m);
    }

    void liveTopKComesFromTheSnapshot()
    {
        // A pipeline over the same events in memory publishes the snapshot the provider returns.
        VirtualClock clock(m_open.events.front().eventTimeMs);
        VectorSource source(
            VectorSource::fromEvents(m_open.events, m_open.lastProcessingMs), m_open.spec.stream.partitions);
        Pipeline pipeline(m_open.config, source, clock);
        pipeline.run();
        pipeline.publishSnapshot();
        const std::shared_ptr<const PipelineSnapshot> snap = pipeline.snapshot();
        QVERIFY(snap->topK.valid);
        QVERIFY(!snap->topK.exact.empty());

        QueryService svc(m_openDir.path().toStdString(), queryOptions(m_open));
        QCOMPARE(svc.topK(1u, 3u).source, TopKSource::Rows); // no provider yet
        svc.setLiveSnapshotProvider([snap] { return snap; });
        const TopKQueryResult r = svc.topK(1u, 3u);
        QVERIFY2(r.ok(), r.error.c_str());
        QCOMPARE(r.source, TopKSource::Live);
        QCOMPARE(r.fromMs, snap->topK.windowStartMs);
        QCOMPARE(r.toMs, snap->topK.windowEndMs);
        std::vector<TopKEntry> want = snap->topK.exact;
        want.resize(std::min<std::size_t>(3, want.size()));
        QVERIFY(sameEntries(r.entries, want));
        QVERIFY(r.live.has_value());
        QVERIFY(r.live->approx.size() <= 3);
        QCOMPARE(r.live->errorBound, snap->topK.errorBound);
        QCOMPARE(r.live->epsilon, snap->topK.epsilon);
        QCOMPARE(r.live->delta, snap->topK.delta);
        QCOMPARE(r.live->totalEvents, snap->topK.totalEvents);
        // More than the tracker keeps, or a longer window: the rows answer.
        QCOMPARE(svc.topK(1u, snap->topK.k + 1).source, TopKSource::Rows);
        QCOMPARE(svc.topK(2u, 3u).source, TopKSource::Rows);
        svc.setLiveSnapshotProvider({});
        QCOMPARE(svc.topK(1u, 3u).source, TopKSource::Rows);
    }
};

QTEST_GUILESS_MAIN(TestQueryRawTopK)
#include "tst_query_raw_topk.moc"
