// The REST API of a scale-out instance over the shared PostgreSQL store (see pg_rest_server.h).

#include "pg_rest_server.h"

#include "ingest/country_codes.h"
#include "query/query_service.h"
#include "rest_support.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QHttpServerResponder>
#include <QJsonArray>
#include <QTcpServer>
#include <QTcpSocket>

#include <algorithm>
#include <map>

namespace adclick::app {

using namespace adclick::engine;

namespace {
constexpr std::int64_t kMaxUnixSeconds = QueryService::kMaxQueryTimeMs / 1000;
const char* const kSource = "shared store";

std::int64_t wallNowMs()
{
    return QDateTime::currentMSecsSinceEpoch();
}

RestServer::Reply notAvailable(const QString& what, const QString& parameter = {})
{
    QJsonObject e = api::error(501, "not available with a PostgreSQL store yet", parameter);
    e["detail"] = what;
    e["available"] = QJsonArray { "GET /healthz", "GET /v1/pipeline", "GET /v1/totals",
        "GET /v1/ads/{ad_id}/aggregated_count", "GET /v1/ads/top_k" };
    return jsonReply(501, e);
}

QJsonValue stalenessJson(const std::optional<std::int64_t>& ms)
{
    return ms ? QJsonValue(static_cast<qint64>(*ms)) : QJsonValue();
}

/// from/to (Unix seconds) or minutes=M (the last M windows up to the current one), as a range.
std::optional<std::pair<TimeMs, TimeMs>> readRange(
    RestServer::Params& p, const char* minutesName, TimeMs windowMs, TimeMs defaultRangeMs)
{
    const auto from = p.integer("from", 0, kMaxUnixSeconds, "Unix seconds");
    const auto to = p.integer("to", 0, kMaxUnixSeconds, "Unix seconds");
    const auto minutes = p.integer(minutesName, 1, QueryService::kMaxWindowMinutes, "minutes");
    if (p.error)
        return std::nullopt;
    if (minutes && (from || to)) {
        p.fail(QString::fromLatin1(minutesName),
            QString("%1: give either %1 (the last minutes) or from/to").arg(QString::fromLatin1(minutesName)));
        return std::nullopt;
    }
    const TimeMs now = wallNowMs();
    if (minutes) {
        const TimeMs end = now - now % windowMs + windowMs; // the current (open) window included
        return std::make_pair(end - *minutes * windowMs, end);
    }
    const TimeMs toMs = to ? *to * 1000 : (now + 999) / 1000 * 1000;
    const TimeMs fromMs = from ? *from * 1000 : toMs - defaultRangeMs;
    if (fromMs >= toMs) {
        p.fail(from ? "from" : "to", "from must be earlier than to");
        return std::nullopt;
    }
    return std::make_pair(fromMs, toMs);
}
} // namespace

PgRestServer::PgRestServer(PgSharedQueries& queries, StatusFn status, PgRestServerConfig config, QObject* parent)
    : QAbstractHttpServer(parent)
    , m_queries(queries)
    , m_status(std::move(status))
    , m_config(std::move(config))
{
    m_started.start();
}

void PgRestServer::stopAccepting()
{
    for (QTcpServer* s : servers())
        s->close();
}

void PgRestServer::missingHandler(const QHttpServerRequest&, QTcpSocket*)
{
    // handleRequest answers every request (as RestServer::missingHandler).
}

bool PgRestServer::handleRequest(const QHttpServerRequest& request, QTcpSocket* socket)
{
    const QString path = request.url().path(QUrl::FullyEncoded);
    QStringList segments;
    for (const QString& s : path.split('/', Qt::SkipEmptyParts))
        segments << QUrl::fromPercentEncoding(s.toUtf8());
    Reply reply;
    try {
        reply = route(request, segments);
    } catch (const std::exception& e) {
        reply = errorReply(500, QString("internal error: %1").arg(e.what()));
    }
    bool close = m_stopping;
    for (const QByteArray& token : request.value("connection").toLower().split(','))
        close = close || token.trimmed() == "close";
    QHttpServerResponder out = makeResponder(request, socket);
    out.writeStatusLine(static_cast<QHttpServerResponder::StatusCode>(reply.status));
    out.writeHeader("Content-Type", reply.contentType);
    out.writeHeader("Content-Length", QByteArray::number(reply.body.size()));
    out.writeHeader("Cache-Control", "no-store");
    for (const auto& [name, value] : reply.headers)
        out.writeHeader(name, value);
    if (close)
        out.writeHeader("Connection", "close");
    out.writeBody(request.method() == QHttpServerRequest::Method::Head ? QByteArray() : reply.body);
    if (close)
        socket->disconnectFromHost(); // after the answer is written
    return true;
}

PgRestServer::Reply PgRestServer::route(const QHttpServerRequest& request, const QStringList& seg)
{
    const QString joined = "/" + seg.join('/');
    const bool get
        = request.method() == QHttpServerRequest::Method::Get || request.method() == QHttpServerRequest::Method::Head;
    if (joined != "/healthz" && !m_config.apiToken.isEmpty()) {
        const QByteArray header = request.value("authorization").trimmed();
        const bool bearer = header.size() >= 7 && header.left(7).toLower() == "bearer ";
        const QByteArray a
            = QCryptographicHash::hash(bearer ? header.mid(7).trimmed() : QByteArray(), QCryptographicHash::Sha256);
        const QByteArray b = QCryptographicHash::hash(m_config.apiToken, QCryptographicHash::Sha256);
        unsigned char diff = bearer ? 0 : 1;
        for (qsizetype i = 0; i < a.size(); ++i)
            diff |= static_cast<unsigned char>(a[i] ^ b[i]);
        if (diff != 0) {
            Reply r
                = errorReply(401, "missing or wrong API token: send 'Authorization: Bearer <token>'", "Authorization");
            r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"adclick\"");
            return r;
        }
    }
    std::function<Reply(Params&)> handler;
    if (joined == "/healthz")
        handler = [this](Params& p) { return health(p); };
    else if (joined == "/v1/pipeline")
        handler = [this](Params& p) { return pipeline(p); };
    else if (joined == "/v1/totals")
        handler = [this](Params& p) { return totals(p); };
    else if (joined == "/v1/ads/top_k")
        handler = [this](Params& p) { return topK(p); };
    else if (seg.size() == 4 && seg[0] == "v1" && seg[1] == "ads" && seg[3] == "aggregated_count")
        handler = [this, ad = seg[2]](Params& p) { return count(ad, p); };
    if (handler) {
        if (!get) {
            Reply r = errorReply(405, QString("method not allowed on %1 (allowed: GET, HEAD)").arg(joined.left(200)));
            r.headers.emplace_back("Allow", "GET, HEAD");
            return r;
        }
        Params params(request);
        Reply r = handler(params);
        return params.error ? *params.error : r;
    }
    // A route of the SQLite API that this mode does not answer yet: 501, else 404.
    for (const RestServer::Route& known : RestServer::routes()) {
        const QStringList pattern = QString::fromLatin1(known.path).split('/', Qt::SkipEmptyParts);
        bool match = pattern.size() == seg.size();
        for (qsizetype i = 0; match && i < seg.size(); ++i)
            match = pattern[i].startsWith('{') || pattern[i] == seg[i];
        if (match)
            return notAvailable(QString("%1 %2 is answered by the single-instance API (SQLite store) only; this "
                                        "instance serves the shared PostgreSQL store")
                                    .arg(QString::fromLatin1(known.method), QString::fromLatin1(known.path)));
    }
    return errorReply(404, QString("no such route: %1").arg(joined.left(200)));
}

PgRestServer::Reply PgRestServer::storeError() const
{
    return errorReply(503, "the shared store did not answer: " + QString::fromStdString(m_queries.error()));
}

PgRestServer::Reply PgRestServer::health(Params& p)
{
    if (!p.only({}))
        return {};
    const PartitionedIngestStatus s = m_status();
    const bool failed = !s.error.empty();
    QJsonObject o { { "status",
                        failed           ? "failing"
                            : m_stopping ? "stopping"
                                         : "ok" },
        { "mode", "scale-out" }, { "store", "postgresql" }, { "instance_id", QString::fromStdString(s.instanceId) },
        { "source_state", QString::fromStdString(s.sourceState) },
        { "partitions_owned", static_cast<qint64>(s.partitions.size()) },
        { "uptime_seconds", static_cast<double>(m_started.elapsed()) / 1000.0 } };
    if (failed)
        o["error"] = QString::fromStdString(s.error);
    return jsonReply(failed ? 503 : 200, o);
}

PgRestServer::Reply PgRestServer::count(const QString& adText, Params& p)
{
    if (!p.only({ "from", "to", "minutes", "filter_region", "filter_user_agent", "filter_ip",
            "filter_user_agent_contains" }))
        return {};
    if (!plausibleAdId(adText))
        return errorReply(400, "ad_id: expected an ad id of 1 to 128 printable characters", "ad_id");
    for (const char* rawOnly : { "filter_ip", "filter_user_agent_contains" })
        if (p.get(rawOnly))
            return notAvailable(QString("%1 recounts the raw log; over the shared store only filter_region and "
                                        "filter_user_agent (rows) are answered")
                                    .arg(QString::fromLatin1(rawOnly)),
                QString::fromLatin1(rawOnly));
    const auto range = readRange(p, "minutes", m_config.windowMs, m_config.defaultRangeMs);
    if (!range)
        return {};
    std::optional<CountryCode> country;
    std::optional<DeviceClass> device;
    const QString region = p.get("filter_region").value_or(QString());
    const QString userAgent = p.get("filter_user_agent").value_or(QString());
    if (!region.isEmpty()) {
        CountryCode c = 0;
        if (region.size() != 2 || !parseCountry(region.toStdString(), c))
            return errorReply(400,
                QString("filter_region: '%1' is not an ISO-3166 alpha-2 country code").arg(region.left(64)),
                "filter_region");
        country = c;
    }
    if (!userAgent.isEmpty()) {
        DeviceClass d = DeviceClass::Other;
        if (!parseDeviceClass(userAgent.toStdString(), d))
            return errorReply(400,
                QString("filter_user_agent: '%1' is not one of mobile, tablet, desktop, bot, other")
                    .arg(userAgent.left(64)),
                "filter_user_agent");
        device = d;
    }
    const auto ad = m_queries.resolveAd(adText.toStdString());
    if (!ad)
        return m_queries.error().empty() ? errorReply(404, QString("unknown ad id '%1'").arg(adText), "ad_id")
                                         : storeError();
    const auto total = m_queries.count(*ad, range->first, range->second, country, device);
    if (!total)
        return storeError();
    const std::int64_t now = wallNowMs();
    QJsonObject filter { { "region", region.isEmpty() ? QJsonValue() : QJsonValue(region) },
        { "user_agent", userAgent.isEmpty() ? QJsonValue() : QJsonValue(userAgent) }, { "ip", QJsonValue() },
        { "user_agent_contains", QJsonValue() } };
    QJsonObject o { { "ad_id", adText }, { "from", api::seconds(range->first) }, { "to", api::seconds(range->second) },
        { "click_count", static_cast<qint64>(*total) }, { "filter", filter }, { "source", kSource },
        { "staleness_ms", stalenessJson(m_queries.stalenessMs(now)) },
        { "checkpoint_interval_ms", static_cast<qint64>(m_config.checkpointIntervalMs) },
        { "notes",
            QJsonArray { "the sum of every partition's speed minute rows in the shared store, as of each partition's "
                         "last checkpoint (staleness_ms: the oldest of them); open windows are included as "
                         "refreshed at those checkpoints" } } };
    return jsonReply(200, o);
}

PgRestServer::Reply PgRestServer::topK(Params& p)
{
    if (!p.only({ "window_minutes", "k", "approx", "from", "to" }))
        return {};
    const auto k = p.integer("k", 1, QueryService::kMaxK, "a number of ads");
    const bool approx = p.flag("approx", false);
    if (p.error)
        return {};
    if (approx)
        return notAvailable("approximate answers (count-min sketch) live in a single instance's pipeline; the shared "
                            "store answers exactly (leave approx out)",
            "approx");
    const bool stored = p.get("from") || p.get("to");
    const std::int64_t minutes
        = stored ? 0 : p.integer("window_minutes", 1, QueryService::kMaxWindowMinutes, "minutes").value_or(1);
    if (p.error)
        return {};
    std::optional<std::pair<TimeMs, TimeMs>> range;
    if (stored) {
        range = readRange(p, "window_minutes", m_config.windowMs, m_config.windowMs);
    } else {
        const TimeMs now = wallNowMs();
        const TimeMs end = now - now % m_config.windowMs + m_config.windowMs;
        range = std::make_pair(end - minutes * m_config.windowMs, end);
    }
    if (!range)
        return {};
    const auto top = m_queries.topK(range->first, range->second, static_cast<std::uint32_t>(k.value_or(100)));
    if (!top)
        return storeError();
    QJsonArray ads;
    for (const PgSharedQueries::AdCount& a : *top)
        ads.append(QJsonObject {
            { "ad_id", QString::fromStdString(a.name) }, { "click_count", static_cast<qint64>(a.count) } });
    QJsonObject o { { "window_start", api::seconds(range->first) }, { "window_end", api::seconds(range->second) },
        { "window_minutes", static_cast<qint64>(minutes) }, { "k", static_cast<qint64>(k.value_or(100)) },
        { "source", kSource }, { "approx", false }, { "exact", true }, { "method", "sum of shared rows" },
        { "top_ads", ads }, { "staleness_ms", stalenessJson(m_queries.stalenessMs(wallNowMs())) },
        { "notes",
            QJsonArray { "exact whatever the keying of the topic: every partition's rows are summed per ad "
                         "(GROUP BY ad ORDER BY sum DESC), as of each partition's last checkpoint" } } };
    return jsonReply(200, o);
}

PgRestServer::Reply PgRestServer::pipeline(Params& p)
{
    if (!p.only({}))
        return {};
    const std::int64_t now = wallNowMs();
    const PartitionedIngestStatus s = m_status();
    QJsonArray owned;
    for (const OwnedPartitionStatus& o : s.partitions)
        owned.append(QJsonObject { { "partition", static_cast<qint64>(o.partition) },
            { "epoch", static_cast<qint64>(o.epoch) }, { "last_offset", static_cast<qint64>(o.lastOffset) },
            { "lag", static_cast<qint64>(o.lag) }, { "watermark", api::seconds(o.watermarkMs) },
            { "accepted", static_cast<qint64>(o.accepted) }, { "rows_restored", static_cast<qint64>(o.rowsRestored) },
            { "records_replayed", static_cast<qint64>(o.recordsReplayed) } });
    QJsonArray warnings;
    for (const std::string& w : s.warnings)
        warnings.append(QString::fromStdString(w));
    QJsonObject self { { "id", QString::fromStdString(s.instanceId) }, { "partitions", owned },
        { "claims", static_cast<qint64>(s.claims) }, { "releases", static_cast<qint64>(s.releases) },
        { "fenced", static_cast<qint64>(s.fenced) }, { "checkpoints", static_cast<qint64>(s.checkpoints) },
        { "accepted", static_cast<qint64>(s.accepted) },
        { "last_checkpoint", s.lastCheckpointWallMs > 0 ? api::seconds(s.lastCheckpointWallMs) : QJsonValue() },
        { "source_state", QString::fromStdString(s.sourceState) },
        { "error", s.error.empty() ? QJsonValue() : QJsonValue(QString::fromStdString(s.error)) },
        { "warnings", warnings } };

    const auto instances = m_queries.instances();
    const auto partitions = m_queries.partitions(false);
    if (!instances || !partitions)
        return storeError();
    // An instance is live while its heartbeat (refreshed after every checkpoint round) is recent.
    const std::int64_t liveMs = std::max<std::int64_t>(5000, 10 * m_config.checkpointIntervalMs);
    QJsonArray list;
    for (const PgSharedQueries::Instance& i : *instances) {
        const QJsonObject status = QJsonDocument::fromJson(QByteArray::fromStdString(i.statusJson)).object();
        const std::int64_t age = now - i.heartbeatWallMs;
        list.append(QJsonObject { { "id", QString::fromStdString(i.id) }, { "host", QString::fromStdString(i.host) },
            { "started", api::seconds(i.startedWallMs) }, { "heartbeat", api::seconds(i.heartbeatWallMs) },
            { "heartbeat_age_ms", static_cast<qint64>(age) }, { "live", age <= liveMs },
            { "partitions", status.value("partitions") }, { "accepted", status.value("accepted") },
            { "status", status } });
    }
    QJsonArray checkpoints;
    for (const PgSharedQueries::Partition& c : *partitions)
        checkpoints.append(QJsonObject { { "partition", static_cast<qint64>(c.partition) },
            { "owner", QString::fromStdString(c.owner) }, { "epoch", static_cast<qint64>(c.epoch) },
            { "sequence", static_cast<qint64>(c.sequence) }, { "last_offset", static_cast<qint64>(c.lastOffset) },
            { "watermark", api::seconds(c.watermarkMs) }, { "committed_at", api::seconds(c.checkpointWallMs) } });
    QJsonObject o { { "mode", "scale-out" }, { "store", "postgresql" }, { "instance", self }, { "instances", list },
        { "partition_checkpoints", checkpoints }, { "staleness_ms", stalenessJson(m_queries.stalenessMs(now)) },
        { "window_seconds", static_cast<qint64>(m_config.windowMs / 1000) },
        { "checkpoint_interval_ms", static_cast<qint64>(m_config.checkpointIntervalMs) },
        { "uptime_seconds", static_cast<double>(m_started.elapsed()) / 1000.0 } };
    return jsonReply(200, o);
}

PgRestServer::Reply PgRestServer::totals(Params& p)
{
    if (!p.only({}))
        return {};
    const auto partitions = m_queries.partitions(true);
    if (!partitions)
        return storeError();
    std::uint64_t total = 0;
    std::map<std::string, std::pair<std::uint64_t, QJsonArray>> owners;
    QJsonArray list;
    for (const PgSharedQueries::Partition& c : *partitions) {
        total += c.clicks;
        auto& owner = owners[c.owner];
        owner.first += c.clicks;
        owner.second.append(static_cast<qint64>(c.partition));
        list.append(QJsonObject { { "partition", static_cast<qint64>(c.partition) },
            { "owner", QString::fromStdString(c.owner) }, { "epoch", static_cast<qint64>(c.epoch) },
            { "last_offset", static_cast<qint64>(c.lastOffset) }, { "click_count", static_cast<qint64>(c.clicks) } });
    }
    QJsonArray byOwner;
    for (const auto& [id, o] : owners)
        byOwner.append(QJsonObject { { "owner", QString::fromStdString(id) }, { "partitions", o.second },
            { "click_count", static_cast<qint64>(o.first) } });
    QJsonObject o { { "source", kSource }, { "total_clicks", static_cast<qint64>(total) }, { "partitions", list },
        { "owners", byOwner }, { "staleness_ms", stalenessJson(m_queries.stalenessMs(wallNowMs())) },
        { "notes",
            QJsonArray { "every speed minute row of the shared store, all time, per partition and its owner" } } };
    return jsonReply(200, o);
}

} // namespace adclick::app
