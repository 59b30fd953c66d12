#pragma once

#include "panel.h"
#include "table_model.h"

class QBarSet;
class QBarCategoryAxis;
class QChartView;
class QLabel;
class QTableView;
class QValueAxis;

namespace adclick::ui {

/// Top-K of the last minute (the pipeline's sliding 60 s window): the top 20 as bars, exact and
/// approximate (Count-Min) side by side, and the full 100 in a table with each estimate's
/// measured error; the sketch's ε, δ, error bound ε·N and the measured errors above them.
class TopKPanel final : public Panel {
    Q_OBJECT
public:
    explicit TopKPanel(PanelContext context, QWidget* parent = nullptr);
    void updateStatus(const EngineStatus& status) override;
    TableModel* model() const { return m_model; }
    QChartView* chartView() const { return m_view; }

private:
    QChartView* m_view = nullptr;
    QBarSet* m_exact = nullptr;
    QBarSet* m_approx = nullptr;
    QBarCategoryAxis* m_categories = nullptr;
    QValueAxis* m_y = nullptr;
    QLabel* m_summary = nullptr;
    TableModel* m_model = nullptr;
    QTableView* m_table = nullptr;
    engine::TimeMs m_shownWindowEnd = 0;
    std::uint64_t m_shownTotal = 0;
};

} // namespace adclick::ui
