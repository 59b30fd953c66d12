#include "dashboard_command.h"

#include "clicks_panel.h"
#include "control_panel.h"
#include "dashboard_engine.h"
#include "explore_panel.h"
#include "gui_application.h"
#include "main_window.h"
#include "pipeline_access.h"
#include "reconciliation_panel.h"
#include "rest_server.h"
#include "serve_command.h"
#include "sim_player.h"

#include <QApplication>
#include <QEventLoop>
#include <QMessageBox>
#include <QSettings>
#include <QTimer>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <memory>

namespace adclick::app {

using namespace adclick::ui;

namespace {
/// The REST server's view of the dashboard's engine: /v1/pipeline, /metrics and POST
/// /v1/batch/runs answer from the running pipeline as under `adclick serve`.
class DashboardAccess final : public PipelineAccess {
public:
    explicit DashboardAccess(DashboardEngine& engine)
        : m_engine(engine)
    {
    }
    engine::TimeMs nowMs() const override { return m_engine.nowMs(); }
    std::shared_ptr<const engine::PipelineSnapshot> snapshot() const override { return m_engine.snapshot(); }
    std::optional<engine::CheckpointStats> checkpointStats() const override { return m_engine.status()->checkpoint; }
    std::shared_ptr<engine::BatchScheduler> batches() override { return m_engine.batchScheduler(); }
    std::string sourceDescription() const override { return m_engine.status()->sourceDescription; }
    engine::TimeMs watermarkBoundMs() const override { return m_engine.status()->settings.pipeline.watermark.boundMs; }
    engine::TimeMs aggregateRetentionMs() const override
    {
        return m_engine.status()->settings.checkpoints.retention.aggregateRetentionMs;
    }
    bool ended() const override
    {
        const EngineState s = m_engine.status()->state;
        return s == EngineState::Stopped || s == EngineState::Ended || s == EngineState::Failed;
    }

private:
    DashboardEngine& m_engine;
};

std::atomic<bool> g_closeRequested { false };

extern "C" void onDashboardSignal(int)
{
    g_closeRequested.store(true);
}

DashboardSettings settingsFrom(const RunOptions& o)
{
    DashboardSettings s;
    s.source = o.source == SourceKind::Kafka ? DashboardSource::Kafka
        : o.source == SourceKind::File       ? DashboardSource::File
                                             : DashboardSource::Generator;
    s.generator = o.generator;
    s.inputPath = o.input;
    s.fileSpeedup = o.speedup;
    s.kafka = o.kafka;
    s.pipeline = o.pipeline;
    s.dataDirectory = o.dataDirectory;
    s.checkpoints = o.checkpoints;
    s.batchSchedule = o.batchSchedule;
    s.speed = o.clock == ClockKind::Virtual ? 1000.0 : 1.0;
    return s;
}
} // namespace

bool haveDisplay()
{
    for (const char* name : { "DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM" })
        if (const char* v = std::getenv(name); v && *v)
            return true;
    return false;
}

std::string dashboardHelpText()
{
    std::string text = "Usage: adclick dashboard [--listen HOST:PORT] [--api-token T] [run options]\n\n"
                       "Opens the desktop dashboard (also what `adclick` alone does when a display is available):\n"
                       "the pipeline of `adclick serve` with live charts, controls (start, pause, stop, clock speed,\n"
                       "generator knobs, batch runs, crash injection) and the REST API on HOST:PORT (default\n"
                       "127.0.0.1:8080; a busy port is a warning, the dashboard still opens). Without run options\n"
                       "the controls come back as they were left.\n\n";
    const std::string serve = serveHelpText();
    const std::size_t run = serve.find("Run options");
    return text
        + "  --screenshots DIR       save a PNG of each panel into DIR after --screenshot-after S seconds\n"
          "                          (default 30; a batch run is started half-way), then close\n\n"
        + (run == std::string::npos ? serve : serve.substr(run));
}

namespace {
/// Screenshots: the reconciliation panel drills down into its worst window (raw events with their
/// lateness), waiting up to 10 s for the report and then for the drill-down.
void drillIntoWorstWindow(ReconciliationPanel& panel)
{
    auto waitFor = [&panel](auto signal) {
        QEventLoop wait;
        QObject::connect(&panel, signal, &wait, &QEventLoop::quit);
        QTimer::singleShot(10000, &wait, &QEventLoop::quit);
        wait.exec();
    };
    if (!panel.report() || !panel.report()->ok) {
        panel.refresh();
        waitFor(&ReconciliationPanel::reportUpdated);
    }
    const engine::ReconcileReport* report = panel.report();
    if (!report || !report->ok || report->worstCells.empty())
        return;
    panel.drillDown(report->worstCells.front().adId, report->worstCells.front().minuteMs);
    waitFor(&ReconciliationPanel::drillDownUpdated);
}
} // namespace

int runDashboardCommand(const std::vector<std::string>& argsIn, std::FILE* out, std::FILE* err)
{
    // --screenshots DIR [--screenshot-after SECONDS]: documentation aid (README images).
    std::vector<std::string> args;
    QString screenshotDir;
    double screenshotAfter = 30;
    for (std::size_t i = 0; i < argsIn.size(); ++i) {
        if ((argsIn[i] == "--screenshots" || argsIn[i] == "--screenshot-after") && i + 1 < argsIn.size()) {
            if (argsIn[i] == "--screenshots")
                screenshotDir = QString::fromStdString(argsIn[++i]);
            else
                screenshotAfter = std::atof(argsIn[++i].c_str());
            continue;
        }
        args.push_back(argsIn[i]);
    }
    ParsedServe parsed = parseServeOptions(args, std::getenv("ADCLICK_API_TOKEN"));
    if (parsed.help) {
        std::fputs(dashboardHelpText().c_str(), out);
        return 0;
    }
    if (!parsed.error.empty()) {
        std::fprintf(err, "adclick dashboard: %s\n", parsed.error.c_str());
        return 2;
    }
    if (!parsed.options.run.store) {
        std::fprintf(err, "adclick dashboard: --no-store is not supported: the dashboard shows the store's views\n");
        return 2;
    }
    const std::unique_ptr<QApplication> ownApp = ensureGuiApplication(false);
    QCoreApplication::setOrganizationName(QStringLiteral("adclick"));
    QCoreApplication::setApplicationName(QStringLiteral("adclick"));
    g_closeRequested.store(false);
    auto previousInt = std::signal(SIGINT, onDashboardSignal);
    auto previousTerm = std::signal(SIGTERM, onDashboardSignal);

    // Command-line run options win; without any, the controls are restored from QSettings.
    const bool explicitRunOptions = std::any_of(args.begin(), args.end(), [](const std::string& a) {
        return a.rfind("--listen", 0) != 0 && a.rfind("--api-token", 0) != 0 && a.rfind("--", 0) == 0;
    });
    DashboardEngine engine(settingsFrom(parsed.options.run));
    MainWindow window(engine);
    if (!explicitRunOptions)
        window.controls()->loadSettings(QSettings());
    QObject::connect(&window, &MainWindow::playScenarioRequested, &window, [&window](const QString& path) {
        std::string error;
        std::optional<Scenario> scenario = loadScenario(path.toStdString(), error);
        if (!scenario) {
            QMessageBox::warning(&window, QObject::tr("Play a scenario"), QString::fromStdString(error));
            return;
        }
        auto* player = new SimPlayer(std::move(*scenario), false); // its own window, its own data
        player->setAttribute(Qt::WA_DeleteOnClose);
        player->show();
    });

    RestServerConfig rc;
    rc.apiToken = parsed.options.apiToken;
    DashboardAccess access(engine);
    auto server = std::make_unique<RestServer>(engine.queries(), &access, rc);
    const quint16 port = server->listen(parsed.options.address, parsed.options.port);
    const QString host = parsed.options.address.toString();
    if (port == 0) {
        std::fprintf(err, "adclick dashboard: warning: cannot listen on %s:%u (port busy?); the REST API is off\n",
            host.toUtf8().constData(), parsed.options.port);
        window.setServingInfo(QObject::tr("REST API off: %1:%2 is busy").arg(host).arg(parsed.options.port));
    } else {
        std::fprintf(out, "adclick dashboard: REST API on http://%s:%u\n", host.toUtf8().constData(), port);
        window.setServingInfo(QObject::tr("REST API http://%1:%2").arg(host).arg(port));
    }
    std::fflush(out);
    QTimer requests;
    requests.setInterval(1000);
    QObject::connect(&requests, &QTimer::timeout, &window, [&] {
        if (g_closeRequested.exchange(false))
            window.close();
        if (port != 0)
            window.setServingInfo(QObject::tr("REST API http://%1:%2\n%3 requests answered")
                                      .arg(host)
                                      .arg(port)
                                      .arg(server->requestsAnswered()));
    });
    requests.start();

    window.controls()->startOrRestart();
    window.show();
    if (!screenshotDir.isEmpty()) {
        const int afterMs = static_cast<int>(screenshotAfter * 1000);
        QTimer::singleShot(afterMs / 2, &window, [&window] { window.controls()->runBatchNow(); });
        // The series views show the busiest ads: two in Clicks per minute, the first in Explore.
        QTimer::singleShot(afterMs * 3 / 4, &window, [&window, &engine] {
            const auto snap = engine.snapshot();
            if (!snap || snap->topK.exact.empty())
                return;
            for (std::size_t i = 0; i < snap->topK.exact.size() && i < 2; ++i)
                window.clicks()->addAd(snap->topK.exact[i].adId);
            window.clicks()->setRangeMinutes(15);
            const engine::TimeMs to = (engine.nowMs() / engine::kMsPerMinute + 1) * engine::kMsPerMinute;
            window.explore()->explore(snap->topK.exact[0].adId, to - 30 * engine::kMsPerMinute, to);
        });
        QTimer::singleShot(afterMs, &window, [&window, screenshotDir, out] {
            const QStringList names { "pipeline", "throughput", "topk", "watermark", "reconciliation", "clicks",
                "explore" };
            for (int i = 0; i < window.tabs()->count() && i < names.size(); ++i) {
                window.tabs()->setCurrentIndex(i);
                if (names[i] == QLatin1String("reconciliation"))
                    drillIntoWorstWindow(*window.reconciliation());
                // A shown panel refreshes at the next status (≤ 200 ms): let it draw that.
                QEventLoop settle;
                QTimer::singleShot(600, &settle, &QEventLoop::quit);
                settle.exec();
                const QString path = screenshotDir + "/dashboard-" + names[i] + ".png";
                window.grab().save(path);
                std::fprintf(out, "adclick dashboard: saved %s\n", path.toUtf8().constData());
            }
            window.close();
        });
    }
    QApplication::exec();
    requests.stop();
    server->stopAccepting();
    server.reset();
    engine.shutdown();
    std::signal(SIGINT, previousInt);
    std::signal(SIGTERM, previousTerm);
    return 0;
}

} // namespace adclick::app
