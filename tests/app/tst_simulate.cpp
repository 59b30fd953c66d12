// adclick simulate: same scenario → byte-identical report.json; a failing expectation exits 1
// naming the actual value; bad scenario files give errors with the JSON path of the problem.
#include "simulate_command.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <cstdio>

using namespace adclick::app;

namespace {
struct Outcome {
    int rc = -1;
    QString out;
    QString err;
};

QString readAll(std::FILE* f)
{
    std::fflush(f);
    std::rewind(f);
    QByteArray bytes;
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
        bytes.append(buf, static_cast<qsizetype>(n));
    std::fclose(f);
    return QString::fromUtf8(bytes);
}

Outcome simulate(const QStringList& args)
{
    std::vector<std::string> a;
    for (const QString& s : args)
        a.push_back(s.toStdString());
    std::FILE* out = std::tmpfile();
    std::FILE* err = std::tmpfile();
    Outcome o;
    o.rc = runSimulateCommand(a, out, err);
    o.out = readAll(out);
    o.err = readAll(err);
    return o;
}

/// A small scenario with a crash and a batch run: a few seconds.
const char* kSmall = R"({
  "title": "small", "seed": 11, "duration": "4m",
  "generator": { "rate": 500, "ads": 50, "late_fraction": 0.05, "late_delay": "2m" },
  "pipeline": { "watermark_bound": "30s" },
  "events": [ { "at": "90s", "do": "crash" }, { "at": "2m", "do": "batch" } ],
  "expect": [ "lost == 0", "doubled == 0", "unexplained_gap == 0", "crashes == 1", "late_dropped > 0" ]
})";
} // namespace

class TstSimulate : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir { QDir::tempPath() + "/sim-tst-XXXXXX" };

    QString write(const QString& name, const QByteArray& text)
    {
        const QString path = m_dir.filePath(name);
        QFile f(path);
        if (!f.open(QIODevice::WriteOnly) || f.write(text) != text.size())
            qFatal("cannot write %s", qPrintable(path));
        return path;
    }

private slots:
    void sameSeedSameReport()
    {
        const QString file = write("small.json", kSmall);
        QByteArray reports[2];
        for (int i = 0; i < 2; ++i) {
            const QString dir = m_dir.filePath(QString("run%1").arg(i));
            const Outcome o = simulate({ file, "--report", dir, "--no-charts" });
            QVERIFY2(o.rc == 0, qPrintable(o.out + o.err));
            QVERIFY(o.out.contains("CRASH"));
            QVERIFY(o.out.contains("PASS: lost == 0"));
            QFile f(dir + "/report.json");
            QVERIFY(f.open(QIODevice::ReadOnly));
            reports[i] = f.readAll();
        }
        QVERIFY(!reports[0].isEmpty());
        const QList<QByteArray> a = reports[0].split('\n'), b = reports[1].split('\n');
        for (qsizetype i = 0; i < std::min(a.size(), b.size()); ++i)
            QVERIFY2(a[i] == b[i], qPrintable(QString("line %1 differs: %2 | %3").arg(i + 1).arg(a[i], b[i])));
        QCOMPARE(reports[0], reports[1]);
        const QJsonObject figures = QJsonDocument::fromJson(reports[0]).object().value("figures").toObject();
        QVERIFY(figures.value("truth_clicks").toDouble() > 100000);
        QCOMPARE(figures.value("lost").toDouble(), 0.0);
        QCOMPARE(figures.value("batch_total").toDouble(), figures.value("truth_clicks").toDouble());
    }

    void failingExpectationExitsNonZero()
    {
        QByteArray text(kSmall);
        text.replace("\"lost == 0\"", "\"lost > 0\"");
        const QString file = write("fails.json", text);
        const Outcome o = simulate({ file, "--report", m_dir.filePath("fails"), "--no-charts" });
        QCOMPARE(o.rc, 1);
        QVERIFY2(o.err.contains("FAILED expectation: lost > 0 (actual: lost = 0)"), qPrintable(o.err));
        QVERIFY(o.err.contains("1 expectation(s) failed"));
        QFile f(m_dir.filePath("fails/report.json"));
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(QJsonDocument::fromJson(f.readAll()).object().value("passed").toBool(true), false);
    }

    void badScenario_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<int>("rc");
        QTest::addColumn<QString>("message");
        QByteArray base(kSmall);
        auto with = [&](const char* from, const char* to) { return QByteArray(base).replace(from, to); };
        QTest::newRow("not json") << QByteArray("{\n \"title\": \"x\",\n oops }") << 2 << "bad.json:3: not valid JSON";
        QTest::newRow("not an object") << QByteArray("[1, 2]") << 2 << "$: expected a JSON object";
        QTest::newRow("no duration") << with("\"duration\": \"4m\",", "") << 2 << "$.duration: required";
        QTest::newRow("bad duration") << with("\"4m\"", "\"4 parsecs\"") << 2 << "$.duration: not a duration";
        QTest::newRow("unknown setting") << with("\"rate\": 500", "\"rat\": 500") << 2
                                         << "$.generator.rat: unknown setting";
        QTest::newRow("bad value") << with("\"rate\": 500", "\"rate\": -5") << 2 << "$.generator.rate:";
        QTest::newRow("bad pipeline value") << with("\"30s\"", "\"soon\"") << 2 << "$.pipeline.watermark_bound:";
        QTest::newRow("unknown action") << with("\"do\": \"crash\"", "\"do\": \"explode\"") << 2
                                        << "$.events[0].do: unknown action 'explode'";
        QTest::newRow("event outside run") << with("\"90s\"", "\"9m\"") << 2 << "$.events[0].at: must lie inside";
        QTest::newRow("bad fault") << with("{ \"at\": \"2m\", \"do\": \"batch\" }",
                                       "{ \"at\": \"2m\", \"do\": \"fault_on\", \"fault\": \"melt\" }")
                                   << 2 << "$.events[1].fault:";
        QTest::newRow("no comparison") << with("\"crashes == 1\"", "\"crashes is one\"") << 2
                                       << "$.expect[3]: no comparison";
        QTest::newRow("unknown top-level field") << with("\"seed\": 11", "\"sead\": 11") << 2 << "$.sead: unknown field";
        QTest::newRow("unknown figure") << with("\"crashes == 1\"", "\"crashez == 1\"") << 1
                                        << "$.expect[3]: unknown figure 'crashez'";
    }

    void badScenario()
    {
        QFETCH(QByteArray, text);
        QFETCH(int, rc);
        QFETCH(QString, message);
        const QString file = write("bad.json", text);
        const Outcome o = simulate({ file, "--report", m_dir.filePath("bad"), "--no-charts" });
        QCOMPARE(o.rc, rc);
        QVERIFY2(o.err.contains(message), qPrintable("expected '" + message + "' in: " + o.err));
    }

    void missingFileAndUsage()
    {
        Outcome o = simulate({ m_dir.filePath("nope.json") });
        QCOMPARE(o.rc, 2);
        QVERIFY(o.err.contains("nope.json: cannot open"));
        o = simulate({});
        QCOMPARE(o.rc, 2);
        o = simulate({ "x.json", "--bogus" });
        QCOMPARE(o.rc, 2);
        QVERIFY(o.err.contains("unknown option --bogus"));
    }
};

QTEST_GUILESS_MAIN(TstSimulate)
#include "tst_simulate.moc"
