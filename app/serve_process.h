#pragma once

#include <QCoreApplication>

#include <csignal>
#include <memory>

namespace adclick::app {

/// What both `adclick serve` modes need for the length of the command: SIGINT and SIGTERM go to
/// `onSignal` (which must be async-signal-safe), SIGPIPE is ignored (a client gone mid-answer),
/// and a QCoreApplication exists. The previous handlers come back when the scope ends.
class ServeProcessScope {
public:
    explicit ServeProcessScope(void (*onSignal)(int))
        : m_previousInt(std::signal(SIGINT, onSignal))
        , m_previousTerm(std::signal(SIGTERM, onSignal))
        , m_previousPipe(std::signal(SIGPIPE, SIG_IGN))
    {
        if (!QCoreApplication::instance()) {
            static int argc = 1;
            static char name[] = "adclick";
            static char* argv[] = { name, nullptr };
            m_ownApp = std::make_unique<QCoreApplication>(argc, argv);
        }
    }
    ~ServeProcessScope()
    {
        std::signal(SIGINT, m_previousInt);
        std::signal(SIGTERM, m_previousTerm);
        std::signal(SIGPIPE, m_previousPipe);
    }
    ServeProcessScope(const ServeProcessScope&) = delete;
    ServeProcessScope& operator=(const ServeProcessScope&) = delete;

private:
    using Handler = void (*)(int);
    Handler m_previousInt;
    Handler m_previousTerm;
    Handler m_previousPipe;
    std::unique_ptr<QCoreApplication> m_ownApp;
};

} // namespace adclick::app
