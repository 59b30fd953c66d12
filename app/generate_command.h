#pragma once

#include "run_options.h"

#include <cstdio>

namespace adclick::app {

/// `adclick generate`: writes the synthetic generator's records as NDJSON of the seed schema
/// (malformed records included, exactly as the generator would feed them), so analysts and
/// teachers get a file to replay with `adclick run --source file`. Returns the exit code.
int runGenerateCommand(const RunOptions& options, std::FILE* out, std::FILE* err);

} // namespace adclick::app
