#pragma once

#include <QJsonObject>
#include <QString>

namespace adclick::app {

/// Renders a finished simulation's charts as PNG files in `dir` with Qt Charts (needs a
/// QApplication; the offscreen platform works without a display): counts.png (truth, speed and
/// batch clicks per minute of event time), gap.png (late-dropped and unexplained per minute),
/// watermark.png (watermark lag over processing time), topk.png (top-K precision and Count-Min
/// error vs its ε·N bound) and, for scenarios with variants, variants.png (completeness and
/// result latency per variant). Returns the files written, or an error message in `error`.
QStringList renderSimCharts(const QJsonObject& report, const QString& dir, QString& error);

} // namespace adclick::app
