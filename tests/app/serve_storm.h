#pragma once

// The hostile request storm of tst_serve.cpp: a seeded generator of valid-but-hostile and broken
// HTTP requests (Probe, HostileRequests), and the raw-socket client that sends them in keep-alive,
// pipelined, broken and abandoned sessions and checks every answer (StormClient).

#include "serve_test_support.h"

#include <QSet>
#include <QTcpSocket>

#include <random>

namespace adclick::test {

/// One request of the storm, as bytes on the wire.
struct Probe {
    enum class Expect {
        Answer, ///< valid HTTP/1.1: the server must answer, with an allowed status and a JSON error body
        Maybe, ///< broken HTTP: an answer is optional, but if one comes its status must be allowed
    };
    QByteArray bytes;
    Expect expect = Expect::Answer;
    int exactStatus = 0; ///< the one status the server must answer (0: any allowed one)
    bool head = false;
};

/// Seeded generator of hostile requests: valid HTTP carrying hostile methods, paths, queries,
/// headers and bodies, or broken HTTP. Deterministic for a seed. One per thread.
class HostileRequests {
public:
    explicit HostileRequests(quint64 seed)
        : m_rng(seed)
    {
    }

    int below(int n) { return static_cast<int>(m_rng() % static_cast<quint64>(n)); }
    bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(m_rng) < p; }
    template <class T, std::size_t N> T oneOf(const T (&items)[N]) { return items[below(static_cast<int>(N))]; }

    /// A syntactically valid request; allowHead: HEAD may be chosen (its answer's framing differs).
    Probe wellFormed(bool allowHead)
    {
        bool strict = true;
        QByteArray method = methodToken(allowHead);
        const QByteArray target = path(strict) + query(strict);
        QByteArray body;
        if ((method == "POST" || method == "PUT" || method == "PATCH") ? chance(0.8) : chance(0.08))
            body = randomBody();
        QByteArray head = method + ' ' + target + " HTTP/1.1\r\n";
        head += "Host: 127.0.0.1\r\n"; // without Host the server answers 400 and closes (malformed())
        head += headers(strict);
        if (!body.isEmpty() || chance(0.1))
            head += "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
        Probe p { head + "\r\n" + body, strict ? Probe::Expect::Answer : Probe::Expect::Maybe, 0, method == "HEAD" };
        if (strict && target.size() > 9000)
            p.exactStatus = 414;
        else if (strict && body.size() > 64 * 1024 && target.size() < 7000)
            p.exactStatus = 413;
        return p;
    }

    /// Broken HTTP: garbage, bad framing, bad request lines (never answered with certainty).
    Probe malformed()
    {
        static const char* const kLines[] = { "GET /healthz\r\n\r\n", "GET / HTTP/9.9\r\n\r\n",
            "GET / HTTX/1.1\r\n\r\n", "GET / HTTP/1.1.1\r\n\r\n", "GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /healthz HTTP/1.1\nHost: x\n\n", "GET http://127.0.0.1/healthz HTTP/1.1\r\nHost: x\r\n\r\n",
            "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", "CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET / HTTP/1.1\r\nHost x\r\n\r\n", "GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
            "G\x01T / HTTP/1.1\r\n\r\n", "GET /\x7f\x05 HTTP/1.1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "\r\n\r\n\r\n", " GET / HTTP/1.1\r\n\r\n",
            "GET /v1/pipeline#frag HTTP/1.1\r\n\r\n", "POST /v1/batch/runs HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n{}",
            "POST /v1/batch/runs HTTP/1.1\r\nContent-Length: abc\r\n\r\n{}",
            "POST /v1/batch/runs HTTP/1.1\r\nContent-Length: -1\r\n\r\n{}",
            "POST /v1/batch/runs HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n{}",
            "POST /v1/batch/runs HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 7\r\n\r\n{}",
            "POST /v1/batch/runs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
            "POST /v1/batch/runs HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: "
            "2\r\n\r\n2\r\n{}\r\n0\r\n\r\n" };
        Probe p;
        p.expect = Probe::Expect::Maybe;
        switch (below(5)) {
        case 0: // binary garbage
            p.bytes = bytes(1 + below(3000));
            break;
        case 1: { // a valid request cut short: the server has to wait
            const QByteArray whole = wellFormed(false).bytes;
            p.bytes = whole.left(1 + below(static_cast<int>(std::max<qsizetype>(1, whole.size() - 1))));
            break;
        }
        case 2: // Content-Length larger than the body
            p.bytes = "POST /v1/batch/runs HTTP/1.1\r\nHost: x\r\nContent-Length: "
                + QByteArray::number(3 + below(100000)) + "\r\n\r\n{}";
            break;
        case 3: { // raw non-ASCII bytes in the target or a header
            p.bytes = QByteArray("GET /v1/ads/") + oneOf({ "\xC3\xA9", "\xF0\x9F\x92\xA5", "\xFF\xFE", "\xE2\x80\xAE" })
                + QByteArray("/aggregated_count HTTP/1.1\r\nHost: x\r\nX-U: \xC3\xA9\xFF\r\n\r\n");
            break;
        }
        default:
            p.bytes = oneOf(kLines);
        }
        return p;
    }

    /// A URL of 100 KB: 414.
    Probe hugeUrl()
    {
        return { "GET /v1/ads/" + QByteArray(100 * 1024, 'x') + "/aggregated_count HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            Probe::Expect::Answer, 414, false };
    }
    /// A body of 1 MB with a correct Content-Length: 413.
    Probe hugeBody()
    {
        const QByteArray body = "{\"from\": \"" + QByteArray(1024 * 1024 - 13, 'x') + "\"}";
        return { "POST /v1/batch/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
                + QByteArray::number(body.size()) + "\r\n\r\n" + body,
            Probe::Expect::Answer, 413, false };
    }

private:
    QByteArray bytes(int n)
    {
        QByteArray b(n, '\0');
        for (char& c : b)
            c = static_cast<char>(m_rng() & 0xff);
        return b;
    }

    QByteArray methodToken(bool allowHead)
    {
        static const char* const kOther[] = { "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO", "G3T", "get",
            "PROPFIND", "M-SEARCH", "PURGE", "XYZZY" };
        const int r = below(100);
        if (r < 45)
            return "GET";
        if (r < 65)
            return "POST";
        if (r < 68 && allowHead)
            return "HEAD";
        if (r < 75) {
            QByteArray t;
            for (int i = 0, n = 1 + below(24); i < n; ++i)
                t += static_cast<char>('A' + below(26));
            return t;
        }
        return oneOf(kOther);
    }

    QByteArray segment(bool& strict)
    {
        static const char* const kSegments[]
            = { "1", "42", "0", "-1", "4999", "99999999999999999999999", "%00", "a%2Fb", "%2F", "..", "%2e%2e", ".",
                  "%C3%A9t%C3%A9", "%F0%9F%92%A5", "%FF%FE%FD", "%zz", "%", "%4", "a%20b", "null", "NaN", "1e3", "0x1F",
                  "%E2%80%AE", "~u", "!$&'()*+,;=", "@:", "v1", "ads", "batch", "runs", "healthz", "" };
        const int r = below(100);
        if (r < 5)
            return QByteArray(1 + below(r < 1 ? 9000 : 2000), 'x');
        if (r < 8) {
            strict = false;
            return oneOf({ "\xC3\xA9", "\xF0\x9F\x92\xA5", "\xFF", "a\tb" });
        }
        if (r < 20)
            return QByteArray::number(static_cast<qint64>(m_rng() >> below(64)));
        return oneOf(kSegments);
    }

    QByteArray path(bool& strict)
    {
        static const char* const kRoutes[] = { "/", "/healthz", "/metrics", "/v1/openapi.json", "/v1/pipeline",
            "/v1/ads/top_k", "/v1/ads/@/aggregated_count", "/v1/ads/@/aggregated_count", "/v1/ads/@/aggregated_count",
            "/v1/reconciliation", "/v1/batch/runs", "/v1/batch/runs", "/v1/batch/runs/@", "/v1/batch/runs/@" };
        QByteArray p;
        if (chance(0.7)) {
            p = oneOf(kRoutes);
            if (p.contains('@'))
                p.replace("@", segment(strict));
        } else {
            for (int i = 0, n = 1 + (chance(0.1) ? below(400) : below(8)); i < n; ++i)
                p += '/' + segment(strict);
        }
        if (chance(0.05))
            p += '/';
        if (chance(0.05))
            p = "/v1/.." + p;
        if (chance(0.03))
            p.replace("/", "//");
        return p;
    }

    QByteArray query(bool& strict)
    {
        static const char* const kNames[] = { "from", "to", "k", "window_minutes", "approx", "ad_id", "limit",
            "filter_region", "filter_user_agent", "filter_ip", "filter_user_agent_contains", "x", "FROM", "from[]",
            "%66rom", "filter_region%00", "", "%zz", "k%3Dv" };
        static const char* const kValues[] = { "", "0", "-1", "1", "20", "100", "10001", "1767222000", "1767229200",
            "4102444800", "4102444801", "99999999999999999999999999", "-99999999999999999999", "NaN", "inf", "1.5",
            "1e9", "%201", "0x10", "%zz", "%", "true", "false", "yes", "US", "ZZ", "mobile", "10.0.0.0/8",
            "300.1.1.1/99", "::1/200", "%00", "%C3%A9", "a+b", "%2B1", "9223372036854775807", "-9223372036854775808" };
        if (chance(0.3))
            return {};
        QByteArray q = "?";
        if (chance(0.1))
            q += "from=1767229200&to=1767222000&";
        for (int i = 0, n = 1 + below(6); i < n; ++i) {
            if (i > 0)
                q += chance(0.05) ? "&&" : "&";
            const int shape = below(20);
            const QByteArray name = shape == 0 ? QByteArray(300, 'n') : QByteArray(oneOf(kNames));
            QByteArray value
                = below(10) == 0 ? QByteArray::number(static_cast<qint64>(m_rng())) : QByteArray(oneOf(kValues));
            if (shape == 1)
                value = QByteArray(1 + below(3000), '9');
            if (shape == 2) {
                strict = false;
                value = "a b";
            }
            q += shape == 3 ? name : shape == 4 ? "=" + value : name + "=" + value;
        }
        return q;
    }

    QByteArray headers(bool& strict)
    {
        QByteArray h;
        if (chance(0.1))
            h += "Authorization: " + QByteArray(oneOf({ "Bearer x", "Bearer ", "Basic Zm9vOmJhcg==", "Bearer s3cret" }))
                + "\r\n";
        if (chance(0.08))
            h += "X-Padding: " + QByteArray(1000 + below(30000), 'p') + "\r\n";
        // At most 100 header fields in all: Qt 6.4 drops every header of a request with more
        // (hostileRequestsCannotSmuggle covers that).
        if (chance(0.05))
            for (int i = 0; i < 90; ++i)
                h += "X-Many-" + QByteArray::number(i) + ": v\r\n";
        if (chance(0.05))
            h += "Content-Type: " + QByteArray(oneOf({ "text/plain", "application/json; charset=utf-16", "x/\"y\"" }))
                + "\r\n";
        if (chance(0.05))
            h += "Accept-Encoding: gzip, br\r\nCookie: a=b; c=d\r\nUser-Agent: " + QByteArray(500, 'u') + "\r\n";
        if (chance(0.02)) {
            strict = false;
            h += "X-Obs-Text: \xC3\xA9\xFF\r\n";
        }
        return h;
    }

    QByteArray randomBody()
    {
        static const char* const kJson[] = { "{}", "{\"from\":\"abc\"}", "{\"from\":1.5}", "{\"from\":-1,\"to\":2}",
            "{\"to\":1e300}", "{\"from\":null,\"to\":true}", "[1,2,3]", "\"text\"", "42", "null", "{\"x\":1}",
            "{\"from\":1767229200,\"to\":1767222000}", "{\"from\":1767222000,\"to\":1767229200}", "{\"from\":17672",
            "{\"from\":", "{\"from\":1767222000,\"from\":1767229200}", "\xEF\xBB\xBF{}", "{\"from\":NaN}",
            "{\"to\":4102444801}", "{\"from\":0,\"to\":4102444800}", "   ", "{\"from\":{\"$gt\":0}}" };
        const int r = below(100);
        if (r < 15)
            return bytes(1 + below(4096));
        if (r < 17)
            return QByteArray(5000, '[') + QByteArray(5000, ']');
        if (r < 19)
            return "{\"from\":\"" + QByteArray(60000, 's') + "\"}";
        if (r < 20)
            return QByteArray(70000, '{');
        return oneOf(kJson);
    }

    std::mt19937_64 m_rng;
};

namespace storm {
const QSet<int> kAllowedStatus { 200, 202, 400, 401, 404, 405, 409, 413, 414, 503 };
constexpr int kStormThreads = 4;
constexpr int kStormRequestsPerThread = 2600;
constexpr int kStormDeadlineMs = 75000;
constexpr int kAnswerTimeoutMs = 8000; ///< a valid request must be answered by then
constexpr int kMaybeTimeoutMs = 200; ///< how long to listen after a broken or incomplete request

/// What one storm thread saw. Failures keep the request bytes as a reproduction.
struct StormTally {
    qint64 requests = 0;
    qint64 connections = 0;
    qint64 answered = 0;
    qint64 failureCount = 0;
    std::map<int, qint64> byStatus;
    QStringList failures;

    /// With $ADCLICK_STORM_DUMP set, also writes all bytes sent on the connection so far to
    /// $ADCLICK_STORM_DUMP/<tally>-<n>.req (replay: nc 127.0.0.1 PORT < file).
    void fail(const QString& what, const QByteArray& request, const HttpResult* r = nullptr,
        const QByteArray& connection = {})
    {
        if (const QString dump = qEnvironmentVariable("ADCLICK_STORM_DUMP"); !dump.isEmpty()) {
            QFile f(QString("%1/%2-%3.req").arg(dump).arg(quintptr(this)).arg(failureCount));
            if (f.open(QIODevice::WriteOnly))
                f.write(connection.isEmpty() ? request : connection);
        }
        if (++failureCount > 25)
            return;
        QString text = what + "\n      request: " + literal(request);
        if (r)
            text += QString("\n      answer: %1 %2").arg(r->status).arg(literal(r->body, 200));
        failures << text;
    }
    void merge(const StormTally& o)
    {
        requests += o.requests;
        connections += o.connections;
        answered += o.answered;
        failureCount += o.failureCount;
        for (const auto& [status, n] : o.byStatus)
            byStatus[status] += n;
        failures += o.failures;
    }
};

/// One thread of the storm: blocking QTcpSocket connections, one after the other.
class StormClient {
public:
    StormClient(quint16 port, quint64 seed, StormTally& tally)
        : m_port(port)
        , m_gen(seed)
        , m_tally(tally)
    {
    }

    void run(int quota, bool withHugeOnes, const QDeadlineTimer& deadline)
    {
        for (int sessions = 0; m_tally.requests < quota && !deadline.hasExpired(); ++sessions) {
            if (withHugeOnes && sessions % 250 == 0) {
                single(m_gen.hugeUrl());
                single(m_gen.hugeBody());
            }
            session();
        }
    }

    /// One request on its own connection; its answer is checked.
    void single(const Probe& p)
    {
        QTcpSocket s;
        if (!connect(s))
            return;
        QByteArray buf;
        send(s, p.bytes, 1);
        answers(s, buf, { p });
    }

private:
    void fail(const QString& what, const QByteArray& request, const HttpResult* r = nullptr)
    {
        m_tally.fail(what, request, r, m_connectionBytes);
    }

    bool connect(QTcpSocket& s)
    {
        m_connectionBytes.clear();
        s.connectToHost(QHostAddress::LocalHost, m_port);
        if (!s.waitForConnected(5000)) {
            fail("cannot connect: " + s.errorString(), {});
            return false;
        }
        ++m_tally.connections;
        return true;
    }

    /// Writes `bytes` in `pieces` writes (the parser must cope with any split).
    bool send(QTcpSocket& s, const QByteArray& bytes, int pieces)
    {
        ++m_tally.requests;
        m_connectionBytes += bytes;
        qsizetype at = 0;
        for (int i = 0; i < pieces && at < bytes.size(); ++i) {
            const qsizetype n
                = i + 1 == pieces ? bytes.size() - at : 1 + m_gen.below(static_cast<int>(bytes.size() - at));
            s.write(bytes.constData() + at, n);
            at += n;
            while (s.bytesToWrite() > 0)
                if (!s.waitForBytesWritten(5000))
                    return false;
        }
        return true;
    }

    /// Reads the answers to `probes` (sent in this order) and checks them; Answer probes must get
    /// one. `buf` keeps what arrived beyond them (the connection's unread answers).
    void answers(QTcpSocket& s, QByteArray& buf, const std::vector<Probe>& probes)
    {
        for (const Probe& p : probes) {
            QElapsedTimer t;
            t.start();
            const int timeoutMs = p.expect == Probe::Expect::Answer ? kAnswerTimeoutMs : kMaybeTimeoutMs;
            HttpResult r;
            qsizetype used = 0;
            while ((used = parseResponse(buf, p.head, r)) == 0) {
                if (s.state() != QAbstractSocket::ConnectedState && s.bytesAvailable() == 0)
                    break;
                const qint64 left = timeoutMs - t.elapsed();
                if (left <= 0)
                    break;
                s.waitForReadyRead(static_cast<int>(left));
                buf += s.readAll();
            }
            if (used < 0) {
                fail("the answer is not HTTP: " + literal(buf, 200), p.bytes);
                return;
            }
            if (used == 0) {
                if (p.expect == Probe::Expect::Answer)
                    fail(QString("no answer within %1 ms to a valid request (%2)")
                             .arg(timeoutMs)
                             .arg(s.state() == QAbstractSocket::ConnectedState ? "connection open"
                                                                               : "connection closed"),
                        p.bytes);
                return;
            }
            buf.remove(0, used);
            check(p, r);
        }
    }

    void check(const Probe& p, const HttpResult& r)
    {
        ++m_tally.answered;
        ++m_tally.byStatus[r.status];
        if (!kAllowedStatus.contains(r.status))
            fail(QString("status %1 is not an allowed one").arg(r.status), p.bytes, &r);
        if (p.exactStatus != 0 && r.status != p.exactStatus)
            fail(QString("expected status %1, got %2").arg(p.exactStatus).arg(r.status), p.bytes, &r);
        if (p.expect != Probe::Expect::Answer || p.head)
            return;
        if (r.status >= 400 && r.status < 500 && !r.isJsonError())
            fail("a 4xx answer without a JSON {\"error\": string} body", p.bytes, &r);
        if (r.status == 405 && r.header("Allow").isEmpty())
            fail("405 without an Allow header", p.bytes, &r);
        if (r.header("Content-Type").startsWith("application/json") && QJsonDocument::fromJson(r.body).isNull())
            fail("Content-Type application/json, but the body does not parse", p.bytes, &r);
    }

    void session()
    {
        QTcpSocket s;
        if (!connect(s))
            return;
        QByteArray buf;
        const int kind = m_gen.below(100);
        if (kind < 45) { // keep-alive: one request, its answer, the next
            for (int i = 0, n = 1 + m_gen.below(6); i < n; ++i) {
                const Probe p = m_gen.wellFormed(n == 1);
                send(s, p.bytes, 1);
                answers(s, buf, { p });
                if (p.expect != Probe::Expect::Answer || s.state() != QAbstractSocket::ConnectedState)
                    break;
            }
        } else if (kind < 70) { // pipelined: all requests in one go, split anywhere
            std::vector<Probe> probes;
            QByteArray all;
            for (int i = 0, n = 2 + m_gen.below(9); i < n; ++i) {
                Probe p = m_gen.wellFormed(false);
                if (p.expect != Probe::Expect::Answer)
                    continue;
                all += p.bytes;
                probes.push_back(std::move(p));
            }
            send(s, all, 1 + m_gen.below(4));
            m_tally.requests += static_cast<qint64>(probes.size()) - 1;
            answers(s, buf, probes);
        } else if (kind < 90) { // a few valid requests, then a broken or incomplete one
            for (int i = 0, n = m_gen.below(3); i < n; ++i) {
                const Probe p = m_gen.wellFormed(false);
                send(s, p.bytes, 1);
                answers(s, buf, { p });
                if (p.expect != Probe::Expect::Answer)
                    return;
            }
            const Probe bad = m_gen.malformed();
            send(s, bad.bytes, 1 + m_gen.below(2));
            answers(s, buf, { bad });
        } else if (kind < 95) { // Content-Length smaller than the body: the rest reads as the next request
            const QByteArray body
                = m_gen.chance(0.5) ? QByteArray("{\"from\":1767222000,\"to\":1767229200}") : QByteArray(200, 'z');
            const int length = m_gen.below(static_cast<int>(body.size()));
            const Probe first { "POST /v1/batch/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: "
                    + QByteArray::number(length) + "\r\n\r\n" + body,
                Probe::Expect::Answer, 0, false };
            send(s, first.bytes, 1);
            answers(s, buf, { first, Probe { body.mid(length), Probe::Expect::Maybe, 0, false } });
        } else { // the client goes away mid-request, or before reading the answer
            const QByteArray whole = m_gen.wellFormed(false).bytes;
            send(s, m_gen.chance(0.7) ? whole.left(1 + m_gen.below(static_cast<int>(whole.size()))) : whole, 1);
            if (m_gen.chance(0.5))
                s.abort(); // RST
        }
    }

    quint16 m_port;
    HostileRequests m_gen;
    StormTally& m_tally;
    QByteArray m_connectionBytes; ///< everything sent on the current connection
};
} // namespace storm
} // namespace adclick::test
