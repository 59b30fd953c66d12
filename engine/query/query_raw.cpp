// QueryService, raw-log path: filters the rows cannot answer (IP address or prefix, user-agent
// text) are an exact recount of the raw log (batch/batch_counter.h) over the query range, bounded
// by the raw end of the checkpoint read in one transaction.

#include "query/query_service_impl.h"

#include "batch/batch_counter.h"

#include <algorithm>

namespace adclick::engine {

using namespace querydetail;

namespace {

constexpr std::size_t kMaxDamageListed = 20;

} // namespace

CountResult QueryService::Impl::countRaw(
    AdId ad, TimeMs fromMs, TimeMs toMs, const ParsedFilters& f, CountResult r, std::vector<BatchCell>* cells) const
{
    const TimeMs w = options.windowMs;
    StoreView view;
    {
        Lease lease(*this);
        if (!lease.get()) {
            r.status = lease.failure().status;
            r.error = lease.failure().message;
            return r;
        }
        SqliteTransaction tx(lease.get()->db, SqliteTransaction::Mode::Deferred);
        SqliteStatus s = tx.status();
        if (s.ok())
            s = readView(*lease.get(), view);
        if (s.ok())
            s = tx.commit();
        if (!s.ok()) {
            lease.markBroken();
            r.status = QueryStatus::Failed;
            r.error = "reading " + databasePath + " failed: " + s.message;
            return r;
        }
    } // the connection goes back to the pool before the (long) scan

    r.path = CountPath::RawLog;
    r.exact = true;
    r.checkpoint = view.checkpoint;
    r.fromMs = floorTo(fromMs, w);
    r.toMs = ceilTo(toMs, w);
    RawScanSummary scan;
    scan.rawEndSequence = view.rawEnd.nextSequence;
    if (!view.checkpoint.present) {
        r.provenance.openWindows = windowsIn(r.fromMs, r.toMs, w);
        r.partial = true;
        r.raw = scan;
        r.notes.emplace_back("no checkpoint has been committed yet: the raw log holds no committed record");
        return r;
    }

    // What the log still holds: older segments may have gone to raw-log retention.
    RawLogReader reader(rawDirectory);
    const std::vector<RawSegmentInfo> segments = reader.segments();
    TimeMs minMs = 0;
    TimeMs maxMs = -1;
    bool any = false;
    for (const RawSegmentInfo& seg : segments) {
        if (seg.records == 0)
            continue;
        minMs = any ? std::min(minMs, seg.minEventTimeMs) : seg.minEventTimeMs;
        maxMs = any ? std::max(maxMs, seg.maxEventTimeMs) : seg.maxEventTimeMs;
        any = true;
    }
    const bool truncated = (!segments.empty() && segments.front().firstSequence > 0)
        || (segments.empty() && view.rawEnd.nextSequence > 0);
    TimeMs missingEnd = r.fromMs;
    if (truncated) {
        scan.rawStartMs = any ? minMs : r.toMs;
        missingEnd = std::clamp(floorTo(scan.rawStartMs, w), r.fromMs, r.toMs);
        if (missingEnd > r.fromMs)
            r.notes.push_back("the raw log starts at " + timeText(scan.rawStartMs)
                + " (older segments were deleted by raw-log retention): the "
                + std::to_string(windowsIn(r.fromMs, missingEnd, w)) + " windows before it could not be scanned");
    }
    const TimeMs openBegin = std::clamp(closedBefore(view), missingEnd, r.toMs);
    r.provenance.missingWindows = windowsIn(r.fromMs, missingEnd, w);
    r.fromMs = missingEnd; // the effective range is what the log could answer
    r.provenance.rawLogWindows = windowsIn(missingEnd, openBegin, w);
    r.provenance.openWindows = windowsIn(openBegin, r.toMs, w);
    r.partial = r.provenance.openWindows > 0;

    // Only the windows the log can hold are walked (a range of years would be many slices).
    const TimeMs scanFrom = any ? std::max(r.fromMs, floorTo(minMs, w)) : r.toMs;
    const TimeMs scanTo = any ? std::min(r.toMs, ceilTo(maxMs + 1, w)) : r.toMs;
    if (scanFrom < scanTo) {
        BatchCountOptions o;
        o.fromMs = scanFrom;
        o.toMs = scanTo;
        o.windowMs = w;
        o.threads = options.rawScanThreads;
        o.deduplicate = true;
        o.end = view.rawEnd;
        o.filter.adId = ad;
        o.filter.country = f.country;
        o.filter.device = f.device;
        o.filter.ip = f.ip;
        o.filter.userAgentContains = f.userAgentContains;
        const BatchCountResult counted = countRawLog(rawDirectory, o);
        if (!counted.ok()) {
            r.status = QueryStatus::Failed;
            r.error = "raw log recount failed: " + counted.error;
            return r;
        }
        r.total = totalCount(counted);
        if (cells)
            *cells = counted.cells;
        scan.recordsRead = counted.recordsRead;
        scan.recordsMatched = counted.recordsInRange;
        scan.duplicates = counted.duplicates;
        scan.lateDropped = counted.lateDropped;
        scan.segmentsRead = counted.segmentsRead;
        scan.segmentsSkipped = counted.segmentsSkipped;
        scan.blocksRead = counted.blocksRead;
        scan.blocksSkipped = counted.blocksSkipped;
        scan.bytesRead = counted.bytesRead;
        scan.damagedBlocks = counted.damage.size();
        for (std::size_t i = 0; i < counted.damage.size() && i < kMaxDamageListed; ++i) {
            const RawLogDamage& d = counted.damage[i];
            scan.damage.push_back(d.path + "@" + std::to_string(d.byteOffset) + ": " + d.reason);
        }
        scan.threads = counted.threads;
        scan.seconds = counted.seconds;
    }
    r.notes.push_back("exact recount of the raw log up to checkpoint " + std::to_string(view.checkpoint.sequence)
        + " (raw records before sequence " + std::to_string(view.rawEnd.nextSequence) + "), click ids de-duplicated; "
        + "it includes late events the speed layer dropped (" + std::to_string(scan.lateDropped) + " here)");
    r.notes.push_back("scanned " + std::to_string(scan.recordsRead) + " records in " + std::to_string(scan.blocksRead)
        + " blocks; skipped " + std::to_string(scan.blocksSkipped) + " blocks and "
        + std::to_string(scan.segmentsSkipped) + " segments outside the range");
    if (scan.damagedBlocks > 0)
        r.notes.push_back(std::to_string(scan.damagedBlocks)
            + " damaged parts of the raw log could not be read: their records are not counted");
    if (r.partial)
        r.notes.push_back(std::to_string(r.provenance.openWindows)
            + " windows are not final yet (watermark + allowed lateness): later events may still arrive");
    r.raw = std::move(scan);
    return r;
}

} // namespace adclick::engine
