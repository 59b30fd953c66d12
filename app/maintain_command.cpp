#include "maintain_command.h"

#include "cli_args.h"
#include "ingest/iso_timestamp.h"
#include "run_options.h"
#include "storage/raw_log.h"
#include "storage/sqlite_store.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>

namespace adclick::app {

using namespace adclick::engine;


int runMaintainCommand(const std::vector<std::string>& args, std::FILE* out, std::FILE* err)
{
    std::vector<std::string> rest;
    std::optional<TimeMs> now;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--help" || args[i] == "-h") {
            std::fputs(
                "Usage: adclick maintain [--data-dir DIR] [--now T] [--minute-retention D] [--hour-retention D]\n"
                "                        [--aggregate-retention D] [--raw-retention D]\n\n"
                "Rolls minute rows older than the minute retention into hours, hours into days, deletes\n"
                "aggregates past the aggregate retention and raw log segments past the raw retention.\n"
                "T is epoch ms or ISO-8601 UTC (2026-11-28T10:00:00Z); default: the processing time of the\n"
                "last checkpoint. A running adclick does this by itself every --maintenance-interval.\n",
                out);
            return 0;
        }
        if (args[i] == "--now") {
            if (i + 1 >= args.size() || !(now = parseInstant(args[i + 1]))) {
                std::fprintf(err, "adclick maintain: --now needs epoch ms or an ISO-8601 UTC time\n");
                return 2;
            }
            ++i;
            continue;
        }
        rest.push_back(args[i]);
    }
    const ParsedRun parsed = parseRunOptions(rest);
    if (!parsed.error.empty()) {
        std::fprintf(err, "adclick maintain: %s\n", parsed.error.c_str());
        return 2;
    }
    const RunOptions& o = parsed.options;
    const std::string dir = o.dataDirectory.empty() ? defaultDataDirectory() : o.dataDirectory;
    if (!std::filesystem::exists(dir + "/adclick.db")) {
        std::fprintf(err, "adclick maintain: no store in %s\n", dir.c_str());
        return 1;
    }
    std::string error;
    auto store = SqliteStore::open(dir + "/adclick.db", {}, error);
    if (!store) {
        std::fprintf(err, "adclick maintain: %s\n", error.c_str());
        return 1;
    }
    if (!now) {
        CheckpointData ck;
        now = store->loadCheckpoint(ck)
            ? ck.processingTimeMs
            : std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                  .count();
    }
    RollupReport report;
    if (store->rollup(*now, o.checkpoints.retention, &report) != StoreStatus::Ok) {
        std::fprintf(err, "adclick maintain: %s\n", store->error().c_str());
        return 1;
    }
    std::uint64_t freed = 0;
    TimeMs newestDeleted = kMinTimeMs;
    const std::size_t segments
        = applyRawLogRetention(dir + "/raw", *now, o.checkpoints.rawLog.retentionMs, &freed, &newestDeleted);
    if (segments > 0 && newestDeleted > kMinTimeMs && store->noteRawLogDeleted(newestDeleted) != StoreStatus::Ok)
        std::fprintf(err, "adclick maintain: %s\n", store->error().c_str());
    std::fprintf(out,
        "maintain %s at %s: %llu minute rows rolled into hours (before %s), %llu hour rows into days (before %s), "
        "%llu rows deleted (before %s); %zu raw log segments deleted (%.1f MiB)\n",
        dir.c_str(), formatIsoUtc(*now).c_str(), static_cast<unsigned long long>(report.minuteRowsRolled),
        formatIsoUtc(report.minuteCutoffMs).c_str(), static_cast<unsigned long long>(report.hourRowsRolled),
        formatIsoUtc(report.hourCutoffMs).c_str(), static_cast<unsigned long long>(report.rowsDeleted),
        formatIsoUtc(report.deleteCutoffMs).c_str(), segments, static_cast<double>(freed) / (1 << 20));
    return 0;
}

} // namespace adclick::app
