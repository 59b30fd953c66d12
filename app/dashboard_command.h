#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace adclick::app {

/// `adclick dashboard [--listen HOST:PORT] [run options]` (and `adclick` alone with a display):
/// the desktop dashboard, with the REST API of `adclick serve` in the same process. Without run
/// options the controls come back as they were left (QSettings). A busy port is a warning.
/// Returns when the window closes (after the final checkpoint): 0, or 2 on bad options.
int runDashboardCommand(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);
std::string dashboardHelpText();

/// True when a windowing system is reachable ($DISPLAY, $WAYLAND_DISPLAY or $QT_QPA_PLATFORM set).
bool haveDisplay();

} // namespace adclick::app
