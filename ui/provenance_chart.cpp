#include "provenance_chart.h"

#include <QDateTime>

#include <algorithm>

namespace adclick::ui {

using namespace adclick::engine;

namespace {
const std::array<QColor, ProvenanceChart::kSourceCount> kSourceColours {
    QColor(0x2c, 0xa0, 0x2c, 150), // batch
    QColor(0x1f, 0x77, 0xb4, 130), // speed final
    QColor(0xff, 0xbf, 0x3f, 170), // open
    QColor(0x94, 0x67, 0xbd, 140), // raw log
};
const std::array<QColor, ProvenanceChart::kMaxAds> kLineColours {
    QColor(0x11, 0x11, 0x11),
    QColor(0xd6, 0x27, 0x28),
    QColor(0x8c, 0x56, 0x4b),
    QColor(0xe3, 0x77, 0xc2),
    QColor(0x7f, 0x7f, 0x7f),
    QColor(0x17, 0xbe, 0xcf),
    QColor(0xbc, 0xbd, 0x22),
    QColor(0x39, 0x3b, 0x79),
};
} // namespace

QString ProvenanceChart::sourceLabel(SeriesSource source)
{
    switch (source) {
    case SeriesSource::Batch:
        return QObject::tr("batch");
    case SeriesSource::SpeedFinal:
        return QObject::tr("speed final");
    case SeriesSource::Open:
        return QObject::tr("open (partial)");
    case SeriesSource::RawLog:
        return QObject::tr("raw-log recount");
    }
    return {};
}

ProvenanceChart::ProvenanceChart(const QString& title)
{
    m_chart = new QChart;
    m_view = makeChartView(m_chart, title);
    m_x = addTimeAxis(m_chart, QStringLiteral("HH:mm"));
    m_y = addValueAxis(m_chart, QObject::tr("clicks per minute"));
    for (int s = 0; s < kSourceCount; ++s) {
        auto* upper = new QLineSeries(m_chart);
        auto* lower = new QLineSeries(m_chart);
        auto* area = new QAreaSeries(upper, lower);
        area->setName(sourceLabel(static_cast<SeriesSource>(s)));
        area->setColor(kSourceColours[static_cast<std::size_t>(s)]);
        area->setBorderColor(kSourceColours[static_cast<std::size_t>(s)].darker(130));
        m_chart->addSeries(area);
        area->attachAxis(m_x);
        area->attachAxis(m_y);
        m_areas[static_cast<std::size_t>(s)] = area;
    }
    for (std::size_t i = 0; i < kMaxAds; ++i) {
        QLineSeries* line = addLine(m_chart, QString(), m_x, m_y, kLineColours[i]);
        line->setVisible(false);
        m_lines.push_back(line);
    }
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    m_x->setRange(QDateTime::fromMSecsSinceEpoch(now - 3600000), QDateTime::fromMSecsSinceEpoch(now));
}

void ProvenanceChart::setResults(const std::vector<SeriesResult>& results)
{
    // Buckets of the first good answer define the x positions; every answer has the same range.
    const SeriesResult* first = nullptr;
    for (const auto& r : results)
        if (r.ok() && !r.points.empty()) {
            first = &r;
            break;
        }
    for (std::size_t i = 0; i < m_lines.size(); ++i) {
        m_lines[i]->clear();
        m_lines[i]->setVisible(false);
    }
    if (!first) {
        for (auto* a : m_areas) {
            a->upperSeries()->clear();
            a->lowerSeries()->clear();
        }
        return;
    }
    const std::size_t n = first->points.size();
    const std::size_t merge = (n + kMaxBuckets - 1) / kMaxBuckets; // buckets per drawn bucket
    const std::size_t drawn = (n + merge - 1) / merge;
    std::vector<double> startX(drawn), endX(drawn);
    for (std::size_t b = 0; b < drawn; ++b) {
        const auto& lo = first->points[b * merge];
        const auto& hi = first->points[std::min(n, (b + 1) * merge) - 1];
        startX[b] = static_cast<double>(lo.startMs);
        endX[b] = static_cast<double>(hi.startMs + hi.sizeMs);
    }
    std::vector<std::array<double, kSourceCount>> bySource(drawn, std::array<double, kSourceCount> {});
    std::size_t lineIndex = 0;
    for (const auto& r : results) {
        if (!r.ok() || r.points.size() != n)
            continue;
        std::vector<double> perBucket(drawn, 0.0);
        for (std::size_t p = 0; p < n; ++p) {
            const std::size_t b = p / merge;
            const double c = static_cast<double>(r.points[p].count);
            perBucket[b] += c;
            bySource[b][static_cast<std::size_t>(r.points[p].source)] += c;
        }
        if (lineIndex < m_lines.size()) {
            QList<QPointF> pts;
            pts.reserve(static_cast<qsizetype>(drawn));
            for (std::size_t b = 0; b < drawn; ++b)
                pts.append(QPointF((startX[b] + endX[b]) / 2, perBucket[b]));
            QLineSeries* line = m_lines[lineIndex++];
            line->replace(pts);
            line->setName(QObject::tr("ad %1").arg(r.adId));
            line->setVisible(true);
        }
    }
    // Stacked in source order: each area lies on the one below it, as steps over its bucket.
    std::vector<double> base(drawn, 0.0);
    double maxY = 1;
    for (int s = 0; s < kSourceCount; ++s) {
        QList<QPointF> upper, lower;
        upper.reserve(static_cast<qsizetype>(2 * drawn));
        lower.reserve(static_cast<qsizetype>(2 * drawn));
        for (std::size_t b = 0; b < drawn; ++b) {
            const double top = base[b] + bySource[b][static_cast<std::size_t>(s)];
            lower.append(QPointF(startX[b], base[b]));
            lower.append(QPointF(endX[b], base[b]));
            upper.append(QPointF(startX[b], top));
            upper.append(QPointF(endX[b], top));
            base[b] = top;
            maxY = std::max(maxY, top);
        }
        m_areas[static_cast<std::size_t>(s)]->lowerSeries()->replace(lower);
        m_areas[static_cast<std::size_t>(s)]->upperSeries()->replace(upper);
    }
    for (const QLineSeries* line : m_lines)
        if (line->isVisible())
            for (const QPointF& p : line->points())
                maxY = std::max(maxY, p.y());
    m_x->setRange(QDateTime::fromMSecsSinceEpoch(static_cast<qint64>(startX.front())),
        QDateTime::fromMSecsSinceEpoch(static_cast<qint64>(endX.back())));
    m_y->setRange(0, maxY * 1.1);
}

} // namespace adclick::ui
