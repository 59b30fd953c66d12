#pragma once

#include "core/click_event.h"
#include "core/string_dictionary.h"

#include <optional>
#include <string>
#include <string_view>

namespace adclick::engine {

/// Maps external ad ids (JSON string or integer) to AdId and back.
/// Decimal ids below kFirstNamedAdId map to themselves with no lookup (the generator's
/// ads, and most real ad servers' ids); other strings are interned. Same thread rules as
/// StringDictionary: intern on the ingest thread, format anywhere.
class AdDictionary {
public:
    /// The AdId for an external id; nullopt if empty, longer than kMaxAdIdLength, or the
    /// dictionary is full.
    std::optional<AdId> intern(std::string_view external);
    /// AdId for a numeric external id; nullopt if it does not fit below kFirstNamedAdId.
    static std::optional<AdId> fromNumber(std::uint64_t n);
    /// Any thread: the external form of an AdId ("42" or the interned string).
    std::string format(AdId id) const;
    /// Any thread: parse a user-supplied ad id for queries (numeric or known name).
    std::optional<AdId> lookup(std::string_view external) const;

    static constexpr std::size_t kMaxAdIdLength = 128;
    /// Any thread: number of named (interned) ads; their ids are kFirstNamedAdId + [0, namedCount()).
    std::uint32_t namedCount() const { return m_names.size(); }

private:
    StringDictionary m_names;
};

} // namespace adclick::engine
