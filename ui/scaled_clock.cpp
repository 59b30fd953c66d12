#include "scaled_clock.h"

#include <algorithm>

namespace adclick::ui {

ScaledClock::ScaledClock(engine::TimeMs startMs)
    : m_baseMs(startMs)
    , m_baseWall(Steady::now())
{
}

engine::TimeMs ScaledClock::nowLocked(Steady::time_point wall) const
{
    if (m_paused)
        return m_baseMs;
    const double elapsedMs = std::chrono::duration<double, std::milli>(wall - m_baseWall).count();
    return m_baseMs + static_cast<engine::TimeMs>(elapsedMs * m_speed);
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

} // namespace adclick::ui
