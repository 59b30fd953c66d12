#pragma once

#include "run_options.h"
#include "sim_shard_model.h"

#include <optional>
#include <string>
#include <vector>

namespace adclick::app {

/// One timed step of a scenario, at a processing-time offset from the start of the run.
struct SimEvent {
    enum class Kind {
        Crash, ///< tear the process down without a final checkpoint, then recover from the data dir
        Restart, ///< clean stop (final checkpoint) and start again, optionally with new pipeline settings
        Batch, ///< run the batch layer over everything final so far
        FaultOn, ///< restart with --inject-speed-fault set to `fault`
        FaultOff, ///< restart with the fault removed
    };
    Kind kind = Kind::Batch;
    engine::TimeMs atMs = 0; ///< processing time since the start of the run
    std::string fault; ///< FaultOn: the fault spec (as --inject-speed-fault)
    std::vector<std::string> pipelineArgs; ///< Restart: settings changed (command-line form)
    std::string note; ///< optional caption from the file
    std::string path; ///< JSON path of the event, for messages
};

/// `figure OP value` or `figure OP figure`, e.g. `lost == 0`, `gap == late_dropped`.
struct SimExpectation {
    std::string text; ///< as written in the file
    std::string figure;
    std::string op; ///< == != < <= > >=
    double value = 0;
    std::string rhsFigure; ///< set when the right-hand side names a figure instead of a number
    std::string path;
};

/// One run of the timeline with its own settings; a scenario without variants has one (name "").
struct SimVariant {
    std::string name;
    std::vector<std::string> args; ///< generator + pipeline settings in command-line form
};

/// A parsed, validated scenario file (simulations/README.md describes the format).
struct Scenario {
    std::string name; ///< the file's base name
    std::string title;
    std::string teaches;
    std::uint64_t seed = 1;
    engine::TimeMs durationMs = 0;
    std::optional<engine::TimeMs> ciDurationMs;
    std::vector<std::string> baseArgs; ///< generator + pipeline settings shared by every variant
    engine::GeneratorConfig hotAd; ///< only the burst fields are used
    std::vector<SimVariant> variants; ///< never empty
    std::vector<SimEvent> events; ///< sorted by atMs
    std::vector<SimExpectation> expectations;
    engine::TimeMs sampleIntervalMs = engine::kMsPerMinute; ///< `sample_interval`: speed-layer samples for charts
    bool retentionCheck = false; ///< `retention_check`: retention figures and a daily "retention" series
    ShardModelSpec shardModel; ///< `shard_model`: non-ad-partitioned shards beside the engine (shards 0: none)
    std::string
        chart; ///< which chart README shows ("counts", "gap", "topk", "watermark", "variants", "shards", "retention")
};

/// Reads and validates a scenario file. On failure returns nullopt and sets `error` to a message
/// that starts with the file name and the JSON path of the problem (`$.generator.rate: …`).
std::optional<Scenario> loadScenario(const std::string& path, std::string& error);

/// Builds the run options of one variant (virtual clock, generator source, store in dataDir).
/// The settings were validated by loadScenario, so this only fails on extra args from events.
bool scenarioRunOptions(const Scenario& s, const SimVariant& v, const std::vector<std::string>& extraArgs,
    const std::string& dataDir, RunOptions& out, std::string& error);

} // namespace adclick::app
