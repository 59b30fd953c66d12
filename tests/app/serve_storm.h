#pragma once

// The hostile request storm of tst_serve.cpp: the raw-socket client that sends the requests of
// serve_storm_requests.h in keep-alive, pipelined, broken and abandoned sessions and checks every
// answer against what its Probe says the server must do (StormClient), and what it saw (StormTally).

#include "serve_storm_requests.h"
#include "serve_test_support.h"

#include <QDeadlineTimer>
#include <QSet>
#include <QTcpSocket>

namespace adclick::test {

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
    qint64 closed = 0; ///< answers with Connection: close, after which the server closed as it must
    qint64 unanswered = 0; ///< requests pipelined after those: never answered, by design
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
        closed += o.closed;
        unanswered += o.unanswered;
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
        send(s, p.bytes, 1, buf);
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

    /// Writes `bytes` in `pieces` writes (the parser must cope with any split). Between writes what
    /// arrived goes to `buf`: a write failing once the server closed the connection aborts the
    /// socket, and the answers it had read with it. Stops writing when the connection is closed.
    bool send(QTcpSocket& s, const QByteArray& bytes, int pieces, QByteArray& buf)
    {
        ++m_tally.requests;
        m_connectionBytes += bytes;
        qsizetype at = 0;
        for (int i = 0; i < pieces && at < bytes.size(); ++i) {
            if (i > 0) {
                s.waitForReadyRead(0);
                buf += s.readAll();
                if (s.state() != QAbstractSocket::ConnectedState)
                    return false;
            }
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
    /// one, until an answer closes the connection: nothing may follow it. `buf` keeps what arrived
    /// beyond them (the connection's unread answers).
    void answers(QTcpSocket& s, QByteArray& buf, const std::vector<Probe>& probes)
    {
        for (std::size_t i = 0; i < probes.size(); ++i) {
            const Probe& p = probes[i];
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
            if (p.closes || closesConnection(r)) {
                m_tally.unanswered += static_cast<qint64>(probes.size() - i - 1);
                expectClosed(s, buf, p, r);
                return;
            }
        }
    }

    static bool closesConnection(const HttpResult& r)
    {
        return r.header("Connection").trimmed().compare("close", Qt::CaseInsensitive) == 0;
    }

    /// After an answer that closes the connection: the server closes it and sends nothing more.
    void expectClosed(QTcpSocket& s, QByteArray& buf, const Probe& p, const HttpResult& r)
    {
        QElapsedTimer t;
        t.start();
        while (s.state() == QAbstractSocket::ConnectedState && t.elapsed() < kAnswerTimeoutMs) {
            s.waitForReadyRead(static_cast<int>(std::max<qint64>(1, kAnswerTimeoutMs - t.elapsed())));
            buf += s.readAll();
        }
        buf += s.readAll();
        if (!buf.isEmpty())
            fail("bytes after an answer that closes the connection: " + literal(buf, 200), p.bytes, &r);
        if (s.state() == QAbstractSocket::ConnectedState)
            fail(QString("the connection is still open %1 ms after the answer that closes it").arg(kAnswerTimeoutMs),
                p.bytes, &r);
        else
            ++m_tally.closed;
    }

    void check(const Probe& p, const HttpResult& r)
    {
        ++m_tally.answered;
        ++m_tally.byStatus[r.status];
        if (!kAllowedStatus.contains(r.status))
            fail(QString("status %1 is not an allowed one").arg(r.status), p.bytes, &r);
        if (p.exactStatus != 0 && r.status != p.exactStatus)
            fail(QString("expected status %1, got %2").arg(p.exactStatus).arg(r.status), p.bytes, &r);
        if (p.closes && !closesConnection(r))
            fail("no Connection: close on the answer to a request after which the connection must close", p.bytes, &r);
        // Only broken framing (400) or the client's Connection: close end a connection.
        if (!p.closes && closesConnection(r) && (p.expect == Probe::Expect::Answer || r.status != 400))
            fail("Connection: close on the answer to a request that keeps the connection", p.bytes, &r);
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
                send(s, p.bytes, 1, buf);
                answers(s, buf, { p });
                if (p.expect != Probe::Expect::Answer || p.closes || s.state() != QAbstractSocket::ConnectedState)
                    break;
            }
        } else if (kind < 70) { // pipelined: all requests in one go, split anywhere
            // (those after one that closes the connection are never answered)
            std::vector<Probe> probes;
            QByteArray all;
            for (int i = 0, n = 2 + m_gen.below(9); i < n; ++i) {
                Probe p = m_gen.wellFormed(false);
                if (p.expect != Probe::Expect::Answer)
                    continue;
                all += p.bytes;
                probes.push_back(std::move(p));
            }
            send(s, all, 1 + m_gen.below(4), buf);
            m_tally.requests += static_cast<qint64>(probes.size()) - 1;
            answers(s, buf, probes);
        } else if (kind < 90) { // a few valid requests, then a broken or incomplete one
            for (int i = 0, n = m_gen.below(3); i < n; ++i) {
                const Probe p = m_gen.wellFormed(false);
                send(s, p.bytes, 1, buf);
                answers(s, buf, { p });
                if (p.expect != Probe::Expect::Answer || p.closes)
                    return;
            }
            const Probe bad = m_gen.malformed();
            send(s, bad.bytes, 1 + m_gen.below(2), buf);
            answers(s, buf, { bad });
        } else if (kind < 95) { // Content-Length smaller than the body: the rest reads as the next request
            const QByteArray body
                = m_gen.chance(0.5) ? QByteArray("{\"from\":1767222000,\"to\":1767229200}") : QByteArray(200, 'z');
            const int length = m_gen.below(static_cast<int>(body.size()));
            const Probe first { "POST /v1/batch/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: "
                    + QByteArray::number(length) + "\r\n\r\n" + body,
                Probe::Expect::Answer, 0, false };
            send(s, first.bytes, 1, buf);
            answers(s, buf, { first, Probe { body.mid(length), Probe::Expect::Maybe, 0, false } });
        } else { // the client goes away mid-request, or before reading the answer
            const QByteArray whole = m_gen.wellFormed(false).bytes;
            send(s, m_gen.chance(0.7) ? whole.left(1 + m_gen.below(static_cast<int>(whole.size()))) : whole, 1, buf);
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
