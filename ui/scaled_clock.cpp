#include "scaled_clock.h"

#include <algorithm>

namespace adclick::ui {

ScaledClock::ScaledClock(engine::TimeMs startMs)
    : m_baseMs(startMs)
    , m_baseWall(Steady::now())
    , m_lastMs(startMs)
    , m_rateFromMs(startMs)
    , m_rateFromWall(m_baseWall)
{
}

engine::TimeMs ScaledClock::nowLocked(Steady::time_point wall) const
{
    engine::TimeMs t = m_baseMs;
    if (!m_paused) {
        const double elapsedMs = std::chrono::duration<double, std::milli>(wall - m_baseWall).count();
        t += static_cast<engine::TimeMs>(elapsedMs * m_speed);
    }
    t = std::min(t, m_ceilingMs);
    m_lastMs = std::max(m_lastMs, t);
    return m_lastMs;
}

void ScaledClock::rebaseLocked(Steady::time_point wall)
{
    m_baseMs = nowLocked(wall);
    m_baseWall = wall;
}

engine::TimeMs ScaledClock::nowMs() const
{
    std::lock_guard lock(m_mutex);
    return nowLocked(Steady::now());
}

void ScaledClock::setSpeed(double speed)
{
    std::lock_guard lock(m_mutex);
    rebaseLocked(Steady::now());
    m_speed = std::clamp(speed, 1.0, 1000.0);
}

double ScaledClock::speed() const
{
    std::lock_guard lock(m_mutex);
    return m_speed;
}

void ScaledClock::setPaused(bool paused)
{
    std::lock_guard lock(m_mutex);
    rebaseLocked(Steady::now());
    m_paused = paused;
}

bool ScaledClock::paused() const
{
    std::lock_guard lock(m_mutex);
    return m_paused;
}

void ScaledClock::advanceTo(engine::TimeMs t)
{
    std::lock_guard lock(m_mutex);
    const auto wall = Steady::now();
    rebaseLocked(wall);
    m_baseMs = std::max(m_baseMs, t);
}

void ScaledClock::holdBack(engine::TimeMs limitMs)
{
    std::lock_guard lock(m_mutex);
    const auto wall = Steady::now();
    m_ceilingMs = limitMs; // stands still there (never backwards) until the pipeline catches up
    const engine::TimeMs now = nowLocked(wall);
    if (m_baseMs
            + static_cast<engine::TimeMs>(
                std::chrono::duration<double, std::milli>(wall - m_baseWall).count() * m_speed)
        > now + 1000) {
        m_baseMs = now; // do not bank the time spent held: resume from here at the chosen speed
        m_baseWall = wall;
    }
    const double dt = std::chrono::duration<double, std::milli>(wall - m_rateFromWall).count();
    if (dt >= 2000) {
        m_effective = static_cast<double>(now - m_rateFromMs) / dt;
        m_rateFromMs = now;
        m_rateFromWall = wall;
    }
}

double ScaledClock::effectiveSpeed() const
{
    std::lock_guard lock(m_mutex);
    return m_paused ? 0.0 : m_effective;
}

} // namespace adclick::ui
