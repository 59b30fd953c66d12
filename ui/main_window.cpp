#include "main_window.h"

#include "chart_util.h"
#include "clicks_panel.h"
#include "control_panel.h"
#include "explore_panel.h"
#include "pipeline_panel.h"
#include "reconciliation_panel.h"
#include "throughput_panel.h"
#include "topk_panel.h"
#include "ui_version.h"
#include "watermark_panel.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDateTime>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QStatusBar>
#include <QTabWidget>
#include <QTimer>

namespace adclick::ui {

using engine::kMinTimeMs;

MainWindow::MainWindow(DashboardEngine& engine, QWidget* parent)
    : QMainWindow(parent)
    , m_engine(engine)
{
    setObjectName(QStringLiteral("adclickMainWindow"));
    setWindowTitle(tr("adclick dashboard — %1").arg(versionString()));
    m_pool.setMaxThreadCount(2);
    const PanelContext context { &engine, &m_pool };

    m_controls = new ControlPanel(engine);
    auto* scroll = new QScrollArea;
    scroll->setWidget(m_controls);
    scroll->setWidgetResizable(true);
    scroll->setMinimumWidth(m_controls->sizeHint().width() + 24);
    auto* dock = new QDockWidget(tr("Control"), this);
    dock->setObjectName(QStringLiteral("controlDock"));
    dock->setWidget(scroll);
    addDockWidget(Qt::LeftDockWidgetArea, dock);

    m_tabs = new QTabWidget(this);
    m_tabs->setObjectName(QStringLiteral("panels"));
    setCentralWidget(m_tabs);
    m_pipeline = new PipelinePanel(context);
    m_throughput = new ThroughputPanel(context);
    m_topK = new TopKPanel(context);
    m_watermark = new WatermarkPanel(context);
    m_reconciliation = new ReconciliationPanel(context);
    addPanel(m_pipeline, tr("Pipeline"));
    addPanel(m_throughput, tr("Throughput"));
    addPanel(m_topK, tr("Top-K"));
    addPanel(m_watermark, tr("Watermark"));
    addPanel(m_reconciliation, tr("Reconciliation"));
    m_clicks = new ClicksPanel(context);
    m_explore = new ExplorePanel(context);
    addPanel(m_clicks, tr("Clicks per minute"));
    addPanel(m_explore, tr("Explore"));

    m_stateLabel = new QLabel(this);
    m_rateLabel = new QLabel(this);
    m_lagLabel = new QLabel(this);
    m_checkpointLabel = new QLabel(this);
    m_servingLabel = new QLabel(this);
    statusBar()->addWidget(m_stateLabel);
    statusBar()->addWidget(m_rateLabel);
    statusBar()->addWidget(m_lagLabel);
    statusBar()->addWidget(m_checkpointLabel);
    statusBar()->addPermanentWidget(m_servingLabel);

    buildActions();
    restoreLayout();
    m_timer = new QTimer(this);
    m_timer->setObjectName(QStringLiteral("statusPoll"));
    m_timer->setInterval(kPollIntervalMs);
    connect(m_timer, &QTimer::timeout, this, &MainWindow::poll);
    m_timer->start();
}

MainWindow::~MainWindow()
{
    m_timer->stop();
    m_pool.waitForDone(); // queries in flight use the engine's QueryService
}

void MainWindow::addPanel(Panel* panel, const QString& title)
{
    m_panels.push_back(panel);
    m_tabs->addTab(panel, title);
}

void MainWindow::setServingInfo(const QString& text)
{
    m_pipeline->setServingInfo(text);
    m_servingLabel->setText(text.section(QLatin1Char('\n'), 0, 0));
}

void MainWindow::requestPlayScenario(QString path)
{
    if (path.isEmpty()) {
        // The repository's simulations/ when run from a checkout, else the working directory.
        QString dir = qEnvironmentVariable("ADCLICK_SOURCE_DIR", QDir::currentPath()) + "/simulations";
        if (!QDir(dir).exists())
            dir = QDir::currentPath();
        path = QFileDialog::getOpenFileName(this, tr("Play a scenario"), dir, tr("Scenarios (*.json)"));
    }
    if (!path.isEmpty())
        emit playScenarioRequested(path);
}

void MainWindow::buildActions()
{
    auto* file = menuBar()->addMenu(tr("&File"));
    auto* play = file->addAction(tr("Play a &scenario…"), this, [this] { requestPlayScenario(); });
    play->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));
    play->setStatusTip(tr("Plays a simulation (simulations/*.json) in its own window, its steps as captions"));
    file->addSeparator();
    auto* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    auto* run = menuBar()->addMenu(tr("&Pipeline"));
    auto add = [&](const QString& text, const QKeySequence& key, auto slot) {
        QAction* a = run->addAction(text, m_controls, slot);
        a->setShortcut(key);
        return a;
    };
    add(tr("&Start / restart"), QKeySequence(Qt::CTRL | Qt::Key_R), &ControlPanel::startOrRestart);
    QAction* pause = run->addAction(tr("&Pause / resume"), this, [this] { m_controls->pauseButton()->click(); });
    pause->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_P));
    add(tr("S&top"), QKeySequence(Qt::CTRL | Qt::Key_T), &ControlPanel::stopPipeline);
    run->addSeparator();
    add(tr("Run &batch now"), QKeySequence(Qt::CTRL | Qt::Key_B), &ControlPanel::runBatchNow);
    add(tr("Inject &crash"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_K), &ControlPanel::injectCrash);

    auto* view = menuBar()->addMenu(tr("&View"));
    QAction* full
        = view->addAction(tr("&Full screen"), this, [this] { setWindowState(windowState() ^ Qt::WindowFullScreen); });
    full->setShortcut(QKeySequence::FullScreen);
    view->addAction(
            tr("Next panel"), this, [this] { m_tabs->setCurrentIndex((m_tabs->currentIndex() + 1) % m_tabs->count()); })
        ->setShortcut(QKeySequence::NextChild);
    view->addAction(tr("Previous panel"), this,
            [this] { m_tabs->setCurrentIndex((m_tabs->currentIndex() + m_tabs->count() - 1) % m_tabs->count()); })
        ->setShortcut(QKeySequence::PreviousChild);
    for (int i = 0; i < 9; ++i) {
        auto* a = new QAction(this);
        a->setShortcut(QKeySequence(Qt::ALT | static_cast<Qt::Key>(Qt::Key_1 + i)));
        connect(a, &QAction::triggered, this, [this, i] {
            if (i < m_tabs->count())
                m_tabs->setCurrentIndex(i);
        });
        addAction(a);
    }
    auto* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About"), this, [this] {
        QMessageBox::about(this, tr("About adclick"),
            tr("<b>%1</b><p>Counts ad clicks per ad and minute of event time, exactly once: a streaming speed "
               "layer corrected by a batch layer (Lambda architecture).</p><p>Data directory: %2</p>")
                .arg(versionString(), QString::fromStdString(m_engine.dataDirectory())));
    });
}

void MainWindow::poll()
{
    ++m_polls;
    const auto status = m_engine.status();
    if (!status || status->sequence == m_lastSequence)
        return;
    m_lastSequence = status->sequence;
    m_controls->updateStatus(*status);
    for (Panel* p : m_panels)
        p->updateStatus(*status);
    m_stateLabel->setText(engineStateName(status->state)
        + (status->message.empty() ? QString()
                                   : QStringLiteral(": ") + QString::fromStdString(status->message).left(80)));
    if (const auto& snap = status->snapshot) {
        m_rateLabel->setText(tr("%1 events/s").arg(formatCount(snap->eventsPerWallSecond)));
        m_lagLabel->setText(tr("watermark lag %1")
                                .arg(snap->watermarkMs > kMinTimeMs ? formatDuration(
                                         static_cast<double>(snap->processingTimeMs - snap->watermarkMs))
                                                                    : tr("—")));
    }
    if (status->checkpoint && status->checkpoint->lastCommitWallMs > 0)
        m_checkpointLabel->setText(tr("checkpoint #%1, %2 ago")
                                       .arg(status->checkpoint->lastSequence)
                                       .arg(formatDuration(static_cast<double>(QDateTime::currentMSecsSinceEpoch()
                                           - status->checkpoint->lastCommitWallMs))));
    else
        m_checkpointLabel->setText(tr("no checkpoint yet"));
}

void MainWindow::saveLayout()
{
    QSettings s;
    s.setValue(QStringLiteral("window/geometry"), saveGeometry());
    s.setValue(QStringLiteral("window/state"), saveState());
    s.setValue(QStringLiteral("window/tab"), m_tabs->currentIndex());
    m_controls->saveSettings(s);
}

void MainWindow::restoreLayout()
{
    QSettings s;
    if (!restoreGeometry(s.value(QStringLiteral("window/geometry")).toByteArray()))
        resize(1440, 900);
    restoreState(s.value(QStringLiteral("window/state")).toByteArray());
    m_tabs->setCurrentIndex(s.value(QStringLiteral("window/tab"), 0).toInt());
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    if (!m_closed) {
        m_closed = true;
        saveLayout();
        m_timer->stop();
        statusBar()->showMessage(tr("Stopping: final checkpoint …"));
        m_pool.waitForDone();
        m_engine.shutdown(); // final checkpoint, then the ingest thread ends
    }
    event->accept();
}

} // namespace adclick::ui
