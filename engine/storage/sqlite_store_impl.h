#pragma once

// Private to sqlite_store.cpp and sqlite_rollup.cpp: the connection, the statement cache and the
// SQL of every statement the store runs. All SQL is fixed text; values are always bound.

#include "storage/sqlite_handle.h"
#include "storage/sqlite_store.h"

#include <functional>
#include <string>
#include <vector>

namespace adclick::engine {

/// Rows per multi-row UPSERT statement: one VDBE run per 32 rows instead of per row (~25% less
/// time per row than single-row statements), 256 bound values.
inline constexpr int kUpsertBatchRows = 32;

/// Every statement the store prepares, one cached sqlite3_stmt each.
enum class StoreSql : int {
    InsertAd,
    SelectAdName,
    UpsertSpeedRow,
    UpsertSpeedRows, ///< kUpsertBatchRows rows per statement
    AddSpeedLateDrop,
    DeleteOffsets,
    InsertOffset,
    UpsertQuarantine,
    SelectSequence,
    UpsertCheckpoint,
    LoadCheckpoint,
    LoadOffsets,
    LoadQuarantine,
    ListAds,
    UpsertRollupState,
    PerTable, ///< the following groups have one statement per table (tableIndex())
    ForEachRow = PerTable,
    RowCount = ForEachRow + 6,
    DeleteBefore = RowCount + 6,
    PerKind = DeleteBefore + 6, ///< the following groups have one statement per RowKind
    TotalAll = PerKind,
    TotalAd = TotalAll + 2,
    RollMinuteToHour = TotalAd + 2,
    RollHourToDay = RollMinuteToHour + 2,
    Count = RollHourToDay + 2,
};

constexpr int tableIndex(RowKind kind, RowLevel level)
{
    return static_cast<int>(kind) * 3 + static_cast<int>(level);
}
constexpr StoreSql perTable(StoreSql group, RowKind kind, RowLevel level)
{
    return static_cast<StoreSql>(static_cast<int>(group) + tableIndex(kind, level));
}
constexpr StoreSql perKind(StoreSql group, RowKind kind)
{
    return static_cast<StoreSql>(static_cast<int>(group) + static_cast<int>(kind));
}

struct SqliteStore::Impl {
    SqliteDb db;
    std::string path;
    Options options;
    int schemaVersion = 0;
    std::vector<SqliteStatement> cache = std::vector<SqliteStatement>(static_cast<std::size_t>(StoreSql::Count));
    std::function<void()> beforeCommitHook;
    std::vector<std::pair<WindowKey, std::uint32_t>> order; ///< reused: checkpoint rows in key order

    /// The cached statement (prepared on first use), or nullptr with `status` set. If the cached
    /// one is in use (a callback re-entered the store), a fresh one is prepared into `spare`.
    SqliteStatement* statement(StoreSql id, SqliteStatus& status, SqliteStatement* spare = nullptr);
    /// Runs a write statement bound with one cutoff (?1) and adds the rows it changed to *changed.
    SqliteStatus runWithCutoff(StoreSql id, TimeMs cutoffMs, std::uint64_t* changed);
};

/// The fixed SQL text of a statement.
const std::string& storeSqlText(StoreSql id);

/// Maps a SQLite failure to Full / IoError and writes "<what>: <message>" to `error`.
StoreStatus storeFailure(const SqliteStatus& status, const char* what, std::string& error);

} // namespace adclick::engine
