#pragma once

#include "ingest/ysb_codec.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace adclick::engine {

/// Shape of the generated Yahoo Streaming Benchmark stream.
struct YsbGeneratorConfig {
    std::uint64_t seed = 1;
    std::uint32_t campaigns = 100; ///< YSB: 100 campaigns …
    std::uint32_t adsPerCampaign = 10; ///< … of 10 ads each
    TimeMs startTimeMs = 1'700'000'000'000;
    std::uint64_t eventsPerSecond = 1'000'000; ///< event-time spacing of consecutive events
    TimeMs jitterMs = 500; ///< each event time is moved back by up to this much (out of order)
    double unknownAdFraction = 0.0; ///< share of events naming an ad that is in no campaign
};

/// Deterministic generator of YSB JSON lines, shaped like the benchmark's own generator: random
/// user and page UUIDs, an ad drawn uniformly from the campaigns' ads, ad_type from YSB's five,
/// event_type uniformly view / click / purchase, event_time as a string of milliseconds, an IPv4
/// address. Not thread-safe; use one per thread.
class YsbGenerator {
public:
    explicit YsbGenerator(const YsbGeneratorConfig& config);

    /// The ad → campaign table (campaign indexes 0 … campaigns−1): what YSB keeps in Redis.
    const std::vector<std::pair<YsbUuid, std::uint32_t>>& adCampaigns() const { return m_adCampaigns; }

    /// Appends the next event as one JSON line ending in '\n' to out; returns what it encodes
    /// (for oracles: an unknown ad's id is not in adCampaigns()).
    YsbEvent next(std::string& out);

private:
    std::uint64_t random();
    YsbUuid randomUuid();

    YsbGeneratorConfig m_config;
    std::uint64_t m_state;
    std::uint64_t m_sequence = 0;
    std::vector<std::pair<YsbUuid, std::uint32_t>> m_adCampaigns;
};

} // namespace adclick::engine
