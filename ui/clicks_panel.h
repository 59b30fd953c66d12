#pragma once

#include "panel.h"
#include "provenance_chart.h"

#include <memory>

class QComboBox;
class QCompleter;
class QLabel;
class QLineEdit;
class QListWidget;
class QStringListModel;

namespace adclick::ui {

class SeriesFilters;

/// Clicks per minute of the chosen ads (search with completion over the engine's ad ids, up to
/// ProvenanceChart::kMaxAds ads), filtered by region / device / IP, each minute shaded by where
/// its count came from (batch, speed final, open). Re-queried on the pool at every status
/// (≥ 4 Hz) while shown, one query at a time; the GUI thread only draws the answers.
class ClicksPanel final : public Panel {
    Q_OBJECT
public:
    explicit ClicksPanel(PanelContext context, QWidget* parent = nullptr);
    void updateStatus(const EngineStatus& status) override;

    /// Adds an ad to the chosen ones (no-op if already there or full); false if not a valid id.
    bool addAd(engine::AdId ad);
    void removeAd(engine::AdId ad);
    std::vector<engine::AdId> ads() const { return m_ads; }
    SeriesFilters* filters() const { return m_filters; }
    QLineEdit* search() const { return m_search; }
    QCompleter* completer() const { return m_completer; }
    QStringListModel* completionModel() const { return m_completions; }
    const ProvenanceChart& chart() const { return *m_chart; }
    /// Sets the shown range to the last `minutes` minutes of event time (one of 15, 60, 180, 360).
    void setRangeMinutes(int minutes);

    /// What the chart shows: the query each answer came from.
    struct Query {
        std::vector<engine::AdId> ads;
        engine::TimeMs fromMs = 0;
        engine::TimeMs toMs = 0;
        engine::CountFilters filters;
    };
    const Query& shownQuery() const { return m_shownQuery; }
    const std::vector<engine::SeriesResult>& shownResults() const { return m_shownResults; }
    std::uint64_t answersReceived() const { return m_answers; }
    /// Queries now (off the GUI thread) unless one is already running.
    void refresh();

signals:
    void answered();

private:
    void updateCompletions(const QString& prefix);
    void addFromSearch();
    void rebuildList();

    QLineEdit* m_search = nullptr;
    QCompleter* m_completer = nullptr;
    QStringListModel* m_completions = nullptr;
    QListWidget* m_adList = nullptr;
    QComboBox* m_range = nullptr;
    SeriesFilters* m_filters = nullptr;
    QLabel* m_summary = nullptr;
    std::unique_ptr<ProvenanceChart> m_chart;
    std::vector<engine::AdId> m_ads;
    QStringList m_topAds;
    std::uint32_t m_adCount = 0;
    engine::TimeMs m_clockMs = 0;
    engine::TimeMs m_windowMs = 60000;
    Query m_shownQuery;
    std::vector<engine::SeriesResult> m_shownResults;
    bool m_busy = false;
    bool m_dirty = false;
    std::uint64_t m_answers = 0;
};

} // namespace adclick::ui
