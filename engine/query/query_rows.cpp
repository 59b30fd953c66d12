// QueryService, rows path: the consistent view of one read transaction, the plan of a range
// (window-aligned, widened where only hour/day rollups exist, split into batch-covered and speed
// segments), the sums over the primary-key ranges, and the provenance of every window.

#include "query/query_service_impl.h"

#include <sqlite3.h>

#include <algorithm>
#include <array>

namespace adclick::engine {

using namespace querydetail;

namespace querydetail {

TimeMs floorTo(TimeMs t, TimeMs sizeMs)
{
    return windowStartOf(t, sizeMs);
}

TimeMs ceilTo(TimeMs t, TimeMs sizeMs)
{
    const TimeMs f = windowStartOf(t, sizeMs);
    return f == t ? t : f + sizeMs;
}

std::string timeText(TimeMs t)
{
    return formatIsoUtc(t);
}

TimeMs bucketSizeAt(TimeMs t, const StoreView& view, TimeMs windowMs)
{
    if (t < std::min(view.hourCutoffMs, view.minuteCutoffMs))
        return kMsPerDay;
    if (t < view.minuteCutoffMs)
        return kMsPerHour;
    return windowMs;
}

void effectiveRange(TimeMs fromMs, TimeMs toMs, const StoreView& view, TimeMs windowMs, RangePlan& plan)
{
    plan.alignedFromMs = floorTo(fromMs, windowMs);
    plan.alignedToMs = ceilTo(toMs, windowMs);
    TimeMs from = floorTo(fromMs, bucketSizeAt(fromMs, view, windowMs));
    const TimeMs to = ceilTo(toMs, bucketSizeAt(toMs - 1, view, windowMs));
    plan.missingWindows = 0;
    if (view.deleteCutoffMs > from) {
        plan.missingWindows = static_cast<std::uint64_t>((std::min(view.deleteCutoffMs, to) - from) / windowMs);
        from = std::min(view.deleteCutoffMs, to);
    }
    plan.fromMs = from;
    plan.toMs = to;
}

void splitSegments(const StoreView& view, TimeMs windowMs, RangePlan& plan)
{
    plan.segments.clear();
    const TimeMs dayEnd = std::min(view.hourCutoffMs, view.minuteCutoffMs);
    const std::array<std::pair<std::pair<TimeMs, TimeMs>, TimeMs>, 3> regions { {
        { { plan.fromMs, std::min(plan.toMs, dayEnd) }, kMsPerDay },
        { { std::max(plan.fromMs, dayEnd), std::min(plan.toMs, view.minuteCutoffMs) }, kMsPerHour },
        { { std::max(plan.fromMs, view.minuteCutoffMs), plan.toMs }, windowMs },
    } };
    for (const auto& [range, bucketMs] : regions) {
        const auto [from, to] = range;
        if (from >= to)
            continue;
        TimeMs cursor = from;
        // A bucket is batch-answered only if one merged run range holds all of it.
        for (const auto& [runFrom, runTo] : view.coverage) {
            const TimeMs b = std::max(ceilTo(runFrom, bucketMs), cursor);
            const TimeMs e = std::min(floorTo(runTo, bucketMs), to);
            if (b >= e)
                continue;
            if (cursor < b)
                plan.segments.push_back({ cursor, b, RowKind::Speed, bucketMs });
            plan.segments.push_back({ b, e, RowKind::Batch, bucketMs });
            cursor = e;
        }
        if (cursor < to)
            plan.segments.push_back({ cursor, to, RowKind::Speed, bucketMs });
    }
}

std::string adsCte(const std::vector<std::string>& tables)
{
    std::string sql = "WITH RECURSIVE ";
    std::string all;
    for (const std::string& t : tables) {
        const std::string cte = t + "_ads";
        sql += cte + "(id) AS (SELECT min(ad_id) FROM " + t + " UNION ALL SELECT (SELECT min(ad_id) FROM " + t
            + " WHERE ad_id > " + cte + ".id) FROM " + cte + " WHERE " + cte + ".id IS NOT NULL), ";
        all += (all.empty() ? "SELECT id FROM " : " UNION SELECT id FROM ") + cte + " WHERE id IS NOT NULL";
    }
    return sql + "ads(id) AS (" + all + ")";
}

} // namespace querydetail

namespace {

/// Σ count for one ad over the three levels of a kind: ?1 ad, ?2/?3 time range, ?4 country and
/// ?5 device (-1 = any). The primary key (ad_id, time, …) serves each sub-select as one range.
const std::string& sumSql(RowKind kind)
{
    static const std::array<std::string, 2> texts = [] {
        std::array<std::string, 2> out;
        for (RowKind k : { RowKind::Speed, RowKind::Batch }) {
            std::string& s = out[k == RowKind::Batch ? 1 : 0];
            s = "SELECT ";
            for (RowLevel level : kRowLevels) {
                const std::string time = timeColumn(level);
                if (level != RowLevel::Minute)
                    s += " + ";
                s += "(SELECT coalesce(sum(count), 0) FROM ";
                s += rowTable(k, level);
                s += " WHERE ad_id = ?1 AND ";
                s += time;
                s += " >= ?2 AND ";
                s += time;
                s += " < ?3 AND (?4 < 0 OR country = ?4) AND (?5 < 0 OR device = ?5))";
            }
        }
        return out;
    }();
    return texts[kind == RowKind::Batch ? 1 : 0];
}

/// Window counts of speed minute rows in [?2, ?3) (of ad ?1, or all ads): windows holding a
/// non-final row, and windows whose rows are all final.
std::string windowStateSql(bool perAd, bool allFinal)
{
    // Without an ad, ?1 is not referenced (and not bound); the numbering stays the same. Non-final
    // rows of all ads are looked for along each ad's primary-key range (long ranges: see adsCte).
    if (!perAd && !allFinal)
        return adsCte({ "speed_minute" })
            + " SELECT count(DISTINCT s.window_start) FROM ads JOIN speed_minute AS s ON s.ad_id = ads.id "
              "AND s.window_start >= ?2 AND s.window_start < ?3 AND s.final = 0";
    const std::string where = std::string(perAd ? "ad_id = ?1 AND " : "") + "window_start >= ?2 AND window_start < ?3";
    if (!allFinal)
        return "SELECT count(DISTINCT window_start) FROM speed_minute WHERE " + where + " AND final = 0";
    return "SELECT count(*) FROM (SELECT window_start FROM speed_minute WHERE " + where
        + " GROUP BY window_start HAVING min(final) = 1)";
}

SqliteStatus queryCount(
    ReadConnection& c, const std::string& sql, std::optional<AdId> ad, TimeMs fromMs, TimeMs toMs, std::uint64_t& out)
{
    SqliteStatus s;
    SqliteStatement* q = c.statement(sql, s);
    if (!q)
        return s;
    SqliteResetGuard guard(*q);
    if (ad)
        q->bindInt64(1, *ad);
    q->bindInt64(2, fromMs).bindInt64(3, toMs);
    if (q->step() != SqliteStatement::Step::Row)
        return q->status();
    out = static_cast<std::uint64_t>(std::max<std::int64_t>(0, q->columnInt64(0)));
    return {};
}

/// "before T only hour rollups are kept" for the band of bucket size bucketMs.
std::string rollupBand(TimeMs bucketMs, const StoreView& view)
{
    if (bucketMs == kMsPerDay)
        return "before " + timeText(std::min(view.hourCutoffMs, view.minuteCutoffMs)) + " only day rollups are kept";
    return "before " + timeText(view.minuteCutoffMs) + " only hour rollups are kept";
}

} // namespace

// ── the view of one transaction ──────────────────────────────────────────────────────────────

SqliteStatus QueryService::Impl::readView(ReadConnection& c, StoreView& view) const
{
    SqliteStatus s;
    SqliteStatement* q = c.statement("SELECT sequence, processing_time_ms, watermark_ms, wall_time_ms, raw_segment, "
                                     "raw_offset, raw_next_sequence FROM checkpoint WHERE id = 1",
        s);
    if (!q)
        return s;
    {
        SqliteResetGuard guard(*q);
        const SqliteStatement::Step step = q->step();
        if (step == SqliteStatement::Step::Error)
            return q->status();
        if (step == SqliteStatement::Step::Row) {
            auto u = [&](int col) { return static_cast<std::uint64_t>(q->columnInt64(col)); };
            view.checkpoint.present = true;
            view.checkpoint.sequence = u(0);
            view.checkpoint.processingTimeMs = q->columnInt64(1);
            view.checkpoint.watermarkMs = q->columnInt64(2);
            view.checkpoint.wallTimeMs = q->columnInt64(3);
            view.rawEnd = { u(4), u(5), u(6) };
            view.checkpoint.rawEndSequence = view.rawEnd.nextSequence;
        }
    }
    q = c.statement("SELECT minute_cutoff_ms, hour_cutoff_ms, delete_cutoff_ms FROM rollup_state WHERE id = 1", s);
    if (!q)
        return s;
    SqliteResetGuard guard(*q);
    const SqliteStatement::Step step = q->step();
    if (step == SqliteStatement::Step::Error)
        return q->status();
    if (step == SqliteStatement::Step::Row) {
        view.minuteCutoffMs = q->columnInt64(0);
        view.hourCutoffMs = q->columnInt64(1);
        view.deleteCutoffMs = q->columnInt64(2);
    }
    return {};
}

SqliteStatus QueryService::Impl::readCoverage(ReadConnection& c, TimeMs fromMs, TimeMs toMs, StoreView& view) const
{
    view.coverage.clear();
    std::int64_t hasTable = 0; // schema version 1 has no batch runs
    if (SqliteStatus s
        = c.db.queryInt64("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'batch_run'", hasTable);
        !s.ok() || hasTable == 0)
        return s;
    if (SqliteStatus s = c.db.queryInt64("SELECT coalesce(max(run_id), 0) FROM batch_run", view.latestRunId); !s.ok())
        return s;
    SqliteStatus s;
    SqliteStatement* q = c.statement(
        "SELECT from_ms, to_ms FROM batch_run WHERE to_ms > ?1 AND from_ms < ?2 ORDER BY from_ms, to_ms", s);
    if (!q)
        return s;
    SqliteResetGuard guard(*q);
    q->bindInt64(1, fromMs).bindInt64(2, toMs);
    SqliteStatement::Step step;
    while ((step = q->step()) == SqliteStatement::Step::Row) {
        const TimeMs a = q->columnInt64(0);
        const TimeMs b = q->columnInt64(1);
        if (!view.coverage.empty() && a <= view.coverage.back().second)
            view.coverage.back().second = std::max(view.coverage.back().second, b);
        else
            view.coverage.emplace_back(a, b);
    }
    return step == SqliteStatement::Step::Done ? SqliteStatus {} : q->status();
}

TimeMs QueryService::Impl::closedBefore(const StoreView& view) const
{
    if (!view.checkpoint.present || view.checkpoint.watermarkMs <= kMinTimeMs)
        return kMinTimeMs;
    const TimeMs w = options.windowMs;
    return floorTo(view.checkpoint.watermarkMs - w - allowedLatenessMs.load(std::memory_order_relaxed), w) + w;
}

SqliteStatus QueryService::Impl::sumSegment(
    ReadConnection& c, const Segment& seg, AdId ad, const ParsedFilters& f, std::uint64_t& out) const
{
    SqliteStatus s;
    SqliteStatement* q = c.statement(sumSql(seg.kind), s);
    if (!q)
        return s;
    SqliteResetGuard guard(*q);
    q->bindInt64(1, ad)
        .bindInt64(2, seg.fromMs)
        .bindInt64(3, seg.toMs)
        .bindInt64(4, f.country ? std::int64_t { *f.country } : -1)
        .bindInt64(5, f.device ? static_cast<std::int64_t>(*f.device) : -1);
    if (q->step() != SqliteStatement::Step::Row)
        return q->status();
    out = static_cast<std::uint64_t>(q->columnInt64(0));
    return {};
}

SqliteStatus QueryService::Impl::addProvenance(ReadConnection& c, const RangePlan& plan, const StoreView& view,
    std::optional<AdId> ad, QueryProvenance& prov) const
{
    const TimeMs w = options.windowMs;
    const TimeMs closed = closedBefore(view);
    prov.missingWindows += plan.missingWindows;
    for (const Segment& seg : plan.segments) {
        const std::uint64_t windows = windowsIn(seg.fromMs, seg.toMs, w);
        if (seg.bucketMs == kMsPerHour)
            prov.hourBuckets += windowsIn(seg.fromMs, seg.toMs, kMsPerHour);
        else if (seg.bucketMs == kMsPerDay)
            prov.dayBuckets += windowsIn(seg.fromMs, seg.toMs, kMsPerDay);
        if (seg.kind == RowKind::Batch) {
            prov.batchWindows += windows;
            continue;
        }
        if (seg.bucketMs != w) { // rolled up: final long ago
            prov.speedFinalWindows += windows;
            continue;
        }
        // Closed by the watermark: final unless a row still says open. Not closed: open unless
        // rows exist and all are final.
        if (const TimeMs end = std::min(seg.toMs, closed); seg.fromMs < end) {
            std::uint64_t open = 0;
            if (SqliteStatus s = queryCount(c, windowStateSql(ad.has_value(), false), ad, seg.fromMs, end, open);
                !s.ok())
                return s;
            const std::uint64_t n = windowsIn(seg.fromMs, end, w);
            open = std::min(open, n);
            prov.openWindows += open;
            prov.speedFinalWindows += n - open;
        }
        if (const TimeMs begin = std::max(seg.fromMs, closed); begin < seg.toMs) {
            std::uint64_t final = 0;
            if (SqliteStatus s = queryCount(c, windowStateSql(ad.has_value(), true), ad, begin, seg.toMs, final);
                !s.ok())
                return s;
            const std::uint64_t n = windowsIn(begin, seg.toMs, w);
            final = std::min(final, n);
            prov.speedFinalWindows += final;
            prov.openWindows += n - final;
        }
    }
    return {};
}

void QueryService::Impl::describePlan(
    const RangePlan& plan, const StoreView& view, const QueryProvenance& prov, std::vector<std::string>& notes) const
{
    const TimeMs w = options.windowMs;
    if (plan.fromMs < plan.alignedFromMs && !plan.segments.empty())
        notes.push_back(
            "from widened to " + timeText(plan.fromMs) + ": " + rollupBand(plan.segments.front().bucketMs, view));
    if (plan.toMs > plan.alignedToMs && !plan.segments.empty())
        notes.push_back(
            "to widened to " + timeText(plan.toMs) + ": " + rollupBand(plan.segments.back().bucketMs, view));
    if (plan.missingWindows > 0)
        notes.push_back("rows before " + timeText(view.deleteCutoffMs) + " were deleted by retention: "
            + std::to_string(plan.missingWindows) + " windows of the range have no data");
    if (!view.checkpoint.present)
        notes.emplace_back("no checkpoint has been committed yet");
    if (prov.openWindows > 0) {
        std::string wm = view.checkpoint.present && view.checkpoint.watermarkMs > kMinTimeMs
            ? timeText(view.checkpoint.watermarkMs)
            : std::string("none yet");
        notes.push_back(std::to_string(prov.openWindows) + " windows are still open (checkpoint watermark " + wm
            + ", allowed lateness " + formatDurationMs(allowedLatenessMs.load(std::memory_order_relaxed))
            + "): their partial counts are included and may still grow");
    }
    if (prov.batchWindows > 0 && prov.batchWindows < windowsIn(plan.fromMs, plan.toMs, w))
        notes.push_back(
            std::to_string(prov.batchWindows) + " windows from batch runs, the others from the speed layer");
}

// ── count ────────────────────────────────────────────────────────────────────────────────────

CountResult QueryService::Impl::countRows(
    AdId ad, TimeMs fromMs, TimeMs toMs, const ParsedFilters& f, CountResult r) const
{
    Lease lease(*this);
    if (!lease.get()) {
        r.status = lease.failure().status;
        r.error = lease.failure().message;
        return r;
    }
    ReadConnection& c = *lease.get();
    StoreView view;
    RangePlan plan;
    std::uint64_t total = 0;
    QueryProvenance prov;
    SqliteStatus s;
    {
        SqliteTransaction tx(c.db, SqliteTransaction::Mode::Deferred);
        s = tx.status();
        if (s.ok())
            s = readView(c, view);
        if (s.ok()) {
            effectiveRange(fromMs, toMs, view, options.windowMs, plan);
            s = readCoverage(c, plan.fromMs, plan.toMs, view);
        }
        const CountKey key { ad, plan.fromMs, plan.toMs, f.country ? std::int64_t { *f.country } : -1,
            f.device ? static_cast<std::int64_t>(*f.device) : -1 };
        const StoreVersion version { view.checkpoint.present ? view.checkpoint.sequence : 0, view.minuteCutoffMs,
            view.hourCutoffMs, view.deleteCutoffMs, view.latestRunId };
        bool cached = false;
        if (s.ok()) {
            splitSegments(view, options.windowMs, plan);
            std::lock_guard lock(cacheMutex);
            if (auto it = countCache.find(key); it != countCache.end() && it->second.version == version) {
                total = it->second.total;
                prov = it->second.provenance;
                cached = true;
            }
        }
        if (s.ok() && !cached) {
            for (const Segment& seg : plan.segments) {
                std::uint64_t n = 0;
                if (s = sumSegment(c, seg, ad, f, n); !s.ok())
                    break;
                total += n;
            }
            if (s.ok())
                s = addProvenance(c, plan, view, ad, prov);
            if (s.ok()) {
                std::lock_guard lock(cacheMutex);
                if (countCache.size() >= kCountCacheEntries)
                    countCache.clear();
                countCache[key] = CountEntry { version, total, prov };
            }
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
    r.total = total;
    r.fromMs = plan.fromMs;
    r.toMs = plan.toMs;
    r.widened = plan.fromMs < plan.alignedFromMs || plan.toMs > plan.alignedToMs;
    r.path = CountPath::Rows;
    r.provenance = prov;
    r.partial = prov.openWindows > 0;
    r.exact = prov.batchWindows > 0 && prov.batchWindows == windowsIn(plan.fromMs, plan.toMs, options.windowMs);
    r.checkpoint = view.checkpoint;
    describePlan(plan, view, prov, r.notes);
    return r;
}

} // namespace adclick::engine
