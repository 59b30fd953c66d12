#pragma once

#include "core/flat_u64_map.h"
#include "ingest/ysb_codec.h"

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace adclick::engine {

/// One result row of the YSB query: views of a campaign's ads in one event-time window.
struct YsbWindowCount {
    std::uint32_t campaign = 0;
    TimeMs windowStartMs = 0;
    std::uint64_t views = 0;
    friend bool operator==(const YsbWindowCount&, const YsbWindowCount&) = default;
};

/// What happened to the lines given to a YsbCampaignCounter.
struct YsbCounters {
    std::uint64_t lines = 0; ///< non-empty lines seen
    std::uint64_t rejected = 0; ///< lines YsbCodec refused (counted, never thrown away silently)
    std::uint64_t filtered = 0; ///< valid events whose event_type is not "view"
    std::uint64_t unknownAd = 0; ///< views of an ad in no campaign (the join finds nothing)
    std::uint64_t counted = 0; ///< views counted into a campaign window
};

/// The Yahoo Streaming Benchmark query as one stage: decode the JSON line, keep
/// event_type == "view", join ad_id → campaign (a fixed table, YSB's Redis lookup), count per
/// campaign per tumbling event-time window (YSB: 10 s). Counts are exact and independent of how
/// the lines are split into batches. One instance per thread; merge() combines instances.
/// Allocation only when the count table grows (a new window); nothing locks.
class YsbCampaignCounter {
public:
    /// campaigns: ad id → campaign index (< 2^20); windowMs > 0.
    explicit YsbCampaignCounter(const std::vector<std::pair<YsbUuid, std::uint32_t>>& campaigns,
        TimeMs windowMs = 10 * kMsPerSecond);

    /// Processes one line (no newline). Returns the decoder's verdict.
    YsbParseResult add(std::string_view line);
    /// Processes newline-separated lines; a last line without a newline is processed too.
    void addLines(std::string_view text);
    /// Adds another counter's counts and counters (same window size).
    void merge(const YsbCampaignCounter& other);

    /// Views of campaign in the window starting at windowStartMs (0 when none).
    std::uint64_t views(std::uint32_t campaign, TimeMs windowStartMs) const;
    /// Every non-empty (campaign, window) count, sorted by campaign, then window start.
    std::vector<YsbWindowCount> results() const;
    const YsbCounters& counters() const { return m_counters; }
    TimeMs windowMs() const { return m_windowMs; }

private:
    struct JoinSlot {
        YsbUuid ad;
        std::uint32_t campaignPlusOne = 0; // 0 = empty slot
    };
    const JoinSlot* lookup(const YsbUuid& ad) const;
    static std::uint64_t hashOf(const YsbUuid& ad);
    std::uint64_t keyOf(std::uint32_t campaign, TimeMs windowStartMs) const;

    TimeMs m_windowMs;
    std::vector<JoinSlot> m_join; // open addressing, power-of-two size, load ≤ 1/2
    std::uint64_t m_joinMask = 0;
    FlatU64Map<std::uint64_t> m_counts; // key: window index << 20 | (campaign + 1)
    YsbCounters m_counters;
};

} // namespace adclick::engine
