// QueryService::series: count() split into its buckets. The rows path plans the range exactly as
// countRows does (query_rows.cpp: window-aligned, widened to rollup buckets, batch-covered and
// speed segments) and reads each segment's sums grouped by bucket; each speed window is open or
// final by the rules of addProvenance. The raw-log path is countRaw itself, keeping the cells.

#include "query/query_service_impl.h"

#include <algorithm>
#include <array>
#include <map>

namespace adclick::engine {

using namespace querydetail;

namespace {

/// Σ count per bucket start for one ad over the three levels of a kind (the bindings of
/// query_rows.cpp's sumSql: ?1 ad, ?2/?3 time range, ?4 country and ?5 device, -1 = any).
const std::string& bucketSumSql(RowKind kind)
{
    static const std::array<std::string, 2> texts = [] {
        std::array<std::string, 2> out;
        for (RowKind k : { RowKind::Speed, RowKind::Batch }) {
            std::string& s = out[k == RowKind::Batch ? 1 : 0];
            for (RowLevel level : kRowLevels) {
                const std::string time = timeColumn(level);
                if (level != RowLevel::Minute)
                    s += " UNION ALL ";
                s += "SELECT " + time + ", sum(count) FROM " + rowTable(k, level) + " WHERE ad_id = ?1 AND " + time
                    + " >= ?2 AND " + time + " < ?3 AND (?4 < 0 OR country = ?4) AND (?5 < 0 OR device = ?5) GROUP BY "
                    + time;
            }
        }
        return out;
    }();
    return texts[kind == RowKind::Batch ? 1 : 0];
}

/// Per speed window of ad ?1 in [?2, ?3): whether any of its rows is still open.
const std::string kWindowStateSql = "SELECT window_start, min(final) FROM speed_minute WHERE ad_id = ?1 AND "
                                    "window_start >= ?2 AND window_start < ?3 GROUP BY window_start";

void addToProvenance(const SeriesPoint& p, TimeMs windowMs, QueryProvenance& prov)
{
    const std::uint64_t windows = windowsIn(p.startMs, p.startMs + p.sizeMs, windowMs);
    switch (p.source) {
    case SeriesSource::Batch:
        prov.batchWindows += windows;
        break;
    case SeriesSource::SpeedFinal:
        prov.speedFinalWindows += windows;
        break;
    case SeriesSource::Open:
        prov.openWindows += windows;
        break;
    case SeriesSource::RawLog:
        prov.rawLogWindows += windows;
        break;
    }
    if (p.sizeMs == kMsPerHour)
        ++prov.hourBuckets;
    else if (p.sizeMs == kMsPerDay)
        ++prov.dayBuckets;
}

} // namespace

std::string_view seriesSourceName(SeriesSource s)
{
    switch (s) {
    case SeriesSource::Batch:
        return "batch";
    case SeriesSource::SpeedFinal:
        return "speed-final";
    case SeriesSource::Open:
        return "open";
    case SeriesSource::RawLog:
        return "raw-log";
    }
    return "speed-final";
}

SeriesResult QueryService::series(AdId ad, TimeMs fromMs, TimeMs toMs, const CountFilters& filters) const
{
    SeriesResult r;
    ParsedFilters parsed;
    if (!admitAdQuery(m_impl->configError, ad, fromMs, toMs, filters, parsed, r))
        return r;
    const TimeMs w = m_options.windowMs;
    if (const std::uint64_t n = windowsIn(floorTo(fromMs, w), ceilTo(toMs, w), w); n > kMaxSeriesWindows) {
        r.status = QueryStatus::BadParameter;
        r.errorParameter = "to";
        r.error = "to: the range holds " + std::to_string(n) + " windows of " + formatDurationMs(w)
            + ", more than a series answers (" + std::to_string(kMaxSeriesWindows) + "); narrow from/to";
        return r;
    }
    if (!parsed.needsRawLog())
        return m_impl->seriesRows(ad, fromMs, toMs, parsed, std::move(r));

    // The raw-log path: countRaw's own answer, with its cells kept and laid out per window.
    CountResult base;
    base.adId = ad;
    base.requestedFromMs = fromMs;
    base.requestedToMs = toMs;
    std::vector<BatchCell> cells;
    CountResult c = m_impl->countRaw(ad, fromMs, toMs, parsed, std::move(base), &cells);
    if (!c.ok()) {
        r.status = c.status;
        r.error = std::move(c.error);
        r.errorParameter = std::move(c.errorParameter);
        return r;
    }
    std::map<TimeMs, std::uint64_t> perWindow;
    for (const BatchCell& cell : cells)
        perWindow[cell.key.windowStartMs] += cell.count;
    // countRaw's windows: [fromMs, fromMs + rawLogWindows) recounted and final, the rest open.
    const TimeMs openBegin = c.fromMs + static_cast<TimeMs>(c.provenance.rawLogWindows) * w;
    for (TimeMs t = c.fromMs; t < c.toMs; t += w) {
        const auto it = perWindow.find(t);
        r.points.push_back({ t, w, it == perWindow.end() ? 0 : it->second,
            t < openBegin ? SeriesSource::RawLog : SeriesSource::Open });
    }
    r.fromMs = c.fromMs;
    r.toMs = c.toMs;
    r.widened = c.widened;
    r.path = c.path;
    r.exact = c.exact;
    r.partial = c.partial;
    r.total = c.total;
    r.provenance = c.provenance;
    r.checkpoint = c.checkpoint;
    r.raw = std::move(c.raw);
    r.notes = std::move(c.notes);
    return r;
}

SeriesResult QueryService::Impl::seriesRows(
    AdId ad, TimeMs fromMs, TimeMs toMs, const ParsedFilters& f, SeriesResult r) const
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
    SqliteStatus s;
    {
        SqliteTransaction tx(c.db, SqliteTransaction::Mode::Deferred);
        s = tx.status();
        if (s.ok())
            s = readView(c, view);
        if (s.ok()) {
            effectiveRange(fromMs, toMs, view, w, plan);
            s = readCoverage(c, plan.fromMs, plan.toMs, view);
        }
        if (s.ok())
            splitSegments(view, w, plan);
        const TimeMs closed = closedBefore(view);
        for (const Segment& seg : plan.segments) {
            if (!s.ok())
                break;
            const std::size_t first = r.points.size();
            const SeriesSource rowsSource = seg.kind == RowKind::Batch ? SeriesSource::Batch : SeriesSource::SpeedFinal;
            for (TimeMs t = seg.fromMs; t < seg.toMs; t += seg.bucketMs)
                r.points.push_back({ t, seg.bucketMs, 0, rowsSource });
            auto at = [&](TimeMs t) -> SeriesPoint& {
                return r
                    .points[first + static_cast<std::size_t>((floorTo(t, seg.bucketMs) - seg.fromMs) / seg.bucketMs)];
            };
            SqliteStatement* q = c.statement(bucketSumSql(seg.kind), s);
            if (!q)
                break;
            {
                SqliteResetGuard guard(*q);
                q->bindInt64(1, ad)
                    .bindInt64(2, seg.fromMs)
                    .bindInt64(3, seg.toMs)
                    .bindInt64(4, f.country ? std::int64_t { *f.country } : -1)
                    .bindInt64(5, f.device ? static_cast<std::int64_t>(*f.device) : -1);
                SqliteStatement::Step step;
                while ((step = q->step()) == SqliteStatement::Step::Row)
                    at(q->columnInt64(0)).count += static_cast<std::uint64_t>(q->columnInt64(1));
                if (step != SqliteStatement::Step::Done)
                    s = q->status();
            }
            if (!s.ok() || seg.kind == RowKind::Batch || seg.bucketMs != w)
                continue; // batch rows and rollups are final
            // A window with rows is open while any of its rows is (whatever the watermark says);
            // a window without rows is open until the watermark closes it (addProvenance's rules).
            for (std::size_t i = first; i < r.points.size(); ++i)
                r.points[i].source = r.points[i].startMs < closed ? SeriesSource::SpeedFinal : SeriesSource::Open;
            q = c.statement(kWindowStateSql, s);
            if (!q)
                break;
            SqliteResetGuard guard(*q);
            q->bindInt64(1, ad).bindInt64(2, seg.fromMs).bindInt64(3, seg.toMs);
            SqliteStatement::Step step;
            while ((step = q->step()) == SqliteStatement::Step::Row)
                at(q->columnInt64(0)).source = q->columnInt64(1) == 0 ? SeriesSource::Open : SeriesSource::SpeedFinal;
            if (step != SqliteStatement::Step::Done)
                s = q->status();
        }
        if (s.ok())
            s = tx.commit();
    }
    if (!s.ok()) {
        lease.markBroken();
        r.points.clear();
        r.status = QueryStatus::Failed;
        r.error = "reading " + databasePath + " failed: " + s.message;
        return r;
    }
    prov.missingWindows = plan.missingWindows;
    for (const SeriesPoint& p : r.points) {
        r.total += p.count;
        addToProvenance(p, w, prov);
    }
    r.fromMs = plan.fromMs;
    r.toMs = plan.toMs;
    r.widened = plan.fromMs < plan.alignedFromMs || plan.toMs > plan.alignedToMs;
    r.path = CountPath::Rows;
    r.provenance = prov;
    r.partial = prov.openWindows > 0;
    r.exact = prov.batchWindows > 0 && prov.batchWindows == windowsIn(plan.fromMs, plan.toMs, w);
    r.checkpoint = view.checkpoint;
    describePlan(plan, view, prov, r.notes);
    return r;
}

} // namespace adclick::engine
