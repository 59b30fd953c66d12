#pragma once

#include "batch/batch_job.h"

#include <cstdio>
#include <string>
#include <vector>

namespace adclick::app {

/// `adclick batch [--from T] [--to T] [--data-dir D] [--threads N] [--json]`: recounts a range of
/// the raw click log into the batch view (replacing that range), showing progress on stderr, and
/// prints what it counted. Returns the exit code (0 done, 1 failed or cancelled, 2 bad arguments).
int runBatchCommand(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);

/// A batch run's result as text lines (also used by `adclick run` for its scheduled recounts);
/// the JSON form is api_json.h's batchRunJson.
std::string batchRunText(const engine::BatchJobResult& result);

} // namespace adclick::app
