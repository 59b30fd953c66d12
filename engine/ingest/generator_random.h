#pragma once

#include "core/hash.h"

#include <cstdint>

// Random primitives of the synthetic generator. Random words are pure functions of the
// record: every independent choice of a record draws from its own stream (see GeneratorModel).

namespace adclick::engine {

inline constexpr std::uint64_t kPhi = 0x9E3779B97F4A7C15ULL;
inline constexpr std::uint64_t kStreamStep = 0xD6E8FEB86659FD93ULL;

constexpr std::uint64_t streamOf(std::uint64_t recordHash, std::uint64_t stream)
{
    return mix64(recordHash + stream * kStreamStep);
}

// Uniform double in [0, 1) from the top 53 bits.
constexpr double unitOf(std::uint64_t r)
{
    return static_cast<double>(r >> 11) * 0x1.0p-53;
}

// Uniform integer in [0, n) from 32 random bits (Lemire's multiply-shift; bias ≤ n / 2^32).
constexpr std::uint32_t below32(std::uint32_t bits, std::uint32_t n)
{
    return static_cast<std::uint32_t>((std::uint64_t { bits } * n) >> 32);
}

} // namespace adclick::engine
