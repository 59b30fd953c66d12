#pragma once

#include "core/click_event.h"

#include <string>
#include <string_view>

namespace adclick::engine {

/// True for the officially assigned ISO-3166-1 alpha-2 codes (upper case), plus "XX"
/// (unknown, as CDNs report it). O(1) table lookup.
bool isKnownCountry(CountryCode code);
/// Parses two letters, case-insensitive, into a known CountryCode; false otherwise.
bool parseCountry(std::string_view text, CountryCode& out);
std::string formatCountry(CountryCode code);

} // namespace adclick::engine
