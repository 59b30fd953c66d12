// QueryService::series: every bucket equals a brute-force answer over the same events (batch cells
// where a batch run covers the bucket, else speed cells; raw-log recounts for IP / user-agent text
// filters), every bucket carries the provenance count() reports for it (batch, final, open by the
// rows then the watermark, raw log), and the series sums to count() for the same arguments: total,
// effective range and provenance. Rollups give hour/day buckets; bad parameters are errors.

#include "engine/query/query_test_support.h"

#include <QTemporaryDir>
#include <QtTest>

#include <random>

using namespace adclick::engine;
using namespace adclick::test;

namespace {

/// The series is count()'s answer split up: same range, total, provenance, path and flags; the
/// points tile [fromMs, toMs) without gap or overlap and sum to the total.
QString compareWithCount(const SeriesResult& s, const CountResult& c)
{
    if (!s.ok() || !c.ok())
        return QString("errors: series '%1', count '%2'").arg(s.error.c_str(), c.error.c_str());
    auto sameProvenance = [](const QueryProvenance& a, const QueryProvenance& b) {
        return a.batchWindows == b.batchWindows && a.speedFinalWindows == b.speedFinalWindows
            && a.openWindows == b.openWindows && a.rawLogWindows == b.rawLogWindows
            && a.missingWindows == b.missingWindows && a.hourBuckets == b.hourBuckets && a.dayBuckets == b.dayBuckets;
    };
    std::uint64_t sum = 0;
    TimeMs cursor = s.fromMs;
    for (const SeriesPoint& p : s.points) {
        if (p.startMs != cursor || p.sizeMs <= 0 || p.startMs % p.sizeMs != 0)
            return QString("points do not tile the range at %1").arg(p.startMs);
        cursor += p.sizeMs;
        sum += p.count;
    }
    if (cursor != s.toMs)
        return QString("points end at %1, the range at %2").arg(cursor).arg(s.toMs);
    if (sum != s.total || s.total != c.total)
        return QString("Σ points %1, series total %2, count %3\n%4")
            .arg(sum)
            .arg(s.total)
            .arg(c.total)
            .arg(describe(c));
    if (s.fromMs != c.fromMs || s.toMs != c.toMs || s.widened != c.widened || s.path != c.path || s.exact != c.exact
        || s.partial != c.partial)
        return "range or flags differ from count()\n" + describe(c);
    if (!sameProvenance(s.provenance, c.provenance))
        return QString("provenance differs: series batch %1 final %2 open %3 raw %4 hour %5\n")
                   .arg(s.provenance.batchWindows)
                   .arg(s.provenance.speedFinalWindows)
                   .arg(s.provenance.openWindows)
                   .arg(s.provenance.rawLogWindows)
                   .arg(s.provenance.hourBuckets)
            + describe(c);
    if (s.notes != c.notes)
        return "notes differ from count()";
    return {};
}

} // namespace

class TestQuerySeries : public QObject {
    Q_OBJECT

    QTemporaryDir m_finalDir; // finished run: every window final
    QTemporaryDir m_openDir; // unfinished run: lateness 20 s, open windows at the end
    DataSet m_final;
    DataSet m_open;
    TimeMs m_t0 = 0;

private slots:
    void initTestCase()
    {
        DataSpec spec;
        spec.stream.seed = 31;
        spec.stream.events = 15000;
        spec.stream.stepMs = 540; // ~2¼ hours of event time
        QVERIFY(buildDataDirectory(m_finalDir.path(), spec, m_final));
        m_t0 = spec.stream.startMs;
        QVERIFY(m_final.speed.lateDropped > 0 && m_final.speed.duplicates > 0);

        DataSpec open;
        open.stream.seed = 32;
        open.stream.events = 6000;
        open.stream.stepMs = 50;
        open.latenessMs = 20 * kMsPerSecond;
        open.finish = false;
        QVERIFY(buildDataDirectory(m_openDir.path(), open, m_open));
    }

    void bucketsEqualOracleWithBatchCoverage()
    {
        QTemporaryDir dir;
        QVERIFY(copyDataDirectory(m_finalDir.path(), dir.path()));
        const TimeMs m = kMsPerMinute;
        const Coverage cov { { m_t0 + 20 * m, m_t0 + 65 * m }, { m_t0 + 100 * m, m_t0 + 101 * m } };
        {
            auto store = openWritable(dir.path());
            QVERIFY(store);
            QVERIFY(writeOracleBatchRun(*store, m_final, m_t0 + 20 * m, m_t0 + 50 * m));
            QVERIFY(writeOracleBatchRun(*store, m_final, m_t0 + 50 * m, m_t0 + 65 * m));
            QVERIFY(writeOracleBatchRun(*store, m_final, m_t0 + 100 * m, m_t0 + 101 * m));
        }
        QueryService svc(dir.path().toStdString(), queryOptions(m_final));
        std::vector<std::pair<TimeMs, TimeMs>> ranges { { m_final.minEventMs, m_final.maxEventMs + 1 },
            { m_t0 + 19 * m + 1, m_t0 + 66 * m - 1 }, { m_t0 + 100 * m + 59999, m_t0 + 100 * m + 60000 } };
        std::mt19937_64 rng(5);
        for (int i = 0; i < 10; ++i) {
            const TimeMs a = m_t0 - 5 * m + static_cast<TimeMs>(rng() % (150 * m));
            ranges.emplace_back(a, a + 1 + static_cast<TimeMs>(rng() % (40 * m)));
        }
        std::vector<AdId> ads = adsByVolume(m_final);
        ads.resize(5);
        ads.push_back(adsByVolume(m_final).back());
        ads.push_back(999); // no clicks at all
        bool sawBatch = false;
        bool batchDiffers = false;
        for (AdId ad : ads)
            for (const auto& [from, to] : ranges) {
                const SeriesResult s = svc.series(ad, from, to);
                QVERIFY2(s.ok(), s.error.c_str());
                const QString diff = compareWithCount(s, svc.count(ad, from, to));
                QVERIFY2(diff.isEmpty(), qPrintable(diff));
                QCOMPARE(s.points.size(), std::size_t(windowsIn(windowStartOf(from, m), ceilMinute(to))));
                for (const SeriesPoint& p : s.points) {
                    QCOMPARE(p.sizeMs, m);
                    const bool batch = covered(cov, p.startMs, p.startMs + m);
                    QCOMPARE(p.source, batch ? SeriesSource::Batch : SeriesSource::SpeedFinal);
                    QCOMPARE(p.count, expectedRows(m_final, cov, ad, p.startMs, p.startMs + m));
                    sawBatch = sawBatch || batch;
                    batchDiffers
                        = batchDiffers || (batch && p.count != expectedRows(m_final, {}, ad, p.startMs, p.startMs + m));
                }
            }
        QVERIFY(sawBatch);
        QVERIFY(batchDiffers); // the data tells batch rows from speed rows apart
    }

    void openWindowsFollowTheWatermark()
    {
        QueryService svc(m_openDir.path().toStdString(), queryOptions(m_open));
        const TimeMs wm = m_open.speed.watermarkMs;
        const TimeMs lateness = m_open.config.window.allowedLatenessMs;
        const TimeMs m = kMsPerMinute;
        const TimeMs end = ceilMinute(m_open.maxEventMs + 1);
        std::vector<AdId> ads = adsByVolume(m_open);
        ads.push_back(999);
        std::uint64_t openSeen = 0;
        for (AdId ad : ads)
            for (const auto& [from, to] : std::vector<std::pair<TimeMs, TimeMs>> {
                     { end - 6 * m, end + 2 * m }, { m_open.minEventMs, wm - 2 * m }, { m_open.minEventMs, end } }) {
                const SeriesResult s = svc.series(ad, from, to);
                const QString diff = compareWithCount(s, svc.count(ad, from, to));
                QVERIFY2(diff.isEmpty(), qPrintable(diff));
                for (const SeriesPoint& p : s.points) {
                    const bool open = p.startMs + m + lateness > wm;
                    QCOMPARE(p.source, open ? SeriesSource::Open : SeriesSource::SpeedFinal);
                    QCOMPARE(p.count, expectedRows(m_open, {}, ad, p.startMs, p.startMs + m));
                    openSeen += open ? 1 : 0;
                }
            }
        QVERIFY(openSeen > 0);
    }

    void finalityFollowsRowsThenWatermark()
    {
        // A window is open while one of its rows is; without rows, until end + lateness ≤ watermark.
        QTemporaryDir dir;
        const TimeMs t = m_t0;
        const TimeMs m = kMsPerMinute;
        const TimeMs wm = t + 10 * m;
        const TimeMs lateness = 90 * kMsPerSecond;
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
                r.key.device = DeviceClass::Mobile; // a second, final row in the same window
                r.count = 2;
                r.final = true;
                ck.rows.push_back(r);
            }
            QCOMPARE(store->writeCheckpoint(ck), StoreStatus::Ok);
        }
        QueryService::Options options;
        options.allowedLatenessMs = lateness;
        QueryService svc(dir.path().toStdString(), options);
        const SeriesResult s = svc.series(3, t, t + 15 * m);
        const QString diff = compareWithCount(s, svc.count(3, t, t + 15 * m));
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
        QCOMPARE(s.points.size(), std::size_t(15));
        for (const SeriesPoint& p : s.points) {
            const auto it = rows.find(p.startMs);
            const bool open = it != rows.end() ? !it->second : p.startMs + m + lateness > wm;
            QVERIFY2(p.source == (open ? SeriesSource::Open : SeriesSource::SpeedFinal),
                qPrintable(QString("minute %1").arg((p.startMs - t) / m)));
            QCOMPARE(p.count, std::uint64_t(it != rows.end() ? 7 : 0));
        }
        // Filters come from the rows; openness does not depend on them.
        const SeriesResult mobile = svc.series(3, t, t + 15 * m, { "de", "mobile", {}, {} });
        QCOMPARE(mobile.total, std::uint64_t(2 * rows.size()));
        QCOMPARE(mobile.points[2].source, SeriesSource::Open);
        QCOMPARE(svc.series(3, t, t + 15 * m, { "us", {}, {}, {} }).total, std::uint64_t(0));

        // The pipeline restarted with another allowed lateness (the dashboard's controls):
        // windows without rows are open until end + the new lateness, counts and caches too.
        QCOMPARE(svc.allowedLatenessMs(), lateness);
        svc.count(3, t, t + 15 * m); // cached with the old lateness
        svc.setAllowedLatenessMs(5 * m);
        QCOMPARE(svc.allowedLatenessMs(), 5 * m);
        const SeriesResult later = svc.series(3, t, t + 15 * m);
        const QString laterDiff = compareWithCount(later, svc.count(3, t, t + 15 * m));
        QVERIFY2(laterDiff.isEmpty(), qPrintable(laterDiff));
        std::uint64_t opened = 0;
        for (const SeriesPoint& p : later.points) {
            const auto it = rows.find(p.startMs);
            const bool open = it != rows.end() ? !it->second : p.startMs + m + 5 * m > wm;
            QVERIFY2(p.source == (open ? SeriesSource::Open : SeriesSource::SpeedFinal),
                qPrintable(QString("minute %1 with lateness 5 min").arg((p.startMs - t) / m)));
            opened += open && it == rows.end() && p.startMs + m + lateness <= wm ? 1 : 0;
        }
        QVERIFY(opened > 0); // some windows final before are open now
        svc.setAllowedLatenessMs(-1);
        QCOMPARE(svc.allowedLatenessMs(), TimeMs { 0 });
    }

    void regionAndClassFilters()
    {
        QueryService svc(m_finalDir.path().toStdString(), queryOptions(m_final));
        const TimeMs from = m_t0 + 10 * kMsPerMinute;
        const TimeMs to = m_t0 + 70 * kMsPerMinute;
        for (AdId ad : adsByVolume(m_final))
            for (const char* region : { "", "us", "De", "IN" })
                for (const char* cls : { "", "mobile", "Desktop", "bot" }) {
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
                    const SeriesResult s = svc.series(ad, from, to, f);
                    const QString diff = compareWithCount(s, svc.count(ad, from, to, f));
                    QVERIFY2(diff.isEmpty(), qPrintable(diff));
                    for (const SeriesPoint& p : s.points)
                        QCOMPARE(p.count, expectedRows(m_final, {}, ad, p.startMs, p.startMs + p.sizeMs, {}, keep));
                }
    }

    void rawLogFiltersPerWindow()
    {
        QueryService svc(m_openDir.path().toStdString(), queryOptions(m_open));
        const TimeMs m = kMsPerMinute;
        const TimeMs from = m_open.minEventMs;
        const TimeMs to = m_open.maxEventMs + 1;
        IpBytes base {}; // the brute force's own reading of 10.1.0.0/16 (IPv4-mapped: 96 + 16 bits)
        bool v6 = false;
        QVERIFY(parseIp("10.1.0.0", base, v6));
        const std::vector<std::pair<CountFilters, std::function<bool(const ClickEvent&, const std::string&)>>> cases {
            { { {}, {}, "10.1.0.0/16", {} },
                [&](const ClickEvent& e, const std::string&) { return inPrefix(e.ip, base, 96 + 16); } },
            { { {}, {}, {}, "iPhone" },
                [](const ClickEvent&, const std::string& ua) {
                    return lower(ua).find("iphone") != std::string::npos;
                } },
        };
        std::uint64_t rawSeen = 0;
        std::uint64_t openSeen = 0;
        for (AdId ad : adsByVolume(m_open))
            for (const auto& [filters, match] : cases) {
                const SeriesResult s = svc.series(ad, from, to, filters);
                QVERIFY2(s.ok(), s.error.c_str());
                QCOMPARE(s.path, CountPath::RawLog);
                QVERIFY(s.raw.has_value());
                const QString diff = compareWithCount(s, svc.count(ad, from, to, filters));
                QVERIFY2(diff.isEmpty(), qPrintable(diff));
                for (const SeriesPoint& p : s.points) {
                    QCOMPARE(p.sizeMs, m);
                    QCOMPARE(p.count, expectedRaw(m_open, ad, p.startMs, p.startMs + m, match));
                    rawSeen += p.source == SeriesSource::RawLog ? 1 : 0;
                    openSeen += p.source == SeriesSource::Open ? 1 : 0;
                }
            }
        QVERIFY(rawSeen > 0 && openSeen > 0);
    }

    void rollupsGiveHourBuckets()
    {
        QTemporaryDir dir;
        QVERIFY(copyDataDirectory(m_finalDir.path(), dir.path()));
        const TimeMs h = kMsPerHour;
        const Coverage cov { { m_t0, m_t0 + h } };
        auto store = openWritable(dir.path());
        QVERIFY(store);
        QVERIFY(writeOracleBatchRun(*store, m_final, m_t0, m_t0 + h));
        RollupReport report;
        QCOMPARE(
            store->rollup(m_final.lastProcessingMs + 10 * kMsPerDay, RetentionConfig {}, &report), StoreStatus::Ok);
        QVERIFY(report.minuteRowsRolled > 0);
        const Levels levels { report.minuteCutoffMs, report.hourCutoffMs };
        QueryService svc(dir.path().toStdString(), queryOptions(m_final));
        for (AdId ad : adsByVolume(m_final)) {
            const TimeMs from = m_t0 + 10 * kMsPerMinute + 5; // misaligned: widened to whole hours
            const SeriesResult s = svc.series(ad, from, m_t0 + 2 * h + 1);
            const QString diff = compareWithCount(s, svc.count(ad, from, m_t0 + 2 * h + 1));
            QVERIFY2(diff.isEmpty(), qPrintable(diff));
            QVERIFY(s.widened);
            QCOMPARE(s.points.size(), std::size_t(3));
            for (const SeriesPoint& p : s.points) {
                QCOMPARE(p.sizeMs, h);
                QCOMPARE(p.source, p.startMs == m_t0 ? SeriesSource::Batch : SeriesSource::SpeedFinal);
                QCOMPARE(p.count, expectedRows(m_final, cov, ad, p.startMs, p.startMs + h, levels));
            }
        }
    }

    void badParametersAreErrors()
    {
        QueryService svc(m_finalDir.path().toStdString(), queryOptions(m_final));
        const TimeMs t = m_t0;
        struct Case {
            TimeMs from;
            TimeMs to;
            CountFilters filters;
            const char* parameter;
        };
        const std::vector<Case> cases {
            { t, t, {}, "from" },
            { t + 1, t, {}, "from" },
            { -1, t, {}, "from" },
            { t, INT64_MAX, {}, "to" },
            { t, t + 1, { "ZZ", {}, {}, {} }, "region" },
            { t, t + 1, { {}, "phone", {}, {} }, "userAgentClass" },
            { t, t + 1, { {}, {}, "10.0.0.0/33", {} }, "ip" },
            { t, t + 1, { {}, {}, {}, std::string(600, 'a') }, "userAgentContains" },
            // One window more than a series answers.
            { t, t + static_cast<TimeMs>(QueryService::kMaxSeriesWindows + 1) * kMsPerMinute, {}, "to" },
        };
        for (const Case& c : cases) {
            const SeriesResult r = svc.series(1, c.from, c.to, c.filters);
            QCOMPARE(r.status, QueryStatus::BadParameter);
            QCOMPARE(r.errorParameter, std::string(c.parameter));
            QVERIFY2(r.error.find(c.parameter) != std::string::npos, r.error.c_str());
            QVERIFY(r.points.empty());
        }
        const TimeMs longest = static_cast<TimeMs>(QueryService::kMaxSeriesWindows) * kMsPerMinute;
        const SeriesResult ok = svc.series(1, t, t + longest);
        QVERIFY2(ok.ok(), ok.error.c_str());
        QCOMPARE(ok.points.size(), std::size_t(QueryService::kMaxSeriesWindows));

        QTemporaryDir empty;
        QueryService none((empty.path() + "/nothing-here").toStdString(), {});
        QCOMPARE(none.series(1, t, t + kMsPerHour).status, QueryStatus::Unavailable);
        QCOMPARE(seriesSourceName(SeriesSource::SpeedFinal), std::string_view("speed-final"));
    }
};

QTEST_GUILESS_MAIN(TestQuerySeries)
#include "tst_query_series.moc"
