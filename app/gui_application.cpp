#include "gui_application.h"

#include <cstdlib>
#include <filesystem>

namespace adclick::app {

std::unique_ptr<QApplication> ensureGuiApplication(bool offscreenWithoutDisplay)
{
    if (QCoreApplication::instance())
        return nullptr;
    if (offscreenWithoutDisplay && !std::getenv("QT_QPA_PLATFORM") && !std::getenv("DISPLAY")
        && !std::getenv("WAYLAND_DISPLAY"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    if (!std::getenv("XDG_RUNTIME_DIR")) {
        const std::string dir = (std::filesystem::temp_directory_path() / "adclick-runtime").string();
        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
        qputenv("XDG_RUNTIME_DIR", QByteArray::fromStdString(dir));
    }
    static int argc = 1;
    static char name[] = "adclick";
    static char* argv[] = { name, nullptr };
    return std::make_unique<QApplication>(argc, argv);
}

} // namespace adclick::app
