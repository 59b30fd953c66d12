#include "throughput_panel.h"

#include <QDateTime>
#include <QLabel>
#include <QVBoxLayout>

namespace adclick::ui {

namespace {
std::array<std::uint64_t, ThroughputPanel::kSeriesCount> countersOf(const engine::PipelineCounters& c)
{
    return { c.received, c.accepted, c.lateDropped + c.lateUpdated, c.duplicates, c.rejected.total() };
}
} // namespace

ThroughputPanel::ThroughputPanel(PanelContext context, QWidget* parent)
    : Panel(context, parent)
{
    auto* chart = new QChart;
    m_view = makeChartView(chart, tr("Throughput (events per wall-clock second)"));
    m_x = addTimeAxis(chart);
    m_y = addValueAxis(chart, tr("events/s"));
    const std::array<std::pair<QString, QColor>, kSeriesCount> names { {
        { tr("received"), QColor(0x1f, 0x77, 0xb4) },
        { tr("accepted"), QColor(0x2c, 0xa0, 0x2c) },
        { tr("late"), QColor(0xff, 0x7f, 0x0e) },
        { tr("duplicate"), QColor(0x94, 0x67, 0xbd) },
        { tr("quarantined"), QColor(0xd6, 0x27, 0x28) },
    } };
    for (std::size_t i = 0; i < names.size(); ++i)
        m_rings[i] = std::make_unique<RingSeries>(addLine(chart, names[i].first, m_x, m_y, names[i].second));
    m_summary = new QLabel(this);
    m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_view, 1);
    layout->addWidget(m_summary);
}

void ThroughputPanel::updateStatus(const EngineStatus& status)
{
    const auto& snap = status.snapshot;
    if (!snap || snap->sequence == m_lastSequence)
        return;
    const auto now = countersOf(snap->counters);
    const bool restarted = status.sessions != m_lastSessions || snap->wallSeconds < m_lastWall;
    if (m_lastSequence != 0 && !restarted && snap->wallSeconds > m_lastWall) {
        const double dt = snap->wallSeconds - m_lastWall;
        const double x = static_cast<double>(QDateTime::currentMSecsSinceEpoch());
        for (std::size_t i = 0; i < now.size(); ++i) {
            const double delta = now[i] >= m_last[i] ? static_cast<double>(now[i] - m_last[i]) : 0.0;
            m_rings[i]->add(x, delta / dt);
        }
        m_stale = true;
    }
    m_lastSequence = snap->sequence;
    m_lastSessions = status.sessions;
    m_lastWall = snap->wallSeconds;
    m_last = now;
    m_counters = snap->counters;
    m_eventsPerSecond = snap->eventsPerWallSecond;
    if (isVisible())
        redraw();
}

void ThroughputPanel::showEvent(QShowEvent* event)
{
    Panel::showEvent(event);
    redraw();
}

void ThroughputPanel::redraw()
{
    if (m_stale && !m_rings[Received]->points().empty()) {
        m_stale = false;
        for (auto& r : m_rings)
            r->flush();
        const auto& pts = m_rings[Received]->points();
        followTimeAxis(m_x, pts.front().x(), pts.back().x());
        fitValueAxis(m_y, { m_rings[Received].get(), m_rings[Accepted].get() });
    }
    const auto& c = m_counters;
    m_summary->setText(
        tr("Since start: %1 received · %2 accepted · %3 counted · %4 late (%5 dropped, %6 updated) · "
           "%7 duplicates · %8 quarantined · %9 events/s now")
            .arg(formatCount(static_cast<double>(c.received)), formatCount(static_cast<double>(c.accepted)),
                formatCount(static_cast<double>(c.counted)),
                formatCount(static_cast<double>(c.lateDropped + c.lateUpdated)),
                formatCount(static_cast<double>(c.lateDropped)), formatCount(static_cast<double>(c.lateUpdated)),
                formatCount(static_cast<double>(c.duplicates)), formatCount(static_cast<double>(c.rejected.total())),
                formatCount(m_eventsPerSecond)));
}

} // namespace adclick::ui
