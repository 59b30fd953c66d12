#pragma once

// Times every event the GUI thread delivers (the outermost QApplication::notify call) so a latency
// test can say what blocked the event loop, not only for how long.

#include <QApplication>
#include <QElapsedTimer>
#include <QEvent>
#include <QString>

#include <algorithm>
#include <ctime>
#include <vector>

namespace adclick::ui::test {

/// One event delivery that took long: who received it and what it was.
struct Stall {
    double startMs = 0; ///< since startRecording()
    double ms = 0; ///< wall time
    double cpuMs = 0; ///< the GUI thread's CPU time: the rest of ms it waited for a core
    QString receiver; ///< class name and object name
    int eventType = 0; ///< QEvent::Type
};

/// This thread's CPU time in ms.
inline double threadCpuMs()
{
    timespec ts {};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

/// A QApplication that records, while recording is on, the event deliveries taking at least
/// thresholdMs of wall time or 2 ms of the GUI thread's CPU time, with both. GUI thread only.
class StallRecordingApplication final : public QApplication {
public:
    using QApplication::QApplication;

    void startRecording(double thresholdMs)
    {
        m_thresholdNs = static_cast<qint64>(thresholdMs * 1e6);
        m_stalls.clear();
        m_clock.start();
        m_recording = true;
    }
    /// Wall time since startRecording().
    double elapsedMs() const { return static_cast<double>(m_clock.nsecsElapsed()) / 1e6; }
    /// In delivery order.
    const std::vector<Stall>& deliveries() const { return m_stalls; }
    void stopRecording() { m_recording = false; }
    /// Slowest first.
    std::vector<Stall> stalls() const
    {
        std::vector<Stall> s = m_stalls;
        std::sort(s.begin(), s.end(), [](const Stall& a, const Stall& b) { return a.ms > b.ms; });
        return s;
    }

    bool notify(QObject* receiver, QEvent* event) override
    {
        if (!m_recording || m_depth > 0) {
            ++m_depth;
            const bool r = QApplication::notify(receiver, event);
            --m_depth;
            return r;
        }
        // Captured before delivery: the receiver may delete itself while handling the event.
        const char* className = receiver->metaObject()->className();
        const QString name = receiver->objectName();
        const int type = event->type();
        const double cpu0 = threadCpuMs();
        const qint64 start = m_clock.nsecsElapsed();
        ++m_depth;
        const bool r = QApplication::notify(receiver, event);
        --m_depth;
        const qint64 ns = m_clock.nsecsElapsed() - start;
        const double cpuMs = threadCpuMs() - cpu0;
        if (ns >= m_thresholdNs || cpuMs >= 2.0)
            m_stalls.push_back({ static_cast<double>(start) / 1e6, static_cast<double>(ns) / 1e6, cpuMs,
                QString::fromLatin1(className) + (name.isEmpty() ? QString() : QStringLiteral(" ") + name), type });
        return r;
    }

private:
    bool m_recording = false;
    int m_depth = 0;
    qint64 m_thresholdNs = 0;
    QElapsedTimer m_clock;
    std::vector<Stall> m_stalls;
};

} // namespace adclick::ui::test
