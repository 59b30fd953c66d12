#pragma once

#include "core/click_event.h"
#include "core/time_units.h"

#include <cstdint>
#include <string_view>

namespace adclick::engine {

/// What happens to an event whose window is already final (watermark past end + lateness).
enum class LatePolicy : std::uint8_t {
    Drop, ///< count it as late-dropped (it stays in the raw log for the batch layer)
    Update, ///< add it to the window and re-emit the corrected absolute count
};
std::string_view latePolicyName(LatePolicy p);
bool parseLatePolicy(std::string_view text, LatePolicy& out);

/// Tumbling event-time window settings of the speed layer.
struct WindowConfig {
    TimeMs windowMs = kMsPerMinute;
    TimeMs allowedLatenessMs = 0;
    LatePolicy latePolicy = LatePolicy::Drop;
    /// Update policy only: how long (watermark progress past end + lateness) a final window
    /// is kept for corrections; later events are dropped as late.
    TimeMs updateRetentionMs = 10 * kMsPerMinute;
};

/// Absolute count of one (ad, window, country, device) cell as emitted by the speed layer.
/// Revision 0 is the first (final) emission; higher revisions are late-update corrections.
/// Consumers UPSERT the absolute count, so re-emission is idempotent.
struct WindowResult {
    WindowKey key;
    std::uint64_t count = 0; ///< events counted, including late updates
    std::uint64_t lateUpdated = 0; ///< of which arrived after the window was final
    std::uint32_t revision = 0;
};

/// Late-dropped events per cell since the previous drain (a delta, not absolute).
struct LateDropDelta {
    WindowKey key;
    std::uint64_t count = 0;
};

/// One window start across all ads, emitted when it becomes final.
struct WindowSummary {
    TimeMs windowStartMs = 0;
    std::uint64_t counted = 0; ///< events counted at finalisation
    std::uint64_t cells = 0; ///< distinct (ad, country, device)
    std::uint64_t ads = 0; ///< distinct ads
    std::uint64_t lateDropped = 0; ///< late events dropped before finalisation (more may follow)
};

/// Packs (ad, country, device) into a non-zero 64-bit key and back.
constexpr std::uint64_t packCellKey(AdId ad, CountryCode country, DeviceClass device)
{
    return (static_cast<std::uint64_t>(ad) << 24) | (static_cast<std::uint64_t>(country) << 8)
        | (static_cast<std::uint64_t>(device) << 1) | 1u;
}
constexpr AdId cellAd(std::uint64_t key)
{
    return static_cast<AdId>(key >> 24);
}
constexpr CountryCode cellCountry(std::uint64_t key)
{
    return static_cast<CountryCode>((key >> 8) & 0xFFFF);
}
constexpr DeviceClass cellDevice(std::uint64_t key)
{
    return static_cast<DeviceClass>((key >> 1) & 0x7);
}

/// Shard owning an ad: all events of one ad go to one shard, so per-shard top-K and
/// windows are disjoint and merge exactly.
inline std::uint32_t shardOfAd(AdId ad, std::uint32_t shards)
{
    return shards <= 1
        ? 0
        : static_cast<std::uint32_t>((static_cast<std::uint64_t>(ad) * 0x9E3779B97F4A7C15ULL >> 32) % shards);
}

} // namespace adclick::engine
