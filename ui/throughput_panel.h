#pragma once

#include "chart_util.h"
#include "panel.h"

#include <array>
#include <memory>

class QLabel;

namespace adclick::ui {

/// Events per wall second received, accepted, late, duplicate and quarantined, from the
/// counter deltas of consecutive pipeline snapshots (last 2,000 samples).
class ThroughputPanel final : public Panel {
    Q_OBJECT
public:
    explicit ThroughputPanel(PanelContext context, QWidget* parent = nullptr);
    /// Records the counter deltas always; draws them only while shown (and when shown again).
    void updateStatus(const EngineStatus& status) override;

    enum SeriesIndex { Received, Accepted, Late, Duplicate, Quarantined, kSeriesCount };
    const RingSeries& ring(int i) const { return *m_rings[static_cast<std::size_t>(i)]; }
    QChartView* chartView() const { return m_view; }

protected:
    void showEvent(QShowEvent* event) override;

private:
    void redraw();

    QChartView* m_view = nullptr;
    QDateTimeAxis* m_x = nullptr;
    QValueAxis* m_y = nullptr;
    QLabel* m_summary = nullptr;
    std::array<std::unique_ptr<RingSeries>, kSeriesCount> m_rings;
    std::uint64_t m_lastSequence = 0;
    std::uint64_t m_lastSessions = 0;
    double m_lastWall = 0;
    std::array<std::uint64_t, kSeriesCount> m_last {};
    engine::PipelineCounters m_counters;
    double m_eventsPerSecond = 0;
    bool m_stale = false; ///< the rings hold points the chart does not show yet
};

} // namespace adclick::ui
