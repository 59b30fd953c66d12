// `adclick reconcile` as a user meets it: after `adclick run --inject-speed-fault double-count-ad:1`
// and `adclick batch`, the JSON report puts the whole unexplained gap on ad 1 and nowhere else;
// bad arguments exit 2, a missing store or an empty range exit 1 with a message naming the cause.

#include "run_options.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

using namespace adclick::app;
using adclick::engine::SpeedFault;

namespace {

struct ProcessResult {
    int exitCode = -1;
    QString out;
    QString err;
};

ProcessResult runAdclick(const QStringList& args, const QString& dataHome)
{
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("XDG_DATA_HOME"), dataHome);
    p.setProcessEnvironment(env);
    p.start(qEnvironmentVariable("ADCLICK_BINARY_DIR") + QStringLiteral("/app/adclick"), args);
    ProcessResult r;
    if (!p.waitForFinished(120000)) {
        p.kill();
        p.waitForFinished();
        return r;
    }
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = QString::fromUtf8(p.readAllStandardOutput());
    r.err = QString::fromUtf8(p.readAllStandardError());
    return r;
}

} // namespace

class TestReconcileCli : public QObject {
    Q_OBJECT

private slots:
    void parsesSpeedFaults_data()
    {
        QTest::addColumn<QString>("spec");
        QTest::addColumn<bool>("valid");
        QTest::addColumn<int>("kind");
        QTest::newRow("country with fraction") << "drop-country:DE:0.1" << true << 1;
        QTest::newRow("country, lower case, all") << "drop-country:de" << true << 1;
        QTest::newRow("ad") << "double-count-ad:42" << true << 2;
        QTest::newRow("none") << "none" << true << 0;
        QTest::newRow("unknown country") << "drop-country:QQ:0.1" << false << 0;
        QTest::newRow("fraction above 1") << "drop-country:DE:1.5" << false << 0;
        QTest::newRow("ad not a number") << "double-count-ad:abc" << false << 0;
        QTest::newRow("unknown kind") << "drop-ad:1" << false << 0;
    }
    void parsesSpeedFaults()
    {
        QFETCH(QString, spec);
        QFETCH(bool, valid);
        QFETCH(int, kind);
        const ParsedRun p = parseRunOptions({ "--inject-speed-fault", spec.toStdString() });
        QCOMPARE(p.error.empty(), valid);
        if (!valid) {
            QVERIFY(p.error.find("--inject-speed-fault") != std::string::npos);
            return;
        }
        const SpeedFault& f = p.options.pipeline.speedFault;
        QCOMPARE(static_cast<int>(f.kind), kind);
        QCOMPARE(speedFaultWarning(p.options).empty(), kind == 0);
        if (spec == "drop-country:DE:0.1") {
            QCOMPARE(f.fraction, 0.1);
            QCOMPARE(f.country, adclick::engine::packCountry('D', 'E'));
        }
        if (kind == 2)
            QCOMPARE(f.adId, 42u);
    }

    void injectedFaultShowsAsUnexplainedGapOfOneAd()
    {
        QTemporaryDir home;
        const QString dir = home.path() + "/data";
        const QString from = "2026-01-01T00:00:00Z", to = "2026-01-01T00:04:00Z";
        ProcessResult run = runAdclick({ "run", "--data-dir", dir, "--clock", "virtual", "--duration", "5m", "--rate",
                                           "500", "--ads", "20", "--inject-speed-fault", "double-count-ad:1" },
            home.path());
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        ProcessResult batch = runAdclick({ "batch", "--data-dir", dir, "--from", from, "--to", to }, home.path());
        QVERIFY2(batch.exitCode == 0, qPrintable(batch.err));

        ProcessResult rec = runAdclick(
            { "reconcile", "--data-dir", dir, "--from", from, "--to", to, "--json", "--limit", "0" }, home.path());
        QVERIFY2(rec.exitCode == 0, qPrintable(rec.err));
        QJsonParseError parseError;
        const QJsonDocument doc = QJsonDocument::fromJson(rec.out.toUtf8(), &parseError);
        QVERIFY2(parseError.error == QJsonParseError::NoError, qPrintable(parseError.errorString()));
        const QJsonObject report = doc.object();
        const QJsonObject totals = report["totals"].toObject();
        const qint64 unexplained = totals["unexplained"].toInteger();
        QVERIFY(unexplained < -100); // every counted click of ad 1 counted twice
        QCOMPARE(report["runs"].toArray().size(), 1);
        QCOMPARE(report["covered_minutes"].toInteger(), qint64(4));
        QCOMPARE(report["ads_unexplained"].toInteger(), qint64(1));
        const QJsonArray ads = report["worst_ads"].toArray();
        QVERIFY(ads.size() > 5);
        QCOMPARE(ads[0].toObject()["ad_id"].toString(), QStringLiteral("1"));
        QCOMPARE(ads[0].toObject()["unexplained"].toInteger(), unexplained);
        for (int i = 1; i < ads.size(); ++i)
            QCOMPARE(ads[i].toObject()["unexplained"].toInteger(), qint64(0));
        for (const QJsonValue& c : report["worst_cells"].toArray()) {
            const QJsonObject cell = c.toObject();
            QCOMPARE(cell["gap"].toInteger(), cell["explained"].toInteger() + cell["unexplained"].toInteger());
        }
        QCOMPARE(report["minutes"].toArray().size(), 4);

        ProcessResult text = runAdclick({ "reconcile", "--data-dir", dir, "--from", from, "--to", to }, home.path());
        QCOMPARE(text.exitCode, 0);
        QVERIFY2(text.out.contains(QStringLiteral("UNEXPLAINED: ")), qPrintable(text.out));
        QVERIFY(text.out.contains(QStringLiteral("worst cells")));
    }

    void argumentErrors()
    {
        QTemporaryDir home;
        const QString dir = home.path() + "/none";
        ProcessResult r
            = runAdclick({ "reconcile", "--data-dir", dir, "--from", "yesterday", "--to", "0" }, home.path());
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(QStringLiteral("--from")), qPrintable(r.err));
        r = runAdclick({ "reconcile", "--data-dir", dir, "--to", "60000" }, home.path());
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(QStringLiteral("--from")), qPrintable(r.err));
        r = runAdclick(
            { "reconcile", "--data-dir", dir, "--from", "0", "--to", "60000", "--limit", "-1" }, home.path());
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(QStringLiteral("--limit")), qPrintable(r.err));
        r = runAdclick({ "reconcile", "--data-dir", dir, "--from", "120000", "--to", "60000" }, home.path());
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(QStringLiteral("--to")), qPrintable(r.err));
        r = runAdclick({ "reconcile", "--data-dir", dir, "--from", "0", "--to", "60000" }, home.path());
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(QStringLiteral("no store")), qPrintable(r.err));
        r = runAdclick({ "reconcile", "--help" }, home.path());
        QCOMPARE(r.exitCode, 0);
        QVERIFY(r.out.contains(QStringLiteral("UNEXPLAINED")) || r.out.contains(QStringLiteral("unexplained")));
        QVERIFY(r.out.contains(QStringLiteral("FAULT INJECTION")));
    }
};

QTEST_GUILESS_MAIN(TestReconcileCli)
#include "tst_reconcile_cli.moc"
