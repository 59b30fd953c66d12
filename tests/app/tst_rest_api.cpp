// The REST API end to end, in process: an IngestSession runs the generator (virtual clock) to its
// end, a RestServer serves its data directory on a port the OS chose, and QNetworkAccessManager
// asks it. Every count and ranking is checked against a brute-force oracle over the generator's
// own records: speed rows, raw-log recounts (IP filters), top-K, a batch run with the
// reconciliation after it, a second data set with late events and duplicates, bad input of every
// kind, and the API token.

#include "app/rest_test_support.h"
#include "engine/support/oracle.h"

#include <QJsonArray>
#include <QUrlQuery>
#include <QtTest>

using namespace adclick::engine;
using namespace adclick::test;

namespace {
constexpr qint64 kBatchTimeoutMs = 60000;

qint64 seconds(TimeMs ms)
{
    return ms / 1000;
}

TimeMs ceilMinute(TimeMs t)
{
    return minuteOf(t + kMsPerMinute - 1);
}

/// Run arguments of a data set: 6 minutes of event time at 2000 events/s over 50 ads.
std::vector<std::string> runArgs(const char* seed, bool clean)
{
    std::vector<std::string> a { "--source", "generator", "--clock", "virtual", "--duration", "6m", "--rate", "2000",
        "--ads", "50", "--seed", seed, "--batch-interval", "0", "--checkpoint-interval", "15s" };
    if (clean)
        a.insert(a.end(), { "--late-fraction", "0", "--duplicates", "0", "--malformed", "0" });
    return a;
}

/// GET /v1/ads/{ad}/aggregated_count; fromMs < 0 leaves from and to out (the default range).
QString countTarget(const QString& ad, TimeMs fromMs, TimeMs toMs, const EventFilter& f = {})
{
    QUrlQuery q;
    if (fromMs >= 0) {
        q.addQueryItem(QStringLiteral("from"), QString::number(seconds(fromMs)));
        q.addQueryItem(QStringLiteral("to"), QString::number(seconds(toMs)));
    }
    if (!f.region.isEmpty())
        q.addQueryItem(QStringLiteral("filter_region"), f.region);
    if (!f.device.isEmpty())
        q.addQueryItem(QStringLiteral("filter_user_agent"), f.device);
    if (!f.ip.isEmpty())
        q.addQueryItem(QStringLiteral("filter_ip"), f.ip);
    const QString query = q.toString(QUrl::FullyEncoded);
    return QStringLiteral("/v1/ads/%1/aggregated_count%2").arg(ad, query.isEmpty() ? QString() : "?" + query);
}

qint64 num(const QJsonObject& o, const char* key)
{
    return o.value(QLatin1String(key)).toInteger(-1);
}

/// The (ad, count) list of a top_k answer.
std::vector<std::pair<AdId, std::uint64_t>> topAds(const QJsonObject& o)
{
    std::vector<std::pair<AdId, std::uint64_t>> v;
    for (const QJsonValue& e : o["top_ads"].toArray())
        v.emplace_back(e["ad_id"].toString().toUInt(), static_cast<std::uint64_t>(e["click_count"].toInteger()));
    return v;
}

/// Σ over ads of the REST count in [fromMs, toMs).
std::uint64_t restTotal(HttpClient& http, const std::set<AdId>& ads, TimeMs fromMs, TimeMs toMs)
{
    std::uint64_t total = 0;
    for (AdId ad : ads) {
        const HttpAnswer a = http.get(countTarget(QString::number(ad), fromMs, toMs));
        if (a.status != 200)
            return UINT64_MAX;
        total += static_cast<std::uint64_t>(num(a.json, "click_count"));
    }
    return total;
}

/// Starts a batch run over [fromMs, toMs) and waits for it to end; the last status answer.
HttpAnswer runBatch(HttpClient& http, TimeMs fromMs, TimeMs toMs)
{
    const QByteArray body
        = QJsonDocument(QJsonObject { { "from", seconds(fromMs) }, { "to", seconds(toMs) } }).toJson();
    HttpAnswer a = http.send("POST", QStringLiteral("/v1/batch/runs"), body);
    if (a.status != 202)
        return a;
    const qint64 id = num(a.json, "id");
    if (id <= 0 || a.header("location") != QByteArray("/v1/batch/runs/") + QByteArray::number(id))
        return {};
    QElapsedTimer timer;
    timer.start();
    do {
        a = http.get(QStringLiteral("/v1/batch/runs/%1").arg(id));
        if (a.status != 200 || a.json["state"].toString() != QLatin1String("running"))
            return a;
        QTest::qWait(50);
    } while (timer.elapsed() < kBatchTimeoutMs);
    return a;
}
} // namespace

class TestRestApi : public QObject {
    Q_OBJECT

private:
    std::unique_ptr<DataSet> m_data; ///< no late events, duplicates or malformed records
    std::unique_ptr<HttpClient> m_http;
    QString m_popular, m_rare, m_zero = QStringLiteral("4242");
    QString m_region, m_ipExact, m_ip16, m_ip8, m_ip6;

    const std::vector<ClickEvent>& events() const { return m_data->events; }

private slots:
    void initTestCase()
    {
        QElapsedTimer timer;
        timer.start();
        m_data = std::make_unique<DataSet>();
        const QString error = m_data->start(runArgs("3", true));
        QVERIFY2(error.isEmpty(), qPrintable(error));
        m_http = std::make_unique<HttpClient>(m_data->port);
        QCOMPARE(m_data->events.size(), std::size_t { 720000 });
        QCOMPARE(m_data->rejected, 0ull);

        const auto ranking = oracleRanking(events(), kMinTimeMs, INT64_MAX);
        QVERIFY(ranking.size() >= 10);
        m_popular = QString::number(ranking.front().first);
        m_rare = QString::number(ranking.back().first);
        QVERIFY(ranking.back().second > 0 && ranking.back().second * 20 < ranking.front().second);
        for (const auto& [ad, n] : ranking)
            QVERIFY(ad != m_zero.toUInt());

        // The popular ad's most frequent region, IPv4 address, /16 and /8 of it, and an IPv6 /32.
        std::map<CountryCode, int> regions;
        std::map<QString, int> addresses, nets16, nets8;
        for (const ClickEvent& e : events())
            if (e.adId == ranking.front().first) {
                ++regions[e.country];
                if (isMappedV4(e.ip)) {
                    ++addresses[ipText(e)];
                    ++nets16[QStringLiteral("%1.%2.0.0/16").arg(e.ip[12]).arg(e.ip[13])];
                    ++nets8[QStringLiteral("%1.0.0.0/8").arg(e.ip[12])];
                } else if (m_ip6.isEmpty()) {
                    m_ip6 = ipText(e).section(':', 0, 1) + "::/32";
                }
            }
        auto mostFrequent = [](const auto& histogram) {
            return std::max_element(histogram.begin(), histogram.end(), [](auto& a, auto& b) {
                return a.second < b.second;
            })->first;
        };
        m_region = countryText(mostFrequent(regions));
        m_ipExact = mostFrequent(addresses);
        m_ip16 = mostFrequent(nets16);
        m_ip8 = mostFrequent(nets8);
        QVERIFY(!m_ipExact.isEmpty() && !m_ip6.isEmpty());
        qInfo("data set: %zu events, ads %s (%llu clicks) … %s (%llu), region %s, ip %s / %s / %s / %s; %lld ms",
            events().size(), qPrintable(m_popular), static_cast<unsigned long long>(ranking.front().second),
            qPrintable(m_rare), static_cast<unsigned long long>(ranking.back().second), qPrintable(m_region),
            qPrintable(m_ipExact), qPrintable(m_ip16), qPrintable(m_ip8), qPrintable(m_ip6),
            static_cast<long long>(timer.elapsed()));
    }

    void cleanupTestCase()
    {
        m_http.reset();
        m_data.reset();
    }

    void countMatchesOracle_data()
    {
        QTest::addColumn<QString>("ad");
        QTest::addColumn<qint64>("fromMs"); // < 0: the default range
        QTest::addColumn<qint64>("toMs");
        QTest::addColumn<QString>("region");
        QTest::addColumn<QString>("device");
        QTest::addColumn<QString>("ip");
        const qint64 first = m_data->firstMinuteMs, end = m_data->endMinuteMs, mid = first + 3 * kMsPerMinute;
        const qint64 minute = mid + kMsPerMinute;
        auto row = [](const char* name, const QString& ad, qint64 fromMs, qint64 toMs, const QString& region = {},
                       const QString& device = {}, const QString& ip = {}) {
            QTest::newRow(name) << ad << fromMs << toMs << region << device << ip;
        };
        row("popular, whole run", m_popular, first, end);
        row("rare, whole run", m_rare, first, end);
        row("no clicks, whole run", m_zero, first, end);
        row("popular, one minute", m_popular, mid, minute);
        row("rare, one minute", m_rare, mid, minute);
        row("popular, first minute (jitter only)", m_popular, first, first + kMsPerMinute);
        row("popular, unaligned (widened to minutes)", m_popular, mid + 15000, minute + 15000);
        row("popular, default range", m_popular, -1, -1);
        row("no clicks, default range", m_zero, -1, -1);
        row("popular, region", m_popular, first, end, m_region);
        row("popular, region lower case", m_popular, mid, minute, m_region.toLower());
        row("popular, mobile", m_popular, first, end, {}, "mobile");
        row("rare, desktop", m_rare, first, end, {}, "desktop");
        row("popular, region + tablet, one minute", m_popular, mid, minute, m_region, "tablet");
        row("popular, ip /16", m_popular, first, end, {}, {}, m_ip16);
        row("popular, ip exact", m_popular, first, end, {}, {}, m_ipExact);
        row("rare, ip /16", m_rare, first, end, {}, {}, m_ip16);
        row("popular, ip /8", m_popular, first, end, {}, {}, m_ip8);
        row("popular, ip /8 + region + mobile", m_popular, first, end, m_region, "mobile", m_ip8);
        row("rare, ip /8", m_rare, first, end, {}, {}, m_ip8);
        row("popular, ipv6 /32, one minute", m_popular, mid, minute, {}, {}, m_ip6);
        row("popular, ip exact, default range", m_popular, -1, -1, {}, {}, m_ipExact);
        row("no clicks, ip /16", m_zero, first, end, {}, {}, m_ip16);
    }

    void countMatchesOracle()
    {
        QFETCH(QString, ad);
        QFETCH(qint64, fromMs);
        QFETCH(qint64, toMs);
        QFETCH(QString, region);
        QFETCH(QString, device);
        QFETCH(QString, ip);
        const EventFilter filter { region, device, ip };
        const HttpAnswer a = m_http->get(countTarget(ad, fromMs, toMs, filter));
        QCOMPARE(a.status, 200);
        const QJsonObject& o = a.json;
        const TimeMs effFrom = num(o, "effective_from") * 1000, effTo = num(o, "effective_to") * 1000;
        if (fromMs >= 0) {
            QCOMPARE(num(o, "from"), seconds(fromMs));
            QCOMPARE(effFrom, minuteOf(fromMs));
            QCOMPARE(effTo, ceilMinute(toMs));
        } else { // to = now (rounded up to the second), from = an hour before
            const TimeMs to = (m_data->session->nowMs() + 999) / 1000 * 1000;
            QCOMPARE(num(o, "to"), seconds(to));
            QCOMPARE(effTo, ceilMinute(to));
            QCOMPARE(num(o, "from"), seconds(to - kMsPerHour));
            QVERIFY(effFrom <= m_data->firstMinuteMs && effTo >= m_data->endMinuteMs);
        }
        const std::uint64_t want = oracleCount(events(), ad.toUInt(), effFrom, effTo, filter);
        QCOMPARE(num(o, "click_count"), static_cast<qint64>(want));
        QCOMPARE(o["ad_id"].toString(), ad);
        QCOMPARE(o["filter"]["region"].toString(), region);
        QCOMPARE(o["filter"]["user_agent"].toString(), device);
        QCOMPARE(o["filter"]["ip"].toString(), ip);
        QCOMPARE(o["path"].toString(), ip.isEmpty() ? QStringLiteral("rows") : QStringLiteral("raw-log"));
        const QJsonObject p = o["provenance"].toObject();
        QCOMPARE(num(p, "open"), 0); // the input ended: every window is final
        QCOMPARE(num(p, "batch"), 0); // no batch run yet
        if (ip.isEmpty()) {
            QCOMPARE(o["exact"].toBool(), false);
            QCOMPARE(num(p, "speed_final"), (effTo - effFrom) / kMsPerMinute);
        } else {
            QCOMPARE(o["exact"].toBool(), true);
            QCOMPARE(num(p, "raw_log"), (effTo - effFrom) / kMsPerMinute);
            QCOMPARE(num(o["raw_scan"].toObject(), "records_matched"), static_cast<qint64>(want));
        }
        QVERIFY(o["checkpoint"].isObject());
    }

    void topKStoredRangeMatchesOracle_data()
    {
        QTest::addColumn<qint64>("fromMs");
        QTest::addColumn<qint64>("toMs");
        QTest::addColumn<int>("k");
        const qint64 first = m_data->firstMinuteMs, end = m_data->endMinuteMs, mid = first + 3 * kMsPerMinute;
        QTest::newRow("whole run, k=5") << first << end << 5;
        QTest::newRow("whole run, every ad") << first << end << 100;
        QTest::newRow("whole run, k=1") << first << end << 1;
        QTest::newRow("one minute, k=3") << mid << qint64(mid + kMsPerMinute) << 3;
        QTest::newRow("first minute, k=10") << first << qint64(first + kMsPerMinute) << 10;
        QTest::newRow("two minutes, k=17") << mid << qint64(mid + 2 * kMsPerMinute) << 17;
    }

    void topKStoredRangeMatchesOracle()
    {
        QFETCH(qint64, fromMs);
        QFETCH(qint64, toMs);
        QFETCH(int, k);
        const HttpAnswer a = m_http->get(
            QStringLiteral("/v1/ads/top_k?from=%1&to=%2&k=%3").arg(seconds(fromMs)).arg(seconds(toMs)).arg(k));
        QCOMPARE(a.status, 200);
        QCOMPARE(a.json["source"].toString(), QStringLiteral("rows"));
        QCOMPARE(num(a.json, "window_start"), seconds(fromMs));
        QCOMPARE(num(a.json, "window_end"), seconds(toMs));
        QCOMPARE(num(a.json, "k"), k);
        auto want = oracleRanking(events(), fromMs, toMs);
        want.resize(std::min(want.size(), static_cast<std::size_t>(k)));
        QVERIFY(!want.empty());
        QCOMPARE(topAds(a.json), want);
    }

    void topKLastMinuteAfterTheInputEnded()
    {
        // A finished pipeline has no live window (Pipeline::topK is invalid once finish() ran), so
        // window_minutes=1 is ranked from the stored rows of the last minute: the watermark is the
        // end of time, capped at the newest row.
        const HttpAnswer a = m_http->get(QStringLiteral("/v1/ads/top_k?window_minutes=1&k=10"));
        QCOMPARE(a.status, 200);
        QCOMPARE(a.json["source"].toString(), QStringLiteral("rows"));
        QCOMPARE(num(a.json, "window_minutes"), 1);
        QCOMPARE(num(a.json, "k"), 10);
        QCOMPARE(num(a.json, "window_end"), seconds(m_data->endMinuteMs));
        QCOMPARE(num(a.json, "window_start"), seconds(m_data->endMinuteMs - kMsPerMinute));
        QCOMPARE(a.json["partial"].toBool(), false);
        QCOMPARE(num(a.json["provenance"].toObject(), "speed_final"), 1);
        QVERIFY(!a.json.contains("approximation"));
        auto want = oracleRanking(events(), m_data->endMinuteMs - kMsPerMinute, m_data->endMinuteMs);
        want.resize(std::min<std::size_t>(want.size(), 10));
        QCOMPARE(want.size(), std::size_t { 10 });
        QCOMPARE(topAds(a.json), want);
    }

    void topKApproxOnlyForTheLiveMinute()
    {
        HttpAnswer a = m_http->get(QStringLiteral("/v1/ads/top_k?window_minutes=5&approx=true"));
        QCOMPARE(a.status, 400);
        QCOMPARE(a.json["parameter"].toString(), QStringLiteral("approx"));
        a = m_http->get(QStringLiteral("/v1/ads/top_k?approx=true&from=%1&to=%2")
                            .arg(seconds(m_data->firstMinuteMs))
                            .arg(seconds(m_data->endMinuteMs)));
        QCOMPARE(a.status, 400);
        QCOMPARE(a.json["parameter"].toString(), QStringLiteral("approx"));
        // The live minute, but the pipeline has finished: no approximate answer exists.
        a = m_http->get(QStringLiteral("/v1/ads/top_k?window_minutes=1&approx=true&k=5"));
        QCOMPARE(a.status, 503);
        QCOMPARE(a.json["status"].toInt(), 503);
        QCOMPARE(a.json["parameter"].toString(), QStringLiteral("approx"));
        QCOMPARE(m_http->get(QStringLiteral("/v1/ads/top_k?window_minutes=1&approx=false")).status, 200);
    }

    void batchRunThenReconciliation()
    {
        const TimeMs first = m_data->firstMinuteMs, end = m_data->endMinuteMs;
        const qint64 minutes = (end - first) / kMsPerMinute;
        const HttpAnswer run = runBatch(*m_http, first, end);
        QVERIFY2(run.status == 200 && run.json["state"].toString() == "succeeded", run.body.constData());
        const QJsonObject result = run.json["result"].toObject();
        QCOMPARE(result["ok"].toBool(), true);
        QCOMPARE(num(result, "counted"), static_cast<qint64>(events().size()));
        QCOMPARE(num(result, "duplicates"), 0);
        QCOMPARE(num(result, "late_dropped_by_speed"), 0);

        for (const QString& ad : { m_popular, m_rare, m_zero }) {
            for (const EventFilter& f : { EventFilter {}, EventFilter { m_region, "mobile", {} } }) {
                const HttpAnswer a = m_http->get(countTarget(ad, first, end, f));
                QCOMPARE(a.status, 200);
                QCOMPARE(
                    num(a.json, "click_count"), static_cast<qint64>(oracleCount(events(), ad.toUInt(), first, end, f)));
                QCOMPARE(num(a.json["provenance"].toObject(), "batch"), minutes);
                QCOMPARE(num(a.json["provenance"].toObject(), "speed_final"), 0);
                QCOMPARE(a.json["exact"].toBool(), true);
            }
        }
        const TimeMs mid = first + 2 * kMsPerMinute;
        HttpAnswer a = m_http->get(countTarget(m_popular, mid, mid + kMsPerMinute));
        QCOMPARE(num(a.json, "click_count"),
            static_cast<qint64>(oracleCount(events(), m_popular.toUInt(), mid, mid + kMsPerMinute, {})));
        QCOMPARE(num(a.json["provenance"].toObject(), "batch"), 1);

        const QString range = QStringLiteral("from=%1&to=%2").arg(seconds(first)).arg(seconds(end));
        a = m_http->get("/v1/reconciliation?" + range);
        QCOMPARE(a.status, 200);
        QJsonObject totals = a.json["totals"].toObject();
        QCOMPARE(num(totals, "unexplained"), 0);
        QCOMPARE(num(totals, "gap"), 0);
        QCOMPARE(num(totals, "speed"), static_cast<qint64>(events().size()));
        QCOMPARE(num(totals, "batch"), static_cast<qint64>(events().size()));
        QCOMPARE(num(a.json, "covered_minutes"), minutes);
        QVERIFY(a.json["ad_id"].isNull());

        a = m_http->get("/v1/reconciliation?" + range + "&ad_id=" + m_popular);
        QCOMPARE(a.status, 200);
        QCOMPARE(a.json["ad_id"].toString(), m_popular);
        totals = a.json["totals"].toObject();
        const auto popular = static_cast<qint64>(oracleCount(events(), m_popular.toUInt(), first, end, {}));
        QCOMPARE(num(totals, "speed"), popular);
        QCOMPARE(num(totals, "batch"), popular);
        QCOMPARE(num(totals, "unexplained"), 0);
        QCOMPARE(num(a.json, "ads"), 1);
        for (const QJsonValue& w : a.json["worst_ads"].toArray())
            QCOMPARE(w["ad_id"].toString(), m_popular);
    }

    void lateAndDuplicateEvents()
    {
        // Generator defaults: 1 % late (mean delay 90 s, bound 2 min), 0.5 % resends, 0.1 % malformed.
        DataSet d;
        const QString error = d.start(runArgs("11", false));
        QVERIFY2(error.isEmpty(), qPrintable(error));
        HttpClient http(d.port);
        const TimeMs first = d.firstMinuteMs, end = d.endMinuteMs;
        QVERIFY(d.rejected > 0);
        std::set<AdId> ads;
        std::uint64_t distinct = 0;
        for (const ClickEvent& e : d.events)
            ads.insert(e.adId);
        for (AdId ad : ads)
            distinct += oracleCount(d.events, ad, first, end, {}, true);
        const std::uint64_t resends = d.events.size() - distinct;
        QVERIFY(resends > 1000);

        // The speed layer (brute-force replay of its rules) before any batch run.
        const OracleResult speed = runOracle(d.events, d.options.pipeline, d.options.generator.partitions);
        QVERIFY(speed.lateDropped > 100);
        const std::uint64_t speedTotal = restTotal(http, ads, first, end);
        QCOMPARE(speedTotal, speed.counted);
        QCOMPARE(speedTotal + speed.lateDropped + speed.duplicates, static_cast<std::uint64_t>(d.events.size()));

        const HttpAnswer run = runBatch(http, first, end);
        QVERIFY2(run.status == 200 && run.json["state"].toString() == "succeeded", run.body.constData());
        const QJsonObject result = run.json["result"].toObject();
        QCOMPARE(num(result, "counted"), static_cast<qint64>(distinct));
        QCOMPARE(num(result, "duplicates"), static_cast<qint64>(resends));
        QCOMPARE(num(result, "late_dropped_by_speed"), static_cast<qint64>(speed.lateDropped));

        // After it: every ad's count is the batch layer's (a click id once per ad and minute).
        for (AdId ad : ads) {
            const HttpAnswer a = http.get(countTarget(QString::number(ad), first, end));
            QCOMPARE(a.status, 200);
            QCOMPARE(num(a.json, "click_count"), static_cast<qint64>(oracleCount(d.events, ad, first, end, {}, true)));
            QCOMPARE(num(a.json["provenance"].toObject(), "batch"), (end - first) / kMsPerMinute);
        }

        const HttpAnswer a = http.get(
            QStringLiteral("/v1/reconciliation?from=%1&to=%2&limit=0").arg(seconds(first)).arg(seconds(end)));
        QCOMPARE(a.status, 200);
        const QJsonObject t = a.json["totals"].toObject();
        QCOMPARE(num(t, "speed"), static_cast<qint64>(speedTotal));
        QCOMPARE(num(t, "batch"), static_cast<qint64>(distinct));
        QCOMPARE(num(t, "gap"), static_cast<qint64>(distinct - speedTotal));
        QCOMPARE(num(t, "late"), static_cast<qint64>(speed.lateDropped));
        QCOMPARE(num(t, "after_run"), 0);
        QCOMPARE(num(t, "late") + num(t, "duplicates"), num(t, "gap"));
        QCOMPARE(num(t, "unexplained"), 0);
        QCOMPARE(num(a.json, "quarantined_total"), static_cast<qint64>(d.rejected));
        qInfo("late/duplicate data set: %zu records, %llu distinct clicks, speed %llu, late %llu, resends %llu",
            d.events.size(), static_cast<unsigned long long>(distinct), static_cast<unsigned long long>(speedTotal),
            static_cast<unsigned long long>(speed.lateDropped), static_cast<unsigned long long>(resends));
    }

    void badInputIsAJsonError_data()
    {
        QTest::addColumn<QByteArray>("method");
        QTest::addColumn<QString>("target");
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("parameter"); // null: the answer names none
        QTest::addColumn<QByteArray>("header"); // a header the answer must carry, "name: value"
        const QString count = "/v1/ads/" + m_popular + "/aggregated_count";
        const QString from = QString::number(seconds(m_data->firstMinuteMs));
        const QString to = QString::number(seconds(m_data->endMinuteMs));
        auto row = [](const char* name, const QByteArray& method, const QString& target, int status,
                       const QString& parameter, const QByteArray& body = {}, const QByteArray& header = {}) {
            QTest::newRow(name) << method << target << body << status << parameter << header;
        };
        row("from after to", "GET", count + "?from=" + to + "&to=" + from, 400, "from");
        row("from equal to", "GET", count + "?from=" + to + "&to=" + to, 400, "from");
        row("from not a number", "GET", count + "?from=abc&to=" + to, 400, "from");
        row("to negative", "GET", count + "?from=" + from + "&to=-5", 400, "to");
        row("unknown parameter", "GET", count + "?bogus=1", 400, "bogus");
        row("parameter twice", "GET", count + "?from=" + from + "&from=" + from + "&to=" + to, 400, "from");
        row("k=0", "GET", "/v1/ads/top_k?k=0", 400, "k");
        row("k=10001", "GET", "/v1/ads/top_k?k=10001", 400, "k");
        row("window_minutes=0", "GET", "/v1/ads/top_k?window_minutes=0", 400, "window_minutes");
        row("window_minutes with from", "GET", "/v1/ads/top_k?window_minutes=2&from=" + from, 400, "window_minutes");
        row("approx not a flag", "GET", "/v1/ads/top_k?approx=maybe", 400, "approx");
        row("bad CIDR", "GET", count + "?filter_ip=10.0.0.0/99", 400, "filter_ip");
        row("bad address", "GET", count + "?filter_ip=10.0.0.256", 400, "filter_ip");
        row("bad region", "GET", count + "?filter_region=ZZZ", 400, "filter_region");
        row("bad device class", "GET", count + "?filter_user_agent=fridge", 400, "filter_user_agent");
        row("unknown named ad", "GET", "/v1/ads/no-such-ad/aggregated_count", 404, "ad_id");
        row("unknown ad in reconciliation", "GET", "/v1/reconciliation?ad_id=no-such-ad", 404, "ad_id");
        row("DELETE top_k", "DELETE", "/v1/ads/top_k", 405, {}, {}, "allow: GET, HEAD");
        row("PUT batch runs", "PUT", "/v1/batch/runs", 405, {}, "{}", "allow: GET, HEAD, POST");
        row("unknown route", "GET", "/v1/nope", 404, {});
        row("unknown nested route", "GET", "/v1/ads/1/aggregated_count/more", 404, {});
        row("batch run id not a number", "GET", "/v1/batch/runs/abc", 400, "id");
        row("unknown batch run id", "GET", "/v1/batch/runs/12345", 404, "id");
        row("body not JSON", "POST", "/v1/batch/runs", 400, "body", "{from: 1");
        row("body not an object", "POST", "/v1/batch/runs", 400, "body", "[1, 2]");
        row("from a string", "POST", "/v1/batch/runs", 400, "from", "{\"from\": \"1767225600\", \"to\": 1767225660}");
        row("to fractional", "POST", "/v1/batch/runs", 400, "to", "{\"from\": 1767225600, \"to\": 1767225660.5}");
        row("unknown field", "POST", "/v1/batch/runs", 400, "extra", "{\"from\": 1767225600, \"extra\": 1}");
        row("body from after to", "POST", "/v1/batch/runs", 400, "from", "{\"from\": 1767225660, \"to\": 1767225600}");
        row("parameter on POST", "POST", "/v1/batch/runs?from=1", 400, "from", "{}");
        row("body over 64 KiB", "POST", "/v1/batch/runs", 413, {},
            "{\"from\": 1, \"pad\": \"" + QByteArray(65 * 1024, 'x') + "\"}");
        row("URL over 8 KiB", "GET", "/v1/ads/top_k?k=" + QString(9000, '1'), 414, {});
    }

    void badInputIsAJsonError()
    {
        QFETCH(QByteArray, method);
        QFETCH(QString, target);
        QFETCH(QByteArray, body);
        QFETCH(int, status);
        QFETCH(QString, parameter);
        QFETCH(QByteArray, header);
        const HttpAnswer a = m_http->send(method, target, body);
        QVERIFY2(a.status == status, a.body.constData());
        QCOMPARE(a.json["status"].toInt(), status);
        QVERIFY(!a.json["error"].toString().isEmpty());
        if (parameter.isNull())
            QVERIFY2(a.json["parameter"].isNull(), a.body.constData());
        else
            QCOMPARE(a.json["parameter"].toString(), parameter);
        if (!header.isEmpty()) {
            const qsizetype colon = header.indexOf(':');
            QCOMPARE(a.header(header.left(colon)), header.mid(colon + 2));
        }
        QVERIFY(a.header("content-type").startsWith("application/json"));
        // Nothing was started by a refused POST.
        QCOMPARE(m_data->session->batches()->status().running, false);
    }

    void apiTokenGuardsEveryRouteButHealth()
    {
        adclick::app::RestServerConfig config;
        config.apiToken = "s3cret";
        adclick::app::RestServer server(*m_data->queries, m_data->session.get(), config);
        const quint16 port = server.listen(QHostAddress::LocalHost, 0);
        QVERIFY(port != 0);
        HttpClient http(port);
        const QString target = countTarget(m_popular, m_data->firstMinuteMs, m_data->endMinuteMs);

        HttpAnswer a = http.get(target);
        QCOMPARE(a.status, 401);
        QCOMPARE(a.json["status"].toInt(), 401);
        QVERIFY(a.header("www-authenticate").startsWith("Bearer"));
        a = http.get(target, "wrong");
        QCOMPARE(a.status, 401);
        QVERIFY(a.header("www-authenticate").startsWith("Bearer"));
        a = http.get(target, "s3cret-and-more");
        QCOMPARE(a.status, 401);
        a = http.get(QStringLiteral("/v1/pipeline"));
        QCOMPARE(a.status, 401);
        a = http.get(target, "s3cret");
        QCOMPARE(a.status, 200);
        QCOMPARE(num(a.json, "click_count"),
            static_cast<qint64>(
                oracleCount(events(), m_popular.toUInt(), m_data->firstMinuteMs, m_data->endMinuteMs, {})));
        a = http.get(QStringLiteral("/v1/pipeline"), "s3cret");
        QCOMPARE(a.status, 200);
        a = http.get(QStringLiteral("/healthz"));
        QCOMPARE(a.status, 200);
        a = http.get(QStringLiteral("/"));
        QCOMPARE(a.status, 200);
        // The open server needs none.
        QCOMPARE(m_http->get(QStringLiteral("/v1/pipeline")).status, 200);
    }
};

QTEST_GUILESS_MAIN(TestRestApi)
#include "tst_rest_api.moc"
