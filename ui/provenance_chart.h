#pragma once

#include "chart_util.h"

#include "query/query_service.h"

#include <QAreaSeries>

#include <array>
#include <vector>

namespace adclick::ui {

/// Clicks per bucket (minute, or the hour/day a minute was rolled into) of one or more ads, drawn
/// as a stacked step area per provenance (batch, speed final, open, raw-log recount) — the
/// shading says where each minute's count came from — plus one line per ad at the bucket centres.
/// At most kMaxBuckets buckets are drawn (consecutive buckets are merged beyond that), so every
/// series stays ≤ 2,000 points. GUI thread only.
class ProvenanceChart final {
public:
    static constexpr std::size_t kMaxBuckets = 900;
    static constexpr std::size_t kMaxAds = 8; ///< lines drawn (the areas sum every ad)
    static constexpr int kSourceCount = 4; ///< batch, speed-final, open, raw-log

    explicit ProvenanceChart(const QString& title);
    QChartView* view() const { return m_view; }

    /// Replaces what is drawn by these answers (one per ad, same range). Failed answers draw nothing.
    void setResults(const std::vector<engine::SeriesResult>& results);

    /// The area of a provenance: upper minus lower at each bucket is that provenance's clicks.
    QAreaSeries* area(engine::SeriesSource source) const { return m_areas[static_cast<std::size_t>(source)]; }
    /// The line of the i-th ad drawn (x: bucket centre, epoch ms; y: clicks).
    QLineSeries* adLine(std::size_t i) const { return i < m_lines.size() ? m_lines[i] : nullptr; }
    /// Legend name of a provenance ("batch", "speed final", "open (partial)", "raw-log recount").
    static QString sourceLabel(engine::SeriesSource source);

private:
    QChart* m_chart = nullptr;
    QChartView* m_view = nullptr;
    QDateTimeAxis* m_x = nullptr;
    QValueAxis* m_y = nullptr;
    std::array<QAreaSeries*, kSourceCount> m_areas {};
    std::vector<QLineSeries*> m_lines;
};

} // namespace adclick::ui
