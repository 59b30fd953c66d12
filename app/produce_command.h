#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace adclick::app {

/// `adclick produce`: the synthetic generator as an idempotent Kafka producer (enable.idempotence,
/// acks=all), keyed by ad id, paced to --rate of wall time for --duration, reporting delivered/s.
/// --oracle FILE writes every produced record as one NDJSON line, in produce order, so tests can
/// build a brute-force oracle. Exit 0 when every record was delivered, 1 otherwise, 2 on bad options.
int runProduceCommand(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);

std::string produceHelpText();

} // namespace adclick::app
