#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace adclick::engine {

/// Milliseconds since the Unix epoch (event time or processing time). Signed so that
/// "minus infinity" (an unset watermark) and differences are representable.
using TimeMs = std::int64_t;

inline constexpr TimeMs kMinTimeMs = INT64_MIN / 4; ///< "no watermark yet"; far from overflow when subtracting.
inline constexpr TimeMs kMsPerSecond = 1000;
inline constexpr TimeMs kMsPerMinute = 60 * kMsPerSecond;
inline constexpr TimeMs kMsPerHour = 60 * kMsPerMinute;
inline constexpr TimeMs kMsPerDay = 24 * kMsPerHour;

/// Start of the window of size windowMs that contains t (floor division, correct for negative t).
constexpr TimeMs windowStartOf(TimeMs t, TimeMs windowMs)
{
    const TimeMs q = t / windowMs;
    return (t % windowMs < 0 ? q - 1 : q) * windowMs;
}

/// Parses a duration such as "250ms", "10s", "2m", "1h", "7d" or a bare number of
/// seconds ("90"). Returns nullopt for anything else (negative, overflow, unknown unit).
std::optional<TimeMs> parseDurationMs(std::string_view text);

/// Formats a duration compactly ("2m", "1500ms", "1h30m").
std::string formatDurationMs(TimeMs ms);

/// Formats an epoch-ms instant as ISO-8601 UTC with milliseconds ("2026-11-28T06:00:00.000Z").
std::string formatIsoUtc(TimeMs t);

} // namespace adclick::engine
