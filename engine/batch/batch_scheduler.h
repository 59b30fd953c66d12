#pragma once

#include "batch/batch_job.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace adclick::engine {

struct BatchScheduleConfig {
    TimeMs intervalMs = 3 * kMsPerHour; ///< processing time between scheduled runs; 0 = never
    /// A scheduled run starts this far before the previous scheduled run's end, so that late
    /// events that arrived since are counted too.
    TimeMs overlapMs = kMsPerHour;
    /// The first scheduled run (no earlier one in the store) reaches this far back.
    TimeMs firstRangeMs = 3 * kMsPerHour;
    /// Minutes are recounted only once final: end + allowed lateness ≤ watermark.
    TimeMs allowedLatenessMs = 0;
    unsigned threads = 1; ///< the ingest thread keeps the other core
};

/// What the scheduler is doing, for the UI, REST and the CLI. A copy; any thread.
struct BatchSchedulerStatus {
    bool running = false;
    std::string runningTrigger;
    TimeMs runningFromMs = 0;
    TimeMs runningToMs = 0;
    BatchProgress progress; ///< of the running job
    TimeMs nextScheduledMs = 0; ///< processing time of the next scheduled run (0 = none)
    std::uint64_t runsCompleted = 0;
    std::uint64_t runsFailed = 0;
    std::optional<BatchRunRecord> lastRun; ///< the last run that completed (written)
    std::string lastError; ///< of the last run that failed or was cancelled
};

/// Runs BatchJobs on a schedule of processing time (driven by the Clock through poll()) and on
/// demand, one at a time, on its own thread. No Qt; thread-safe.
class BatchScheduler {
public:
    BatchScheduler(std::string dataDirectory, BatchScheduleConfig config);
    ~BatchScheduler(); ///< cancels a running job and joins
    BatchScheduler(const BatchScheduler&) = delete;
    BatchScheduler& operator=(const BatchScheduler&) = delete;

    /// Called by the ingest loop (cheap): starts a scheduled run when its time has come.
    /// processingTimeMs from the Clock, watermarkMs the pipeline's.
    void poll(TimeMs processingTimeMs, TimeMs watermarkMs);
    /// Starts a run of [fromMs, toMs) now. False (with why) if one is already running.
    bool request(TimeMs fromMs, TimeMs toMs, const std::string& trigger, TimeMs processingTimeMs, std::string& why);
    /// Cancels the running job (if any); it writes nothing.
    void cancel();
    /// Waits until no job is running.
    void waitIdle();
    BatchSchedulerStatus status() const;
    /// The result of each job that ended since the last call (oldest first), for logging.
    std::vector<BatchJobResult> takeFinished();

private:
    void start(BatchJobOptions options); // m_mutex held
    void runJob(BatchJobOptions options);

    const std::string m_dataDirectory;
    const BatchScheduleConfig m_config;
    mutable std::mutex m_mutex;
    std::condition_variable m_idle;
    BatchSchedulerStatus m_status;
    std::vector<BatchJobResult> m_finished;
    std::atomic<bool> m_cancel { false };
    std::thread m_thread;
};

} // namespace adclick::engine
