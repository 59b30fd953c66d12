// SqliteStore: the batch layer's rows and run records (migration 2).

#include "storage/sqlite_store.h"
#include "storage/sqlite_store_impl.h"

#include <sqlite3.h>

namespace adclick::engine {

namespace {

constexpr const char* kRunColumns = kBatchRunColumns;

BatchRunRecord readRun(const SqliteStatement& q)
{
    BatchRunRecord r;
    auto u = [&](int c) { return static_cast<std::uint64_t>(q.columnInt64(c)); };
    r.runId = q.columnInt64(0);
    r.fromMs = q.columnInt64(1);
    r.toMs = q.columnInt64(2);
    r.rawEnd = { u(3), u(4), u(5) };
    r.startedWallMs = q.columnInt64(6);
    r.finishedWallMs = q.columnInt64(7);
    r.processingTimeMs = q.columnInt64(8);
    r.trigger = std::string(q.columnText(9));
    r.recordsRead = u(10);
    r.recordsInRange = u(11);
    r.counted = u(12);
    r.duplicates = u(13);
    r.lateDropped = u(14);
    r.damagedBlocks = u(15);
    r.threads = static_cast<std::uint32_t>(q.columnInt64(16));
    r.seconds = sqlite3_column_double(q.get(), 17);
    return r;
}

std::int64_t s64(std::uint64_t v)
{
    return static_cast<std::int64_t>(v);
}

} // namespace

StoreStatus SqliteStore::writeBatchRun(BatchRunRecord& run, std::span<const BatchCell> cells)
{
    m_error.clear();
    if (run.fromMs >= run.toMs) {
        m_error = "batch run: empty range";
        return StoreStatus::IoError;
    }
    for (const BatchCell& c : cells)
        if (c.key.windowStartMs < run.fromMs || c.key.windowStartMs >= run.toMs) {
            m_error = "batch run: a cell lies outside the run's range";
            return StoreStatus::IoError;
        }
    if (m_injectFailure) {
        SqliteStatus injected;
        injected.code = SQLITE_FULL;
        injected.message = "injected failure (as a full disk)";
        return storeFailure(injected, "batch run", m_error);
    }
    SqliteDb& db = m_impl->db;
    SqliteTransaction tx(db, SqliteTransaction::Mode::Immediate);
    if (!tx.status().ok())
        return storeFailure(tx.status(), "batch run: begin", m_error);

    SqliteStatement del;
    SqliteStatus s = db.prepare("DELETE FROM batch_minute WHERE window_start >= ?1 AND window_start < ?2", del, false);
    if (s.ok())
        s = del.bindInt64(1, run.fromMs).bindInt64(2, run.toMs).run();
    // Multi-row INSERTs (kUpsertBatchRows rows, 10 values each): one VDBE run per batch of rows.
    auto insertSql = [](std::size_t rows) {
        std::string sql = "INSERT INTO batch_minute(ad_id, window_start, country, device, count, late_updated, "
                          "late_dropped, speed_duplicates, duplicates, speed_counted) VALUES";
        for (std::size_t r = 0; r < rows; ++r) {
            sql += r ? ",(" : "(";
            for (int c = 1; c <= 10; ++c)
                sql += "?" + std::to_string(r * 10 + c) + (c < 10 ? "," : ")");
        }
        return sql;
    };
    constexpr std::size_t kRows = kUpsertBatchRows;
    SqliteStatement many;
    SqliteStatement one;
    if (s.ok() && cells.size() >= kRows)
        s = db.prepare(insertSql(kRows), many, false);
    if (s.ok())
        s = db.prepare(insertSql(1), one, false);
    std::size_t i = 0;
    auto bindCell = [](SqliteStatement& q, const BatchCell& c, int base) {
        q.bindInt64(base + 1, c.key.adId)
            .bindInt64(base + 2, c.key.windowStartMs)
            .bindInt64(base + 3, c.key.country)
            .bindInt64(base + 4, static_cast<int>(c.key.device))
            .bindInt64(base + 5, s64(c.count))
            .bindInt64(base + 6, s64(c.lateUpdated))
            .bindInt64(base + 7, s64(c.lateDropped))
            .bindInt64(base + 8, s64(c.speedDuplicates))
            .bindInt64(base + 9, s64(c.duplicates))
            .bindInt64(base + 10, s64(c.speedCounted));
    };
    for (; s.ok() && i + kRows <= cells.size(); i += kRows) {
        for (std::size_t r = 0; r < kRows; ++r)
            bindCell(many, cells[i + r], static_cast<int>(r * 10));
        s = many.run();
        many.reset();
    }
    for (; s.ok() && i < cells.size(); ++i) {
        bindCell(one, cells[i], 0);
        s = one.run();
        one.reset();
    }
    SqliteStatement rec;
    if (s.ok())
        s = db.prepare(std::string("INSERT INTO batch_run(") + kRunColumns
                + ") VALUES(NULL, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            rec, false);
    if (s.ok()) {
        rec.bindInt64(1, run.fromMs)
            .bindInt64(2, run.toMs)
            .bindInt64(3, s64(run.rawEnd.segmentId))
            .bindInt64(4, s64(run.rawEnd.byteOffset))
            .bindInt64(5, s64(run.rawEnd.nextSequence))
            .bindInt64(6, run.startedWallMs)
            .bindInt64(7, run.finishedWallMs)
            .bindInt64(8, run.processingTimeMs)
            .bindText(9, run.trigger)
            .bindInt64(10, s64(run.recordsRead))
            .bindInt64(11, s64(run.recordsInRange))
            .bindInt64(12, s64(run.counted))
            .bindInt64(13, s64(run.duplicates))
            .bindInt64(14, s64(run.lateDropped))
            .bindInt64(15, s64(run.damagedBlocks))
            .bindInt64(16, run.threads);
        if (sqlite3_bind_double(rec.get(), 17, run.seconds) != SQLITE_OK)
            s = db.status(SQLITE_ERROR);
        if (s.ok())
            s = rec.run();
    }
    if (s.ok())
        s = tx.commit();
    if (!s.ok())
        return storeFailure(s, "batch run", m_error);
    run.runId = sqlite3_last_insert_rowid(db.get());
    return StoreStatus::Ok;
}

std::vector<BatchRunRecord> SqliteStore::batchRuns(TimeMs fromMs, TimeMs toMs)
{
    std::vector<BatchRunRecord> out;
    SqliteStatement q;
    if (!m_impl->db
             .prepare(std::string("SELECT ") + kRunColumns
                     + " FROM batch_run WHERE to_ms > ?1 AND from_ms < ?2 ORDER BY run_id",
                 q, false)
             .ok())
        return out;
    q.bindInt64(1, fromMs).bindInt64(2, toMs);
    while (q.step() == SqliteStatement::Step::Row)
        out.push_back(readRun(q));
    return out;
}

bool SqliteStore::latestBatchRun(BatchRunRecord& out)
{
    SqliteStatement q;
    if (!m_impl->db.prepare(std::string("SELECT ") + kRunColumns + " FROM batch_run ORDER BY run_id DESC LIMIT 1", q,
                       false)
             .ok())
        return false;
    if (q.step() != SqliteStatement::Step::Row)
        return false;
    out = readRun(q);
    return true;
}

void SqliteStore::forEachBatchCell(TimeMs fromMs, TimeMs toMs, const std::function<void(const BatchCell&)>& f)
{
    SqliteStatement q;
    if (!m_impl->db
             .prepare("SELECT ad_id, window_start, country, device, count, late_dropped, late_updated, "
                      "speed_duplicates, duplicates, speed_counted FROM batch_minute "
                      "WHERE window_start >= ?1 AND window_start < ?2 ORDER BY ad_id, window_start, country, device",
                 q, false)
             .ok())
        return;
    q.bindInt64(1, fromMs).bindInt64(2, toMs);
    while (q.step() == SqliteStatement::Step::Row) {
        BatchCell c;
        c.key.adId = static_cast<AdId>(q.columnInt64(0));
        c.key.windowStartMs = q.columnInt64(1);
        c.key.country = static_cast<CountryCode>(q.columnInt64(2));
        c.key.device = static_cast<DeviceClass>(q.columnInt64(3));
        c.count = static_cast<std::uint64_t>(q.columnInt64(4));
        c.lateDropped = static_cast<std::uint64_t>(q.columnInt64(5));
        c.lateUpdated = static_cast<std::uint64_t>(q.columnInt64(6));
        c.speedDuplicates = static_cast<std::uint64_t>(q.columnInt64(7));
        c.duplicates = static_cast<std::uint64_t>(q.columnInt64(8));
        c.speedCounted = static_cast<std::uint64_t>(q.columnInt64(9));
        f(c);
    }
}

TimeMs SqliteStore::minuteCutoffMs()
{
    std::int64_t v = kMinTimeMs;
    if (!m_impl->db.queryInt64("SELECT coalesce((SELECT minute_cutoff_ms FROM rollup_state WHERE id = 1), "
                               "-2305843009213693952)",
                      v)
             .ok())
        return kMinTimeMs;
    return v;
}

StoreStatus SqliteStore::noteRawLogDeleted(TimeMs newestDeletedMs)
{
    m_error.clear();
    SqliteStatement q;
    SqliteStatus s = m_impl->db.prepare("INSERT INTO raw_log_state(id, deleted_through_ms) VALUES(1, ?1) "
                                        "ON CONFLICT(id) DO UPDATE SET deleted_through_ms = "
                                        "max(deleted_through_ms, excluded.deleted_through_ms)",
        q, false);
    if (s.ok())
        s = q.bindInt64(1, newestDeletedMs).run();
    return s.ok() ? StoreStatus::Ok : storeFailure(s, "raw log state", m_error);
}

TimeMs SqliteStore::rawLogDeletedThroughMs()
{
    std::int64_t v = kMinTimeMs;
    if (!m_impl->db.queryInt64("SELECT coalesce((SELECT deleted_through_ms FROM raw_log_state WHERE id = 1), "
                               "-2305843009213693952)",
                      v)
             .ok())
        return kMinTimeMs;
    return v;
}

} // namespace adclick::engine
