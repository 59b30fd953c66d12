#pragma once

namespace adclick::app {

/// Entry point of the `adclick` executable: dispatches the subcommand. Returns the exit code
/// (0 ok, 1 runtime failure, 2 usage error).
int runCli(int argc, char** argv);

} // namespace adclick::app
