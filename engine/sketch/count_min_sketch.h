#pragma once

#include "core/hash.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace adclick::engine {

/// Count-Min Sketch (Cormode & Muthukrishnan 2005) over 64-bit keys with uint32 counters.
///
/// Guarantee: for a sketch of width w and depth d that has seen N total count,
/// estimate(x) ≥ true(x) always, and estimate(x) ≤ true(x) + ε·N with probability ≥ 1 − δ
/// (per key, over the choice of seed), where ε = e / w and δ = e^−d. Counters saturate at
/// 2^32 − 1 (never wrap); a key whose counters all saturated is estimated as N, still an upper bound.
/// Sketches with the same width, depth and seed merge exactly: merge(a, b) equals the sketch
/// of the concatenated streams. Not thread-safe. update*() neither allocates nor divides.
class CountMinSketch {
public:
    static constexpr std::uint8_t kSerialVersion = 1;
    static constexpr std::uint32_t kMaxDepth = 16;

    /// width is rounded up to a power of two in [8, 2^26]; depth is clamped to [1, kMaxDepth].
    CountMinSketch(std::uint32_t width, std::uint32_t depth, std::uint64_t seed = 0);

    /// ceil(e / ε), rounded up to a power of two.
    static std::uint32_t suggestWidth(double epsilon);
    /// ceil(ln(1 / δ)).
    static std::uint32_t suggestDepth(double delta);
    /// A sketch sized for the error ε·N with probability 1 − δ.
    static CountMinSketch forError(double epsilon, double delta, std::uint64_t seed = 0);

    void update(std::uint64_t key, std::uint32_t count = 1) { (void)updateAndEstimate(key, count); }
    /// Adds count and returns the key's new estimate (the minimum over its counters, capped at
    /// 2^32 − 1). Hot path: one mix of the key, no allocation, no division.
    std::uint32_t updateAndEstimate(std::uint64_t key, std::uint32_t count = 1)
    {
        const Hashes h = hashes(key);
        std::uint32_t est = UINT32_MAX;
        std::uint32_t* row = m_counters.data();
        for (std::uint32_t i = 0; i < m_depth; ++i, row += m_width) {
            std::uint32_t& c = row[(h.h1 + i * h.h2) & m_mask];
            const std::uint32_t next = c + count;
            c = next < c ? UINT32_MAX : next;
            est = c < est ? c : est;
        }
        m_total += count;
        return est;
    }
    /// Never below the true count; see the class guarantee for the upper bound.
    std::uint64_t estimate(std::uint64_t key) const;

    std::uint64_t totalCount() const { return m_total; }
    double epsilon() const;
    double delta() const;
    /// ceil(ε·N): the additive error bound that holds with probability 1 − δ.
    std::uint64_t errorBound() const;
    std::uint32_t width() const { return m_width; }
    std::uint32_t depth() const { return m_depth; }
    std::uint64_t seed() const { return m_seed; }

    /// Adds other's counters (saturating). False, and no change, when the shapes or seeds differ.
    bool merge(const CountMinSketch& other);
    void clear();
    /// Clears a sparse sketch in O(keys × depth): zeroes the counters of `keys` and the total.
    /// Equals clear() only if `keys` holds every key updated since the last clear (the caller
    /// knows them, e.g. a top-K slot that kept every key as a candidate).
    void clearKeys(std::span<const std::uint64_t> keys)
    {
        for (std::uint64_t key : keys) {
            const Hashes h = hashes(key);
            std::uint32_t* row = m_counters.data();
            for (std::uint32_t i = 0; i < m_depth; ++i, row += m_width)
                row[(h.h1 + i * h.h2) & m_mask] = 0;
        }
        m_total = 0;
    }
    std::size_t memoryBytes() const { return m_counters.size() * sizeof(std::uint32_t); }

    /// Little-endian: "CMSK", version byte, width u32, depth u32, seed u64, total u64, counters.
    std::vector<std::uint8_t> serialize() const;
    /// Rejects (nullopt, with a reason in *error) anything malformed: wrong magic or version,
    /// bad shape, truncation, trailing bytes, or counters inconsistent with the total.
    static std::optional<CountMinSketch> deserialize(std::span<const std::uint8_t> bytes, std::string* error = nullptr);

private:
    struct Hashes {
        std::uint32_t h1;
        std::uint32_t h2;
    };
    Hashes hashes(std::uint64_t key) const
    {
        // Kirsch–Mitzenmacher double hashing: row i uses h1 + i·h2 (h2 odd, so rows differ).
        const std::uint64_t h = mix64(key ^ m_seedMix);
        return { static_cast<std::uint32_t>(h), static_cast<std::uint32_t>(h >> 32) | 1u };
    }

    std::uint32_t m_width;
    std::uint32_t m_mask;
    std::uint32_t m_depth;
    std::uint64_t m_seed;
    std::uint64_t m_seedMix; // mix64 of the seed, so an update mixes the key only once
    std::uint64_t m_total = 0;
    std::vector<std::uint32_t> m_counters;
};

} // namespace adclick::engine
