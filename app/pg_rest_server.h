#pragma once

#include "pg_shared_queries.h"
#include "rest_server.h"
#include "storage/pg_partitioned_ingest.h"

#include <QAbstractHttpServer>
#include <QElapsedTimer>

#include <functional>

namespace adclick::app {

struct PgRestServerConfig {
    QByteArray apiToken; ///< as RestServerConfig::apiToken
    engine::TimeMs defaultRangeMs = engine::kMsPerHour; ///< from/to left out: the last hour
    engine::TimeMs windowMs = engine::kMsPerMinute; ///< the pipelines' window (minute rows)
    engine::TimeMs checkpointIntervalMs = 500; ///< the ingest's, reported next to staleness
};

/// The REST API of one scale-out instance (`adclick serve --store postgresql://…`): it answers
/// for the WHOLE deployment from the shared PostgreSQL store (PgSharedQueries), whichever
/// instance counted the clicks. Same field names as the SQLite API where it answers the same
/// question (resources/api/openapi.json):
/// - GET /healthz, GET /v1/pipeline (this instance, every instance, every partition checkpoint),
/// - GET /v1/ads/{ad_id}/aggregated_count (from/to or minutes; filter_region, filter_user_agent),
/// - GET /v1/ads/top_k (k, window_minutes or from/to): exact, from the summed rows,
/// - GET /v1/totals: every click counted, per partition and per owner.
/// Counts carry "source": "shared store" and "staleness_ms". The other routes of the SQLite API
/// answer 501 JSON; bad parameters 400 JSON, as RestServer. Requests are answered on the event
/// loop (quick queries, one connection). Main thread only.
class PgRestServer final : public QAbstractHttpServer {
    Q_OBJECT
public:
    using StatusFn = std::function<engine::PartitionedIngestStatus()>;
    PgRestServer(PgSharedQueries& queries, StatusFn status, PgRestServerConfig config, QObject* parent = nullptr);

    /// Closes every listening socket: no new connections.
    void stopAccepting();
    void setStopping(bool stopping) { m_stopping = stopping; }

protected:
    bool handleRequest(const QHttpServerRequest& request, QTcpSocket* socket) override;
    void missingHandler(const QHttpServerRequest& request, QTcpSocket* socket) override;

private:
    using Reply = RestServer::Reply;
    using Params = RestServer::Params;
    Reply route(const QHttpServerRequest& request, const QStringList& segments);
    Reply health(Params& p);
    Reply count(const QString& adText, Params& p);
    Reply topK(Params& p);
    Reply pipeline(Params& p);
    Reply totals(Params& p);
    /// 503 with the store's error.
    Reply storeError() const;

    PgSharedQueries& m_queries;
    StatusFn m_status;
    PgRestServerConfig m_config;
    QElapsedTimer m_started;
    bool m_stopping = false;
};

} // namespace adclick::app
