#include "rest_server.h"

#include "ingest_session.h"
#include "pipeline_access.h"
#include "rest_support.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>

#include <sys/socket.h>

#include <atomic>

namespace adclick::app {

using namespace adclick::engine;

/// The reply slot of one request on its connection.
struct RestServer::Pending {
    explicit Pending(QHttpServerResponder&& r)
        : responder(std::move(r))
    {
    }
    QHttpServerResponder responder;
    std::optional<Reply> reply; ///< set when answered; sent once every earlier one is
    bool head = false; ///< HEAD: headers only
    bool close = false; ///< close the connection after this answer
    std::atomic<bool> abandoned { false }; ///< the connection closed: a queued query need not run
};

const std::vector<RestServer::Route>& RestServer::routes()
{
    static const std::vector<Route> table {
        { "GET", "/" },
        { "GET", "/healthz" },
        { "GET", "/metrics" },
        { "GET", "/v1/openapi.json" },
        { "GET", "/v1/pipeline" },
        { "GET", "/v1/ads/top_k" },
        { "GET", "/v1/ads/{ad_id}/aggregated_count" },
        { "GET", "/v1/ads/{ad_id}/series" },
        { "GET", "/assets/{name}" },
        { "GET", "/v1/reconciliation" },
        { "GET", "/v1/batch/runs" },
        { "POST", "/v1/batch/runs" },
        { "GET", "/v1/batch/runs/{id}" },
    };
    return table;
}

RestServer::RestServer(QueryService& queries, PipelineAccess* pipeline, RestServerConfig config, QObject* parent)
    : QAbstractHttpServer(parent)
    , m_queries(queries)
    , m_session(pipeline)
    , m_config(std::move(config))
{
    m_pool.setMaxThreadCount(std::max(1, m_config.workerThreads));
    m_pool.setExpiryTimeout(-1); // keep the workers: no thread start per query
    m_started.start();
}

RestServer::RestServer(QueryService& queries, std::nullptr_t, RestServerConfig config, QObject* parent)
    : RestServer(queries, static_cast<PipelineAccess*>(nullptr), std::move(config), parent)
{
}

RestServer::RestServer(QueryService& queries, IngestSession* session, RestServerConfig config, QObject* parent)
    : RestServer(queries, static_cast<PipelineAccess*>(nullptr), std::move(config), parent)
{
    if (session) {
        m_ownedSession = std::make_unique<IngestSessionAccess>(*session);
        m_session = m_ownedSession.get();
    }
}

RestServer::~RestServer()
{
    m_pool.waitForDone();
}

void RestServer::stopAccepting()
{
    for (QTcpServer* s : servers())
        s->close();
}

TimeMs RestServer::nowMs() const
{
    return m_session ? m_session->nowMs() : QDateTime::currentMSecsSinceEpoch();
}

bool RestServer::authorized(const QHttpServerRequest& request) const
{
    if (m_config.apiToken.isEmpty())
        return true;
    const QByteArray header = request.value("authorization").trimmed();
    // The scheme name is case-insensitive (RFC 9110 §11.1).
    if (header.size() < 7 || header.left(7).toLower() != "bearer ")
        return false;
    // Compare digests, in constant time: the token's length and prefix do not leak.
    const QByteArray a = QCryptographicHash::hash(header.mid(7).trimmed(), QCryptographicHash::Sha256);
    const QByteArray b = QCryptographicHash::hash(m_config.apiToken, QCryptographicHash::Sha256);
    unsigned char diff = 0;
    for (qsizetype i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

api::ServerStatus RestServer::status() const
{
    api::ServerStatus s;
    s.wallNowMs = QDateTime::currentMSecsSinceEpoch();
    s.uptimeSeconds = static_cast<double>(m_started.elapsed()) / 1000.0;
    s.stopping = m_stopping;
    s.authRequired = !m_config.apiToken.isEmpty();
    s.httpRequests = m_requests.load();
    s.httpClientErrors = m_clientErrors.load();
    s.httpServerErrors = m_serverErrors.load();
    s.dataDirectory = m_queries.dataDirectory();
    s.windowMs = m_queries.options().windowMs;
    s.allowedLatenessMs = m_queries.allowedLatenessMs();
    if (m_session) {
        s.snapshot = m_session->snapshot();
        s.checkpoint = m_session->checkpointStats();
        if (const auto b = m_session->batches())
            s.batches = b->status();
        s.source = m_session->sourceDescription();
        s.watermarkBoundMs = m_session->watermarkBoundMs();
        s.ingestEnded = m_session->ended();
    } else {
        s.source = "none (serving a data directory)";
        s.ingestEnded = true;
    }
    return s;
}

std::shared_ptr<RestServer::Pending> RestServer::enqueue(const QHttpServerRequest& request, QTcpSocket* socket)
{
    auto it = m_connections.find(socket);
    if (it == m_connections.end()) {
        it = m_connections.insert(socket, {});
        connect(socket, &QAbstractSocket::disconnected, this, [this, socket] {
            // Queries still queued for this connection need not run.
            if (auto c = m_connections.find(socket); c != m_connections.end())
                for (const auto& p : *c)
                    p->abandoned = true;
        });
        connect(socket, &QObject::destroyed, this, [this, socket] {
            m_connections.remove(socket);
            m_closing.remove(socket);
        });
    }
    auto pending = std::make_shared<Pending>(makeResponder(request, socket));
    it->push_back(pending);
    return pending;
}

void RestServer::complete(QTcpSocket* socket, const std::shared_ptr<Pending>& pending, Reply reply)
{
    m_requests.fetch_add(1);
    if (reply.status >= 500)
        m_serverErrors.fetch_add(1);
    else if (reply.status >= 400)
        m_clientErrors.fetch_add(1);
    pending->reply = std::move(reply);
    flush(socket);
}

void RestServer::flush(QTcpSocket* socket)
{
    auto it = m_connections.find(socket);
    if (it == m_connections.end())
        return;
    auto& queue = *it;
    while (!queue.empty() && queue.front()->reply) {
        const std::shared_ptr<Pending> p = queue.front();
        queue.pop_front();
        if (socket->state() != QAbstractSocket::ConnectedState)
            continue;
        const Reply& r = *p->reply;
        QHttpServerResponder& out = p->responder;
        out.writeStatusLine(static_cast<QHttpServerResponder::StatusCode>(r.status));
        out.writeHeader("Content-Type", r.contentType);
        if (r.status != 304) // a 304 has no body; its Content-Length would have to be the 200's
            out.writeHeader("Content-Length", QByteArray::number(r.body.size()));
        const bool ownCaching
            = std::any_of(r.headers.begin(), r.headers.end(), [](const auto& h) { return h.first == "Cache-Control"; });
        if (!ownCaching)
            out.writeHeader("Cache-Control", "no-store");
        for (const auto& [name, value] : r.headers)
            out.writeHeader(name, value);
        if (p->close)
            out.writeHeader("Connection", "close");
        if (p->head) // HEAD: the GET answer's headers (its Content-Length too), no body
            out.writeBody("", 0);
        else
            out.writeBody(r.body);
        if (p->close) {
            queue.clear();
            closeLingering(socket);
            return;
        }
    }
}

void RestServer::stopParsing(QTcpSocket* socket)
{
    constexpr qint64 kMaxDroppedBytes = 1 << 20;
    // Left running, Qt's parser would close the socket at once on bytes it cannot parse, before
    // the answers still queued for this connection are written.
    QObject::disconnect(socket, &QIODevice::readyRead, nullptr, nullptr);
    auto drop = [socket, dropped = qint64 { 0 }]() mutable {
        if (socket->isTransactionStarted())
            socket->commitTransaction();
        dropped += socket->skip(socket->bytesAvailable());
        if (dropped > kMaxDroppedBytes)
            socket->abort(); // a client that goes on sending is not reading its answer either
    };
    connect(socket, &QIODevice::readyRead, socket, drop);
    drop();
}

void RestServer::closeLingering(QTcpSocket* socket)
{
    // Closing at once is not safe: bytes the client sent after the request (pipelined requests, the
    // rest of a body) that this side has not read make the kernel reset the connection, and a reset
    // can discard this answer on either side before the client reads it. So: stop reading requests,
    // send FIN once the answer is handed to the kernel (a half close), drop what still arrives, and
    // close when the client closes its side, or after lingerMs.
    stopParsing(socket);
    auto halfClose = [socket] {
        if (socket->bytesToWrite() > 0 || socket->state() != QAbstractSocket::ConnectedState)
            return false;
        ::shutdown(static_cast<int>(socket->socketDescriptor()), SHUT_WR);
        return true;
    };
    if (!halfClose()) {
        auto done = std::make_shared<bool>(false);
        connect(socket, &QAbstractSocket::bytesWritten, socket, [halfClose, done] {
            if (!*done)
                *done = halfClose();
        });
    }
    QTimer::singleShot(m_config.lingerMs, socket, [socket] { socket->abort(); });
}

namespace {
/// Why the framing of a request cannot be trusted (empty: it can). Qt 6.4's parser drops every
/// header when it cannot parse them, reads only the first Content-Length and takes one it cannot
/// parse as "no body": the body would then be read as the next request (request smuggling).
QString framingProblem(const QHttpServerRequest& request)
{
    const auto headers = request.headers();
    if (headers.isEmpty())
        return "malformed request headers (or more than the parser accepts)";
    int contentLengths = 0;
    bool host = false;
    for (const auto& [name, value] : headers) {
        const QByteArray n = name.toLower();
        if (n == "host")
            host = true;
        else if (n == "transfer-encoding" && value.trimmed().toLower() != "chunked")
            return "unsupported Transfer-Encoding";
        else if (n == "content-length") {
            ++contentLengths;
            const QByteArray v = value.trimmed();
            if (v.isEmpty() || v.size() > 18)
                return "invalid Content-Length";
            for (char c : v)
                if (c < '0' || c > '9')
                    return "invalid Content-Length (expected decimal digits)";
        }
    }
    if (contentLengths > 1)
        return "more than one Content-Length header";
    if (contentLengths == 1 && request.value("transfer-encoding").size() > 0)
        return "both Content-Length and Transfer-Encoding";
    if (!host)
        return "missing Host header (required by HTTP/1.1)";
    return {};
}
} // namespace

bool RestServer::handleRequest(const QHttpServerRequest& request, QTcpSocket* socket)
{
    if (m_closing.contains(socket))
        return true; // after a request whose framing failed: whatever follows is not a request
    const std::shared_ptr<Pending> pending = enqueue(request, socket);
    pending->head = request.method() == QHttpServerRequest::Method::Head;
    for (const QByteArray& token : request.value("connection").toLower().split(','))
        pending->close = pending->close || token.trimmed() == "close";
    if (pending->close) {
        m_closing.insert(socket); // RFC 9112 §9.6: nothing pipelined after it is processed
        stopParsing(socket);
    }
    Work async;
    Reply reply;
    if (const QString problem = framingProblem(request); !problem.isEmpty()) {
        // Answer, then close: the rest of the connection's bytes cannot be framed safely.
        pending->close = true;
        m_closing.insert(socket);
        stopParsing(socket);
        complete(socket, pending, errorReply(400, "bad request: " + problem));
        return true;
    }
    // The request target as sent (path and query), not the absolute URL Qt rebuilds from Host.
    const QByteArray target = request.url().toEncoded(QUrl::RemoveScheme | QUrl::RemoveAuthority);
    if (target.size() > m_config.maxUrlBytes) {
        reply = errorReply(414,
            QString("request URL of %1 bytes is longer than the limit of %2 bytes")
                .arg(target.size())
                .arg(m_config.maxUrlBytes));
    } else if (request.body().size() > m_config.maxBodyBytes) {
        reply = errorReply(413,
            QString("request body of %1 bytes is larger than the limit of %2 bytes")
                .arg(request.body().size())
                .arg(m_config.maxBodyBytes));
    } else {
        // Split the encoded path, so an encoded '/' (%2F) stays inside its segment.
        const QString path = request.url().path(QUrl::FullyEncoded);
        QStringList segments;
        for (const QString& s : path.split('/', Qt::SkipEmptyParts))
            segments << QUrl::fromPercentEncoding(s.toUtf8());
        reply = route(request, segments, async);
    }
    if (!async) {
        complete(socket, pending, std::move(reply));
        return true;
    }
    // Run the query on a worker; answer on this thread (the socket lives here) if it still exists.
    QPointer<QTcpSocket> guard(socket);
    m_pool.start([this, guard, socket, pending, work = std::move(async)] {
        Reply r;
        if (pending->abandoned)
            return; // the client left before its query started
        try {
            r = work();
        } catch (const std::exception& e) {
            r = errorReply(500, QString("internal error: %1").arg(e.what()));
        }
        QMetaObject::invokeMethod(
            this,
            [this, guard, socket, pending, r = std::move(r)]() mutable {
                if (guard)
                    complete(socket, pending, std::move(r));
            },
            Qt::QueuedConnection);
    });
    return true;
}

void RestServer::missingHandler(const QHttpServerRequest&, QTcpSocket*)
{
    // handleRequest answers every request. Qt 6.4 still calls this after it for a WebSocket
    // upgrade request (no WebSocket route here) and then closes the connection: answering again
    // would give one request two answers.
}

RestServer::Reply RestServer::route(const QHttpServerRequest& request, const QStringList& seg, Work& async)
{
    using Method = QHttpServerRequest::Method;
    const Method method = request.method();
    // Which route the path names (independent of the method), as an index into routes().
    const QString joined = "/" + seg.join('/');
    QList<const char*> allowed;
    std::function<Reply(Params&)> handler;
    auto on = [&](const char* m, std::function<Reply(Params&)> h) {
        allowed << m;
        const bool get = QByteArray(m) == "GET";
        if ((get && (method == Method::Get || method == Method::Head)) || (!get && method == Method::Post))
            handler = std::move(h);
    };
    // Authentication first: without the token nothing but / (the web dashboard), its assets and
    // /healthz is revealed, not even which routes exist. The page sends the token it is given.
    const bool open = seg.isEmpty() || joined == "/healthz" || (seg.size() == 2 && seg[0] == "assets");
    if (!open && !authorized(request)) {
        Reply r = errorReply(401, "missing or wrong API token: send 'Authorization: Bearer <token>'", "Authorization");
        r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"adclick\"");
        return r;
    }
    if (seg.isEmpty())
        on("GET", [&](Params& p) { return index(request, p); });
    else if (joined == "/healthz")
        on("GET", [&](Params& p) { return health(p); });
    else if (joined == "/metrics")
        on("GET", [&](Params& p) { return metrics(p); });
    else if (joined == "/v1/openapi.json")
        on("GET", [&](Params& p) { return openApi(p); });
    else if (joined == "/v1/pipeline")
        on("GET", [&](Params& p) { return pipeline(p); });
    else if (joined == "/v1/ads/top_k")
        on("GET", [&](Params& p) { return topK(p, async); });
    else if (seg.size() == 4 && seg[0] == "v1" && seg[1] == "ads" && seg[3] == "aggregated_count")
        on("GET", [&](Params& p) { return count(seg[2], p, async, CountShape::Total); });
    else if (seg.size() == 4 && seg[0] == "v1" && seg[1] == "ads" && seg[3] == "series")
        on("GET", [&](Params& p) { return count(seg[2], p, async, CountShape::Series); });
    else if (seg.size() == 2 && seg[0] == "assets")
        on("GET", [&](Params& p) { return asset(request, seg[1], p); });
    else if (joined == "/v1/reconciliation")
        on("GET", [&](Params& p) { return reconciliation(p, async); });
    else if (joined == "/v1/batch/runs") {
        on("GET", [&](Params& p) { return batchRuns(p); });
        on("POST", [&](Params& p) { return postBatch(request, p); });
    } else if (seg.size() == 4 && seg[0] == "v1" && seg[1] == "batch" && seg[2] == "runs")
        on("GET", [&](Params& p) { return batchRun(seg[3], p); });

    if (allowed.isEmpty())
        return errorReply(404, QString("no such route: %1 (the routes are listed at /v1/openapi.json)")
                                   .arg(joined.left(200)));
    if (!handler) {
        QByteArray allow;
        for (const char* m : allowed)
            allow += (allow.isEmpty() ? "" : ", ") + QByteArray(m) + (QByteArray(m) == "GET" ? ", HEAD" : "");
        Reply r = errorReply(405, QString("method not allowed on %1 (allowed: %2)")
                                      .arg(joined.left(200), QString::fromLatin1(allow)));
        r.headers.emplace_back("Allow", allow);
        return r;
    }
    Params params(request);
    Reply r = handler(params);
    if (params.error) {
        async = nullptr;
        return *params.error;
    }
    return r;
}

} // namespace adclick::app
