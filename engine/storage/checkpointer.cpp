#include "storage/checkpointer.h"

#include "core/ad_dictionary.h"
#include "core/byte_io.h"
#include "ingest/json_writer.h"
#include "ingest/user_agent.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace adclick::engine {

namespace {
constexpr auto kRetryPause = std::chrono::milliseconds(500);

double msSince(std::chrono::steady_clock::time_point t)
{
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

std::int64_t wallNowMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

bool writeAll(
    int fd, const char* data, std::size_t n, std::uint64_t offset, std::string& error, const std::string& path)
{
    while (n > 0) {
        const ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(offset));
        if (w < 0) {
            if (errno == EINTR)
                continue;
            error = "write " + path + ": " + std::strerror(errno);
            return false;
        }
        data += w;
        n -= static_cast<std::size_t>(w);
        offset += static_cast<std::uint64_t>(w);
    }
    return true;
}
} // namespace

struct Checkpointer::Job {
    CheckpointData data;
    RawLogWriter::Cut cut;
    bool committed = false;
    bool abandoned = false;
    std::string error;
};

Checkpointer::Checkpointer() = default;

Checkpointer::~Checkpointer()
{
    // Without close() this is an abandon, like a crash: no final checkpoint (the pipeline this
    // sink belongs to may already be gone), the last committed one stays the recovery point.
    if (m_thread.joinable()) {
        {
            std::lock_guard lock(m_mutex);
            m_stopThread = true;
            m_cv.notify_all();
        }
        m_thread.join();
    }
}

std::string Checkpointer::databasePath() const
{
    return m_store ? m_store->path() : std::string();
}

void Checkpointer::onBatch(const IngestBatch& batch)
{
    if (m_poisoned)
        return;
    if (!batch.rejected.empty())
        quarantine(batch);
    if (batch.events.empty())
        return;
    // Every accepted event is logged before anything of it can be checkpointed. When the write
    // fails (disk full) ingestion waits here, paused, and retries; stopping while paused leaves the
    // last good checkpoint as the recovery point (these events are not in it).
    const TimeMs* arrival
        = batch.watermarkAtArrivalMs.size() == batch.events.size() ? batch.watermarkAtArrivalMs.data() : nullptr;
    while (!m_raw->append(batch.events.data(), batch.events.size(), batch.processingTimeMs, arrival)) {
        {
            std::lock_guard lock(m_mutex);
            m_stats.pauseReason = "raw log write failed: " + m_raw->error();
            ++m_stats.failedAttempts;
        }
        m_rawFailing.store(true, std::memory_order_release);
        if (m_pipeline && m_pipeline->stopRequested()) {
            m_poisoned = true;
            return;
        }
        std::this_thread::sleep_for(kRetryPause);
    }
    m_rawFailing.store(false, std::memory_order_release);
}

void Checkpointer::quarantine(const IngestBatch& batch)
{
    for (const RejectedRecord& r : batch.rejected) {
        std::string& q = m_quarantineBuffer;
        q += "{\"reason\":\"";
        q += rejectReasonName(r.reason);
        q += "\",\"partition\":" + std::to_string(r.position.partition)
            + ",\"offset\":" + std::to_string(r.position.offset)
            + ",\"processing_time_ms\":" + std::to_string(batch.processingTimeMs) + ",\"bytes\":";
        appendJsonBytes(q, r.bytes);
        q += "}\n";
    }
    std::lock_guard lock(m_mutex);
    m_stats.quarantined += batch.rejected.size();
}

bool Checkpointer::flushQuarantine(std::string& error)
{
    if (m_quarantineBuffer.empty())
        return true;
    if (!writeAll(m_quarantineSync->fd(), m_quarantineBuffer.data(), m_quarantineBuffer.size(), m_quarantineBytes,
            error, m_quarantineSync->path()))
        return false;
    m_quarantineBytes += m_quarantineBuffer.size();
    m_quarantineBuffer.clear();
    return true;
}

void Checkpointer::onResults(
    std::span<const WindowResult> results, std::span<const LateDropDelta> lateDrops, std::span<const WindowSummary>)
{
    m_pendingRows.reserve(m_pendingRows.size() + results.size());
    for (const WindowResult& r : results)
        m_pendingRows.push_back({ r.key, r.count, r.lateUpdated, r.revision, true });
    m_pendingLateDrops.insert(m_pendingLateDrops.end(), lateDrops.begin(), lateDrops.end());
}

std::unique_ptr<Checkpointer::Job> Checkpointer::capture()
{
    const auto t0 = std::chrono::steady_clock::now();
    auto job = std::make_unique<Job>();
    std::string error;
    // The raw log and quarantine file first: if they cannot be written nothing is drained, and
    // the same capture is retried later.
    if (!m_raw->cut(job->cut) || !flushQuarantine(error)) {
        std::lock_guard lock(m_mutex);
        m_stats.pauseReason = error.empty() ? "raw log write failed: " + m_raw->error() : error;
        ++m_stats.failedAttempts;
        m_rawFailing.store(true, std::memory_order_release);
        return nullptr;
    }
    m_rawFailing.store(false, std::memory_order_release);
    job->cut.files.push_back(m_quarantineSync);

    PipelineCheckpoint& pc = m_capture;
    m_pipeline->captureCheckpoint(pc);
    if (job->cut.end.nextSequence != pc.nextSequence) {
        // A broken invariant, not an I/O condition: stop checkpointing rather than commit a lie.
        m_poisoned = true;
        std::lock_guard lock(m_mutex);
        m_stats.pauseReason = "internal error: raw log holds " + std::to_string(job->cut.end.nextSequence)
            + " events but the pipeline accepted " + std::to_string(pc.nextSequence) + "; checkpoints stopped";
        m_rawFailing.store(true, std::memory_order_release);
        return nullptr;
    }
    CheckpointData& d = job->data;
    d.processingTimeMs = pc.processingTimeMs;
    d.watermarkMs = pc.watermarkMs;
    d.wallTimeMs = wallNowMs();
    d.rawEnd = job->cut.end;
    d.sourceKey = m_config.sourceKey;
    for (const SourcePosition& p : pc.offsets)
        d.offsets.push_back({ p.partition, p.offset });
    ByteWriter w(d.state);
    w.put(kStateHeaderMagic);
    w.put(m_quarantineBytes);
    d.state.insert(d.state.end(), pc.state.begin(), pc.state.end());
    for (std::uint32_t i = m_adsPersisted; i < m_ads->namedCount(); ++i)
        d.newAds.emplace_back(kFirstNamedAdId + i, m_ads->format(kFirstNamedAdId + i));
    m_adsPersisted = m_ads->namedCount();
    d.rows.swap(m_pendingRows);
    {
        // The next interval's rows go into the buffer of a committed job, already faulted in.
        std::lock_guard lock(m_mutex);
        m_pendingRows.swap(m_spareRows);
    }
    d.rows.reserve(d.rows.size() + pc.changedOpenCells.size());
    for (const WindowResult& r : pc.changedOpenCells)
        d.rows.push_back({ r.key, r.count, r.lateUpdated, 0, false });
    d.lateDrops.swap(m_pendingLateDrops);
    d.quarantined = m_pipeline->counters().rejected.byReason;
    m_lastCheckpointMs = pc.processingTimeMs;

    const double ms = msSince(t0);
    std::lock_guard lock(m_mutex);
    m_stats.lastCaptureMs = ms;
    m_stats.maxCaptureMs = std::max(m_stats.maxCaptureMs, ms);
    m_stats.rawBytes = m_raw->bytesWritten();
    m_stats.rawRecords = m_raw->recordsWritten();
    return job;
}

void Checkpointer::submit(std::unique_ptr<Job> job)
{
    std::lock_guard lock(m_mutex);
    m_job = std::move(job);
    m_busy = true;
    m_cv.notify_all();
}

void Checkpointer::afterStep()
{
    if (m_poisoned || !m_raw || failed())
        return;
    {
        std::lock_guard lock(m_mutex);
        if (m_busy)
            return; // a commit is in flight: this checkpoint folds into the next one
    }
    const TimeMs now = m_pipeline->processingTimeMs();
    if (m_lastCheckpointMs != kMinTimeMs && now - m_lastCheckpointMs < m_config.intervalMs && !paused())
        return;
    if (auto job = capture())
        submit(std::move(job));
}

bool Checkpointer::waitIdle(std::chrono::milliseconds giveUpAfter)
{
    const auto start = std::chrono::steady_clock::now();
    std::unique_lock lock(m_mutex);
    while (m_busy) {
        m_cv.wait_for(lock, std::chrono::milliseconds(100));
        if (m_busy && m_storeFailing.load(std::memory_order_acquire)
            && std::chrono::steady_clock::now() - start >= giveUpAfter)
            return false;
    }
    return true;
}

bool Checkpointer::checkpointNow(std::string& error)
{
    if (m_poisoned || !m_raw || failed()) {
        std::lock_guard lock(m_mutex);
        error = "no checkpoint possible: " + m_stats.pauseReason;
        return false;
    }
    constexpr auto kGiveUp = std::chrono::seconds(5);
    if (!waitIdle(kGiveUp)) {
        std::lock_guard lock(m_mutex);
        error = "checkpoint failed: " + m_stats.pauseReason;
        return false;
    }
    std::unique_ptr<Job> job;
    for (int attempt = 0; attempt < 10 && !job; ++attempt) {
        job = capture();
        if (!job && !m_poisoned)
            std::this_thread::sleep_for(kRetryPause);
    }
    if (!job) {
        std::lock_guard lock(m_mutex);
        error = "final checkpoint failed: " + m_stats.pauseReason;
        return false;
    }
    const std::uint64_t before = stats().checkpoints;
    submit(std::move(job));
    if (!waitIdle(kGiveUp) || stats().checkpoints == before) {
        std::lock_guard lock(m_mutex);
        error = "final checkpoint failed: " + m_stats.pauseReason;
        return false;
    }
    return true;
}

bool Checkpointer::maintainNow(std::string& error)
{
    if (!m_raw) {
        error = "the store is not open";
        return false;
    }
    waitIdle();
    {
        std::lock_guard lock(m_mutex);
        m_maintenanceRequested = true;
        m_busy = true;
        m_cv.notify_all();
    }
    waitIdle();
    return true;
}

bool Checkpointer::close(std::string& error)
{
    if (m_closed)
        return true;
    m_closed = true;
    bool ok = true;
    if (m_thread.joinable()) {
        if (!m_poisoned && m_raw)
            ok = checkpointNow(error);
        {
            std::lock_guard lock(m_mutex);
            m_stopThread = true;
            m_cv.notify_all();
        }
        m_thread.join();
    }
    if (m_raw && ok && !m_raw->close()) {
        error = m_raw->error();
        ok = false;
    }
    return ok;
}

StoreStatus Checkpointer::commit(Job& job)
{
    std::string error;
    m_store->setInjectedFailure(m_injectFailure.load(std::memory_order_acquire));
    for (const auto& f : job.cut.files)
        if (!f->sync(error)) {
            job.error = error;
            return StoreStatus::IoError;
        }
    const auto trace = [&](const char* what) {
        if (!m_trace.isOpen())
            return;
        const std::string line = std::string(what) + " " + std::to_string(m_stats.lastSequence + 1) + "\n";
        (void)!::write(m_trace.fd(), line.data(), line.size());
    };
    trace("begin");
    if (const StoreStatus s = m_store->writeCheckpoint(job.data); s != StoreStatus::Ok) {
        job.error = "checkpoint commit failed: " + m_store->error();
        trace("failed");
        return s;
    }
    trace("end");
    return StoreStatus::Ok;
}

void Checkpointer::maintain(TimeMs nowMs)
{
    RollupReport rollup;
    const StoreStatus s = m_store->rollup(nowMs, m_config.retention, &rollup);
    TimeMs newestDeleted = kMinTimeMs;
    const std::size_t deleted = applyRawLogRetention(
        m_config.rawLog.directory, nowMs, m_config.rawLog.retentionMs, nullptr, &newestDeleted);
    if (deleted > 0 && newestDeleted > kMinTimeMs)
        (void)m_store->noteRawLogDeleted(newestDeleted); // a failure only makes a batch run recount less
    std::lock_guard lock(m_mutex);
    ++m_stats.maintenanceRuns;
    if (s == StoreStatus::Ok)
        m_stats.lastRollup = rollup;
    m_stats.rawSegmentsDeleted += deleted;
}

void Checkpointer::storeThread()
{
    std::unique_lock lock(m_mutex);
    while (true) {
        m_cv.wait(lock, [&] { return m_stopThread || m_job || m_maintenanceRequested; });
        if (m_job) {
            Job& job = *m_job;
            while (true) {
                lock.unlock();
                const auto t0 = std::chrono::steady_clock::now();
                const StoreStatus status = commit(job);
                const double ms = msSince(t0);
                lock.lock();
                if (status == StoreStatus::Ok) {
                    ++m_stats.checkpoints;
                    m_stats.rowsWritten += job.data.rows.size();
                    m_stats.lastSequence = job.data.sequence = m_stats.lastSequence + 1;
                    m_stats.lastCommitMs = ms;
                    m_stats.maxCommitMs = std::max(m_stats.maxCommitMs, ms);
                    m_stats.lastCommitWallMs = wallNowMs();
                    m_stats.lastCommitProcessingMs = job.data.processingTimeMs;
                    m_stats.durableOffsets.clear();
                    for (const SourceOffset& o : job.data.offsets) {
                        if (o.partition >= m_stats.durableOffsets.size())
                            m_stats.durableOffsets.resize(o.partition + 1, -1);
                        m_stats.durableOffsets[o.partition] = o.offset;
                    }
                    m_stats.pauseReason.clear();
                    m_storeFailing.store(false, std::memory_order_release);
                    break;
                }
                ++m_stats.failedAttempts;
                m_stats.pauseReason = job.error;
                m_storeFailing.store(true, std::memory_order_release);
                if (status == StoreStatus::Corrupt) {
                    // A damaged file stays damaged: stop for good instead of retrying forever.
                    m_storeCorrupt.store(true, std::memory_order_release);
                    break;
                }
                if (m_stopThread)
                    break; // shutting down: the last good checkpoint stays the recovery point
                m_cv.wait_for(lock, kRetryPause, [&] { return m_stopThread; });
            }
            const TimeMs now = job.data.processingTimeMs;
            if (job.data.rows.capacity() > m_spareRows.capacity()) {
                job.data.rows.clear();
                m_spareRows.swap(job.data.rows);
            }
            m_job.reset();
            if (!failed() && (m_nextMaintenanceMs == kMinTimeMs || now >= m_nextMaintenanceMs)) {
                m_nextMaintenanceMs = now + m_config.maintenanceIntervalMs;
                lock.unlock();
                maintain(now);
                lock.lock();
            }
        }
        if (m_maintenanceRequested) {
            m_maintenanceRequested = false;
            const TimeMs now = m_stats.lastCommitProcessingMs;
            lock.unlock();
            maintain(now);
            lock.lock();
        }
        m_busy = false;
        m_cv.notify_all();
        if (m_stopThread)
            return;
    }
}

CheckpointStats Checkpointer::stats() const
{
    std::lock_guard lock(m_mutex);
    CheckpointStats s = m_stats;
    s.paused = paused();
    s.failed = failed();
    return s;
}

void Checkpointer::injectStoreFailure(bool on)
{
    m_injectFailure.store(on, std::memory_order_release);
}

} // namespace adclick::engine
