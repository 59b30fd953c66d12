// QueryService, top-K: the live pipeline's last-minute answer (exact + approximate), or an exact
// ranking from the stored rows (batch where covered, else speed), summed and ranked in SQL.

#include "query/query_service_impl.h"

#include "pipeline/pipeline_snapshot.h"

#include <algorithm>
#include <unordered_map>

namespace adclick::engine {

using namespace querydetail;

namespace {

// Segments per statement (3 sub-selects each); more are summed per statement and merged here.
constexpr std::size_t kTopKSegmentsPerStatement = 40;

bool outsideK(std::uint32_t k, TopKQueryResult& r)
{
    if (k >= 1 && k <= QueryService::kMaxK)
        return false;
    r.status = QueryStatus::BadParameter;
    r.errorParameter = "k";
    r.error = "k: " + std::to_string(k) + " is outside [1, " + std::to_string(QueryService::kMaxK) + "]";
    return true;
}

/// Per-ad totals of segments [first, last): every ad of the tables involved (a skip scan), each
/// summed along its primary-key range per segment and level — much cheaper than grouping the time
/// index's rows, which need a table lookup each. Segment i binds ?(2i+1), ?(2i+2) (relative to
/// first); `ranked` orders by total desc, ad asc and binds the limit after them.
std::string topKSql(const RangePlan& plan, std::size_t first, std::size_t last, bool ranked)
{
    std::vector<std::string> tables;
    for (std::size_t i = first; i < last; ++i)
        for (RowLevel level : kRowLevels) {
            std::string t = rowTable(plan.segments[i].kind, level);
            if (std::find(tables.begin(), tables.end(), t) == tables.end())
                tables.push_back(std::move(t));
        }
    std::string total;
    int param = 0;
    for (std::size_t i = first; i < last; ++i, param += 2)
        for (RowLevel level : kRowLevels) {
            const std::string time = timeColumn(level);
            total
                += total.empty() ? "(SELECT coalesce(sum(count), 0) FROM " : " + (SELECT coalesce(sum(count), 0) FROM ";
            total += rowTable(plan.segments[i].kind, level);
            total += " WHERE ad_id = ads.id AND " + time + " >= ?" + std::to_string(param + 1);
            total += " AND " + time + " < ?" + std::to_string(param + 2) + ")";
        }
    std::string sql = adsCte(tables);
    sql += " SELECT id, total FROM (SELECT id, " + total + " AS total FROM ads) WHERE total > 0";
    if (ranked)
        sql += " ORDER BY total DESC, id ASC LIMIT ?" + std::to_string(param + 1);
    return sql;
}

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
    std::unordered_map<AdId, std::uint64_t> merged;
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
            const std::size_t chunks
                = (plan.segments.size() + kTopKSegmentsPerStatement - 1) / kTopKSegmentsPerStatement;
            for (std::size_t chunk = 0; s.ok() && chunk < chunks; ++chunk) {
                const std::size_t first = chunk * kTopKSegmentsPerStatement;
                const std::size_t last = std::min(plan.segments.size(), first + kTopKSegmentsPerStatement);
                const std::string sql = topKSql(plan, first, last, chunks == 1);
                SqliteStatement* q = c.statement(sql, s);
                if (!q)
                    break;
                SqliteResetGuard guard(*q);
                int param = 0;
                for (std::size_t i = first; i < last; ++i) {
                    q->bindInt64(++param, plan.segments[i].fromMs);
                    q->bindInt64(++param, plan.segments[i].toMs);
                }
                if (chunks == 1)
                    q->bindInt64(++param, k);
                SqliteStatement::Step step;
                while ((step = q->step()) == SqliteStatement::Step::Row) {
                    const auto ad = static_cast<AdId>(q->columnInt64(0));
                    const auto n = static_cast<std::uint64_t>(q->columnInt64(1));
                    if (chunks == 1)
                        r.entries.push_back({ ad, n });
                    else
                        merged[ad] += n;
                }
                if (step == SqliteStatement::Step::Error)
                    s = q->status();
            }
        }
        if (s.ok() && !unavailable)
            s = addProvenance(c, plan, view, std::nullopt, prov);
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
    if (!merged.empty()) {
        r.entries.reserve(merged.size());
        for (const auto& [ad, n] : merged)
            r.entries.push_back({ ad, n });
        const auto order = [](const TopKEntry& a, const TopKEntry& b) {
            return a.count != b.count ? a.count > b.count : a.adId < b.adId;
        };
        const std::size_t keep = std::min<std::size_t>(k, r.entries.size());
        std::partial_sort(
            r.entries.begin(), r.entries.begin() + static_cast<std::ptrdiff_t>(keep), r.entries.end(), order);
        r.entries.resize(keep);
    }
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
