// SqliteStore::rollup: minute → hour → day rollups and retention, in one transaction.

#include "storage/sqlite_store.h"
#include "storage/sqlite_store_impl.h"

#include <sqlite3.h>

namespace adclick::engine {

SqliteStatus SqliteStore::Impl::runWithCutoff(StoreSql id, TimeMs cutoffMs, std::uint64_t* changed)
{
    SqliteStatus s;
    SqliteStatement* q = statement(id, s);
    if (!q)
        return s;
    q->bindInt64(1, cutoffMs);
    s = q->run();
    q->reset();
    if (s.ok() && changed)
        *changed += static_cast<std::uint64_t>(db.changes());
    return s;
}

StoreStatus SqliteStore::rollup(TimeMs nowMs, const RetentionConfig& config, RollupReport* report)
{
    m_error.clear();
    RollupReport r = rollupCutoffs(nowMs, config);
    if (report)
        *report = r;
    if (m_injectFailure) {
        SqliteStatus injected;
        injected.code = SQLITE_FULL;
        injected.message = "injected failure (as a full disk)";
        return storeFailure(injected, "rollup", m_error);
    }

    Impl& d = *m_impl;
    SqliteTransaction tx(d.db, SqliteTransaction::Mode::Immediate);
    if (!tx.status().ok())
        return storeFailure(tx.status(), "rollup: begin", m_error);
    SqliteStatus s;
    for (RowKind kind : { RowKind::Speed, RowKind::Batch }) {
        // Past the aggregate retention first (no point rolling what goes anyway), then minutes
        // into hours, then hours — including those just made — into days. The rolled rows are
        // deleted only after their sums were added, in the same transaction, so every total
        // over whole days inside retention stays what it was.
        for (RowLevel level : { RowLevel::Minute, RowLevel::Hour, RowLevel::Day })
            if (s.ok())
                s = d.runWithCutoff(perTable(StoreSql::DeleteBefore, kind, level), r.deleteCutoffMs, &r.rowsDeleted);
        if (s.ok())
            s = d.runWithCutoff(perKind(StoreSql::RollMinuteToHour, kind), r.minuteCutoffMs, nullptr);
        if (s.ok())
            s = d.runWithCutoff(
                perTable(StoreSql::DeleteBefore, kind, RowLevel::Minute), r.minuteCutoffMs, &r.minuteRowsRolled);
        if (s.ok())
            s = d.runWithCutoff(perKind(StoreSql::RollHourToDay, kind), r.hourCutoffMs, nullptr);
        if (s.ok())
            s = d.runWithCutoff(
                perTable(StoreSql::DeleteBefore, kind, RowLevel::Hour), r.hourCutoffMs, &r.hourRowsRolled);
    }
    if (s.ok()) { // batch runs whose whole range is past retention cover nothing any more
        SqliteStatement q;
        s = d.db.prepare("DELETE FROM batch_run WHERE to_ms <= ?1", q, false);
        if (s.ok())
            s = q.bindInt64(1, r.deleteCutoffMs).run();
    }
    if (s.ok()) {
        if (SqliteStatement* q = d.statement(StoreSql::UpsertRollupState, s); q) {
            q->bindInt64(1, r.minuteCutoffMs)
                .bindInt64(2, r.hourCutoffMs)
                .bindInt64(3, r.deleteCutoffMs)
                .bindInt64(4, nowMs);
            s = q->run();
            q->reset();
        }
    }
    if (s.ok())
        s = tx.commit();
    if (!s.ok())
        return storeFailure(s, "rollup", m_error);
    if (report)
        *report = r;
    return StoreStatus::Ok;
}

} // namespace adclick::engine
