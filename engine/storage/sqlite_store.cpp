#include "storage/sqlite_store.h"

#include "storage/sqlite_schema.h"
#include "storage/sqlite_store_impl.h"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <sys/stat.h>

namespace adclick::engine {

namespace {

SqliteStatus injectedStatus()
{
    SqliteStatus s;
    s.code = SQLITE_FULL;
    s.message = "injected failure (as a full disk)";
    return s;
}

std::uint64_t fileSize(const std::string& path)
{
    struct stat st { };
    return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

StoredRow readRow(const SqliteStatement& q)
{
    StoredRow r;
    r.key.adId = static_cast<AdId>(q.columnInt64(0));
    r.key.windowStartMs = q.columnInt64(1);
    r.key.country = static_cast<CountryCode>(q.columnInt64(2));
    r.key.device = static_cast<DeviceClass>(q.columnInt64(3));
    r.count = static_cast<std::uint64_t>(q.columnInt64(4));
    r.lateUpdated = static_cast<std::uint64_t>(q.columnInt64(5));
    r.lateDropped = static_cast<std::uint64_t>(q.columnInt64(6));
    r.revision = static_cast<std::uint32_t>(q.columnInt64(7));
    r.final = q.columnInt64(8) != 0;
    return r;
}

// Steps a bound write statement to completion and resets it for its next use (also on failure:
// a statement that is not reset refuses new bindings).
SqliteStatus runAndReset(SqliteStatement& q)
{
    SqliteStatus s = q.run();
    q.reset();
    return s;
}

void bindKey(SqliteStatement& q, const WindowKey& k, int base = 0)
{
    q.bindInt64(base + 1, k.adId)
        .bindInt64(base + 2, k.windowStartMs)
        .bindInt64(base + 3, k.country)
        .bindInt64(base + 4, static_cast<int>(k.device));
}

/// Binds a minute row as parameters base+1 … base+8 of an UPSERT.
void bindMinuteRow(SqliteStatement& q, const MinuteRow& r, int base)
{
    bindKey(q, r.key, base);
    q.bindInt64(base + 5, static_cast<std::int64_t>(r.count))
        .bindInt64(base + 6, static_cast<std::int64_t>(r.lateUpdated))
        .bindInt64(base + 7, r.revision)
        .bindInt64(base + 8, r.final ? 1 : 0);
}

} // namespace

StoreStatus storeFailure(const SqliteStatus& status, const char* what, std::string& error)
{
    error = std::string(what) + ": " + status.message;
    if (status.corrupt())
        return StoreStatus::Corrupt;
    return status.diskFull() ? StoreStatus::Full : StoreStatus::IoError;
}

SqliteStatement* SqliteStore::Impl::statement(StoreSql id, SqliteStatus& status, SqliteStatement* spare)
{
    SqliteStatement& cached = cache[static_cast<std::size_t>(id)];
    if (cached.valid() && !(spare && cached.busy()))
        return &cached;
    SqliteStatement* target = cached.valid() ? spare : &cached;
    status = db.prepare(storeSqlText(id), *target, target == &cached);
    return status.ok() ? target : nullptr;
}

// ── open ─────────────────────────────────────────────────────────────────────────────────────

std::unique_ptr<SqliteStore> SqliteStore::open(const std::string& path, Options options, std::string& error)
{
    auto impl = std::make_unique<Impl>();
    impl->path = path;
    impl->options = options;
    const int flags = options.readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    SqliteStatus s = SqliteDb::open(path, flags, impl->db);
    if (!s.ok()) {
        error = s.message;
        return nullptr;
    }
    auto fail = [&](const char* what, const SqliteStatus& st) {
        error = path + ": " + what + ": " + st.message;
        return nullptr;
    };
    sqlite3_busy_timeout(impl->db.get(), options.busyTimeoutMs);
    const std::string cachePragma = "PRAGMA cache_size = " + std::to_string(-std::max(options.cacheSizeKiB, 64));
    if (s = impl->db.exec(cachePragma.c_str()); !s.ok())
        return fail("cache_size", s);
    if (s = impl->db.exec("PRAGMA temp_store = MEMORY"); !s.ok())
        return fail("temp_store", s);
    if (!options.readOnly) {
        // WAL is a property of the file, set once; NORMAL syncs the WAL only at its checkpoints,
        // which keeps every commit atomic and durable across a process crash (not a power cut).
        std::string mode;
        if (s = impl->db.queryText("PRAGMA journal_mode = WAL", mode); !s.ok())
            return fail("journal_mode", s);
        if (mode != "wal")
            return fail("journal_mode", SqliteStatus { SQLITE_ERROR, 0, "WAL refused (mode is " + mode + ")" });
        // After a WAL checkpoint, a WAL grown past 64 MiB (one huge transaction) is cut back.
        if (s = impl->db.exec("PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = 67108864"); !s.ok())
            return fail("synchronous", s);
        std::string ignored;
        const std::string walPragma
            = "PRAGMA wal_autocheckpoint = " + std::to_string(std::max(options.walAutoCheckpointPages, 1));
        if (s = impl->db.queryText(walPragma.c_str(), ignored); !s.ok())
            return fail("wal_autocheckpoint", s);
        if (options.maxDatabaseBytes > 0) {
            std::int64_t pageSize = 4096;
            if (s = impl->db.queryInt64("PRAGMA page_size", pageSize); !s.ok())
                return fail("page_size", s);
            const std::uint64_t pages
                = std::max<std::uint64_t>(options.maxDatabaseBytes / static_cast<std::uint64_t>(pageSize), 1);
            const std::string cap = "PRAGMA max_page_count = " + std::to_string(pages);
            if (s = impl->db.queryText(cap.c_str(), ignored); !s.ok())
                return fail("max_page_count", s);
        }
        const TimeMs nowMs
            = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                  .count();
        if (s = SqliteSchema::migrate(impl->db, nowMs, impl->schemaVersion); !s.ok())
            return fail("schema", s);
    } else {
        if (s = SqliteSchema::readVersion(impl->db, impl->schemaVersion); !s.ok())
            return fail("schema", s);
        if (impl->schemaVersion != SqliteSchema::latestVersion())
            return fail("schema",
                SqliteStatus { SQLITE_ERROR, 0,
                    "version " + std::to_string(impl->schemaVersion) + " where this adclick reads version "
                        + std::to_string(SqliteSchema::latestVersion())
                        + (impl->schemaVersion < SqliteSchema::latestVersion()
                                ? " (open it for writing once to migrate it)"
                                : " (newer than this adclick knows)") });
    }
    std::unique_ptr<SqliteStore> store(new SqliteStore());
    store->m_impl = std::move(impl);
    return store;
}

SqliteStore::~SqliteStore() = default;

int SqliteStore::schemaVersion() const
{
    return m_impl->schemaVersion;
}

int SqliteStore::latestSchemaVersion()
{
    return SqliteSchema::latestVersion();
}

const std::string& SqliteStore::path() const
{
    return m_impl->path;
}

std::uint64_t SqliteStore::fileBytes() const
{
    return fileSize(m_impl->path) + fileSize(m_impl->path + "-wal");
}

void SqliteStore::setBeforeCommitHook(std::function<void()> hook)
{
    m_impl->beforeCommitHook = std::move(hook);
}

// ── writeCheckpoint ──────────────────────────────────────────────────────────────────────────

StoreStatus SqliteStore::writeCheckpoint(const CheckpointData& data)
{
    m_error.clear();
    if (m_injectFailure)
        return storeFailure(injectedStatus(), "checkpoint", m_error);
    Impl& d = *m_impl;
    SqliteStatus s;
    SqliteTransaction tx(d.db, SqliteTransaction::Mode::Immediate);
    if (!tx.status().ok())
        return storeFailure(tx.status(), "checkpoint: begin", m_error);

    SqliteStatement* q = d.statement(StoreSql::InsertAd, s);
    for (std::size_t i = 0; q && i < data.newAds.size(); ++i) {
        const auto& [id, name] = data.newAds[i];
        q->bindInt64(1, id).bindText(2, name);
        if (s = runAndReset(*q); !s.ok())
            break;
        if (d.db.changes() == 0) {
            // Already there (a checkpoint re-sent after a failure): fine if it is the same ad.
            SqliteStatement* check = d.statement(StoreSql::SelectAdName, s);
            if (!check)
                break;
            SqliteResetGuard guard(*check);
            check->bindInt64(1, id);
            if (check->step() != SqliteStatement::Step::Row || check->columnText(0) != name) {
                s = SqliteStatus { SQLITE_CONSTRAINT, 0, "ad " + std::to_string(id) + " is stored under another name" };
                break;
            }
        }
    }
    if (!s.ok() || !q)
        return storeFailure(s, "checkpoint: ads", m_error);

    // Rows in key order: each B-tree page is visited once instead of at random (hash order).
    // Equal keys keep their order, so the last of them wins as it would unsorted.
    const auto& rows = data.rows;
    d.order.resize(rows.size());
    for (std::uint32_t i = 0; i < rows.size(); ++i)
        d.order[i] = { rows[i].key, i };
    std::sort(d.order.begin(), d.order.end());
    std::size_t done = 0;
    q = rows.size() >= kUpsertBatchRows ? d.statement(StoreSql::UpsertSpeedRows, s) : nullptr;
    for (; q && done + kUpsertBatchRows <= rows.size(); done += kUpsertBatchRows) {
        // The rows are visited in key order, i.e. at random in memory: fetch the next batch early.
        const std::size_t next = done + kUpsertBatchRows;
        for (std::size_t j = next; j < std::min(next + kUpsertBatchRows, rows.size()); ++j)
            __builtin_prefetch(&rows[d.order[j].second]);
        for (int j = 0; j < kUpsertBatchRows; ++j)
            bindMinuteRow(*q, rows[d.order[done + static_cast<std::size_t>(j)].second], 8 * j);
        if (s = runAndReset(*q); !s.ok())
            break;
    }
    q = s.ok() ? d.statement(StoreSql::UpsertSpeedRow, s) : nullptr;
    for (; q && done < rows.size(); ++done) {
        bindMinuteRow(*q, rows[d.order[done].second], 0);
        if (s = runAndReset(*q); !s.ok())
            break;
    }
    if (!s.ok() || !q)
        return storeFailure(s, "checkpoint: minute rows", m_error);

    q = d.statement(StoreSql::AddSpeedLateDrop, s);
    for (std::size_t i = 0; q && i < data.lateDrops.size(); ++i) {
        bindKey(*q, data.lateDrops[i].key);
        q->bindInt64(5, static_cast<std::int64_t>(data.lateDrops[i].count));
        if (s = runAndReset(*q); !s.ok())
            break;
    }
    if (!s.ok() || !q)
        return storeFailure(s, "checkpoint: late drops", m_error);

    if (q = d.statement(StoreSql::DeleteOffsets, s); q) {
        q->bindText(1, data.sourceKey);
        s = runAndReset(*q);
    }
    if (q = s.ok() ? d.statement(StoreSql::InsertOffset, s) : nullptr; q) {
        for (const SourceOffset& o : data.offsets) {
            q->bindText(1, data.sourceKey).bindInt64(2, o.partition).bindInt64(3, o.offset);
            if (s = runAndReset(*q); !s.ok())
                break;
        }
    }
    if (!s.ok())
        return storeFailure(s, "checkpoint: source offsets", m_error);

    if (q = d.statement(StoreSql::UpsertQuarantine, s); q) {
        for (int r = 0; r < kRejectReasonCount; ++r) {
            q->bindInt64(1, r)
                .bindText(2, rejectReasonName(static_cast<RejectReason>(r)))
                .bindInt64(3, static_cast<std::int64_t>(data.quarantined[static_cast<std::size_t>(r)]));
            if (s = runAndReset(*q); !s.ok())
                break;
        }
    }
    if (!s.ok())
        return storeFailure(s, "checkpoint: quarantine", m_error);

    std::int64_t previous = 0;
    if (q = d.statement(StoreSql::SelectSequence, s); q) {
        SqliteResetGuard guard(*q);
        if (q->step() == SqliteStatement::Step::Row)
            previous = q->columnInt64(0);
        s = q->run();
    }
    if (q = s.ok() ? d.statement(StoreSql::UpsertCheckpoint, s) : nullptr; q) {
        q->bindInt64(1, previous + 1)
            .bindInt64(2, data.processingTimeMs)
            .bindInt64(3, data.watermarkMs)
            .bindInt64(4, data.wallTimeMs)
            .bindInt64(5, static_cast<std::int64_t>(data.rawEnd.segmentId))
            .bindInt64(6, static_cast<std::int64_t>(data.rawEnd.byteOffset))
            .bindInt64(7, static_cast<std::int64_t>(data.rawEnd.nextSequence))
            .bindText(8, data.sourceKey)
            .bindBlob(9, data.state);
        s = runAndReset(*q);
    }
    if (!s.ok())
        return storeFailure(s, "checkpoint: checkpoint row", m_error);

    if (d.beforeCommitHook)
        d.beforeCommitHook();
    if (s = tx.commit(); !s.ok())
        return storeFailure(s, "checkpoint: commit", m_error);
    return StoreStatus::Ok;
}

// ── reads ────────────────────────────────────────────────────────────────────────────────────

bool SqliteStore::loadCheckpoint(CheckpointData& out)
{
    m_error.clear();
    out = CheckpointData();
    Impl& d = *m_impl;
    // One read transaction: the checkpoint row, its offsets and the quarantine totals are of
    // the same commit.
    SqliteTransaction tx(d.db, SqliteTransaction::Mode::Deferred);
    SqliteStatus s = tx.status();
    SqliteStatement spare;
    SqliteStatement* q = s.ok() ? d.statement(StoreSql::LoadCheckpoint, s, &spare) : nullptr;
    bool found = false;
    if (q) {
        SqliteResetGuard guard(*q);
        const SqliteStatement::Step step = q->step();
        if (step == SqliteStatement::Step::Row) {
            found = true;
            out.sequence = static_cast<std::uint64_t>(q->columnInt64(0));
            out.processingTimeMs = q->columnInt64(1);
            out.watermarkMs = q->columnInt64(2);
            out.wallTimeMs = q->columnInt64(3);
            out.rawEnd.segmentId = static_cast<std::uint64_t>(q->columnInt64(4));
            out.rawEnd.byteOffset = static_cast<std::uint64_t>(q->columnInt64(5));
            out.rawEnd.nextSequence = static_cast<std::uint64_t>(q->columnInt64(6));
            out.sourceKey = std::string(q->columnText(7));
            const auto blob = q->columnBlob(8);
            out.state.assign(blob.begin(), blob.end());
        }
        s = step == SqliteStatement::Step::Error ? q->status() : q->run();
    }
    if (s.ok() && found) {
        SqliteStatement spareOffsets;
        if (q = d.statement(StoreSql::LoadOffsets, s, &spareOffsets); q) {
            SqliteResetGuard guard(*q);
            q->bindText(1, out.sourceKey);
            while (q->step() == SqliteStatement::Step::Row)
                out.offsets.push_back({ static_cast<std::uint32_t>(q->columnInt64(0)), q->columnInt64(1) });
            s = q->status();
        }
    }
    if (s.ok() && found) {
        SqliteStatement spareQuarantine;
        if (q = d.statement(StoreSql::LoadQuarantine, s, &spareQuarantine); q) {
            SqliteResetGuard guard(*q);
            while (q->step() == SqliteStatement::Step::Row) {
                const std::int64_t reason = q->columnInt64(0);
                if (reason >= 0 && reason < kRejectReasonCount)
                    out.quarantined[static_cast<std::size_t>(reason)] = static_cast<std::uint64_t>(q->columnInt64(1));
            }
            s = q->status();
        }
    }
    if (s.ok())
        s = tx.commit();
    if (!s.ok()) {
        storeFailure(s, "load checkpoint", m_error);
        out = CheckpointData();
        return false;
    }
    return found;
}

void SqliteStore::forEachAd(const std::function<void(AdId, const std::string&)>& f)
{
    m_error.clear();
    SqliteStatus s;
    SqliteStatement spare;
    SqliteStatement* q = m_impl->statement(StoreSql::ListAds, s, &spare);
    if (q) {
        SqliteResetGuard guard(*q);
        std::string name;
        while (q->step() == SqliteStatement::Step::Row) {
            name = q->columnText(1);
            f(static_cast<AdId>(q->columnInt64(0)), name);
        }
        s = q->status();
    }
    if (!s.ok())
        storeFailure(s, "ads", m_error);
}

void SqliteStore::forEachSpeedMinute(TimeMs fromMs, TimeMs toMs, const std::function<void(const StoredRow&)>& f)
{
    forEachRow(RowKind::Speed, RowLevel::Minute, fromMs, toMs, f);
}

void SqliteStore::forEachRow(
    RowKind kind, RowLevel level, TimeMs fromMs, TimeMs toMs, const std::function<void(const StoredRow&)>& f)
{
    m_error.clear();
    SqliteStatus s;
    SqliteStatement spare;
    SqliteStatement* q = m_impl->statement(perTable(StoreSql::ForEachRow, kind, level), s, &spare);
    if (q) {
        SqliteResetGuard guard(*q);
        q->bindInt64(1, fromMs).bindInt64(2, toMs);
        while (q->step() == SqliteStatement::Step::Row)
            f(readRow(*q));
        s = q->status();
    }
    if (!s.ok())
        storeFailure(s, "rows", m_error);
}

std::uint64_t SqliteStore::total(RowKind kind, TimeMs fromMs, TimeMs toMs, AdId adId)
{
    m_error.clear();
    SqliteStatus s;
    SqliteStatement spare;
    SqliteStatement* q
        = m_impl->statement(perKind(adId == 0 ? StoreSql::TotalAll : StoreSql::TotalAd, kind), s, &spare);
    std::int64_t sum = 0;
    if (q) {
        SqliteResetGuard guard(*q);
        q->bindInt64(1, fromMs).bindInt64(2, toMs);
        if (adId != 0)
            q->bindInt64(3, adId);
        if (q->step() == SqliteStatement::Step::Row)
            sum = q->columnInt64(0);
        s = q->run();
    }
    if (!s.ok())
        storeFailure(s, "total", m_error);
    return static_cast<std::uint64_t>(sum);
}

std::uint64_t SqliteStore::rowCount(RowKind kind, RowLevel level)
{
    m_error.clear();
    SqliteStatus s;
    SqliteStatement spare;
    SqliteStatement* q = m_impl->statement(perTable(StoreSql::RowCount, kind, level), s, &spare);
    std::int64_t n = 0;
    if (q) {
        SqliteResetGuard guard(*q);
        if (q->step() == SqliteStatement::Step::Row)
            n = q->columnInt64(0);
        s = q->run();
    }
    if (!s.ok())
        storeFailure(s, "row count", m_error);
    return static_cast<std::uint64_t>(n);
}

std::array<std::uint64_t, kRejectReasonCount> SqliteStore::quarantined()
{
    m_error.clear();
    std::array<std::uint64_t, kRejectReasonCount> out {};
    SqliteStatus s;
    SqliteStatement spare;
    SqliteStatement* q = m_impl->statement(StoreSql::LoadQuarantine, s, &spare);
    if (q) {
        SqliteResetGuard guard(*q);
        while (q->step() == SqliteStatement::Step::Row) {
            const std::int64_t reason = q->columnInt64(0);
            if (reason >= 0 && reason < kRejectReasonCount)
                out[static_cast<std::size_t>(reason)] = static_cast<std::uint64_t>(q->columnInt64(1));
        }
        s = q->status();
    }
    if (!s.ok())
        storeFailure(s, "quarantine", m_error);
    return out;
}

std::string defaultDataDirectory()
{
    // getenv is safe here: nothing in adclick sets environment variables while running.
    const char* xdg = std::getenv("XDG_DATA_HOME"); // NOLINT(concurrency-mt-unsafe)
    if (xdg && *xdg)
        return std::string(xdg) + "/adclick";
    const char* home = std::getenv("HOME"); // NOLINT(concurrency-mt-unsafe)
    return std::string(home && *home ? home : ".") + "/.local/share/adclick";
}

} // namespace adclick::engine
