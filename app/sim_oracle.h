#pragma once

#include "ingest/synthetic_source.h"

#include <atomic>
#include <cstdint>
#include <map>
#include <utility>

namespace adclick::app {

/// Exact truth for a simulation, computed from the generator's own sequence with none of the
/// engine's windows, watermarks or store: a second SyntheticSource with the same settings is
/// polled to its end and every distinct click (by click id) is counted per (ad, minute of event
/// time). The generator resends a click only within the last 1000 records, so click ids are
/// remembered over two generations of 200,000 records each (exact, in bounded memory). Counting
/// uses flat hash tables; the sorted maps below are filled once at the end.
struct SimOracle {
    std::uint64_t records = 0; ///< records generated (accepted + malformed)
    std::uint64_t malformed = 0; ///< records the codec must reject
    std::uint64_t duplicates = 0; ///< resends of a click already generated
    std::uint64_t clicks = 0; ///< distinct clicks = what billing must count
    std::map<std::pair<std::uint32_t, std::int64_t>, std::uint64_t> perAdMinute; ///< (ad, minute start ms) → clicks
    std::map<std::int64_t, std::uint64_t> perMinute; ///< minute start ms → clicks

    /// Runs the generator `config` for `records` records. Self-contained (its own clock, source and
    /// dictionaries), so it may run on another thread while the engine runs the same scenario;
    /// stops early (an incomplete result) once `cancel` becomes true.
    static SimOracle compute(
        const engine::GeneratorConfig& config, std::uint64_t records, const std::atomic<bool>* cancel = nullptr);
};

} // namespace adclick::app
