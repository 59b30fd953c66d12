#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace adclick::engine {

/// Outcome of a SQLite call: the extended result code, sqlite3_errmsg() at the time of the
/// failure and the OS errno behind an I/O error (sqlite3_system_errno). Cheap when ok.
struct SqliteStatus {
    int code = 0; ///< extended result code; 0 = SQLITE_OK
    int systemErrno = 0; ///< errno of the last failed OS call, where SQLite recorded one
    std::string message; ///< "<errmsg> (extended code N)" or empty when ok

    bool ok() const { return code == 0; }
    /// SQLITE_FULL, or an I/O error whose errno is ENOSPC/EDQUOT: retry once space is back.
    bool diskFull() const;
    /// SQLITE_CORRUPT / SQLITE_NOTADB: the file is damaged; retrying cannot help.
    bool corrupt() const;
};

class SqliteStatement;

/// Owns a sqlite3* connection (closed with sqlite3_close_v2, so statements finalized later are
/// still safe). Move-only. Extended result codes are on. Not thread-safe (opened NOMUTEX): one
/// thread uses a connection at a time.
class SqliteDb {
public:
    SqliteDb() = default;
    ~SqliteDb();
    SqliteDb(SqliteDb&& other) noexcept;
    SqliteDb& operator=(SqliteDb&& other) noexcept;
    SqliteDb(const SqliteDb&) = delete;
    SqliteDb& operator=(const SqliteDb&) = delete;

    /// sqlite3_open_v2 with `flags` (SQLITE_OPEN_*; NOMUTEX is added). On failure `out` stays empty.
    static SqliteStatus open(const std::string& path, int flags, SqliteDb& out);

    sqlite3* get() const { return m_db; }
    bool valid() const { return m_db != nullptr; }

    /// Runs one or more ';'-separated statements without results (sqlite3_exec).
    SqliteStatus exec(const char* sql);
    /// Compiles one statement. persistent: SQLITE_PREPARE_PERSISTENT (a statement kept and reused).
    SqliteStatus prepare(std::string_view sql, SqliteStatement& out, bool persistent = true);
    /// Runs a one-value query ("PRAGMA journal_mode=WAL", "SELECT count(*) …") and returns its
    /// first column as text in `value` (empty if it returned no row).
    SqliteStatus queryText(const char* sql, std::string& value);
    SqliteStatus queryInt64(const char* sql, std::int64_t& value);

    /// A status for return code rc, with this connection's current errmsg and errno.
    SqliteStatus status(int rc) const;
    std::int64_t changes() const; ///< rows changed by the last INSERT/UPDATE/DELETE
    bool inTransaction() const; ///< not in autocommit mode

private:
    sqlite3* m_db = nullptr;
};

/// Owns a prepared statement (sqlite3_finalize). Bind indices are 1-based, columns 0-based,
/// as in the C API. A bind failure is remembered and reported by the next step(), so a chain
/// of binds needs one check. Move-only.
class SqliteStatement {
public:
    SqliteStatement() = default;
    explicit SqliteStatement(sqlite3_stmt* stmt)
        : m_stmt(stmt)
    {
    }
    ~SqliteStatement();
    SqliteStatement(SqliteStatement&& other) noexcept;
    SqliteStatement& operator=(SqliteStatement&& other) noexcept;
    SqliteStatement(const SqliteStatement&) = delete;
    SqliteStatement& operator=(const SqliteStatement&) = delete;

    sqlite3_stmt* get() const { return m_stmt; }
    bool valid() const { return m_stmt != nullptr; }
    /// True between a step() that returned a row and the reset (a query in progress).
    bool busy() const;

    SqliteStatement& bindInt64(int index, std::int64_t value);
    SqliteStatement& bindText(int index, std::string_view value); ///< copied (SQLITE_TRANSIENT)
    SqliteStatement& bindBlob(int index, std::span<const std::uint8_t> value); ///< copied
    SqliteStatement& bindNull(int index);

    enum class Step : std::uint8_t { Row, Done, Error };
    /// One sqlite3_step. On Error, status() holds the code and message.
    Step step();
    /// Steps a statement expected to return no row to completion. Returns status().
    const SqliteStatus& run();
    /// sqlite3_reset (bindings are kept; rebind what changes). Clears status().
    void reset();
    void clearBindings();
    const SqliteStatus& status() const { return m_status; }

    std::int64_t columnInt64(int column) const;
    std::string_view columnText(int column) const; ///< valid until the next step/reset
    std::span<const std::uint8_t> columnBlob(int column) const; ///< valid until the next step/reset
    bool columnIsNull(int column) const;

private:
    void noteBind(int rc);

    sqlite3_stmt* m_stmt = nullptr;
    int m_bindRc = 0;
    SqliteStatus m_status;
};

/// Resets a statement when the scope ends (also when a callback throws), so a cached statement
/// never keeps a read snapshot open.
class SqliteResetGuard {
public:
    explicit SqliteResetGuard(SqliteStatement& stmt)
        : m_stmt(stmt)
    {
    }
    ~SqliteResetGuard() { m_stmt.reset(); }
    SqliteResetGuard(const SqliteResetGuard&) = delete;
    SqliteResetGuard& operator=(const SqliteResetGuard&) = delete;

private:
    SqliteStatement& m_stmt;
};

/// BEGIN … COMMIT guard: the constructor begins (check status()), the destructor rolls back
/// unless commit() succeeded. A rollback after SQLite has already rolled back on its own
/// (SQLITE_FULL, I/O errors) is harmless.
class SqliteTransaction {
public:
    enum class Mode : std::uint8_t { Deferred, Immediate };
    SqliteTransaction(SqliteDb& db, Mode mode);
    ~SqliteTransaction();
    SqliteTransaction(const SqliteTransaction&) = delete;
    SqliteTransaction& operator=(const SqliteTransaction&) = delete;

    const SqliteStatus& status() const { return m_status; } ///< of BEGIN
    bool active() const { return m_active; }
    SqliteStatus commit();
    void rollback();

private:
    SqliteDb& m_db;
    SqliteStatus m_status;
    bool m_active = false;
};

} // namespace adclick::engine
