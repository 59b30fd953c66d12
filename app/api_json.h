#pragma once

// The one JSON codec of adclick's interfaces: every JSON document the REST API sends, and the
// JSON the command line prints for batch runs and reconciliation (the same shapes). Times in
// REST documents are Unix seconds (fractional where milliseconds matter), null when unknown.

#include "batch/batch_scheduler.h"
#include "batch/reconciler.h"
#include "pipeline/pipeline_snapshot.h"
#include "query/query_service.h"
#include "storage/checkpointer.h"

#include <QByteArray>
#include <QJsonObject>
#include <QString>

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace adclick::app {

/// A batch run's result ({"type":"batch", …}): `adclick batch --json`, `adclick run --json`.
QJsonObject batchRunJson(const engine::BatchJobResult& result, const std::string& dataDirectory);
/// The reconciler's report: `adclick reconcile --json` and GET /v1/reconciliation.
QJsonObject reconcileReportJson(const engine::ReconcileReport& report, const std::string& dataDirectory);

namespace api {

/// Unix seconds of an epoch-ms time: an integer when whole, else with milliseconds; null for
/// "none" (kMinTimeMs) and "end of input" (≥ INT64_MAX / 8).
QJsonValue seconds(engine::TimeMs ms);

/// {"error": message, "parameter": name (or null), "status": code}
QJsonObject error(int status, const QString& message, const QString& parameter = {});

/// What a count request asked, echoed in the response.
struct CountRequest {
    QString adId; ///< as the client wrote it
    engine::TimeMs fromMs = 0;
    engine::TimeMs toMs = 0;
    engine::CountFilters filters;
    engine::TimeMs windowMs = engine::kMsPerMinute; ///< the query service's window (provenance unit)
};
/// GET /v1/ads/{ad_id}/aggregated_count: the seed's fields (ad_id, from, to, click_count, filter)
/// plus the effective range, provenance, checkpoint and notes.
/// Compact JSON text (hot route: written directly, not through QJsonObject).
QByteArray count(const CountRequest& request, const engine::CountResult& result, std::int64_t wallNowMs);

/// GET /v1/ads/{ad_id}/series: the count's fields for the same arguments plus points[{start,
/// seconds, click_count, source}] (one per window, or per hour/day bucket past minute retention).
QByteArray series(const CountRequest& request, const engine::SeriesResult& result, std::int64_t wallNowMs);

/// GET /v1/ads/top_k: the seed's shape (window_start, window_end, top_ads[{ad_id, click_count}]);
/// approx: top_ads are the Count-Min Sketch answer with its error bound and measured error.
/// Compact JSON text (hot route).
QByteArray topK(const engine::TopKQueryResult& result, bool approx, std::uint32_t windowMinutes,
    engine::TimeMs windowMs, const std::function<std::string(engine::AdId)>& adName);

/// What the server knows of itself and its pipeline, for /v1/pipeline, /metrics and /healthz.
struct ServerStatus {
    std::shared_ptr<const engine::PipelineSnapshot> snapshot; ///< null: no pipeline in this process
    std::optional<engine::CheckpointStats> checkpoint; ///< no store: nullopt
    std::optional<engine::BatchSchedulerStatus> batches;
    std::string source;
    std::string dataDirectory;
    engine::TimeMs windowMs = engine::kMsPerMinute;
    engine::TimeMs watermarkBoundMs = 0;
    engine::TimeMs allowedLatenessMs = 0;
    std::int64_t wallNowMs = 0;
    double uptimeSeconds = 0;
    bool ingestEnded = false; ///< the input ended (or the duration passed): nothing more is ingested
    bool stopping = false;
    bool authRequired = false;
    std::uint64_t httpRequests = 0;
    std::uint64_t httpClientErrors = 0; ///< 4xx answered
    std::uint64_t httpServerErrors = 0; ///< 5xx answered
};
/// GET /v1/pipeline.
QJsonObject pipeline(const ServerStatus& status);
/// GET /metrics: Prometheus text exposition format 0.0.4.
QByteArray metrics(const ServerStatus& status);
/// GET /healthz.
QJsonObject health(const ServerStatus& status);

/// One batch request (POST /v1/batch/runs, GET /v1/batch/runs/{id}).
QJsonObject batchRequest(const engine::BatchRequestStatus& request, const std::string& dataDirectory);

} // namespace api
} // namespace adclick::app
