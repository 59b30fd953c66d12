#include "cli.h"

#include "batch_command.h"
#include "broker_command.h"
#include "dashboard_command.h"
#include "generate_command.h"
#include "maintain_command.h"
#include "produce_command.h"
#include "reconcile_command.h"
#include "run_command.h"
#include "run_options.h"
#include "serve_command.h"
#include "play_command.h"
#include "simulate_command.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace adclick::app {

namespace {
const char* kUsage = "Usage: adclick <command> [options]\n\n"
                     "Counts ad clicks per ad and minute of event time, exactly once.\n\n"
                     "Commands:\n"
                     "  dashboard  the desktop dashboard (live charts and controls) with the REST API; `adclick`\n"
                     "             alone opens it when a display is available\n"
                     "  run        run the speed layer headless and print windows, late counts and top ads\n"
                     "             (stored in the data directory; a second run continues where the first stopped)\n"
                     "  serve      run the pipeline headless with the REST API on 127.0.0.1:8080 (Ctrl-C stops\n"
                     "             it after a final checkpoint)\n"
                     "  generate   write the generator's records as NDJSON\n"
                     "  batch      recount a time range exactly from the raw click log into the batch view\n"
                     "  reconcile  compare speed and batch counts per ad and minute: the gap by cause, and what\n"
                     "             no cause explains\n"
                     "  produce    produce the generator's clicks to a Kafka topic (idempotent producer)\n"
                     "  broker     run a local in-memory Kafka-protocol TEST broker (librdkafka mock cluster)\n"
                     "  maintain   roll up and expire stored aggregates and raw log segments now\n"
                     "  simulate   run a scenario (simulations/*.json) on a virtual clock and check its expectations\n"
                     "  play       play a scenario in a window, its narrative as captions (for a class or a demo)\n"
                     "  help       this text; `adclick <command> --help` for a command's options\n"
                     "  version    print the version\n";
}

int runCli(int argc, char** argv)
{
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
        std::fputs(kUsage, stdout);
        return args.empty() ? 2 : 0;
    }
    if (args[0] == "version" || args[0] == "--version") {
        std::puts("adclick 0.1.0");
        return 0;
    }
    const std::string command = args[0];
    args.erase(args.begin());
    if (command == "batch")
        return runBatchCommand(args, stdout, stderr);
    if (command == "reconcile")
        return runReconcileCommand(args, stdout, stderr);
    if (command == "serve") {
        ParsedServe parsed = parseServeOptions(args, std::getenv("ADCLICK_API_TOKEN"));
        if (parsed.help) {
            std::fputs(serveHelpText().c_str(), stdout);
            return 0;
        }
        if (!parsed.error.empty()) {
            std::fprintf(stderr, "adclick serve: %s\n", parsed.error.c_str());
            return 2;
        }
        return runServeCommand(parsed.options, stdout, stderr);
    }
    if (command == "dashboard")
        return runDashboardCommand(args, stdout, stderr);
    if (command == "broker")
        return runBrokerCommand(args, stdout, stderr);
    if (command == "produce")
        return runProduceCommand(args, stdout, stderr);
    if (command == "simulate")
        return runSimulateCommand(args, stdout, stderr);
    if (command == "play")
        return runPlayCommand(args, stdout, stderr);
    if (command == "maintain")
        return runMaintainCommand(args, stdout, stderr);
    if (command == "run" || command == "generate") {
        ParsedRun parsed = parseRunOptions(args);
        if (parsed.help) {
            std::fputs(runHelpText().c_str(), stdout);
            if (command == "generate")
                std::fputs("\nadclick generate takes the generator options and --duration, and writes NDJSON to "
                           "standard output.\n",
                    stdout);
            return 0;
        }
        if (!parsed.error.empty()) {
            std::fprintf(stderr, "adclick %s: %s\n", command.c_str(), parsed.error.c_str());
            return 2;
        }
        if (command == "generate")
            return runGenerateCommand(parsed.options, stdout, stderr);
        return runRunCommand(parsed.options, stdout, stderr);
    }
    std::fprintf(stderr, "adclick: unknown command '%s' (see adclick help)\n", command.c_str());
    return 2;
}

} // namespace adclick::app
