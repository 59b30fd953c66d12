// The `adclick` command line as a user meets it: options with units, one-line errors with
// exit code 2, and a headless run whose printed totals add up.

#include "run_options.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

using namespace adclick::app;

namespace {
QString adclickBinary()
{
    return qEnvironmentVariable("ADCLICK_BINARY_DIR") + QStringLiteral("/app/adclick");
}

struct ProcessResult {
    int exitCode = -1;
    QString out;
    QString err;
};

/// Runs adclick with a fresh, empty user data directory (the default store location), so runs
/// never resume each other's checkpoints.
ProcessResult runAdclick(const QStringList& args, int timeoutMs = 120000)
{
    QTemporaryDir dataHome;
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("XDG_DATA_HOME"), dataHome.path());
    p.setProcessEnvironment(env);
    p.start(adclickBinary(), args);
    ProcessResult r;
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished();
        return r;
    }
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = QString::fromUtf8(p.readAllStandardOutput());
    r.err = QString::fromUtf8(p.readAllStandardError());
    return r;
}

std::vector<std::string> split(const QString& s)
{
    std::vector<std::string> v;
    for (const QString& a : s.split(' ', Qt::SkipEmptyParts))
        v.push_back(a.toStdString());
    return v;
}
} // namespace

class TestCli : public QObject {
    Q_OBJECT

private slots:
    void parsesOptions()
    {
        const ParsedRun p = parseRunOptions(split(
            "--source generator --rate 1000 --ads 500 --duration 90s --clock virtual --window 30s --watermark-bound 1m "
            "--allowed-lateness 250ms --late-policy update --shards 2 --seed 9 --json"));
        QVERIFY2(p.error.empty(), p.error.c_str());
        QCOMPARE(p.options.generator.ratePerSec, 1000.0);
        QCOMPARE(p.options.generator.adCount, 500u);
        QCOMPARE(*p.options.durationMs, qint64(90000));
        QVERIFY(p.options.clock == ClockKind::Virtual);
        QCOMPARE(p.options.pipeline.window.windowMs, qint64(30000));
        QCOMPARE(p.options.pipeline.watermark.boundMs, qint64(60000));
        QCOMPARE(p.options.pipeline.window.allowedLatenessMs, qint64(250));
        QVERIFY(p.options.pipeline.window.latePolicy == adclick::engine::LatePolicy::Update);
        QCOMPARE(p.options.pipeline.shards, 2u);
        QCOMPARE(p.options.generator.seed, quint64(9));
        QVERIFY(p.options.json);
        const ParsedRun eq = parseRunOptions(split("--rate=250"));
        QVERIFY(eq.error.empty());
        QCOMPARE(eq.options.generator.ratePerSec, 250.0);
    }

    void rejectsBadOptions_data()
    {
        QTest::addColumn<QString>("args");
        QTest::addColumn<QString>("named");
        QTest::newRow("unknown") << "--frobnicate 3"
                                 << "--frobnicate";
        QTest::newRow("bad duration") << "--duration 10minutes"
                                      << "--duration";
        QTest::newRow("bad unit") << "--window 3w"
                                  << "--window";
        QTest::newRow("window not dividing a day") << "--window 7s"
                                                   << "--window";
        QTest::newRow("negative rate") << "--rate -5"
                                       << "--rate";
        QTest::newRow("rate not a number") << "--rate fast"
                                           << "--rate";
        QTest::newRow("too many ads") << "--ads 20000000"
                                      << "--ads";
        QTest::newRow("policy") << "--late-policy keep"
                                << "--late-policy";
        QTest::newRow("clock") << "--clock fast"
                               << "--clock";
        QTest::newRow("missing value") << "--seed"
                                       << "--seed";
        QTest::newRow("file without input") << "--source file"
                                            << "--input";
        QTest::newRow("fraction > 1") << "--late-fraction 1.5"
                                      << "--late-fraction";
        QTest::newRow("shards 0") << "--shards 0"
                                  << "--shards";
        QTest::newRow("flag with value") << "--json=1"
                                         << "--json";
    }
    void rejectsBadOptions()
    {
        QFETCH(QString, args);
        QFETCH(QString, named);
        const ParsedRun p = parseRunOptions(split(args));
        QVERIFY(!p.error.empty());
        QVERIFY2(QString::fromStdString(p.error).contains(named), p.error.c_str());
        QVERIFY(p.error.find('\n') == std::string::npos);
    }

    void binaryExitsTwoWithOneLineError()
    {
        const auto r = runAdclick({ "run", "--watermark-bound", "soon" });
        QCOMPARE(r.exitCode, 2);
        QCOMPARE(r.err.trimmed().count('\n'), 0);
        QVERIFY(r.err.contains("--watermark-bound"));
        const auto unknown = runAdclick({ "launch" });
        QCOMPARE(unknown.exitCode, 2);
    }

    void helpDocumentsEveryOption()
    {
        const auto r = runAdclick({ "run", "--help" });
        QCOMPARE(r.exitCode, 0);
        for (const char* opt : { "--source", "--input", "--seed", "--rate", "--ads", "--duration", "--clock",
                 "--window", "--watermark-bound", "--allowed-lateness", "--late-policy", "--shards", "--json" })
            QVERIFY2(r.out.contains(QLatin1String(opt)), opt);
        QVERIFY(r.out.contains("ms, s, m, h, d"));
    }

    void virtualRunAccountsForEveryRecord()
    {
        const auto r = runAdclick({ "run", "--source", "generator", "--rate", "20000", "--ads", "2000", "--duration",
            "5m", "--clock", "virtual", "--json", "--seed", "3" });
        QCOMPARE(r.exitCode, 0);
        qint64 windowsCounted = 0;
        int windows = 0;
        QJsonObject summary;
        bool sawTopK = false;
        for (const QString& line : r.out.split('\n', Qt::SkipEmptyParts)) {
            const QJsonObject o = QJsonDocument::fromJson(line.toUtf8()).object();
            QVERIFY2(!o.isEmpty(), qPrintable(line));
            if (o["type"] == "window") {
                windowsCounted += o["counted"].toInteger();
                ++windows;
            } else if (o["type"] == "summary") {
                summary = o;
            } else if (o["type"] == "top_k") {
                sawTopK = !o["top_ads"].toArray().isEmpty();
            }
        }
        QVERIFY(windows >= 5);
        QVERIFY(sawTopK);
        const qint64 received = summary["received"].toInteger();
        QCOMPARE(received, qint64(20000) * 300); // 5 minutes of processing time at 20K/s
        QCOMPARE(summary["counted"].toInteger() + summary["late_dropped"].toInteger()
                + summary["duplicates"].toInteger() + summary["rejected"].toInteger(),
            received);
        QCOMPARE(windowsCounted, summary["counted"].toInteger()); // drop policy: windows hold every counted click
        QVERIFY(summary["duplicates"].toInteger() > 0);
        QVERIFY(summary["rejected"].toInteger() > 0);
        QVERIFY(summary["late_dropped"].toInteger() > 0);
    }

    void generatedFileReplaysLikeTheGenerator()
    {
        // The generator's records written as NDJSON and replayed through the file source give
        // the same accounting as the generator itself (decode path == fast path).
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("clicks.ndjson"));
        const QStringList gen { "--rate", "5000", "--ads", "500", "--duration", "2m", "--seed", "11" };
        QProcess p;
        p.setStandardOutputFile(path);
        p.start(adclickBinary(), QStringList { "generate" } + gen);
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitCode(), 0);
        auto summaryOf = [](const QString& out) {
            QJsonObject s;
            for (const QString& line : out.split('\n', Qt::SkipEmptyParts)) {
                const QJsonObject o = QJsonDocument::fromJson(line.toUtf8()).object();
                if (o["type"] == "summary")
                    s = o;
            }
            return s;
        };
        const auto fromGenerator = runAdclick(QStringList { "run", "--clock", "virtual", "--json" } + gen);
        const auto fromFile = runAdclick({ "run", "--source", "file", "--input", path, "--json" });
        QCOMPARE(fromGenerator.exitCode, 0);
        QCOMPARE(fromFile.exitCode, 0);
        const QJsonObject a = summaryOf(fromGenerator.out);
        const QJsonObject b = summaryOf(fromFile.out);
        QCOMPARE(b["received"].toInteger(), qint64(5000) * 120);
        for (const char* field : { "received", "accepted", "duplicates", "rejected" })
            QCOMPARE(b[field].toInteger(), a[field].toInteger());
        QCOMPARE(b["rejected_by_reason"].toObject(), a["rejected_by_reason"].toObject());
        // One file partition vs four generator partitions: the watermark differs, so only the
        // sum of counted and late-dropped must agree.
        QCOMPARE(b["counted"].toInteger() + b["late_dropped"].toInteger(),
            a["counted"].toInteger() + a["late_dropped"].toInteger());
    }

    void sameSeedSameOutput()
    {
        const QStringList args { "run", "--rate", "10000", "--ads", "1000", "--duration", "3m", "--clock", "virtual",
            "--json", "--seed", "5" };
        auto strip = [](const QString& out) {
            QStringList keep;
            for (const QString& line : out.split('\n', Qt::SkipEmptyParts))
                if (line.contains("\"type\":\"window\"") || line.contains("\"type\":\"top_k\""))
                    keep << line.section(QStringLiteral(",\"approx\""), 0, 0); // exact parts only
            return keep;
        };
        const auto a = runAdclick(args);
        const auto b = runAdclick(args + QStringList { "--shards", "2" });
        QCOMPARE(a.exitCode, 0);
        QCOMPARE(b.exitCode, 0);
        // Exact answers are identical for any shard count; the Count-Min candidates may differ.
        QCOMPARE(strip(a.out), strip(b.out));
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
