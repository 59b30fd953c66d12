// reconcile(): reading adclick.db in one read transaction (see reconciler_snapshot.h).

#include "batch/reconciler_snapshot.h"

#include "storage/sqlite_schema.h"

#include <sqlite3.h>

namespace adclick::engine::reconcile_detail {

namespace {

std::uint64_t u64(const SqliteStatement& q, int column)
{
    return static_cast<std::uint64_t>(q.columnInt64(column));
}

/// Steps q to the end, calling row() for each row. False with error on a failed step.
template <typename F> bool eachRow(SqliteStatement& q, F&& row, std::string& error)
{
    for (;;) {
        switch (q.step()) {
        case SqliteStatement::Step::Row:
            row();
            break;
        case SqliteStatement::Step::Done:
            return true;
        case SqliteStatement::Step::Error:
            error = q.status().message;
            return false;
        }
    }
}

} // namespace

bool StoreSnapshot::open(const std::string& path, std::string& error)
{
    SqliteStatus s = SqliteDb::open(path, SQLITE_OPEN_READONLY, m_db);
    if (!s.ok()) {
        error = s.message;
        return false;
    }
    sqlite3_busy_timeout(m_db.get(), 5000);
    if (s = SqliteSchema::readVersion(m_db, m_schemaVersion); !s.ok()) {
        error = path + ": " + s.message;
        return false;
    }
    if (m_schemaVersion < 1) {
        error = path + ": an empty database (no adclick store yet)";
        return false;
    }
    if (m_schemaVersion > SqliteSchema::latestVersion()) {
        error = path + ": the database schema is version " + std::to_string(m_schemaVersion)
            + ", newer than this adclick knows; use a newer adclick";
        return false;
    }
    m_tx.emplace(m_db, SqliteTransaction::Mode::Deferred);
    if (!m_tx->status().ok()) {
        error = path + ": " + m_tx->status().message;
        return false;
    }
    return true;
}

std::optional<CheckpointFacts> StoreSnapshot::checkpoint(std::string& error)
{
    SqliteStatement q;
    if (SqliteStatus s = m_db.prepare("SELECT sequence, processing_time_ms, watermark_ms, raw_segment, raw_offset, "
                                      "raw_next_sequence FROM checkpoint WHERE id = 1",
            q, false);
        !s.ok()) {
        error = s.message;
        return std::nullopt;
    }
    std::optional<CheckpointFacts> out;
    if (!eachRow(
            q,
            [&] {
                CheckpointFacts c;
                c.sequence = u64(q, 0);
                c.processingTimeMs = q.columnInt64(1);
                c.watermarkMs = q.columnInt64(2);
                c.rawEnd = { u64(q, 3), u64(q, 4), u64(q, 5) };
                out = c;
            },
            error))
        return std::nullopt;
    return out;
}

TimeMs StoreSnapshot::minuteCutoffMs()
{
    std::int64_t v = kMinTimeMs;
    if (!m_db.queryInt64("SELECT coalesce((SELECT minute_cutoff_ms FROM rollup_state WHERE id = 1), "
                         "-2305843009213693952)",
                 v)
             .ok())
        return kMinTimeMs;
    return v;
}

std::vector<BatchRunRecord> StoreSnapshot::runs(TimeMs fromMs, TimeMs toMs, std::string& error)
{
    std::vector<BatchRunRecord> out;
    if (m_schemaVersion < 2) // the store predates the batch layer: nothing is covered
        return out;
    SqliteStatement q;
    if (SqliteStatus s = m_db.prepare(
            "SELECT run_id, from_ms, to_ms, raw_segment, raw_offset, raw_next_sequence, started_wall_ms, "
            "finished_wall_ms, processing_time_ms, trigger, records_read, records_in_range, counted, duplicates, "
            "late_dropped, damaged_blocks, threads, seconds FROM batch_run WHERE to_ms > ?1 AND from_ms < ?2 "
            "ORDER BY run_id",
            q, false);
        !s.ok()) {
        error = s.message;
        return out;
    }
    q.bindInt64(1, fromMs).bindInt64(2, toMs);
    eachRow(
        q,
        [&] {
            BatchRunRecord r;
            r.runId = q.columnInt64(0);
            r.fromMs = q.columnInt64(1);
            r.toMs = q.columnInt64(2);
            r.rawEnd = { u64(q, 3), u64(q, 4), u64(q, 5) };
            r.startedWallMs = q.columnInt64(6);
            r.finishedWallMs = q.columnInt64(7);
            r.processingTimeMs = q.columnInt64(8);
            r.trigger = std::string(q.columnText(9));
            r.recordsRead = u64(q, 10);
            r.recordsInRange = u64(q, 11);
            r.counted = u64(q, 12);
            r.duplicates = u64(q, 13);
            r.lateDropped = u64(q, 14);
            r.damagedBlocks = u64(q, 15);
            r.threads = static_cast<std::uint32_t>(q.columnInt64(16));
            r.seconds = sqlite3_column_double(q.get(), 17);
            out.push_back(std::move(r));
        },
        error);
    return out;
}

bool StoreSnapshot::forEachSpeedRow(
    TimeMs fromMs, TimeMs toMs, const std::function<void(const SpeedRow&)>& f, std::string& error)
{
    SqliteStatement q;
    if (SqliteStatus s = m_db.prepare("SELECT ad_id, window_start, count, final FROM speed_minute "
                                      "WHERE window_start >= ?1 AND window_start < ?2",
            q, false);
        !s.ok()) {
        error = s.message;
        return false;
    }
    q.bindInt64(1, fromMs).bindInt64(2, toMs);
    SpeedRow row;
    return eachRow(
        q,
        [&] {
            row.adId = static_cast<AdId>(q.columnInt64(0));
            row.windowStartMs = q.columnInt64(1);
            row.count = u64(q, 2);
            row.final = q.columnInt64(3) != 0;
            f(row);
        },
        error);
}

bool StoreSnapshot::forEachBatchCell(
    TimeMs fromMs, TimeMs toMs, const std::function<void(const BatchCell&)>& f, std::string& error)
{
    if (m_schemaVersion < 2)
        return true;
    SqliteStatement q;
    if (SqliteStatus s = m_db.prepare("SELECT ad_id, window_start, country, device, count, late_dropped, late_updated, "
                                      "speed_duplicates, duplicates, speed_counted FROM batch_minute "
                                      "WHERE window_start >= ?1 AND window_start < ?2",
            q, false);
        !s.ok()) {
        error = s.message;
        return false;
    }
    q.bindInt64(1, fromMs).bindInt64(2, toMs);
    BatchCell c;
    return eachRow(
        q,
        [&] {
            c.key.adId = static_cast<AdId>(q.columnInt64(0));
            c.key.windowStartMs = q.columnInt64(1);
            c.key.country = static_cast<CountryCode>(q.columnInt64(2));
            c.key.device = static_cast<DeviceClass>(q.columnInt64(3));
            c.count = u64(q, 4);
            c.lateDropped = u64(q, 5);
            c.lateUpdated = u64(q, 6);
            c.speedDuplicates = u64(q, 7);
            c.duplicates = u64(q, 8);
            c.speedCounted = u64(q, 9);
            f(c);
        },
        error);
}

std::vector<QuarantineCount> StoreSnapshot::quarantine(std::string& error)
{
    std::vector<QuarantineCount> out;
    SqliteStatement q;
    if (SqliteStatus s
        = m_db.prepare("SELECT name, count FROM quarantine_stats WHERE count > 0 ORDER BY reason", q, false);
        !s.ok()) {
        error = s.message;
        return out;
    }
    eachRow(
        q,
        [&] {
            out.push_back({ std::string(q.columnText(0)), u64(q, 1) });
        },
        error);
    return out;
}

std::string StoreSnapshot::adName(AdId adId)
{
    if (adId < kFirstNamedAdId)
        return std::to_string(adId);
    if (!m_adName.valid() && !m_db.prepare("SELECT name FROM ads WHERE ad_id = ?1", m_adName).ok())
        return "#" + std::to_string(adId);
    SqliteResetGuard reset(m_adName);
    m_adName.bindInt64(1, adId);
    if (m_adName.step() != SqliteStatement::Step::Row)
        return "#" + std::to_string(adId);
    return std::string(m_adName.columnText(0));
}

} // namespace adclick::engine::reconcile_detail
