#pragma once

#include "core/click_event.h"
#include "core/time_units.h"

#include <cstdint>
#include <vector>

namespace adclick::engine {

/// "Top K ads in the last minute": a window of windowMs sliding every slideMs of event time.
struct TopKConfig {
    TimeMs windowMs = kMsPerMinute;
    TimeMs slideMs = 10 * kMsPerSecond;
    std::uint32_t k = 100;
    double epsilon = 2e-4; ///< Count-Min error: estimate ≤ true + ε·N with probability ≥ 1 − δ
    double delta = 0.01;
    std::uint32_t candidates = 0; ///< candidate ads tracked per slot and shard (0: max(4k, 256))
    std::uint64_t sketchSeed = 0x5EEDC0FFEEULL;
};

struct TopKEntry {
    AdId adId = 0;
    std::uint64_t count = 0;
};

struct TopKApproxEntry {
    AdId adId = 0;
    std::uint64_t estimate = 0; ///< Count-Min estimate (never below the true count)
    std::uint64_t exactCount = 0; ///< the exact count, to show the measured error
};

/// Exact and approximate answers for one complete window [windowStartMs, windowEndMs),
/// side by side with the approximate answer's guarantee and its measured error.
struct TopKResult {
    bool valid = false; ///< false until the watermark has completed a first slot
    TimeMs windowStartMs = 0;
    TimeMs windowEndMs = 0;
    std::uint32_t k = 0;
    std::vector<TopKEntry> exact; ///< sorted by count desc, ad asc
    std::vector<TopKApproxEntry> approx; ///< sorted by estimate desc, ad asc
    std::uint64_t totalEvents = 0; ///< N: events counted in the window
    double epsilon = 0; ///< the sketch's actual ε (e / width)
    double delta = 0; ///< the sketch's actual δ (e^-depth)
    std::uint64_t errorBound = 0; ///< ceil(ε·N)
    std::uint64_t maxAbsError = 0; ///< max over approx entries of estimate − exact
    double meanAbsError = 0;
    double precision = 0; ///< |approx top-K ∩ exact top-K| / |exact top-K|
    bool withinBound = true; ///< every approx entry's error ≤ errorBound
    std::uint32_t shards = 1;
    std::size_t sketchBytes = 0; ///< memory of the approximate structure (all slots, shards)
    std::size_t exactBytes = 0; ///< memory of the exact per-slot maps
};

} // namespace adclick::engine
