#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace adclick::engine {

/// 64-bit finaliser (splitmix64 / Murmur3 fmix): a bijection with good avalanche.
constexpr std::uint64_t mix64(std::uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/// Stable 64-bit hash of a byte string (FNV-1a over 8-byte words, then mixed). Stable across
/// runs and builds: it is persisted (user hash, click id) and used to partition shards.
inline std::uint64_t hashBytes(std::string_view s, std::uint64_t seed = 0x9E3779B97F4A7C15ULL)
{
    std::uint64_t h = seed ^ (s.size() * 0xff51afd7ed558ccdULL);
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        std::uint64_t w;
        std::memcpy(&w, s.data() + i, 8);
        h = mix64(h ^ w) * 0x100000001b3ULL;
    }
    std::uint64_t tail = 0;
    std::memcpy(&tail, s.data() + i, s.size() - i);
    return mix64(h ^ tail ^ (s.size() << 56));
}

} // namespace adclick::engine
