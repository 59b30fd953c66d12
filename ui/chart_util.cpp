#include "chart_util.h"

#include "core/time_units.h"

#include <QDateTime>
#include <QLocale>
#include <QPainter>

#include <algorithm>
#include <cmath>

namespace adclick::ui {

QChartView* makeChartView(QChart* chart, const QString& title)
{
    chart->setTitle(title);
    chart->legend()->setAlignment(Qt::AlignBottom);
    chart->setAnimationOptions(QChart::NoAnimation);
    chart->setMargins(QMargins(4, 4, 4, 4));
    auto* view = new QChartView(chart);
    view->setRenderHint(QPainter::Antialiasing);
    view->setMinimumSize(280, 180);
    return view;
}

QDateTimeAxis* addTimeAxis(QChart* chart, const QString& format)
{
    auto* axis = new QDateTimeAxis;
    axis->setFormat(format);
    axis->setTickCount(6);
    chart->addAxis(axis, Qt::AlignBottom);
    return axis;
}

QValueAxis* addValueAxis(QChart* chart, const QString& title, Qt::Alignment alignment)
{
    auto* axis = new QValueAxis;
    axis->setTitleText(title);
    axis->setLabelFormat(QStringLiteral("%.0f"));
    axis->setMin(0);
    chart->addAxis(axis, alignment);
    return axis;
}

QLineSeries* addLine(QChart* chart, const QString& name, QAbstractAxis* x, QAbstractAxis* y, const QColor& color)
{
    auto* series = new QLineSeries;
    series->setName(name);
    series->setUseOpenGL(false);
    QPen pen(color);
    pen.setWidthF(1.8);
    series->setPen(pen);
    chart->addSeries(series);
    series->attachAxis(x);
    series->attachAxis(y);
    return series;
}

double niceCeil(double v)
{
    if (!(v > 0) || !std::isfinite(v))
        return 1;
    const double p = std::pow(10.0, std::floor(std::log10(v)));
    for (double m : { 1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0 })
        if (m * p >= v * (1 - 1e-12))
            return m * p;
    return 10 * p;
}

void setRangeIfChanged(QValueAxis* axis, double lo, double hi)
{
    if (axis->min() != lo || axis->max() != hi)
        axis->setRange(lo, hi);
}

void fitValueAxis(QValueAxis* axis, std::initializer_list<const RingSeries*> rings)
{
    double max = 0;
    for (const RingSeries* r : rings)
        for (const QPointF& p : r->points())
            max = std::max(max, p.y());
    setRangeIfChanged(axis, 0, niceCeil(std::max(1.0, max * 1.05)));
}

void followTimeAxis(QDateTimeAxis* axis, double fromMs, double toMs)
{
    const double step = niceCeil(std::max(1000.0, (toMs - fromMs) / 50.0));
    const auto lo = static_cast<qint64>(std::floor(fromMs / step) * step);
    const auto hi = static_cast<qint64>(std::max(std::ceil(toMs / step) * step, static_cast<double>(lo) + step));
    if (axis->min().toMSecsSinceEpoch() != lo || axis->max().toMSecsSinceEpoch() != hi)
        axis->setRange(QDateTime::fromMSecsSinceEpoch(lo), QDateTime::fromMSecsSinceEpoch(hi));
}

QString formatCount(double v)
{
    const double a = std::fabs(v);
    if (a >= 1e9)
        return QString::number(v / 1e9, 'f', 2) + QStringLiteral(" G");
    if (a >= 1e6)
        return QString::number(v / 1e6, 'f', 2) + QStringLiteral(" M");
    if (a >= 1e4)
        return QString::number(v / 1e3, 'f', 1) + QStringLiteral(" K");
    return QLocale::system().toString(static_cast<qlonglong>(std::llround(v)));
}

QString formatDuration(double ms)
{
    if (!std::isfinite(ms))
        return QStringLiteral("—");
    const QString sign = ms < 0 ? QStringLiteral("−") : QString();
    ms = std::fabs(ms);
    if (ms < 1000)
        return sign + QString::number(ms, 'f', 0) + QStringLiteral(" ms");
    const double s = ms / 1000.0;
    if (s < 60)
        return sign + QString::number(s, 'f', 1) + QStringLiteral(" s");
    const auto total = static_cast<long long>(s);
    if (total < 3600)
        return sign + QStringLiteral("%1 min %2 s").arg(total / 60).arg(total % 60, 2, 10, QLatin1Char('0'));
    if (total < 86400)
        return sign + QStringLiteral("%1 h %2 min").arg(total / 3600).arg((total % 3600) / 60, 2, 10, QLatin1Char('0'));
    return sign + QStringLiteral("%1 d %2 h").arg(total / 86400).arg((total % 86400) / 3600);
}

QString formatTime(std::int64_t epochMs, bool withDate)
{
    if (epochMs <= engine::kMinTimeMs)
        return QStringLiteral("—");
    return QDateTime::fromMSecsSinceEpoch(epochMs).toString(
        withDate ? QStringLiteral("yyyy-MM-dd HH:mm:ss") : QStringLiteral("HH:mm:ss"));
}

} // namespace adclick::ui
