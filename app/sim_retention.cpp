#include "sim_retention.h"

#include "storage/raw_log.h"

#include <sqlite3.h>

#include <cmath>
#include <functional>
#include <map>

namespace adclick::app {

using namespace adclick::engine;

namespace {
constexpr TimeMs kNoneMs = INT64_MAX / 4;

class ReadOnlyDb {
public:
    explicit ReadOnlyDb(const std::string& path)
    {
        if (sqlite3_open_v2(path.c_str(), &m_db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
            m_error = "cannot open " + path + ": " + sqlite3_errmsg(m_db);
    }
    ~ReadOnlyDb() { sqlite3_close(m_db); }
    ReadOnlyDb(const ReadOnlyDb&) = delete;
    ReadOnlyDb& operator=(const ReadOnlyDb&) = delete;
    const std::string& error() const { return m_error; }
    bool ok() const { return m_error.empty(); }

    /// f(stmt) per row; false (error() set) on a failure.
    bool rows(const char* sql, const std::function<void(sqlite3_stmt*)>& f)
    {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(m_db, sql, -1, &st, nullptr) != SQLITE_OK) {
            m_error = sqlite3_errmsg(m_db);
            return false;
        }
        int rc = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            f(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
            m_error = sqlite3_errmsg(m_db);
            return false;
        }
        return true;
    }

private:
    sqlite3* m_db = nullptr;
    std::string m_error;
};

double ageDays(TimeMs nowMs, TimeMs oldestMs)
{
    // Rounded to 1/1000 day (86.4 s) so that the figure reads well and stays comparable.
    return std::round(static_cast<double>(nowMs - oldestMs) / static_cast<double>(kMsPerDay) * 1000.0) / 1000.0;
}
} // namespace

bool readRetentionState(const std::string& dataDir, TimeMs nowMs, RetentionState& out, std::string& error)
{
    out = {};
    RawLogReader reader(dataDir + "/raw");
    TimeMs rawOldest = kNoneMs;
    for (const RawSegmentInfo& s : reader.segments()) {
        ++out.rawSegments;
        out.rawBytes += s.bytes;
        if (s.records > 0)
            rawOldest = std::min(rawOldest, s.minEventTimeMs);
    }
    out.rawOldestAgeDays = rawOldest == kNoneMs ? 0 : ageDays(nowMs, rawOldest);
    ReadOnlyDb db(dataDir + "/adclick.db");
    TimeMs minuteOldest = kNoneMs, aggregateOldest = kNoneMs;
    auto oldest = [&](TimeMs& into, std::uint64_t& rows) {
        return [&into, &rows](sqlite3_stmt* st) {
            rows += static_cast<std::uint64_t>(sqlite3_column_int64(st, 0));
            if (sqlite3_column_type(st, 1) != SQLITE_NULL)
                into = std::min(into, static_cast<TimeMs>(sqlite3_column_int64(st, 1)));
        };
    };
    const bool ok = db.ok()
        && db.rows("SELECT COUNT(*), MIN(window_start) FROM speed_minute", oldest(minuteOldest, out.minuteRows))
        && db.rows("SELECT COUNT(*), MIN(window_start) FROM batch_minute", oldest(minuteOldest, out.minuteRows))
        && db.rows("SELECT COUNT(*), MIN(bucket_start) FROM speed_hour", oldest(aggregateOldest, out.aggregateRows))
        && db.rows("SELECT COUNT(*), MIN(bucket_start) FROM speed_day", oldest(aggregateOldest, out.aggregateRows));
    if (!ok) {
        error = "retention figures: " + db.error();
        return false;
    }
    out.minuteOldestAgeDays = minuteOldest == kNoneMs ? 0 : ageDays(nowMs, minuteOldest);
    out.aggregateOldestAgeDays = aggregateOldest == kNoneMs ? 0 : ageDays(nowMs, aggregateOldest);
    return true;
}

QJsonArray retentionRow(TimeMs offsetMs, const RetentionState& s)
{
    return QJsonArray { static_cast<double>(offsetMs), std::round(static_cast<double>(s.rawBytes) / 1e4) / 100.0,
        s.rawOldestAgeDays, s.minuteOldestAgeDays, s.aggregateOldestAgeDays };
}

bool retentionFigures(const std::string& dataDir, const SimOracle& oracle, TimeMs nowMs, TimeMs rawRetentionMs,
    const RetentionConfig& retention, const std::string& prefix, QJsonObject& figures, std::string& error)
{
    RetentionState state;
    if (!readRetentionState(dataDir, nowMs, state, error))
        return false;
    std::uint64_t rawPast = 0;
    RawLogReader reader(dataDir + "/raw");
    const auto segments = reader.segments();
    for (std::size_t i = 0; i + 1 < segments.size(); ++i) // the highest one is the writer's, never deleted
        if (segments[i].records > 0 && segments[i].maxEventTimeMs < nowMs - rawRetentionMs)
            ++rawPast;

    // Speed totals per day of event time over every granularity the store keeps.
    std::map<std::int64_t, std::uint64_t> storeDays;
    ReadOnlyDb db(dataDir + "/adclick.db");
    auto perDay = [&](sqlite3_stmt* st) {
        storeDays[sqlite3_column_int64(st, 0)] += static_cast<std::uint64_t>(sqlite3_column_int64(st, 1));
    };
    const bool ok = db.ok()
        && db.rows("SELECT window_start / 86400000, SUM(count) FROM speed_minute GROUP BY 1", perDay)
        && db.rows("SELECT bucket_start / 86400000, SUM(count) FROM speed_hour GROUP BY 1", perDay)
        && db.rows("SELECT bucket_start / 86400000, SUM(count) FROM speed_day GROUP BY 1", perDay);
    if (!ok) {
        error = "retention figures: " + db.error();
        return false;
    }
    std::map<std::int64_t, std::uint64_t> truthDays;
    for (const auto& [minute, n] : oracle.perMinute)
        truthDays[minute / kMsPerDay] += n;
    const std::int64_t cutoffDay = rollupCutoffs(nowMs, retention).deleteCutoffMs / kMsPerDay;
    std::uint64_t checked = 0, mismatched = 0, expired = 0, rowsPast = 0;
    std::int64_t keptError = 0;
    for (const auto& [day, truth] : truthDays) {
        if (day < cutoffDay) {
            ++expired;
            continue;
        }
        ++checked;
        const std::uint64_t kept = storeDays.count(day) ? storeDays[day] : 0;
        mismatched += kept != truth ? 1 : 0;
        keptError += std::llabs(static_cast<std::int64_t>(kept) - static_cast<std::int64_t>(truth));
    }
    for (const auto& [day, n] : storeDays)
        rowsPast += day < cutoffDay && n > 0 ? 1 : 0;

    auto put = [&](const char* name, double v) { figures.insert(QString::fromStdString(prefix + name), v); };
    put("raw_segments", static_cast<double>(state.rawSegments));
    put("raw_bytes", static_cast<double>(state.rawBytes));
    put("raw_oldest_age_days", state.rawOldestAgeDays);
    put("raw_segments_past_retention", static_cast<double>(rawPast));
    put("minute_rows_kept", static_cast<double>(state.minuteRows));
    put("minute_oldest_age_days", state.minuteOldestAgeDays);
    put("aggregate_rows", static_cast<double>(state.aggregateRows));
    put("aggregate_oldest_age_days", state.aggregateOldestAgeDays);
    put("rollup_days_checked", static_cast<double>(checked));
    put("rollup_days_mismatched", static_cast<double>(mismatched));
    put("rollup_kept_clicks_error", static_cast<double>(keptError));
    put("days_expired", static_cast<double>(expired));
    put("days_with_rows_past_retention", static_cast<double>(rowsPast));
    return true;
}

} // namespace adclick::app
