#pragma once

#include "panel.h"
#include "provenance_chart.h"
#include "table_model.h"

#include <memory>

class QDateTimeEdit;
class QLabel;
class QLineEdit;
class QPushButton;
class QStringListModel;

namespace adclick::ui {

class SeriesFilters;

/// The analysts' view: one ad, a time range (from/to, local time) and filters → the clicks per
/// bucket as a provenance-shaded chart and as a table (UTC bucket start, epoch ms, size, clicks,
/// provenance), exported with "Export CSV…". Runs on request, off the GUI thread.
class ExplorePanel final : public Panel {
    Q_OBJECT
public:
    explicit ExplorePanel(PanelContext context, QWidget* parent = nullptr);
    void updateStatus(const EngineStatus& status) override;

    /// Sets the inputs (as a user would) and runs the query.
    void explore(engine::AdId ad, engine::TimeMs fromMs, engine::TimeMs toMs);
    /// Runs the query of the current inputs (off the GUI thread); false with the reason shown if
    /// the inputs are not valid or one is running.
    bool run();
    /// Writes the table as CSV (RFC 4180, header line first); false with `error` set on failure.
    bool exportCsv(const QString& path, QString* error = nullptr) const;

    SeriesFilters* filters() const { return m_filters; }
    TableModel* model() const { return m_model; }
    const ProvenanceChart& chart() const { return *m_chart; }
    const engine::SeriesResult& result() const { return m_result; }
    std::uint64_t answersReceived() const { return m_answers; }

signals:
    void answered();

private:
    void show(const engine::SeriesResult& r);
    void exportWithDialog();

    QLineEdit* m_ad = nullptr;
    QStringListModel* m_completions = nullptr;
    QDateTimeEdit* m_from = nullptr;
    QDateTimeEdit* m_to = nullptr;
    SeriesFilters* m_filters = nullptr;
    QPushButton* m_run = nullptr;
    QPushButton* m_export = nullptr;
    QLabel* m_summary = nullptr;
    std::unique_ptr<ProvenanceChart> m_chart;
    TableModel* m_model = nullptr;
    engine::SeriesResult m_result;
    QStringList m_topAds;
    std::uint32_t m_adCount = 0;
    bool m_rangeSet = false;
    bool m_busy = false;
    std::uint64_t m_answers = 0;
};

} // namespace adclick::ui
