#pragma once

#include "core/time_units.h"

#include <atomic>

namespace adclick::engine {

/// Source of processing time. Live runs use SystemClock; simulations and tests use
/// VirtualClock so that a day runs in seconds and the same seed gives the same numbers.
class Clock {
public:
    virtual ~Clock() = default;
    /// Current processing time in epoch ms. Thread-safe.
    virtual TimeMs nowMs() const = 0;
    /// True when time only moves when the engine advances it (no pacing, no sleeping).
    virtual bool isVirtual() const = 0;
};

/// Wall-clock time (std::chrono::system_clock).
class SystemClock final : public Clock {
public:
    TimeMs nowMs() const override;
    bool isVirtual() const override { return false; }
};

/// Time that moves only when told to. Thread-safe; never goes backwards.
class VirtualClock final : public Clock {
public:
    explicit VirtualClock(TimeMs startMs = 0)
        : m_nowMs(startMs)
    {
    }
    TimeMs nowMs() const override { return m_nowMs.load(std::memory_order_acquire); }
    bool isVirtual() const override { return true; }
    /// Moves time forward to t (no-op if t is in the past).
    void advanceTo(TimeMs t);
    void advanceBy(TimeMs deltaMs) { advanceTo(nowMs() + deltaMs); }

private:
    std::atomic<TimeMs> m_nowMs;
};

} // namespace adclick::engine
