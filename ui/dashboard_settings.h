#pragma once

#include "batch/batch_scheduler.h"
#include "ingest/kafka_source.h"
#include "ingest/synthetic_source.h"
#include "pipeline/pipeline_config.h"
#include "storage/checkpointer.h"

#include <string>

namespace adclick::ui {

enum class DashboardSource { Generator, File, Kafka };

/// Everything the dashboard's pipeline is built from. Generator knobs (rate, ads, skew, late
/// fraction/delay, duplicates, malformed share, burst) and the clock speed apply live; the rest
/// (source, watermark bound, allowed lateness, late policy, speed fault) when the pipeline is
/// (re)started from its checkpoint.
struct DashboardSettings {
    DashboardSource source = DashboardSource::Generator;
    engine::GeneratorConfig generator;
    std::string inputPath; ///< file source: NDJSON of the seed schema
    double fileSpeedup = 1.0; ///< file source: replay paced by event time, × (0 = as fast as possible)
    engine::KafkaSourceConfig kafka;
    engine::PipelineConfig pipeline;
    std::string dataDirectory; ///< empty: the user's data directory
    engine::CheckpointerConfig checkpoints; ///< directory filled in at start
    engine::BatchScheduleConfig batchSchedule;
    double speed = 1.0; ///< processing clock: ×1 (real time) … ×1000 (fast-forward)
};

/// Identity of a source for its stored offsets (as `adclick run` computes it): what must match
/// for a restart to resume it.
std::string sourceKeyOf(const DashboardSettings& s);

} // namespace adclick::ui
