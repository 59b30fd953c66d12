// Exactly once across crashes, from live Kafka: `adclick produce` writes 1 M generated clicks (with
// duplicates and malformed records) to a local `adclick broker`; `adclick serve --source kafka` is
// killed with SIGKILL at random moments at least ten times and restarted (each time as a new group
// member: the offsets come from our store, not the group); then `adclick run --until-end` on the
// same data directory reads to the end of the topic.
// Every minute row and every raw log record is compared with a brute-force oracle over the exact
// records produced: nothing lost, nothing counted twice.

#include "kafka_test_support.h"

#include <QRandomGenerator>
#include <QTemporaryDir>

#include <csignal>

using namespace adclick::engine;
using namespace adclick::test;

class TestKafkaExactlyOnce : public QObject {
    Q_OBJECT

private slots:
    void killedAndRestartedCountsExactlyOnce();
};

void TestKafkaExactlyOnce::killedAndRestartedCountsExactlyOnce()
{
    QTemporaryDir dir(QDir::tempPath() + "/kafka-eo-XXXXXX");
    QVERIFY(dir.isValid());
    BrokerProcess broker;
    // 64 partitions: each mock partition keeps only its last ~5 MB (about 35 K of these records).
    QVERIFY(broker.start(64, "clicks", 1));
    const QString oraclePath = dir.path() + "/oracle.ndjson";
    QByteArray out;
    const int produced
        = runProcess({ adclickBinary(), "produce", "--brokers", broker.bootstrap(), "--topic", "clicks", "--rate",
                         "1000000", "--duration", "1s", "--ads", "3000", "--skew", "0", "--seed", "11", "--duplicates",
                         "0.02", "--malformed", "0.002", "--oracle", oraclePath },
            120000, &out);
    QVERIFY2(produced == 0, out.constData());
    const KafkaOracle oracle = oracleOfFile(oraclePath);
    QCOMPARE(oracle.events.size() + oracle.rejectedBytes.size(), std::size_t { 1000000 });

    const QString dataDir = dir.path() + "/data";
    auto* rng = QRandomGenerator::global();
    int kills = 0;
    int finishedEarly = 0;
    int attempt = 0;
    for (; kills < 10 && attempt < 20; ++attempt) {
        QProcess p;
        p.setProcessChannelMode(QProcess::MergedChannels);
        // The server, as deployed: it keeps serving after the topic's end, so every start is killed.
        QStringList args { "serve", "--listen", "127.0.0.1:0" };
        args << kafkaRunOptions(broker.bootstrap(), "clicks", "eo-" + QString::number(attempt), dataDir);
        p.start(adclickBinary(), args);
        QVERIFY(p.waitForStarted(5000));
        // The group join takes ~3 s on the mock; kill anywhere from during it to well into consuming.
        const int delayMs = 1500 + static_cast<int>(rng->bounded(3500));
        const qint64 pid = p.processId();
        if (waitEnded(p, delayMs)) {
            ++finishedEarly; // read everything before the kill: the next start finds nothing new
            QVERIFY2(p.exitCode() == 0, p.readAll().constData());
            continue;
        }
        QVERIFY(pid > 0);
        ::kill(static_cast<pid_t>(pid), SIGKILL);
        QVERIFY(waitEnded(p, 5000));
        QCOMPARE(p.exitStatus(), QProcess::CrashExit);
        ++kills;
    }
    qInfo("%d kills (SIGKILL), %d runs finished before their kill", kills, finishedEarly);
    QCOMPARE(kills, 10);

    QByteArray finalOut;
    const int rc = runProcess(QStringList { adclickBinary(), "run" }
            + kafkaRunOptions(broker.bootstrap(), "clicks", "eo-final", dataDir) + QStringList { "--until-end" },
        240000, &finalOut);
    QVERIFY2(rc == 0, finalOut.right(3000).constData());
    // The kills interrupted the consumption: the last run resumed part-way through the topic.
    const QRegularExpressionMatch m = QRegularExpression("\"accepted_before\":(\\d+)").match(finalOut);
    QVERIFY(m.hasMatch());
    const qulonglong before = m.captured(1).toULongLong();
    qInfo("the final run resumed after %llu accepted events (of %zu)", before, oracle.events.size());
    QVERIFY(before > 0 && before < oracle.events.size());
    verifyKafkaExact(oracle, compareKafka(oracle, { dataDir }), "after 10 kills");
}

QTEST_GUILESS_MAIN(TestKafkaExactlyOnce)
#include "tst_kafka_exactly_once.moc"
