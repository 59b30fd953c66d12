#include "sim_expect.h"

#include <QString>

namespace adclick::app {

namespace {
bool holds(double actual, const std::string& op, double expected)
{
    if (op == "==")
        return actual == expected;
    if (op == "!=")
        return actual != expected;
    if (op == "<")
        return actual < expected;
    if (op == "<=")
        return actual <= expected;
    if (op == ">")
        return actual > expected;
    return actual >= expected;
}

std::string number(double v)
{
    return QString::number(v, 'g', 12).toStdString();
}
} // namespace

std::vector<ExpectationResult> evaluateExpectations(const Scenario& scenario, const QJsonObject& figures)
{
    std::vector<ExpectationResult> results;
    for (const SimExpectation& e : scenario.expectations) {
        ExpectationResult r;
        r.text = e.text;
        r.path = e.path;
        const QJsonValue v = figures.value(QString::fromStdString(e.figure));
        const QJsonValue rhs
            = e.rhsFigure.empty() ? QJsonValue(e.value) : figures.value(QString::fromStdString(e.rhsFigure));
        if (!v.isDouble() || !rhs.isDouble()) {
            r.unknownFigure = !v.isDouble() ? e.figure : e.rhsFigure;
            results.push_back(std::move(r));
            continue;
        }
        r.known = true;
        r.actual = v.toDouble();
        r.passed = holds(r.actual, e.op, rhs.toDouble());
        r.actualText = e.figure + " = " + number(r.actual)
            + (e.rhsFigure.empty() ? "" : ", " + e.rhsFigure + " = " + number(rhs.toDouble()));
        results.push_back(std::move(r));
    }
    return results;
}

} // namespace adclick::app
