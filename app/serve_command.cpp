#include "serve_command.h"

#include "ingest_session.h"
#include "query/query_service.h"
#include "rest_server.h"
#include "scale_serve.h"
#include "serve_process.h"

#include <QCoreApplication>
#include <QTimer>

#include <atomic>
#include <csignal>
#include <memory>
#include <thread>

namespace adclick::app {

using namespace adclick::engine;

namespace {
std::atomic<IngestSession*> g_session { nullptr };
std::atomic<bool> g_stop { false };

extern "C" void onServeSignal(int)
{
    g_stop.store(true);
    if (IngestSession* s = g_session.load())
        s->requestStop(); // atomic stores only: async-signal-safe
}

/// "HOST:PORT", "[v6]:PORT" or ":PORT"/"PORT" (loopback).
bool parseListen(const std::string& text, QHostAddress& address, quint16& port)
{
    const std::size_t colon = text.rfind(':');
    std::string host = colon == std::string::npos ? std::string() : text.substr(0, colon);
    const std::string portText = colon == std::string::npos ? text : text.substr(colon + 1);
    bool ok = false;
    const uint p = QString::fromStdString(portText).toUInt(&ok, 10);
    if (!ok || p > 65535 || portText.empty() || portText.size() > 5)
        return false;
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    if (host.empty() || host == "localhost")
        address = QHostAddress::LocalHost;
    else if (!address.setAddress(QString::fromStdString(host)))
        return false;
    port = static_cast<quint16>(p);
    return true;
}

bool isLoopback(const QHostAddress& a)
{
    return a.isLoopback();
}
} // namespace

ParsedServe parseServeOptions(const std::vector<std::string>& args, const char* environmentToken)
{
    ParsedServe r;
    if (environmentToken && *environmentToken)
        r.options.apiToken = environmentToken;
    std::vector<std::string> rest;
    bool checkpointIntervalGiven = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string name = args[i];
        std::string value;
        bool hasValue = false;
        if (auto eq = name.find('='); eq != std::string::npos && name.rfind("--", 0) == 0) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
            hasValue = true;
        }
        if (name == "--help" || name == "-h") {
            r.help = true;
            return r;
        }
        if (name == "--listen" || name == "--api-token" || name == "--store" || name == "--instance-id"
            || name == "--shared-dir") {
            if (!hasValue) {
                if (i + 1 >= args.size()) {
                    r.error = "option " + name + " needs a value";
                    return r;
                }
                value = args[++i];
            }
            if (name == "--listen") {
                if (!parseListen(value, r.options.address, r.options.port)) {
                    r.error = "invalid value '" + value + "' for --listen (expected HOST:PORT, e.g. 127.0.0.1:8080, "
                              "[::1]:8080 or 0.0.0.0:8080; port 0 lets the system choose)";
                    return r;
                }
                r.options.explicitListen = true;
            } else if (name == "--store" || name == "--instance-id" || name == "--shared-dir") {
                if (value.empty() || value.size() > 4096) {
                    r.error = name + " needs a non-empty value of at most 4096 bytes";
                    return r;
                }
                (name == "--store" ? r.options.storeUrl
                        : name == "--instance-id" ? r.options.instanceId
                                                  : r.options.sharedDir)
                    = value;
            } else {
                if (value.empty() || value.size() > 4096) {
                    r.error = "--api-token needs a non-empty token of at most 4096 bytes";
                    return r;
                }
                r.options.apiToken = QByteArray::fromStdString(value);
            }
            continue;
        }
        if (name == "--checkpoint-interval")
            checkpointIntervalGiven = true;
        rest.push_back(args[i]);
    }
    ParsedRun run = parseRunOptions(rest);
    if (run.help) {
        r.help = true;
        return r;
    }
    r.error = run.error;
    r.options.run = std::move(run.options);
    // Counts reach the REST API at each checkpoint: a shorter default keeps them fresh (≤ ~0.5 s).
    if (!checkpointIntervalGiven)
        r.options.run.checkpoints.intervalMs = 500;
    if (r.error.empty())
        r.error = validateScaleServeOptions(r.options);
    return r;
}

std::string serveHelpText()
{
    std::string text = "Usage: adclick serve [--listen HOST:PORT] [--api-token T] [run options]\n\n"
                       "Runs the pipeline of `adclick run` headless with the REST API (and, later, the web\n"
                       "dashboard) on HOST:PORT. Ctrl-C or SIGTERM: stop accepting, final checkpoint, exit 0.\n\n"
                       "Server options:\n"
                       "  --listen HOST:PORT      where to listen (default 127.0.0.1:8080; port 0 = any free port,\n"
                       "                          printed). A non-loopback address prints a warning: use --api-token\n"
                       "  --api-token T           require 'Authorization: Bearer T' on every route but /healthz and /\n"
                       "                          (default: $ADCLICK_API_TOKEN; unset = no authentication)\n"
                       "  --checkpoint-interval D serve's default is 500ms (counts reach the API at each checkpoint)\n\n"
                       "Scale-out (several instances, one Kafka group, one PostgreSQL; docs/SCALE-OUT.md):\n"
                       "  --store postgresql://USER@HOST:PORT/DB  the shared store (also postgres://; a libpq URL).\n"
                       "                          Needs --source kafka --brokers … --topic … --group …\n"
                       "  --instance-id ID        this instance in the store (default HOST:PORT of the API)\n"
                       "  --shared-dir DIR        raw logs of every partition, shared by the instances (required)\n\n"
                       "The API: GET /v1/openapi.json, or README \"REST API\".\n\n";
    std::string run = runHelpText();
    const std::size_t options = run.find("Options:");
    return text + "Run options (as for adclick run):\n" + (options == std::string::npos ? run : run.substr(options + 9));
}

int runServeCommand(const ServeOptions& options, std::FILE* out, std::FILE* err)
{
    if (!options.storeUrl.empty())
        return runScaleServe(options, out, err);
    g_stop.store(false);
    const ServeProcessScope process(onServeSignal);
    if (const std::string warning = speedFaultWarning(options.run); !warning.empty())
        std::fprintf(err, "adclick: warning: %s\n", warning.c_str());

    IngestSession session(options.run, out, err);
    QueryServiceOptions qo;
    qo.windowMs = options.run.pipeline.window.windowMs;
    qo.allowedLatenessMs = options.run.pipeline.window.allowedLatenessMs;
    qo.maxConnections = 8; // the REST workers hold at most 4: queries on the event loop never wait for one
    QueryService queries(options.run.store ? (options.run.dataDirectory.empty() ? defaultDataDirectory()
                                                                                : options.run.dataDirectory)
                                           : std::string(),
        qo);
    RestServerConfig rc;
    rc.apiToken = options.apiToken;
    auto server = std::make_unique<RestServer>(queries, &session, rc);
    const quint16 port = server->listen(options.address, options.port);
    const QString host = options.address.protocol() == QAbstractSocket::IPv6Protocol
        ? "[" + options.address.toString() + "]"
        : options.address.toString();
    if (port == 0) {
        std::fprintf(err, "adclick: cannot listen on %s:%u: %s\n", host.toUtf8().constData(), options.port,
            server->servers().isEmpty() ? "address in use or not available" : "listen failed");
        return 1;
    }
    if (!isLoopback(options.address))
        std::fprintf(err,
            "adclick: warning: listening on %s:%u, reachable from other machines%s\n", host.toUtf8().constData(),
            port, options.apiToken.isEmpty() ? " WITHOUT authentication (set --api-token)" : "");

    g_session.store(&session);
    if (g_stop.load())
        session.requestStop();
    if (!session.open()) {
        g_session.store(nullptr);
        return 1;
    }
    queries.setLiveSnapshotProvider([&session] { return session.snapshot(); });
    std::fprintf(out, "adclick serve: listening on http://%s:%u (REST API; GET /v1/openapi.json lists the routes)%s\n",
        host.toUtf8().constData(), port, options.apiToken.isEmpty() ? "" : "; API token required");
    std::fflush(out);

    std::atomic<int> exitCode { 0 };
    std::thread ingest([&] { exitCode = session.loop(true); });
    bool stopping = false;
    bool reportedEnd = false;
    QTimer watch;
    watch.setInterval(50);
    QObject::connect(&watch, &QTimer::timeout, [&] {
        if (g_stop.load() && !stopping) {
            stopping = true;
            server->setStopping(true);
            server->stopAccepting();
            session.requestStop();
            std::fprintf(out, "adclick serve: stopping: no new connections; final checkpoint…\n");
            std::fflush(out);
        }
        if (session.ended()) {
            if (stopping) {
                QCoreApplication::quit();
            } else if (!reportedEnd) {
                reportedEnd = true;
                std::fprintf(out, "adclick serve: the input ended; still serving the results (Ctrl-C to stop)\n");
                std::fflush(out);
            }
        }
    });
    watch.start();
    QCoreApplication::exec();
    watch.stop();
    ingest.join();
    server.reset(); // waits for queries in flight
    queries.setLiveSnapshotProvider({});
    g_session.store(nullptr);
    std::fprintf(out, "adclick serve: stopped\n");
    std::fflush(out);
    return exitCode.load();
}

} // namespace adclick::app
