#pragma once

#include "serve_command.h"

#include <cstdio>
#include <string>

namespace adclick::app {

/// True for a PostgreSQL URL ("postgresql://…" or "postgres://…").
bool isPostgresStoreUrl(const std::string& url);

/// Checks the scale-out options of `adclick serve` (--store, --instance-id, --shared-dir) against
/// the rest: a PostgreSQL store needs the Kafka source and a shared directory; --instance-id and
/// --shared-dir need a PostgreSQL store. Empty when fine, else a one-line error.
std::string validateScaleServeOptions(const ServeOptions& options);

/// `adclick serve --store postgresql://…`: one instance of a scale-out deployment
/// (docs/SCALE-OUT.md). A PartitionedIngest on an ingest thread consumes the partitions the Kafka
/// group assigns to this instance and checkpoints them to the shared store; the REST API
/// (PgRestServer) answers from the shared store for the whole deployment. SIGINT/SIGTERM: stop
/// accepting, final checkpoint of every owned partition, leave the group, exit 0 (3 when
/// ingestion failed, 1 when it could not start). Prints "listening on http://HOST:PORT" on `out`.
int runScaleServe(const ServeOptions& options, std::FILE* out, std::FILE* err);

} // namespace adclick::app
