#pragma once

#include "ingest/generator_random.h"

#include <cmath>
#include <cstdint>
#include <vector>

namespace adclick::engine {

// Zipf(s) over ranks 1 … n, exact, O(1) per draw with a small fixed table:
// - the head (ranks 1 … K, K ≤ 4096) and "the tail" as one more outcome form a Walker alias
//   table (32 KiB), so most draws cost one random word and one table read;
// - a tail draw uses rejection-inversion over ranks K+1 … n (W. Hörmann, G. Derflinger,
//   "Rejection-inversion to generate variates from monotone discrete distributions", 1996, as
//   in Apache Commons RNG's RejectionInversionZipfSampler, generalised to a first rank > 1).
// The tail's mass Σ_{k>K} k^-s comes from the Euler–Maclaurin formula (error ~ K^-(s+3), far
// below double precision of the total). Random words come from the caller, so every draw is a
// pure function of the record.
class ZipfRanks {
public:
    static constexpr std::uint32_t kMaxHead = 4096;

    ZipfRanks(std::uint32_t n, double exponent);

    /// A rank in [1, n]. random(i) is the i-th random 64-bit word of this draw.
    template <typename Random> std::uint32_t sample(Random&& random) const
    {
        const std::uint64_t r = random(0);
        if (m_exponent <= 0)
            return 1 + static_cast<std::uint32_t>(((r >> 32) * m_n) >> 32);
        const auto slot = static_cast<std::uint32_t>(((r >> 32) * m_slots.size()) >> 32);
        const Slot& s = m_slots[slot];
        const std::uint32_t outcome = static_cast<std::uint32_t>(r) < s.threshold ? slot : s.alias;
        if (outcome < m_head)
            return outcome + 1;
        return sampleTail(random);
    }

private:
    struct Slot {
        std::uint32_t threshold; ///< keep the slot's own outcome when the low word is below this
        std::uint32_t alias;
    };

    // Vose's alias method; deterministic for given weights.
    void buildAlias(const std::vector<double>& weights);

    template <typename Random> std::uint32_t sampleTail(Random&& random) const
    {
        const double first = m_head + 1.0;
        for (std::uint32_t attempt = 1;; ++attempt) {
            // u is uniform in (tailLow, tailHigh].
            const double u = m_tailHigh + unitOf(random(attempt)) * (m_tailLow - m_tailHigh);
            const double x = hIntegralInverse(u);
            double k = std::floor(x + 0.5);
            if (k < first)
                k = first;
            else if (k > m_n)
                k = m_n;
            // After 64 rejections (probability < 0.1^64) the candidate is taken to bound the loop.
            if (k - x <= m_s || u >= hIntegral(k + 0.5) - h(k) || attempt >= 64)
                return static_cast<std::uint32_t>(k);
        }
    }

    // h(x) = x^-s; hIntegral(x) = ∫₁ˣ h, written to stay accurate for s near 1.
    double h(double x) const { return std::exp(-m_exponent * std::log(x)); }
    double hIntegral(double x) const
    {
        const double logX = std::log(x);
        return helper2((1.0 - m_exponent) * logX) * logX;
    }
    double hIntegralInverse(double x) const
    {
        double t = x * (1.0 - m_exponent);
        if (t < -1.0)
            t = -1.0; // numerical guard, as in the reference implementation
        return std::exp(helper1(t) * x);
    }
    // log(1 + x) / x and (exp(x) − 1) / x, accurate near 0.
    static double helper1(double x)
    {
        return std::abs(x) > 1e-8 ? std::log1p(x) / x : 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
    }
    static double helper2(double x)
    {
        return std::abs(x) > 1e-8 ? std::expm1(x) / x : 1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x));
    }

    std::uint32_t m_n;
    double m_exponent;
    std::uint32_t m_head = 0;
    std::vector<Slot> m_slots;
    double m_tailLow = 0;
    double m_tailHigh = 0;
    double m_s = 0;
};

} // namespace adclick::engine
