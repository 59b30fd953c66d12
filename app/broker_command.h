#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace adclick::app {

/// `adclick broker`: an in-memory Kafka-protocol test broker (librdkafka's mock cluster) on
/// loopback, for demos and tests. Not a production Kafka: nothing is persisted and each partition
/// keeps only its last ~5 MB. Runs until SIGINT/SIGTERM or end of standard input is not required
/// (stdin commands: "down N", "up N" take broker N down / bring it back). Returns the exit code.
int runBrokerCommand(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);

std::string brokerHelpText();

} // namespace adclick::app
