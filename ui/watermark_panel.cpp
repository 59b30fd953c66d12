#include "watermark_panel.h"

#include <QBarCategoryAxis>
#include <QBarSet>
#include <QDateTime>
#include <QGridLayout>
#include <QHeaderView>
#include <QHorizontalBarSeries>
#include <QLabel>
#include <QListWidget>
#include <QTableView>

#include <algorithm>

namespace adclick::ui {

using engine::kMinTimeMs;
using engine::TimeMs;

QStringList WatermarkPanel::latenessBucketLabels()
{
    // Chart labels are rich text: no '<'.
    return { tr("0–1 s"), tr("1–4 s"), tr("4–16 s"), tr("16–64 s"), tr("64–256 s"), tr("256–1024 s"), tr("1024–4096 s"),
        tr("≥ 4096 s") };
}

std::array<std::uint64_t, WatermarkPanel::kLatenessBuckets> WatermarkPanel::latenessBuckets(
    const engine::LatenessHistogram& h)
{
    // Engine bucket 0 is < 1 s and bucket i is [2^(i−1), 2^i) s: shown bucket k ≥ 1 joins engine
    // buckets 2k−1 and 2k ([4^(k−1), 4^k) s); the last one takes the rest.
    static_assert(engine::LatenessHistogram::kBuckets == 2 * kLatenessBuckets);
    std::array<std::uint64_t, kLatenessBuckets> out {};
    for (int i = 0; i < engine::LatenessHistogram::kBuckets; ++i)
        out[static_cast<std::size_t>(std::min((i + 1) / 2, kLatenessBuckets - 1))]
            += h.counts[static_cast<std::size_t>(i)];
    return out;
}

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

    // Horizontal bars: the bucket names are read across, one per line, however narrow the chart.
    auto* histChart = new QChart;
    auto* histView = makeChartView(histChart, tr("Lateness of late events (watermark − event time)"));
    auto* histSeries = new QHorizontalBarSeries;
    m_histogram = new QBarSet(tr("late events"));
    m_histogram->setColor(QColor(0xff, 0x7f, 0x0e));
    histSeries->append(m_histogram);
    histChart->addSeries(histSeries);
    auto* cats = new QBarCategoryAxis;
    cats->append(latenessBucketLabels());
    histChart->addAxis(cats, Qt::AlignLeft);
    histSeries->attachAxis(cats);
    m_histY = addValueAxis(histChart, tr("late events"), Qt::AlignBottom);
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
    const auto x = static_cast<double>(snap->processingTimeMs);
    m_processing->add(x, static_cast<double>(snap->processingTimeMs));
    if (snap->maxEventTimeMs > kMinTimeMs)
        m_eventTime->add(x, static_cast<double>(snap->maxEventTimeMs));
    if (snap->watermarkMs > kMinTimeMs)
        m_watermark->add(x, static_cast<double>(snap->watermarkMs));

    // Late events per minute of processing time: one point per minute, the counter's increase.
    const TimeMs minute = snap->processingTimeMs - snap->processingTimeMs % engine::kMsPerMinute;
    const std::uint64_t late = snap->counters.lateDropped + snap->counters.lateUpdated;
    if (minute != m_lastLateMinute) {
        m_lateRing->add(static_cast<double>(minute), 0);
        m_lastLateMinute = minute;
        m_lateAtMinuteStart = late;
    }
    m_lateRing->setLastY(static_cast<double>(late >= m_lateAtMinuteStart ? late - m_lateAtMinuteStart : 0));
    m_stale = true;
    if (isVisible())
        redraw();
}

void WatermarkPanel::showEvent(QShowEvent* event)
{
    Panel::showEvent(event);
    redraw();
}

void WatermarkPanel::redraw()
{
    if (!m_stale || !m_snapshot)
        return;
    m_stale = false;
    const auto& snap = m_snapshot;
    const TimeMs bound = m_settings.pipeline.watermark.boundMs;
    const auto x = static_cast<double>(snap->processingTimeMs);
    double lo = x;
    const double hi = x;
    for (auto& r : m_rings) {
        r->flush();
        for (const QPointF& p : r->points())
            lo = std::min(lo, p.y());
    }
    followTimeAxis(m_x, m_processing->points().front().x(), x);
    followTimeAxis(m_y, lo - 10000, hi + 10000);
    const std::uint64_t late = snap->counters.lateDropped + snap->counters.lateUpdated;
    if (!m_lateRing->points().empty()) {
        m_lateRing->flush();
        // Whole minutes, a whole number of them per tick: HH:mm labels never repeat.
        const auto first = static_cast<qint64>(m_lateRing->points().front().x());
        const qint64 minutes = static_cast<qint64>(m_lateRing->points().back().x() - m_lateRing->points().front().x())
                / engine::kMsPerMinute
            + 1;
        const qint64 perTick = (minutes + 4) / 5;
        const qint64 ticks = (minutes + perTick - 1) / perTick;
        m_lateX->setTickCount(static_cast<int>(ticks) + 1);
        const QDateTime from = QDateTime::fromMSecsSinceEpoch(first);
        const QDateTime to = QDateTime::fromMSecsSinceEpoch(first + ticks * perTick * engine::kMsPerMinute);
        if (m_lateX->min() != from || m_lateX->max() != to)
            m_lateX->setRange(from, to);
        fitValueAxis(m_lateY, { m_lateRing.get() });
    }

    const auto buckets = latenessBuckets(snap->lateness);
    double histMax = 1;
    QList<qreal> values;
    for (std::uint64_t c : buckets) {
        values << static_cast<qreal>(c);
        histMax = std::max(histMax, static_cast<double>(c));
    }
    bool same = m_histogram->count() == static_cast<int>(values.size());
    for (int b = 0; same && b < values.size(); ++b)
        same = m_histogram->at(b) == values[b];
    if (!same) { // each QBarSet change lays out every bar again: one remove, one append
        m_histogram->remove(0, m_histogram->count());
        m_histogram->append(values);
    }
    setRangeIfChanged(m_histY, 0, niceCeil(histMax * 1.05));
    updatePartitions(*snap);

    const double lagMs = snap->watermarkMs > kMinTimeMs
        ? static_cast<double>(snap->processingTimeMs - snap->watermarkMs)
        : std::numeric_limits<double>::quiet_NaN();
    m_lag->setText(tr("<b>Watermark lag</b> (processing time − watermark): %1 — of which the out-of-orderness bound is "
                      "%2. Watermark %3; max event time %4; %5 of %6 partitions idle. Late so far: %7 (policy %8, "
                      "allowed lateness %9).")
                       .arg(formatDuration(lagMs), formatDuration(static_cast<double>(bound)),
                           formatTime(snap->watermarkMs, true), formatTime(snap->maxEventTimeMs, true))
                       .arg(snap->idlePartitions)
                       .arg(snap->partitions.size())
                       .arg(formatCount(static_cast<double>(late)),
                           QString::fromLatin1(engine::latePolicyName(m_settings.pipeline.window.latePolicy).data()),
                           formatDuration(static_cast<double>(m_settings.pipeline.window.allowedLatenessMs))));
    updateOpenWindows(*snap);
}

void WatermarkPanel::updatePartitions(const engine::PipelineSnapshot& s)
{
    const engine::PipelineSnapshot* snap = &s;
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
}

void WatermarkPanel::updateOpenWindows(const engine::PipelineSnapshot& s)
{
    const engine::PipelineSnapshot* snap = &s;
    // Open windows: from the one the watermark is in up to the newest event time.
    const TimeMs windowMs = m_settings.pipeline.window.windowMs;
    const TimeMs lateness = m_settings.pipeline.window.allowedLatenessMs;
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
