#pragma once

#include "core/time_units.h"
#include "sim_oracle.h"

#include <QJsonObject>

#include <string>
#include <utility>
#include <vector>

namespace adclick::app {

/// Compares what a finished variant left in its data directory (speed and batch minute rows,
/// quarantine counts, the reconciler's report) with the oracle, per (ad, minute). Adds the
/// figures to `figures` (names prefixed by `prefix`) and per-minute series to `series`.
/// faultSpans: event-time spans during which a speed fault was on (for "outside the fault").
/// False with `error` when the store cannot be read.
bool storeFigures(const std::string& dataDir, const SimOracle& oracle, std::uint32_t faultAd,
    const std::vector<std::pair<engine::TimeMs, engine::TimeMs>>& faultSpans, const std::string& prefix,
    QJsonObject& figures, QJsonObject& series, std::string& error);

} // namespace adclick::app
