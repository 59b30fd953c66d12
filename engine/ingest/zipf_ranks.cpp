#include "ingest/zipf_ranks.h"

#include <algorithm>

namespace adclick::engine {

ZipfRanks::ZipfRanks(std::uint32_t n, double exponent)
    : m_n(std::max<std::uint32_t>(1, n))
    , m_exponent(std::isfinite(exponent) ? std::max(0.0, exponent) : 0.0)
{
    if (m_exponent <= 0)
        return;
    m_head = std::min(m_n, kMaxHead);
    const bool hasTail = m_head < m_n;
    std::vector<double> weights(m_head + (hasTail ? 1 : 0));
    for (std::uint32_t k = 1; k <= m_head; ++k)
        weights[k - 1] = h(k);
    if (hasTail) {
        const double a = m_head + 1.0;
        const double b = m_n;
        const double derivativeA = -m_exponent * h(a) / a;
        const double derivativeB = -m_exponent * h(b) / b;
        weights[m_head] = hIntegral(b) - hIntegral(a) + (h(a) + h(b)) / 2 + (derivativeB - derivativeA) / 12;
        m_tailLow = hIntegral(a + 0.5) - h(a);
        m_tailHigh = hIntegral(b + 0.5);
        // f(x) = x − H⁻¹(H(x + ½) − h(x)) is non-decreasing (Theorem 2 of the paper), so
        // f(K + 1) is a valid squeeze for every tail rank.
        m_s = a - hIntegralInverse(hIntegral(a + 0.5) - h(a));
    }
    buildAlias(weights);
}

// Vose's alias method; deterministic for given weights.
void ZipfRanks::buildAlias(const std::vector<double>& weights)
{
    const std::size_t m = weights.size();
    double total = 0;
    for (double w : weights)
        total += w;
    std::vector<double> scaled(m);
    std::vector<std::uint32_t> small, large;
    for (std::size_t i = 0; i < m; ++i) {
        scaled[i] = weights[i] * static_cast<double>(m) / total;
        (scaled[i] < 1.0 ? small : large).push_back(static_cast<std::uint32_t>(i));
    }
    m_slots.assign(m, Slot { 0xFFFFFFFFu, 0 });
    while (!small.empty() && !large.empty()) {
        const std::uint32_t s = small.back();
        small.pop_back();
        const std::uint32_t l = large.back();
        m_slots[s] = Slot { static_cast<std::uint32_t>(std::min(scaled[s] * 0x1.0p32, 4294967295.0)), l };
        scaled[l] -= 1.0 - scaled[s];
        if (scaled[l] < 1.0) {
            large.pop_back();
            small.push_back(l);
        }
    }
    for (std::uint32_t i : small) // rounding leftovers: probability 1
        m_slots[i] = Slot { 0xFFFFFFFFu, i };
    for (std::uint32_t i : large)
        m_slots[i] = Slot { 0xFFFFFFFFu, i };
}

} // namespace adclick::engine
