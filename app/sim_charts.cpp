#include "sim_charts.h"

#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QJsonArray>
#include <QLineSeries>
#include <QPixmap>
#include <QValueAxis>

#include <algorithm>
#include <limits>

namespace adclick::app {

namespace {
constexpr int kWidth = 900;
constexpr int kHeight = 420;

struct Line {
    QString name;
    int column;
    double scale = 1.0;
};

bool save(QChart* chart, const QString& path, QString& error)
{
    QChartView view(chart); // owns the chart
    view.setRenderHint(QPainter::Antialiasing);
    view.resize(kWidth, kHeight);
    chart->legend()->setAlignment(Qt::AlignBottom);
    if (!view.grab().save(path)) {
        error = "cannot write " + path;
        return false;
    }
    return true;
}

/// A line chart of columns of `rows` (arrays) against column xColumn (scaled by xScale).
QChart* lineChart(const QString& title, const QJsonArray& rows, int xColumn, double xScale, double xOrigin,
    const QString& xTitle, const QString& yTitle, const std::vector<Line>& lines)
{
    auto* chart = new QChart;
    chart->setTitle(title);
    auto* x = new QValueAxis;
    auto* y = new QValueAxis;
    x->setTitleText(xTitle);
    y->setTitleText(yTitle);
    x->setLabelFormat("%.0f");
    y->setLabelFormat("%.0f");
    chart->addAxis(x, Qt::AlignBottom);
    chart->addAxis(y, Qt::AlignLeft);
    double xMin = std::numeric_limits<double>::max(), xMax = std::numeric_limits<double>::lowest();
    double yMin = 0, yMax = 1;
    for (const Line& l : lines) {
        auto* s = new QLineSeries;
        s->setName(l.name);
        QList<QPointF> points;
        for (const QJsonValue& r : rows) {
            const QJsonArray a = r.toArray();
            const double v = a.at(l.column).toDouble() * l.scale;
            if (v < 0 && l.column == 5 && l.scale > 1) // precision −1: no top-K yet
                continue;
            const double xv = (a.at(xColumn).toDouble() - xOrigin) * xScale;
            points.append({ xv, v });
            xMin = std::min(xMin, xv);
            xMax = std::max(xMax, xv);
            yMin = std::min(yMin, v);
            yMax = std::max(yMax, v);
        }
        s->replace(points);
        chart->addSeries(s);
        s->attachAxis(x);
        s->attachAxis(y);
    }
    if (xMin > xMax)
        xMin = xMax = 0;
    x->setRange(xMin, std::max(xMax, xMin + 1));
    y->setRange(yMin, yMax * 1.08);
    y->applyNiceNumbers();
    return chart;
}

QString variantPrefix(const QJsonObject& series)
{
    for (auto it = series.begin(); it != series.end(); ++it)
        if (it.key().endsWith("minutes"))
            return it.key().left(it.key().size() - QStringLiteral("minutes").size());
    return {};
}
} // namespace

QStringList renderSimCharts(const QJsonObject& report, const QString& dir, QString& error)
{
    QStringList written;
    const QJsonObject series = report.value("series").toObject();
    const QJsonObject figures = report.value("figures").toObject();
    const QString prefix = variantPrefix(series); // the first variant's series
    const QJsonArray minutes = series.value(prefix + "minutes").toArray();
    const QJsonArray samples = series.value(prefix + "samples").toArray();
    const double origin = minutes.isEmpty() ? 0 : minutes.first().toArray().at(0).toDouble();
    const QString suffix = prefix.isEmpty() ? QString() : " (" + prefix.chopped(1) + ")";

    auto saveChart = [&](QChart* chart, const QString& name) {
        const QString path = dir + "/" + name;
        if (save(chart, path, error))
            written << path;
    };
    // The counts chart starts at the first minute with ≥ 1% of the busiest minute's clicks: late
    // clicks stamped before the run began would otherwise squeeze the run into the right edge.
    double busiest = 0;
    for (const QJsonValue& r : minutes)
        busiest = std::max(busiest, r.toArray().at(1).toDouble());
    QJsonArray busyMinutes;
    for (const QJsonValue& r : minutes)
        if (!busyMinutes.isEmpty() || r.toArray().at(1).toDouble() >= busiest / 100)
            busyMinutes.append(r);
    saveChart(lineChart("Clicks per minute of event time: truth (oracle), speed, batch (lines overlap where they agree)"
                      + suffix,
                  busyMinutes, 0, 1.0 / 60000, origin, "event-time minute", "clicks",
                  { { "truth", 1 }, { "speed", 2 }, { "batch", 3 } }),
        "counts.png");
    saveChart(lineChart("Gap per minute: dropped as late (explained) vs unexplained" + suffix, minutes, 0, 1.0 / 60000,
                  origin, "event-time minute", "clicks",
                  { { "late-dropped by the speed layer", 4 }, { "unexplained (batch − speed − known causes)", 5 } }),
        "gap.png");
    saveChart(lineChart("Watermark lag behind processing time" + suffix, samples, 0, 1.0 / 60000, 0,
                  "processing time (minutes)", "lag (seconds)", { { "processing time − watermark", 1, 0.001 } }),
        "watermark.png");
    saveChart(lineChart("Top-10 of the last minute: Count-Min vs exact" + suffix, samples, 0, 1.0 / 60000, 0,
                  "processing time (minutes)", "clicks / percent",
                  { { "precision (%)", 5, 100.0 }, { "max CMS error (clicks)", 6 }, { "bound ε·N (clicks)", 7 } }),
        "topk.png");

    const QJsonArray shardSamples = series.value(prefix + "shard_samples").toArray();
    if (!shardSamples.isEmpty()) {
        const int shards = figures.value(prefix + "shard_model_shards").toInt();
        saveChart(
            lineChart(
                QString("Top-10 over %1 shards not partitioned by ad (TPUT and full merge overlap at 100%)").arg(shards)
                    + suffix,
                shardSamples, 0, 1.0 / 60000, 0, "processing time (minutes)", "precision % / clicks",
                { { "naive precision %", 1, 100.0 }, { "naive max count error", 5 }, { "TPUT precision %", 2, 100.0 },
                    { "full merge precision %", 3, 100.0 } }),
            "shards.png");
    }

    const QJsonArray retention = series.value(prefix + "retention").toArray();
    if (!retention.isEmpty())
        saveChart(lineChart("Retention: age of the oldest data kept, and the raw log's size" + suffix, retention, 0,
                      1.0 / 86400000, 0, "processing time (days)", "days / MB",
                      { { "oldest raw event (days)", 2 }, { "oldest minute row (days)", 3 },
                          { "oldest hour/day rollup (days)", 4 }, { "raw log size (MB)", 1 } }),
            "retention.png");

    // Variants side by side: completeness and result latency.
    QStringList names;
    for (auto it = series.begin(); it != series.end(); ++it)
        if (it.key().endsWith(".minutes"))
            names << it.key().chopped(QStringLiteral(".minutes").size());
    if (!names.isEmpty()) {
        auto* chart = new QChart;
        chart->setTitle("Variants side by side");
        auto* completeness = new QBarSet("speed-layer completeness (% of true clicks)");
        auto* latency = new QBarSet("mean result latency (s: watermark lag)");
        double highest = 100;
        for (const QString& n : names) {
            *completeness << figures.value(n + ".completeness").toDouble() * 100.0;
            *latency << figures.value(n + ".mean_watermark_lag_ms").toDouble() / 1000.0;
            highest
                = std::max({ highest, completeness->at(completeness->count() - 1), latency->at(latency->count() - 1) });
        }
        auto* bars = new QBarSeries;
        bars->append(completeness);
        bars->append(latency);
        bars->setLabelsVisible(true);
        bars->setLabelsFormat("@value");
        chart->addSeries(bars);
        auto* x = new QBarCategoryAxis;
        x->append(names);
        auto* y = new QValueAxis;
        y->setRange(0, highest * 1.1); // no bar clipped: a latency may exceed 100 s
        chart->addAxis(x, Qt::AlignBottom);
        chart->addAxis(y, Qt::AlignLeft);
        bars->attachAxis(x);
        bars->attachAxis(y);
        saveChart(chart, "variants.png");
    }
    return written;
}

} // namespace adclick::app
