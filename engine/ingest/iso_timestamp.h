#pragma once

#include "core/time_units.h"

#include <string_view>

namespace adclick::engine {

/// Parses an ISO-8601 timestamp with a zone into Unix ms: "YYYY-MM-DDTHH:MM:SS[.fraction]" + "Z"
/// or ±hh:mm (also ±hhmm); 'T' may be 't' or a space; the fraction (1–9 digits) is truncated to
/// ms; second 60 (leap) rolls over. False for anything else (also without a zone).
bool parseIsoTimestamp(std::string_view s, TimeMs& out);

} // namespace adclick::engine
