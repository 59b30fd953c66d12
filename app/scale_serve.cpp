#include "scale_serve.h"

#include "pg_rest_server.h"
#include "pg_shared_queries.h"
#include "serve_process.h"
#include "storage/pg_partitioned_ingest.h"

#include <QCoreApplication>
#include <QSysInfo>
#include <QTimer>

#include <atomic>
#include <csignal>
#include <memory>
#include <thread>

namespace adclick::app {

using namespace adclick::engine;

namespace {
std::atomic<PartitionedIngest*> g_ingest { nullptr };
std::atomic<bool> g_stop { false };

extern "C" void onScaleServeSignal(int)
{
    g_stop.store(true);
    if (PartitionedIngest* i = g_ingest.load())
        i->requestStop(); // an atomic store: async-signal-safe
}
} // namespace

bool isPostgresStoreUrl(const std::string& url)
{
    return url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
}

std::string validateScaleServeOptions(const ServeOptions& o)
{
    if (o.storeUrl.empty()) {
        if (!o.instanceId.empty() || !o.sharedDir.empty())
            return "--instance-id and --shared-dir are only valid with --store postgresql://…";
        return {};
    }
    if (!isPostgresStoreUrl(o.storeUrl))
        return "--store: expected a PostgreSQL URL, postgresql://USER@HOST:PORT/DB (the embedded SQLite store is "
               "the default: leave --store out and use --data-dir)";
    if (o.run.source != SourceKind::Kafka)
        return "--store postgresql://… scales out over a Kafka consumer group: give --source kafka --brokers "
               "HOST:PORT --topic T --group G";
    if (o.sharedDir.empty())
        return "--store postgresql://… needs --shared-dir DIR (the raw logs of every partition, shared by the "
               "instances)";
    if (!o.run.dataDirectory.empty() || !o.run.store)
        return "--data-dir and --no-store do not apply with --store postgresql://… (state lives in PostgreSQL and "
               "--shared-dir)";
    if (o.run.kafka.stopAtEnd)
        return "--until-end does not apply to serve with --store postgresql://… (stop it with SIGTERM)";
    return {};
}

int runScaleServe(const ServeOptions& options, std::FILE* out, std::FILE* err)
{
    g_stop.store(false);
    const ServeProcessScope process(onScaleServeSignal);

    const RunOptions& run = options.run;
    PgSharedQueries queries(options.storeUrl, run.kafka.topic);
    // The ingest is created once the port is known (its default id and host name the API); the
    // server asks it for its status through this pointer, null until then.
    std::unique_ptr<PartitionedIngest> ingest;
    PgRestServerConfig rc;
    rc.apiToken = options.apiToken;
    rc.windowMs = run.pipeline.window.windowMs;
    rc.checkpointIntervalMs = run.checkpoints.intervalMs;
    PartitionedIngestStatus starting;
    starting.instanceId = options.instanceId;
    auto server = std::make_unique<PgRestServer>(
        queries, [&ingest, &starting] { return ingest ? ingest->status() : starting; }, rc);
    const quint16 port = server->listen(options.address, options.port);
    const QString hostText = options.address.protocol() == QAbstractSocket::IPv6Protocol
        ? "[" + options.address.toString() + "]"
        : options.address.toString();
    if (port == 0) {
        std::fprintf(err, "adclick: cannot listen on %s:%u: address in use or not available\n",
            hostText.toUtf8().constData(), options.port);
        return 1;
    }
    if (!options.address.isLoopback())
        std::fprintf(err, "adclick: warning: listening on %s:%u, reachable from other machines%s\n",
            hostText.toUtf8().constData(), port,
            options.apiToken.isEmpty() ? " WITHOUT authentication (set --api-token)" : "");

    PartitionedIngestConfig config;
    config.pipeline = run.pipeline;
    config.sourceKey = run.kafka.topic;
    config.host = QString("%1:%2").arg(hostText).arg(port).toStdString();
    config.instanceId = options.instanceId.empty()
        ? QString("%1:%2").arg(QSysInfo::machineHostName()).arg(port).toStdString()
        : options.instanceId;
    config.sharedDir = options.sharedDir;
    config.checkpointIntervalMs = run.checkpoints.intervalMs;
    starting.instanceId = config.instanceId;
    SystemClock clock;
    ingest = std::make_unique<PartitionedIngest>(config, run.kafka, options.storeUrl, clock);
    g_ingest.store(ingest.get());
    if (g_stop.load())
        ingest->requestStop();

    std::fprintf(out,
        "adclick serve: instance %s of group %s (topic %s), shared store %s, raw logs under %s\n"
        "adclick serve: listening on http://%s:%u (REST API over the shared store)%s\n",
        config.instanceId.c_str(), run.kafka.group.c_str(), run.kafka.topic.c_str(), options.storeUrl.c_str(),
        config.sharedDir.c_str(), hostText.toUtf8().constData(), port,
        options.apiToken.isEmpty() ? "" : "; API token required");
    std::fflush(out);

    std::atomic<int> exitCode { 0 };
    std::atomic<bool> ended { false };
    std::thread thread([&] {
        if (!ingest->open())
            exitCode = 1;
        else
            exitCode = ingest->run(); // until requestStop(), then the final checkpoints
        ended.store(true);
    });
    bool stopping = false;
    QTimer watch;
    watch.setInterval(50);
    QObject::connect(&watch, &QTimer::timeout, [&] {
        if (g_stop.load() && !stopping) {
            stopping = true;
            server->setStopping(true);
            server->stopAccepting();
            ingest->requestStop();
            std::fprintf(out, "adclick serve: stopping: final checkpoint of every owned partition…\n");
            std::fflush(out);
        }
        if (ended.load()) {
            if (!stopping) // ingestion failed on its own: exit, so a supervisor restarts this instance
                std::fprintf(err, "adclick serve: ingestion stopped: %s\n", ingest->error().c_str());
            QCoreApplication::quit();
        }
    });
    watch.start();
    QCoreApplication::exec();
    watch.stop();
    thread.join();
    g_ingest.store(nullptr);
    server.reset();
    const PartitionedIngestStatus last = ingest->status();
    std::fprintf(out,
        "adclick serve: stopped (%llu partitions claimed, %llu released, %llu checkpoints, %llu events)\n",
        static_cast<unsigned long long>(last.claims), static_cast<unsigned long long>(last.releases),
        static_cast<unsigned long long>(last.checkpoints), static_cast<unsigned long long>(last.accepted));
    std::fflush(out);
    return exitCode.load();
}

} // namespace adclick::app
