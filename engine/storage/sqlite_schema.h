#pragma once

#include "core/time_units.h"
#include "storage/sqlite_handle.h"

#include <cstdint>
#include <span>

namespace adclick::engine {

/// One numbered schema change: a script of SQL statements applied in one transaction and
/// recorded in schema_version(version, applied_at_ms). Versions are 1, 2, … with no gaps.
struct SqliteMigration {
    int version = 0;
    const char* name = "";
    const char* sql = "";
};

/// The store's numbered migrations. A migration, once released, is never edited: a schema
/// change is a new entry at the end.
class SqliteSchema {
public:
    /// PRAGMA application_id of an adclick database ("ADC1").
    static constexpr std::int32_t kApplicationId = 0x41444331;

    static std::span<const SqliteMigration> migrations();
    static int latestVersion();

    /// The highest version recorded in schema_version; 0 for a database without that table.
    /// Fails for a file that has tables but is not an adclick database.
    static SqliteStatus readVersion(SqliteDb& db, int& version);

    /// Applies every migration above the recorded version, each in its own BEGIN IMMEDIATE
    /// transaction (the version is re-read inside it, so two processes opening a new file at
    /// once apply each migration once). A file whose version is newer than latestVersion() is
    /// refused with a clear message and left untouched. `version` is the version afterwards.
    static SqliteStatus migrate(SqliteDb& db, TimeMs nowMs, int& version);
};

} // namespace adclick::engine
