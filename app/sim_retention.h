#pragma once

#include "core/time_units.h"
#include "sim_oracle.h"
#include "storage/sqlite_store.h"

#include <QJsonArray>
#include <QJsonObject>

#include <string>

namespace adclick::app {

/// What retention left in a data directory at processing time nowMs: raw log segments and bytes,
/// the age of the oldest raw event, minute row and hour/day aggregate row (in days).
struct RetentionState {
    std::uint64_t rawSegments = 0;
    std::uint64_t rawBytes = 0;
    std::uint64_t minuteRows = 0; ///< speed + batch minute rows
    std::uint64_t aggregateRows = 0; ///< speed hour + day rows
    double rawOldestAgeDays = 0; ///< 0 when the log is empty
    double minuteOldestAgeDays = 0;
    double aggregateOldestAgeDays = 0;
};

/// Reads the raw log's segment headers and the store (read-only; the checkpointer may have it
/// open: SQLite WAL). False with `error` when the store cannot be read.
bool readRetentionState(const std::string& dataDir, engine::TimeMs nowMs, RetentionState& out, std::string& error);

/// One row of the "retention" series: [offset ms, raw MB, raw oldest, minute oldest, aggregate oldest (days)].
QJsonArray retentionRow(engine::TimeMs offsetMs, const RetentionState& s);

/// Retention figures at the end of a run (after a final rollup/retention run at nowMs): the state
/// above, and per day of event time the store's speed totals (minute + hour + day rows) against the
/// oracle for the days the aggregate retention keeps (rollup_days_mismatched, rollup_kept_clicks_error),
/// rows of older days (aggregate_rows_past_retention), raw segments whose newest event is past
/// the raw retention (raw_segments_past_retention). Names prefixed by `prefix`.
bool retentionFigures(const std::string& dataDir, const SimOracle& oracle, engine::TimeMs nowMs,
    engine::TimeMs rawRetentionMs, const engine::RetentionConfig& retention, const std::string& prefix,
    QJsonObject& figures, std::string& error);

} // namespace adclick::app
