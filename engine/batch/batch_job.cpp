#include "batch/batch_job.h"

#include "storage/sqlite_store.h"

#include <chrono>
#include <filesystem>

namespace adclick::engine {

namespace {

/// Ranges end within ±year 5000: far beyond any click, far from overflow.
constexpr TimeMs kMaxRangeEndMs = 95617584000000LL;

std::int64_t wallNowMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch())
        .count();
}

} // namespace

BatchJobResult BatchJob::run(const std::string& dataDirectory, const BatchJobOptions& o)
{
    BatchJobResult result;
    const std::int64_t startedWall = wallNowMs();
    const std::string dbPath = dataDirectory + "/adclick.db";
    if (!std::filesystem::exists(dbPath)) {
        result.error = "no store in " + dataDirectory;
        return result;
    }
    std::string error;
    SqliteStore::Options storeOptions;
    storeOptions.cacheSizeKiB = 256 * 1024; // a recount rewrites millions of rows and index entries
    storeOptions.busyTimeoutMs = 30000; // the live checkpointer commits in between
    auto store = SqliteStore::open(dbPath, storeOptions, error);
    if (!store) {
        result.error = error;
        return result;
    }
    CheckpointData checkpoint;
    if (!store->loadCheckpoint(checkpoint)) {
        result.error = store->error().empty() ? "no checkpoint yet: nothing is committed to recount" : store->error();
        return result;
    }

    constexpr TimeMs w = kMsPerMinute;
    if (o.fromMs >= o.toMs || o.fromMs < -kMaxRangeEndMs || o.toMs > kMaxRangeEndMs) {
        result.error = "bad range: from must be before to, both within ±" + formatIsoUtc(kMaxRangeEndMs);
        return result;
    }
    TimeMs from = windowStartOf(o.fromMs, w);
    TimeMs to = windowStartOf(o.toMs, w) == o.toMs ? o.toMs : windowStartOf(o.toMs, w) + w;
    auto note = [&](const std::string& text) { result.note += (result.note.empty() ? "" : "; ") + text; };
    // Never (re)write minutes whose raw events are not all in the log, or that are still open.
    const TimeMs cutoff = store->minuteCutoffMs();
    if (from < cutoff) {
        note("starts at " + formatIsoUtc(cutoff) + " instead of " + formatIsoUtc(from)
            + ": older minutes are rolled up into hours and days (the minute rollup cutoff)");
        from = cutoff;
    }
    const TimeMs deletedThrough = store->rawLogDeletedThroughMs();
    if (deletedThrough > kMinTimeMs && from <= deletedThrough) {
        const TimeMs complete = windowStartOf(deletedThrough, w) + w;
        note("starts at " + formatIsoUtc(complete) + " instead of " + formatIsoUtc(from)
            + ": raw log retention deleted events up to " + formatIsoUtc(deletedThrough));
        from = complete;
    }
    if (checkpoint.watermarkMs <= kMinTimeMs) {
        result.error = "no window is final yet (the last checkpoint has no watermark)";
        return result;
    }
    const TimeMs open = windowStartOf(std::min(checkpoint.watermarkMs, kMaxRangeEndMs), w);
    if (to > open) {
        note("ends at " + formatIsoUtc(open) + " instead of " + formatIsoUtc(to)
            + ": later minutes are still open in the speed layer (watermark)");
        to = open;
    }
    if (from >= to) {
        result.error = "nothing to recount: after clamping, the range is empty (" + result.note + ")";
        return result;
    }

    BatchCountOptions count;
    count.fromMs = from;
    count.toMs = to;
    count.threads = o.threads;
    count.end = checkpoint.rawEnd;
    count.progress = o.progress;
    count.cancel = o.cancel;
    count.maxRecordsPerSlice = o.maxRecordsPerSlice;
    result.count = countRawLog(dataDirectory + "/raw", count);
    if (!result.count.ok()) {
        result.error = result.count.error;
        return result;
    }

    // Coverage ends with the data: minutes after the newest committed event are not claimed.
    TimeMs coveredTo = result.count.toMs;
    const TimeMs dataEnd = result.count.maxEventTimeMs > kMinTimeMs
        ? windowStartOf(std::min(result.count.maxEventTimeMs, kMaxRangeEndMs), w) + w
        : result.count.fromMs;
    if (dataEnd < coveredTo) {
        if (dataEnd <= result.count.fromMs) {
            result.error = "nothing to recount: the raw log holds no event in " + formatIsoUtc(result.count.fromMs)
                + " … " + formatIsoUtc(result.count.toMs);
            return result;
        }
        note("ends at " + formatIsoUtc(dataEnd) + ": the newest event in the raw log is at "
            + formatIsoUtc(result.count.maxEventTimeMs));
        coveredTo = dataEnd;
    }
    BatchRunRecord& run = result.run;
    run.fromMs = result.count.fromMs;
    run.toMs = coveredTo;
    run.rawEnd = checkpoint.rawEnd;
    run.startedWallMs = startedWall;
    run.processingTimeMs = o.processingTimeMs;
    run.trigger = o.trigger;
    run.recordsRead = result.count.recordsRead;
    run.recordsInRange = result.count.recordsInRange;
    run.counted = result.count.counted;
    run.duplicates = result.count.duplicates;
    run.lateDropped = result.count.lateDropped;
    run.damagedBlocks = result.count.damage.size();
    run.threads = result.count.threads;
    run.seconds = result.count.seconds;
    run.finishedWallMs = wallNowMs();
    sortCells(result.count.cells); // key order: SQLite appends to its b-tree instead of splitting pages
    if (store->writeBatchRun(run, result.count.cells) != StoreStatus::Ok) {
        result.error = store->error();
        return result;
    }
    result.rowsWritten = result.count.cells.size();
    result.ok = true;
    return result;
}

} // namespace adclick::engine
