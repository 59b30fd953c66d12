#include "batch/batch_scheduler.h"

#include "storage/sqlite_store.h"

#include <filesystem>

namespace adclick::engine {

BatchScheduler::BatchScheduler(std::string dataDirectory, BatchScheduleConfig config)
    : m_dataDirectory(std::move(dataDirectory))
    , m_config(config)
{
}

BatchScheduler::~BatchScheduler()
{
    cancel();
    waitIdle();
    if (m_thread.joinable())
        m_thread.join();
}

void BatchScheduler::poll(TimeMs processingTimeMs, TimeMs watermarkMs)
{
    if (m_config.intervalMs <= 0)
        return;
    std::lock_guard lock(m_mutex);
    if (m_status.nextScheduledMs == 0) {
        m_status.nextScheduledMs = processingTimeMs + m_config.intervalMs;
        return;
    }
    if (processingTimeMs < m_status.nextScheduledMs || m_status.running || watermarkMs <= kMinTimeMs)
        return;
    m_status.nextScheduledMs = processingTimeMs + m_config.intervalMs;
    const TimeMs to = windowStartOf(watermarkMs - m_config.allowedLatenessMs, kMsPerMinute);
    TimeMs from = to - m_config.firstRangeMs;
    if (std::filesystem::exists(m_dataDirectory + "/adclick.db")) {
        std::string error;
        if (auto store = SqliteStore::open(m_dataDirectory + "/adclick.db", { true, 5000 }, error)) {
            for (const BatchRunRecord& r : store->batchRuns(kMinTimeMs, INT64_MAX / 4))
                if (r.trigger == "schedule")
                    from = std::max(to - m_config.firstRangeMs - m_config.intervalMs, r.toMs - m_config.overlapMs);
        }
    }
    if (from >= to)
        return;
    BatchJobOptions o;
    o.fromMs = from;
    o.toMs = to;
    o.trigger = "schedule";
    o.threads = m_config.threads;
    o.processingTimeMs = processingTimeMs;
    start(std::move(o));
}

bool BatchScheduler::request(
    TimeMs fromMs, TimeMs toMs, const std::string& trigger, TimeMs processingTimeMs, std::string& why)
{
    std::lock_guard lock(m_mutex);
    if (m_status.running) {
        why = "a batch run (" + m_status.runningTrigger + ") is already running";
        return false;
    }
    if (fromMs >= toMs) {
        why = "empty range: from must be before to";
        return false;
    }
    BatchJobOptions o;
    o.fromMs = fromMs;
    o.toMs = toMs;
    o.trigger = trigger;
    o.threads = m_config.threads;
    o.processingTimeMs = processingTimeMs;
    start(std::move(o));
    return true;
}

void BatchScheduler::start(BatchJobOptions o)
{
    if (m_thread.joinable())
        m_thread.join(); // the previous job has ended (running is false)
    m_cancel = false;
    m_status.running = true;
    m_status.runningTrigger = o.trigger;
    m_status.runningFromMs = o.fromMs;
    m_status.runningToMs = o.toMs;
    m_status.progress = {};
    o.cancel = &m_cancel;
    o.progress = [this](const BatchProgress& p) {
        std::lock_guard lock(m_mutex);
        m_status.progress = p;
    };
    m_thread = std::thread([this, o = std::move(o)] { runJob(o); });
}

void BatchScheduler::runJob(BatchJobOptions o)
{
    BatchJobResult r = BatchJob::run(m_dataDirectory, o);
    std::lock_guard lock(m_mutex);
    m_status.running = false;
    if (r.ok) {
        ++m_status.runsCompleted;
        m_status.lastRun = r.run;
        m_status.lastError.clear();
    } else {
        ++m_status.runsFailed;
        m_status.lastError = r.error;
    }
    r.count.cells.clear(); // the log needs the figures, not the rows
    r.count.cells.shrink_to_fit();
    m_finished.push_back(std::move(r));
    m_idle.notify_all();
}

void BatchScheduler::cancel()
{
    m_cancel = true;
}

void BatchScheduler::waitIdle()
{
    std::unique_lock lock(m_mutex);
    m_idle.wait(lock, [this] { return !m_status.running; });
}

BatchSchedulerStatus BatchScheduler::status() const
{
    std::lock_guard lock(m_mutex);
    return m_status;
}

std::vector<BatchJobResult> BatchScheduler::takeFinished()
{
    std::lock_guard lock(m_mutex);
    return std::exchange(m_finished, {});
}

} // namespace adclick::engine
