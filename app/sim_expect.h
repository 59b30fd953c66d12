#pragma once

#include "sim_scenario.h"

#include <QJsonObject>

#include <string>
#include <vector>

namespace adclick::app {

/// A scenario expectation checked against a run's figures.
struct ExpectationResult {
    std::string text; ///< as written in the file ("lost == 0")
    std::string path; ///< its JSON path ("$.expect[2]")
    bool known = false; ///< false: a figure it names does not exist (a broken scenario: counts as failed)
    std::string unknownFigure; ///< the figure not found
    bool passed = false;
    double actual = 0;
    /// "lost = 0" or "gap = 12, late_dropped = 12": the values it was decided on.
    std::string actualText;
};

/// Checks every expectation of `scenario` against `figures` (SimRunner::figures()), in file order.
std::vector<ExpectationResult> evaluateExpectations(const Scenario& scenario, const QJsonObject& figures);

} // namespace adclick::app
