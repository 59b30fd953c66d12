#include "storage/pg_connection.h"

#include <libpq-fe.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace adclick::engine {

PgParam::PgParam(std::int64_t v)
    : m_data(std::to_string(v))
    , m_null(false)
{
}
PgParam::PgParam(std::uint64_t v)
    : m_data(std::to_string(v))
    , m_null(false)
{
}
PgParam::PgParam(int v)
    : PgParam(static_cast<std::int64_t>(v))
{
}
PgParam::PgParam(std::uint32_t v)
    : PgParam(static_cast<std::int64_t>(v))
{
}
PgParam::PgParam(double v)
    : m_null(false)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    m_data = buf;
}
PgParam::PgParam(bool v)
    : m_data(v ? "true" : "false")
    , m_null(false)
{
}
PgParam::PgParam(std::string_view text)
    : m_data(text)
    , m_null(false)
{
}
PgParam::PgParam(const char* text)
    : PgParam(std::string_view(text))
{
}
PgParam PgParam::bytes(std::span<const std::uint8_t> b)
{
    PgParam p;
    p.m_data.assign(reinterpret_cast<const char*>(b.data()), b.size());
    p.m_null = false;
    p.m_binary = true;
    return p;
}

PgResult::PgResult(pg_result* r)
    : m_result(r)
{
}
PgResult::PgResult(PgResult&& o) noexcept
    : m_result(o.m_result)
{
    o.m_result = nullptr;
}
PgResult& PgResult::operator=(PgResult&& o) noexcept
{
    if (this != &o) {
        if (m_result)
            PQclear(m_result);
        m_result = o.m_result;
        o.m_result = nullptr;
    }
    return *this;
}
PgResult::~PgResult()
{
    if (m_result)
        PQclear(m_result);
}

bool PgResult::ok() const
{
    if (!m_result)
        return false;
    const ExecStatusType s = PQresultStatus(m_result);
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

std::string PgResult::error() const
{
    if (!m_result)
        return "no result (out of memory or connection lost)";
    std::string e = PQresultErrorMessage(m_result);
    while (!e.empty() && (e.back() == '\n' || e.back() == ' '))
        e.pop_back();
    return e;
}

std::string PgResult::sqlState() const
{
    if (!m_result || ok())
        return {};
    const char* s = PQresultErrorField(m_result, PG_DIAG_SQLSTATE);
    return s ? s : "";
}

int PgResult::rows() const
{
    return m_result ? PQntuples(m_result) : 0;
}
int PgResult::columns() const
{
    return m_result ? PQnfields(m_result) : 0;
}
bool PgResult::isNull(int row, int col) const
{
    return PQgetisnull(m_result, row, col) != 0;
}
std::string_view PgResult::text(int row, int col) const
{
    return { PQgetvalue(m_result, row, col), static_cast<std::size_t>(PQgetlength(m_result, row, col)) };
}
std::int64_t PgResult::int64(int row, int col) const
{
    return isNull(row, col) ? 0 : std::strtoll(PQgetvalue(m_result, row, col), nullptr, 10);
}
double PgResult::real(int row, int col) const
{
    return isNull(row, col) ? 0.0 : std::strtod(PQgetvalue(m_result, row, col), nullptr);
}
bool PgResult::boolean(int row, int col) const
{
    return !isNull(row, col) && PQgetvalue(m_result, row, col)[0] == 't';
}
std::vector<std::uint8_t> PgResult::bytes(int row, int col) const
{
    if (isNull(row, col))
        return {};
    std::size_t n = 0;
    unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(m_result, row, col)), &n);
    if (!raw)
        return {};
    std::vector<std::uint8_t> out(raw, raw + n);
    PQfreemem(raw);
    return out;
}
std::string PgResult::commandTag() const
{
    return m_result ? PQcmdStatus(m_result) : "";
}
std::uint64_t PgResult::affected() const
{
    return m_result ? std::strtoull(PQcmdTuples(m_result), nullptr, 10) : 0;
}

std::unique_ptr<PgConnection> PgConnection::connect(const std::string& conninfo, std::string& error)
{
    std::unique_ptr<PgConnection> c(new PgConnection);
    c->m_conn = PQconnectdb(conninfo.c_str());
    if (!c->m_conn || PQstatus(c->m_conn) != CONNECTION_OK) {
        error = c->m_conn ? PQerrorMessage(c->m_conn) : "out of memory";
        while (!error.empty() && (error.back() == '\n' || error.back() == ' '))
            error.pop_back();
        return nullptr;
    }
    // Quiet: NOTICEs (e.g. "relation already exists, skipping") are not the user's business.
    PQsetNoticeProcessor(c->m_conn, [](void*, const char*) {}, nullptr);
    PgResult r = c->exec("SET client_min_messages = warning; SET TIME ZONE 'UTC'");
    if (!r.ok()) {
        error = r.error();
        return nullptr;
    }
    return c;
}

PgConnection::~PgConnection()
{
    if (m_conn)
        PQfinish(m_conn);
}

PgResult PgConnection::exec(const char* sql)
{
    return PgResult(PQexec(m_conn, sql));
}

PgResult PgConnection::exec(const char* sql, std::span<const PgParam> params)
{
    std::vector<const char*> values(params.size());
    std::vector<int> lengths(params.size());
    std::vector<int> formats(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
        values[i] = params[i].isNull() ? nullptr : params[i].data().c_str();
        lengths[i] = static_cast<int>(params[i].data().size());
        formats[i] = params[i].isBinary() ? 1 : 0;
    }
    return PgResult(PQexecParams(m_conn, sql, static_cast<int>(params.size()), nullptr, values.data(), lengths.data(),
        formats.data(), 0));
}

bool PgConnection::healthy() const
{
    return m_conn && PQstatus(m_conn) == CONNECTION_OK;
}

std::string PgConnection::describe() const
{
    if (!m_conn)
        return "(not connected)";
    return std::string(PQhost(m_conn)) + ":" + PQport(m_conn) + "/" + PQdb(m_conn);
}

int PgConnection::serverVersion() const
{
    return m_conn ? PQserverVersion(m_conn) : 0;
}

PgTransaction::PgTransaction(PgConnection& c, const char* begin)
    : m_conn(c)
{
    PgResult r = m_conn.exec(begin);
    m_open = r.ok();
    if (!m_open)
        m_error = r.error();
}

PgTransaction::~PgTransaction()
{
    if (m_open)
        m_conn.exec("ROLLBACK");
}

bool PgTransaction::commit()
{
    if (!m_open)
        return false;
    PgResult r = m_conn.exec("COMMIT");
    m_open = false;
    // COMMIT of a transaction a failed statement aborted "succeeds" with the tag ROLLBACK.
    if (!r.ok() || r.commandTag() != "COMMIT") {
        m_error = r.ok() ? "the transaction was rolled back (a statement in it failed)" : r.error();
        m_conn.exec("ROLLBACK");
        return false;
    }
    return true;
}

} // namespace adclick::engine
