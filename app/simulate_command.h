#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace adclick::app {

/// `adclick simulate FILE [--report DIR] [--ci] [--no-charts] [--keep-data]`: runs a scenario
/// (simulations/README.md) headless on a virtual clock, prints its narrative, writes report.json
/// (deterministic: same file → same bytes), timings.json (wall-clock) and PNG charts into the
/// report directory. Exit code 0 when every expectation holds, 1 when one fails (each failure
/// named with its actual value), 2 for a bad command line or scenario file, 3 when the run itself
/// failed.
int runSimulateCommand(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);

/// The --help text.
std::string simulateHelpText();

} // namespace adclick::app
