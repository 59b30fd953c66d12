#include "control_panel.h"

#include "chart_util.h"
#include "ingest/country_codes.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QStackedWidget>
#include <QVBoxLayout>

namespace adclick::ui {

using namespace adclick::engine;

namespace {
QDoubleSpinBox* doubleBox(double lo, double hi, int decimals, double step, const QString& suffix = {})
{
    auto* b = new QDoubleSpinBox;
    b->setRange(lo, hi);
    b->setDecimals(decimals);
    b->setSingleStep(step);
    b->setSuffix(suffix);
    b->setKeyboardTracking(false);
    return b;
}
QSpinBox* intBox(int lo, int hi, int step, const QString& suffix = {})
{
    auto* b = new QSpinBox;
    b->setRange(lo, hi);
    b->setSingleStep(step);
    b->setSuffix(suffix);
    b->setKeyboardTracking(false);
    b->setGroupSeparatorShown(true);
    return b;
}
/// The speed-layer fault the checkbox toggles: 50 % of US clicks left out of the speed counts.
SpeedFault demoFault()
{
    SpeedFault f;
    f.kind = SpeedFault::Kind::DropCountry;
    f.country = packCountry('U', 'S');
    f.fraction = 0.5;
    return f;
}
} // namespace

ControlPanel::ControlPanel(DashboardEngine& engine, QWidget* parent)
    : QWidget(parent)
    , m_engine(engine)
    , m_base(engine.settings())
{
    auto* layout = new QVBoxLayout(this);

    auto* sourceBox = new QGroupBox(tr("Source (applies on restart)"), this);
    auto* sourceLayout = new QVBoxLayout(sourceBox);
    m_source = new QComboBox(sourceBox);
    m_source->addItem(tr("Generator"), static_cast<int>(DashboardSource::Generator));
    m_source->addItem(tr("File replay (NDJSON)"), static_cast<int>(DashboardSource::File));
    m_source->addItem(tr("Kafka"), static_cast<int>(DashboardSource::Kafka));
    m_sourcePages = new QStackedWidget(sourceBox);
    m_sourcePages->addWidget(new QLabel(tr("Synthetic clicks, deterministic per seed."), m_sourcePages));
    auto* filePage = new QWidget(m_sourcePages);
    auto* fileForm = new QFormLayout(filePage);
    auto* fileRow = new QHBoxLayout;
    m_file = new QLineEdit(filePage);
    auto* browse = new QPushButton(tr("…"), filePage);
    browse->setMaximumWidth(30);
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getOpenFileName(
            this, tr("NDJSON clicks to replay"), m_file->text(), tr("NDJSON (*.ndjson *.json *.jsonl);;All files (*)"));
        if (!f.isEmpty())
            m_file->setText(f);
    });
    fileRow->addWidget(m_file);
    fileRow->addWidget(browse);
    fileForm->addRow(tr("File"), fileRow);
    m_fileSpeed = doubleBox(0, 10000, 1, 1, tr(" × (0 = max)"));
    fileForm->addRow(tr("Replay speed"), m_fileSpeed);
    m_sourcePages->addWidget(filePage);
    auto* kafkaPage = new QWidget(m_sourcePages);
    auto* kafkaForm = new QFormLayout(kafkaPage);
    m_brokers = new QLineEdit(kafkaPage);
    m_topic = new QLineEdit(kafkaPage);
    m_group = new QLineEdit(kafkaPage);
    kafkaForm->addRow(tr("Brokers"), m_brokers);
    kafkaForm->addRow(tr("Topic"), m_topic);
    kafkaForm->addRow(tr("Group"), m_group);
    m_sourcePages->addWidget(kafkaPage);
    connect(m_source, &QComboBox::currentIndexChanged, m_sourcePages, &QStackedWidget::setCurrentIndex);
    sourceLayout->addWidget(m_source);
    sourceLayout->addWidget(m_sourcePages);
    layout->addWidget(sourceBox);

    auto* runBox = new QGroupBox(tr("Run"), this);
    auto* runLayout = new QVBoxLayout(runBox);
    auto* buttons = new QHBoxLayout;
    m_start = new QPushButton(tr("&Start"), runBox);
    m_pause = new QPushButton(tr("&Pause"), runBox);
    m_pause->setCheckable(true);
    m_stop = new QPushButton(tr("S&top"), runBox);
    m_start->setToolTip(tr("Start, or restart from the checkpoint with the settings shown (Ctrl+R)"));
    m_pause->setToolTip(tr("Processing time stands still; nothing is read (Ctrl+P)"));
    m_stop->setToolTip(tr("Final checkpoint, then stop (Ctrl+T)"));
    buttons->addWidget(m_start);
    buttons->addWidget(m_pause);
    buttons->addWidget(m_stop);
    runLayout->addLayout(buttons);
    auto* speedRow = new QFormLayout;
    m_speed = new QComboBox(runBox);
    for (int s : { 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000 })
        m_speed->addItem(s == 1 ? tr("real time (×1)") : tr("fast-forward ×%1").arg(s), s);
    m_speed->setToolTip(tr("Processing clock; applies now (Kafka: real time only)"));
    speedRow->addRow(tr("Clock (now)"), m_speed);
    runLayout->addLayout(speedRow);
    layout->addWidget(runBox);
    connect(m_start, &QPushButton::clicked, this, &ControlPanel::startOrRestart);
    connect(m_pause, &QPushButton::clicked, this, &ControlPanel::togglePause);
    connect(m_stop, &QPushButton::clicked, this, &ControlPanel::stopPipeline);
    connect(m_speed, &QComboBox::currentIndexChanged, this,
        [this] { m_engine.setSpeed(m_speed->currentData().toDouble()); });

    auto* genBox = new QGroupBox(tr("Generator (applies now)"), this);
    auto* gen = new QFormLayout(genBox);
    m_rate = intBox(1, 5000000, 5000, tr(" /s"));
    m_ads = intBox(1, 10000000, 1000);
    m_skew = doubleBox(0, 3, 2, 0.1);
    m_lateFraction = doubleBox(0, 100, 2, 0.5, tr(" %"));
    m_lateDelay = doubleBox(0, 3600, 0, 10, tr(" s mean"));
    m_duplicates = doubleBox(0, 100, 2, 0.1, tr(" %"));
    m_malformed = doubleBox(0, 100, 2, 0.1, tr(" %"));
    gen->addRow(tr("Rate"), m_rate);
    gen->addRow(tr("Ads"), m_ads);
    gen->addRow(tr("Zipf skew"), m_skew);
    gen->addRow(tr("Late events"), m_lateFraction);
    gen->addRow(tr("Late delay"), m_lateDelay);
    gen->addRow(tr("Duplicates"), m_duplicates);
    gen->addRow(tr("Malformed"), m_malformed);
    auto* burstRow = new QHBoxLayout;
    m_burstAd = intBox(1, 10000000, 1);
    m_burstShare = doubleBox(1, 100, 0, 5, tr(" %"));
    m_burst = new QPushButton(tr("Burst 60 s"), genBox);
    m_burst->setToolTip(tr("For 60 s of processing time, this share of all clicks goes to the ad"));
    burstRow->addWidget(m_burstAd);
    burstRow->addWidget(m_burstShare);
    burstRow->addWidget(m_burst);
    gen->addRow(tr("Hot ad"), burstRow);
    layout->addWidget(genBox);
    for (auto* b : { m_rate, m_ads })
        connect(b, &QSpinBox::valueChanged, this, &ControlPanel::pushGenerator);
    for (auto* b : { m_skew, m_lateFraction, m_lateDelay, m_duplicates, m_malformed })
        connect(b, &QDoubleSpinBox::valueChanged, this, &ControlPanel::pushGenerator);
    connect(m_burst, &QPushButton::clicked, this, [this] {
        m_burstUntilMs = (m_status ? m_status->clockMs : 0) + kMsPerMinute;
        pushGenerator();
    });

    auto* winBox = new QGroupBox(tr("Windows and lateness"), this);
    auto* win = new QFormLayout(winBox);
    m_bound = doubleBox(0, 3600, 0, 5, tr(" s"));
    m_lateness = doubleBox(0, 3600, 0, 10, tr(" s"));
    m_policy = new QComboBox(winBox);
    m_policy->addItem(tr("drop (batch layer counts them)"), static_cast<int>(LatePolicy::Drop));
    m_policy->addItem(tr("update (re-emit the window)"), static_cast<int>(LatePolicy::Update));
    win->addRow(tr("Watermark bound"), m_bound);
    win->addRow(tr("Allowed lateness"), m_lateness);
    win->addRow(tr("Late policy"), m_policy);
    m_restartNote = new QLabel(tr("These apply on restart: press Start to restart from the checkpoint (nothing is "
                                  "lost)."),
        winBox);
    m_restartNote->setWordWrap(true);
    win->addRow(m_restartNote);
    layout->addWidget(winBox);

    auto* actBox = new QGroupBox(tr("Actions"), this);
    auto* act = new QVBoxLayout(actBox);
    auto* batchRow = new QHBoxLayout;
    m_batch = new QPushButton(tr("Run &batch now"), actBox);
    m_batch->setToolTip(tr("Recount the last hour of final minutes from the raw log (Ctrl+B)"));
    m_cancelBatch = new QPushButton(tr("Cancel"), actBox);
    m_cancelBatch->setEnabled(false);
    batchRow->addWidget(m_batch);
    batchRow->addWidget(m_cancelBatch);
    act->addLayout(batchRow);
    m_progress = new QProgressBar(actBox);
    m_progress->setRange(0, 1000);
    m_progress->setValue(0);
    act->addWidget(m_progress);
    m_batchText = new QLabel(actBox);
    m_batchText->setWordWrap(true);
    act->addWidget(m_batchText);
    m_crash = new QPushButton(tr("Inject &crash"), actBox);
    m_crash->setToolTip(tr("Tear the pipeline down without a final checkpoint and recover it from the store"));
    act->addWidget(m_crash);
    m_crashText = new QLabel(actBox);
    m_crashText->setWordWrap(true);
    m_crashText->setTextInteractionFlags(Qt::TextSelectableByMouse);
    act->addWidget(m_crashText);
    m_fault = new QCheckBox(tr("Speed-layer fault: drop 50 % of US clicks (restarts the pipeline)"), actBox);
    m_fault->setToolTip(tr("Fault injection for the reconciler: the raw log stays true, so a batch run shows the "
                           "dropped clicks as the unexplained gap"));
    act->addWidget(m_fault);
    layout->addWidget(actBox);
    layout->addStretch(1);
    connect(m_batch, &QPushButton::clicked, this, &ControlPanel::runBatchNow);
    connect(m_cancelBatch, &QPushButton::clicked, this, [this] { m_engine.cancelBatch(); });
    connect(m_crash, &QPushButton::clicked, this, &ControlPanel::injectCrash);
    connect(m_fault, &QCheckBox::toggled, this, [this] { startOrRestart(); });

    setFromSettings(m_base);
}

void ControlPanel::setFromSettings(const DashboardSettings& s)
{
    const QSignalBlocker b1(m_rate), b2(m_ads), b3(m_skew), b4(m_lateFraction), b5(m_lateDelay), b6(m_duplicates),
        b7(m_malformed), b8(m_fault), b9(m_speed);
    const int sourceIndex = m_source->findData(static_cast<int>(s.source));
    m_source->setCurrentIndex(std::max(0, sourceIndex));
    m_file->setText(QString::fromStdString(s.inputPath));
    m_fileSpeed->setValue(s.fileSpeedup);
    m_brokers->setText(QString::fromStdString(s.kafka.brokers));
    m_topic->setText(QString::fromStdString(s.kafka.topic));
    m_group->setText(QString::fromStdString(s.kafka.group));
    const int speedIndex = m_speed->findData(static_cast<int>(s.speed));
    m_speed->setCurrentIndex(std::max(0, speedIndex));
    const GeneratorConfig& g = s.generator;
    m_rate->setValue(static_cast<int>(g.ratePerSec));
    m_ads->setValue(static_cast<int>(g.adCount));
    m_skew->setValue(g.zipfSkew);
    m_lateFraction->setValue(g.lateFraction * 100.0);
    m_lateDelay->setValue(static_cast<double>(g.lateDelayMeanMs) / 1000.0);
    m_duplicates->setValue(g.duplicateFraction * 100.0);
    m_malformed->setValue(g.malformedFraction * 100.0);
    m_burstAd->setValue(g.burstAdId ? static_cast<int>(g.burstAdId) : 42);
    m_burstShare->setValue(g.burstShare * 100.0);
    m_bound->setValue(static_cast<double>(s.pipeline.watermark.boundMs) / 1000.0);
    m_lateness->setValue(static_cast<double>(s.pipeline.window.allowedLatenessMs) / 1000.0);
    m_policy->setCurrentIndex(m_policy->findData(static_cast<int>(s.pipeline.window.latePolicy)));
    m_fault->setChecked(s.pipeline.speedFault.active());
}

DashboardSettings ControlPanel::settings() const
{
    DashboardSettings s = m_base;
    s.source = static_cast<DashboardSource>(m_source->currentData().toInt());
    s.inputPath = m_file->text().toStdString();
    s.fileSpeedup = m_fileSpeed->value();
    s.kafka.brokers = m_brokers->text().toStdString();
    s.kafka.topic = m_topic->text().toStdString();
    s.kafka.group = m_group->text().toStdString();
    s.speed = m_speed->currentData().toDouble();
    GeneratorConfig& g = s.generator;
    g.ratePerSec = m_rate->value();
    g.adCount = static_cast<std::uint32_t>(m_ads->value());
    g.zipfSkew = m_skew->value();
    g.lateFraction = m_lateFraction->value() / 100.0;
    g.lateDelayMeanMs = static_cast<TimeMs>(m_lateDelay->value() * 1000.0);
    g.duplicateFraction = m_duplicates->value() / 100.0;
    g.malformedFraction = m_malformed->value() / 100.0;
    const TimeMs now = m_status ? m_status->clockMs : 0;
    if (m_burstUntilMs > now) {
        g.burstAdId = static_cast<std::uint32_t>(m_burstAd->value());
        g.burstShare = m_burstShare->value() / 100.0;
        g.burstStartMs = m_burstUntilMs - kMsPerMinute; // absolute: the engine converts it
        g.burstDurationMs = kMsPerMinute;
    } else {
        g.burstAdId = 0;
    }
    s.pipeline.watermark.boundMs = static_cast<TimeMs>(m_bound->value() * 1000.0);
    s.pipeline.window.allowedLatenessMs = static_cast<TimeMs>(m_lateness->value() * 1000.0);
    s.pipeline.window.latePolicy = static_cast<LatePolicy>(m_policy->currentData().toInt());
    s.pipeline.speedFault = m_fault->isChecked() ? demoFault() : SpeedFault {};
    return s;
}

void ControlPanel::pushGenerator()
{
    m_engine.setGeneratorConfig(settings().generator);
}

void ControlPanel::startOrRestart()
{
    m_pause->setChecked(false);
    m_engine.start(settings());
}

void ControlPanel::togglePause()
{
    m_engine.setPaused(m_pause->isChecked());
}

void ControlPanel::stopPipeline()
{
    m_pause->setChecked(false);
    m_engine.stop();
}

void ControlPanel::runBatchNow()
{
    if (!m_status || !m_status->snapshot || m_status->snapshot->watermarkMs <= kMinTimeMs) {
        m_batchText->setText(tr("No watermark yet: nothing is final to recount."));
        return;
    }
    const auto& settings = m_status->settings;
    TimeMs to = m_status->snapshot->watermarkMs - settings.pipeline.window.allowedLatenessMs;
    to -= to % settings.pipeline.window.windowMs;
    const TimeMs from = to - kMsPerHour;
    QString why;
    std::uint64_t id = 0;
    if (!m_engine.requestBatch(from, to, why, &id))
        m_batchText->setText(tr("Not started: %1").arg(why));
    else
        m_batchText->setText(
            tr("Batch #%1: recounting [%2, %3) from the raw log …").arg(id).arg(formatTime(from), formatTime(to)));
}

void ControlPanel::injectCrash()
{
    m_crashText->setText(tr("Crashing: the pipeline is torn down without a final checkpoint …"));
    m_engine.injectCrash();
}

void ControlPanel::updateStatus(const EngineStatus& status)
{
    const bool crashChanged = status.lastCrash
        && (!m_status || !m_status->lastCrash
            || m_status->lastCrash->crashedAtWallMs != status.lastCrash->crashedAtWallMs);
    m_status = std::make_shared<EngineStatus>(status);
    const bool live = status.state == EngineState::Running || status.state == EngineState::Paused;
    m_pause->setEnabled(live);
    m_stop->setEnabled(live || status.state == EngineState::Ended);
    m_crash->setEnabled(live);
    m_start->setText(live ? tr("Re&start") : tr("&Start"));
    m_speed->setEnabled(status.settings.source != DashboardSource::Kafka);
    if (status.batch && status.batch->running) {
        m_batch->setEnabled(false);
        m_cancelBatch->setEnabled(true);
        m_progress->setValue(static_cast<int>(status.batch->progress.fraction() * 1000.0));
    } else {
        m_batch->setEnabled(live || status.state == EngineState::Ended);
        m_cancelBatch->setEnabled(false);
        if (status.batch && status.batch->lastRun && m_progress->value() != 0) {
            m_progress->setValue(1000);
            m_batchText->setText(
                tr("Last batch run #%1 covers [%2, %3)%4")
                    .arg(status.batch->lastRun->runId)
                    .arg(formatTime(status.batch->lastRun->fromMs), formatTime(status.batch->lastRun->toMs))
                    .arg(status.batch->lastError.empty()
                            ? QString()
                            : tr("; last error: %1").arg(QString::fromStdString(status.batch->lastError))));
        }
    }
    const DashboardSettings running = status.settings;
    const DashboardSettings shown = settings();
    const bool pending = live
        && (running.pipeline.watermark.boundMs != shown.pipeline.watermark.boundMs
            || running.pipeline.window.allowedLatenessMs != shown.pipeline.window.allowedLatenessMs
            || running.pipeline.window.latePolicy != shown.pipeline.window.latePolicy
            || running.source != shown.source);
    m_restartNote->setText(pending
            ? tr("<b>Changed: press Restart to apply</b> (restarts from the checkpoint; nothing "
                 "is lost).")
            : tr("These apply on restart (Start/Restart restarts from the checkpoint; nothing is "
                 "lost)."));
    if (status.lastCrash && (crashChanged || m_crashText->text().startsWith(tr("Crashing")))) {
        const CrashReport& c = *status.lastCrash;
        const auto& r = c.recovery;
        const std::uint64_t lost
            = c.countersAtCrash.accepted > r.nextSequence ? c.countersAtCrash.accepted - r.nextSequence : 0;
        m_crashText->setText(
            tr("Crash: %1 events accepted in memory; the store held checkpoint #%2 with %3 of them. Recovered in %4: "
               "restored %5 open cells, replayed %6 raw records, discarded %7 raw bytes written after the checkpoint; "
               "the %8 events after it are read again from the source offsets. Lost: 0, counted twice: 0.")
                .arg(formatCount(static_cast<double>(c.countersAtCrash.accepted)))
                .arg(r.checkpointSequence)
                .arg(formatCount(static_cast<double>(r.nextSequence)))
                .arg(formatDuration(c.downSeconds * 1000.0))
                .arg(r.rowsRestored)
                .arg(r.replayedRecords)
                .arg(r.rawBytesTruncated)
                .arg(formatCount(static_cast<double>(lost))));
    }
}

void ControlPanel::saveSettings(QSettings& s) const
{
    const DashboardSettings d = settings();
    s.beginGroup(QStringLiteral("controls"));
    s.setValue("source", static_cast<int>(d.source));
    s.setValue("file", m_file->text());
    s.setValue("fileSpeed", d.fileSpeedup);
    s.setValue("brokers", m_brokers->text());
    s.setValue("topic", m_topic->text());
    s.setValue("group", m_group->text());
    s.setValue("speed", d.speed);
    s.setValue("rate", d.generator.ratePerSec);
    s.setValue("ads", d.generator.adCount);
    s.setValue("skew", d.generator.zipfSkew);
    s.setValue("lateFraction", d.generator.lateFraction);
    s.setValue("lateDelayMs", static_cast<qlonglong>(d.generator.lateDelayMeanMs));
    s.setValue("duplicates", d.generator.duplicateFraction);
    s.setValue("malformed", d.generator.malformedFraction);
    s.setValue("burstAd", m_burstAd->value());
    s.setValue("burstShare", m_burstShare->value() / 100.0);
    s.setValue("boundMs", static_cast<qlonglong>(d.pipeline.watermark.boundMs));
    s.setValue("latenessMs", static_cast<qlonglong>(d.pipeline.window.allowedLatenessMs));
    s.setValue("latePolicy", static_cast<int>(d.pipeline.window.latePolicy));
    s.endGroup();
}

void ControlPanel::loadSettings(const QSettings& s)
{
    DashboardSettings d = m_base;
    auto get = [&](const char* key, const QVariant& def) { return s.value(QStringLiteral("controls/") + key, def); };
    d.source = static_cast<DashboardSource>(get("source", static_cast<int>(d.source)).toInt());
    d.inputPath = get("file", QString::fromStdString(d.inputPath)).toString().toStdString();
    d.fileSpeedup = get("fileSpeed", d.fileSpeedup).toDouble();
    d.kafka.brokers = get("brokers", QString::fromStdString(d.kafka.brokers)).toString().toStdString();
    d.kafka.topic = get("topic", QString::fromStdString(d.kafka.topic)).toString().toStdString();
    d.kafka.group = get("group", QString::fromStdString(d.kafka.group)).toString().toStdString();
    d.speed = get("speed", d.speed).toDouble();
    d.generator.ratePerSec = get("rate", d.generator.ratePerSec).toDouble();
    d.generator.adCount = get("ads", d.generator.adCount).toUInt();
    d.generator.zipfSkew = get("skew", d.generator.zipfSkew).toDouble();
    d.generator.lateFraction = get("lateFraction", d.generator.lateFraction).toDouble();
    d.generator.lateDelayMeanMs = get("lateDelayMs", static_cast<qlonglong>(d.generator.lateDelayMeanMs)).toLongLong();
    d.generator.duplicateFraction = get("duplicates", d.generator.duplicateFraction).toDouble();
    d.generator.malformedFraction = get("malformed", d.generator.malformedFraction).toDouble();
    d.generator.burstAdId = get("burstAd", 42).toUInt();
    d.generator.burstShare = get("burstShare", d.generator.burstShare).toDouble();
    d.pipeline.watermark.boundMs = get("boundMs", static_cast<qlonglong>(d.pipeline.watermark.boundMs)).toLongLong();
    d.pipeline.window.allowedLatenessMs
        = get("latenessMs", static_cast<qlonglong>(d.pipeline.window.allowedLatenessMs)).toLongLong();
    d.pipeline.window.latePolicy
        = static_cast<LatePolicy>(get("latePolicy", static_cast<int>(d.pipeline.window.latePolicy)).toInt());
    setFromSettings(d);
}

} // namespace adclick::ui
