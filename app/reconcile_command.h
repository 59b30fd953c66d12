#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace adclick::app {

/// `adclick reconcile --from T --to T [--data-dir D] [--json] [--limit N]`: compares the speed and
/// batch counts of every (ad, minute) of the range in the data directory and prints the gap split
/// into its causes and the unexplained rest (engine::reconcile). T is epoch ms or ISO-8601 with a
/// zone. Exit code 0 when the reconciliation ran (whatever gaps it found), 1 when it could not
/// (no store, an empty range), 2 for bad arguments.
int runReconcileCommand(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);

} // namespace adclick::app
