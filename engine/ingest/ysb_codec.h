#pragma once

#include "core/time_units.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace adclick::engine {

/// A 128-bit UUID as the Yahoo Streaming Benchmark writes them (8-4-4-4-12 hex digits).
struct YsbUuid {
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;
    friend bool operator==(const YsbUuid&, const YsbUuid&) = default;
    friend auto operator<=>(const YsbUuid&, const YsbUuid&) = default;
};

/// YSB's event types; anything else is Other (kept, then filtered out like click and purchase).
enum class YsbEventType : std::uint8_t { View, Click, Purchase, Other };

/// The fields of a YSB event the benchmark query needs (user_id, page_id, ad_type and
/// ip_address are checked for JSON shape only).
struct YsbEvent {
    YsbUuid adId;
    TimeMs eventTimeMs = 0;
    YsbEventType type = YsbEventType::Other;
};

/// Why a line was refused.
enum class YsbParseResult : std::uint8_t {
    Ok,
    NotJson, ///< not one flat JSON object of string / number / literal values
    MissingField, ///< ad_id, event_type or event_time absent
    BadAdId, ///< ad_id is not a canonical UUID string
    BadEventTime, ///< event_time is not a non-negative integer of milliseconds (string or number)
};

/// Decoder of the Yahoo Streaming Benchmark's JSON events:
/// `{"user_id","page_id","ad_id","ad_type","event_type","event_time","ip_address"}`, keys in any
/// order, any JSON whitespace, event_time in integer milliseconds as a string (YSB's generator) or
/// a number. Stateless and thread-safe; allocates nothing.
class YsbCodec {
public:
    /// Decodes one line (without its newline) into out; out is unspecified unless Ok.
    static YsbParseResult parse(std::string_view line, YsbEvent& out);
    /// Parses a canonical UUID (36 characters, hex digits in either case, dashes at 8, 13, 18, 23).
    static bool parseUuid(std::string_view text, YsbUuid& out);
    /// The canonical lower-case text of a UUID.
    static std::string formatUuid(const YsbUuid& id);
    /// The event type of a decoded event_type string.
    static YsbEventType eventTypeOf(std::string_view text);
    /// The JSON name of an event type ("view", "click", "purchase"; Other → "other").
    static std::string_view nameOf(YsbEventType type);
};

} // namespace adclick::engine
