#include "core/clock.h"

#include <chrono>

namespace adclick::engine {

TimeMs SystemClock::nowMs() const
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void VirtualClock::advanceTo(TimeMs t)
{
    TimeMs cur = m_nowMs.load(std::memory_order_relaxed);
    while (t > cur && !m_nowMs.compare_exchange_weak(cur, t, std::memory_order_acq_rel)) { }
}

} // namespace adclick::engine
