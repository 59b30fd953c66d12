// The REST routes' handlers (see rest_server.h): validate, then call the QueryService, the
// IngestSession's batch scheduler or the reconciler, and encode with api_json.h.

#include "pipeline_access.h"
#include "rest_server.h"
#include "core/ad_dictionary.h"
#include "rest_support.h"

#include <QDateTime>
#include <QFile>
#include <QJsonArray>

namespace adclick::app {

using namespace adclick::engine;

namespace {
constexpr std::int64_t kMaxUnixSeconds = QueryService::kMaxQueryTimeMs / 1000;

/// The REST name of a QueryService parameter.
QString restParameter(const std::string& p)
{
    if (p == "ad")
        return "ad_id";
    if (p == "region")
        return "filter_region";
    if (p == "userAgentClass")
        return "filter_user_agent";
    if (p == "ip")
        return "filter_ip";
    if (p == "userAgentContains")
        return "filter_user_agent_contains";
    if (p == "windowMinutes")
        return "window_minutes";
    return QString::fromStdString(p);
}

RestServer::Reply queryError(QueryStatus status, const std::string& error, const std::string& parameter)
{
    const int code = status == QueryStatus::BadParameter ? 400 : status == QueryStatus::Unavailable ? 503 : 500;
    return errorReply(code, QString::fromStdString(error), parameter.empty() ? QString() : restParameter(parameter));
}

std::int64_t wallNowMs()
{
    return QDateTime::currentMSecsSinceEpoch();
}
} // namespace

/// from/to (Unix seconds) of a request; defaults: to = now (rounded up to the second), from = to − default range.
struct TimeRange {
    TimeMs fromMs = 0;
    TimeMs toMs = 0;
};

static std::optional<TimeRange> readRange(RestServer::Params& p, TimeMs nowMs, TimeMs defaultRangeMs)
{
    const auto from = p.integer("from", 0, kMaxUnixSeconds, "Unix seconds");
    const auto to = p.integer("to", 0, kMaxUnixSeconds, "Unix seconds");
    if (p.error)
        return std::nullopt;
    TimeRange r;
    r.toMs = to ? *to * 1000 : (nowMs + 999) / 1000 * 1000;
    r.fromMs = from ? *from * 1000 : r.toMs - defaultRangeMs;
    if (r.fromMs >= r.toMs) {
        p.fail(from ? "from" : "to", "from must be earlier than to");
        return std::nullopt;
    }
    return r;
}

RestServer::Reply RestServer::count(const QString& adText, Params& p, Work& async, CountShape shape)
{
    if (!p.only({ "from", "to", "filter_region", "filter_user_agent", "filter_ip", "filter_user_agent_contains" }))
        return {};
    if (!plausibleAdId(adText))
        return errorReply(400, "ad_id: expected an ad id of 1 to 128 printable characters", "ad_id");
    const auto range = readRange(p, nowMs(), m_config.defaultRangeMs);
    if (!range)
        return {};
    const TimeMs retention = m_session ? m_session->aggregateRetentionMs() : RetentionConfig {}.aggregateRetentionMs;
    const TimeMs horizon = nowMs() - retention;
    if (range->toMs <= horizon)
        return errorReply(400,
            QString("to: the whole range lies before the retention horizon (aggregates are kept %1; nothing before "
                    "%2 is left)")
                .arg(QString::fromStdString(formatDurationMs(retention)),
                    QString::fromStdString(formatIsoUtc(windowStartOf(horizon, kMsPerMinute)))),
            "to");
    api::CountRequest request;
    request.adId = adText;
    request.fromMs = range->fromMs;
    request.toMs = range->toMs;
    request.windowMs = m_queries.options().windowMs;
    auto text = [&](const char* name) { return p.get(name).value_or(QString()).toStdString(); };
    request.filters.region = text("filter_region");
    request.filters.userAgentClass = text("filter_user_agent");
    request.filters.ip = text("filter_ip");
    request.filters.userAgentContains = text("filter_user_agent_contains");
    Work work = [this, request, shape] {
        const auto ad = m_queries.resolveAd(request.adId.toStdString());
        if (!ad)
            return errorReply(404, QString("unknown ad id '%1'").arg(request.adId), "ad_id");
        RestServer::Reply reply;
        if (shape == CountShape::Series) {
            const SeriesResult r = m_queries.series(*ad, request.fromMs, request.toMs, request.filters);
            if (!r.ok())
                return queryError(r.status, r.error, r.errorParameter);
            reply.body = api::series(request, r, wallNowMs());
            return reply;
        }
        const CountResult r = m_queries.count(*ad, request.fromMs, request.toMs, request.filters);
        if (!r.ok())
            return queryError(r.status, r.error, r.errorParameter);
        reply.body = api::count(request, r, wallNowMs());
        return reply;
    };
    // From the rows a count takes tens of microseconds: answered here, without a thread hop.
    // IP and user-agent text filters recount the raw log (up to seconds): on a worker.
    if (request.filters.ip.empty() && request.filters.userAgentContains.empty())
        return work();
    async = std::move(work);
    return {};
}

RestServer::Reply RestServer::topK(Params& p, Work& async)
{
    if (!p.only({ "window_minutes", "k", "approx", "from", "to" }))
        return {};
    const auto k = p.integer("k", 1, QueryService::kMaxK, "a number of ads");
    const auto minutes = p.integer("window_minutes", 1, QueryService::kMaxWindowMinutes, "minutes");
    const bool approx = p.flag("approx", false);
    const bool stored = p.get("from") || p.get("to");
    if (p.error)
        return {};
    if (stored && minutes)
        return errorReply(400, "window_minutes: give either window_minutes (the last minutes) or from/to", "window_minutes");
    if (stored && approx)
        return errorReply(400, "approx: approximate answers exist for the live last-minute window only", "approx");
    const std::uint32_t kk = static_cast<std::uint32_t>(k.value_or(100));
    const std::uint32_t wm = static_cast<std::uint32_t>(minutes.value_or(1));
    if (approx && wm != 1)
        return errorReply(400, "approx: approximate answers exist for window_minutes=1 (the live last minute) only",
            "approx");
    std::optional<TimeRange> range;
    if (stored && !(range = readRange(p, nowMs(), kMsPerMinute)))
        return {};
    const TimeMs windowMs = m_queries.options().windowMs;
    Work work = [this, kk, wm, approx, range, windowMs] {
        const TopKQueryResult r = range ? m_queries.topK(range->fromMs, range->toMs, kk) : m_queries.topK(wm, kk);
        if (!r.ok())
            return queryError(r.status, r.error, r.errorParameter);
        if (approx && !r.live)
            return errorReply(503,
                !m_session ? "approx: no pipeline runs in this server, so there is no live approximate answer"
                    : m_session->ended()
                    ? "approx: the pipeline has finished (its input ended): the live last-minute tracker holds no "
                      "window any more; exact answers over stored ranges remain (from/to)"
                    : "approx: no live answer yet: the pipeline has not completed its first minute",
                "approx");
        auto name = [this](AdId id) {
            if (id < kFirstNamedAdId)
                return std::to_string(id); // numeric ads are their own name (no store lookup)
            const auto n = m_queries.adName(id);
            return n ? *n : std::to_string(id);
        };
        RestServer::Reply reply;
        reply.body = api::topK(r, approx, range ? 0 : wm, windowMs, name);
        return reply;
    };
    // The live last minute is in memory: answered here. Rows (a range, or no live answer) on a worker.
    if (!range && wm == 1 && m_session) {
        const auto snapshot = m_session->snapshot();
        if (snapshot && snapshot->topK.valid && snapshot->topK.k >= kk)
            return work();
    }
    async = std::move(work);
    return {};
}

RestServer::Reply RestServer::reconciliation(Params& p, Work& async)
{
    if (!p.only({ "from", "to", "ad_id", "limit" }))
        return {};
    const auto range = readRange(p, nowMs(), m_config.defaultRangeMs);
    const auto limit = p.integer("limit", 0, 100000, "a number of rows (0 = all)");
    const auto adText = p.get("ad_id");
    if (p.error)
        return {};
    if (adText && !plausibleAdId(*adText))
        return errorReply(400, "ad_id: expected an ad id of 1 to 128 printable characters", "ad_id");
    async = [this, range = *range, limit, adText] {
        ReconcileOptions o;
        o.limit = static_cast<std::size_t>(limit.value_or(20));
        if (adText) {
            const auto ad = m_queries.resolveAd(adText->toStdString());
            if (!ad)
                return errorReply(404, QString("unknown ad id '%1'").arg(*adText), "ad_id");
            o.adId = *ad;
        }
        const ReconcileReport report = reconcile(m_queries.dataDirectory(), range.fromMs, range.toMs, o);
        if (!report.ok) {
            const QString e = QString::fromStdString(report.error);
            if (e.startsWith("no store") || e.startsWith("no checkpoint"))
                return errorReply(503, e);
            if (e.startsWith("empty range") || e.startsWith("range too long") || e.startsWith("the whole range"))
                return errorReply(400, e, "from");
            return errorReply(500, e);
        }
        QJsonObject o2 = reconcileReportJson(report, m_queries.dataDirectory());
        o2.remove("data_dir");
        o2["from"] = api::seconds(report.fromMs);
        o2["to"] = api::seconds(report.toMs);
        o2.remove("from_ms");
        o2.remove("to_ms");
        o2["ad_id"] = adText ? QJsonValue(*adText) : QJsonValue();
        return jsonReply(200, o2);
    };
    return {};
}

RestServer::Reply RestServer::postBatch(const QHttpServerRequest& request, Params& p)
{
    if (!p.only({}))
        return {};
    const std::shared_ptr<BatchScheduler> batches = m_session ? m_session->batches() : nullptr;
    if (!batches)
        return errorReply(503, m_session ? "batch runs need the store: this server runs with --no-store"
                                         : "no pipeline runs in this server: batch runs are started by `adclick serve`");
    QJsonObject body;
    if (!request.body().trimmed().isEmpty()) {
        QJsonParseError pe;
        const QJsonDocument doc = QJsonDocument::fromJson(request.body(), &pe);
        if (pe.error != QJsonParseError::NoError)
            return errorReply(400, QString("body: not JSON (%1 at offset %2)").arg(pe.errorString()).arg(pe.offset), "body");
        if (!doc.isObject())
            return errorReply(400, "body: expected a JSON object {\"from\": unix_seconds, \"to\": unix_seconds}", "body");
        body = doc.object();
    }
    for (auto it = body.begin(); it != body.end(); ++it)
        if (it.key() != "from" && it.key() != "to")
            return errorReply(400, QString("body: unknown field '%1' (allowed: from, to)").arg(it.key().left(64)),
                it.key().left(64));
    auto seconds = [&](const char* key, std::optional<std::int64_t>& out) -> std::optional<Reply> {
        const QJsonValue v = body.value(QLatin1String(key));
        if (v.isUndefined() || v.isNull())
            return std::nullopt;
        const double d = v.isDouble() ? v.toDouble() : -1.0; // -1: not a number, rejected below
        if (d < 0 || d > static_cast<double>(kMaxUnixSeconds) || d != static_cast<double>(static_cast<std::int64_t>(d)))
            return errorReply(400, QString("%1: expected Unix seconds (an integer from 0 to %2)").arg(key).arg(kMaxUnixSeconds),
                QString::fromLatin1(key));
        out = static_cast<std::int64_t>(d);
        return std::nullopt;
    };
    std::optional<std::int64_t> from, to;
    if (auto e = seconds("from", from))
        return *e;
    if (auto e = seconds("to", to))
        return *e;
    const TimeMs toMs = to ? *to * 1000 : (nowMs() + 999) / 1000 * 1000;
    const TimeMs fromMs = from ? *from * 1000 : toMs - m_config.defaultRangeMs;
    if (fromMs >= toMs)
        return errorReply(400, "from must be earlier than to", "from");
    std::string why;
    std::uint64_t id = 0;
    if (!batches->request(fromMs, toMs, "rest", nowMs(), why, &id)) {
        if (id == 0)
            return errorReply(400, QString::fromStdString(why), "from");
        QJsonObject e = api::error(409, QString::fromStdString(why));
        e["running_id"] = static_cast<qint64>(id);
        e["status_url"] = QString("/v1/batch/runs/%1").arg(id);
        return jsonReply(409, e);
    }
    const auto status = batches->requestStatus(id);
    Reply r = jsonReply(202, status ? api::batchRequest(*status, m_queries.dataDirectory()) : QJsonObject { { "id", static_cast<qint64>(id) } });
    r.headers.emplace_back("Location", QString("/v1/batch/runs/%1").arg(id).toLatin1());
    return r;
}

RestServer::Reply RestServer::batchRuns(Params& p)
{
    if (!p.only({}))
        return {};
    QJsonArray list;
    const std::shared_ptr<BatchScheduler> batches = m_session ? m_session->batches() : nullptr;
    if (batches)
        for (const BatchRequestStatus& r : batches->recentRequests())
            list.append(api::batchRequest(r, m_queries.dataDirectory()));
    return jsonReply(200, QJsonObject { { "runs", list }, { "batch_enabled", batches != nullptr },
                              { "running", batches && batches->status().running } });
}

RestServer::Reply RestServer::batchRun(const QString& idText, Params& p)
{
    if (!p.only({}))
        return {};
    bool ok = false;
    const qulonglong id = idText.size() <= 20 ? idText.toULongLong(&ok, 10) : 0;
    if (!ok)
        return errorReply(400, QString("id: expected a batch run id (an integer), got '%1'").arg(idText.left(64)), "id");
    const std::shared_ptr<BatchScheduler> batches = m_session ? m_session->batches() : nullptr;
    const auto status = batches ? batches->requestStatus(id) : std::nullopt;
    if (!status)
        return errorReply(404,
            QString("unknown batch run id %1 (ids live in this server's memory: the last %2 runs are kept; "
                    "completed runs also appear in /v1/reconciliation)")
                .arg(id)
                .arg(BatchScheduler::kRequestHistory),
            "id");
    return jsonReply(200, api::batchRequest(*status, m_queries.dataDirectory()));
}

RestServer::Reply RestServer::pipeline(Params& p)
{
    if (!p.only({}))
        return {};
    return jsonReply(200, api::pipeline(status()));
}

RestServer::Reply RestServer::metrics(Params& p)
{
    if (!p.only({}))
        return {};
    Reply r;
    r.body = api::metrics(status());
    r.contentType = "text/plain; version=0.0.4; charset=utf-8";
    return r;
}

RestServer::Reply RestServer::health(Params& p)
{
    if (!p.only({}))
        return {};
    return jsonReply(200, api::health(status()));
}

RestServer::Reply RestServer::openApi(Params& p)
{
    if (!p.only({}))
        return {};
    QFile f(":/api/openapi.json");
    if (!f.open(QIODevice::ReadOnly))
        return errorReply(500, "the OpenAPI document is missing from the binary's resources");
    Reply r;
    r.body = f.readAll();
    return r;
}

} // namespace adclick::app
