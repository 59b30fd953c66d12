#include "pg_shared_queries.h"

#include <algorithm>
#include <charconv>

namespace adclick::app {

using namespace adclick::engine;

namespace {
/// A decimal ad id without sign, spaces or leading zeros, below kFirstNamedAdId.
std::optional<AdId> canonicalAdNumber(const std::string& text)
{
    if (text.empty() || text.size() > 10 || (text.size() > 1 && text[0] == '0'))
        return std::nullopt;
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v >= kFirstNamedAdId)
        return std::nullopt;
    return static_cast<AdId>(v);
}
} // namespace

PgSharedQueries::PgSharedQueries(std::string conninfo, std::string sourceKey)
    : m_conninfo(std::move(conninfo))
    , m_sourceKey(std::move(sourceKey))
{
}

PgSharedQueries::~PgSharedQueries() = default;

PgConnection* PgSharedQueries::connection()
{
    if (m_conn && !m_conn->healthy())
        m_conn.reset(); // the server restarted or the network broke: a new connection
    if (!m_conn) {
        std::string error;
        m_conn = PgConnection::connect(m_conninfo, error);
        if (!m_conn)
            m_error = error;
    }
    return m_conn.get();
}

bool PgSharedQueries::failed(const PgResult& r)
{
    if (r.ok())
        return false;
    m_error = r.error();
    return true;
}

std::optional<AdId> PgSharedQueries::resolveAd(const std::string& text)
{
    m_error.clear(); // nullopt with an empty error: the ad is unknown (not a failure)
    if (auto n = canonicalAdNumber(text))
        return n;
    PgConnection* c = connection();
    if (!c)
        return std::nullopt;
    const PgResult r = c->exec("SELECT ad_id FROM ads WHERE name = $1", { PgParam(std::string_view(text)) });
    if (failed(r) || r.rows() == 0)
        return std::nullopt;
    return static_cast<AdId>(r.int64(0, 0));
}

std::string PgSharedQueries::adName(AdId ad)
{
    if (ad < kFirstNamedAdId)
        return std::to_string(ad);
    if (PgConnection* c = connection()) {
        const PgResult r = c->exec("SELECT name FROM ads WHERE ad_id = $1", { PgParam(static_cast<std::int64_t>(ad)) });
        if (!failed(r) && r.rows() == 1)
            return std::string(r.text(0, 0));
    }
    return std::to_string(ad);
}

std::optional<std::uint64_t> PgSharedQueries::count(
    AdId ad, TimeMs fromMs, TimeMs toMs, std::optional<CountryCode> country, std::optional<DeviceClass> device)
{
    PgConnection* c = connection();
    if (!c)
        return std::nullopt;
    const PgResult r
        = c->exec("SELECT COALESCE(SUM(count), 0) FROM speed_minute WHERE ad_id = $1 AND window_start >= $2 "
                  "AND window_start < $3 AND ($4::integer IS NULL OR country = $4::integer) "
                  "AND ($5::integer IS NULL OR device = $5::integer)",
            { PgParam(static_cast<std::int64_t>(ad)), PgParam(static_cast<std::int64_t>(fromMs)),
                PgParam(static_cast<std::int64_t>(toMs)), country ? PgParam(static_cast<int>(*country)) : PgParam(),
                device ? PgParam(static_cast<int>(*device)) : PgParam() });
    if (failed(r))
        return std::nullopt;
    return static_cast<std::uint64_t>(r.int64(0, 0));
}

std::optional<std::vector<PgSharedQueries::AdCount>> PgSharedQueries::topK(TimeMs fromMs, TimeMs toMs, std::uint32_t k)
{
    PgConnection* c = connection();
    if (!c)
        return std::nullopt;
    const PgResult r = c->exec("SELECT s.ad_id, s.clicks, a.name FROM (SELECT ad_id, SUM(count) AS clicks FROM "
                               "speed_minute WHERE window_start >= $1 AND window_start < $2 GROUP BY ad_id "
                               "ORDER BY clicks DESC, ad_id LIMIT $3) s LEFT JOIN ads a ON a.ad_id = s.ad_id "
                               "ORDER BY s.clicks DESC, s.ad_id",
        { PgParam(static_cast<std::int64_t>(fromMs)), PgParam(static_cast<std::int64_t>(toMs)), PgParam(k) });
    if (failed(r))
        return std::nullopt;
    std::vector<AdCount> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        AdCount a;
        a.ad = static_cast<AdId>(r.int64(i, 0));
        a.count = static_cast<std::uint64_t>(r.int64(i, 1));
        a.name = r.isNull(i, 2) ? std::to_string(a.ad) : std::string(r.text(i, 2));
        out.push_back(std::move(a));
    }
    return out;
}

std::optional<std::vector<PgSharedQueries::Partition>> PgSharedQueries::partitions(bool withClicks)
{
    PgConnection* c = connection();
    if (!c)
        return std::nullopt;
    // The clicks: one scan of every minute row, grouped (only for /v1/totals).
    const char* sql = withClicks
        ? "SELECT p.source_partition, p.owner, p.owner_epoch, p.sequence, p.last_offset, p.watermark_ms, "
          "p.wall_time_ms, COALESCE(i.heartbeat_wall_ms, 0), COALESCE(t.clicks, 0) FROM partition_checkpoint p "
          "LEFT JOIN instance i ON i.instance_id = p.owner LEFT JOIN (SELECT source_partition, SUM(count) AS clicks "
          "FROM speed_minute GROUP BY source_partition) t ON t.source_partition = p.source_partition "
          "WHERE p.source_key = $1 ORDER BY p.source_partition"
        : "SELECT p.source_partition, p.owner, p.owner_epoch, p.sequence, p.last_offset, p.watermark_ms, "
          "p.wall_time_ms, COALESCE(i.heartbeat_wall_ms, 0), 0 FROM partition_checkpoint p LEFT JOIN instance i "
          "ON i.instance_id = p.owner WHERE p.source_key = $1 ORDER BY p.source_partition";
    const PgResult r = c->exec(sql, { PgParam(std::string_view(m_sourceKey)) });
    if (failed(r))
        return std::nullopt;
    std::vector<Partition> out;
    for (int i = 0; i < r.rows(); ++i) {
        Partition p;
        p.partition = static_cast<std::uint32_t>(r.int64(i, 0));
        p.owner = std::string(r.text(i, 1));
        p.epoch = r.int64(i, 2);
        p.sequence = r.int64(i, 3);
        p.lastOffset = r.int64(i, 4);
        p.watermarkMs = r.int64(i, 5);
        p.checkpointWallMs = r.int64(i, 6);
        p.ownerHeartbeatWallMs = r.int64(i, 7);
        p.clicks = static_cast<std::uint64_t>(r.int64(i, 8));
        out.push_back(std::move(p));
    }
    return out;
}

std::optional<std::vector<PgSharedQueries::Instance>> PgSharedQueries::instances()
{
    PgConnection* c = connection();
    if (!c)
        return std::nullopt;
    const PgResult r = c->exec("SELECT instance_id, host, started_wall_ms, heartbeat_wall_ms, status::text FROM "
                               "instance ORDER BY instance_id");
    if (failed(r))
        return std::nullopt;
    std::vector<Instance> out;
    for (int i = 0; i < r.rows(); ++i)
        out.push_back(Instance { std::string(r.text(i, 0)), std::string(r.text(i, 1)), r.int64(i, 2), r.int64(i, 3),
            std::string(r.text(i, 4)) });
    return out;
}

std::optional<std::int64_t> PgSharedQueries::stalenessMs(std::int64_t wallNowMs)
{
    PgConnection* c = connection();
    if (!c)
        return std::nullopt;
    const PgResult r = c->exec("SELECT MIN(GREATEST(p.wall_time_ms, COALESCE(i.heartbeat_wall_ms, 0))) FROM "
                               "partition_checkpoint p LEFT JOIN instance i ON i.instance_id = p.owner "
                               "WHERE p.source_key = $1",
        { PgParam(std::string_view(m_sourceKey)) });
    if (failed(r) || r.rows() == 0 || r.isNull(0, 0))
        return std::nullopt;
    return std::max<std::int64_t>(0, wallNowMs - r.int64(0, 0));
}

} // namespace adclick::app
