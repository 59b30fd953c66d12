#pragma once

// Deterministic test streams for the sketch tests: a splitmix64 generator and Zipf / uniform key
// streams built from it (bit-identical on every platform, unlike std:: distributions).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace adclick::test {

class SplitMix64 {
public:
    explicit SplitMix64(std::uint64_t seed)
        : m_state(seed)
    {
    }
    std::uint64_t next()
    {
        std::uint64_t z = (m_state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    /// Uniform in [0, 1) with 53 random bits.
    double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    /// Uniform in [0, n), n > 0 (Lemire's multiply-shift; the tiny bias is irrelevant here).
    std::uint64_t below(std::uint64_t n)
    {
        return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
    }

private:
    std::uint64_t m_state;
};

/// The key of rank r (0 = most frequent): scattered over the whole 64-bit range.
inline std::uint64_t keyOfRank(std::uint64_t rank, std::uint64_t salt)
{
    return SplitMix64(rank * 0xD6E8FEB86659FD93ULL + salt).next();
}

/// n keys drawn from `keys` distinct keys; P(rank r) ∝ 1 / (r + 1)^skew (skew 0 = uniform).
inline std::vector<std::uint64_t> zipfStream(
    std::size_t n, std::uint32_t keys, double skew, std::uint64_t seed, std::uint64_t salt = 0)
{
    std::vector<double> cdf(keys);
    double sum = 0;
    for (std::uint32_t r = 0; r < keys; ++r)
        cdf[r] = (sum += skew == 0 ? 1.0 : 1.0 / std::pow(r + 1.0, skew));
    SplitMix64 rng(seed);
    std::vector<std::uint64_t> out(n);
    for (auto& k : out) {
        const double u = rng.unit() * sum;
        const auto r = static_cast<std::uint64_t>(std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
        k = keyOfRank(std::min<std::uint64_t>(r, keys - 1), salt);
    }
    return out;
}

} // namespace adclick::test
