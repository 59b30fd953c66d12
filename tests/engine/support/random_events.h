#pragma once

// Random click streams for oracle tests: out-of-order, late, duplicated, with events placed
// exactly on window boundaries. Deterministic for a seed.

#include "core/click_event.h"

#include <algorithm>
#include <map>
#include <random>
#include <vector>

namespace adclick::test {

using namespace adclick::engine;

struct RandomStreamSpec {
    std::uint64_t seed = 1;
    std::size_t events = 20000;
    std::uint32_t ads = 40;
    std::uint32_t partitions = 3;
    TimeMs startMs = 1767225600000LL; // 2026-01-01T00:00:00Z, a window boundary
    TimeMs stepMs = 20; // nominal arrival spacing
    TimeMs jitterMs = 5000;
    double lateFraction = 0.05;
    TimeMs lateMaxMs = 8 * 60 * 1000;
    double duplicateFraction = 0.03;
    double boundaryFraction = 0.02; ///< events placed exactly at / 1 ms before a minute boundary
};

inline std::vector<ClickEvent> randomStream(const RandomStreamSpec& spec)
{
    std::mt19937_64 rng(spec.seed);
    std::uniform_real_distribution<double> u(0, 1);
    const CountryCode countries[]
        = { packCountry('U', 'S'), packCountry('D', 'E'), packCountry('I', 'N'), packCountry('B', 'R') };
    std::vector<ClickEvent> out;
    out.reserve(spec.events);
    std::vector<std::int64_t> offsets(spec.partitions, 0);
    for (std::size_t i = 0; i < spec.events; ++i) {
        ClickEvent e;
        if (!out.empty() && u(rng) < spec.duplicateFraction) {
            e = out[rng() % out.size()]; // a resend: same click id and fields
        } else {
            const TimeMs nominal = spec.startMs + static_cast<TimeMs>(i) * spec.stepMs;
            e.eventTimeMs = nominal - static_cast<TimeMs>(u(rng) * static_cast<double>(spec.jitterMs));
            if (u(rng) < spec.lateFraction)
                e.eventTimeMs -= static_cast<TimeMs>(u(rng) * static_cast<double>(spec.lateMaxMs));
            if (u(rng) < spec.boundaryFraction) {
                const TimeMs boundary = windowStartOf(e.eventTimeMs, kMsPerMinute);
                e.eventTimeMs = (rng() & 1) ? boundary : boundary - 1;
            }
            // Skewed ads so that top-K has a clear head.
            const double x = u(rng);
            e.adId = 1 + static_cast<AdId>(static_cast<double>(spec.ads) * x * x * x) % spec.ads;
            e.country = countries[rng() % 4];
            e.device = static_cast<DeviceClass>(rng() % kDeviceClassCount);
            e.userHash = rng();
            e.clickId = (rng() | 1);
        }
        e.partition = static_cast<std::uint32_t>(rng() % spec.partitions);
        e.offset = offsets[e.partition]++;
        e.flags = 0;
        out.push_back(e);
    }
    return out;
}

/// A stream with nothing late for any partition's watermark (jitter 2 s, no late events, none on
/// window boundaries) and no resends (a producer's retry goes to the same partition; across
/// partitions it would be another click for a per-partition pipeline).
inline std::vector<ClickEvent> inOrderStream(std::uint32_t partitions, std::size_t events)
{
    RandomStreamSpec spec;
    spec.partitions = partitions;
    spec.events = events;
    spec.jitterMs = 2000;
    spec.lateFraction = 0;
    spec.duplicateFraction = 0;
    spec.boundaryFraction = 0;
    return randomStream(spec);
}

/// The brute-force count per (ad, minute, country, device) cell.
inline std::map<WindowKey, std::uint64_t> countPerCell(const std::vector<ClickEvent>& events)
{
    std::map<WindowKey, std::uint64_t> cells;
    for (const ClickEvent& e : events)
        ++cells[WindowKey { e.adId, windowStartOf(e.eventTimeMs, kMsPerMinute), e.country, e.device }];
    return cells;
}

/// Shuffles within blocks of `block` events: a different but still roughly time-ordered arrival.
inline void shuffleLocally(std::vector<ClickEvent>& events, std::size_t block, std::uint64_t seed)
{
    std::mt19937_64 rng(seed);
    for (std::size_t i = 0; i < events.size(); i += block)
        std::shuffle(events.begin() + static_cast<std::ptrdiff_t>(i),
            events.begin() + static_cast<std::ptrdiff_t>(std::min(events.size(), i + block)), rng);
}

} // namespace adclick::test
