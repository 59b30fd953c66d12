// QueryService, top-K: the live pipeline's last-minute answer (exact + approximate), or an exact
// ranking from the stored rows (batch where covered, else speed), summed per ad here from one
// pass per table over the plan's segments.

#include "query/query_service_impl.h"

#include "pipeline/pipeline_snapshot.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <unordered_map>

namespace adclick::engine {

using namespace querydetail;

namespace {

/// Up to this many rows of one table in the segments are read through its time index (a
/// primary-key lookup each); more are read along the primary key with one seek per ad, which
/// costs about as much as two or three lookups but is paid per ad, not per row.
constexpr std::int64_t kTimeIndexRowLimit = 32768;

bool outsideK(std::uint32_t k, TopKQueryResult& r)
{
    if (k >= 1 && k <= QueryService::kMaxK)
        return false;
    r.status = QueryStatus::BadParameter;
    r.errorParameter = "k";
    r.error = "k: " + std::to_string(k) + " is outside [1, " + std::to_string(QueryService::kMaxK) + "]";
    return true;
}

/// A time range of one table's rows in the answer; trackWindows: speed minute rows of a segment at
/// window size, whose final flags decide the provenance of their windows.
struct TimeInterval {
    TimeMs fromMs = 0;
    TimeMs toMs = 0;
    bool trackWindows = false;
};

/// Per-ad click totals over a plan's segments (each summed over the three levels of its kind, as
/// a count does), and the final state of every speed window seen. Coverage is decided per
/// segment, not per ad: each table is read once over the segments of its kind, in primary-key
/// order (ad, time, …) with a seek to each ad's next segment, so the rows an ad has outside the
/// segments are skipped, not read. The time index alone would need a primary-key lookup per row
/// for count (about three times the cost). Rows come back plainly and are summed here: SQLite's
/// GROUP BY costs about twice as much per row, and per-ad sub-selects are no cheaper.
class RowTotals {
public:
    RowTotals(ReadConnection& c, TimeMs windowMs)
        : m_c(c)
        , m_windowMs(windowMs)
    {
    }

    /// Reads every table holding rows of the plan's segments (inside the caller's transaction).
    SqliteStatus add(const RangePlan& plan)
    {
        for (RowKind kind : { RowKind::Speed, RowKind::Batch }) {
            std::vector<TimeInterval> intervals;
            for (const Segment& seg : plan.segments)
                if (seg.kind == kind)
                    intervals.push_back({ seg.fromMs, seg.toMs, kind == RowKind::Speed && seg.bucketMs == m_windowMs });
            if (intervals.empty())
                continue;
            for (RowLevel level : kRowLevels)
                if (SqliteStatus s = addTable(kind, level, intervals); !s.ok())
                    return s;
        }
        return {};
    }

    /// The k largest totals, count desc then ad asc; ads with no clicks left out.
    std::vector<TopKEntry> top(std::uint32_t k)
    {
        if (m_runs > 1 || m_unordered)
            std::sort(m_sums.begin(), m_sums.end(), [](const AdSum& a, const AdSum& b) { return a.ad < b.ad; });
        std::vector<TopKEntry> entries;
        entries.reserve(m_sums.size());
        const auto addEntry = [&entries](const std::optional<AdSum>& a) {
            if (a && a->clicks > 0)
                entries.push_back({ static_cast<AdId>(a->ad), static_cast<std::uint64_t>(a->clicks) });
        };
        std::optional<AdSum> current; // m_sums is ad-ordered now: one entry per run of one ad
        for (const AdSum& a : m_sums) {
            if (current && current->ad == a.ad) {
                current->clicks += a.clicks;
                continue;
            }
            addEntry(current);
            current = a;
        }
        addEntry(current);
        const auto order = [](const TopKEntry& a, const TopKEntry& b) {
            return a.count != b.count ? a.count > b.count : a.adId < b.adId;
        };
        const std::size_t keep = std::min<std::size_t>(k, entries.size());
        std::partial_sort(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(keep), entries.end(), order);
        entries.resize(keep);
        return entries;
    }

    /// Adds the open / final speed windows of the plan's window-size speed segments, as
    /// addProvenance would from the same rows: a window the watermark closed (start < closedMs)
    /// is final unless a row still says open; one it has not closed is open unless rows exist and
    /// all are final.
    void addWindowProvenance(const RangePlan& plan, TimeMs closedMs, QueryProvenance& prov) const
    {
        std::vector<std::pair<TimeMs, bool>> windows(m_windowOpen.begin(), m_windowOpen.end());
        std::sort(windows.begin(), windows.end());
        for (const Segment& seg : plan.segments) {
            if (seg.kind != RowKind::Speed || seg.bucketMs != m_windowMs)
                continue;
            const TimeMs split = std::clamp(closedMs, seg.fromMs, seg.toMs);
            std::uint64_t openInClosed = 0;
            std::uint64_t finalInOpen = 0;
            for (auto it = std::lower_bound(windows.begin(), windows.end(), std::pair { seg.fromMs, false });
                 it != windows.end() && it->first < seg.toMs; ++it) {
                if (it->first < split)
                    openInClosed += it->second ? 1 : 0;
                else
                    finalInOpen += it->second ? 0 : 1;
            }
            const std::uint64_t closedWindows = windowsIn(seg.fromMs, split, m_windowMs);
            const std::uint64_t openWindows = windowsIn(split, seg.toMs, m_windowMs);
            openInClosed = std::min(openInClosed, closedWindows);
            finalInOpen = std::min(finalInOpen, openWindows);
            prov.openWindows += openInClosed + (openWindows - finalInOpen);
            prov.speedFinalWindows += (closedWindows - openInClosed) + finalInOpen;
        }
    }

private:
    struct AdSum {
        std::int64_t ad = 0;
        std::int64_t clicks = 0;
    };

    SqliteStatus addTable(RowKind kind, RowLevel level, const std::vector<TimeInterval>& intervals)
    {
        const std::string table = rowTable(kind, level);
        const std::string time = timeColumn(level);
        const bool track = kind == RowKind::Speed && level == RowLevel::Minute;
        std::int64_t rows = 0;
        if (SqliteStatus s = countRows(table, time, intervals, rows); !s.ok() || rows == 0)
            return s;
        return rows < kTimeIndexRowLimit ? readByTime(table, time, track, intervals)
                                         : readByAd(table, time, track, intervals);
    }

    /// Rows of the table in the intervals, counted along the time index up to kTimeIndexRowLimit.
    SqliteStatus countRows(const std::string& table, const std::string& time,
        const std::vector<TimeInterval>& intervals, std::int64_t& rows)
    {
        SqliteStatus s;
        SqliteStatement* q = m_c.statement("SELECT count(*) FROM (SELECT 1 FROM " + table + " WHERE " + time
                + " >= ?1 AND " + time + " < ?2 LIMIT ?3)",
            s);
        if (!q)
            return s;
        for (const TimeInterval& in : intervals) {
            SqliteResetGuard guard(*q);
            q->bindInt64(1, in.fromMs).bindInt64(2, in.toMs).bindInt64(3, kTimeIndexRowLimit - rows);
            if (q->step() != SqliteStatement::Step::Row)
                return q->status();
            rows += q->columnInt64(0);
            if (rows >= kTimeIndexRowLimit)
                break;
        }
        return {};
    }

    /// Few rows: each interval's rows through the time index, in time order.
    SqliteStatus readByTime(
        const std::string& table, const std::string& time, bool track, const std::vector<TimeInterval>& intervals)
    {
        SqliteStatus s;
        SqliteStatement* q = m_c.statement("SELECT ad_id, " + time + ", count" + (track ? ", final" : "") + " FROM "
                + table + " WHERE " + time + " >= ?1 AND " + time + " < ?2",
            s);
        if (!q)
            return s;
        for (const TimeInterval& in : intervals) {
            SqliteResetGuard guard(*q);
            q->bindInt64(1, in.fromMs).bindInt64(2, in.toMs);
            SqliteStatement::Step step;
            while ((step = q->step()) == SqliteStatement::Step::Row) {
                m_sums.push_back({ q->columnInt64(0), q->columnInt64(2) });
                if (track && in.trackWindows)
                    noteWindow(q->columnInt64(1), q->columnInt64(3) != 0);
            }
            if (step == SqliteStatement::Step::Error)
                return q->status();
        }
        m_unordered = true;
        return {};
    }

    /// Many rows: along the primary key, one ad after the other. After an ad's rows in an interval
    /// the next row tells where to seek: the ad's next interval, or the next ad's first one.
    SqliteStatus readByAd(
        const std::string& table, const std::string& time, bool track, const std::vector<TimeInterval>& intervals)
    {
        SqliteStatus s;
        SqliteStatement* q = m_c.statement("SELECT ad_id, " + time + ", count" + (track ? ", final" : "") + " FROM "
                + table + " WHERE (ad_id, " + time + ") >= (?1, ?2)",
            s);
        if (!q)
            return s;
        SqliteResetGuard guard(*q);
        q->bindInt64(1, std::numeric_limits<std::int64_t>::min()).bindInt64(2, intervals.front().fromMs);
        std::optional<std::int64_t> ad;
        std::int64_t clicks = 0;
        std::size_t next = 0; // the ad's first interval not behind the current row
        const auto flush = [&] {
            if (ad && clicks != 0)
                m_sums.push_back({ *ad, clicks });
        };
        SqliteStatement::Step step;
        while ((step = q->step()) == SqliteStatement::Step::Row) {
            const std::int64_t rowAd = q->columnInt64(0);
            const TimeMs t = q->columnInt64(1);
            if (rowAd != ad) {
                flush();
                ad = rowAd;
                clicks = 0;
                next = 0;
            }
            while (next < intervals.size() && t >= intervals[next].toMs)
                ++next;
            if (next == intervals.size()) {
                if (rowAd == std::numeric_limits<std::int64_t>::max())
                    break;
                q->reset();
                q->bindInt64(1, rowAd + 1).bindInt64(2, intervals.front().fromMs);
                continue;
            }
            if (t < intervals[next].fromMs) {
                q->reset();
                q->bindInt64(1, rowAd).bindInt64(2, intervals[next].fromMs);
                continue;
            }
            clicks += q->columnInt64(2);
            if (track && intervals[next].trackWindows)
                noteWindow(t, q->columnInt64(3) != 0);
        }
        if (step == SqliteStatement::Step::Error)
            return q->status();
        flush();
        ++m_runs;
        return {};
    }

    void noteWindow(TimeMs windowStart, bool final)
    {
        if (m_lastOpen == nullptr || windowStart != m_lastWindow) {
            m_lastOpen = &m_windowOpen.try_emplace(windowStart, false).first->second;
            m_lastWindow = windowStart;
        }
        *m_lastOpen = *m_lastOpen || !final;
    }

    ReadConnection& m_c;
    TimeMs m_windowMs;
    std::vector<AdSum> m_sums; ///< per ad and read; ad-ordered within one readByAd
    unsigned m_runs = 0; ///< readByAd calls that added to m_sums
    bool m_unordered = false; ///< readByTime added to m_sums
    std::unordered_map<TimeMs, bool> m_windowOpen; ///< speed windows with rows: true if a row is not final
    TimeMs m_lastWindow = 0;
    bool* m_lastOpen = nullptr; ///< m_windowOpen[m_lastWindow] (node-based: stable)
};

} // namespace

TopKQueryResult QueryService::topK(std::uint32_t windowMinutes, std::uint32_t k) const
{
    TopKQueryResult r;
    r.k = k;
    if (!m_impl->configError.empty()) {
        r.status = QueryStatus::Failed;
        r.error = m_impl->configError;
        return r;
    }
    if (windowMinutes < 1 || windowMinutes > kMaxWindowMinutes) {
        r.status = QueryStatus::BadParameter;
        r.errorParameter = "windowMinutes";
        r.error = "windowMinutes: " + std::to_string(windowMinutes) + " is outside [1, "
            + std::to_string(kMaxWindowMinutes) + "]";
        return r;
    }
    if (outsideK(k, r))
        return r;
    if (windowMinutes == 1) {
        SnapshotProvider provider;
        {
            std::lock_guard lock(m_impl->mutex);
            provider = m_impl->live;
        }
        const std::shared_ptr<const PipelineSnapshot> snap = provider ? provider() : nullptr;
        if (snap && snap->topK.valid && snap->topK.k >= k) {
            TopKResult live = snap->topK;
            if (live.exact.size() > k)
                live.exact.resize(k);
            if (live.approx.size() > k)
                live.approx.resize(k);
            r.source = TopKSource::Live;
            r.fromMs = live.windowStartMs;
            r.toMs = live.windowEndMs;
            r.entries = live.exact;
            r.live = std::move(live);
            r.notes.push_back("live pipeline (snapshot " + std::to_string(snap->sequence)
                + "): the last complete 1-minute window, exact and approximate (Count-Min) side by side");
            return r;
        }
        if (snap && snap->topK.valid)
            r.notes.push_back("the live tracker keeps the top " + std::to_string(snap->topK.k)
                + " ads; k = " + std::to_string(k) + " is answered from the stored rows");
        else if (snap)
            r.notes.emplace_back("the live tracker has no complete window yet: answered from the stored rows");
        else
            r.notes.emplace_back("no live pipeline: answered from the stored rows");
    }
    return m_impl->topKRows({ true, 0, 0, windowMinutes }, k, std::move(r));
}

TopKQueryResult QueryService::topK(TimeMs fromMs, TimeMs toMs, std::uint32_t k) const
{
    TopKQueryResult r;
    r.k = k;
    if (!m_impl->configError.empty()) {
        r.status = QueryStatus::Failed;
        r.error = m_impl->configError;
        return r;
    }
    if (badRange(fromMs, toMs, r.error, r.errorParameter)) {
        r.status = QueryStatus::BadParameter;
        return r;
    }
    if (outsideK(k, r))
        return r;
    return m_impl->topKRows({ false, fromMs, toMs, 0 }, k, std::move(r));
}

// ── from the rows ─────────────────────────────────────────────────────────────────────────

TopKQueryResult QueryService::Impl::topKRows(const TopKRange& range, std::uint32_t k, TopKQueryResult r) const
{
    Lease lease(*this);
    if (!lease.get()) {
        r.status = lease.failure().status;
        r.error = lease.failure().message;
        return r;
    }
    ReadConnection& c = *lease.get();
    const TimeMs w = options.windowMs;
    StoreView view;
    RangePlan plan;
    QueryProvenance prov;
    RowTotals totals(c, w);
    SqliteStatus s;
    bool unavailable = false;
    {
        SqliteTransaction tx(c.db, SqliteTransaction::Mode::Deferred);
        s = tx.status();
        if (s.ok())
            s = readView(c, view);
        TimeMs fromMs = range.fromMs;
        TimeMs toMs = range.toMs;
        if (s.ok() && range.recent) {
            // The last N minutes before the watermark, but not past the newest row (a finished
            // pipeline's watermark is the end of time).
            std::optional<TimeMs> newestEnd;
            if (SqliteStatement* q = c.statement("SELECT max(window_start) FROM speed_minute", s); q) {
                SqliteResetGuard guard(*q);
                if (q->step() != SqliteStatement::Step::Row)
                    s = q->status();
                else if (!q->columnIsNull(0))
                    newestEnd = q->columnInt64(0) + w;
            }
            const bool hasWatermark = view.checkpoint.present && view.checkpoint.watermarkMs > kMinTimeMs;
            if (s.ok() && !hasWatermark && !newestEnd) {
                unavailable = true;
            } else if (s.ok()) {
                toMs = hasWatermark ? floorTo(view.checkpoint.watermarkMs, w) : *newestEnd;
                if (newestEnd && toMs > *newestEnd) {
                    toMs = *newestEnd;
                    r.notes.push_back("the watermark is past the newest row: the window ends at " + timeText(toMs));
                } else if (!hasWatermark) {
                    r.notes.emplace_back("no watermark yet: the window ends at the newest row");
                }
                toMs = std::min(toMs, QueryService::kMaxQueryTimeMs);
                fromMs = std::max(toMs - static_cast<TimeMs>(range.windowMinutes) * kMsPerMinute, TimeMs { 0 });
            }
        }
        if (s.ok() && !unavailable) {
            effectiveRange(fromMs, toMs, view, w, plan);
            s = readCoverage(c, plan.fromMs, plan.toMs, view);
        }
        if (s.ok() && !unavailable) {
            splitSegments(view, w, plan);
            s = totals.add(plan);
        }
        if (s.ok() && !unavailable) {
            // The window-size speed segments' final/open state came with their rows; the other
            // segments' provenance needs no rows.
            RangePlan others = plan;
            std::erase_if(
                others.segments, [w](const Segment& seg) { return seg.kind == RowKind::Speed && seg.bucketMs == w; });
            s = addProvenance(c, others, view, std::nullopt, prov);
            totals.addWindowProvenance(plan, closedBefore(view), prov);
        }
        if (s.ok())
            s = tx.commit();
    }
    if (!s.ok()) {
        lease.markBroken();
        r.status = QueryStatus::Failed;
        r.error = "reading " + databasePath + " failed: " + s.message;
        return r;
    }
    if (unavailable) {
        r.status = QueryStatus::Unavailable;
        r.error = "no checkpoint and no rows yet: there is no recent window to rank";
        return r;
    }
    r.entries = totals.top(k);
    r.source = TopKSource::Rows;
    r.fromMs = plan.fromMs;
    r.toMs = plan.toMs;
    r.widened = plan.fromMs < plan.alignedFromMs || plan.toMs > plan.alignedToMs;
    r.provenance = prov;
    r.partial = prov.openWindows > 0;
    r.checkpoint = view.checkpoint;
    r.notes.push_back("exact, from the stored rows (batch where a batch run covers, else speed) of "
        + timeText(plan.fromMs) + " – " + timeText(plan.toMs));
    describePlan(plan, view, prov, r.notes);
    return r;
}

} // namespace adclick::engine
