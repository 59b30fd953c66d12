#pragma once

#include "core/time_units.h"

#include <optional>
#include <string>

namespace adclick::app {

/// A point in time on the command line: epoch milliseconds ("1767225600000") or ISO-8601 with a
/// zone ("2026-01-01T00:00:00Z", "2026-01-01T01:00:00+01:00").
std::optional<engine::TimeMs> parseInstant(const std::string& text);

} // namespace adclick::app
