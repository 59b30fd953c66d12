#include "core/time_units.h"

#include <charconv>
#include <cstdio>
#include <ctime>

namespace adclick::engine {

std::optional<TimeMs> parseDurationMs(std::string_view text)
{
    if (text.empty())
        return std::nullopt;
    std::int64_t value = 0;
    const char* begin = text.data();
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(begin, end, value);
    if (ec != std::errc() || ptr == begin || value < 0)
        return std::nullopt;
    const std::string_view unit(ptr, static_cast<std::size_t>(end - ptr));
    TimeMs scale = 0;
    if (unit.empty() || unit == "s")
        scale = kMsPerSecond;
    else if (unit == "ms")
        scale = 1;
    else if (unit == "m" || unit == "min")
        scale = kMsPerMinute;
    else if (unit == "h")
        scale = kMsPerHour;
    else if (unit == "d")
        scale = kMsPerDay;
    else
        return std::nullopt;
    if (value > INT64_MAX / 4 / scale)
        return std::nullopt;
    return value * scale;
}

std::string formatDurationMs(TimeMs ms)
{
    if (ms == 0)
        return "0s";
    std::string out;
    if (ms < 0) {
        out = "-";
        ms = -ms;
    }
    if (ms % kMsPerSecond != 0)
        return out + std::to_string(ms) + "ms";
    const struct {
        TimeMs scale;
        const char* unit;
    } units[] = { { kMsPerDay, "d" }, { kMsPerHour, "h" }, { kMsPerMinute, "m" }, { kMsPerSecond, "s" } };
    for (const auto& u : units) {
        if (ms >= u.scale) {
            out += std::to_string(ms / u.scale) + u.unit;
            ms %= u.scale;
        }
    }
    return out;
}

std::string formatIsoUtc(TimeMs t)
{
    const TimeMs secs = (t >= 0 ? t : t - 999) / 1000;
    const int millis = static_cast<int>(t - secs * 1000);
    const auto tt = static_cast<std::time_t>(secs);
    std::tm tm {};
    gmtime_r(&tt, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
        tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    return buf;
}

} // namespace adclick::engine
