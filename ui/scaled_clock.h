#pragma once

#include "core/clock.h"

#include <chrono>
#include <limits>
#include <mutex>

namespace adclick::ui {

/// The dashboard's processing clock: wall time scaled by a speed factor (×1 real time … ×1000
/// fast-forward) that can be paused. It is not a virtual clock (isVirtual() false), so the
/// generator paces itself to it exactly as to the system clock: at ×N it produces N times its
/// rate per wall second and processing time runs N times faster. Never goes backwards.
/// Thread-safe (a mutex: it is read a few times per batch, not per event).
class ScaledClock final : public engine::Clock {
public:
    explicit ScaledClock(engine::TimeMs startMs);
    engine::TimeMs nowMs() const override;
    bool isVirtual() const override { return false; }

    /// From now on processing time runs `speed` times wall time (clamped to 1 … 1000).
    void setSpeed(double speed);
    double speed() const;
    /// Paused: processing time stands still until resumed.
    void setPaused(bool paused);
    bool paused() const;
    /// Moves processing time forward to t (no-op if already past).
    void advanceTo(engine::TimeMs t);
    /// Holds processing time at most at limitMs (never backwards): when the pipeline cannot keep
    /// up with the chosen speed, the clock runs at the speed it can do instead of running away.
    void holdBack(engine::TimeMs limitMs);
    /// Processing ms per wall ms over the last few seconds (what the speed really is).
    double effectiveSpeed() const;

private:
    using Steady = std::chrono::steady_clock;
    engine::TimeMs nowLocked(Steady::time_point wall) const;
    void rebaseLocked(Steady::time_point wall);

    mutable std::mutex m_mutex;
    engine::TimeMs m_baseMs;
    Steady::time_point m_baseWall;
    double m_speed = 1.0;
    bool m_paused = false;
    engine::TimeMs m_ceilingMs = std::numeric_limits<engine::TimeMs>::max();
    mutable engine::TimeMs m_lastMs = 0; ///< the largest value returned (monotonic)
    engine::TimeMs m_rateFromMs = 0;
    Steady::time_point m_rateFromWall;
    double m_effective = 1.0;
};

} // namespace adclick::ui
