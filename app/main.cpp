#include "cli.h"

int main(int argc, char** argv)
{
    return adclick::app::runCli(argc, argv);
}
