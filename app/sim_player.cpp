#include "sim_player.h"

#include "chart_util.h"

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineSeries>
#include <QListWidget>
#include <QProgressBar>
#include <QRegularExpression>
#include <QScatterSeries>
#include <QSplitter>
#include <QStatusBar>
#include <QTableWidget>
#include <QToolBar>
#include <QToolButton>
#include <QVBoxLayout>
#include <QValueAxis>

#include <algorithm>

namespace adclick::app {

using namespace adclick::engine;

/// Owns the SimRunner on the worker thread; reports back to the player by queued calls.
class SimWorker final : public QObject {
public:
    SimWorker(Scenario scenario, std::string workDir, bool ci, SimPlayer* player)
        : m_scenario(std::move(scenario))
        , m_workDir(std::move(workDir))
        , m_ci(ci)
        , m_player(player)
    {
    }

    /// Creates and starts the runner (on the worker thread: SimRunner is single-threaded).
    template <class OnCaption, class OnFinished> void begin(OnCaption onCaption, OnFinished onFinished)
    {
        m_onFinished = std::move(onFinished);
        m_runner = std::make_unique<SimRunner>(m_scenario, m_workDir, m_ci);
        m_runner->setNarrative([this, onCaption](const std::string& line) {
            QMetaObject::invokeMethod(
                m_player, [onCaption, l = QString::fromStdString(line)] { onCaption(l); }, Qt::QueuedConnection);
        });
        if (!m_runner->start())
            finish();
    }

    /// Runs up to `ms` of processing time; `onStepped(samples, offset, more)` runs on the player.
    template <class OnStepped> void step(TimeMs ms, OnStepped onStepped)
    {
        if (!m_runner || m_runner->finished() || !m_runner->error().empty())
            return;
        const bool more = m_runner->advance(ms);
        std::vector<SimSample> samples = m_runner->samples();
        const TimeMs offset = samples.empty() ? 0 : samples.back().offsetMs;
        QMetaObject::invokeMethod(
            m_player, [onStepped, s = std::move(samples), offset, more]() mutable { onStepped(std::move(s), offset, more); },
            Qt::QueuedConnection);
        if (!more)
            finish();
    }

    TimeMs durationMs() const { return m_runner ? m_runner->durationMs() : 0; }

private:
    void finish()
    {
        QMetaObject::invokeMethod(
            m_player,
            [f = m_onFinished, figures = m_runner->figures(), error = QString::fromStdString(m_runner->error())] {
                f(figures, error);
            },
            Qt::QueuedConnection);
    }

    Scenario m_scenario;
    std::string m_workDir;
    bool m_ci;
    SimPlayer* m_player;
    std::unique_ptr<SimRunner> m_runner;
    std::function<void(QJsonObject, QString)> m_onFinished;
};

const std::vector<std::pair<QString, double>>& SimPlayer::speeds()
{
    static const std::vector<std::pair<QString, double>> table {
        { "10 s per second", 10'000.0 },
        { "1 min per second", 60'000.0 },
        { "10 min per second", 600'000.0 },
        { "1 h per second", 3'600'000.0 },
        { "as fast as it goes", 0.0 },
    };
    return table;
}

SimPlayer::SimPlayer(Scenario scenario, bool ci, QWidget* parent)
    : QMainWindow(parent)
    , m_scenario(std::move(scenario))
{
    buildUi();
    m_worker = new SimWorker(m_scenario, m_workDir.path().toStdString(), ci, this);
    m_worker->moveToThread(&m_thread);
    m_thread.setObjectName("scenario player");
    m_thread.start();
    SimWorker* w = m_worker;
    QMetaObject::invokeMethod(
        w,
        [this, w] {
            w->begin([this](const QString& line) { onCaption(line); },
                [this](QJsonObject figures, QString error) { onFinished(std::move(figures), std::move(error)); });
            const TimeMs duration = w->durationMs();
            QMetaObject::invokeMethod(this, [this, duration] { m_durationMs = duration; updateStatus(); },
                Qt::QueuedConnection);
        },
        Qt::QueuedConnection);
    m_timer.setInterval(100);
    connect(&m_timer, &QTimer::timeout, this, &SimPlayer::tick);
    m_timer.start();
}

SimPlayer::~SimPlayer()
{
    m_timer.stop();
    // The runner (and its SQLite store) goes with its thread; a step in progress ends first.
    SimWorker* w = m_worker;
    QMetaObject::invokeMethod(w, [w] { delete w; }, Qt::BlockingQueuedConnection);
    m_thread.quit();
    m_thread.wait();
}

void SimPlayer::buildUi()
{
    setWindowTitle(QString("adclick — scenario: %1").arg(QString::fromStdString(m_scenario.name)));
    auto* central = new QWidget;
    auto* layout = new QVBoxLayout(central);

    auto* title = new QLabel(QString("<b>%1</b>").arg(QString::fromStdString(m_scenario.title).toHtmlEscaped()));
    title->setWordWrap(true);
    auto* teaches = new QLabel(QString::fromStdString(m_scenario.teaches));
    teaches->setWordWrap(true);
    m_caption = new QLabel(tr("Press Play (Space) to start."));
    m_caption->setWordWrap(true);
    m_caption->setObjectName("caption");
    QFont big = m_caption->font();
    big.setPointSizeF(big.pointSizeF() * 1.4);
    big.setBold(true);
    m_caption->setFont(big);
    m_caption->setStyleSheet("QLabel#caption { background: #20262e; color: #f5f5f5; padding: 10px; border-radius: 4px; }");
    m_caption->setMinimumHeight(70);

    auto* chart = new QChart;
    m_xAxis = ui::addValueAxis(chart, tr("processing time (min since the start)"), Qt::AlignBottom);
    m_countAxis = ui::addValueAxis(chart, tr("clicks per minute"), Qt::AlignLeft);
    m_lagAxis = ui::addValueAxis(chart, tr("watermark lag (s)"), Qt::AlignRight);
    m_counted = ui::addLine(chart, tr("counted by the speed layer"), m_xAxis, m_countAxis, QColor("#1f77b4"));
    m_late = ui::addLine(chart, tr("dropped as late"), m_xAxis, m_countAxis, QColor("#d62728"));
    m_lag = ui::addLine(chart, tr("watermark lag"), m_xAxis, m_lagAxis, QColor("#2ca02c"));
    m_steps = new QScatterSeries;
    m_steps->setName(tr("narrative steps (captions)"));
    m_steps->setMarkerSize(9);
    m_steps->setColor(QColor("#ff7f0e"));
    chart->addSeries(m_steps);
    m_steps->attachAxis(m_xAxis);
    m_steps->attachAxis(m_countAxis);
    auto* chartView = ui::makeChartView(chart, tr("Clicks per minute and watermark lag"));
    chartView->setMinimumHeight(330);

    m_log = new QListWidget;
    m_log->setObjectName("narrative");
    m_log->setWordWrap(true);
    m_table = new QTableWidget(0, 3);
    m_table->setObjectName("expectations");
    m_table->setHorizontalHeaderLabels({ tr("Expectation"), tr("Actual"), tr("Result") });
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);

    auto* lower = new QSplitter(Qt::Horizontal);
    lower->addWidget(m_log);
    lower->addWidget(m_table);
    lower->setStretchFactor(0, 3);
    lower->setStretchFactor(1, 2);
    auto* split = new QSplitter(Qt::Vertical);
    split->addWidget(chartView);
    split->addWidget(lower);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    split->setSizes({ 430, 250 });

    layout->addWidget(title);
    layout->addWidget(teaches);
    layout->addWidget(m_caption);
    layout->addWidget(split, 1);
    setCentralWidget(central);

    auto* bar = addToolBar(tr("Playback"));
    bar->setObjectName("playback");
    auto* playAction = new QAction(tr("Play"), this);
    playAction->setShortcut(Qt::Key_Space);
    connect(playAction, &QAction::triggered, this, [this] { m_playing ? pause() : play(); });
    m_playButton = new QToolButton;
    m_playButton->setDefaultAction(playAction);
    bar->addWidget(m_playButton);
    bar->addSeparator();
    bar->addWidget(new QLabel(tr(" Speed: ")));
    m_speedBox = new QComboBox;
    for (const auto& [label, speed] : speeds())
        m_speedBox->addItem(label, speed);
    m_speedBox->setCurrentIndex(1);
    connect(m_speedBox, &QComboBox::currentIndexChanged, this,
        [this](int i) { m_speed = m_speedBox->itemData(i).toDouble(); });
    bar->addWidget(m_speedBox);
    m_pauseBox = new QCheckBox(tr("Pause at each step"));
    connect(m_pauseBox, &QCheckBox::toggled, this, [this](bool on) { m_pauseAtSteps = on; });
    bar->addWidget(m_pauseBox);
    m_progress = new QProgressBar;
    m_progress->setRange(0, 1000);
    m_progress->setMaximumWidth(260);
    statusBar()->addPermanentWidget(m_progress);
    resize(1200, 900);
}

void SimPlayer::play()
{
    if (m_finished)
        return;
    m_playing = true;
    m_sinceRequest.restart();
    m_playButton->defaultAction()->setText(tr("Pause"));
    updateStatus();
}

void SimPlayer::pause()
{
    m_playing = false;
    m_playButton->defaultAction()->setText(tr("Play"));
    updateStatus();
}

void SimPlayer::setSpeed(double simulatedMsPerSecond)
{
    const auto& table = speeds();
    const auto it = std::find_if(
        table.begin(), table.end(), [&](const auto& s) { return s.second == simulatedMsPerSecond; });
    if (it != table.end())
        m_speedBox->setCurrentIndex(static_cast<int>(it - table.begin()));
    m_speed = simulatedMsPerSecond;
}

void SimPlayer::setPauseAtSteps(bool on)
{
    m_pauseBox->setChecked(on);
    m_pauseAtSteps = on;
}

QString SimPlayer::currentCaption() const
{
    return m_caption->text();
}

int SimPlayer::progressPercent() const
{
    return m_progress->value() / 10;
}

void SimPlayer::tick()
{
    if (!m_playing || m_busy || m_finished)
        return;
    // Paced: the simulated time since the last request at the chosen speed (a step of at least
    // one second); as fast as it goes: a minute per step, back to back.
    TimeMs ms = kMsPerMinute;
    if (m_speed > 0)
        ms = std::max<TimeMs>(kMsPerSecond, static_cast<TimeMs>(m_speed * m_sinceRequest.elapsed() / 1000.0));
    m_sinceRequest.restart();
    m_busy = true;
    SimWorker* w = m_worker;
    QMetaObject::invokeMethod(
        w,
        [this, w, ms] {
            w->step(ms, [this](std::vector<SimSample> s, TimeMs offset, bool more) {
                onStepped(std::move(s), offset, more);
            });
        },
        Qt::QueuedConnection);
}

void SimPlayer::onCaption(const QString& line)
{
    m_captions << line;
    // "[hh:mm:ss] …": a marker at that processing time (crashes, restarts, batch runs stand out).
    static const QRegularExpression stamp(QStringLiteral("^\\[(\\d+):(\\d\\d):(\\d\\d)\\]"));
    if (const QRegularExpressionMatch m = stamp.match(line); m.hasMatch())
        m_stepTimes.push_back(
            (m.captured(1).toDouble() * 3600 + m.captured(2).toDouble() * 60 + m.captured(3).toDouble()) / 60.0);
    redrawCharts();
    m_caption->setText(line);
    m_log->addItem(line);
    m_log->scrollToBottom();
    if (m_pauseAtSteps && m_playing && !m_finished)
        pause();
}

void SimPlayer::onStepped(std::vector<SimSample> samples, TimeMs offsetMs, bool more)
{
    m_busy = false;
    if (samples.size() < m_samples.size()) { // the next variant started
        ++m_variant;
        m_stepTimes.clear();
    }
    m_samples = std::move(samples);
    m_offsetMs = offsetMs;
    redrawCharts();
    updateStatus();
    if (m_speed == 0 && more && m_playing)
        tick(); // as fast as it goes: the next step at once
}

void SimPlayer::onFinished(QJsonObject figures, QString error)
{
    m_finished = true;
    m_playing = false;
    m_figures = std::move(figures);
    m_error = std::move(error);
    m_playButton->defaultAction()->setText(tr("Play"));
    m_playButton->defaultAction()->setEnabled(false);
    m_offsetMs = m_durationMs;
    if (!m_error.isEmpty()) {
        m_caption->setText(tr("The run failed: %1").arg(m_error));
        updateStatus();
        emit done(false);
        return;
    }
    m_results = evaluateExpectations(m_scenario, m_figures);
    int failed = 0;
    m_table->setRowCount(static_cast<int>(m_results.size()));
    for (std::size_t i = 0; i < m_results.size(); ++i) {
        const ExpectationResult& r = m_results[i];
        const bool ok = r.known && r.passed;
        failed += ok ? 0 : 1;
        const int row = static_cast<int>(i);
        m_table->setItem(row, 0, new QTableWidgetItem(QString::fromStdString(r.text)));
        m_table->setItem(row, 1,
            new QTableWidgetItem(r.known ? QString::fromStdString(r.actualText)
                                         : tr("unknown figure %1").arg(QString::fromStdString(r.unknownFigure))));
        auto* result = new QTableWidgetItem(ok ? tr("holds") : tr("FAILED"));
        result->setForeground(ok ? QColor("#2ca02c") : QColor("#d62728"));
        m_table->setItem(row, 2, result);
    }
    m_table->resizeColumnsToContents();
    m_caption->setText(failed == 0 ? tr("Done: all %1 expectations hold.").arg(m_results.size())
                                   : tr("Done: %1 of %2 expectations FAILED.").arg(failed).arg(m_results.size()));
    m_progress->setValue(1000);
    updateStatus();
    emit done(failed == 0);
}

void SimPlayer::redrawCharts()
{
    // At most ~2,000 points per series: every n-th sample of long runs.
    const std::size_t stride = std::max<std::size_t>(1, m_samples.size() / ui::kMaxSeriesPoints + 1);
    QList<QPointF> counted, late, lag;
    double maxCount = 1, maxLag = 1;
    for (std::size_t i = 1; i < m_samples.size(); i += stride) {
        const SimSample& a = m_samples[i - 1];
        const SimSample& b = m_samples[i];
        const double minutes = static_cast<double>(b.offsetMs - a.offsetMs) / kMsPerMinute;
        if (minutes <= 0)
            continue;
        const double x = static_cast<double>(b.offsetMs) / kMsPerMinute;
        const double perMinute = static_cast<double>(b.counted - std::min(a.counted, b.counted)) / minutes;
        const double latePerMinute = static_cast<double>(b.lateDropped - std::min(a.lateDropped, b.lateDropped)) / minutes;
        counted << QPointF(x, perMinute);
        late << QPointF(x, latePerMinute);
        lag << QPointF(x, static_cast<double>(b.watermarkLagMs) / 1000.0);
        maxCount = std::max({ maxCount, perMinute, latePerMinute });
        maxLag = std::max(maxLag, static_cast<double>(b.watermarkLagMs) / 1000.0);
    }
    QList<QPointF> steps;
    for (const double minute : m_stepTimes)
        steps << QPointF(minute, maxCount * 0.04);
    m_steps->replace(steps);
    m_counted->replace(counted);
    m_late->replace(late);
    m_lag->replace(lag);
    m_xAxis->setRange(0, std::max(1.0, static_cast<double>(m_durationMs) / kMsPerMinute));
    m_countAxis->setRange(0, maxCount * 1.1);
    m_lagAxis->setRange(0, maxLag * 1.1);
}

void SimPlayer::updateStatus()
{
    const std::size_t variants = std::max<std::size_t>(1, m_scenario.variants.size());
    if (!m_finished && m_durationMs > 0) {
        const double done = (static_cast<double>(m_variant) + static_cast<double>(m_offsetMs) / m_durationMs) / variants;
        m_progress->setValue(static_cast<int>(std::clamp(done, 0.0, 1.0) * 1000));
    }
    QString variant;
    if (variants > 1 && m_variant < m_scenario.variants.size())
        variant = tr(" — variant %1 of %2 (%3)")
                      .arg(m_variant + 1)
                      .arg(variants)
                      .arg(QString::fromStdString(m_scenario.variants[m_variant].name));
    const QString state = m_finished ? tr("finished") : m_playing ? tr("playing") : tr("paused");
    statusBar()->showMessage(QString("%1 — %2 of %3 simulated%4")
                                 .arg(state, QString::fromStdString(formatDurationMs(m_offsetMs)),
                                     QString::fromStdString(formatDurationMs(m_durationMs)), variant));
}

} // namespace adclick::app
