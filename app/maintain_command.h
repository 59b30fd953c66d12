#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace adclick::app {

/// `adclick maintain [--data-dir D] [--now T] [retention options]`: runs the rollup (minutes →
/// hours → days) and retention (aggregates and raw log segments) now, on demand, and prints what
/// it did. T (epoch ms or ISO-8601 UTC) defaults to the processing time of the store's last
/// checkpoint, so a store written in virtual time is judged by its own clock. Returns the exit code.
int runMaintainCommand(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);

} // namespace adclick::app
