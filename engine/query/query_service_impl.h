#pragma once

// Private parts of QueryService shared by query_service.cpp (pool, validation, ads),
// query_rows.cpp (plan, sums and provenance of the rows path), query_topk.cpp (live and rows
// top-K) and query_raw.cpp (the raw-log path).

#include "ingest/ip_address.h"
#include "query/query_service.h"
#include "storage/raw_log.h"
#include "storage/sqlite_handle.h"
#include "storage/sqlite_store.h"

#include <atomic>
#include <array>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace adclick::engine::querydetail {

/// One read-only connection of the pool with its prepared statements.
struct ReadConnection {
    SqliteDb db;
    std::unordered_map<std::string, SqliteStatement> statements;

    /// The cached statement for `sql`, reset with its bindings cleared; nullptr with status set
    /// if it does not compile.
    SqliteStatement* statement(const std::string& sql, SqliteStatus& status);
};

/// Validated filters of a count.
struct ParsedFilters {
    std::optional<CountryCode> country;
    std::optional<DeviceClass> device;
    std::optional<IpPrefix> ip;
    std::string userAgentContains;
    bool needsRawLog() const { return ip.has_value() || !userAgentContains.empty(); }
};

/// What one read transaction saw besides the rows: the checkpoint, the rollup cutoffs and the
/// batch runs overlapping the query (merged into disjoint ranges, ascending).
struct StoreView {
    QueryCheckpointInfo checkpoint;
    RawLogPosition rawEnd;
    TimeMs minuteCutoffMs = kMinTimeMs; ///< minute rows before this are hour rows
    TimeMs hourCutoffMs = kMinTimeMs; ///< hour rows before this are day rows
    TimeMs deleteCutoffMs = kMinTimeMs; ///< nothing is stored before this
    std::int64_t latestRunId = 0; ///< the newest batch run (0: none)
    std::vector<std::pair<TimeMs, TimeMs>> coverage;
};

/// A piece of a query range read from one kind of row at one bucket size.
struct Segment {
    TimeMs fromMs = 0;
    TimeMs toMs = 0;
    RowKind kind = RowKind::Speed;
    TimeMs bucketMs = 0; ///< windowMs, kMsPerHour or kMsPerDay
};

/// How a range is answered from rows: the effective range and its segments in time order.
struct RangePlan {
    TimeMs alignedFromMs = 0; ///< the request aligned to windows
    TimeMs alignedToMs = 0;
    TimeMs fromMs = 0; ///< effective: widened to the rollups' buckets, clamped at deleted data
    TimeMs toMs = 0;
    std::uint64_t missingWindows = 0; ///< windows before deleteCutoffMs
    std::vector<Segment> segments;
};

TimeMs floorTo(TimeMs t, TimeMs sizeMs);
TimeMs ceilTo(TimeMs t, TimeMs sizeMs);

/// The row granularity stored at time t: day rows before min(hourCutoff, minuteCutoff), hour rows
/// before minuteCutoff, windows after.
TimeMs bucketSizeAt(TimeMs t, const StoreView& view, TimeMs windowMs);
/// The effective range of [fromMs, toMs) (bounds only; the view's coverage is not needed).
void effectiveRange(TimeMs fromMs, TimeMs toMs, const StoreView& view, TimeMs windowMs, RangePlan& plan);
/// Splits plan's effective range into batch segments (buckets wholly inside a batch run's range)
/// and speed segments.
void splitSegments(const StoreView& view, TimeMs windowMs, RangePlan& plan);

/// The range of a top-K query: explicit, or the last windowMinutes before the watermark.
struct TopKRange {
    bool recent = false;
    TimeMs fromMs = 0;
    TimeMs toMs = 0;
    std::uint32_t windowMinutes = 0;
};

/// The table holding rows of a kind at a level ("speed_minute", "batch_hour", …).
inline const char* rowTable(RowKind kind, RowLevel level)
{
    static constexpr std::array<const char*, 6> kNames { "speed_minute", "speed_hour", "speed_day", "batch_minute",
        "batch_hour", "batch_day" };
    return kNames[(kind == RowKind::Batch ? 3 : 0) + static_cast<std::size_t>(level)];
}

/// The time column of a level's tables.
inline const char* timeColumn(RowLevel level)
{
    return level == RowLevel::Minute ? "window_start" : "bucket_start";
}

inline constexpr std::array<RowLevel, 3> kRowLevels { RowLevel::Minute, RowLevel::Hour, RowLevel::Day };

/// Windows of windowMs in [fromMs, toMs) (0 if empty).
inline std::uint64_t windowsIn(TimeMs fromMs, TimeMs toMs, TimeMs windowMs)
{
    return toMs > fromMs ? static_cast<std::uint64_t>((toMs - fromMs) / windowMs) : 0;
}

/// "WITH RECURSIVE …, ads(id) AS (…)": the distinct ad ids of `tables`, each found by one primary-key
/// seek past the previous one (a skip scan), so per-ad sub-queries can then read each ad's time range
/// along the primary key instead of the time index (whose rows need a lookup each for count).
std::string adsCte(const std::vector<std::string>& tables);

/// True (with the error naming the parameter) when [fromMs, toMs) is empty or outside the sane bounds.
bool badRange(TimeMs fromMs, TimeMs toMs, std::string& error, std::string& parameter);

/// Validates the filters of a count or series; false with the error naming the parameter.
bool parseFilters(const CountFilters& in, ParsedFilters& out, std::string& error, std::string& parameter);

/// The prologue of every per-ad query (count, series): records the request in `r`, then checks the
/// store's configuration, the range and the filters. False, with r.status and r.error set, when the
/// query cannot run.
template <class Result>
bool admitAdQuery(const std::string& configError, AdId ad, TimeMs fromMs, TimeMs toMs, const CountFilters& filters,
    ParsedFilters& parsed, Result& r)
{
    r.adId = ad;
    r.requestedFromMs = fromMs;
    r.requestedToMs = toMs;
    if (!configError.empty()) {
        r.status = QueryStatus::Failed;
        r.error = configError;
        return false;
    }
    if (badRange(fromMs, toMs, r.error, r.errorParameter) || !parseFilters(filters, parsed, r.error, r.errorParameter)) {
        r.status = QueryStatus::BadParameter;
        return false;
    }
    return true;
}

/// Text of a time for notes ("2026-01-01T00:00:00.000Z").
std::string timeText(TimeMs t);

} // namespace adclick::engine::querydetail

namespace adclick::engine {

struct QueryService::Impl {
    using ReadConnection = querydetail::ReadConnection;
    using StoreView = querydetail::StoreView;
    using RangePlan = querydetail::RangePlan;
    using ParsedFilters = querydetail::ParsedFilters;

    /// A failure inside a query: what the result reports.
    struct Failure {
        QueryStatus status = QueryStatus::Failed;
        std::string message;
    };

    /// A pooled connection for one query; returned to the pool when the lease ends unless a
    /// failure marked it broken (it is then closed and the next query opens a new one).
    class Lease {
    public:
        explicit Lease(const Impl& impl);
        ~Lease();
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        ReadConnection* get() const { return m_connection.get(); }
        const Failure& failure() const { return m_failure; }
        void markBroken() { m_broken = true; }

    private:
        const Impl& m_impl;
        std::unique_ptr<ReadConnection> m_connection;
        Failure m_failure;
        bool m_broken = false;
    };

    Impl(const std::string& dataDirectory, const QueryServiceOptions& options);

    std::unique_ptr<ReadConnection> openConnection(Failure& failure) const;

    /// Reads checkpoint and rollup cutoffs (inside the caller's transaction).
    SqliteStatus readView(ReadConnection& c, StoreView& view) const;
    /// Reads the batch runs overlapping [fromMs, toMs) into view.coverage.
    SqliteStatus readCoverage(ReadConnection& c, TimeMs fromMs, TimeMs toMs, StoreView& view) const;
    /// Σ count of one segment over all three levels of its kind, for one ad (with filters).
    SqliteStatus sumSegment(
        ReadConnection& c, const querydetail::Segment& seg, AdId ad, const ParsedFilters& f, std::uint64_t& out) const;
    /// Adds the windows of every segment to `prov` (final/open for speed windows, per the rows of
    /// `ad`, or of all ads when ad is nullopt, and the view's watermark).
    SqliteStatus addProvenance(ReadConnection& c, const RangePlan& plan, const StoreView& view, std::optional<AdId> ad,
        QueryProvenance& prov) const;
    /// First window start that the watermark has not closed (end + lateness > watermark).
    TimeMs closedBefore(const StoreView& view) const;

    CountResult countRows(AdId ad, TimeMs fromMs, TimeMs toMs, const ParsedFilters& f, CountResult r) const;
    /// cells, when given, receives the recount's (ad, window, country, device) cells (series()).
    CountResult countRaw(AdId ad, TimeMs fromMs, TimeMs toMs, const ParsedFilters& f, CountResult r,
        std::vector<BatchCell>* cells = nullptr) const;
    SeriesResult seriesRows(AdId ad, TimeMs fromMs, TimeMs toMs, const ParsedFilters& f, SeriesResult r) const;
    TopKQueryResult topKRows(const querydetail::TopKRange& range, std::uint32_t k, TopKQueryResult r) const;
    /// Notes on widening, deleted data and open windows of a rows answer.
    void describePlan(const RangePlan& plan, const StoreView& view, const QueryProvenance& prov,
        std::vector<std::string>& notes) const;

    std::string databasePath;
    std::string rawDirectory;
    QueryServiceOptions options;
    std::atomic<TimeMs> allowedLatenessMs; ///< options.allowedLatenessMs, changeable (setAllowedLatenessMs)
    std::string configError; ///< non-empty: the options are unusable, every query fails with it

    /// Row counts per (ad, effective range, filters), valid for one version of the store: every
    /// change of the rows a count reads comes with a new checkpoint sequence (speed rows), a new
    /// batch run id (batch rows) or new rollup / retention cutoffs, so equal versions mean equal
    /// answers. Dashboards and scripts repeat the same counts between checkpoints (every 0.5–1 s);
    /// a popular ad's count reads thousands of rows.
    struct CountKey {
        AdId ad = 0;
        TimeMs fromMs = 0;
        TimeMs toMs = 0;
        std::int64_t country = -1;
        std::int64_t device = -1;
        friend bool operator==(const CountKey&, const CountKey&) = default;
    };
    struct CountKeyHash {
        std::size_t operator()(const CountKey& k) const
        {
            std::uint64_t h = k.ad * 0x9E3779B97F4A7C15ull;
            for (std::int64_t v : { k.fromMs, k.toMs, k.country, k.device })
                h = (h ^ static_cast<std::uint64_t>(v)) * 0xFF51AFD7ED558CCDull;
            return static_cast<std::size_t>(h ^ (h >> 29));
        }
    };
    struct StoreVersion {
        std::uint64_t checkpoint = 0;
        TimeMs minuteCutoffMs = 0;
        TimeMs hourCutoffMs = 0;
        TimeMs deleteCutoffMs = 0;
        std::int64_t latestRunId = 0;
        friend bool operator==(const StoreVersion&, const StoreVersion&) = default;
    };
    struct CountEntry {
        StoreVersion version;
        std::uint64_t total = 0;
        QueryProvenance provenance;
    };
    static constexpr std::size_t kCountCacheEntries = 16384; ///< cleared when full
    mutable std::mutex cacheMutex;
    mutable std::unordered_map<CountKey, CountEntry, CountKeyHash> countCache;

    mutable std::mutex mutex;
    mutable std::condition_variable released;
    mutable std::vector<std::unique_ptr<ReadConnection>> idle;
    mutable unsigned openCount = 0;
    QueryService::SnapshotProvider live; ///< guarded by mutex
};

} // namespace adclick::engine
