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

/// Scenario 7 in small: 4 model shards routed by source partition beside the engine's 2 ad-partitioned ones.
const char* kShards = R"({
  "title": "shards", "seed": 7, "duration": "4m",
  "generator": { "rate": 2000, "ads": 1000, "skew": 0.4, "partitions": 4, "duplicates": 0, "malformed": 0, "late_fraction": 0 },
  "pipeline": { "watermark_bound": "5s", "shards": 2, "checkpoint_interval": "5s" },
  "shard_model": { "shards": 4, "by": "partition", "k": 10 },
  "expect": [ "shard_model_samples >= 2", "merged_topk_precision == 1" ]
})";

/// Scenario 10 in small: 5 days with 1-day raw/minute retention and 3-day aggregate retention.
const char* kRetention = R"({
  "title": "retention", "seed": 10, "duration": "5d", "sample_interval": "1h", "retention_check": true,
  "generator": { "rate": 1, "ads": 5, "partitions": 1, "duplicates": 0, "malformed": 0, "late_fraction": 0 },
  "pipeline": { "checkpoint_interval": "1h", "maintenance_interval": "1h", "raw_retention": "1d",
                "minute_retention": "1d", "hour_retention": "2d", "aggregate_retention": "3d" },
  "expect": [ "rollup_days_mismatched == 0" ]
})";

/// Rolling batch runs every 3 minutes while 5% of the clicks arrive up to 10 minutes late: each run
/// starts early enough that no late click falls between two runs.
const char* kRolling = R"({
  "title": "rolling", "seed": 12, "duration": "12m",
  "generator": { "rate": 500, "ads": 50, "late_fraction": 0.05, "late_delay": "2m" },
  "pipeline": { "watermark_bound": "30s", "batch_interval": "3m" },
  "expect": [ "lost == 0", "doubled == 0", "unexplained_gap == 0", "late_dropped > 0" ]
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

    /// Runs `text` twice; both report.json files must be byte-identical. Returns the figures.
    QJsonObject twiceIdentical(const QString& name, const char* text)
    {
        const QString file = write(name + ".json", text);
        QByteArray reports[2];
        for (int i = 0; i < 2; ++i) {
            const QString dir = m_dir.filePath(QString("%1-run%2").arg(name).arg(i));
            const Outcome o = simulate({ file, "--report", dir, "--no-charts" });
            if (o.rc != 0)
                qWarning("%s", qPrintable(o.out + o.err));
            QFile f(dir + "/report.json");
            if (f.open(QIODevice::ReadOnly))
                reports[i] = f.readAll();
        }
        if (reports[0].isEmpty() || reports[0] != reports[1])
            return {};
        return QJsonDocument::fromJson(reports[0]).object().value("figures").toObject();
    }

    void shardModelNaiveMergeIsWrongCorrectMergeExact()
    {
        const QJsonObject f = twiceIdentical("shards", kShards);
        QVERIFY2(!f.isEmpty(), "two runs of the same seed must give the same report.json");
        QVERIFY(f.value("shard_model_samples").toDouble() >= 2);
        QCOMPARE(f.value("shard_model_shards").toDouble(), 4.0);
        // Spread over shards, the merge of local top-10s under-counts (and here mis-ranks) ads.
        QVERIFY(f.value("naive_max_count_error").toDouble() > 0);
        QVERIFY(f.value("naive_topk_precision").toDouble() < 1.0);
        QCOMPARE(f.value("merged_topk_precision").toDouble(), 1.0);
        QCOMPARE(f.value("merged_max_count_error").toDouble(), 0.0);
        QCOMPARE(f.value("tput_topk_precision").toDouble(), 1.0);
        QCOMPARE(f.value("tput_max_count_error").toDouble(), 0.0);
        QCOMPARE(f.value("merged_vs_engine_mismatches").toDouble(), 0.0);
        QCOMPARE(f.value("partitioned_topk_precision").toDouble(), 1.0);
        QVERIFY(f.value("tput_mean_entries_shipped").toDouble() < f.value("merged_mean_entries_shipped").toDouble());
        QVERIFY(f.value("tput_mean_entries_shipped").toDouble() >= f.value("naive_mean_entries_shipped").toDouble());
    }

    void retentionExpiresRawAndMinutesRollupsKeepTotals()
    {
        const QJsonObject f = twiceIdentical("retention", kRetention);
        QVERIFY2(!f.isEmpty(), "two runs of the same seed must give the same report.json");
        QVERIFY(f.value("raw_oldest_age_days").toDouble() > 0.9);
        QVERIFY(f.value("raw_oldest_age_days").toDouble() < 1.1);
        QCOMPARE(f.value("raw_segments_past_retention").toDouble(), 0.0);
        QVERIFY(f.value("minute_oldest_age_days").toDouble() <= 1.1);
        QVERIFY(f.value("aggregate_rows").toDouble() > 0);
        QVERIFY(f.value("aggregate_oldest_age_days").toDouble() >= 3.0); // deleted by whole days: [3, 4], rounded
        QVERIFY(f.value("aggregate_oldest_age_days").toDouble() <= 4.0);
        QVERIFY(f.value("days_expired").toDouble() >= 1);
        QVERIFY(f.value("rollup_days_checked").toDouble() >= 2);
        QCOMPARE(f.value("rollup_days_mismatched").toDouble(), 0.0);
        QCOMPARE(f.value("rollup_kept_clicks_error").toDouble(), 0.0);
        QCOMPARE(f.value("days_with_rows_past_retention").toDouble(), 0.0);
    }

    void rollingBatchRunsCountEveryLateClickOnce()
    {
        const QJsonObject f = twiceIdentical("rolling", kRolling);
        QVERIFY2(!f.isEmpty(), "two runs of the same seed must give the same report.json");
        QVERIFY(f.value("batch_runs").toDouble() >= 4); // three or four rolling runs and the final one
        QVERIFY(f.value("late_dropped").toDouble() > 0);
        QCOMPARE(f.value("lost").toDouble(), 0.0);
        QCOMPARE(f.value("doubled").toDouble(), 0.0);
        QCOMPARE(f.value("batch_total").toDouble(), f.value("truth_clicks").toDouble());
        QCOMPARE(f.value("unexplained_gap").toDouble(), 0.0);
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
        QTest::newRow("bad fault") << with(
            "{ \"at\": \"2m\", \"do\": \"batch\" }", "{ \"at\": \"2m\", \"do\": \"fault_on\", \"fault\": \"melt\" }")
                                   << 2 << "$.events[1].fault:";
        QTest::newRow("no comparison") << with("\"crashes == 1\"", "\"crashes is one\"") << 2
                                       << "$.expect[3]: no comparison";
        QTest::newRow("unknown top-level field")
            << with("\"seed\": 11", "\"sead\": 11") << 2 << "$.sead: unknown field";
        QTest::newRow("shard model with a crash")
            << with("\"expect\"", "\"shard_model\": { \"shards\": 4 }, \"expect\"") << 2
            << "$.events[0]: a scenario with a shard_model only takes batch events";
        QTest::newRow("bad shard routing")
            << with("\"expect\"", "\"shard_model\": { \"shards\": 4, \"by\": \"color\" }, \"expect\"") << 2
            << "$.shard_model.by: one of partition, user, ad";
        QTest::newRow("bad sample interval") << with("\"seed\": 11", "\"seed\": 11, \"sample_interval\": \"1ms\"") << 2
                                             << "$.sample_interval: must be at least 1s";
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
