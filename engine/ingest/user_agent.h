#pragma once

#include "core/click_event.h"
#include "core/string_dictionary.h"

#include <cstdint>
#include <string_view>

namespace adclick::engine {

/// Device class of a user-agent string: bots/crawlers/spiders → Bot; iPad, Android without
/// "Mobile", "Tablet" → Tablet; iPhone, Android+Mobile, "Mobile" → Mobile; Windows, Macintosh,
/// X11, Linux, CrOS → Desktop; anything else (incl. empty) → Other. Case-insensitive; O(length).
DeviceClass classifyUserAgent(std::string_view userAgent);

/// Interned user-agent strings (ClickEvent::uaId). Ids 0 … 65534; when full, new strings get
/// kOverflowId ("other user agents"): the event is kept, only its raw UA text is lost.
/// Thread rules as StringDictionary: intern on one ingest thread, name() from any thread.
class UserAgentDictionary {
public:
    static constexpr std::uint16_t kOverflowId = 0xFFFF;
    std::uint16_t intern(std::string_view userAgent);
    std::string_view name(std::uint16_t id) const;
    std::uint32_t size() const { return m_names.size(); }

private:
    StringDictionary m_names;
};

} // namespace adclick::engine
