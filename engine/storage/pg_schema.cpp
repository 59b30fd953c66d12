#include "storage/pg_schema.h"

#include <array>

namespace adclick::engine {

namespace {

// Migration 1: the SQLite store's migrations 1 and 2 in PostgreSQL, partition-scoped.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE ads(
    ad_id bigint PRIMARY KEY,
    name text NOT NULL UNIQUE
);

-- Speed rows per source partition: ABSOLUTE counts of what the partition's owner counted.
CREATE TABLE speed_minute(
    ad_id bigint NOT NULL,
    window_start bigint NOT NULL,
    country integer NOT NULL,
    device integer NOT NULL,
    source_partition integer NOT NULL,
    count bigint NOT NULL DEFAULT 0,
    late_updated bigint NOT NULL DEFAULT 0,
    late_dropped bigint NOT NULL DEFAULT 0,
    revision integer NOT NULL DEFAULT 0,
    final boolean NOT NULL DEFAULT false,
    PRIMARY KEY(ad_id, window_start, country, device, source_partition)
);
CREATE INDEX speed_minute_by_time ON speed_minute(window_start);

CREATE TABLE batch_minute(
    ad_id bigint NOT NULL,
    window_start bigint NOT NULL,
    country integer NOT NULL,
    device integer NOT NULL,
    count bigint NOT NULL DEFAULT 0,
    late_updated bigint NOT NULL DEFAULT 0,
    late_dropped bigint NOT NULL DEFAULT 0,
    revision integer NOT NULL DEFAULT 0,
    final boolean NOT NULL DEFAULT true,
    speed_duplicates bigint NOT NULL DEFAULT 0,
    duplicates bigint NOT NULL DEFAULT 0,
    speed_counted bigint NOT NULL DEFAULT 0,
    PRIMARY KEY(ad_id, window_start, country, device)
);
CREATE INDEX batch_minute_by_time ON batch_minute(window_start);

CREATE TABLE speed_hour(
    ad_id bigint NOT NULL, bucket_start bigint NOT NULL, country integer NOT NULL, device integer NOT NULL,
    count bigint NOT NULL DEFAULT 0, late_updated bigint NOT NULL DEFAULT 0, late_dropped bigint NOT NULL DEFAULT 0,
    PRIMARY KEY(ad_id, bucket_start, country, device)
);
CREATE INDEX speed_hour_by_time ON speed_hour(bucket_start);
CREATE TABLE speed_day (LIKE speed_hour INCLUDING ALL);
CREATE TABLE batch_hour (LIKE speed_hour INCLUDING ALL);
CREATE TABLE batch_day (LIKE speed_hour INCLUDING ALL);

-- One row per (source, partition): where its owner's last checkpoint left it.
CREATE TABLE partition_checkpoint(
    source_key text NOT NULL,
    source_partition integer NOT NULL,
    owner text NOT NULL,
    owner_epoch bigint NOT NULL,
    sequence bigint NOT NULL DEFAULT 0,
    last_offset bigint NOT NULL DEFAULT -1,
    processing_time_ms bigint NOT NULL DEFAULT 0,
    watermark_ms bigint NOT NULL DEFAULT -9223372036854775808,
    wall_time_ms bigint NOT NULL DEFAULT 0,
    claimed_wall_ms bigint NOT NULL DEFAULT 0,
    -- The partition's raw log as of this checkpoint: the log written under epoch raw_epoch
    -- (raw/p<partition>/e<epoch>/ in the shared directory), durable up to this position.
    raw_epoch bigint NOT NULL DEFAULT 0,
    raw_segment bigint NOT NULL DEFAULT 0,
    raw_offset bigint NOT NULL DEFAULT 0,
    raw_next_sequence bigint NOT NULL DEFAULT 0,
    state bytea NOT NULL DEFAULT ''::bytea,
    PRIMARY KEY(source_key, source_partition)
);

-- Quarantined records per partition and reason: ABSOLUTE totals of the partition.
CREATE TABLE quarantine_stats(
    source_key text NOT NULL,
    source_partition integer NOT NULL,
    reason integer NOT NULL,
    name text NOT NULL,
    count bigint NOT NULL DEFAULT 0,
    PRIMARY KEY(source_key, source_partition, reason)
);

CREATE TABLE instance(
    instance_id text PRIMARY KEY,
    host text NOT NULL,
    started_wall_ms bigint NOT NULL,
    heartbeat_wall_ms bigint NOT NULL,
    status jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE TABLE rollup_state(
    id integer PRIMARY KEY CHECK (id = 1),
    minute_cutoff_ms bigint NOT NULL,
    hour_cutoff_ms bigint NOT NULL,
    delete_cutoff_ms bigint NOT NULL,
    run_at_ms bigint NOT NULL
);

CREATE TABLE batch_run(
    run_id bigserial PRIMARY KEY,
    from_ms bigint NOT NULL,
    to_ms bigint NOT NULL,
    raw_segment bigint NOT NULL,
    raw_offset bigint NOT NULL,
    raw_next_sequence bigint NOT NULL,
    started_wall_ms bigint NOT NULL,
    finished_wall_ms bigint NOT NULL,
    processing_time_ms bigint NOT NULL,
    trigger text NOT NULL,
    records_read bigint NOT NULL,
    records_in_range bigint NOT NULL,
    counted bigint NOT NULL,
    duplicates bigint NOT NULL,
    late_dropped bigint NOT NULL,
    damaged_blocks bigint NOT NULL,
    threads integer NOT NULL,
    seconds double precision NOT NULL,
    instance_id text NOT NULL DEFAULT '',
    CHECK (from_ms < to_ms)
);
CREATE INDEX batch_run_by_range ON batch_run(to_ms, from_ms);

CREATE TABLE raw_log_state(
    id integer PRIMARY KEY CHECK (id = 1),
    deleted_through_ms bigint NOT NULL
);
)sql";

constexpr std::array kMigrations {
    PgMigration { 1, "initial schema (SQLite migrations 1-2, partition-scoped speed rows and checkpoints)", kSchemaV1 },
};

bool readVersion(PgConnection& c, int& version, std::string& error)
{
    PgResult r = c.exec("SELECT coalesce(max(version), 0) FROM schema_version");
    if (!r.ok()) {
        error = "cannot read the schema version: " + r.error();
        return false;
    }
    version = static_cast<int>(r.int64(0, 0));
    return true;
}

} // namespace

std::span<const PgMigration> PgSchema::migrations()
{
    return kMigrations;
}

int PgSchema::latestVersion()
{
    return kMigrations.back().version;
}

bool PgSchema::migrate(PgConnection& c, TimeMs nowMs, int& version, std::string& error)
{
    version = 0;
    {
        // schema_version first (idempotent), then everything under the migration lock.
        PgTransaction tx(c);
        if (!tx.ok()) {
            error = tx.error();
            return false;
        }
        PgResult lock = c.exec("SELECT pg_advisory_xact_lock($1)", { PgParam(kMigrationLockKey) });
        PgResult create = c.exec(
            "CREATE TABLE IF NOT EXISTS schema_version(version integer PRIMARY KEY, applied_at_ms bigint NOT NULL)");
        if (!lock.ok() || !create.ok()) {
            error = "cannot create schema_version: " + (lock.ok() ? create.error() : lock.error());
            return false;
        }
        if (!tx.commit()) {
            error = tx.error();
            return false;
        }
    }
    for (const PgMigration& m : kMigrations) {
        PgTransaction tx(c);
        if (!tx.ok()) {
            error = tx.error();
            return false;
        }
        if (PgResult lock = c.exec("SELECT pg_advisory_xact_lock($1)", { PgParam(kMigrationLockKey) }); !lock.ok()) {
            error = lock.error();
            return false;
        }
        if (!readVersion(c, version, error))
            return false;
        if (version > latestVersion())
            break;
        if (version >= m.version)
            continue; // applied (by us earlier, or by another instance meanwhile)
        if (PgResult r = c.exec(m.sql); !r.ok()) {
            error = "migration " + std::to_string(m.version) + " (" + m.name + ") failed: " + r.error();
            return false;
        }
        if (PgResult r = c.exec("INSERT INTO schema_version(version, applied_at_ms) VALUES($1, $2)",
                { PgParam(m.version), PgParam(static_cast<std::int64_t>(nowMs)) });
            !r.ok()) {
            error = r.error();
            return false;
        }
        if (!tx.commit()) {
            error = "migration " + std::to_string(m.version) + ": " + tx.error();
            return false;
        }
        version = m.version;
    }
    if (version > latestVersion()) {
        error = "the database schema is version " + std::to_string(version) + ", newer than this adclick knows ("
            + std::to_string(latestVersion()) + "); use a newer adclick";
        return false;
    }
    return true;
}

} // namespace adclick::engine
