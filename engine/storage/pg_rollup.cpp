// PgStore::rollup: minute → hour → day rollups and retention in PostgreSQL, in one transaction
// (the same steps as SqliteStore::rollup, sqlite_rollup.cpp).

#include "storage/pg_schema.h"
#include "storage/pg_store.h"

#include <string>

namespace adclick::engine {

namespace {
const char* prefixOf(RowKind kind)
{
    return kind == RowKind::Speed ? "speed" : "batch";
}

const char* levelOf(RowLevel level)
{
    return level == RowLevel::Minute ? "_minute" : level == RowLevel::Hour ? "_hour" : "_day";
}

/// Table names come from the constants above, never from a caller's text.
std::string table(RowKind kind, RowLevel level)
{
    return std::string(prefixOf(kind)) + levelOf(level);
}

const char* timeOf(RowLevel level)
{
    return level == RowLevel::Minute ? "window_start" : "bucket_start";
}

/// Adds the rows of `from` before $1 into `to` (buckets of sizeMs; mod() written for negative
/// times too), summing a speed minute cell's partitions. The caller deletes them afterwards.
std::string rollSql(RowKind kind, RowLevel from, RowLevel to, TimeMs sizeMs)
{
    const std::string size = std::to_string(sizeMs);
    const std::string t = timeOf(from);
    const std::string target = table(kind, to);
    return "INSERT INTO " + target + "(ad_id, bucket_start, country, device, count, late_updated, late_dropped) "
        + "SELECT ad_id, " + t + " - mod(mod(" + t + ", " + size + ") + " + size + ", " + size
        + ") AS bucket, country, device, sum(count), sum(late_updated), sum(late_dropped) FROM " + table(kind, from)
        + " WHERE " + t + " < $1 GROUP BY ad_id, bucket, country, device "
        + "ON CONFLICT (ad_id, bucket_start, country, device) DO UPDATE SET count = " + target
        + ".count + EXCLUDED.count, late_updated = " + target + ".late_updated + EXCLUDED.late_updated, late_dropped = "
        + target + ".late_dropped + EXCLUDED.late_dropped";
}
} // namespace

StoreStatus PgStore::rollup(TimeMs nowMs, const RetentionConfig& config, RollupReport* report)
{
    m_error.clear();
    RollupReport r = rollupCutoffs(nowMs, config);
    if (report)
        *report = r;
    PgTransaction tx(*m_conn);
    if (!tx.ok())
        return fail("rollup: BEGIN: " + tx.error());
    if (PgResult lock = m_conn->exec("SELECT pg_advisory_xact_lock($1)", { PgParam(PgSchema::kRollupLockKey) });
        !lock.ok())
        return fail(lock, "rollup: lock");
    auto run = [&](const std::string& sql, TimeMs cutoff, std::uint64_t* changed) {
        PgResult res = m_conn->exec(sql.c_str(), { PgParam(static_cast<std::int64_t>(cutoff)) });
        if (!res.ok()) {
            fail(res, "rollup");
            return false;
        }
        if (changed)
            *changed += res.affected();
        return true;
    };
    auto deleteBefore = [&](RowKind kind, RowLevel level, TimeMs cutoff, std::uint64_t* changed) {
        return run("DELETE FROM " + table(kind, level) + " WHERE " + timeOf(level) + " < $1", cutoff, changed);
    };
    for (RowKind kind : { RowKind::Speed, RowKind::Batch }) {
        // Past the aggregate retention first, then minutes into hours, then hours (those just
        // made too) into days; rolled rows are deleted after their sums were added.
        for (RowLevel level : { RowLevel::Minute, RowLevel::Hour, RowLevel::Day })
            if (!deleteBefore(kind, level, r.deleteCutoffMs, &r.rowsDeleted))
                return StoreStatus::IoError;
        if (!run(rollSql(kind, RowLevel::Minute, RowLevel::Hour, kMsPerHour), r.minuteCutoffMs, nullptr)
            || !deleteBefore(kind, RowLevel::Minute, r.minuteCutoffMs, &r.minuteRowsRolled)
            || !run(rollSql(kind, RowLevel::Hour, RowLevel::Day, kMsPerDay), r.hourCutoffMs, nullptr)
            || !deleteBefore(kind, RowLevel::Hour, r.hourCutoffMs, &r.hourRowsRolled))
            return StoreStatus::IoError;
    }
    // Batch runs whose whole range is past retention cover nothing any more.
    if (!run("DELETE FROM batch_run WHERE to_ms <= $1", r.deleteCutoffMs, nullptr))
        return StoreStatus::IoError;
    PgResult state = m_conn->exec("INSERT INTO rollup_state(id, minute_cutoff_ms, hour_cutoff_ms, delete_cutoff_ms, "
                                  "run_at_ms) VALUES(1, $1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET "
                                  "minute_cutoff_ms = EXCLUDED.minute_cutoff_ms, hour_cutoff_ms = EXCLUDED.hour_cutoff_ms, "
                                  "delete_cutoff_ms = EXCLUDED.delete_cutoff_ms, run_at_ms = EXCLUDED.run_at_ms",
        { PgParam(static_cast<std::int64_t>(r.minuteCutoffMs)), PgParam(static_cast<std::int64_t>(r.hourCutoffMs)),
            PgParam(static_cast<std::int64_t>(r.deleteCutoffMs)), PgParam(static_cast<std::int64_t>(nowMs)) });
    if (!state.ok())
        return fail(state, "rollup: state");
    if (!tx.commit())
        return fail("rollup: COMMIT: " + tx.error());
    if (report)
        *report = r;
    return StoreStatus::Ok;
}

std::uint64_t PgStore::rowCount(RowKind kind, RowLevel level)
{
    m_error.clear();
    PgResult r = m_conn->exec(("SELECT count(*) FROM " + table(kind, level)).c_str());
    if (!r.ok()) {
        fail(r, "row count");
        return 0;
    }
    return static_cast<std::uint64_t>(r.int64(0, 0));
}

} // namespace adclick::engine
