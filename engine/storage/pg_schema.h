#pragma once

#include "core/time_units.h"
#include "storage/pg_connection.h"

#include <span>
#include <string>

namespace adclick::engine {

/// One numbered schema change of the PostgreSQL store (as SqliteMigration): applied in one
/// transaction and recorded in schema_version. Released migrations are never edited.
struct PgMigration {
    int version = 0;
    const char* name = "";
    const char* sql = "";
};

/// The PostgreSQL store's schema: the SQLite store's tables (the same names, columns and
/// meaning) made for several adclick instances sharing one database:
/// - speed_minute rows are kept per source partition (source_partition), each ABSOLUTE for what
///   that partition's owner counted; a query sums the partitions. A cell fed by several
///   partitions (a topic not keyed by ad id) is then still exact, and a partition that moves to
///   another instance keeps its rows.
/// - partition_checkpoint replaces the single checkpoint row: per (source, partition) the next
///   offset, the partition's pipeline state, its owner and the owner's epoch (fencing: a write
///   from an owner that lost the partition is refused in the same transaction).
/// - instance: the instances, their partitions and figures (for /v1/pipeline and dashboards).
class PgSchema {
public:
    static std::span<const PgMigration> migrations();
    static int latestVersion();
    /// Applies every migration above the recorded version. Instances starting at once serialise
    /// on an advisory lock, so each migration is applied once. A database whose version is
    /// newer than latestVersion() is refused and left untouched. `version` is the version after.
    static bool migrate(PgConnection& c, TimeMs nowMs, int& version, std::string& error);
    /// The advisory lock key of schema migrations ('adcm'); batch runs use kBatchLockKey.
    static constexpr std::int64_t kMigrationLockKey = 0x6164636d;
    /// The advisory lock key held by the instance running the batch layer ('adcb').
    static constexpr std::int64_t kBatchLockKey = 0x61646362;
    /// Taken inside a rollup's transaction ('adcr'): one rollup at a time.
    static constexpr std::int64_t kRollupLockKey = 0x61646372;
};

} // namespace adclick::engine
