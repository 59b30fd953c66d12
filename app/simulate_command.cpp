#include "simulate_command.h"

#include "gui_application.h"
#include "sim_charts.h"
#include "sim_expect.h"
#include "sim_runner.h"
#include "sim_scenario.h"

#include <QApplication>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include <unistd.h>

namespace adclick::app {

using namespace adclick::engine;

namespace {
bool writeJson(const QString& path, const QJsonObject& o)
{
    QFile f(path);
    return f.open(QIODevice::WriteOnly | QIODevice::Truncate) && f.write(QJsonDocument(o).toJson()) >= 0;
}

double residentMiB()
{
    std::ifstream statm("/proc/self/statm");
    long long pages = 0, resident = 0;
    statm >> pages >> resident;
    return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

// Long runs show progress on stderr (not part of the report): at most once a wall-clock minute.
class ProgressLine {
public:
    ProgressLine(const SimRunner& runner, std::FILE* err)
        : m_runner(runner)
        , m_err(err)
        , m_start(std::chrono::steady_clock::now())
        , m_last(m_start)
    {
    }
    void maybePrint()
    {
        const auto now = std::chrono::steady_clock::now();
        if (now - m_last < std::chrono::minutes(1))
            return;
        m_last = now;
        const double wall = std::chrono::duration<double>(now - m_start).count();
        const std::uint64_t records = m_runner.recordsProduced();
        const TimeMs simulatedMin = m_runner.elapsedMs() / kMsPerMinute;
        std::fprintf(m_err,
            "progress: %lldh%02lldm of %s simulated, %llu records, %.0f records/s, wall %.0f s, RSS %.0f MiB\n",
            static_cast<long long>(simulatedMin / 60), static_cast<long long>(simulatedMin % 60),
            formatDurationMs(m_runner.durationMs()).c_str(), static_cast<unsigned long long>(records),
            wall > 0 ? static_cast<double>(records) / wall : 0.0, wall, residentMiB());
        std::fflush(m_err);
    }

private:
    const SimRunner& m_runner;
    std::FILE* m_err;
    std::chrono::steady_clock::time_point m_start;
    std::chrono::steady_clock::time_point m_last;
};

} // namespace

std::string simulateHelpText()
{
    return "Usage: adclick simulate FILE.json [--report DIR] [--ci] [--no-charts] [--keep-data]\n\n"
           "Runs a scenario (see simulations/README.md) headless on a virtual clock and checks its expectations.\n\n"
           "Options:\n"
           "  --report DIR   where report.json, timings.json and the PNG charts go (default sim-report/NAME)\n"
           "  --ci           use the scenario's shorter ci_duration when it states one\n"
           "  --no-charts    skip the PNG charts\n"
           "  --keep-data    keep the data directories (SQLite store, raw log) under DIR\n\n"
           "Exit code: 0 every expectation holds, 1 one failed, 2 bad command line or scenario, 3 the run failed.\n";
}

int runSimulateCommand(const std::vector<std::string>& args, std::FILE* out, std::FILE* err)
{
    std::string file, reportDir;
    bool ci = false, charts = true, keepData = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") {
            std::fputs(simulateHelpText().c_str(), out);
            return 0;
        }
        if (a == "--ci")
            ci = true;
        else if (a == "--no-charts")
            charts = false;
        else if (a == "--keep-data")
            keepData = true;
        else if (a == "--report") {
            if (++i >= args.size()) {
                std::fprintf(err, "adclick simulate: --report needs a directory\n");
                return 2;
            }
            reportDir = args[i];
        } else if (!a.empty() && a[0] == '-') {
            std::fprintf(err, "adclick simulate: unknown option %s (see adclick simulate --help)\n", a.c_str());
            return 2;
        } else if (file.empty())
            file = a;
        else {
            std::fprintf(
                err, "adclick simulate: one scenario file at a time (got %s and %s)\n", file.c_str(), a.c_str());
            return 2;
        }
    }
    if (file.empty()) {
        std::fprintf(err, "adclick simulate: which scenario? (adclick simulate simulations/NAME.json)\n");
        return 2;
    }
    std::string error;
    std::optional<Scenario> scenario = loadScenario(file, error);
    if (!scenario) {
        std::fprintf(err, "adclick simulate: %s\n", error.c_str());
        return 2;
    }
    if (reportDir.empty())
        reportDir = "sim-report/" + scenario->name;
    std::error_code ec;
    std::filesystem::create_directories(reportDir, ec);
    if (ec) {
        std::fprintf(err, "adclick simulate: cannot create %s: %s\n", reportDir.c_str(), ec.message().c_str());
        return 3;
    }

    std::fprintf(out, "%s — %s\n", scenario->name.c_str(), scenario->title.c_str());
    if (!scenario->teaches.empty())
        std::fprintf(out, "%s\n", scenario->teaches.c_str());
    std::fflush(out);
    QJsonArray narrative;
    SimRunner runner(*scenario, reportDir, ci);
    runner.setNarrative([&](const std::string& line) {
        std::fprintf(out, "%s\n", line.c_str());
        std::fflush(out);
        narrative.append(QString::fromStdString(line));
    });
    ProgressLine progress(runner, err);
    if (runner.start())
        while (runner.advance(10 * kMsPerMinute))
            progress.maybePrint();
    if (!runner.error().empty()) {
        std::fprintf(err, "adclick simulate: %s: %s\n", file.c_str(), runner.error().c_str());
        return 3;
    }

    // Expectations.
    const QJsonObject& figures = runner.figures();
    QJsonArray checks;
    int failed = 0;
    for (const ExpectationResult& e : evaluateExpectations(*scenario, figures)) {
        QJsonObject c { { "expect", QString::fromStdString(e.text) } };
        if (!e.known) {
            QStringList known = figures.keys();
            std::fprintf(err, "adclick simulate: %s: %s: unknown figure '%s' (figures: %s)\n", file.c_str(),
                e.path.c_str(), e.unknownFigure.c_str(), known.join(", ").toStdString().c_str());
            c.insert("passed", false);
            ++failed;
        } else {
            c.insert("actual", e.actual);
            c.insert("passed", e.passed);
            std::fprintf(e.passed ? out : err, "%s: %s (actual: %s)\n", e.passed ? "PASS" : "FAILED expectation",
                e.text.c_str(), e.actualText.c_str());
            failed += e.passed ? 0 : 1;
        }
        checks.append(c);
    }

    QJsonObject report { { "scenario", QString::fromStdString(scenario->name) },
        { "title", QString::fromStdString(scenario->title) }, { "teaches", QString::fromStdString(scenario->teaches) },
        { "seed", static_cast<double>(scenario->seed) }, { "duration_ms", static_cast<double>(runner.durationMs()) },
        { "ci", ci }, { "figures", figures }, { "expectations", checks }, { "passed", failed == 0 },
        { "narrative", narrative }, { "series", runner.series() } };
    const QString dir = QString::fromStdString(reportDir);
    if (!writeJson(dir + "/report.json", report)) {
        std::fprintf(err, "adclick simulate: cannot write %s/report.json\n", reportDir.c_str());
        return 3;
    }
    const double events = figures.value("records").toDouble();
    writeJson(dir + "/timings.json",
        QJsonObject { { "wall_seconds", runner.wallSeconds() },
            { "records_per_wall_second", runner.wallSeconds() > 0 ? events / runner.wallSeconds() : 0.0 } });
    std::fprintf(out, "runtime: %.1f s of wall time for %s of processing time\n", runner.wallSeconds(),
        formatDurationMs(runner.durationMs()).c_str());
    if (charts) {
        auto app = ensureGuiApplication(true); // charts need one; offscreen without a display
        QString chartError;
        const QStringList pngs = renderSimCharts(report, dir, chartError);
        if (!chartError.isEmpty()) {
            std::fprintf(err, "adclick simulate: %s\n", chartError.toStdString().c_str());
            return 3;
        }
        std::fprintf(
            out, "report: %s/report.json and %lld chart(s)\n", reportDir.c_str(), static_cast<long long>(pngs.size()));
    } else {
        std::fprintf(out, "report: %s/report.json\n", reportDir.c_str());
    }
    if (!keepData)
        for (const auto& entry : std::filesystem::directory_iterator(reportDir, ec))
            if (entry.is_directory() && entry.path().filename().string().rfind("data", 0) == 0)
                std::filesystem::remove_all(entry.path(), ec);
    if (failed) {
        std::fprintf(err, "adclick simulate: %s: %d expectation(s) failed\n", scenario->name.c_str(), failed);
        return 1;
    }
    return 0;
}

} // namespace adclick::app
