#pragma once

#include "batch/batch_scheduler.h"
#include "ingest/kafka_source.h"
#include "ingest/synthetic_source.h"
#include "pipeline/pipeline_config.h"
#include "storage/checkpointer.h"

#include <optional>
#include <string>
#include <vector>

namespace adclick::app {

enum class SourceKind { Generator, File, Kafka };
enum class ClockKind { Virtual, Real };

/// Options shared by `adclick run` and (later) `serve`, parsed from the command line.
struct RunOptions {
    SourceKind source = SourceKind::Generator;
    std::string input; ///< --input PATH|- (file source)
    engine::KafkaSourceConfig kafka; ///< --brokers, --topic, --group, --start, --dead-letter-topic (kafka source)
    double speedup = 0; ///< --speedup X: file replay paced by event time (0 = as fast as possible)
    ClockKind clock = ClockKind::Real;
    std::optional<engine::TimeMs> durationMs; ///< --duration (processing time)
    bool json = false;
    int topN = 10; ///< how many of the top-K the report prints
    engine::GeneratorConfig generator;
    engine::PipelineConfig pipeline;
    /// Durable store: on unless --no-store. dataDirectory empty = the user's data directory.
    bool store = true;
    std::string dataDirectory; ///< --data-dir
    engine::CheckpointerConfig checkpoints; ///< intervals and retention (directory filled in at run time)
    engine::BatchScheduleConfig batchSchedule; ///< scheduled batch recounts (needs the store)
};

/// Result of parsing: either options or a one-line error naming the bad option.
struct ParsedRun {
    RunOptions options;
    std::string error; ///< empty on success
    bool help = false;
};

/// Parses the arguments after the subcommand. Never throws.
ParsedRun parseRunOptions(const std::vector<std::string>& args);

/// The stderr warning `adclick run` prints while --inject-speed-fault is active (empty when not).
std::string speedFaultWarning(const RunOptions& options);

/// The --help text for `adclick run` (every option with its unit and default).
std::string runHelpText();

} // namespace adclick::app
