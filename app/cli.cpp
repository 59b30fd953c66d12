#include "cli.h"

#include <cstdio>

namespace adclick::app {

int runCli(int argc, char** argv)
{
    std::fprintf(stderr, "adclick: no command yet\n");
    return 2;
}

} // namespace adclick::app
