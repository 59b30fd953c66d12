// The dashboard's series views driven as a user would, with the real pipeline and store: the
// Clicks-per-minute panel (ads chosen through the completer, region/device/IP filters) draws
// exactly what QueryService::series answers for the same query, minute by minute and per
// provenance; the Explore view's table and CSV export equal the query; every new model passes
// QAbstractItemModelTester; each new panel is saved as a PNG.

#include "clicks_panel.h"
#include "control_panel.h"
#include "dashboard_engine.h"
#include "dashboard_test_support.h"
#include "explore_panel.h"
#include "main_window.h"
#include "series_filters.h"

#include "query/query_service.h"

#include <QAbstractItemModelTester>
#include <QApplication>
#include <QCompleter>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QImage>
#include <QLineEdit>
#include <QPushButton>
#include <QMenu>
#include <QMenuBar>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QStringListModel>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>

#include <memory>
#include <vector>

using namespace adclick;
using namespace adclick::ui;
using namespace adclick::ui::test;

namespace {
/// Empty if the chart draws exactly `expected` (one answer per ad, in order); else what differs.
QString chartDiffers(const ProvenanceChart& chart, const std::vector<engine::SeriesResult>& expected)
{
    using engine::SeriesSource;
    std::vector<std::array<double, ProvenanceChart::kSourceCount>> bySource;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const auto& r = expected[i];
        if (!r.ok())
            return QStringLiteral("query failed: ") + QString::fromStdString(r.error);
        const QList<QPointF> line = chart.adLine(i)->points();
        if (line.size() != static_cast<qsizetype>(r.points.size()))
            return QStringLiteral("ad %1: %2 points drawn, %3 answered")
                .arg(r.adId)
                .arg(line.size())
                .arg(r.points.size());
        bySource.resize(r.points.size());
        for (std::size_t p = 0; p < r.points.size(); ++p) {
            const auto& sp = r.points[p];
            const double centre = static_cast<double>(sp.startMs) + static_cast<double>(sp.sizeMs) / 2;
            if (line[static_cast<qsizetype>(p)] != QPointF(centre, static_cast<double>(sp.count)))
                return QStringLiteral("ad %1 bucket %2: drawn %3, answered %4")
                    .arg(r.adId)
                    .arg(sp.startMs)
                    .arg(line[static_cast<qsizetype>(p)].y())
                    .arg(sp.count);
            bySource[p][static_cast<std::size_t>(sp.source)] += static_cast<double>(sp.count);
        }
    }
    for (int s = 0; s < ProvenanceChart::kSourceCount; ++s) {
        const QAreaSeries* area = chart.area(static_cast<SeriesSource>(s));
        const QList<QPointF> upper = area->upperSeries()->points();
        const QList<QPointF> lower = area->lowerSeries()->points();
        if (upper.size() != static_cast<qsizetype>(2 * bySource.size()) || lower.size() != upper.size())
            return QStringLiteral("area %1: %2 points for %3 buckets").arg(s).arg(upper.size()).arg(bySource.size());
        for (std::size_t b = 0; b < bySource.size(); ++b)
            for (qsizetype k : { static_cast<qsizetype>(2 * b), static_cast<qsizetype>(2 * b + 1) })
                if (upper[k].y() - lower[k].y() != bySource[b][static_cast<std::size_t>(s)])
                    return QStringLiteral("area %1 bucket %2: height %3, answered %4")
                        .arg(s)
                        .arg(b)
                        .arg(upper[k].y() - lower[k].y())
                        .arg(bySource[b][static_cast<std::size_t>(s)]);
    }
    return {};
}
} // namespace

class TstDashboardSeries : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void clicksPanelChoosesAdsThroughTheCompleter();
    void clicksChartEqualsQueryService_data();
    void clicksChartEqualsQueryService();
    void exploreTableAndCsvEqualTheQuery();
    void savePanelPngs();
    void fileMenuPlaysAScenario();
    void cleanupTestCase();

private:
    /// Refreshes the panel until its chart equals a direct query of what it shows (the engine is
    /// paused, so this settles once the last checkpoint is read); fails with the last difference.
    void expectChartEqualsQuery();

    QTemporaryDir m_dir;
    std::unique_ptr<DashboardEngine> m_engine;
    std::unique_ptr<MainWindow> m_window;
    std::vector<std::unique_ptr<QAbstractItemModelTester>> m_testers;
    std::vector<engine::AdId> m_topAds;
};

/// File → Play a scenario… hands the chosen file to the app (which opens adclick play's window,
/// tested in tst_sim_player).
void TstDashboardSeries::fileMenuPlaysAScenario()
{
    QAction* play = nullptr;
    for (QAction* menu : m_window->menuBar()->actions())
        if (menu->menu() && menu->text() == QStringLiteral("&File"))
            for (QAction* a : menu->menu()->actions())
                if (a->text().startsWith(QStringLiteral("Play a &scenario")))
                    play = a;
    QVERIFY(play);
    QCOMPARE(play->shortcut(), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));
    QSignalSpy spy(m_window.get(), &MainWindow::playScenarioRequested);
    m_window->requestPlayScenario(m_dir.path() + "/steady.json");
    QCOMPARE(spy.size(), 1);
    QCOMPARE(spy.at(0).at(0).toString(), m_dir.path() + "/steady.json");
}

void TstDashboardSeries::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("adclick-test-series"));
    QVERIFY(m_dir.isValid());
    m_engine = std::make_unique<DashboardEngine>(quickSettings(m_dir.path() + "/data"));
    m_window = std::make_unique<MainWindow>(*m_engine);
    m_window->resize(1400, 900);
    m_window->show();
    for (QAbstractItemModel* m : std::initializer_list<QAbstractItemModel*> {
             m_window->clicks()->completionModel(), m_window->explore()->model() })
        m_testers.push_back(
            std::make_unique<QAbstractItemModelTester>(m, QAbstractItemModelTester::FailureReportingMode::QtTest));
    m_window->controls()->startButton()->click();
    // Minutes become final (watermark past them) and a top-K exists to pick ads from.
    QTRY_VERIFY_WITH_TIMEOUT(m_engine->snapshot() && m_engine->snapshot()->topK.valid
            && m_engine->snapshot()->topK.exact.size() >= 2 && m_engine->status()->checkpoint,
        60000);
    for (const auto& e : m_engine->snapshot()->topK.exact)
        m_topAds.push_back(e.adId);
}

void TstDashboardSeries::clicksPanelChoosesAdsThroughTheCompleter()
{
    ClicksPanel* c = m_window->clicks();
    m_window->tabs()->setCurrentWidget(c);
    const QString first = QString::number(m_topAds[0]);
    // Typing a prefix offers the live top ads (once the panel has seen a status with them) and the
    // ids extending the prefix.
    QTRY_VERIFY_WITH_TIMEOUT(
        [&] {
            c->search()->clear();
            QTest::keyClicks(c->search(), first.left(1));
            return c->completionModel()->stringList().contains(first);
        }(),
        5000);
    const QStringList offered = c->completionModel()->stringList();
    for (const QString& id : offered)
        QVERIFY2(id.startsWith(first.left(1)), qPrintable(id));
    c->search()->setText(first);
    QTest::keyClick(c->search(), Qt::Key_Return);
    c->search()->setText(QString::number(m_topAds[1]));
    QTest::keyClick(c->search(), Qt::Key_Return);
    c->search()->setText(QStringLiteral("not-an-ad"));
    QTest::keyClick(c->search(), Qt::Key_Return);
    QCOMPARE(c->ads(), (std::vector<engine::AdId> { m_topAds[0], m_topAds[1] }));
    c->removeAd(m_topAds[1]);
    QCOMPARE(c->ads(), (std::vector<engine::AdId> { m_topAds[0] }));
    QVERIFY(c->addAd(m_topAds[1]));
    // Drawn live from the running engine: the chart fills while the generator runs.
    c->setRangeMinutes(15);
    QTRY_VERIFY_WITH_TIMEOUT(c->shownQuery().ads.size() == 2 && !c->shownResults().empty() && c->shownResults()[0].ok()
            && c->shownResults()[0].total > 0,
        20000);
    const std::uint64_t answers = c->answersReceived();
    QTest::qWait(1200);
    QVERIFY2(c->answersReceived() >= answers + 4, "the panel re-queries at least at 4 Hz while shown");
}

void TstDashboardSeries::clicksChartEqualsQueryService_data()
{
    QTest::addColumn<QString>("region");
    QTest::addColumn<QString>("device");
    QTest::addColumn<QString>("ip");
    QTest::newRow("no filter") << QString() << QString() << QString();
    QTest::newRow("device") << QString() << QStringLiteral("mobile") << QString();
    QTest::newRow("region and device") << QStringLiteral("US") << QStringLiteral("desktop") << QString();
    QTest::newRow("IPv4 CIDR (raw log)") << QString() << QString() << QStringLiteral("0.0.0.0/1");
}

void TstDashboardSeries::clicksChartEqualsQueryService()
{
    QFETCH(QString, region);
    QFETCH(QString, device);
    QFETCH(QString, ip);
    ClicksPanel* c = m_window->clicks();
    m_window->tabs()->setCurrentWidget(c);
    c->filters()->setRegion(region);
    c->filters()->setDevice(device);
    c->filters()->setIp(ip);
    m_engine->setPaused(true);
    QTRY_COMPARE_WITH_TIMEOUT(m_engine->status()->state, EngineState::Paused, 10000);
    expectChartEqualsQuery();
    const auto& q = c->shownQuery();
    QCOMPARE(QString::fromStdString(q.filters.region), region);
    QCOMPARE(QString::fromStdString(q.filters.userAgentClass), device);
    QCOMPARE(QString::fromStdString(q.filters.ip), ip);
    if (!ip.isEmpty())
        QCOMPARE(c->shownResults()[0].path, engine::CountPath::RawLog);
    m_engine->setPaused(false);
    QTRY_COMPARE_WITH_TIMEOUT(m_engine->status()->state, EngineState::Running, 10000);
}

void TstDashboardSeries::expectChartEqualsQuery()
{
    ClicksPanel* c = m_window->clicks();
    QVERIFY(!c->ads().empty());
    QString diff = QStringLiteral("no answer");
    std::uint64_t total = 0;
    QElapsedTimer elapsed;
    elapsed.start();
    while (!diff.isEmpty() && elapsed.elapsed() < 60000) {
        QSignalSpy spy(c, &ClicksPanel::answered);
        c->refresh();
        if (!spy.wait(10000))
            continue;
        const auto q = c->shownQuery();
        const engine::CountFilters now = c->filters()->filters();
        if (q.filters.region != now.region || q.filters.userAgentClass != now.userAgentClass
            || q.filters.ip != now.ip) {
            diff = QStringLiteral("answer of an earlier filter");
            continue;
        }
        std::vector<engine::SeriesResult> expected;
        total = 0;
        for (engine::AdId ad : q.ads) {
            expected.push_back(m_engine->queries().series(ad, q.fromMs, q.toMs, q.filters));
            total += expected.back().total;
        }
        diff = chartDiffers(c->chart(), expected);
        if (!diff.isEmpty())
            QTest::qWait(250);
    }
    QVERIFY2(diff.isEmpty(), qPrintable(diff));
    QVERIFY2(total > 0, "the filtered query counts some clicks");
}

void TstDashboardSeries::exploreTableAndCsvEqualTheQuery()
{
    ExplorePanel* e = m_window->explore();
    m_window->tabs()->setCurrentWidget(e);
    m_engine->setPaused(true);
    QTRY_COMPARE_WITH_TIMEOUT(m_engine->status()->state, EngineState::Paused, 10000);
    QTest::qWait(2500); // a checkpoint after the pause is the last one: the store stands still
    const engine::TimeMs clock = m_engine->status()->clockMs;
    const engine::TimeMs to = (clock / engine::kMsPerMinute + 1) * engine::kMsPerMinute;
    const engine::TimeMs from = to - 20 * engine::kMsPerMinute;
    e->filters()->setDevice(QStringLiteral("mobile"));
    QSignalSpy spy(e, &ExplorePanel::answered);
    e->explore(m_topAds[0], from, to);
    QVERIFY(spy.wait(20000));
    const engine::SeriesResult& shown = e->result();
    QVERIFY2(shown.ok(), shown.error.c_str());
    QCOMPARE(shown.requestedFromMs, from);
    QCOMPARE(shown.requestedToMs, to);
    engine::CountFilters f;
    f.userAgentClass = "mobile";
    const auto expected = m_engine->queries().series(m_topAds[0], from, to, f);
    QVERIFY(expected.ok());
    QVERIFY(expected.total > 0);
    QCOMPARE(shown.total, expected.total);
    QCOMPARE(e->model()->rowCount(), static_cast<int>(expected.points.size()));
    QCOMPARE(chartDiffers(e->chart(), { expected }), QString());

    const QString path = m_dir.path() + "/explore.csv";
    QString error;
    QVERIFY2(e->exportCsv(path, &error), qPrintable(error));
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly | QIODevice::Text));
    const QStringList lines = QString::fromUtf8(file.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), static_cast<int>(expected.points.size()) + 1);
    QCOMPARE(lines[0], QStringLiteral("bucket start (UTC),start (epoch ms),size (s),clicks,provenance"));
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < expected.points.size(); ++i) {
        const QStringList cells = lines[static_cast<int>(i) + 1].split(QLatin1Char(','));
        QCOMPARE(cells.size(), 5);
        const auto& p = expected.points[i];
        QCOMPARE(QDateTime::fromString(cells[0], Qt::ISODate).toMSecsSinceEpoch(), p.startMs);
        QCOMPARE(cells[1].toLongLong(), p.startMs);
        QCOMPARE(cells[2].toLongLong(), p.sizeMs / 1000);
        QCOMPARE(cells[3].toULongLong(), p.count);
        QCOMPARE(cells[4], QString::fromStdString(std::string(engine::seriesSourceName(p.source))));
        sum += cells[3].toULongLong();
    }
    QCOMPARE(sum, expected.total);
    QVERIFY(!e->exportCsv(m_dir.path() + "/no-such-dir/x.csv", &error));
    QVERIFY(!error.isEmpty());
    m_engine->setPaused(false);
    QTRY_COMPARE_WITH_TIMEOUT(m_engine->status()->state, EngineState::Running, 10000);
}

void TstDashboardSeries::savePanelPngs()
{
    m_window->clicks()->filters()->setIp(QString());
    m_window->clicks()->filters()->setRegion(QString());
    m_window->clicks()->filters()->setDevice(QString());
    const std::pair<QWidget*, const char*> panels[]
        = { { m_window->clicks(), "clicks" }, { m_window->explore(), "explore" } };
    for (const auto& [panel, name] : panels) {
        m_window->tabs()->setCurrentWidget(panel);
        QTest::qWait(800);
        const QImage image = m_window->grab().toImage();
        QVERIFY(looksDrawn(image));
        const QString path = artifactDir() + "/dashboard-" + name + ".png";
        QVERIFY(image.save(path));
        qInfo("saved %s", qPrintable(path));
    }
}

void TstDashboardSeries::cleanupTestCase()
{
    if (m_window)
        m_window->close();
    m_testers.clear();
    m_window.reset();
    m_engine.reset();
}

QTEST_MAIN(TstDashboardSeries)
#include "tst_dashboard_series.moc"
