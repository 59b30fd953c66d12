#include "watermark_panel.h"

#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QDateTime>
#include <QGridLayout>
#include <QHeaderView>
#include <QLabel>
#include <QListWidget>
#include <QTableView>

#include <algorithm>

namespace adclick::ui {

using engine::kMinTimeMs;
using engine::TimeMs;

WatermarkPanel::WatermarkPanel(PanelContext context, QWidget* parent)
    : Panel(context, parent)
{
    auto* chart = new QChart;
    auto* view = makeChartView(chart, tr("Event time, processing time and watermark"));
    m_x = addTimeAxis(chart);
    m_x->setTitleText(tr("processing time"));
    m_y = new QDateTimeAxis;
    m_y->setFormat(QStringLiteral("HH:mm:ss"));
    chart->addAxis(m_y, Qt::AlignLeft);
    auto line = [&](const QString& name, QColor c) {
        m_rings.push_back(std::make_unique<RingSeries>(addLine(chart, name, m_x, m_y, c)));
        return m_rings.back().get();
    };
    m_processing = line(tr("processing time"), QColor(0x7f, 0x7f, 0x7f));
    m_eventTime = line(tr("max event time"), QColor(0x1f, 0x77, 0xb4));
    m_watermark = line(tr("watermark"), QColor(0xd6, 0x27, 0x28));

    auto* lateChart = new QChart;
    auto* lateView = makeChartView(lateChart, tr("Late events per minute (dropped + updated)"));
    m_lateX = addTimeAxis(lateChart, QStringLiteral("HH:mm"));
    m_lateY = addValueAxis(lateChart, tr("late/min"));
    m_lateRing = std::make_unique<RingSeries>(
        addLine(lateChart, tr("late events per minute of processing time"), m_lateX, m_lateY, QColor(0xff, 0x7f, 0x0e)),
        240);

    auto* histChart = new QChart;
    auto* histView = makeChartView(histChart, tr("Lateness of late events (watermark − event time)"));
    auto* histSeries = new QBarSeries;
    m_histogram = new QBarSet(tr("late events"));
    m_histogram->setColor(QColor(0xff, 0x7f, 0x0e));
    histSeries->append(m_histogram);
    histChart->addSeries(histSeries);
    auto* cats = new QBarCategoryAxis;
    QStringList labels;
    for (int b = 0; b < engine::LatenessHistogram::kBuckets; ++b)
        labels << (b == 0 ? QStringLiteral("<1") : QString::number(1 << (b - 1)));
    cats->append(labels);
    cats->setTitleText(tr("seconds late (bucket start)"));
    QFont small = cats->labelsFont();
    small.setPointSizeF(small.pointSizeF() * 0.75);
    cats->setLabelsFont(small);
    histChart->addAxis(cats, Qt::AlignBottom);
    histSeries->attachAxis(cats);
    m_histY = addValueAxis(histChart, tr("events"));
    histSeries->attachAxis(m_histY);
    histChart->legend()->hide();

    m_lag = new QLabel(this);
    m_lag->setWordWrap(true);
    m_partitions = new TableModel(
        { tr("partition"), tr("max event time"), tr("watermark"), tr("behind the leader"), tr("events"), tr("state") },
        this);
    auto* table = new QTableView(this);
    table->setModel(m_partitions);
    table->verticalHeader()->hide();
    table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    table->horizontalHeader()->setStretchLastSection(true);

    m_openWindows = new QListWidget(this);
    m_openWindows->setToolTip(tr("Open windows: select one to see why it has not fired"));
    m_why = new QLabel(tr("Select an open window to see why it has not fired."), this);
    m_why->setWordWrap(true);
    m_why->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    m_why->setTextInteractionFlags(Qt::TextSelectableByMouse);
    connect(m_openWindows, &QListWidget::currentRowChanged, this, [this] { refreshExplanation(); });

    auto* grid = new QGridLayout(this);
    grid->addWidget(m_lag, 0, 0, 1, 3);
    grid->addWidget(view, 1, 0, 1, 2);
    grid->addWidget(table, 1, 2);
    grid->addWidget(lateView, 2, 0);
    grid->addWidget(histView, 2, 1);
    auto* whyBox = new QWidget(this);
    auto* whyLayout = new QVBoxLayout(whyBox);
    whyLayout->setContentsMargins(0, 0, 0, 0);
    whyLayout->addWidget(new QLabel(tr("<b>Open windows</b> (why has it not fired?)"), whyBox));
    whyLayout->addWidget(m_openWindows, 1);
    whyLayout->addWidget(m_why, 1);
    grid->addWidget(whyBox, 2, 2);
    grid->setRowStretch(1, 3);
    grid->setRowStretch(2, 2);
    grid->setColumnStretch(0, 2);
    grid->setColumnStretch(1, 2);
    grid->setColumnStretch(2, 2);
}

void WatermarkPanel::updateStatus(const EngineStatus& status)
{
    const auto& snap = status.snapshot;
    if (!snap || snap->sequence == m_lastSequence)
        return;
    m_lastSequence = snap->sequence;
    m_snapshot = snap;
    m_settings = status.settings;
    const TimeMs bound = status.settings.pipeline.watermark.boundMs;
    const auto x = static_cast<double>(snap->processingTimeMs);
    m_processing->add(x, static_cast<double>(snap->processingTimeMs));
    if (snap->maxEventTimeMs > kMinTimeMs)
        m_eventTime->add(x, static_cast<double>(snap->maxEventTimeMs));
    if (snap->watermarkMs > kMinTimeMs)
        m_watermark->add(x, static_cast<double>(snap->watermarkMs));
    double lo = x;
    double hi = x;
    for (auto& r : m_rings) {
        r->flush();
        for (const QPointF& p : r->points())
            lo = std::min(lo, p.y());
    }
    const double x0 = m_processing->points().front().x();
    m_x->setRange(QDateTime::fromMSecsSinceEpoch(static_cast<qint64>(x0)),
        QDateTime::fromMSecsSinceEpoch(static_cast<qint64>(std::max(x, x0 + 1000))));
    m_y->setRange(QDateTime::fromMSecsSinceEpoch(static_cast<qint64>(lo - 10000)),
        QDateTime::fromMSecsSinceEpoch(static_cast<qint64>(hi + 10000)));

    // Late events per minute of processing time: one point per minute, the counter's increase.
    const TimeMs minute = snap->processingTimeMs - snap->processingTimeMs % engine::kMsPerMinute;
    const std::uint64_t late = snap->counters.lateDropped + snap->counters.lateUpdated;
    if (minute != m_lastLateMinute) {
        m_lateRing->add(static_cast<double>(minute), 0);
        m_lastLateMinute = minute;
        m_lateAtMinuteStart = late;
    }
    const std::uint64_t base = m_lateAtMinuteStart;
    if (!m_lateRing->points().empty()) {
        // Replace the current minute's point with the count so far.
        auto pts = m_lateRing->points();
        m_lateRing->clear();
        for (std::size_t i = 0; i + 1 < pts.size(); ++i)
            m_lateRing->add(pts[i].x(), pts[i].y());
        m_lateRing->add(pts.back().x(), static_cast<double>(late >= base ? late - base : 0));
        m_lateRing->flush();
        m_lateX->setRange(QDateTime::fromMSecsSinceEpoch(static_cast<qint64>(m_lateRing->points().front().x())),
            QDateTime::fromMSecsSinceEpoch(
                static_cast<qint64>(m_lateRing->points().back().x() + engine::kMsPerMinute)));
        fitValueAxis(m_lateY, { m_lateRing.get() });
    }

    QList<qreal> hist;
    double histMax = 1;
    for (auto c : snap->lateness.counts) {
        hist << static_cast<qreal>(c);
        histMax = std::max(histMax, static_cast<double>(c));
    }
    m_histogram->remove(0, m_histogram->count());
    m_histogram->append(hist);
    m_histY->setRange(0, histMax * 1.1);

    // Partitions: which one holds the watermark (the minimum over the active ones).
    TimeMs leader = kMinTimeMs;
    int holder = -1;
    for (std::size_t i = 0; i < snap->partitions.size(); ++i) {
        const auto& p = snap->partitions[i];
        leader = std::max(leader, p.watermarkMs);
        if (!p.idle && p.watermarkMs > kMinTimeMs
            && (holder < 0 || p.watermarkMs < snap->partitions[static_cast<std::size_t>(holder)].watermarkMs))
            holder = static_cast<int>(i);
    }
    std::vector<TableModel::Row> rows;
    std::vector<QVariant> backgrounds;
    for (std::size_t i = 0; i < snap->partitions.size(); ++i) {
        const auto& p = snap->partitions[i];
        const QString state = p.idle        ? tr("idle (ignored)")
            : static_cast<int>(i) == holder ? tr("holds the watermark")
                                            : tr("active");
        rows.push_back({ static_cast<qlonglong>(i), formatTime(p.maxEventTimeMs), formatTime(p.watermarkMs),
            p.watermarkMs > kMinTimeMs ? formatDuration(static_cast<double>(leader - p.watermarkMs))
                                       : QStringLiteral("—"),
            static_cast<qlonglong>(p.events), state });
        backgrounds.push_back(static_cast<int>(i) == holder ? QVariant(QColor(255, 235, 200)) : QVariant());
    }
    m_partitions->setRows(std::move(rows));
    m_partitions->setRowHints({}, std::move(backgrounds));

    const double lagMs = snap->watermarkMs > kMinTimeMs
        ? static_cast<double>(snap->processingTimeMs - snap->watermarkMs)
        : std::numeric_limits<double>::quiet_NaN();
    m_lag->setText(
        tr("<b>Watermark lag</b> (processing time − watermark): %1 — of which the out-of-orderness bound is "
           "%2. Watermark %3; max event time %4; %5 of %6 partitions idle. Late so far: %7 (policy %8, "
           "allowed lateness %9).")
            .arg(formatDuration(lagMs), formatDuration(static_cast<double>(bound)), formatTime(snap->watermarkMs, true),
                formatTime(snap->maxEventTimeMs, true))
            .arg(snap->idlePartitions)
            .arg(snap->partitions.size())
            .arg(formatCount(static_cast<double>(late)),
                QString::fromLatin1(engine::latePolicyName(status.settings.pipeline.window.latePolicy).data()),
                formatDuration(static_cast<double>(status.settings.pipeline.window.allowedLatenessMs))));

    // Open windows: from the one the watermark is in up to the newest event time.
    const TimeMs windowMs = status.settings.pipeline.window.windowMs;
    const TimeMs lateness = status.settings.pipeline.window.allowedLatenessMs;
    const QString selected = m_openWindows->currentItem() ? m_openWindows->currentItem()->text() : QString();
    QStringList open;
    if (snap->watermarkMs > kMinTimeMs && snap->maxEventTimeMs > kMinTimeMs) {
        TimeMs first = snap->watermarkMs - lateness - windowMs + 1;
        first = first - ((first % windowMs) + windowMs) % windowMs;
        for (TimeMs w = first; w <= snap->maxEventTimeMs && open.size() < 60; w += windowMs)
            if (w + windowMs + lateness > snap->watermarkMs)
                open << formatTime(w, true);
    }
    QStringList current;
    for (int i = 0; i < m_openWindows->count(); ++i)
        current << m_openWindows->item(i)->text();
    if (current != open) {
        const QSignalBlocker block(m_openWindows);
        m_openWindows->clear();
        m_openWindows->addItems(open);
        const int idx = open.indexOf(selected);
        m_openWindows->setCurrentRow(idx >= 0 ? idx : (open.isEmpty() ? -1 : 0));
    }
    refreshExplanation();
}

QString WatermarkPanel::explainWindow(TimeMs w) const
{
    if (!m_snapshot)
        return {};
    const auto& snap = *m_snapshot;
    const TimeMs windowMs = m_settings.pipeline.window.windowMs;
    const TimeMs lateness = m_settings.pipeline.window.allowedLatenessMs;
    const TimeMs bound = m_settings.pipeline.watermark.boundMs;
    const TimeMs fireAt = w + windowMs + lateness;
    QString text = tr("Window [%1, %2) fires when the watermark reaches end + allowed lateness = %3. ")
                       .arg(formatTime(w), formatTime(w + windowMs), formatTime(fireAt));
    if (snap.watermarkMs >= fireAt)
        return text
            + tr("The watermark (%1) has passed it: it fires with the next batch.").arg(formatTime(snap.watermarkMs));
    text += tr("The watermark is %1, %2 short. ")
                .arg(formatTime(snap.watermarkMs), formatDuration(static_cast<double>(fireAt - snap.watermarkMs)));
    int holder = -1;
    std::size_t active = 0;
    for (std::size_t i = 0; i < snap.partitions.size(); ++i) {
        const auto& p = snap.partitions[i];
        if (p.idle)
            continue;
        ++active;
        if (holder < 0 || p.watermarkMs < snap.partitions[static_cast<std::size_t>(holder)].watermarkMs)
            holder = static_cast<int>(i);
    }
    if (active == 0)
        return text
            + tr("Every partition is idle, so the watermark holds where it is until events arrive again (idleness "
                 "timeout %1).")
                  .arg(formatDuration(static_cast<double>(m_settings.pipeline.watermark.idleTimeoutMs)));
    const auto& h = snap.partitions[static_cast<std::size_t>(holder)];
    text += tr("The watermark is the minimum over the %1 active partitions; partition %2 holds it: its max event time "
               "is %3, minus the %4 out-of-orderness bound. It needs events up to %5 of event time.")
                .arg(active)
                .arg(holder)
                .arg(formatTime(h.maxEventTimeMs), formatDuration(static_cast<double>(bound)),
                    formatTime(fireAt + bound));
    if (snap.idlePartitions > 0)
        text += tr(" %1 idle partition(s) are ignored.").arg(snap.idlePartitions);
    return text;
}

void WatermarkPanel::refreshExplanation()
{
    auto* item = m_openWindows->currentItem();
    if (!item) {
        m_why->setText(tr("No open window."));
        return;
    }
    const QDateTime start = QDateTime::fromString(item->text(), QStringLiteral("yyyy-MM-dd HH:mm:ss"));
    m_why->setText(explainWindow(start.toMSecsSinceEpoch()));
}

} // namespace adclick::ui
