#pragma once

#include "run_options.h"

#include <QByteArray>
#include <QHostAddress>

#include <cstdio>
#include <string>
#include <vector>

namespace adclick::app {

/// `adclick serve`: the pipeline of `adclick run` plus the REST API, headless.
struct ServeOptions {
    RunOptions run; ///< every `adclick run` option
    QHostAddress address = QHostAddress::LocalHost;
    quint16 port = 8080; ///< 0: the OS picks one (printed)
    bool explicitListen = false;
    QByteArray apiToken; ///< --api-token or $ADCLICK_API_TOKEN; empty = no authentication
    /// Scale-out (docs/SCALE-OUT.md): --store postgresql://… (libpq URL) runs this instance as one
    /// member of a Kafka consumer group sharing a PostgreSQL store (scale_serve.h). Empty: SQLite.
    std::string storeUrl;
    std::string instanceId; ///< --instance-id (PostgreSQL store; default HOST:PORT of the API)
    std::string sharedDir; ///< --shared-dir: raw logs of every partition (PostgreSQL store; required)
};

struct ParsedServe {
    ServeOptions options;
    std::string error; ///< empty on success
    bool help = false;
};

/// Parses the arguments after `serve`. `environmentToken` is $ADCLICK_API_TOKEN (may be null).
ParsedServe parseServeOptions(const std::vector<std::string>& args, const char* environmentToken);
std::string serveHelpText();

/// Runs the server until SIGINT/SIGTERM: then it stops accepting connections, stops ingestion,
/// takes the final checkpoint and returns 0 (3 if the final checkpoint failed, 1 if it could not
/// start). Prints "listening on http://HOST:PORT" on `out` once the port is bound.
int runServeCommand(const ServeOptions& options, std::FILE* out, std::FILE* err);

} // namespace adclick::app
