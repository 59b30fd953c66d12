// The fixed SQL text of every statement SqliteStore prepares. Table and column names are
// constants of this file; every value is bound.

#include "storage/sqlite_store_impl.h"

#include <array>
#include <initializer_list>
#include <string_view>

namespace adclick::engine {

namespace {

constexpr std::array<const char*, 6> kTables { "speed_minute", "speed_hour", "speed_day", "batch_minute", "batch_hour",
    "batch_day" };

/// Concatenates SQL fragments (built once, at first use).
std::string cat(std::initializer_list<std::string_view> parts)
{
    std::string out;
    for (std::string_view p : parts)
        out += p;
    return out;
}

const char* timeColumn(int table)
{
    return table % 3 == 0 ? "window_start" : "bucket_start";
}

std::vector<std::string> buildSqlTexts()
{
    std::vector<std::string> sql(static_cast<std::size_t>(StoreSql::Count));
    auto at = [&](StoreSql id) -> std::string& { return sql[static_cast<std::size_t>(id)]; };
    at(StoreSql::InsertAd) = "INSERT INTO ads(ad_id, name) VALUES(?1, ?2) ON CONFLICT(ad_id) DO NOTHING";
    at(StoreSql::SelectAdName) = "SELECT name FROM ads WHERE ad_id = ?1";
    // Absolute values: a re-sent row changes nothing; late_dropped is the late-drop statement's.
    // (Rows of one multi-row statement are applied in order, so a repeated key's last row wins.)
    auto upsertRows = [](int n) {
        std::string text = "INSERT INTO speed_minute(ad_id, window_start, country, device, count, late_updated, "
                           "late_dropped, revision, final) VALUES";
        for (int i = 0; i < n; ++i) {
            const auto p = [&](int column) { return std::to_string(i * 8 + column); };
            text += cat({ i ? ", (?" : " (?", p(1), ", ?", p(2), ", ?", p(3), ", ?", p(4), ", ?", p(5), ", ?", p(6),
                ", 0, ?", p(7), ", ?", p(8), ")" });
        }
        text += " ON CONFLICT(ad_id, window_start, country, device) DO UPDATE SET count = excluded.count, "
                "late_updated = excluded.late_updated, revision = excluded.revision, final = excluded.final";
        return text;
    };
    at(StoreSql::UpsertSpeedRow) = upsertRows(1);
    at(StoreSql::UpsertSpeedRows) = upsertRows(kUpsertBatchRows);
    // Deltas: a late drop only exists for a final window, so a missing row is created final, count 0.
    at(StoreSql::AddSpeedLateDrop)
        = "INSERT INTO speed_minute(ad_id, window_start, country, device, count, late_updated, late_dropped, "
          "revision, final) VALUES(?1, ?2, ?3, ?4, 0, 0, ?5, 0, 1) "
          "ON CONFLICT(ad_id, window_start, country, device) DO UPDATE SET "
          "late_dropped = late_dropped + excluded.late_dropped";
    at(StoreSql::DeleteOffsets) = "DELETE FROM source_offset WHERE source_key = ?1";
    at(StoreSql::InsertOffset) = R"(INSERT INTO source_offset(source_key, "partition", "offset") VALUES(?1, ?2, ?3) )"
                                 R"(ON CONFLICT(source_key, "partition") DO UPDATE SET "offset" = excluded."offset")";
    at(StoreSql::UpsertQuarantine) = "INSERT INTO quarantine_stats(reason, name, count) VALUES(?1, ?2, ?3) "
                                     "ON CONFLICT(reason) DO UPDATE SET name = excluded.name, count = excluded.count";
    at(StoreSql::SelectSequence) = "SELECT sequence FROM checkpoint WHERE id = 1";
    at(StoreSql::UpsertCheckpoint)
        = "INSERT INTO checkpoint(id, sequence, processing_time_ms, watermark_ms, wall_time_ms, raw_segment, "
          "raw_offset, raw_next_sequence, source_key, state) VALUES(1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
          "ON CONFLICT(id) DO UPDATE SET sequence = excluded.sequence, "
          "processing_time_ms = excluded.processing_time_ms, watermark_ms = excluded.watermark_ms, "
          "wall_time_ms = excluded.wall_time_ms, raw_segment = excluded.raw_segment, "
          "raw_offset = excluded.raw_offset, raw_next_sequence = excluded.raw_next_sequence, "
          "source_key = excluded.source_key, state = excluded.state";
    at(StoreSql::LoadCheckpoint) = "SELECT sequence, processing_time_ms, watermark_ms, wall_time_ms, raw_segment, "
                                   "raw_offset, raw_next_sequence, source_key, state FROM checkpoint WHERE id = 1";
    at(StoreSql::LoadOffsets)
        = R"(SELECT "partition", "offset" FROM source_offset WHERE source_key = ?1 ORDER BY "partition")";
    at(StoreSql::LoadQuarantine) = "SELECT reason, count FROM quarantine_stats";
    at(StoreSql::ListAds) = "SELECT ad_id, name FROM ads ORDER BY ad_id";
    at(StoreSql::UpsertRollupState)
        = "INSERT INTO rollup_state(id, minute_cutoff_ms, hour_cutoff_ms, delete_cutoff_ms, run_at_ms) "
          "VALUES(1, ?1, ?2, ?3, ?4) ON CONFLICT(id) DO UPDATE SET minute_cutoff_ms = excluded.minute_cutoff_ms, "
          "hour_cutoff_ms = excluded.hour_cutoff_ms, delete_cutoff_ms = excluded.delete_cutoff_ms, "
          "run_at_ms = excluded.run_at_ms";

    for (int t = 0; t < 6; ++t) {
        const std::string_view table = kTables[static_cast<std::size_t>(t)];
        const std::string_view time = timeColumn(t);
        const std::string_view extra = t % 3 == 0 ? ", revision, final" : ", 0, 1";
        // The time index serves the range; the sort gives key order.
        sql[static_cast<std::size_t>(StoreSql::ForEachRow) + t] = cat({ "SELECT ad_id, ", time,
            ", country, device, count, late_updated, late_dropped", extra, " FROM ", table, " INDEXED BY ", table,
            "_by_time WHERE ", time, " >= ?1 AND ", time, " < ?2 ORDER BY ad_id, ", time, ", country, device" });
        sql[static_cast<std::size_t>(StoreSql::RowCount) + t] = cat({ "SELECT count(*) FROM ", table });
        sql[static_cast<std::size_t>(StoreSql::DeleteBefore) + t]
            = cat({ "DELETE FROM ", table, " WHERE ", time, " < ?1" });
    }
    for (int k = 0; k < 2; ++k) {
        const std::string_view prefix = k == 0 ? "speed" : "batch";
        auto sum = [&](std::string_view level, std::string_view time, bool perAd) {
            return cat({ "(SELECT coalesce(sum(count), 0) FROM ", prefix, level, " WHERE ", time, " >= ?1 AND ", time,
                " < ?2", perAd ? " AND ad_id = ?3" : "", ")" });
        };
        for (bool perAd : { false, true })
            sql[static_cast<std::size_t>(perAd ? StoreSql::TotalAd : StoreSql::TotalAll) + k]
                = cat({ "SELECT ", sum("_minute", "window_start", perAd), " + ", sum("_hour", "bucket_start", perAd),
                    " + ", sum("_day", "bucket_start", perAd) });
        // Adds the finer rows before the cutoff into the coarser ones (UPSERT adding); the caller
        // then deletes them. floor(t / size) * size written for negative t too. The time index
        // keeps this to the rows being rolled (the planner would scan the whole table for the
        // GROUP BY otherwise). GROUP BY also settles the INSERT … SELECT … ON CONFLICT parse.
        constexpr std::string_view kAddOnConflict
            = "ON CONFLICT(ad_id, bucket_start, country, device) DO UPDATE SET count = count + excluded.count, "
              "late_updated = late_updated + excluded.late_updated, "
              "late_dropped = late_dropped + excluded.late_dropped";
        auto roll = [&](std::string_view from, std::string_view fromTime, std::string_view to, TimeMs sizeMs) {
            const std::string size = std::to_string(sizeMs);
            return cat({ "INSERT INTO ", prefix, to,
                "(ad_id, bucket_start, country, device, count, late_updated, late_dropped) SELECT ad_id, ", fromTime,
                " - ((", fromTime, " % ", size, ") + ", size, ") % ", size,
                " AS bucket, country, device, sum(count), sum(late_updated), sum(late_dropped) FROM ", prefix, from,
                " INDEXED BY ", prefix, from, "_by_time WHERE ", fromTime,
                " < ?1 GROUP BY ad_id, bucket, country, device ", kAddOnConflict });
        };
        sql[static_cast<std::size_t>(StoreSql::RollMinuteToHour) + k]
            = roll("_minute", "window_start", "_hour", kMsPerHour);
        sql[static_cast<std::size_t>(StoreSql::RollHourToDay) + k] = roll("_hour", "bucket_start", "_day", kMsPerDay);
    }
    return sql;
}

} // namespace

const std::string& storeSqlText(StoreSql id)
{
    static const std::vector<std::string> texts = buildSqlTexts();
    return texts[static_cast<std::size_t>(id)];
}

} // namespace adclick::engine
