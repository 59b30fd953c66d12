#include "storage/sqlite_handle.h"

#include <sqlite3.h>

#include <cerrno>
#include <utility>

namespace adclick::engine {

namespace {
SqliteStatus makeStatus(sqlite3* db, int rc)
{
    SqliteStatus s;
    s.code = rc;
    if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) {
        s.code = SQLITE_OK;
        return s;
    }
    // sqlite3_errmsg describes the most recent failure on the connection, which is this one as
    // long as the status is taken right after the call (as every caller here does).
    const char* text = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    s.systemErrno = db ? sqlite3_system_errno(db) : 0;
    s.message = text ? text : sqlite3_errstr(rc);
    s.message += " (extended code " + std::to_string(rc) + ")";
    return s;
}
} // namespace

bool SqliteStatus::diskFull() const
{
    if ((code & 0xFF) == SQLITE_FULL)
        return true;
    return (code & 0xFF) == SQLITE_IOERR && (systemErrno == ENOSPC || systemErrno == EDQUOT);
}

bool SqliteStatus::corrupt() const
{
    return (code & 0xFF) == SQLITE_CORRUPT || (code & 0xFF) == SQLITE_NOTADB;
}

// ── SqliteDb ─────────────────────────────────────────────────────────────────────────────────

SqliteDb::~SqliteDb()
{
    if (m_db)
        sqlite3_close_v2(m_db);
}

SqliteDb::SqliteDb(SqliteDb&& other) noexcept
    : m_db(std::exchange(other.m_db, nullptr))
{
}

SqliteDb& SqliteDb::operator=(SqliteDb&& other) noexcept
{
    if (this != &other) {
        if (m_db)
            sqlite3_close_v2(m_db);
        m_db = std::exchange(other.m_db, nullptr);
    }
    return *this;
}

SqliteStatus SqliteDb::open(const std::string& path, int flags, SqliteDb& out)
{
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        SqliteStatus s = makeStatus(db, db ? sqlite3_extended_errcode(db) : rc);
        s.message = "cannot open " + path + ": " + s.message;
        sqlite3_close_v2(db); // frees the handle SQLite returns even on failure (null is fine)
        return s;
    }
    sqlite3_extended_result_codes(db, 1);
    out = SqliteDb();
    out.m_db = db;
    return {};
}

SqliteStatus SqliteDb::exec(const char* sql)
{
    return makeStatus(m_db, sqlite3_exec(m_db, sql, nullptr, nullptr, nullptr));
}

SqliteStatus SqliteDb::prepare(std::string_view sql, SqliteStatement& out, bool persistent)
{
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(
        m_db, sql.data(), static_cast<int>(sql.size()), persistent ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, nullptr);
    if (rc != SQLITE_OK) {
        SqliteStatus s = makeStatus(m_db, rc);
        s.message += " in: " + std::string(sql);
        return s;
    }
    out = SqliteStatement(stmt);
    return {};
}

SqliteStatus SqliteDb::queryText(const char* sql, std::string& value)
{
    value.clear();
    SqliteStatement stmt;
    if (SqliteStatus s = prepare(sql, stmt, false); !s.ok())
        return s;
    if (stmt.step() == SqliteStatement::Step::Row)
        value = std::string(stmt.columnText(0));
    return stmt.run();
}

SqliteStatus SqliteDb::queryInt64(const char* sql, std::int64_t& value)
{
    value = 0;
    SqliteStatement stmt;
    if (SqliteStatus s = prepare(sql, stmt, false); !s.ok())
        return s;
    if (stmt.step() == SqliteStatement::Step::Row)
        value = stmt.columnInt64(0);
    return stmt.run();
}

SqliteStatus SqliteDb::status(int rc) const
{
    return makeStatus(m_db, rc);
}

std::int64_t SqliteDb::changes() const
{
    return sqlite3_changes64(m_db);
}

bool SqliteDb::inTransaction() const
{
    return m_db && sqlite3_get_autocommit(m_db) == 0;
}

// ── SqliteStatement ──────────────────────────────────────────────────────────────────────────

SqliteStatement::~SqliteStatement()
{
    if (m_stmt)
        sqlite3_finalize(m_stmt);
}

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : m_stmt(std::exchange(other.m_stmt, nullptr))
    , m_bindRc(std::exchange(other.m_bindRc, 0))
    , m_status(std::move(other.m_status))
{
}

SqliteStatement& SqliteStatement::operator=(SqliteStatement&& other) noexcept
{
    if (this != &other) {
        if (m_stmt)
            sqlite3_finalize(m_stmt);
        m_stmt = std::exchange(other.m_stmt, nullptr);
        m_bindRc = std::exchange(other.m_bindRc, 0);
        m_status = std::move(other.m_status);
    }
    return *this;
}

bool SqliteStatement::busy() const
{
    return m_stmt && sqlite3_stmt_busy(m_stmt) != 0;
}

void SqliteStatement::noteBind(int rc)
{
    if (rc != SQLITE_OK && m_bindRc == SQLITE_OK)
        m_bindRc = rc;
}

SqliteStatement& SqliteStatement::bindInt64(int index, std::int64_t value)
{
    noteBind(sqlite3_bind_int64(m_stmt, index, value));
    return *this;
}

SqliteStatement& SqliteStatement::bindText(int index, std::string_view value)
{
    // A non-null pointer even for "" so that the value is an empty string, not NULL.
    noteBind(sqlite3_bind_text64(
        m_stmt, index, value.empty() ? "" : value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
    return *this;
}

SqliteStatement& SqliteStatement::bindBlob(int index, std::span<const std::uint8_t> value)
{
    static const std::uint8_t kEmpty = 0;
    noteBind(
        sqlite3_bind_blob64(m_stmt, index, value.empty() ? &kEmpty : value.data(), value.size(), SQLITE_TRANSIENT));
    return *this;
}

SqliteStatement& SqliteStatement::bindNull(int index)
{
    noteBind(sqlite3_bind_null(m_stmt, index));
    return *this;
}

SqliteStatement::Step SqliteStatement::step()
{
    if (m_bindRc != SQLITE_OK) {
        m_status = makeStatus(nullptr, m_bindRc);
        m_status.message = "bind failed: " + m_status.message;
        return Step::Error;
    }
    const int rc = sqlite3_step(m_stmt);
    if (rc == SQLITE_ROW)
        return Step::Row;
    if (rc == SQLITE_DONE)
        return Step::Done;
    m_status = makeStatus(sqlite3_db_handle(m_stmt), rc);
    return Step::Error;
}

const SqliteStatus& SqliteStatement::run()
{
    Step s = Step::Row;
    while (s == Step::Row)
        s = step();
    return m_status;
}

void SqliteStatement::reset()
{
    if (m_stmt)
        sqlite3_reset(m_stmt);
    m_bindRc = SQLITE_OK;
    if (!m_status.ok())
        m_status = SqliteStatus();
}

void SqliteStatement::clearBindings()
{
    if (m_stmt)
        sqlite3_clear_bindings(m_stmt);
}

std::int64_t SqliteStatement::columnInt64(int column) const
{
    return sqlite3_column_int64(m_stmt, column);
}

std::string_view SqliteStatement::columnText(int column) const
{
    const auto* text = sqlite3_column_text(m_stmt, column);
    const int bytes = sqlite3_column_bytes(m_stmt, column); // after the text call, as the docs require
    return text ? std::string_view(reinterpret_cast<const char*>(text), static_cast<std::size_t>(bytes))
                : std::string_view();
}

std::span<const std::uint8_t> SqliteStatement::columnBlob(int column) const
{
    const void* blob = sqlite3_column_blob(m_stmt, column);
    const int bytes = sqlite3_column_bytes(m_stmt, column);
    return blob ? std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(blob), static_cast<std::size_t>(bytes))
                : std::span<const std::uint8_t>();
}

bool SqliteStatement::columnIsNull(int column) const
{
    return sqlite3_column_type(m_stmt, column) == SQLITE_NULL;
}

// ── SqliteTransaction ────────────────────────────────────────────────────────────────────────

SqliteTransaction::SqliteTransaction(SqliteDb& db, Mode mode)
    : m_db(db)
{
    m_status = m_db.exec(mode == Mode::Immediate ? "BEGIN IMMEDIATE" : "BEGIN");
    m_active = m_status.ok();
}

SqliteTransaction::~SqliteTransaction()
{
    rollback();
}

SqliteStatus SqliteTransaction::commit()
{
    if (!m_active) {
        SqliteStatus s;
        s.code = SQLITE_MISUSE;
        s.message = "commit without an open transaction";
        return s;
    }
    SqliteStatus s = m_db.exec("COMMIT");
    if (s.ok())
        m_active = false;
    return s; // on failure the destructor rolls back
}

void SqliteTransaction::rollback()
{
    if (!m_active)
        return;
    m_active = false;
    // After SQLITE_FULL / IOERR SQLite may already have rolled back; ROLLBACK would then fail
    // with "no transaction is active", which is fine but noisy — skip it.
    if (m_db.inTransaction())
        m_db.exec("ROLLBACK");
}

} // namespace adclick::engine
