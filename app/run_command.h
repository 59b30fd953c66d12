#pragma once

#include "run_options.h"

#include <cstdio>

namespace adclick::app {

/// `adclick run`: the speed layer headless. Returns the process exit code
/// (0 done, 1 runtime failure such as an unreadable input file).
int runRunCommand(const RunOptions& options, std::FILE* out, std::FILE* err);

} // namespace adclick::app
