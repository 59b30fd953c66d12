#include "batch/reconciler.h"

#include "batch/reconciler_snapshot.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <unordered_map>

namespace adclick::engine {

GapParts& GapParts::operator+=(const GapParts& o)
{
    speed += o.speed;
    batch += o.batch;
    gap += o.gap;
    late += o.late;
    duplicates += o.duplicates;
    afterRun += o.afterRun;
    unexplained += o.unexplained;
    return *this;
}

namespace {

using reconcile_detail::SpeedRow;
using reconcile_detail::StoreSnapshot;

/// Everything known of one (ad, minute) before the gap is split.
struct Acc {
    std::uint64_t speed = 0;
    std::uint64_t batch = 0;
    std::uint64_t lateDropped = 0;
    std::uint64_t speedDuplicates = 0;
    std::uint64_t speedCounted = 0;
    std::uint64_t afterRun = 0; ///< speed-counted raw records past the covering run's end
    bool speedOpen = false;
};

/// The range cut into stretches with one covering run each (the run with the highest id whose
/// range contains the stretch: its rows are the ones in batch_minute), or none (run = -1).
class Coverage {
public:
    struct Span {
        TimeMs fromMs = 0;
        TimeMs toMs = 0;
        int run = -1; ///< index into the runs given to the constructor
    };

    Coverage(TimeMs fromMs, TimeMs toMs, const std::vector<BatchRunRecord>& runs)
    {
        std::vector<TimeMs> cuts { fromMs, toMs };
        for (const BatchRunRecord& r : runs)
            for (TimeMs t : { r.fromMs, r.toMs })
                if (t > fromMs && t < toMs)
                    cuts.push_back(t);
        std::sort(cuts.begin(), cuts.end());
        cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
        for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
            int run = -1;
            for (int j = static_cast<int>(runs.size()) - 1; j >= 0 && run < 0; --j) // runs are in id order
                if (runs[j].fromMs <= cuts[i] && cuts[i + 1] <= runs[j].toMs)
                    run = j;
            if (!m_spans.empty() && m_spans.back().run == run)
                m_spans.back().toMs = cuts[i + 1];
            else
                m_spans.push_back({ cuts[i], cuts[i + 1], run });
        }
    }
    /// The run covering t (in the range), or -1.
    int runAt(TimeMs t) const
    {
        auto it
            = std::upper_bound(m_spans.begin(), m_spans.end(), t, [](TimeMs x, const Span& s) { return x < s.fromMs; });
        return it == m_spans.begin() ? -1 : std::prev(it)->run;
    }
    const std::vector<Span>& spans() const { return m_spans; }

private:
    std::vector<Span> m_spans;
};

std::uint64_t cellKey(AdId ad, TimeMs minuteMs, TimeMs fromMs)
{
    return (std::uint64_t { ad } << 32) | static_cast<std::uint64_t>((minuteMs - fromMs) / kMsPerMinute);
}

GapParts split(const Acc& a)
{
    GapParts p;
    p.speed = a.speed;
    p.batch = a.batch;
    p.gap = static_cast<std::int64_t>(a.batch) - static_cast<std::int64_t>(a.speed);
    p.late = static_cast<std::int64_t>(a.lateDropped);
    // Records the batch removed as duplicates although the speed layer counted them.
    const std::int64_t batchKeptSpeedCounted = static_cast<std::int64_t>(a.batch)
        - static_cast<std::int64_t>(a.lateDropped) - static_cast<std::int64_t>(a.speedDuplicates);
    const std::int64_t batchRemovedSpeedCounted = static_cast<std::int64_t>(a.speedCounted) - batchKeptSpeedCounted;
    p.duplicates = static_cast<std::int64_t>(a.speedDuplicates) - batchRemovedSpeedCounted;
    p.afterRun = -static_cast<std::int64_t>(a.afterRun);
    p.unexplained = p.gap - p.explained();
    return p;
}

std::uint64_t magnitude(std::int64_t v)
{
    return v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
}

/// Worst first: |unexplained|, then |gap|, descending.
bool worse(const GapParts& a, const GapParts& b)
{
    if (magnitude(a.unexplained) != magnitude(b.unexplained))
        return magnitude(a.unexplained) > magnitude(b.unexplained);
    return magnitude(a.gap) > magnitude(b.gap);
}

bool isSpeedCounted(const ClickEvent& e)
{
    const auto d = e.disposition();
    return d == ClickEvent::Disposition::Counted || d == ClickEvent::Disposition::LateUpdated;
}

/// Speed-counted raw records of covered minutes that their covering run had not read (sequence in
/// [run end, checkpoint end)), added to the cells; and the damage met on the way.
void scanTail(const std::string& rawDirectory, const ReconcileReport& report, const Coverage& coverage,
    std::unordered_map<std::uint64_t, Acc>& cells, std::vector<RawLogDamage>& damage, std::uint64_t& scanned)
{
    std::uint64_t fromSequence = report.rawEnd.nextSequence;
    for (const BatchRunRecord& r : report.runs)
        fromSequence = std::min(fromSequence, r.rawEnd.nextSequence);
    if (fromSequence >= report.rawEnd.nextSequence)
        return;
    RawLogReader reader(rawDirectory);
    reader.setEnd(report.rawEnd);
    const std::uint64_t endSequence = report.rawEnd.nextSequence;
    reader.scanFromSequence(fromSequence, [&](const RawRecord& rec) {
        ++scanned;
        const ClickEvent& e = rec.event;
        if (rec.sequence >= endSequence || !isSpeedCounted(e) || e.eventTimeMs < report.fromMs
            || e.eventTimeMs >= report.toMs)
            return true;
        const TimeMs minute = windowStartOf(e.eventTimeMs, kMsPerMinute);
        const int run = coverage.runAt(minute);
        if (run >= 0 && rec.sequence >= report.runs[static_cast<std::size_t>(run)].rawEnd.nextSequence)
            ++cells[cellKey(e.adId, minute, report.fromMs)].afterRun;
        return true;
    });
    damage.insert(damage.end(), reader.damage().begin(), reader.damage().end());
}

/// Runs that met unreadable blocks record only how many: re-read their part of the range to
/// say which blocks (rare, so the extra read is affordable).
void locateRunDamage(const std::string& rawDirectory, const ReconcileReport& report, std::vector<RawLogDamage>& damage)
{
    for (const BatchRunRecord& r : report.runs) {
        if (r.damagedBlocks == 0)
            continue;
        RawLogReader reader(rawDirectory);
        reader.setEnd(r.rawEnd);
        reader.scan(
            std::max(r.fromMs, report.fromMs), std::min(r.toMs, report.toMs), [](const RawRecord&) { return true; });
        damage.insert(damage.end(), reader.damage().begin(), reader.damage().end());
    }
}

/// Each damaged block once, with the minutes it may hold: its segment's event-time range (the
/// whole range when the segment tells nothing).
std::vector<ReconcileDamage> placeDamage(
    const std::string& rawDirectory, std::vector<RawLogDamage> damage, TimeMs fromMs, TimeMs toMs)
{
    std::vector<ReconcileDamage> out;
    if (damage.empty())
        return out;
    std::sort(damage.begin(), damage.end(), [](const RawLogDamage& a, const RawLogDamage& b) {
        return std::tie(a.path, a.byteOffset) < std::tie(b.path, b.byteOffset);
    });
    damage.erase(std::unique(damage.begin(), damage.end(),
                     [](const RawLogDamage& a, const RawLogDamage& b) {
                         return a.path == b.path && a.byteOffset == b.byteOffset;
                     }),
        damage.end());
    RawLogReader reader(rawDirectory);
    std::map<std::string, RawSegmentInfo> segments;
    for (RawSegmentInfo& s : reader.segments())
        segments.emplace(s.path, std::move(s));
    for (RawLogDamage& d : damage) {
        ReconcileDamage placed { std::move(d), fromMs, toMs };
        if (auto it = segments.find(placed.damage.path); it != segments.end() && it->second.records > 0) {
            placed.fromMs = std::max(fromMs, windowStartOf(it->second.minEventTimeMs, kMsPerMinute));
            placed.toMs = std::min(toMs, windowStartOf(it->second.maxEventTimeMs, kMsPerMinute) + kMsPerMinute);
        }
        if (placed.fromMs < placed.toMs)
            out.push_back(std::move(placed));
    }
    return out;
}

bool damaged(const std::vector<ReconcileDamage>& damage, TimeMs minuteMs)
{
    return std::any_of(damage.begin(), damage.end(),
        [&](const ReconcileDamage& d) { return minuteMs >= d.fromMs && minuteMs < d.toMs; });
}

/// Reads the snapshot into `cells`; false with report.error.
bool readStore(StoreSnapshot& store, ReconcileReport& report, std::unordered_map<std::uint64_t, Acc>& cells,
    std::vector<BatchRunRecord>& allRuns)
{
    std::string& error = report.error;
    const auto checkpoint = store.checkpoint(error);
    if (!error.empty())
        return false;
    if (checkpoint) {
        report.hasCheckpoint = true;
        report.checkpointSequence = checkpoint->sequence;
        report.checkpointProcessingMs = checkpoint->processingTimeMs;
        report.watermarkMs = checkpoint->watermarkMs;
        report.rawEnd = checkpoint->rawEnd;
    }
    const TimeMs cutoff = store.minuteCutoffMs();
    if (report.fromMs < cutoff) {
        report.note = "range starts at " + formatIsoUtc(cutoff) + " instead of " + formatIsoUtc(report.fromMs)
            + ": older minutes are rolled up into hours and days";
        report.fromMs = cutoff;
        if (report.fromMs >= report.toMs) {
            error = "the whole range is older than the minute rollup cutoff " + formatIsoUtc(cutoff);
            return false;
        }
    }
    allRuns = store.runs(report.fromMs, report.toMs, error);
    if (!error.empty())
        return false;
    const TimeMs from = report.fromMs;
    if (!store.forEachSpeedRow(
            from, report.toMs,
            [&](const SpeedRow& r) {
                Acc& a = cells[cellKey(r.adId, windowStartOf(r.windowStartMs, kMsPerMinute), from)];
                a.speed += r.count;
                a.speedOpen = a.speedOpen || !r.final;
            },
            error))
        return false;
    if (!store.forEachBatchCell(
            from, report.toMs,
            [&](const BatchCell& c) {
                Acc& a = cells[cellKey(c.key.adId, windowStartOf(c.key.windowStartMs, kMsPerMinute), from)];
                a.batch += c.count;
                a.lateDropped += c.lateDropped;
                a.speedDuplicates += c.speedDuplicates;
                a.speedCounted += c.speedCounted;
            },
            error))
        return false;
    report.quarantined = store.quarantine(error);
    for (const QuarantineCount& q : report.quarantined)
        report.quarantinedTotal += q.count;
    return error.empty();
}

} // namespace

ReconcileReport reconcile(const std::string& dataDirectory, TimeMs fromMs, TimeMs toMs, const ReconcileOptions& options)
{
    const auto started = std::chrono::steady_clock::now();
    ReconcileReport report;
    report.fromMs = windowStartOf(fromMs, kMsPerMinute);
    report.toMs = windowStartOf(toMs, kMsPerMinute) == toMs ? toMs : windowStartOf(toMs, kMsPerMinute) + kMsPerMinute;
    if (report.fromMs >= report.toMs) {
        report.error = "empty range: from must be before to";
        return report;
    }
    if ((report.toMs - report.fromMs) / kMsPerMinute > std::int64_t { UINT32_MAX }) {
        report.error = "range too long: from and to must lie within 8000 years of each other";
        return report;
    }
    const std::string dbPath = dataDirectory + "/adclick.db";
    if (!std::filesystem::exists(dbPath)) {
        report.error = "no store in " + dataDirectory;
        return report;
    }

    StoreSnapshot store;
    std::unordered_map<std::uint64_t, Acc> cells;
    std::vector<BatchRunRecord> allRuns;
    if (!store.open(dbPath, report.error) || !readStore(store, report, cells, allRuns))
        return report;
    store.endSnapshot();

    // Keep only the runs whose rows are the ones covering some minute; re-index the coverage.
    const Coverage allCoverage(report.fromMs, report.toMs, allRuns);
    std::set<int> used;
    for (const Coverage::Span& s : allCoverage.spans())
        if (s.run >= 0)
            used.insert(s.run);
    for (int i : used)
        report.runs.push_back(allRuns[static_cast<std::size_t>(i)]);
    const Coverage coverage(report.fromMs, report.toMs, report.runs);
    for (const Coverage::Span& s : coverage.spans())
        if (s.run >= 0)
            report.coveredMinutes += static_cast<std::uint64_t>((s.toMs - s.fromMs) / kMsPerMinute);
    for (const BatchRunRecord& r : report.runs)
        if (r.rawEnd.nextSequence > report.rawEnd.nextSequence)
            report.note += std::string(report.note.empty() ? "" : "; ") + "batch run " + std::to_string(r.runId)
                + " read past the checkpoint's raw end (a store restored from an older copy?): its gaps are not "
                  "comparable";

    std::vector<RawLogDamage> rawDamage;
    const std::string rawDirectory = dataDirectory + "/raw";
    if (options.scanRawLog && !report.runs.empty() && report.hasCheckpoint) {
        scanTail(rawDirectory, report, coverage, cells, rawDamage, report.tailRecordsScanned);
        locateRunDamage(rawDirectory, report, rawDamage);
    }
    report.damage = placeDamage(rawDirectory, std::move(rawDamage), report.fromMs, report.toMs);
    if (options.adId) // one ad only: every figure below (totals, minutes, uncovered) is that ad's
        std::erase_if(cells, [ad = *options.adId](const auto& c) { return static_cast<AdId>(c.first >> 32) != ad; });

    // Split every covered cell's gap; sum per ad and per minute.
    struct CellRef {
        AdId adId;
        TimeMs minuteMs;
        GapParts parts;
        int run;
        bool speedOpen;
    };
    std::vector<CellRef> covered;
    covered.reserve(cells.size());
    std::unordered_map<AdId, ReconcileAd> ads;
    std::map<TimeMs, ReconcileMinute> minutes;
    for (const auto& [key, acc] : cells) {
        const AdId ad = static_cast<AdId>(key >> 32);
        const TimeMs minute = report.fromMs + static_cast<TimeMs>(key & 0xFFFFFFFFu) * kMsPerMinute;
        const int run = coverage.runAt(minute);
        ReconcileMinute& m = minutes[minute];
        m.minuteMs = minute;
        ++m.ads;
        m.speedOpen = m.speedOpen || acc.speedOpen;
        if (run < 0) {
            m.parts.speed += acc.speed;
            continue;
        }
        const GapParts parts = split(acc);
        covered.push_back({ ad, minute, parts, run, acc.speedOpen });
        m.parts += parts;
        m.adsUnexplained += parts.unexplained != 0;
        ReconcileAd& a = ads[ad];
        a.adId = ad;
        a.parts += parts;
        ++a.minutes;
        a.minutesUnexplained += parts.unexplained != 0;
        report.totals += parts;
        report.cellsUnexplained += parts.unexplained != 0;
        report.speedOpenCells += acc.speedOpen;
    }
    report.cellCount = covered.size();
    report.adCount = ads.size();

    const std::size_t limit = options.limit == 0 ? SIZE_MAX : options.limit;
    const auto cellOrder = [](const CellRef& a, const CellRef& b) {
        if (worse(a.parts, b.parts) || worse(b.parts, a.parts))
            return worse(a.parts, b.parts);
        return std::tie(a.adId, a.minuteMs) < std::tie(b.adId, b.minuteMs);
    };
    const std::size_t keepCells = std::min(limit, covered.size());
    std::partial_sort(
        covered.begin(), covered.begin() + static_cast<std::ptrdiff_t>(keepCells), covered.end(), cellOrder);
    for (std::size_t i = 0; i < keepCells; ++i) {
        const CellRef& c = covered[i];
        report.worstCells.push_back({ c.adId, store.adName(c.adId), c.minuteMs, c.parts,
            report.runs[static_cast<std::size_t>(c.run)].runId, c.speedOpen, damaged(report.damage, c.minuteMs) });
    }

    std::vector<ReconcileAd> adList;
    adList.reserve(ads.size());
    for (auto& [id, a] : ads) {
        report.adsUnexplained += a.parts.unexplained != 0;
        adList.push_back(std::move(a));
    }
    const std::size_t keepAds = std::min(limit, adList.size());
    std::partial_sort(adList.begin(), adList.begin() + static_cast<std::ptrdiff_t>(keepAds), adList.end(),
        [](const ReconcileAd& a, const ReconcileAd& b) {
            if (worse(a.parts, b.parts) || worse(b.parts, a.parts))
                return worse(a.parts, b.parts);
            return a.adId < b.adId;
        });
    adList.resize(keepAds);
    for (ReconcileAd& a : adList)
        a.adName = store.adName(a.adId);
    report.worstAds = std::move(adList);

    for (auto& [start, m] : minutes) {
        const int run = coverage.runAt(start);
        m.covered = run >= 0;
        m.runId = m.covered ? report.runs[static_cast<std::size_t>(run)].runId : 0;
        m.rawDamage = damaged(report.damage, start);
        report.minutes.push_back(m);
    }
    for (const Coverage::Span& s : coverage.spans()) {
        if (s.run >= 0)
            continue;
        UncoveredSpan u { s.fromMs, s.toMs, 0, 0 };
        for (auto it = minutes.lower_bound(s.fromMs); it != minutes.end() && it->first < s.toMs; ++it) {
            u.speed += it->second.parts.speed;
            u.cells += it->second.ads;
        }
        report.uncoveredSpeed += u.speed;
        report.uncovered.push_back(u);
    }
    report.ok = true;
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return report;
}

} // namespace adclick::engine
