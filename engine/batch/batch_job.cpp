#include "batch/batch_job.h"

#include "storage/sqlite_store.h"

#include <chrono>
#include <filesystem>

namespace adclick::engine {

namespace {

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
    auto store = SqliteStore::open(dbPath, {}, error);
    if (!store) {
        result.error = error;
        return result;
    }
    CheckpointData checkpoint;
    if (!store->loadCheckpoint(checkpoint)) {
        result.error = store->error().empty() ? "no checkpoint yet: nothing is committed to recount" : store->error();
        return result;
    }

    TimeMs from = windowStartOf(o.fromMs, kMsPerMinute);
    const TimeMs to = windowStartOf(o.toMs, kMsPerMinute) == o.toMs ? o.toMs : windowStartOf(o.toMs, kMsPerMinute) + kMsPerMinute;
    if (from >= to) {
        result.error = "empty range: from must be before to";
        return result;
    }
    const TimeMs cutoff = store->minuteCutoffMs();
    if (from < cutoff) {
        result.note = "range starts at " + formatIsoUtc(cutoff) + " instead of " + formatIsoUtc(from)
            + ": older minutes are rolled up into hours and days, and their raw log is past retention";
        from = cutoff;
        if (from >= to) {
            result.error = "the whole range is older than the minute rollup cutoff " + formatIsoUtc(cutoff);
            return result;
        }
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

    BatchRunRecord& run = result.run;
    run.fromMs = result.count.fromMs;
    run.toMs = result.count.toMs;
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
    if (store->writeBatchRun(run, result.count.cells) != StoreStatus::Ok) {
        result.error = store->error();
        return result;
    }
    result.ok = true;
    return result;
}

} // namespace adclick::engine
