#pragma once

// Brute-force reference for the speed layer: replays events in arrival order with plain
// std::map / std::set and the rules of DESIGN.md, with none of the engine's data structures.
// Tests compare every engine result against it.

#include "core/click_event.h"
#include "pipeline/pipeline.h"
#include "window/window_types.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

namespace adclick::test {

using namespace adclick::engine;

struct OracleCell {
    std::uint64_t count = 0;
    std::uint64_t lateUpdated = 0;
    friend bool operator==(const OracleCell&, const OracleCell&) = default;
};

struct OracleResult {
    std::map<WindowKey, OracleCell> cells;
    std::map<WindowKey, std::uint64_t> lateDrops;
    std::uint64_t duplicates = 0;
    std::uint64_t lateDropped = 0;
    std::uint64_t lateUpdated = 0;
    std::uint64_t counted = 0;
    std::vector<ClickEvent::Disposition> dispositions; ///< per input event
    TimeMs watermarkMs = kMinTimeMs; ///< after the last event
};

/// Exact counts for `events` (arrival order) under the pipeline's rules. No idleness:
/// the watermark is max(previous, min over all partitions of max event time − bound);
/// de-duplication remembers every click id (use a horizon longer than the data).
inline OracleResult runOracle(
    const std::vector<ClickEvent>& events, const PipelineConfig& cfg, std::uint32_t partitions)
{
    OracleResult r;
    std::vector<TimeMs> maxTime(partitions, kMinTimeMs);
    TimeMs wm = kMinTimeMs;
    std::set<std::uint64_t> seen;
    const TimeMs w = cfg.window.windowMs;
    for (const ClickEvent& e : events) {
        if (cfg.deduplicate && e.clickId != 0 && !seen.insert(e.clickId).second) {
            ++r.duplicates;
            r.dispositions.push_back(ClickEvent::Disposition::Duplicate);
            continue;
        }
        TimeMs start = e.eventTimeMs - ((e.eventTimeMs % w) + w) % w;
        const WindowKey key { e.adId, start, e.country, e.device };
        const TimeMs closesAt = start + w + cfg.window.allowedLatenessMs;
        if (closesAt > wm) {
            ++r.cells[key].count;
            ++r.counted;
            r.dispositions.push_back(ClickEvent::Disposition::Counted);
        } else if (cfg.window.latePolicy == LatePolicy::Update && closesAt + cfg.window.updateRetentionMs > wm) {
            ++r.cells[key].count;
            ++r.cells[key].lateUpdated;
            ++r.counted;
            ++r.lateUpdated;
            r.dispositions.push_back(ClickEvent::Disposition::LateUpdated);
        } else {
            ++r.lateDrops[key];
            ++r.lateDropped;
            r.dispositions.push_back(ClickEvent::Disposition::LateDropped);
        }
        maxTime[e.partition] = std::max(maxTime[e.partition], e.eventTimeMs);
        TimeMs minWm = INT64_MAX;
        for (TimeMs m : maxTime)
            minWm = std::min(minWm, m == kMinTimeMs ? kMinTimeMs : m - cfg.watermark.boundMs);
        wm = std::max(wm, minWm);
    }
    r.watermarkMs = wm;
    return r;
}

/// Collects everything a pipeline emits, applying results as UPSERTs of absolute counts.
/// A pipeline for streams without late events: 30 s watermark bound, no idleness, no future cut,
/// snapshots left to the test.
inline PipelineConfig inOrderPipelineConfig()
{
    PipelineConfig c;
    c.watermark.boundMs = 30 * kMsPerSecond;
    c.watermark.idleTimeoutMs = 0;
    c.maxFutureMs = 0;
    c.snapshotIntervalMs = 1000000;
    return c;
}

class CollectingSink : public PipelineSink {
public:
    std::map<WindowKey, OracleCell> cells;
    std::map<WindowKey, std::uint64_t> lateDrops;
    std::map<WindowKey, int> emissions; ///< how often each cell was emitted
    std::vector<WindowSummary> summaries;
    std::uint64_t batchEvents = 0;
    std::uint64_t batchRejected = 0;

    void onBatch(const IngestBatch& b) override
    {
        batchEvents += b.events.size();
        batchRejected += b.rejected.size();
    }
    void onResults(std::span<const WindowResult> results, std::span<const LateDropDelta> drops,
        std::span<const WindowSummary> sums) override
    {
        for (const auto& x : results) {
            cells[x.key] = { x.count, x.lateUpdated };
            ++emissions[x.key];
        }
        for (const auto& d : drops)
            lateDrops[d.key] += d.count;
        summaries.insert(summaries.end(), sums.begin(), sums.end());
    }
};

} // namespace adclick::test
