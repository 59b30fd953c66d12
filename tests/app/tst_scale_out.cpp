// Scale-out (issue 11, docs/SCALE-OUT.md) with real processes: a PostgreSQL 15 server, `adclick
// broker` (3 brokers, 6 partitions) and three `adclick serve --store postgresql://…` instances in
// one consumer group. `adclick produce` writes over 1 M generated clicks (duplicates, late and
// malformed records on) at a pace the group keeps up with; one instance is killed with SIGKILL
// mid-run (its partitions move to the others) and started again later (partitions come back).
// Once every partition's checkpoint reached the last produced offset, every instance is stopped
// with SIGTERM and the shared store is compared with a brute-force oracle over the exact records
// produced: every (ad, minute, country, device) row, 0 lost, 0 doubled, the quarantine; each
// instance's /v1/totals gave the same total.

#include "engine/storage/pg_test_support.h"
#include "kafka_test_support.h"

#include <QElapsedTimer>
#include <QEventLoop>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QTimer>

#include <algorithm>
#include <csignal>

using namespace adclick::engine;
using namespace adclick::test;

namespace {

/// One `adclick serve --store postgresql://…` child; output to files under the test's directory.
/// SIGTERM (then SIGKILL) when destroyed while running: nothing is left behind on a failure.
class Instance {
public:
    explicit Instance(QString id)
        : m_id(std::move(id))
    {
    }
    Instance(const Instance&) = delete;
    Instance& operator=(const Instance&) = delete;
    ~Instance() { stop(15000); }

    bool start(const QString& dir, const QStringList& args)
    {
        ++m_starts;
        m_outPath = QString("%1/%2-%3.out").arg(dir, m_id).arg(m_starts);
        m_process.setStandardOutputFile(m_outPath, QIODevice::Truncate);
        m_process.setStandardErrorFile(QString("%1/%2-%3.err").arg(dir, m_id).arg(m_starts), QIODevice::Truncate);
        m_process.start(
            adclickBinary(), QStringList { "serve", "--listen", "127.0.0.1:0", "--instance-id", m_id } + args);
        if (!m_process.waitForStarted(10000))
            return false;
        static const QRegularExpression kListening(R"(listening on http://127\.0\.0\.1:(\d+))");
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < 30000 && running()) {
            const QRegularExpressionMatch m = kListening.match(QString::fromUtf8(output()));
            if (m.hasMatch()) {
                m_port = static_cast<quint16>(m.captured(1).toUInt());
                return m_port != 0;
            }
            m_process.waitForFinished(20);
        }
        return false;
    }
    void signal(int s)
    {
        if (const qint64 pid = m_process.processId(); pid > 0 && running())
            ::kill(static_cast<pid_t>(pid), s);
    }
    /// SIGTERM and wait; SIGKILL after timeoutMs. True when it exited normally with code 0.
    bool stop(int timeoutMs)
    {
        if (!running())
            return m_process.exitStatus() == QProcess::NormalExit && m_process.exitCode() == 0;
        signal(SIGTERM);
        if (!m_process.waitForFinished(timeoutMs)) {
            m_process.kill();
            m_process.waitForFinished(5000);
            return false;
        }
        return m_process.exitStatus() == QProcess::NormalExit && m_process.exitCode() == 0;
    }
    void kill9()
    {
        signal(SIGKILL);
        m_process.waitForFinished(10000);
    }
    bool running() const { return m_process.state() != QProcess::NotRunning; }
    quint16 port() const { return m_port; }
    const QString& id() const { return m_id; }
    QByteArray output() const
    {
        QFile f(m_outPath);
        return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
    }

private:
    QString m_id;
    QProcess m_process;
    QString m_outPath;
    quint16 m_port = 0;
    int m_starts = 0;
};

/// GET http://127.0.0.1:port/path as JSON (status 0 when no answer came).
QJsonObject getJson(quint16 port, const QString& path, int* status = nullptr)
{
    QNetworkAccessManager nam;
    QNetworkRequest request(QUrl(QString("http://127.0.0.1:%1%2").arg(port).arg(path)));
    QNetworkReply* reply = nam.get(request);
    QEventLoop loop;
    QTimer timer;
    timer.setSingleShot(true);
    QObject::connect(&timer, &QTimer::timeout, &loop, &QEventLoop::quit);
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    timer.start(20000);
    if (!reply->isFinished())
        loop.exec();
    const int code = reply->isFinished() ? reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt() : 0;
    const QJsonObject o = code ? QJsonDocument::fromJson(reply->readAll()).object() : QJsonObject();
    reply->abort();
    reply->deleteLater();
    if (status)
        *status = code;
    return o;
}

/// partition → (owner, epoch, last offset), from /v1/pipeline's partition checkpoints.
struct Owner {
    QString owner;
    qint64 epoch = 0;
    qint64 lastOffset = -1;
};
std::map<int, Owner> owners(const QJsonObject& pipeline)
{
    std::map<int, Owner> out;
    for (const QJsonValue& v : pipeline.value("partition_checkpoints").toArray()) {
        const QJsonObject o = v.toObject();
        out[o.value("partition").toInt()]
            = Owner { o.value("owner").toString(), o.value("epoch").toInteger(), o.value("last_offset").toInteger() };
    }
    return out;
}

/// Polls `f` every 250 ms (spinning the event loop) until it holds or timeoutMs passed.
template <class F> bool waitUntil(F f, int timeoutMs)
{
    QElapsedTimer t;
    t.start();
    while (!f()) {
        if (t.elapsed() > timeoutMs)
            return false;
        QTest::qWait(250);
    }
    return true;
}

} // namespace

class TestScaleOut : public QObject {
    Q_OBJECT

private slots:
    void threeInstancesOneKilledCountExactlyOnce();
};

void TestScaleOut::threeInstancesOneKilledCountExactlyOnce()
{
    QElapsedTimer clock;
    clock.start();
    QTemporaryDir dir("/tmp/scale11-XXXXXX");
    QVERIFY(dir.isValid());
    PgTestServer pg;
    QVERIFY2(pg.start(), qPrintable(pg.error()));
    QVERIFY2(pg.createDatabase("scale11"), qPrintable(pg.error()));
    const QString store = QString("postgresql://postgres@127.0.0.1:%1/scale11").arg(pg.port());
    BrokerProcess broker;
    QVERIFY(broker.start(6, "clicks", 3));

    const QStringList common { "--store", store, "--shared-dir", dir.path() + "/shared", "--source", "kafka",
        "--brokers", broker.bootstrap(), "--topic", "clicks", "--group", "scale11", "--session-timeout", "3s",
        // Nothing is late (bound 30 min over data spanning about a minute), every click id remembered.
        "--watermark-bound", "30m", "--dedup-horizon", "1d", "--max-future", "0s", "--checkpoint-interval", "500ms" };
    Instance a("A"), b("B"), c("C");
    Instance* all[] = { &a, &b, &c };
    for (Instance* i : all)
        QVERIFY2(i->start(dir.path(), common), i->output().constData());

    // The group split the 6 partitions: each instance claimed some.
    std::map<int, Owner> initial;
    const bool assigned = waitUntil(
        [&] {
            initial = owners(getJson(a.port(), "/v1/pipeline"));
            std::set<QString> ids;
            for (const auto& [p, o] : initial)
                ids.insert(o.owner);
            return initial.size() == 6 && ids == std::set<QString> { "A", "B", "C" };
        },
        60000);
    QVERIFY2(assigned, QJsonDocument(getJson(a.port(), "/v1/pipeline")).toJson().constData());
    qInfo("group formed after %.1f s: 6 partitions over A, B and C", clock.elapsed() / 1000.0);

    // 1.02 M records in two runs of the producer, 510 K each at 15 K/s, over ads spread evenly across
    // the partitions. Each mock partition keeps only its last ~5 MB (~20 K of these records) and
    // drops older ones whether read or not: a partition may not stall (session timeout, rebalance,
    // claim with raw log replay: 5-10 s here) for more than ~8 s while 2.5 K records/s arrive. So B
    // is killed 4 s before the first run ends, and the group settles (B's partitions move away, B
    // comes back) before the second run starts.
    const QString oraclePath = dir.path() + "/oracle.ndjson";
    QProcess producer;
    producer.setProcessChannelMode(QProcess::MergedChannels);
    auto produce = [&](int run) {
        producer.start(adclickBinary(),
            { "produce", "--brokers", broker.bootstrap(), "--topic", "clicks", "--rate", "15000", "--duration", "34s",
                "--ads", "20000", "--skew", "0", "--seed", QString::number(10 + run), "--oracle",
                QString("%1.%2").arg(oraclePath).arg(run) });
        return producer.waitForStarted(5000);
    };
    auto produced = [&] {
        return waitEnded(producer, 120000) && producer.exitStatus() == QProcess::NormalExit && producer.exitCode() == 0;
    };
    QVERIFY(produce(1));
    QElapsedTimer producing;
    producing.start();

    // Kill B mid-run: its partitions move to A and C (new epochs) once its session expires.
    QTest::qWait(30000);
    QVERIFY(producer.state() == QProcess::Running);
    std::set<int> ofB;
    for (const auto& [p, o] : owners(getJson(a.port(), "/v1/pipeline")))
        if (o.owner == "B")
            ofB.insert(p);
    QVERIFY(!ofB.empty());
    b.kill9();
    int kills = 1;
    QElapsedTimer moving;
    moving.start();
    std::map<int, Owner> afterKill;
    const bool movedAway = waitUntil(
        [&] {
            afterKill = owners(getJson(a.port(), "/v1/pipeline"));
            for (int p : ofB)
                if (afterKill[p].owner == "B" || afterKill[p].epoch <= initial[p].epoch)
                    return false;
            return true;
        },
        45000);
    QVERIFY2(movedAway, QJsonDocument(getJson(a.port(), "/v1/pipeline")).toJson().constData());
    qInfo("B killed (SIGKILL) at %.1f s of producing; its %zu partitions claimed by A/C %.1f s later",
        (producing.elapsed() - moving.elapsed()) / 1000.0, ofB.size(), moving.elapsed() / 1000.0);
    QVERIFY2(produced(), producer.readAll().constData());
    const double firstSeconds = producing.elapsed() / 1000.0;

    // B comes back (same id, a new group member): the group gives it partitions again.
    QVERIFY2(b.start(dir.path(), common), b.output().constData());
    moving.restart();
    const bool cameBack = waitUntil(
        [&] {
            for (const auto& [p, o] : owners(getJson(a.port(), "/v1/pipeline")))
                if (o.owner == "B")
                    return true;
            return false;
        },
        45000);
    QVERIFY2(cameBack, QJsonDocument(getJson(a.port(), "/v1/pipeline")).toJson().constData());
    qInfo("B restarted: it owns partitions again %.1f s later", moving.elapsed() / 1000.0);
    QTest::qWait(3000); // the rest of the rebalance (every member claims its new assignment)

    QElapsedTimer second;
    second.start();
    QVERIFY(produce(2));
    QVERIFY2(produced(), producer.readAll().constData());
    {
        QFile all(oraclePath);
        QVERIFY(all.open(QIODevice::WriteOnly));
        for (int run : { 1, 2 }) {
            QFile part(QString("%1.%2").arg(oraclePath).arg(run));
            QVERIFY(part.open(QIODevice::ReadOnly));
            all.write(part.readAll());
        }
    }
    const double produceSeconds = firstSeconds + second.elapsed() / 1000.0;
    const KafkaOracle oracle = oracleOfFile(oraclePath);
    const qint64 records = static_cast<qint64>(oracle.events.size() + oracle.rejectedBytes.size());
    QVERIFY(records >= 1000000);
    qInfo("produced %lld records in two runs of %.1f s in all (%.0f/s): %zu events, %zu malformed, %llu duplicates",
        records, produceSeconds, records / produceSeconds, oracle.events.size(), oracle.rejectedBytes.size(),
        static_cast<unsigned long long>(oracle.result.duplicates));
    QCOMPARE(oracle.result.lateDropped, 0ull); // the 30 min bound: the comparison below is of every click

    // Every record consumed and checkpointed: the offsets of the 6 partitions add up to the records
    // produced, and every live instance reports lag 0 for what it owns.
    QElapsedTimer draining;
    draining.start();
    QJsonObject last;
    const bool drained = waitUntil(
        [&] {
            last = getJson(c.port(), "/v1/pipeline");
            qint64 consumed = 0;
            for (const auto& [p, o] : owners(last))
                consumed += o.lastOffset + 1;
            if (consumed != records)
                return false;
            for (const QJsonValue& v : last.value("instances").toArray())
                if (v.toObject().value("live").toBool())
                    for (const QJsonValue& q : v.toObject().value("partitions").toArray())
                        if (q.toObject().value("lag").toInteger() > 0) // -1: not known yet
                            return false;
            return true;
        },
        120000);
    QVERIFY2(drained, QJsonDocument(last).toJson().constData());
    qInfo("every partition checkpointed to its end %.1f s after the producer finished", draining.elapsed() / 1000.0);

    // Partitions moved away and came back: epochs and owners at the end.
    const std::map<int, Owner> final = owners(last);
    qint64 moves = 0;
    int backToB = 0;
    for (const auto& [p, o] : final) {
        moves += o.epoch - initial[p].epoch;
        backToB += o.owner == "B";
        qInfo("partition %d: owner %s → %s, epoch %lld → %lld, last offset %lld", p, qPrintable(initial[p].owner),
            qPrintable(o.owner), static_cast<long long>(initial[p].epoch), static_cast<long long>(o.epoch),
            static_cast<long long>(o.lastOffset));
    }
    QVERIFY(moves >= static_cast<qint64>(ofB.size()) + 1); // away from B, and at least one back to it (epochs)
    QVERIFY(backToB >= 1);

    // Each instance answers for the whole deployment: the same total from each.
    std::uint64_t want = 0;
    for (const auto& [key, cell] : oracle.result.cells)
        want += cell.count;
    std::vector<qint64> totals;
    for (Instance* i : all) {
        int status = 0;
        const QJsonObject t = getJson(i->port(), "/v1/totals", &status);
        QCOMPARE(status, 200);
        QCOMPARE(t.value("source").toString(), QString("shared store"));
        totals.push_back(t.value("total_clicks").toInteger());
        qInfo("/v1/totals of %s: %lld clicks", qPrintable(i->id()), static_cast<long long>(totals.back()));
    }
    QCOMPARE(totals[0], totals[1]);
    QCOMPARE(totals[1], totals[2]);

    // Exact top-K and a count over the shared store (any instance), and the routes it does not answer.
    std::map<AdId, std::uint64_t> perAd;
    for (const auto& [key, cell] : oracle.result.cells)
        perAd[key.adId] += cell.count;
    std::vector<std::pair<AdId, std::uint64_t>> ranking(perAd.begin(), perAd.end());
    std::sort(ranking.begin(), ranking.end(),
        [](const auto& x, const auto& y) { return x.second != y.second ? x.second > y.second : x.first < y.first; });
    const QString allTime = "from=0&to=4102444800";
    const QJsonObject top = getJson(c.port(), "/v1/ads/top_k?k=3&" + allTime);
    QCOMPARE(top.value("exact").toBool(), true);
    const QJsonArray topAds = top.value("top_ads").toArray();
    QCOMPARE(topAds.size(), 3);
    for (int r = 0; r < 3; ++r) {
        QCOMPARE(topAds[r].toObject().value("ad_id").toString(), QString::number(ranking[r].first));
        QCOMPARE(topAds[r].toObject().value("click_count").toInteger(), static_cast<qint64>(ranking[r].second));
    }
    const QJsonObject count
        = getJson(b.port(), QString("/v1/ads/%1/aggregated_count?%2").arg(ranking[0].first).arg(allTime));
    QCOMPARE(count.value("click_count").toInteger(), static_cast<qint64>(ranking[0].second));
    QCOMPARE(count.value("source").toString(), QString("shared store"));
    QVERIFY(count.value("staleness_ms").isDouble());
    int status = 0;
    QVERIFY(getJson(a.port(), "/v1/ads/1/series", &status).value("error").isString());
    QCOMPARE(status, 501);
    QVERIFY(getJson(a.port(), "/v1/ads/top_k?k=0", &status).value("parameter").toString() == "k");
    QCOMPARE(status, 400);

    for (Instance* i : all)
        QVERIFY2(i->stop(60000), i->output().right(2000).constData());

    // The shared store against the oracle, cell by cell.
    std::string error;
    auto conn = PgConnection::connect(pg.conninfo("scale11"), error);
    QVERIFY2(conn, error.c_str());
    const PgResult rows = conn->exec("SELECT ad_id, window_start, country, device, SUM(count), SUM(late_dropped) FROM "
                                     "speed_minute GROUP BY ad_id, window_start, country, device");
    QVERIFY2(rows.ok(), rows.error().c_str());
    std::map<WindowKey, std::uint64_t> stored;
    std::map<std::pair<AdId, TimeMs>, std::int64_t> perMinute; // stored − oracle per (ad, minute)
    std::uint64_t lateDropped = 0;
    for (int r = 0; r < rows.rows(); ++r) {
        const WindowKey key { static_cast<AdId>(rows.int64(r, 0)), rows.int64(r, 1),
            static_cast<CountryCode>(rows.int64(r, 2)), static_cast<DeviceClass>(rows.int64(r, 3)) };
        stored[key] += static_cast<std::uint64_t>(rows.int64(r, 4));
        perMinute[{ key.adId, key.windowStartMs }] += rows.int64(r, 4);
        lateDropped += static_cast<std::uint64_t>(rows.int64(r, 5));
    }
    std::uint64_t lost = 0, doubled = 0, wrong = 0;
    for (const auto& [key, cell] : oracle.result.cells) {
        perMinute[{ key.adId, key.windowStartMs }] -= static_cast<std::int64_t>(cell.count);
        const auto it = stored.find(key);
        const std::uint64_t got = it == stored.end() ? 0 : it->second;
        wrong += got != cell.count;
        lost += got < cell.count ? cell.count - got : 0;
        doubled += got > cell.count ? got - cell.count : 0;
    }
    for (const auto& [key, got] : stored)
        if (!oracle.result.cells.count(key)) {
            ++wrong;
            doubled += got;
        }
    std::uint64_t minutesWrong = 0;
    for (const auto& [key, diff] : perMinute)
        minutesWrong += diff != 0;
    // Per partition (each ad lives in one: the topic is keyed by ad id), to tell where a gap is.
    const PgResult placed = conn->exec("SELECT ad_id, source_partition, SUM(count) FROM speed_minute GROUP BY 1, 2");
    QVERIFY2(placed.ok(), placed.error().c_str());
    std::map<AdId, std::int64_t> wantPerAd;
    for (const auto& [key, cell] : oracle.result.cells)
        wantPerAd[key.adId] += static_cast<std::int64_t>(cell.count);
    std::map<int, std::pair<std::int64_t, std::int64_t>> perPartition; // stored, oracle
    std::set<AdId> seenAds;
    for (int r = 0; r < placed.rows(); ++r) {
        const AdId ad = static_cast<AdId>(placed.int64(r, 0));
        auto& pp = perPartition[static_cast<int>(placed.int64(r, 1))];
        pp.first += placed.int64(r, 2);
        if (seenAds.insert(ad).second)
            pp.second += wantPerAd[ad];
    }
    std::int64_t unplaced = 0; // clicks of ads with no stored row at all
    for (const auto& [ad, n] : wantPerAd)
        if (!seenAds.count(ad))
            unplaced += n;
    for (const auto& [p, pp] : perPartition)
        qInfo("partition %d: %lld clicks stored, %lld expected", p, static_cast<long long>(pp.first),
            static_cast<long long>(pp.second));
    qInfo("clicks of ads with no stored row: %lld", static_cast<long long>(unplaced));
    const PgResult q = conn->exec("SELECT COALESCE(SUM(count), 0) FROM quarantine_stats");
    QVERIFY2(q.ok(), q.error().c_str());
    qInfo("%d kill(s); partitions: %zu moved away from B, %d back to B, %lld claims after the first assignment (epoch "
          "increments: an eager rebalance re-claims every partition); %zu cells (%zu ad-minutes), %llu wrong, %llu "
          "lost, %llu doubled, %llu "
          "late-dropped; %lld quarantined (%llu expected); %.1f s in all",
        kills, ofB.size(), backToB, static_cast<long long>(moves), oracle.result.cells.size(), perMinute.size(),
        static_cast<unsigned long long>(wrong), static_cast<unsigned long long>(lost),
        static_cast<unsigned long long>(doubled), static_cast<unsigned long long>(lateDropped),
        static_cast<long long>(q.int64(0, 0)), static_cast<unsigned long long>(oracle.rejected.total()),
        clock.elapsed() / 1000.0);
    QVERIFY(oracle.result.cells.size() > 10000);
    QCOMPARE(static_cast<std::uint64_t>(totals[0]), want);
    QCOMPARE(lost, 0ull);
    QCOMPARE(doubled, 0ull);
    QCOMPARE(wrong, 0ull);
    QCOMPARE(minutesWrong, 0ull);
    QCOMPARE(lateDropped, 0ull);
    QCOMPARE(static_cast<std::uint64_t>(q.int64(0, 0)), oracle.rejected.total());
}

QTEST_GUILESS_MAIN(TestScaleOut)
#include "tst_scale_out.moc"
