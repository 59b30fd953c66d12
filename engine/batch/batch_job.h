#pragma once

#include "batch/batch_counter.h"
#include "core/clock.h"
#include "storage/batch_rows.h"

#include <atomic>
#include <functional>
#include <string>

namespace adclick::engine {

struct BatchJobOptions {
    TimeMs fromMs = 0;
    TimeMs toMs = 0;
    unsigned threads = 2;
    std::string trigger = "manual";
    TimeMs processingTimeMs = 0; ///< Clock time of the request (recorded with the run)
    std::function<void(const BatchProgress&)> progress;
    const std::atomic<bool>* cancel = nullptr;
    std::uint64_t maxRecordsPerSlice = 48ull << 20;
};

struct BatchJobResult {
    bool ok = false; ///< counted AND written
    std::string error; ///< why not (also "cancelled")
    std::string note; ///< e.g. how the range was clamped
    BatchCountResult count;
    BatchRunRecord run; ///< as written (runId set) when ok
    std::uint64_t rowsWritten = 0; ///< batch_minute rows the run wrote
};

/// Recounts [from, to) of a data directory (adclick.db + raw/) from its raw log and replaces that
/// range's batch rows, with the run record, in one transaction (idempotent). Reads the raw log
/// only up to the last checkpoint's raw end, and never before the minute-rollup cutoff (older
/// minutes exist only as hour/day rollups; the range is clamped and `note` says so). Opens its own
/// SQLite connection: safe to run while a live pipeline checkpoints into the same directory.
class BatchJob {
public:
    static BatchJobResult run(const std::string& dataDirectory, const BatchJobOptions& options);
};

} // namespace adclick::engine
