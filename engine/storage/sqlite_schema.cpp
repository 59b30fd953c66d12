#include "storage/sqlite_schema.h"

#include <sqlite3.h>

#include <array>
#include <optional>
#include <string>

namespace adclick::engine {

namespace {

// Times are epoch milliseconds; country is the packed 16-bit CountryCode, device the
// DeviceClass value. Minute tables share one column layout so speed and batch code is shared;
// rollup tables keep only the additive columns. Each time-keyed table has an index on its time
// column for the range scans across ads (retention deletes, rollups, queries by time).
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE schema_version(
    version INTEGER PRIMARY KEY,
    applied_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE ads(
    ad_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
) STRICT;

CREATE TABLE speed_minute(
    ad_id INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    country INTEGER NOT NULL,
    device INTEGER NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    late_updated INTEGER NOT NULL DEFAULT 0,
    late_dropped INTEGER NOT NULL DEFAULT 0,
    revision INTEGER NOT NULL DEFAULT 0,
    final INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY(ad_id, window_start, country, device)
) STRICT, WITHOUT ROWID;
CREATE INDEX speed_minute_by_time ON speed_minute(window_start);

CREATE TABLE batch_minute(
    ad_id INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    country INTEGER NOT NULL,
    device INTEGER NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    late_updated INTEGER NOT NULL DEFAULT 0,
    late_dropped INTEGER NOT NULL DEFAULT 0,
    revision INTEGER NOT NULL DEFAULT 0,
    final INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY(ad_id, window_start, country, device)
) STRICT, WITHOUT ROWID;
CREATE INDEX batch_minute_by_time ON batch_minute(window_start);

CREATE TABLE speed_hour(
    ad_id INTEGER NOT NULL, bucket_start INTEGER NOT NULL, country INTEGER NOT NULL, device INTEGER NOT NULL,
    count INTEGER NOT NULL DEFAULT 0, late_updated INTEGER NOT NULL DEFAULT 0, late_dropped INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY(ad_id, bucket_start, country, device)
) STRICT, WITHOUT ROWID;
CREATE INDEX speed_hour_by_time ON speed_hour(bucket_start);

CREATE TABLE speed_day(
    ad_id INTEGER NOT NULL, bucket_start INTEGER NOT NULL, country INTEGER NOT NULL, device INTEGER NOT NULL,
    count INTEGER NOT NULL DEFAULT 0, late_updated INTEGER NOT NULL DEFAULT 0, late_dropped INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY(ad_id, bucket_start, country, device)
) STRICT, WITHOUT ROWID;
CREATE INDEX speed_day_by_time ON speed_day(bucket_start);

CREATE TABLE batch_hour(
    ad_id INTEGER NOT NULL, bucket_start INTEGER NOT NULL, country INTEGER NOT NULL, device INTEGER NOT NULL,
    count INTEGER NOT NULL DEFAULT 0, late_updated INTEGER NOT NULL DEFAULT 0, late_dropped INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY(ad_id, bucket_start, country, device)
) STRICT, WITHOUT ROWID;
CREATE INDEX batch_hour_by_time ON batch_hour(bucket_start);

CREATE TABLE batch_day(
    ad_id INTEGER NOT NULL, bucket_start INTEGER NOT NULL, country INTEGER NOT NULL, device INTEGER NOT NULL,
    count INTEGER NOT NULL DEFAULT 0, late_updated INTEGER NOT NULL DEFAULT 0, late_dropped INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY(ad_id, bucket_start, country, device)
) STRICT, WITHOUT ROWID;
CREATE INDEX batch_day_by_time ON batch_day(bucket_start);

-- The latest checkpoint: exactly one row (id = 1), replaced by each commit.
CREATE TABLE checkpoint(
    id INTEGER PRIMARY KEY CHECK (id = 1),
    sequence INTEGER NOT NULL,
    processing_time_ms INTEGER NOT NULL,
    watermark_ms INTEGER NOT NULL,
    wall_time_ms INTEGER NOT NULL,
    raw_segment INTEGER NOT NULL,
    raw_offset INTEGER NOT NULL,
    raw_next_sequence INTEGER NOT NULL,
    source_key TEXT NOT NULL,
    state BLOB NOT NULL
) STRICT;

CREATE TABLE source_offset(
    source_key TEXT NOT NULL,
    "partition" INTEGER NOT NULL,
    "offset" INTEGER NOT NULL,
    PRIMARY KEY(source_key, "partition")
) STRICT, WITHOUT ROWID;

CREATE TABLE quarantine_stats(
    reason INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 0
) STRICT;

-- The cutoffs of the last rollup (one row, id = 1): minute rows before minute_cutoff_ms are
-- hour rows, hour rows before hour_cutoff_ms are day rows, nothing before delete_cutoff_ms.
CREATE TABLE rollup_state(
    id INTEGER PRIMARY KEY CHECK (id = 1),
    minute_cutoff_ms INTEGER NOT NULL,
    hour_cutoff_ms INTEGER NOT NULL,
    delete_cutoff_ms INTEGER NOT NULL,
    run_at_ms INTEGER NOT NULL
) STRICT;

PRAGMA application_id = 1094992689;
)sql";

// Migration 2: the batch layer. batch_minute rows gain what the speed layer did with the same raw
// records (see BatchCell), and every completed batch run is recorded with the range it covers and
// the raw log position it read up to. A minute is covered by the batch layer when some run's
// [from_ms, to_ms) contains it.
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE batch_minute ADD COLUMN speed_duplicates INTEGER NOT NULL DEFAULT 0;
ALTER TABLE batch_minute ADD COLUMN duplicates INTEGER NOT NULL DEFAULT 0;
ALTER TABLE batch_minute ADD COLUMN speed_counted INTEGER NOT NULL DEFAULT 0;

CREATE TABLE batch_run(
    run_id INTEGER PRIMARY KEY,
    from_ms INTEGER NOT NULL,
    to_ms INTEGER NOT NULL,
    raw_segment INTEGER NOT NULL,
    raw_offset INTEGER NOT NULL,
    raw_next_sequence INTEGER NOT NULL,
    started_wall_ms INTEGER NOT NULL,
    finished_wall_ms INTEGER NOT NULL,
    processing_time_ms INTEGER NOT NULL,
    trigger TEXT NOT NULL,
    records_read INTEGER NOT NULL,
    records_in_range INTEGER NOT NULL,
    counted INTEGER NOT NULL,
    duplicates INTEGER NOT NULL,
    late_dropped INTEGER NOT NULL,
    damaged_blocks INTEGER NOT NULL,
    threads INTEGER NOT NULL,
    seconds REAL NOT NULL,
    CHECK (from_ms < to_ms)
) STRICT;
CREATE INDEX batch_run_by_range ON batch_run(to_ms, from_ms);

-- Raw log retention (one row, id = 1): the newest event time of any segment retention deleted.
-- The raw log holds every accepted event of the minutes after it, so a batch run never recounts
-- (and empties) a minute before it.
CREATE TABLE raw_log_state(
    id INTEGER PRIMARY KEY CHECK (id = 1),
    deleted_through_ms INTEGER NOT NULL
) STRICT;
)sql";

constexpr std::array kMigrations {
    SqliteMigration { 1, "initial schema", kSchemaV1 },
    SqliteMigration { 2, "batch layer: batch_run, batch_minute speed columns, raw_log_state", kSchemaV2 },
};

SqliteStatus failure(int code, std::string message)
{
    SqliteStatus s;
    s.code = code;
    s.message = std::move(message);
    return s;
}

} // namespace

std::span<const SqliteMigration> SqliteSchema::migrations()
{
    return kMigrations;
}

int SqliteSchema::latestVersion()
{
    return kMigrations.back().version;
}

SqliteStatus SqliteSchema::readVersion(SqliteDb& db, int& version)
{
    version = 0;
    // One read snapshot for the three reads: a reader opening the file while a writer commits
    // migration 1 must not see tables without schema_version in between.
    std::optional<SqliteTransaction> tx;
    if (!db.inTransaction()) {
        tx.emplace(db, SqliteTransaction::Mode::Deferred);
        if (!tx->status().ok())
            return tx->status();
    }
    std::int64_t hasTable = 0;
    if (SqliteStatus s = db.queryInt64(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'", hasTable);
        !s.ok())
        return s;
    std::int64_t appId = 0;
    if (SqliteStatus s = db.queryInt64("PRAGMA application_id", appId); !s.ok())
        return s;
    if (appId != 0 && appId != kApplicationId)
        return failure(SQLITE_NOTADB, "not an adclick database (application_id " + std::to_string(appId) + ")");
    if (hasTable == 0) {
        std::int64_t tables = 0;
        if (SqliteStatus s = db.queryInt64("SELECT count(*) FROM sqlite_schema", tables); !s.ok())
            return s;
        if (tables != 0)
            return failure(SQLITE_NOTADB, "not an adclick database (it has tables but no schema_version)");
        return {};
    }
    std::int64_t v = 0;
    if (SqliteStatus s = db.queryInt64("SELECT coalesce(max(version), 0) FROM schema_version", v); !s.ok())
        return s;
    version = static_cast<int>(v);
    return {};
}

SqliteStatus SqliteSchema::migrate(SqliteDb& db, TimeMs nowMs, int& version)
{
    if (SqliteStatus s = readVersion(db, version); !s.ok())
        return s;
    for (const SqliteMigration& m : kMigrations) {
        if (version > latestVersion())
            break;
        if (m.version <= version)
            continue;
        SqliteTransaction tx(db, SqliteTransaction::Mode::Immediate);
        if (!tx.status().ok())
            return tx.status();
        int current = 0;
        if (SqliteStatus s = readVersion(db, current); !s.ok())
            return s;
        if (current >= m.version) { // another process applied it meanwhile
            version = current;
            continue;
        }
        if (SqliteStatus s = db.exec(m.sql); !s.ok()) {
            s.message = "migration " + std::to_string(m.version) + " (" + m.name + ") failed: " + s.message;
            return s;
        }
        SqliteStatement record;
        if (SqliteStatus s
            = db.prepare("INSERT INTO schema_version(version, applied_at_ms) VALUES(?1, ?2)", record, false);
            !s.ok())
            return s;
        record.bindInt64(1, m.version).bindInt64(2, nowMs);
        if (SqliteStatus s = record.run(); !s.ok())
            return s;
        if (SqliteStatus s = tx.commit(); !s.ok())
            return s;
        version = m.version;
    }
    if (version > latestVersion())
        return failure(SQLITE_ERROR,
            "the database schema is version " + std::to_string(version) + ", newer than this adclick knows ("
                + std::to_string(latestVersion()) + "); open it with a newer adclick");
    return {};
}

} // namespace adclick::engine
