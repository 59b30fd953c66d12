#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace adclick::app {

/// `adclick play FILE [--ci] [--speed S] [--pause-at-steps] [--screenshot PNG] [--quit-when-done]`:
/// plays a scenario in a window (SimPlayer) with its narrative as captions. Exit code: 0 when
/// the window closes (with --quit-when-done: every expectation held), 1 an expectation failed,
/// 2 bad command line or scenario file, 3 the run failed.
int runPlayCommand(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);

std::string playHelpText();

} // namespace adclick::app
