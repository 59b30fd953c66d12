#pragma once

#include "core/time_units.h"

#include <array>
#include <cstdint>
#include <string_view>

namespace adclick::engine {

/// Device class derived from the user agent (see classifyUserAgent()).
enum class DeviceClass : std::uint8_t { Mobile = 0, Tablet = 1, Desktop = 2, Bot = 3, Other = 4 };
inline constexpr int kDeviceClassCount = 5;

std::string_view deviceClassName(DeviceClass d);
/// Parses "mobile", "tablet", "desktop", "bot", "other" (case-insensitive). Returns false otherwise.
bool parseDeviceClass(std::string_view name, DeviceClass& out);

/// Where an event came from: a source partition and the offset inside it (Kafka offset,
/// generator sequence number, file line number). Sources seek back to it on recovery.
struct SourcePosition {
    std::int64_t offset = 0;
    std::uint32_t partition = 0;
};

/// Interned ad identifier. Ad ids that are plain unsigned decimal numbers below
/// kFirstNamedAdId map to themselves; any other ad id string is interned by AdDictionary
/// to an id at or above kFirstNamedAdId.
using AdId = std::uint32_t;
inline constexpr AdId kFirstNamedAdId = 0x80000000u;

/// Two-letter upper-case ISO-3166 alpha-2 code packed into 16 bits ('U' << 8 | 'S').
using CountryCode = std::uint16_t;
constexpr CountryCode packCountry(char a, char b)
{
    return static_cast<CountryCode>((static_cast<unsigned char>(a) << 8) | static_cast<unsigned char>(b));
}

/// One accepted click: a 64-byte fixed-size record, trivially copyable, no heap.
/// ip holds IPv4 as an IPv4-mapped IPv6 address (::ffff:a.b.c.d).
struct alignas(64) ClickEvent {
    TimeMs eventTimeMs = 0; ///< click_timestamp in epoch ms
    std::uint64_t userHash = 0; ///< 64-bit hash of user_id
    std::uint64_t clickId = 0; ///< 64-bit hash of click_id; 0 = no click id
    std::int64_t offset = 0; ///< SourcePosition::offset
    std::array<std::uint8_t, 16> ip {};
    AdId adId = 0;
    std::uint32_t partition = 0; ///< SourcePosition::partition
    std::uint16_t uaId = 0; ///< interned user-agent string (UserAgentDictionary)
    CountryCode country = 0;
    DeviceClass device = DeviceClass::Other;
    std::uint8_t flags = 0; ///< kFlag* bits

    static constexpr std::uint8_t kFlagIpv6 = 1;
    static constexpr std::uint8_t kDispositionShift = 1;
    static constexpr std::uint8_t kDispositionMask = 3 << kDispositionShift;

    bool hasClickId() const { return clickId != 0; }
    bool isIpv6() const { return flags & kFlagIpv6; }
    /// What the speed layer did with the event (kept in the raw log for reconciliation).
    enum class Disposition : std::uint8_t { Counted = 0, LateDropped = 1, LateUpdated = 2, Duplicate = 3 };
    Disposition disposition() const
    {
        return static_cast<Disposition>((flags & kDispositionMask) >> kDispositionShift);
    }
    void setDisposition(Disposition d)
    {
        flags = static_cast<std::uint8_t>(
            (flags & ~kDispositionMask) | (static_cast<std::uint8_t>(d) << kDispositionShift));
    }
    SourcePosition position() const { return { offset, partition }; }
    void setPosition(SourcePosition p)
    {
        offset = p.offset;
        partition = p.partition;
    }
};
static_assert(sizeof(ClickEvent) == 64);

/// Event-time window key dimensions used by the speed layer: (ad, window start, country, device).
struct WindowKey {
    AdId adId = 0;
    TimeMs windowStartMs = 0;
    CountryCode country = 0;
    DeviceClass device = DeviceClass::Other;
    friend bool operator==(const WindowKey&, const WindowKey&) = default;
    friend auto operator<=>(const WindowKey&, const WindowKey&) = default;
};

} // namespace adclick::engine
