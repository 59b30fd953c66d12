#pragma once

#include "chart_util.h"
#include "panel.h"
#include "table_model.h"

#include "batch/reconciler.h"

#include <memory>

class QComboBox;
class QLabel;
class QPushButton;
class QTableView;

namespace adclick::ui {

/// Speed vs batch per minute and the gap split into explained causes and the unexplained rest
/// (engine::reconcile, on the pool); the worst (ad, minute) windows; a drill-down to one
/// (ad, minute) listing its raw events from the raw log with what the speed layer did with each.
class ReconciliationPanel final : public Panel {
    Q_OBJECT
public:
    explicit ReconciliationPanel(PanelContext context, QWidget* parent = nullptr);
    void updateStatus(const EngineStatus& status) override;
    /// Re-reads the report now (off the GUI thread).
    void refresh();
    /// Lists the raw events of (ad, minute) in the drill-down table (off the GUI thread).
    void drillDown(engine::AdId ad, engine::TimeMs minuteMs);

    /// Drill-down columns the tests read.
    static constexpr int kRawLatenessColumn = 8;
    static constexpr int kRawDispositionColumn = 9;

    TableModel* worstModel() const { return m_worst; }
    TableModel* rawModel() const { return m_raw; }
    const engine::ReconcileReport* report() const { return m_report.get(); }
    std::uint64_t reportsReceived() const { return m_reports; }
    std::uint64_t drillDownsReceived() const { return m_drills; }

signals:
    void reportUpdated();
    void drillDownUpdated();

private:
    void show(std::shared_ptr<const engine::ReconcileReport> report);

    QComboBox* m_range = nullptr;
    QPushButton* m_refresh = nullptr;
    QLabel* m_summary = nullptr;
    QDateTimeAxis* m_x = nullptr;
    QValueAxis* m_y = nullptr;
    QValueAxis* m_gapY = nullptr;
    std::unique_ptr<RingSeries> m_speed, m_batch, m_explained, m_unexplained;
    TableModel* m_worst = nullptr;
    QTableView* m_worstView = nullptr;
    TableModel* m_raw = nullptr;
    QLabel* m_rawSummary = nullptr;
    std::shared_ptr<const engine::ReconcileReport> m_report;
    engine::TimeMs m_watermarkMs = engine::kMinTimeMs;
    engine::TimeMs m_clockMs = 0;
    std::uint64_t m_lastBatchRuns = 0;
    bool m_busy = false;
    bool m_drillBusy = false;
    std::uint64_t m_reports = 0;
    std::uint64_t m_drills = 0;
    qint64 m_lastRefreshMs = 0;
};

} // namespace adclick::ui
