// QueryService: the connection pool, parameter validation, ad names and the dispatch of each
// query to the rows path (query_rows.cpp), the raw-log path (query_raw.cpp) or the live top-K.

#include "query/query_service.h"
#include "query/query_service_impl.h"

#include "ingest/country_codes.h"
#include "storage/sqlite_schema.h"

#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <system_error>

namespace adclick::engine {

using namespace querydetail;

namespace querydetail {

bool badRange(TimeMs fromMs, TimeMs toMs, std::string& error, std::string& parameter)
{
    const auto outside
        = [](TimeMs t) { return t < QueryService::kMinQueryTimeMs || t > QueryService::kMaxQueryTimeMs; };
    const std::string bounds = " is outside [" + timeText(QueryService::kMinQueryTimeMs) + ", "
        + timeText(QueryService::kMaxQueryTimeMs) + "]";
    if (outside(fromMs)) {
        parameter = "from";
        error = "from: " + std::to_string(fromMs) + " ms" + bounds;
    } else if (outside(toMs)) {
        parameter = "to";
        error = "to: " + std::to_string(toMs) + " ms" + bounds;
    } else if (fromMs >= toMs) {
        parameter = "from";
        error = "from (" + timeText(fromMs) + ") must be earlier than to (" + timeText(toMs) + ")";
    } else {
        return false;
    }
    return true;
}

constexpr std::size_t kMaxUserAgentFilterLength = 512;

/// Validates the filters; false with the error naming the parameter.
bool parseFilters(const CountFilters& in, ParsedFilters& out, std::string& error, std::string& parameter)
{
    if (!in.region.empty()) {
        CountryCode c = 0;
        if (in.region.size() != 2 || !parseCountry(in.region, c)) {
            parameter = "region";
            error = "region: '" + in.region + "' is not an ISO-3166 alpha-2 country code";
            return false;
        }
        out.country = c;
    }
    if (!in.userAgentClass.empty()) {
        DeviceClass d = DeviceClass::Other;
        if (!parseDeviceClass(in.userAgentClass, d)) {
            parameter = "userAgentClass";
            error = "userAgentClass: '" + in.userAgentClass + "' is not one of mobile, tablet, desktop, bot, other";
            return false;
        }
        out.device = d;
    }
    if (!in.ip.empty()) {
        out.ip = IpPrefix::parse(in.ip);
        if (!out.ip) {
            parameter = "ip";
            error = "ip: '" + in.ip + "' is not an IPv4/IPv6 address or CIDR prefix";
            return false;
        }
    }
    if (in.userAgentContains.size() > kMaxUserAgentFilterLength) {
        parameter = "userAgentContains";
        error = "userAgentContains: longer than " + std::to_string(kMaxUserAgentFilterLength) + " bytes";
        return false;
    }
    out.userAgentContains = in.userAgentContains;
    return true;
}

} // namespace querydetail

namespace {

constexpr std::size_t kMaxAdTextLength = 128;

/// A canonical decimal below kFirstNamedAdId (no sign, no leading zero), as AdDictionary reads it.
std::optional<AdId> canonicalNumber(std::string_view s)
{
    if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0'))
        return std::nullopt;
    std::uint64_t v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size() || v >= kFirstNamedAdId)
        return std::nullopt;
    return static_cast<AdId>(v);
}

} // namespace

// ── names ────────────────────────────────────────────────────────────────────────────────────

std::string_view queryStatusName(QueryStatus s)
{
    switch (s) {
    case QueryStatus::Ok:
        return "ok";
    case QueryStatus::BadParameter:
        return "bad-parameter";
    case QueryStatus::Unavailable:
        return "unavailable";
    case QueryStatus::Failed:
        return "failed";
    }
    return "failed";
}

std::string_view countPathName(CountPath p)
{
    return p == CountPath::RawLog ? "raw-log" : "rows";
}

std::string_view topKSourceName(TopKSource s)
{
    return s == TopKSource::Live ? "live" : "rows";
}

// ── the pool ─────────────────────────────────────────────────────────────────────────────────

SqliteStatement* ReadConnection::statement(const std::string& sql, SqliteStatus& status)
{
    auto it = statements.find(sql);
    if (it == statements.end()) {
        SqliteStatement stmt;
        status = db.prepare(sql, stmt, true);
        if (!status.ok())
            return nullptr;
        it = statements.emplace(sql, std::move(stmt)).first;
    }
    it->second.reset();
    it->second.clearBindings();
    return &it->second;
}

QueryService::Impl::Impl(const std::string& dataDirectory, const QueryServiceOptions& o)
    : databasePath((std::filesystem::path(dataDirectory) / "adclick.db").string())
    , rawDirectory((std::filesystem::path(dataDirectory) / "raw").string())
    , options(o)
    , allowedLatenessMs(o.allowedLatenessMs)
{
    if (o.windowMs <= 0 || kMsPerHour % o.windowMs != 0)
        configError = "QueryService options: windowMs (" + std::to_string(o.windowMs) + ") must divide an hour";
    else if (o.allowedLatenessMs < 0)
        configError = "QueryService options: allowedLatenessMs must not be negative";
    options.maxConnections = std::max(1u, o.maxConnections);
    options.rawScanThreads = std::max(1u, o.rawScanThreads);
}

std::unique_ptr<ReadConnection> QueryService::Impl::openConnection(Failure& failure) const
{
    std::error_code ec;
    if (!std::filesystem::exists(databasePath, ec)) {
        failure = { QueryStatus::Unavailable,
            "no database at " + databasePath + " yet (no pipeline has checkpointed into this data directory)" };
        return nullptr;
    }
    auto c = std::make_unique<ReadConnection>();
    if (SqliteStatus s = SqliteDb::open(databasePath, SQLITE_OPEN_READONLY, c->db); !s.ok()) {
        failure = { QueryStatus::Unavailable, s.message };
        return nullptr;
    }
    sqlite3_busy_timeout(c->db.get(), options.busyTimeoutMs);
    int version = 0;
    // One snapshot: a writer creating the file may commit its first migration between the reads.
    SqliteStatus s;
    {
        SqliteTransaction tx(c->db, SqliteTransaction::Mode::Deferred);
        s = tx.status();
        if (s.ok())
            s = SqliteSchema::readVersion(c->db, version);
        if (s.ok())
            s = tx.commit();
    }
    if (!s.ok()) {
        const bool busy = (s.code & 0xFF) == SQLITE_BUSY || (s.code & 0xFF) == SQLITE_LOCKED;
        failure = { busy ? QueryStatus::Unavailable : QueryStatus::Failed, databasePath + ": " + s.message };
        return nullptr;
    }
    if (version == 0) {
        failure = { QueryStatus::Unavailable, databasePath + " is not initialised yet (no schema)" };
        return nullptr;
    }
    if (version > SqliteSchema::latestVersion()) {
        failure = { QueryStatus::Failed,
            databasePath + " has schema version " + std::to_string(version) + ", newer than this adclick knows ("
                + std::to_string(SqliteSchema::latestVersion()) + ")" };
        return nullptr;
    }
    return c;
}

QueryService::Impl::Lease::Lease(const Impl& impl)
    : m_impl(impl)
{
    std::unique_lock lock(impl.mutex);
    impl.released.wait(lock, [&] { return !impl.idle.empty() || impl.openCount < impl.options.maxConnections; });
    if (!impl.idle.empty()) {
        m_connection = std::move(impl.idle.back());
        impl.idle.pop_back();
        return;
    }
    ++impl.openCount;
    lock.unlock();
    m_connection = impl.openConnection(m_failure);
    if (!m_connection) {
        lock.lock();
        --impl.openCount;
        impl.released.notify_one();
    }
}

QueryService::Impl::Lease::~Lease()
{
    if (!m_connection)
        return;
    std::unique_ptr<ReadConnection> closing;
    {
        std::lock_guard lock(m_impl.mutex);
        if (m_broken) {
            closing = std::move(m_connection);
            --m_impl.openCount;
        } else {
            m_impl.idle.push_back(std::move(m_connection));
        }
    }
    m_impl.released.notify_one();
}

// ── QueryService ─────────────────────────────────────────────────────────────────────────────

TimeMs QueryService::allowedLatenessMs() const
{
    return m_impl->allowedLatenessMs.load(std::memory_order_relaxed);
}

void QueryService::setAllowedLatenessMs(TimeMs ms)
{
    m_impl->allowedLatenessMs.store(std::max<TimeMs>(0, ms), std::memory_order_relaxed);
    // Cached counts carry the provenance (open or final) decided with the old lateness.
    std::lock_guard lock(m_impl->cacheMutex);
    m_impl->countCache.clear();
}

QueryService::QueryService(std::string dataDirectory, Options options)
    : m_dataDirectory(std::move(dataDirectory))
    , m_options(options)
    , m_impl(std::make_unique<Impl>(m_dataDirectory, options))
{
}

QueryService::~QueryService() = default;

void QueryService::setLiveSnapshotProvider(SnapshotProvider provider)
{
    std::lock_guard lock(m_impl->mutex);
    m_impl->live = std::move(provider);
}

CountResult QueryService::count(AdId ad, TimeMs fromMs, TimeMs toMs, const CountFilters& filters) const
{
    CountResult r;
    ParsedFilters parsed;
    if (!admitAdQuery(m_impl->configError, ad, fromMs, toMs, filters, parsed, r))
        return r;
    if (parsed.needsRawLog())
        return m_impl->countRaw(ad, fromMs, toMs, parsed, std::move(r));
    return m_impl->countRows(ad, fromMs, toMs, parsed, std::move(r));
}

std::optional<AdId> QueryService::resolveAd(std::string_view text) const
{
    if (auto n = canonicalNumber(text))
        return n;
    if (text.empty() || text.size() > kMaxAdTextLength)
        return std::nullopt;
    Impl::Lease lease(*m_impl);
    if (!lease.get())
        return std::nullopt;
    SqliteStatus s;
    SqliteStatement* q = lease.get()->statement("SELECT ad_id FROM ads WHERE name = ?1", s);
    if (!q) {
        lease.markBroken();
        return std::nullopt;
    }
    SqliteResetGuard guard(*q);
    q->bindText(1, text);
    if (q->step() != SqliteStatement::Step::Row)
        return std::nullopt;
    return static_cast<AdId>(q->columnInt64(0));
}

std::optional<std::string> QueryService::adName(AdId ad) const
{
    if (ad < kFirstNamedAdId)
        return std::to_string(ad);
    Impl::Lease lease(*m_impl);
    if (!lease.get())
        return std::nullopt;
    SqliteStatus s;
    SqliteStatement* q = lease.get()->statement("SELECT name FROM ads WHERE ad_id = ?1", s);
    if (!q) {
        lease.markBroken();
        return std::nullopt;
    }
    SqliteResetGuard guard(*q);
    q->bindInt64(1, ad);
    if (q->step() != SqliteStatement::Step::Row)
        return std::nullopt;
    return std::string(q->columnText(0));
}

} // namespace adclick::engine
