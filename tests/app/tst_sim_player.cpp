// SimPlayer (adclick play): the desktop playback of a scenario. Its captions and figures equal a
// headless SimRunner run of the same file, its charts hold the run's samples, it pauses where told
// and shows failing expectations as failed.
#include "sim_player.h"
#include "sim_runner.h"
#include "sim_scenario.h"

#include <QDir>
#include <QFile>
#include <QLineSeries>
#include <QScatterSeries>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

using namespace adclick::app;
using namespace adclick::engine;

namespace {
/// A short scenario: a crash at 90 s and a batch run at 150 s, then `expect`.
QString writeScenario(const QTemporaryDir& dir, const QString& name, const QString& expect)
{
    const QString path = dir.filePath(name + ".json");
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly))
        return {};
    f.write(QString(R"({
  "title": "Player test: a crash and a batch run",
  "teaches": "The player shows the same steps as adclick simulate.",
  "seed": 7,
  "duration": "4m",
  "generator": { "rate": 1500, "ads": 50, "late_fraction": 0.02, "late_delay": "150s" },
  "pipeline": { "checkpoint_interval": "2s" },
  "events": [ { "at": "90s", "do": "crash", "note": "mid-minute" }, { "at": "150s", "do": "batch" } ],
  "expect": [ %1 ]
})")
                .arg(expect)
                .toUtf8());
    return path;
}

Scenario load(const QString& path)
{
    std::string error;
    std::optional<Scenario> s = loadScenario(path.toStdString(), error);
    if (!s)
        qFatal("cannot load %s: %s", qPrintable(path), error.c_str());
    return *s;
}
} // namespace

class TestSimPlayer : public QObject {
    Q_OBJECT
private slots:
    void playsWhatSimulateRuns();
    void pausesAtEachStep();
    void failedExpectationsShowAsFailed();
};

void TestSimPlayer::playsWhatSimulateRuns()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const Scenario scenario = load(writeScenario(dir, "player", R"("lost == 0", "doubled == 0", "crashes == 1")"));

    // The headless run of the same file: the oracle for what the player shows.
    QStringList narrative;
    SimRunner headless(scenario, dir.filePath("headless").toStdString(), false);
    headless.setNarrative([&](const std::string& line) { narrative << QString::fromStdString(line); });
    QVERIFY(headless.start());
    while (headless.advance(kMsPerHour)) { }
    QVERIFY2(headless.error().empty(), headless.error().c_str());
    QVERIFY(narrative.size() >= 5);

    SimPlayer player(scenario, false);
    player.resize(1200, 900);
    player.show();
    QSignalSpy done(&player, &SimPlayer::done);
    player.setSpeed(0);
    player.play();
    QTRY_VERIFY_WITH_TIMEOUT(player.finished(), 180000);
    QCOMPARE(done.size(), 1);
    QCOMPARE(done.at(0).at(0).toBool(), true);
    QVERIFY2(player.error().isEmpty(), qPrintable(player.error()));

    QCOMPARE(player.captions(), narrative);
    QVERIFY(player.captions().filter("CRASH").size() == 1);
    QCOMPARE(player.figures(), headless.figures());
    QCOMPARE(player.results().size(), std::size_t { 3 });
    for (const ExpectationResult& r : player.results())
        QVERIFY2(r.known && r.passed, r.text.c_str());
    QCOMPARE(player.expectationTable()->rowCount(), 3);
    QCOMPARE(player.expectationTable()->item(2, 2)->text(), QString("holds"));
    QCOMPARE(player.progressPercent(), 100);
    QVERIFY(player.currentCaption().contains("all 3 expectations hold"));

    // The chart: clicks counted per minute between consecutive samples; one marker per caption.
    const std::vector<SimSample>& samples = player.samples();
    QVERIFY(samples.size() >= 3);
    const QList<QPointF> counted = player.countedSeries()->points();
    QCOMPARE(counted.size(), static_cast<qsizetype>(samples.size() - 1));
    for (qsizetype i = 0; i < counted.size(); ++i) {
        const SimSample& a = samples[static_cast<std::size_t>(i)];
        const SimSample& b = samples[static_cast<std::size_t>(i) + 1];
        QCOMPARE(counted[i].x(), static_cast<double>(b.offsetMs) / kMsPerMinute);
        const double minutes = static_cast<double>(b.offsetMs - a.offsetMs) / kMsPerMinute;
        QCOMPARE(counted[i].y(), static_cast<double>(b.counted - std::min(a.counted, b.counted)) / minutes);
    }
    QVERIFY(std::any_of(counted.begin(), counted.end(), [](const QPointF& p) { return p.y() > 1000; }));
    QCOMPARE(player.stepSeries()->count(), static_cast<int>(narrative.size()));

    const QString artefacts = QDir(qEnvironmentVariable("ADCLICK_BINARY_DIR", QDir::tempPath())).filePath("test-artefacts");
    QDir().mkpath(artefacts);
    QVERIFY(player.grab().save(artefacts + "/sim_player.png"));
}

void TestSimPlayer::pausesAtEachStep()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    SimPlayer player(load(writeScenario(dir, "pauses", R"("lost == 0")")), false);
    player.show();
    player.setSpeed(60'000); // a simulated minute per second: the crash at 90 s comes after ~1.5 s
    player.setPauseAtSteps(true);
    QTRY_VERIFY_WITH_TIMEOUT(player.captions().size() == 1, 20000); // "start: …" (before playing)
    player.play();
    QVERIFY(player.playing());
    QTRY_VERIFY_WITH_TIMEOUT(!player.playing(), 30000);
    // The crash and the recovery are one step of the run: both captions came, and it paused there.
    QCOMPARE(player.captions().filter("CRASH").size(), 1);
    QTRY_COMPARE_WITH_TIMEOUT(player.captions().filter("recovered from checkpoint").size(), 1, 10000);
    QVERIFY(!player.playing());
    QVERIFY(!player.finished());
    // Paused: nothing moves.
    const QStringList captions = player.captions();
    QTest::qWait(300); // a step already requested may still land
    const std::size_t samples = player.samples().size();
    QTest::qWait(1500);
    QCOMPARE(player.samples().size(), samples);
    QCOMPARE(player.captions().mid(0, captions.size()), captions);
    // Going on: the batch run at 150 s is the next step; then to the end without pauses.
    player.play();
    QTRY_VERIFY_WITH_TIMEOUT(!player.playing(), 30000);
    QVERIFY2(player.currentCaption().contains("batch run"), qPrintable(player.currentCaption()));
    QCOMPARE(player.captions().size(), captions.size() + 1);
    player.setPauseAtSteps(false);
    player.setSpeed(0);
    player.play();
    QTRY_VERIFY_WITH_TIMEOUT(player.finished(), 180000);
    QVERIFY(player.captions().last().contains("checked against the oracle"));
}

void TestSimPlayer::failedExpectationsShowAsFailed()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    SimPlayer player(load(writeScenario(dir, "fails", R"("lost == 0", "lost > 0", "no_such_figure == 1")")), false);
    QSignalSpy done(&player, &SimPlayer::done);
    player.setSpeed(0);
    player.play();
    QTRY_VERIFY_WITH_TIMEOUT(player.finished(), 180000);
    QCOMPARE(done.size(), 1);
    QCOMPARE(done.at(0).at(0).toBool(), false);
    const auto& r = player.results();
    QCOMPARE(r.size(), std::size_t { 3 });
    QVERIFY(r[0].known && r[0].passed);
    QVERIFY(r[1].known && !r[1].passed);
    QCOMPARE(r[1].actualText, std::string("lost = 0"));
    QVERIFY(!r[2].known);
    QCOMPARE(r[2].unknownFigure, std::string("no_such_figure"));
    QCOMPARE(player.expectationTable()->item(1, 2)->text(), QString("FAILED"));
    QVERIFY(player.expectationTable()->item(2, 1)->text().contains("no_such_figure"));
    QVERIFY(player.currentCaption().contains("2 of 3 expectations FAILED"));
}

QTEST_MAIN(TestSimPlayer)
#include "tst_sim_player.moc"
