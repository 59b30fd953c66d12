#pragma once

// Shared by the dashboard tests (tst_dashboard, tst_dashboard_series).

#include "dashboard_settings.h"

#include <QByteArray>
#include <QDir>
#include <QImage>
#include <QSet>
#include <QString>

namespace adclick::ui::test {

/// Where the tests save panel PNGs: <build>/ui-artifacts.
inline QString artifactDir()
{
    const QByteArray bin = qgetenv("ADCLICK_BINARY_DIR");
    const QString dir = (bin.isEmpty() ? QDir::currentPath() : QString::fromLocal8Bit(bin)) + "/ui-artifacts";
    QDir().mkpath(dir);
    return dir;
}

/// A fast, small world: minutes become final within seconds of wall time.
inline DashboardSettings quickSettings(const QString& dir)
{
    DashboardSettings s;
    s.dataDirectory = dir.toStdString();
    s.generator.ratePerSec = 2000;
    s.generator.adCount = 300;
    s.generator.lateFraction = 0.02;
    s.generator.lateDelayMeanMs = 20000;
    s.generator.lateDelayMaxMs = 120000;
    s.pipeline.watermark.boundMs = 5000;
    s.checkpoints.intervalMs = 2000;
    s.batchSchedule.intervalMs = 0; // only the runs the test asks for
    s.speed = 100;
    return s;
}

/// A rendered panel has many colours; a blank grab has one or two.
inline bool looksDrawn(const QImage& image)
{
    QSet<QRgb> colours;
    for (int y = 0; y < image.height(); y += 7)
        for (int x = 0; x < image.width(); x += 7)
            colours.insert(image.pixel(x, y));
    return colours.size() > 8;
}

} // namespace adclick::ui::test
