#include "sim_figures.h"

#include "batch/reconciler.h"

#include <sqlite3.h>

#include <QJsonArray>

#include <cstdlib>
#include <functional>
#include <map>

namespace adclick::app {

using namespace adclick::engine;

namespace {
using CellKey = std::pair<std::uint32_t, std::int64_t>;

struct StoreCell {
    std::uint64_t speed = 0;
    std::uint64_t lateDropped = 0;
    std::uint64_t batch = 0;
};

bool readRows(sqlite3* db, const char* sql, const std::function<void(sqlite3_stmt*)>& row, std::string& error)
{
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) {
        error = sqlite3_errmsg(db);
        return false;
    }
    int rc = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        row(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        error = sqlite3_errmsg(db);
        return false;
    }
    return true;
}

bool outsideFault(TimeMs minuteMs, const std::vector<std::pair<TimeMs, TimeMs>>& spans)
{
    for (const auto& [from, to] : spans)
        if (minuteMs + kMsPerMinute > from && minuteMs < to)
            return false;
    return true;
}
} // namespace

bool storeFigures(const std::string& dataDir, const SimOracle& oracle, std::uint32_t faultAd,
    const std::vector<std::pair<TimeMs, TimeMs>>& faultSpans, const std::string& prefix, QJsonObject& figures,
    QJsonObject& series, std::string& error)
{
    std::map<CellKey, StoreCell> cells;
    std::uint64_t quarantined = 0;
    std::uint64_t minuteRows = 0;
    std::uint64_t rollupClicks = 0;
    {
        sqlite3* db = nullptr;
        const std::string path = dataDir + "/adclick.db";
        if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
            error = "cannot open " + path + ": " + sqlite3_errmsg(db);
            sqlite3_close(db);
            return false;
        }
        const bool ok
            = readRows(db,
                  "SELECT ad_id, window_start, SUM(count), SUM(late_dropped) FROM speed_minute GROUP BY 1, 2",
                  [&](sqlite3_stmt* st) {
                      StoreCell& c = cells[{ static_cast<std::uint32_t>(sqlite3_column_int64(st, 0)),
                          sqlite3_column_int64(st, 1) }];
                      c.speed = static_cast<std::uint64_t>(sqlite3_column_int64(st, 2));
                      c.lateDropped = static_cast<std::uint64_t>(sqlite3_column_int64(st, 3));
                  },
                  error)
            && readRows(db, "SELECT ad_id, window_start, SUM(count) FROM batch_minute GROUP BY 1, 2",
                [&](sqlite3_stmt* st) {
                    cells[{ static_cast<std::uint32_t>(sqlite3_column_int64(st, 0)), sqlite3_column_int64(st, 1) }]
                        .batch
                        = static_cast<std::uint64_t>(sqlite3_column_int64(st, 2));
                },
                error)
            && readRows(db, "SELECT COALESCE(SUM(count), 0) FROM quarantine_stats",
                [&](sqlite3_stmt* st) { quarantined = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0)); },
                error)
            && readRows(db, "SELECT (SELECT COUNT(*) FROM speed_minute) + (SELECT COUNT(*) FROM batch_minute)",
                [&](sqlite3_stmt* st) { minuteRows = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0)); },
                error)
            && readRows(db,
                "SELECT (SELECT COALESCE(SUM(count), 0) FROM speed_hour) + (SELECT COALESCE(SUM(count), 0) FROM "
                "speed_day)",
                [&](sqlite3_stmt* st) { rollupClicks = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0)); },
                error);
        sqlite3_close(db);
        if (!ok)
            return false;
    }

    // Per (ad, minute) against the oracle: what the batch view lost or counted twice, and what the
    // speed view lost beyond the late events it dropped (and says it dropped).
    std::uint64_t lost = 0, doubled = 0, speedLost = 0, speedDoubled = 0;
    std::uint64_t speedTotal = 0, batchTotal = 0, lateDropped = 0;
    std::map<std::int64_t, StoreCell> perMinute;
    for (const auto& [key, truth] : oracle.perAdMinute) {
        const auto it = cells.find(key);
        const StoreCell c = it == cells.end() ? StoreCell {} : it->second;
        lost += truth > c.batch ? truth - c.batch : 0;
        doubled += c.batch > truth ? c.batch - truth : 0;
        const std::uint64_t seen = c.speed + c.lateDropped;
        speedLost += truth > seen ? truth - seen : 0;
        speedDoubled += seen > truth ? seen - truth : 0;
    }
    for (const auto& [key, c] : cells) {
        speedTotal += c.speed;
        batchTotal += c.batch;
        lateDropped += c.lateDropped;
        StoreCell& m = perMinute[key.second];
        m.speed += c.speed;
        m.batch += c.batch;
        m.lateDropped += c.lateDropped;
        if (!oracle.perAdMinute.count(key)) { // a cell the truth does not have at all
            doubled += c.batch;
            speedDoubled += c.speed + c.lateDropped;
        }
    }

    TimeMs from = oracle.perMinute.empty() ? 0 : oracle.perMinute.begin()->first;
    TimeMs to = oracle.perMinute.empty() ? 0 : oracle.perMinute.rbegin()->first + kMsPerMinute;
    ReconcileOptions ro;
    ro.limit = 0;
    const ReconcileReport rec = reconcile(dataDir, from, to, ro);
    if (!rec.ok) {
        error = "reconcile: " + rec.error;
        return false;
    }
    std::uint64_t unexplainedAbs = 0, cellsOutsideAd = 0, minutesOutsideFault = 0;
    QJsonArray unexplainedAds;
    for (const ReconcileCell& c : rec.worstCells) {
        if (c.parts.unexplained == 0)
            continue;
        unexplainedAbs += static_cast<std::uint64_t>(std::llabs(c.parts.unexplained));
        if (faultAd != 0 && c.adId != faultAd)
            ++cellsOutsideAd;
    }
    for (const ReconcileAd& a : rec.worstAds)
        if (a.parts.unexplained != 0 && unexplainedAds.size() < 10)
            unexplainedAds.append(QString::fromStdString(a.adName));
    QJsonArray minutes;
    for (const ReconcileMinute& m : rec.minutes) {
        if (m.parts.unexplained != 0 && outsideFault(m.minuteMs, faultSpans))
            ++minutesOutsideFault;
    }
    for (const auto& [minute, truth] : oracle.perMinute) {
        const StoreCell c = perMinute.count(minute) ? perMinute[minute] : StoreCell {};
        std::int64_t unexplained = 0;
        for (const ReconcileMinute& m : rec.minutes)
            if (m.minuteMs == minute)
                unexplained = m.parts.unexplained;
        minutes.append(QJsonArray { static_cast<double>(minute), static_cast<double>(truth),
            static_cast<double>(c.speed), static_cast<double>(c.batch), static_cast<double>(c.lateDropped),
            static_cast<double>(unexplained) });
    }
    series.insert(QString::fromStdString(prefix + "minutes"), minutes);

    auto put = [&](const char* name, double v) { figures.insert(QString::fromStdString(prefix + name), v); };
    put("records", static_cast<double>(oracle.records));
    put("truth_clicks", static_cast<double>(oracle.clicks));
    put("generated_duplicates", static_cast<double>(oracle.duplicates));
    put("generated_malformed", static_cast<double>(oracle.malformed));
    put("speed_total", static_cast<double>(speedTotal));
    put("batch_total", static_cast<double>(batchTotal));
    put("late_dropped", static_cast<double>(lateDropped));
    put("lost", static_cast<double>(lost));
    put("doubled", static_cast<double>(doubled));
    put("speed_lost", static_cast<double>(speedLost));
    put("speed_doubled", static_cast<double>(speedDoubled));
    put("completeness", oracle.clicks ? static_cast<double>(speedTotal) / static_cast<double>(oracle.clicks) : 1.0);
    put("quarantined", static_cast<double>(quarantined));
    put("quarantine_missing",
        static_cast<double>(oracle.malformed > quarantined ? oracle.malformed - quarantined : quarantined - oracle.malformed));
    put("gap", static_cast<double>(rec.totals.gap));
    put("gap_late", static_cast<double>(rec.totals.late));
    put("gap_duplicates", static_cast<double>(rec.totals.duplicates));
    put("unexplained_gap", static_cast<double>(unexplainedAbs));
    put("cells_unexplained", static_cast<double>(rec.cellsUnexplained));
    put("unexplained_cells_other_ads", static_cast<double>(cellsOutsideAd));
    put("unexplained_minutes_outside_fault", static_cast<double>(minutesOutsideFault));
    put("uncovered_speed", static_cast<double>(rec.uncoveredSpeed));
    put("minute_rows", static_cast<double>(minuteRows));
    put("rollup_clicks", static_cast<double>(rollupClicks));
    figures.insert(QString::fromStdString(prefix + "unexplained_ads"), unexplainedAds);
    return true;
}

} // namespace adclick::app
