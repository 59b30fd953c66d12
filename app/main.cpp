#include "cli.h"
#include "dashboard_command.h"

#include <cstdio>

int main(int argc, char** argv)
{
    // `adclick` alone: the desktop dashboard when a display is available, else the usage text.
    if (argc == 1 && adclick::app::haveDisplay())
        return adclick::app::runDashboardCommand({}, stdout, stderr);
    return adclick::app::runCli(argc, argv);
}
