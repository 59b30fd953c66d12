#include "run_command.h"

#include "ingest_session.h"

#include <atomic>
#include <csignal>

namespace adclick::app {

namespace {
std::atomic<IngestSession*> g_running { nullptr };
std::atomic<bool> g_stopSignal { false }; ///< SIGINT/SIGTERM seen (possibly before the session exists)

extern "C" void onSignal(int)
{
    g_stopSignal.store(true);
    if (IngestSession* s = g_running.load())
        s->requestStop(); // only atomic stores: async-signal-safe
}
} // namespace

int runRunCommand(const RunOptions& options, std::FILE* out, std::FILE* err)
{
    // From the start: a SIGTERM during recovery must still end in a clean, checkpointed exit.
    g_stopSignal.store(false);
    auto previousInt = std::signal(SIGINT, onSignal);
    auto previousTerm = std::signal(SIGTERM, onSignal);
    if (const std::string warning = speedFaultWarning(options); !warning.empty())
        std::fprintf(err, "adclick: warning: %s\n", warning.c_str());
    int rc = 1;
    {
        IngestSession session(options, out, err);
        g_running.store(&session);
        if (g_stopSignal.load())
            session.requestStop();
        if (session.open()) {
            if (g_stopSignal.load())
                session.requestStop(); // the signal came while the store was recovering
            rc = session.loop();
        }
        g_running.store(nullptr);
    }
    std::signal(SIGINT, previousInt);
    std::signal(SIGTERM, previousTerm);
    return rc;
}

} // namespace adclick::app
