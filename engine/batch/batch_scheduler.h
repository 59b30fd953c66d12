#pragma once

#include "batch/batch_job.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
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

/// One run the scheduler started (scheduled or requested), by request id. Ids are unique across
/// restarts of the process (they start at the wall-clock milliseconds of the scheduler's creation).
enum class BatchRequestState : std::uint8_t { Running, Succeeded, Failed, Cancelled };
std::string_view batchRequestStateName(BatchRequestState s); ///< "running", "succeeded", "failed", "cancelled"

struct BatchRequestStatus {
    std::uint64_t id = 0;
    std::string trigger;
    TimeMs requestedFromMs = 0;
    TimeMs requestedToMs = 0;
    BatchRequestState state = BatchRequestState::Running;
    BatchProgress progress; ///< last reported (final when ended)
    std::int64_t createdWallMs = 0;
    std::int64_t finishedWallMs = 0; ///< 0 while running
    std::optional<BatchJobResult> result; ///< when ended; count.cells cleared (figures only)
};

/// What the scheduler is doing, for the UI, REST and the CLI. A copy; any thread.
struct BatchSchedulerStatus {
    bool running = false;
    std::uint64_t runningId = 0; ///< request id of the running job
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
    /// Starts a run of [fromMs, toMs) now. False (with why) if one is already running (then
    /// `*id`, if given, is the running one's id); on success `*id` is the new request's id.
    bool request(TimeMs fromMs, TimeMs toMs, const std::string& trigger, TimeMs processingTimeMs, std::string& why,
        std::uint64_t* id = nullptr);
    /// A request's status by id: the running one or one of the last kRequestHistory that ended.
    std::optional<BatchRequestStatus> requestStatus(std::uint64_t id) const;
    /// The remembered requests, newest first.
    std::vector<BatchRequestStatus> recentRequests() const;
    static constexpr std::size_t kRequestHistory = 100;
    /// Cancels the running job (if any); it writes nothing.
    void cancel();
    /// Waits until no job is running.
    void waitIdle();
    BatchSchedulerStatus status() const;
    /// The result of each job that ended since the last call (oldest first), for logging.
    std::vector<BatchJobResult> takeFinished();

private:
    std::uint64_t start(BatchJobOptions options); // m_mutex held; returns the request id
    void runJob(BatchJobOptions options, std::uint64_t id);
    BatchRequestStatus* findRequest(std::uint64_t id); // m_mutex held

    const std::string m_dataDirectory;
    const BatchScheduleConfig m_config;
    mutable std::mutex m_mutex;
    std::condition_variable m_idle;
    BatchSchedulerStatus m_status;
    std::vector<BatchJobResult> m_finished;
    std::deque<BatchRequestStatus> m_requests; ///< newest first, ≤ kRequestHistory
    std::uint64_t m_nextId = 1;
    std::atomic<bool> m_cancel { false };
    std::thread m_thread;
};

} // namespace adclick::engine
