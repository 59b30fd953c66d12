#include "play_command.h"

#include "gui_application.h"
#include "sim_player.h"
#include "sim_scenario.h"

#include <QApplication>
#include <QPixmap>

#include <cstdlib>
#include <memory>

namespace adclick::app {

using namespace adclick::engine;

std::string playHelpText()
{
    return "Usage: adclick play FILE.json [--ci] [--speed 10s|1m|10m|1h|max] [--pause-at-steps]\n"
           "                  [--screenshot PNG] [--quit-when-done]\n\n"
           "Plays a scenario (simulations/*.json) in a window: the same run as `adclick simulate`, paced to a\n"
           "speed, each step of its narrative shown as a caption, live charts, and its expectations at the end.\n"
           "Space plays and pauses.\n\n"
           "Options:\n"
           "  --ci               use the scenario's shorter ci_duration\n"
           "  --speed S          simulated time per second of wall time (default 1m; max: as fast as it goes)\n"
           "  --pause-at-steps   pause at each step of the narrative (press Space to go on)\n"
           "  --screenshot PNG   save the window as PNG when the scenario ends\n"
           "  --quit-when-done   play at once and exit when it ends: 0 every expectation holds, 1 one failed\n\n"
           "Without a display set QT_QPA_PLATFORM=offscreen (with --quit-when-done).\n";
}

int runPlayCommand(const std::vector<std::string>& args, std::FILE* out, std::FILE* err)
{
    std::string file, screenshot;
    bool ci = false, pauseAtSteps = false, quitWhenDone = false;
    double speed = 60'000;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto value = [&](const char* what) -> const std::string* {
            if (i + 1 >= args.size()) {
                std::fprintf(err, "adclick play: %s needs %s\n", a.c_str(), what);
                return nullptr;
            }
            return &args[++i];
        };
        if (a == "--help" || a == "-h") {
            std::fputs(playHelpText().c_str(), out);
            return 0;
        }
        if (a == "--ci")
            ci = true;
        else if (a == "--pause-at-steps")
            pauseAtSteps = true;
        else if (a == "--quit-when-done")
            quitWhenDone = true;
        else if (a == "--screenshot") {
            const std::string* v = value("a file name");
            if (!v)
                return 2;
            screenshot = *v;
        } else if (a == "--speed") {
            const std::string* v = value("a duration per second (10s, 1m, 10m, 1h) or max");
            if (!v)
                return 2;
            const std::optional<TimeMs> ms = *v == "max" ? std::optional<TimeMs>(0) : parseDurationMs(*v);
            if (!ms || *ms < 0) {
                std::fprintf(err, "adclick play: --speed: expected a duration such as 1m, or max (got '%s')\n", v->c_str());
                return 2;
            }
            speed = static_cast<double>(*ms);
        } else if (!a.empty() && a[0] == '-') {
            std::fprintf(err, "adclick play: unknown option %s (see adclick play --help)\n", a.c_str());
            return 2;
        } else if (file.empty())
            file = a;
        else {
            std::fprintf(err, "adclick play: one scenario file at a time (got %s and %s)\n", file.c_str(), a.c_str());
            return 2;
        }
    }
    if (file.empty()) {
        std::fprintf(err, "adclick play: which scenario? (adclick play simulations/NAME.json)\n");
        return 2;
    }
    std::string error;
    std::optional<Scenario> scenario = loadScenario(file, error);
    if (!scenario) {
        std::fprintf(err, "adclick play: %s\n", error.c_str());
        return 2;
    }
    if (!QCoreApplication::instance() && !std::getenv("DISPLAY") && !std::getenv("WAYLAND_DISPLAY")
        && !std::getenv("QT_QPA_PLATFORM")) {
        std::fprintf(err, "adclick play: no display (set DISPLAY, or QT_QPA_PLATFORM=offscreen with --quit-when-done); "
                          "`adclick simulate` runs a scenario headless\n");
        return 2;
    }
    const std::unique_ptr<QApplication> ownApp = ensureGuiApplication(false);

    SimPlayer player(*scenario, ci);
    player.setSpeed(speed);
    player.setPauseAtSteps(pauseAtSteps && !quitWhenDone);
    int exitCode = 0;
    QObject::connect(&player, &SimPlayer::done, &player, [&](bool passed) {
        for (const ExpectationResult& r : player.results())
            std::fprintf(r.known && r.passed ? out : err, "%s: %s (%s)\n", r.known && r.passed ? "PASS" : "FAILED expectation",
                r.text.c_str(), r.known ? r.actualText.c_str() : ("unknown figure " + r.unknownFigure).c_str());
        if (!player.error().isEmpty())
            std::fprintf(err, "adclick play: %s: %s\n", file.c_str(), player.error().toStdString().c_str());
        exitCode = !player.error().isEmpty() ? 3 : passed ? 0 : 1;
        if (!screenshot.empty() && !player.grab().save(QString::fromStdString(screenshot))) {
            std::fprintf(err, "adclick play: cannot write %s\n", screenshot.c_str());
            exitCode = 3;
        }
        if (quitWhenDone)
            QCoreApplication::quit();
    });
    player.show();
    std::fprintf(out, "%s — %s\n", scenario->name.c_str(), scenario->title.c_str());
    std::fflush(out);
    if (quitWhenDone)
        player.play();
    QApplication::exec();
    return exitCode;
}

} // namespace adclick::app
