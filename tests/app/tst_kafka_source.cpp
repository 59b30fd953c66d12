// adclick's Kafka source against a real `adclick broker` process and clients we did not write:
// - kcat produces a generated NDJSON file; adclick's counts equal the oracle of that file, and the
//   malformed records reach the quarantine file and the dead-letter topic with their original
//   bytes and the reason in a header;
// - two adclick processes in one consumer group split the partitions; each counts only its own and
//   their union equals the oracle;
// - one broker of the cluster goes down and comes back mid-run: /v1/pipeline shows the outage,
//   nothing is lost.

#include "kafka_test_support.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QTemporaryDir>

using namespace adclick::engine;
using namespace adclick::test;

namespace {
/// Reads every message of a topic with kcat: one "%h\t%s" line per message (headers, value).
QList<QByteArray> kcatConsume(const QString& brokers, const QString& topic)
{
    QByteArray out;
    QProcess p;
    p.start("kcat", { "-C", "-b", brokers, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%h\t%s\n" });
    if (!waitEnded(p, 60000))
        return {};
    out = p.readAllStandardOutput();
    QList<QByteArray> lines = out.split('\n');
    if (!lines.isEmpty() && lines.back().isEmpty())
        lines.pop_back();
    return lines;
}

QJsonObject getJson(QNetworkAccessManager& nam, const QString& url)
{
    QNetworkReply* r = nam.get(QNetworkRequest(QUrl(url)));
    QEventLoop loop;
    QObject::connect(r, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    QTimer::singleShot(5000, &loop, &QEventLoop::quit);
    loop.exec();
    const QJsonObject o = QJsonDocument::fromJson(r->readAll()).object();
    r->deleteLater();
    return o;
}
} // namespace

class TestKafkaSource : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void kcatFileCountsEqualOracle();
    void twoMembersSplitPartitions();
    void lateMemberTakesOverPartitions_data();
    void lateMemberTakesOverPartitions();
    void brokerDownAndUpLosesNothing();

private:
    BrokerProcess m_broker;
    QTemporaryDir m_dir { QDir::tempPath() + "/kafka-src-XXXXXX" };
};

void TestKafkaSource::initTestCase()
{
    QVERIFY(m_dir.isValid());
    QVERIFY2(QProcess::execute("kcat", { "-V" }) == 0, "kcat is missing: run scripts/setup");
    QVERIFY(m_broker.start(32, "from-kcat,dead-letters,split,outage,late-eager,late-cooperative", 3));
}

void TestKafkaSource::kcatFileCountsEqualOracle()
{
    const QString file = m_dir.path() + "/generated.ndjson";
    {
        QProcess gen;
        gen.setStandardOutputFile(file);
        gen.start(adclickBinary(),
            { "generate", "--seed", "5", "--rate", "40000", "--duration", "2s", "--ads", "2000", "--skew", "0",
                "--malformed", "0.01", "--duplicates", "0.02" });
        QVERIFY(waitEnded(gen, 60000));
        QCOMPARE(gen.exitCode(), 0);
    }
    const KafkaOracle oracle = oracleOfFile(file);
    QVERIFY(oracle.rejectedBytes.size() > 500);
    // kcat -l: every line of the file is one message; without keys, spread over every partition
    // (sticky batches would overfill the mock broker's ~5 MB per partition).
    QCOMPARE(QProcess::execute("kcat",
                 { "-P", "-b", m_broker.bootstrap(), "-t", "from-kcat", "-X", "sticky.partitioning.linger.ms=0", "-l",
                     file }),
        0);

    const QString dataDir = m_dir.path() + "/kcat-data";
    QByteArray out;
    const int rc = runProcess(QStringList { adclickBinary(), "run" }
            + kafkaRunOptions(m_broker.bootstrap(), "from-kcat", "kcat-test", dataDir)
            + QStringList { "--until-end", "--dead-letter-topic", "dead-letters" },
        120000, &out);
    QVERIFY2(rc == 0, out.right(3000).constData());
    verifyKafkaExact(oracle, compareKafka(oracle, { dataDir }), "kcat-produced file");

    // Quarantine: one entry per malformed record, with its position and its original bytes.
    std::multiset<std::string> malformed(oracle.rejectedBytes.begin(), oracle.rejectedBytes.end());
    QFile q(dataDir + "/quarantine.ndjson");
    QVERIFY(q.open(QIODevice::ReadOnly));
    std::size_t entries = 0;
    std::size_t bytesMatched = 0;
    std::set<std::pair<qint64, qint64>> quarantinedPositions;
    for (const QByteArray& line : q.readAll().split('\n')) {
        if (line.isEmpty())
            continue;
        ++entries;
        const QJsonObject o = QJsonDocument::fromJson(line).object();
        quarantinedPositions.insert({ o["partition"].toInteger(-1), o["offset"].toInteger(-1) });
        const std::string bytes = o["bytes"].toString().toStdString();
        // The quarantine keeps the first 4 KiB; text that is not UTF-8 is escaped and compared by count only.
        for (const std::string& m : oracle.rejectedBytes)
            if (m.substr(0, 4096) == bytes) {
                ++bytesMatched;
                break;
            }
    }
    qInfo("quarantine: %zu entries, %zu with bytes equal to a malformed record", entries, bytesMatched);
    QCOMPARE(entries, oracle.rejectedBytes.size());
    QCOMPARE(quarantinedPositions.size(), entries);
    QVERIFY(bytesMatched * 10 >= entries * 9);

    // Dead letters: every malformed record whole, the reason in a header, counted per reason.
    const QList<QByteArray> dead = kcatConsume(m_broker.bootstrap(), "dead-letters");
    QCOMPARE(static_cast<std::size_t>(dead.size()), oracle.rejectedBytes.size());
    std::map<std::string, std::uint64_t> reasons;
    for (const QByteArray& d : dead) {
        const qsizetype tab = d.indexOf('\t');
        QVERIFY(tab > 0);
        const QByteArray headers = d.left(tab);
        const std::string value = d.mid(tab + 1).toStdString();
        const auto it = malformed.find(value);
        QVERIFY2(
            it != malformed.end(), ("dead letter not among the malformed records: " + value.substr(0, 200)).c_str());
        malformed.erase(it);
        const QRegularExpressionMatch m = QRegularExpression("adclick-reject-reason=([a-z_]+)").match(headers);
        QVERIFY2(m.hasMatch(), headers.constData());
        QVERIFY(headers.contains("adclick-source-partition=") && headers.contains("adclick-source-offset="));
        ++reasons[m.captured(1).toStdString()];
    }
    QVERIFY(malformed.empty());
    for (int i = 0; i < kRejectReasonCount; ++i) {
        const auto r = static_cast<RejectReason>(i);
        QCOMPARE(reasons[std::string(rejectReasonName(r))], oracle.rejected[r]);
    }
}

void TestKafkaSource::twoMembersSplitPartitions()
{
    const QString oraclePath = m_dir.path() + "/split.ndjson";
    const QString a = m_dir.path() + "/split-a";
    const QString b = m_dir.path() + "/split-b";
    // Both members run for a fixed time while the records arrive, so neither can finish alone.
    auto start = [&](QProcess& p, const QString& dir) {
        p.setProcessChannelMode(QProcess::MergedChannels);
        p.start(adclickBinary(),
            QStringList { "run" } + kafkaRunOptions(m_broker.bootstrap(), "split", "split-group", dir)
                + QStringList { "--duration", "16s" });
        return p.waitForStarted(5000);
    };
    QProcess pa;
    QProcess pb;
    QVERIFY(start(pa, a));
    QVERIFY(start(pb, b));
    QTest::qWait(4000);
    QByteArray out;
    QVERIFY2(runProcess(
                 { adclickBinary(), "produce", "--brokers", m_broker.bootstrap(), "--topic", "split", "--rate", "60000",
                     "--duration", "3s", "--ads", "2000", "--skew", "0", "--seed", "21", "--oracle", oraclePath },
                 60000, &out)
            == 0,
        out.constData());
    QVERIFY(waitEnded(pa, 60000));
    QVERIFY(waitEnded(pb, 60000));
    QVERIFY2(pa.exitCode() == 0, pa.readAll().right(2000).constData());
    QVERIFY2(pb.exitCode() == 0, pb.readAll().right(2000).constData());

    const KafkaOracle oracle = oracleOfFile(oraclePath);
    const KafkaComparison c = compareKafka(oracle, { a, b });
    qInfo("member A logged %llu records, member B %llu", static_cast<unsigned long long>(c.rawPerDir.at(0)),
        static_cast<unsigned long long>(c.rawPerDir.at(1)));
    QVERIFY(c.rawPerDir.at(0) > 0);
    QVERIFY(c.rawPerDir.at(1) > 0);
    verifyKafkaExact(oracle, c, "two members, union");
    QCOMPARE(c.crossMemberDuplicates, 0ull); // no partition moved: every resend met its original

    // Each counted only its own partitions: no partition appears in both raw logs.
    auto partitionsOf = [](const QString& dir) {
        std::set<std::uint32_t> ps;
        RawLogReader((dir + "/raw").toStdString()).scanFromSequence(0, [&](const RawRecord& r) {
            ps.insert(r.event.partition);
            return true;
        });
        return ps;
    };
    const auto psA = partitionsOf(a);
    const auto psB = partitionsOf(b);
    std::vector<std::uint32_t> both;
    std::set_intersection(psA.begin(), psA.end(), psB.begin(), psB.end(), std::back_inserter(both));
    qInfo("partitions: A %zu, B %zu, in both %zu", psA.size(), psB.size(), both.size());
    QVERIFY(both.empty());
}

void TestKafkaSource::lateMemberTakesOverPartitions_data()
{
    QTest::addColumn<QString>("protocol");
    QTest::newRow("eager") << "eager";
    // Not "cooperative": with librdkafka 2.0.2's mock cluster a joining cooperative-sticky member
    // aborts in rd_kafka_sticky_assignor_state_destroy (a library assertion) and the first member's
    // assignment is reported lost, so that protocol cannot be exercised against the local broker.
}

// A member joins while the first is consuming: the eager protocol revokes every partition from the
// first mid-stream and re-assigns half of them. The first takes a checkpoint and hands its
// positions over before releasing them: every record is logged by exactly one member and nothing
// is lost. De-duplication by click id is per process, so a resend read by the new owner of its
// partition after the move is counted by both members: the comparison allows exactly those
// (identified from the two raw logs) and nothing else.
void TestKafkaSource::lateMemberTakesOverPartitions()
{
    QFETCH(QString, protocol);
    const QString topic = "late-" + protocol;
    const QString oraclePath = m_dir.path() + "/" + topic + ".ndjson";
    const QString a = m_dir.path() + "/" + topic + "-a";
    const QString b = m_dir.path() + "/" + topic + "-b";
    auto start = [&](QProcess& p, const QString& dir, const QString& duration) {
        p.setProcessChannelMode(QProcess::MergedChannels);
        p.start(adclickBinary(),
            QStringList { "run" } + kafkaRunOptions(m_broker.bootstrap(), topic, topic + "-group", dir)
                + QStringList { "--rebalance", protocol, "--duration", duration });
        return p.waitForStarted(5000);
    };
    QProcess pa;
    QVERIFY(start(pa, a, "22s"));
    QTest::qWait(3500);
    QProcess producer;
    producer.setProcessChannelMode(QProcess::MergedChannels);
    producer.start(adclickBinary(),
        { "produce", "--brokers", m_broker.bootstrap(), "--topic", topic, "--rate", "25000", "--duration", "8s",
            "--ads", "2000", "--skew", "0", "--seed", "41", "--oracle", oraclePath });
    QVERIFY(producer.waitForStarted(5000));
    QTest::qWait(2500);
    QProcess pb;
    QVERIFY(start(pb, b, "15s"));
    QVERIFY(waitEnded(producer, 60000));
    QVERIFY2(producer.exitCode() == 0, producer.readAll().right(2000).constData());
    QVERIFY(waitEnded(pa, 60000));
    QVERIFY(waitEnded(pb, 60000));
    QVERIFY2(pa.exitCode() == 0, pa.readAll().right(2000).constData());
    QVERIFY2(pb.exitCode() == 0, pb.readAll().right(2000).constData());

    const KafkaOracle oracle = oracleOfFile(oraclePath);
    const KafkaComparison c = compareKafka(oracle, { a, b });
    qInfo("%s: first member logged %llu records, the late one %llu", qPrintable(protocol),
        static_cast<unsigned long long>(c.rawPerDir.at(0)), static_cast<unsigned long long>(c.rawPerDir.at(1)));
    QVERIFY(c.rawPerDir.at(0) > 0);
    QVERIFY(c.rawPerDir.at(1) > 0);
    verifyKafkaExact(oracle, c, qPrintable("late member, " + protocol));
}

void TestKafkaSource::brokerDownAndUpLosesNothing()
{
    const QString oraclePath = m_dir.path() + "/outage.ndjson";
    const QString dataDir = m_dir.path() + "/outage-data";
    const quint16 port = freePort();
    QProcess serve;
    serve.setProcessChannelMode(QProcess::MergedChannels);
    serve.start(adclickBinary(),
        QStringList { "serve" } + kafkaRunOptions(m_broker.bootstrap(), "outage", "outage-group", dataDir)
            + QStringList { "--listen", QStringLiteral("127.0.0.1:%1").arg(port), "--duration", "20s" });
    QVERIFY(serve.waitForStarted(5000));
    QProcess producer;
    producer.setProcessChannelMode(QProcess::MergedChannels);
    producer.start(adclickBinary(),
        { "produce", "--brokers", m_broker.bootstrap(), "--topic", "outage", "--rate", "20000", "--duration", "8s",
            "--ads", "2000", "--skew", "0", "--seed", "31", "--malformed", "0", "--oracle", oraclePath });
    QVERIFY(producer.waitForStarted(5000));
    QTest::qWait(4000);

    QNetworkAccessManager nam;
    const QString pipelineUrl = QStringLiteral("http://127.0.0.1:%1/v1/pipeline").arg(port);
    QVERIFY(m_broker.command("down 2"));
    bool sawOutage = false;
    for (int i = 0; i < 30 && !sawOutage; ++i) {
        QTest::qWait(200);
        const QJsonObject st = getJson(nam, pipelineUrl)["source_status"].toObject();
        sawOutage = st.contains("connected") && !st["connected"].toBool();
    }
    const QJsonObject health = getJson(nam, QStringLiteral("http://127.0.0.1:%1/healthz").arg(port));
    QTest::qWait(2000);
    QVERIFY(m_broker.command("up 2"));
    QVERIFY2(sawOutage, "the outage never showed in /v1/pipeline");
    qInfo("during the outage /healthz said: %s", QJsonDocument(health).toJson(QJsonDocument::Compact).constData());
    bool back = false;
    for (int i = 0; i < 50 && !back; ++i) {
        QTest::qWait(200);
        back = getJson(nam, pipelineUrl)["source_status"].toObject()["connected"].toBool();
    }
    QVERIFY2(back, "the source never reported the broker back");

    const bool producerDone = waitEnded(producer, 60000);
    QVERIFY2(producerDone && producer.exitCode() == 0, producer.readAll().right(3000).constData());
    // serve keeps answering after its duration; SIGTERM then stops it after a final checkpoint.
    QByteArray serveOut;
    for (int i = 0; i < 600 && !serveOut.contains("the input ended"); ++i) {
        serve.waitForReadyRead(100);
        serveOut += serve.readAll();
    }
    QVERIFY2(serveOut.contains("the input ended"), serveOut.right(2000).constData());
    serve.terminate();
    QVERIFY(waitEnded(serve, 30000));
    QVERIFY2(serve.exitCode() == 0, serve.readAll().right(2000).constData());
    // The oracle is the topic as kcat reads it: the mock broker does not de-duplicate an idempotent
    // producer's retries across the outage, so the topic may hold a few records twice (at distinct
    // offsets; adclick's de-duplication by click id then counts them once). The producer lost nothing.
    const QString topicDump = m_dir.path() + "/outage-topic.ndjson";
    {
        QProcess kcat;
        kcat.setStandardOutputFile(topicDump);
        kcat.start(
            "kcat", { "-C", "-b", m_broker.bootstrap(), "-t", "outage", "-o", "beginning", "-e", "-q", "-f", "%s\n" });
        QVERIFY(waitEnded(kcat, 60000));
        QCOMPARE(kcat.exitCode(), 0);
    }
    const KafkaOracle produced = oracleOfFile(oraclePath);
    const KafkaOracle oracle = oracleOfFile(topicDump);
    std::multiset<decltype(fingerprint(ClickEvent {}))> inTopic;
    for (const ClickEvent& e : oracle.events)
        inTopic.insert(fingerprint(e));
    std::size_t producedMissing = 0;
    for (const ClickEvent& e : produced.events)
        if (auto it = inTopic.find(fingerprint(e)); it != inTopic.end())
            inTopic.erase(it);
        else
            ++producedMissing;
    qInfo("producer: %zu records, %zu in the topic twice, %zu missing", produced.events.size(), inTopic.size(),
        producedMissing);
    QCOMPARE(producedMissing, std::size_t { 0 });
    verifyKafkaExact(oracle, compareKafka(oracle, { dataDir }), "broker down and up");
}

QTEST_GUILESS_MAIN(TestKafkaSource)
#include "tst_kafka_source.moc"
