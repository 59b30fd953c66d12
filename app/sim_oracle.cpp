#include "sim_oracle.h"

#include "core/ad_dictionary.h"
#include "core/clock.h"
#include "ingest/user_agent.h"

#include <unordered_set>

namespace adclick::app {

using namespace adclick::engine;

SimOracle SimOracle::compute(const GeneratorConfig& config, std::uint64_t records)
{
    constexpr std::uint64_t kGeneration = 200000;
    SimOracle o;
    VirtualClock clock(config.startTimeMs);
    AdDictionary ads;
    UserAgentDictionary userAgents;
    SyntheticSource source(config, clock, ads, userAgents);
    source.setLimit(records);
    std::unordered_set<std::uint64_t> current;
    std::unordered_set<std::uint64_t> previous;
    current.reserve(kGeneration * 2);
    previous.reserve(kGeneration * 2);
    std::uint64_t inGeneration = 0;
    IngestBatch batch;
    while (true) {
        batch.clear();
        const PollResult r = source.poll(batch, 65536);
        o.records += batch.events.size() + batch.rejected.size();
        o.malformed += batch.rejected.size();
        for (const ClickEvent& e : batch.events) {
            if (e.clickId != 0 && (previous.count(e.clickId) || !current.insert(e.clickId).second)) {
                ++o.duplicates;
                continue;
            }
            if (++inGeneration == kGeneration) {
                previous.swap(current);
                current.clear();
                inGeneration = 0;
            }
            const TimeMs minute = e.eventTimeMs - (((e.eventTimeMs % kMsPerMinute) + kMsPerMinute) % kMsPerMinute);
            ++o.clicks;
            ++o.perAdMinute[{ e.adId, minute }];
            ++o.perMinute[minute];
        }
        if (r == PollResult::EndOfStream)
            break;
    }
    return o;
}

} // namespace adclick::app
