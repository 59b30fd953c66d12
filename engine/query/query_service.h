#pragma once

#include "core/click_event.h"
#include "core/time_units.h"
#include "window/topk_types.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace adclick::engine {

struct PipelineSnapshot;

/// Settings of a QueryService. windowMs and allowedLatenessMs must be the speed layer's.
struct QueryServiceOptions {
    TimeMs windowMs = kMsPerMinute; ///< window of the minute tables; must divide an hour
    TimeMs allowedLatenessMs = 0; ///< the pipeline's: a window with no rows is final once watermark ≥ end + this
    unsigned rawScanThreads = 2; ///< threads of a raw-log recount (IP / user-agent text filters)
    unsigned maxConnections = 4; ///< read-only SQLite connections kept (queries beyond this wait)
    int busyTimeoutMs = 5000;
};

/// Outcome class of a query (REST: BadParameter → 400, Unavailable → 503, Failed → 500).
enum class QueryStatus : std::uint8_t {
    Ok,
    BadParameter, ///< errorParameter names the parameter, error says why
    Unavailable, ///< nothing to query yet (no database in the data directory, no checkpoint)
    Failed, ///< SQLite or raw-log failure; error says what
};
std::string_view queryStatusName(QueryStatus s);

/// Which data answered a count.
enum class CountPath : std::uint8_t {
    Rows, ///< minute rows and hour/day rollups: batch where a batch run covers, else speed
    RawLog, ///< an exact recount of the raw log (IP or user-agent text filters)
};
std::string_view countPathName(CountPath p); ///< "rows", "raw-log"

/// Filters of a count. Empty = no filter. Region and class are answered from the rows; IP and
/// user-agent text need the raw log (CountPath::RawLog), where region and class apply too.
struct CountFilters {
    std::string region; ///< ISO-3166 alpha-2 country code, any case ("us", "DE")
    std::string userAgentClass; ///< mobile, tablet, desktop, bot or other (any case)
    std::string ip; ///< exact address or CIDR prefix, IPv4 or IPv6 ("10.1.0.0/16", "2001:db8::/32")
    std::string userAgentContains; ///< substring of the raw user agent, ASCII case-insensitive
};

/// Where the windows of an answer came from. Every window of the effective range is in exactly
/// one of batch, speedFinal, open or rawLog; missing windows lie before it (the request reached
/// into data that is gone). A "window" is Options::windowMs (a minute); windows inside a rolled
/// hour/day bucket count with the bucket's source.
struct QueryProvenance {
    std::uint64_t batchWindows = 0; ///< from batch rows (a completed batch run covers them)
    std::uint64_t speedFinalWindows = 0; ///< from final speed rows (incl. speed hour/day rollups)
    std::uint64_t openWindows = 0; ///< speed windows still open: partial counts, included
    std::uint64_t rawLogWindows = 0; ///< recounted from the raw log
    std::uint64_t missingWindows = 0; ///< requested, but no data left (past retention / before the raw log's start)
    std::uint64_t hourBuckets = 0; ///< rolled hour buckets read
    std::uint64_t dayBuckets = 0; ///< rolled day buckets read
};

/// The checkpoint a query read (the consistent snapshot of its transaction).
struct QueryCheckpointInfo {
    bool present = false; ///< false: no checkpoint committed yet
    std::uint64_t sequence = 0;
    TimeMs watermarkMs = kMinTimeMs;
    TimeMs processingTimeMs = 0;
    std::int64_t wallTimeMs = 0; ///< system time of its commit
    std::uint64_t rawEndSequence = 0; ///< raw log records before this sequence are committed
};

/// What a raw-log recount read (CountPath::RawLog).
struct RawScanSummary {
    std::uint64_t recordsRead = 0; ///< raw records decoded
    std::uint64_t recordsMatched = 0; ///< in range and passing the filter (before de-duplication)
    std::uint64_t duplicates = 0; ///< click ids repeated within an (ad, window): removed
    std::uint64_t lateDropped = 0; ///< counted records the speed layer had dropped as late
    std::uint64_t segmentsRead = 0;
    std::uint64_t segmentsSkipped = 0; ///< excluded by their header's time range
    std::uint64_t blocksRead = 0;
    std::uint64_t blocksSkipped = 0; ///< excluded by their block header's time range
    std::uint64_t bytesRead = 0;
    std::uint64_t damagedBlocks = 0; ///< unreadable parts of the log: their records are not counted
    std::vector<std::string> damage; ///< "path@offset: reason", at most 20
    std::uint64_t rawEndSequence = 0; ///< records before this sequence (the checkpoint's raw end) were eligible
    TimeMs rawStartMs = kMinTimeMs; ///< earliest event time in the log, if older records were deleted
    unsigned threads = 1;
    double seconds = 0;
};

/// Answer of QueryService::count. On error only status, error and errorParameter are meaningful.
struct CountResult {
    QueryStatus status = QueryStatus::Ok;
    std::string error; ///< names the parameter ("from: must be earlier than to")
    std::string errorParameter; ///< "ad", "from", "to", "region", "userAgentClass", "ip", "userAgentContains"

    AdId adId = 0;
    std::uint64_t total = 0; ///< clicks of the ad in [fromMs, toMs) passing the filters
    TimeMs requestedFromMs = 0;
    TimeMs requestedToMs = 0;
    TimeMs fromMs = 0; ///< effective range: window-aligned (from floored, to ceiled), widened to whole
    TimeMs toMs = 0; ///< hours/days where only rollups exist, from clamped where the data is gone
    bool widened = false; ///< the effective range is wider than the window-aligned request
    CountPath path = CountPath::Rows;
    bool exact = false; ///< every window is batch-counted or recounted from the raw log
    bool partial = false; ///< some windows are open (provenance.openWindows > 0)
    QueryProvenance provenance;
    QueryCheckpointInfo checkpoint;
    std::optional<RawScanSummary> raw; ///< set on the raw-log path
    std::vector<std::string> notes; ///< human-readable caveats (widening, open windows, retention…)

    bool ok() const { return status == QueryStatus::Ok; }
};

/// Where one point of a series came from (the provenance of its windows).
enum class SeriesSource : std::uint8_t {
    Batch, ///< batch rows: a completed batch run covers the whole bucket
    SpeedFinal, ///< final speed rows (or a speed hour/day rollup)
    Open, ///< speed rows of a window still open: a partial count that may grow
    RawLog, ///< recounted from the raw log (IP / user-agent text filters), window final
};
std::string_view seriesSourceName(SeriesSource s); ///< "batch", "speed-final", "open", "raw-log"

/// One bucket of a series: a window, or the hour/day it was rolled into past minute retention.
struct SeriesPoint {
    TimeMs startMs = 0; ///< epoch ms, aligned to sizeMs
    TimeMs sizeMs = 0; ///< Options::windowMs, kMsPerHour or kMsPerDay
    std::uint64_t count = 0; ///< clicks of the ad in the bucket passing the filters
    SeriesSource source = SeriesSource::SpeedFinal;
};

/// Answer of QueryService::series: count()'s answer for the same arguments (the same effective
/// range, total, provenance, path, checkpoint and notes) split into its buckets. On error only
/// status, error and errorParameter are meaningful.
struct SeriesResult {
    QueryStatus status = QueryStatus::Ok;
    std::string error;
    std::string errorParameter; ///< as CountResult's

    AdId adId = 0;
    TimeMs requestedFromMs = 0;
    TimeMs requestedToMs = 0;
    TimeMs fromMs = 0; ///< effective range, as count()'s
    TimeMs toMs = 0;
    bool widened = false;
    CountPath path = CountPath::Rows;
    bool exact = false;
    bool partial = false;
    std::uint64_t total = 0; ///< Σ points[i].count == count(…).total of the same snapshot
    QueryProvenance provenance; ///< as count()'s (Σ over the points, plus missing windows before fromMs)
    QueryCheckpointInfo checkpoint;
    std::optional<RawScanSummary> raw;
    std::vector<std::string> notes;
    /// Every bucket of [fromMs, toMs) in time order, zero counts included (no gaps, no overlap).
    std::vector<SeriesPoint> points;

    bool ok() const { return status == QueryStatus::Ok; }
};

/// Which source answered a top-K query.
enum class TopKSource : std::uint8_t {
    Live, ///< the running pipeline's last-minute tracker (exact + approximate)
    Rows, ///< stored rows (batch where covered, else speed)
};
std::string_view topKSourceName(TopKSource s); ///< "live", "rows"

/// Answer of QueryService::topK.
struct TopKQueryResult {
    QueryStatus status = QueryStatus::Ok;
    std::string error;
    std::string errorParameter; ///< "windowMinutes", "k", "from", "to"

    TopKSource source = TopKSource::Rows;
    TimeMs fromMs = 0; ///< the window answered, [fromMs, toMs)
    TimeMs toMs = 0;
    std::uint32_t k = 0;
    std::vector<TopKEntry> entries; ///< exact, count desc then ad asc; ads with 0 clicks left out
    /// Live only: the tracker's full answer (exact and approximate side by side, ε, δ, error
    /// bound ε·N, measured error), truncated to k.
    std::optional<TopKResult> live;
    bool widened = false; ///< rows: widened to whole hours/days where only rollups exist
    bool partial = false; ///< rows: some windows are open (partial counts included)
    QueryProvenance provenance; ///< rows only
    QueryCheckpointInfo checkpoint; ///< rows only
    std::vector<std::string> notes;

    bool ok() const { return status == QueryStatus::Ok; }
};

/// The serving layer (DESIGN.md "serving"): answers counts and top-K over a data directory
/// (<dir>/adclick.db, <dir>/raw) that a pipeline may be writing at the same time. Batch rows win
/// wherever a completed batch run covers a window, else speed rows (final, then open/partial).
///
/// Thread-safe: every method may be called from any thread at once. Queries use a small pool of
/// read-only SQLite connections, opened lazily (a missing database is QueryStatus::Unavailable,
/// and the next query tries again); each query reads inside ONE read transaction, so the batch
/// coverage, the rows and the checkpoint it reports are one consistent snapshot even while a
/// writer commits. Raw-log recounts read only what the snapshot's checkpoint made durable.
/// Bad input is a result (QueryStatus::BadParameter), never an exception.
class QueryService {
public:
    using Options = QueryServiceOptions;
    using SnapshotProvider = std::function<std::shared_ptr<const PipelineSnapshot>()>;

    /// Sane bounds of query times (from and to): 1970-01-01 … 2100-01-01 UTC. windowMinutes is at
    /// most 90 days, k at most kMaxK.
    static constexpr TimeMs kMinQueryTimeMs = 0;
    static constexpr TimeMs kMaxQueryTimeMs = 4102444800000LL;
    static constexpr std::uint32_t kMaxK = 10000;
    static constexpr std::uint32_t kMaxWindowMinutes = 90 * 24 * 60;

    explicit QueryService(std::string dataDirectory, Options options = {});
    ~QueryService();
    QueryService(const QueryService&) = delete;
    QueryService& operator=(const QueryService&) = delete;

    /// Clicks of `ad` with event time in [fromMs, toMs) (epoch ms) passing `filters`.
    CountResult count(AdId ad, TimeMs fromMs, TimeMs toMs, const CountFilters& filters = {}) const;

    /// Clicks of `ad` per window of [fromMs, toMs) passing `filters`, each bucket labelled with its
    /// provenance: exactly count()'s coverage rules (batch rows where a batch run covers the bucket,
    /// else speed rows, final or open; hour/day buckets past minute retention; a raw-log recount for
    /// IP / user-agent text filters). At most kMaxSeriesWindows windows (BadParameter "to" beyond).
    SeriesResult series(AdId ad, TimeMs fromMs, TimeMs toMs, const CountFilters& filters = {}) const;
    static constexpr std::uint64_t kMaxSeriesWindows = 7 * 24 * 60;

    /// Top k ads of the last windowMinutes minutes. With windowMinutes == 1 and a live snapshot
    /// provider whose tracker has a complete window (and keeps ≥ k ads): the live answer. Otherwise
    /// exact from the rows of the last windowMinutes minutes before the checkpoint watermark (open
    /// windows included and flagged).
    TopKQueryResult topK(std::uint32_t windowMinutes, std::uint32_t k) const;
    /// Exact top k ads of any stored range [fromMs, toMs): rows, batch where covered, else speed.
    TopKQueryResult topK(TimeMs fromMs, TimeMs toMs, std::uint32_t k) const;

    /// The AdId of a user-supplied ad id: a canonical decimal below 2^31 is itself, anything else
    /// is looked up in the ads table. nullopt if unknown or malformed (or no database yet).
    std::optional<AdId> resolveAd(std::string_view text) const;
    /// The external form of an ad: the decimal for numeric ads, the stored name for named ones;
    /// nullopt for a named ad the store does not know.
    std::optional<std::string> adName(AdId ad) const;

    /// Where the live last-minute top-K comes from (e.g. [&p] { return p.snapshot(); }); an
    /// empty function removes it. The provider is called on the querying thread.
    void setLiveSnapshotProvider(SnapshotProvider provider);

    const std::string& dataDirectory() const { return m_dataDirectory; }
    /// The options as created; allowedLatenessMs may have changed since (allowedLatenessMs()).
    const Options& options() const { return m_options; }
    /// The pipeline's allowed lateness now. Thread-safe; a dashboard that restarts its pipeline
    /// with another lateness sets it, so "final" in answers follows the pipeline.
    TimeMs allowedLatenessMs() const;
    void setAllowedLatenessMs(TimeMs ms);

    struct Impl; ///< query_service_impl.h

private:
    std::string m_dataDirectory;
    Options m_options;
    std::unique_ptr<Impl> m_impl;
};

} // namespace adclick::engine
