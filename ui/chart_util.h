#pragma once

#include <QChart>
#include <QChartView>
#include <QDateTimeAxis>
#include <QLineSeries>
#include <QList>
#include <QPointF>
#include <QValueAxis>

#include <cstddef>
#include <deque>

namespace adclick::ui {

/// Points kept per series: a fixed bound, so memory does not grow with uptime.
inline constexpr std::size_t kMaxSeriesPoints = 2000;

/// A fixed-size ring of points drawn with QXYSeries::replace() (Qt's audio example), never an
/// unbounded append. GUI thread only.
class RingSeries {
public:
    explicit RingSeries(QLineSeries* series, std::size_t capacity = kMaxSeriesPoints)
        : m_series(series)
        , m_capacity(capacity)
    {
    }
    void add(double x, double y)
    {
        m_points.emplace_back(x, y);
        while (m_points.size() > m_capacity)
            m_points.pop_front();
    }
    void clear() { m_points.clear(); }
    /// Changes the newest point's y (a running count for the current bucket).
    void setLastY(double y)
    {
        if (!m_points.empty())
            m_points.back().setY(y);
    }
    /// Pushes the ring into the series.
    void flush() { m_series->replace(QList<QPointF>(m_points.begin(), m_points.end())); }
    const std::deque<QPointF>& points() const { return m_points; }
    QLineSeries* series() const { return m_series; }

private:
    QLineSeries* m_series;
    std::size_t m_capacity;
    std::deque<QPointF> m_points;
};

/// A chart view with antialiasing, a title and the legend at the bottom.
QChartView* makeChartView(QChart* chart, const QString& title);
/// A time x axis (local time, HH:mm:ss) attached at the bottom.
QDateTimeAxis* addTimeAxis(QChart* chart, const QString& format = QStringLiteral("HH:mm:ss"));
QValueAxis* addValueAxis(QChart* chart, const QString& title, Qt::Alignment alignment = Qt::AlignLeft);
QLineSeries* addLine(QChart* chart, const QString& name, QAbstractAxis* x, QAbstractAxis* y, const QColor& color);
/// y range [0, a round number ≥ max·1.05] (at least [0, 1]) over the given rings. Set only when it
/// changes: every range change relabels the axis (a text layout per label, on the GUI thread).
void fitValueAxis(QValueAxis* axis, std::initializer_list<const RingSeries*> rings);
/// The smallest m × 10^k ≥ v (v > 0), m one of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8: a round axis
/// maximum the data fills to at least 80 %.
double niceCeil(double v);
/// Sets a time axis to cover [fromMs, toMs], widened outwards to whole steps (≥ 1 s, about 1/50 of the
/// span) so that a scrolling chart relabels its axis once per step instead of at every refresh.
void followTimeAxis(QDateTimeAxis* axis, double fromMs, double toMs);
/// Sets a value axis range only if it differs.
void setRangeIfChanged(QValueAxis* axis, double lo, double hi);
/// "12,345" / "1.2 M" style number for labels.
QString formatCount(double v);
/// "1.2 s", "3 min 20 s", "2 h 05 min".
QString formatDuration(double ms);
/// Local date-time text of epoch ms ("—" for kMinTimeMs).
QString formatTime(std::int64_t epochMs, bool withDate = false);

} // namespace adclick::ui
