#include "batch/batch_scheduler.h"

#include "storage/sqlite_store.h"

#include <chrono>
#include <filesystem>

namespace adclick::engine {

namespace {
std::int64_t wallMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch())
        .count();
}
} // namespace

std::string_view batchRequestStateName(BatchRequestState s)
{
    switch (s) {
    case BatchRequestState::Running:
        return "running";
    case BatchRequestState::Succeeded:
        return "succeeded";
    case BatchRequestState::Failed:
        return "failed";
    case BatchRequestState::Cancelled:
        return "cancelled";
    }
    return "unknown";
}

BatchScheduler::BatchScheduler(std::string dataDirectory, BatchScheduleConfig config)
    : m_dataDirectory(std::move(dataDirectory))
    , m_config(config)
    , m_nextId(static_cast<std::uint64_t>(std::max<std::int64_t>(1, wallMs())))
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

bool BatchScheduler::request(TimeMs fromMs, TimeMs toMs, const std::string& trigger, TimeMs processingTimeMs,
    std::string& why, std::uint64_t* id)
{
    std::lock_guard lock(m_mutex);
    if (m_status.running) {
        why = "a batch run (" + m_status.runningTrigger + ", id " + std::to_string(m_status.runningId)
            + ") is already running";
        if (id)
            *id = m_status.runningId;
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
    const std::uint64_t started = start(std::move(o));
    if (id)
        *id = started;
    return true;
}

std::uint64_t BatchScheduler::start(BatchJobOptions o)
{
    if (m_thread.joinable())
        m_thread.join(); // the previous job has ended (running is false)
    m_cancel = false;
    m_status.running = true;
    m_status.runningTrigger = o.trigger;
    m_status.runningFromMs = o.fromMs;
    m_status.runningToMs = o.toMs;
    m_status.progress = {};
    const std::uint64_t id = m_nextId++;
    m_status.runningId = id;
    BatchRequestStatus request;
    request.id = id;
    request.trigger = o.trigger;
    request.requestedFromMs = o.fromMs;
    request.requestedToMs = o.toMs;
    request.createdWallMs = wallMs();
    m_requests.push_front(std::move(request));
    while (m_requests.size() > kRequestHistory)
        m_requests.pop_back();
    o.cancel = &m_cancel;
    o.progress = [this, id](const BatchProgress& p) {
        std::lock_guard lock(m_mutex);
        m_status.progress = p;
        if (BatchRequestStatus* r = findRequest(id))
            r->progress = p;
    };
    m_thread = std::thread([this, id, o = std::move(o)] { runJob(o, id); });
    return id;
}

BatchRequestStatus* BatchScheduler::findRequest(std::uint64_t id)
{
    for (BatchRequestStatus& r : m_requests)
        if (r.id == id)
            return &r;
    return nullptr;
}

std::optional<BatchRequestStatus> BatchScheduler::requestStatus(std::uint64_t id) const
{
    std::lock_guard lock(m_mutex);
    for (const BatchRequestStatus& r : m_requests)
        if (r.id == id)
            return r;
    return std::nullopt;
}

std::vector<BatchRequestStatus> BatchScheduler::recentRequests() const
{
    std::lock_guard lock(m_mutex);
    return { m_requests.begin(), m_requests.end() };
}

void BatchScheduler::runJob(BatchJobOptions o, std::uint64_t id)
{
    BatchJobResult r = BatchJob::run(m_dataDirectory, o);
    r.count.cells.clear(); // the log needs the figures, not the rows
    r.count.cells.shrink_to_fit();
    std::lock_guard lock(m_mutex);
    m_status.running = false;
    m_status.runningId = 0;
    if (BatchRequestStatus* request = findRequest(id)) {
        request->state = r.ok ? BatchRequestState::Succeeded
            : r.error == "cancelled" ? BatchRequestState::Cancelled
                                     : BatchRequestState::Failed;
        request->finishedWallMs = wallMs();
        request->result = r;
    }
    if (r.ok) {
        ++m_status.runsCompleted;
        m_status.lastRun = r.run;
        m_status.lastError.clear();
    } else {
        ++m_status.runsFailed;
        m_status.lastError = r.error;
    }
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
