#pragma once

#include "api_json.h"
#include "query/query_service.h"

#include <QAbstractHttpServer>
#include <QElapsedTimer>
#include <QHash>
#include <QSet>
#include <QHttpServerRequest>
#include <QHttpServerResponder>
#include <QJsonObject>
#include <QThreadPool>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

class QTcpSocket;

namespace adclick::app {

class IngestSession;
class PipelineAccess;

struct RestServerConfig {
    /// Empty: no authentication. Else every route but /healthz and / needs "Authorization: Bearer <token>".
    QByteArray apiToken;
    qsizetype maxBodyBytes = 64 * 1024; ///< larger request bodies: 413
    qsizetype maxUrlBytes = 8 * 1024; ///< longer request targets: 414
    engine::TimeMs defaultRangeMs = engine::kMsPerHour; ///< from/to left out: the last hour
    int workerThreads = 4; ///< queries that read the store run here, not on the event loop
    /// After an answer that closes the connection: how long to wait for the client to close its
    /// side (reading and dropping what it still sends) before the connection is dropped.
    int lingerMs = 2000;
};

/// adclick's REST API (QtHttpServer 6.4; see resources/api/openapi.json and README "REST API").
/// Every route lives in this class; it only calls the QueryService, the IngestSession (pipeline
/// snapshot, checkpoint figures, batch scheduler) and the reconciler, and encodes with api_json.h.
///
/// Requests are parsed and validated on the event loop; those that read the store run on a
/// worker pool and answer when done. Answers on one connection leave in request order, even when
/// a client pipelines. Bad input of any kind is a JSON error {"error", "parameter", "status"}:
/// 400 bad parameter or body, 401 missing/wrong token, 404 unknown route or ad, 405 wrong method
/// (with Allow), 409 batch run already running, 413 body too large, 414 URL too long, 503 nothing
/// to answer from yet.
class RestServer final : public QAbstractHttpServer {
    Q_OBJECT
public:
    /// One route, as the OpenAPI document writes it ("/v1/ads/{ad_id}/aggregated_count").
    struct Route {
        const char* method;
        const char* path;
    };
    static const std::vector<Route>& routes();

    /// pipeline may be null (a server over a data directory without a pipeline in this process):
    /// /v1/pipeline then reports only the server, and POST /v1/batch/runs answers 503.
    RestServer(engine::QueryService& queries, PipelineAccess* pipeline, RestServerConfig config,
        QObject* parent = nullptr);
    /// Over an IngestSession that outlives the server (`adclick serve`).
    RestServer(engine::QueryService& queries, IngestSession* session, RestServerConfig config,
        QObject* parent = nullptr);
    RestServer(engine::QueryService& queries, std::nullptr_t, RestServerConfig config, QObject* parent = nullptr);
    ~RestServer() override; ///< waits for queries in flight

    /// Closes every listening socket: no new connections (open ones are still answered).
    void stopAccepting();
    void setStopping(bool stopping) { m_stopping = stopping; }

    std::uint64_t requestsAnswered() const { return m_requests.load(); }
    /// The figures of /v1/pipeline, /metrics and /healthz, now.
    api::ServerStatus status() const;

    struct Params; ///< a request's query parameters (rest_support.h)

    /// An answer: status, body and content type.
    struct Reply {
        int status = 200;
        QByteArray body;
        QByteArray contentType = "application/json";
        std::vector<std::pair<QByteArray, QByteArray>> headers;
    };

protected:
    bool handleRequest(const QHttpServerRequest& request, QTcpSocket* socket) override;
    void missingHandler(const QHttpServerRequest& request, QTcpSocket* socket) override;

private:
    struct Pending;
    using Work = std::function<Reply()>;

    Reply route(const QHttpServerRequest& request, const QStringList& segments, Work& async);
    /// What a count route answers: one total (aggregated_count) or the total per window (series).
    enum class CountShape { Total, Series };
    Reply count(const QString& adText, Params& p, Work& async, CountShape shape);
    Reply topK(Params& p, Work& async);
    Reply reconciliation(Params& p, Work& async);
    Reply postBatch(const QHttpServerRequest& request, Params& p);
    Reply batchRuns(Params& p);
    Reply batchRun(const QString& idText, Params& p);
    Reply pipeline(Params& p);
    Reply metrics(Params& p);
    Reply health(Params& p);
    Reply openApi(Params& p);
    Reply index(const QHttpServerRequest& request, Params& p);
    /// GET /assets/<name>: a file of the web dashboard (rest_web.cpp); 304 when the ETag matches.
    Reply asset(const QHttpServerRequest& request, const QString& name, Params& p);
    /// Processing time "now" (the pipeline's clock; the wall clock without a pipeline).
    engine::TimeMs nowMs() const;
    bool authorized(const QHttpServerRequest& request) const;

    /// Queues the reply slot of a request on its connection and sends what is ready, in order.
    std::shared_ptr<Pending> enqueue(const QHttpServerRequest& request, QTcpSocket* socket);
    void complete(QTcpSocket* socket, const std::shared_ptr<Pending>& pending, Reply reply);
    void flush(QTcpSocket* socket);
    /// After a request that closes the connection: Qt's parser reads no further, what arrives is
    /// dropped (RFC 9112 §9.6: nothing after it is a request).
    void stopParsing(QTcpSocket* socket);
    /// Closes a connection once its last answer is out without risking that answer (RFC 9112 §9.6).
    void closeLingering(QTcpSocket* socket);

    engine::QueryService& m_queries;
    std::unique_ptr<PipelineAccess> m_ownedSession; ///< the IngestSession adapter, if given one
    PipelineAccess* m_session;
    RestServerConfig m_config;
    QThreadPool m_pool;
    QElapsedTimer m_started;
    QHash<QTcpSocket*, std::deque<std::shared_ptr<Pending>>> m_connections;
    QSet<QTcpSocket*> m_closing; ///< answered a request with broken framing: closing, reads ignored
    bool m_stopping = false;
    std::atomic<std::uint64_t> m_requests { 0 };
    std::atomic<std::uint64_t> m_clientErrors { 0 };
    std::atomic<std::uint64_t> m_serverErrors { 0 };
};

} // namespace adclick::app
