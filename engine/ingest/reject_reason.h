#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace adclick::engine {

/// Why an input record was not accepted. Every rejection is counted per reason and kept
/// (with its original bytes) in quarantine; none is silently dropped.
enum class RejectReason : std::uint8_t {
    NotJson = 0, ///< not parseable JSON, or not a JSON object
    MissingField, ///< a required field is absent
    WrongType, ///< a field has the wrong JSON type
    TimestampOutOfRange, ///< click_timestamp outside the sane range
    BadTimestamp, ///< unparseable timestamp string
    BadIp, ///< ip is not an IPv4/IPv6 address
    BadCountry, ///< country is not a known ISO-3166 alpha-2 code
    BadAdId, ///< ad_id empty, too long, or negative
    BadUserId, ///< user_id empty or too long
    TooLarge, ///< message longer than the maximum size
    DictionaryFull, ///< too many distinct ad ids / user agents
};
inline constexpr int kRejectReasonCount = 11;

std::string_view rejectReasonName(RejectReason r);

/// Per-reason counters. Plain (not atomic): owned by one thread, copied into snapshots.
struct RejectCounters {
    std::array<std::uint64_t, kRejectReasonCount> byReason {};
    void add(RejectReason r, std::uint64_t n = 1) { byReason[static_cast<int>(r)] += n; }
    std::uint64_t total() const
    {
        std::uint64_t t = 0;
        for (auto v : byReason)
            t += v;
        return t;
    }
    std::uint64_t operator[](RejectReason r) const { return byReason[static_cast<int>(r)]; }
    RejectCounters& operator+=(const RejectCounters& o)
    {
        for (int i = 0; i < kRejectReasonCount; ++i)
            byReason[i] += o.byReason[i];
        return *this;
    }
};

} // namespace adclick::engine
