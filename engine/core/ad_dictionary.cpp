#include "core/ad_dictionary.h"

#include <charconv>

namespace adclick::engine {

namespace {
std::optional<AdId> parseCanonicalNumber(std::string_view s)
{
    if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0'))
        return std::nullopt;
    std::uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size())
        return std::nullopt;
    return AdDictionary::fromNumber(v);
}
} // namespace

std::optional<AdId> AdDictionary::fromNumber(std::uint64_t n)
{
    if (n >= kFirstNamedAdId)
        return std::nullopt;
    return static_cast<AdId>(n);
}

std::optional<AdId> AdDictionary::intern(std::string_view external)
{
    if (external.empty() || external.size() > kMaxAdIdLength)
        return std::nullopt;
    if (auto n = parseCanonicalNumber(external))
        return n;
    auto id = m_names.intern(external);
    if (!id)
        return std::nullopt;
    return kFirstNamedAdId + *id;
}

std::optional<AdId> AdDictionary::lookup(std::string_view external) const
{
    if (auto n = parseCanonicalNumber(external))
        return n;
    // Readers may not touch the writer's index; scan is acceptable for the rare named lookup.
    const std::uint32_t n = m_names.size();
    for (std::uint32_t i = 0; i < n; ++i)
        if (m_names.name(i) == external)
            return kFirstNamedAdId + i;
    return std::nullopt;
}

std::string AdDictionary::format(AdId id) const
{
    if (id < kFirstNamedAdId)
        return std::to_string(id);
    return std::string(m_names.name(id - kFirstNamedAdId));
}

} // namespace adclick::engine
