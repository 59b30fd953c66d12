#include "sim_oracle.h"

#include "core/ad_dictionary.h"
#include "core/clock.h"
#include "core/flat_u64_map.h"
#include "ingest/user_agent.h"

#include <algorithm>
#include <vector>

namespace adclick::app {

using namespace adclick::engine;

SimOracle SimOracle::compute(const GeneratorConfig& config, std::uint64_t records, const std::atomic<bool>* cancel)
{
    constexpr std::uint64_t kGeneration = 200000;
    SimOracle o;
    VirtualClock clock(config.startTimeMs);
    AdDictionary ads;
    UserAgentDictionary userAgents;
    SyntheticSource source(config, clock, ads, userAgents);
    source.setLimit(records);
    // Flat hash tables on the per-event path (no allocation per click); sorted maps only at the end.
    FlatU64Map<std::uint8_t> current(kGeneration * 2);
    FlatU64Map<std::uint8_t> previous(kGeneration * 2);
    FlatU64Map<std::uint64_t> cells(1 << 16); // (ad << 32 | epoch minute) → clicks
    std::uint64_t inGeneration = 0;
    IngestBatch batch;
    while (cancel == nullptr || !cancel->load(std::memory_order_relaxed)) {
        batch.clear();
        const PollResult r = source.poll(batch, 65536);
        o.records += batch.events.size() + batch.rejected.size();
        o.malformed += batch.rejected.size();
        for (const ClickEvent& e : batch.events) {
            if (e.clickId != 0) {
                if (previous.contains(e.clickId) || current.contains(e.clickId)) {
                    ++o.duplicates;
                    continue;
                }
                current[e.clickId] = 1;
            }
            if (++inGeneration == kGeneration) {
                std::swap(previous, current);
                current.clear();
                inGeneration = 0;
            }
            const TimeMs minute = e.eventTimeMs - (((e.eventTimeMs % kMsPerMinute) + kMsPerMinute) % kMsPerMinute);
            ++o.clicks;
            ++cells[(static_cast<std::uint64_t>(e.adId) << 32)
                | static_cast<std::uint32_t>(static_cast<std::uint64_t>(minute / kMsPerMinute))];
        }
        if (r == PollResult::EndOfStream)
            break;
    }
    std::vector<std::pair<std::pair<std::uint32_t, std::int64_t>, std::uint64_t>> sorted;
    sorted.reserve(cells.size());
    cells.forEach([&](std::uint64_t key, std::uint64_t clicks) {
        sorted.push_back(
            { { static_cast<std::uint32_t>(key >> 32), static_cast<std::int64_t>(key & 0xffffffffu) * kMsPerMinute },
                clicks });
    });
    std::sort(sorted.begin(), sorted.end());
    for (const auto& [key, clicks] : sorted) {
        o.perAdMinute.emplace_hint(o.perAdMinute.end(), key, clicks);
        o.perMinute[key.second] += clicks;
    }
    return o;
}

} // namespace adclick::app
