#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace adclick::engine {

/// 16-byte address; IPv4 is stored IPv4-mapped (::ffff:a.b.c.d).
using IpBytes = std::array<std::uint8_t, 16>;

/// Parses dotted-quad IPv4 (no leading zeros beyond "0", each octet ≤ 255) or RFC 4291 IPv6
/// text (with "::" compression and an optional embedded IPv4 tail; no zone ids).
/// Sets isV6 for IPv6 text. Returns false for anything else. Never throws, never allocates.
bool parseIp(std::string_view text, IpBytes& out, bool& isV6);

/// Canonical text: dotted quad for IPv4-mapped addresses, RFC 5952 for IPv6.
std::string formatIp(const IpBytes& ip);

/// An address prefix ("10.0.0.0/8", "2001:db8::/32", or a plain address = /32 or /128).
struct IpPrefix {
    IpBytes base {};
    int prefixBits = 128; ///< in the 128-bit space (IPv4 /8 is stored as 96 + 8)
    bool contains(const IpBytes& ip) const;
    static std::optional<IpPrefix> parse(std::string_view text);
};

} // namespace adclick::engine
