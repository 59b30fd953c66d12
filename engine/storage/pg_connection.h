#pragma once

// A thin RAII layer over libpq (PostgreSQL's C client library) for the PostgreSQL store: one
// connection, statements with parameters (never SQL built from user text), results read by row
// and column. Not thread-safe: one connection per thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct pg_conn;
struct pg_result;

namespace adclick::engine {

/// One parameter of a statement: NULL, text (numbers are sent as their decimal text) or bytes
/// (sent in binary, for bytea columns).
class PgParam {
public:
    PgParam() = default; ///< NULL
    PgParam(std::int64_t v);
    PgParam(std::uint64_t v);
    PgParam(int v);
    PgParam(std::uint32_t v);
    PgParam(double v);
    PgParam(bool v);
    PgParam(std::string_view text);
    PgParam(const char* text);
    static PgParam bytes(std::span<const std::uint8_t> b);

    bool isNull() const { return m_null; }
    bool isBinary() const { return m_binary; }
    const std::string& data() const { return m_data; }

private:
    std::string m_data;
    bool m_null = true;
    bool m_binary = false;
};

/// A PostgreSQL array literal of numbers or booleans ("{1,2,3}"), sent as ONE parameter and
/// unnest()ed by the statement: many rows in one statement. Numbers only: nothing to quote.
class PgNumberArray {
public:
    void add(std::int64_t v)
    {
        separate();
        m_text += std::to_string(v);
    }
    void add(bool v)
    {
        separate();
        m_text += v ? "t" : "f";
    }
    PgParam param() const { return PgParam(m_text + "}"); }

private:
    void separate()
    {
        if (m_text.size() > 1)
            m_text += ',';
    }
    std::string m_text = "{";
};

/// A statement's result. ok() is false when the statement failed: error() and sqlState() say why.
class PgResult {
public:
    PgResult() = default;
    explicit PgResult(pg_result* r);
    PgResult(PgResult&& o) noexcept;
    PgResult& operator=(PgResult&& o) noexcept;
    ~PgResult();

    bool ok() const;
    std::string error() const;
    /// The five-character SQLSTATE of a failure ("40001" serialization failure, "23505" unique
    /// violation, "57P01" admin shutdown…); empty when ok.
    std::string sqlState() const;
    int rows() const;
    int columns() const;
    bool isNull(int row, int col) const;
    std::string_view text(int row, int col) const;
    std::int64_t int64(int row, int col) const; ///< 0 for NULL
    double real(int row, int col) const;
    bool boolean(int row, int col) const;
    /// A bytea column (text format, hex-escaped by the server) decoded.
    std::vector<std::uint8_t> bytes(int row, int col) const;
    /// The command tag ("COMMIT", "ROLLBACK", "INSERT 0 3"…).
    std::string commandTag() const;
    /// Rows changed by INSERT/UPDATE/DELETE.
    std::uint64_t affected() const;

private:
    pg_result* m_result = nullptr;
};

class PgConnection {
public:
    /// Connects with a libpq connection string: "postgresql://user@host:port/db" or
    /// "host=… port=… dbname=…". nullptr with `error` set on failure (the password is not echoed).
    static std::unique_ptr<PgConnection> connect(const std::string& conninfo, std::string& error);
    ~PgConnection();
    PgConnection(const PgConnection&) = delete;
    PgConnection& operator=(const PgConnection&) = delete;

    /// One or more statements without parameters (a migration script, BEGIN, COMMIT).
    PgResult exec(const char* sql);
    /// One statement with $1, $2… parameters.
    PgResult exec(const char* sql, std::span<const PgParam> params);
    PgResult exec(const char* sql, std::initializer_list<PgParam> params)
    {
        return exec(sql, std::span<const PgParam>(params.begin(), params.size()));
    }

    /// False once the connection broke (server gone, network): reconnect.
    bool healthy() const;
    /// "host:port/db" for messages (no password).
    std::string describe() const;
    /// Server version as an integer (150018 for 15.18).
    int serverVersion() const;

private:
    PgConnection() = default;
    pg_conn* m_conn = nullptr;
};

/// A transaction: BEGIN on construction (ok() says whether it began), ROLLBACK on destruction
/// unless commit() succeeded.
class PgTransaction {
public:
    explicit PgTransaction(PgConnection& c, const char* begin = "BEGIN");
    ~PgTransaction();
    PgTransaction(const PgTransaction&) = delete;
    PgTransaction& operator=(const PgTransaction&) = delete;
    bool ok() const { return m_open; }
    const std::string& error() const { return m_error; }
    /// COMMIT; false (and rolled back) on failure, with error() set.
    bool commit();

private:
    PgConnection& m_conn;
    bool m_open = false;
    std::string m_error;
};

} // namespace adclick::engine
