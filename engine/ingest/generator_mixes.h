#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

// The fixed mixes of the synthetic generator: countries, user agents and IPv6 prefixes.

namespace adclick::engine {

// Weights in per mille (each table sums to 1000).
struct CountryWeight {
    char code[3];
    std::uint16_t perMille;
};
inline constexpr std::array<CountryWeight, 31> kCountries = { {
    { "US", 300 },
    { "IN", 100 },
    { "GB", 70 },
    { "DE", 55 },
    { "BR", 50 },
    { "JP", 45 },
    { "FR", 40 },
    { "CA", 35 },
    { "MX", 30 },
    { "ID", 30 },
    { "IT", 25 },
    { "ES", 22 },
    { "AU", 20 },
    { "KR", 26 },
    { "NL", 15 },
    { "TR", 15 },
    { "PL", 12 },
    { "PH", 12 },
    { "VN", 11 },
    { "SE", 10 },
    { "NG", 10 },
    { "EG", 9 },
    { "ZA", 8 },
    { "AR", 8 },
    { "CO", 7 },
    { "SA", 7 },
    { "AE", 6 },
    { "CH", 6 },
    { "BE", 6 },
    { "SG", 5 },
    { "XX", 5 },
} };

struct UserAgentWeight {
    std::string_view text;
    std::uint16_t perMille;
};
inline constexpr std::array<UserAgentWeight, 13> kUserAgents = { {
    { "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
      "Version/17.2 Mobile/15E148 Safari/604.1",
        220 },
    { "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 "
      "Mobile Safari/537.36",
        200 },
    { "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
      "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
        80 },
    { "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
      "Safari/537.36",
        35 },
    { "Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 "
      "Mobile/15E148 Safari/604.1",
        45 },
    { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
      "Safari/537.36",
        200 },
    { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
      "Safari/537.36 Edg/120.0.2210.91",
        60 },
    { "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 "
      "Safari/605.1.15",
        80 },
    { "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", 30 },
    { "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
      "Safari/537.36",
        15 },
    { "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 20 },
    { "curl/8.4.0", 5 },
    { "Roku/DVP-12.5 (12.5.0.4174-C2)", 10 },
} };

template <typename T, std::size_t N> constexpr int sumPerMille(const std::array<T, N>& table)
{
    int sum = 0;
    for (const T& t : table)
        sum += t.perMille;
    return sum;
}
static_assert(sumPerMille(kCountries) == 1000);
static_assert(sumPerMille(kUserAgents) == 1000);

// Realistic IPv6 /32 prefixes of large access networks, as their first four bytes (first byte
// least significant).
constexpr std::uint64_t prefix32(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d)
{
    return std::uint64_t { a } | std::uint64_t { b } << 8 | std::uint64_t { c } << 16 | std::uint64_t { d } << 24;
}
inline constexpr std::array<std::uint64_t, 8> kIpv6Prefixes = {
    prefix32(0x26, 0x00, 0x17, 0x00), // 2600:1700::/32 (AT&T)
    prefix32(0x26, 0x01, 0x02, 0x8a), // 2601:28a::/32 (Comcast)
    prefix32(0x2a, 0x02, 0x08, 0x10), // 2a02:810::/32 (Vodafone DE)
    prefix32(0x24, 0x09, 0x40, 0x40), // 2409:4040::/32 (Jio)
    prefix32(0x2a, 0x01, 0x0e, 0x0a), // 2a01:e0a::/32 (Free)
    prefix32(0x28, 0x04, 0x01, 0x4c), // 2804:14c::/32 (Brazil)
    prefix32(0x24, 0x0d, 0x00, 0x1a), // 240d:1a::/32 (SoftBank)
    prefix32(0x26, 0x07, 0xfb, 0x90), // 2607:fb90::/32 (T-Mobile US)
};

// Per-mille lookup: index of the entry covering each of the 1000 slots.
template <typename T, std::size_t N> std::array<std::uint8_t, 1000> perMilleTable(const std::array<T, N>& table)
{
    std::array<std::uint8_t, 1000> out {};
    std::size_t slot = 0;
    for (std::size_t i = 0; i < N; ++i)
        for (int k = 0; k < table[i].perMille; ++k)
            out[slot++] = static_cast<std::uint8_t>(i);
    return out;
}

} // namespace adclick::engine
