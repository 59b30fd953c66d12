#pragma once

#include <QApplication>

#include <memory>

namespace adclick::app {

/// The QApplication a command with windows or charts needs: nullptr when one exists already (the
/// tests', or the caller's), else a new one for `adclick` (keep it alive while it is used).
/// offscreenWithoutDisplay: with neither DISPLAY, WAYLAND_DISPLAY nor QT_QPA_PLATFORM set, use the
/// offscreen platform (charts rendered to files). A missing XDG_RUNTIME_DIR gets a private one,
/// else Qt warns on every run.
std::unique_ptr<QApplication> ensureGuiApplication(bool offscreenWithoutDisplay);

} // namespace adclick::app
