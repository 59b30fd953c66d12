#include "cli_args.h"

#include "ingest/iso_timestamp.h"

#include <charconv>

namespace adclick::app {

std::optional<engine::TimeMs> parseInstant(const std::string& s)
{
    engine::TimeMs ms = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), ms);
    if (ec == std::errc() && p == s.data() + s.size())
        return ms;
    if (engine::parseIsoTimestamp(s, ms))
        return ms;
    return std::nullopt;
}

} // namespace adclick::app
