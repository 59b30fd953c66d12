#pragma once

#include "core/click_event.h"
#include "core/hash.h"
#include "core/time_units.h"
#include "window/topk_types.h"
#include "window/watermark_tracker.h"
#include "window/window_types.h"

#include <cstdint>

namespace adclick::engine {

/// FAULT INJECTION, for demos and tests of the reconciler only (`adclick run
/// --inject-speed-fault`); never set in production. Makes the speed layer miscount on purpose in
/// its window counts only: the raw log keeps the disposition the speed layer decided (Counted /
/// LateUpdated: what it *meant* to do), so the batch layer and the Reconciler see the truth and
/// the reconciler's unexplained gap is exactly the injected miscount. Top-K is not affected.
/// Which events are hit is a pure function of the event (its click id, else its user hash and
/// source position), so a replay after crash recovery decides the same way.
struct SpeedFault {
    enum class Kind : std::uint8_t {
        None,
        DropCountry, ///< counted events of `country`, a `fraction` of them, are not added to the windows
        DoubleCountAd, ///< counted events of `adId` are added to the windows twice
    };
    Kind kind = Kind::None;
    CountryCode country = 0;
    double fraction = 1.0; ///< DropCountry: share of the country's counted events dropped, 0 … 1
    AdId adId = 0;

    bool active() const { return kind != Kind::None; }
    /// Whether a counted (Counted / LateUpdated) event is left out of the window counts.
    bool drops(const ClickEvent& e) const { return kind == Kind::DropCountry && e.country == country && selects(e); }
    /// Whether a counted event is added to the window counts twice.
    bool doubles(const ClickEvent& e) const { return kind == Kind::DoubleCountAd && e.adId == adId; }
    /// The deterministic per-event draw behind `fraction`: a uniform value in [0, 1) from the
    /// click id (or user hash ⊕ source position when the event has none) compared with fraction.
    bool selects(const ClickEvent& e) const
    {
        const std::uint64_t id = e.hasClickId()
            ? e.clickId
            : e.userHash ^ mix64(static_cast<std::uint64_t>(e.offset) ^ (std::uint64_t { e.partition } << 48));
        const double u = static_cast<double>(mix64(id ^ 0x5EEDFA17C0FFEEULL) >> 11) * 0x1.0p-53;
        return u < fraction;
    }
};

/// Everything the speed layer needs to know; command-line options map onto these fields.
struct PipelineConfig {
    WindowConfig window;
    WatermarkConfig watermark;
    TopKConfig topK;
    bool deduplicate = true; ///< drop events whose click id was seen within the horizon
    TimeMs dedupHorizonMs = 10 * kMsPerMinute;
    std::uint32_t shards = 1; ///< aggregation shards, partitioned by ad id
    std::size_t batchSize = 4096; ///< records polled per step
    /// Events stamped further than this ahead of processing time are rejected
    /// (TimestampOutOfRange): one bad clock must not push the watermark into the future. 0 = off.
    TimeMs maxFutureMs = kMsPerHour;
    TimeMs snapshotIntervalMs = 100; ///< wall time between published snapshots
    std::size_t recentWindowSummaries = 120; ///< window summaries kept in snapshots
    /// Fault injection for demos and tests (see SpeedFault); Kind::None (the default) costs nothing.
    SpeedFault speedFault;
};

} // namespace adclick::engine
