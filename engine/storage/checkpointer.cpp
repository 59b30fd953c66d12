#include "storage/checkpointer.h"

#include "core/ad_dictionary.h"
#include "core/byte_io.h"
#include "ingest/user_agent.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/file.h>
#include <unistd.h>

namespace adclick::engine {

namespace fs = std::filesystem;

namespace {
constexpr std::uint32_t kHeaderMagic = 0x48504341; // "ACPH": the checkpointer's part of the state blob
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

void appendJsonString(std::string& out, std::string_view s)
{
    static const char* kHex = "0123456789abcdef";
    out += '"';
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c >= 0x7f) {
            // Bytes, not text: anything outside printable ASCII is escaped so the file stays valid
            // JSON whatever the input was (\u00XX = the byte value).
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
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

std::unique_ptr<Checkpointer> Checkpointer::open(
    CheckpointerConfig config, AdDictionary& ads, UserAgentDictionary& userAgents, std::string& error)
{
    std::unique_ptr<Checkpointer> c(new Checkpointer());
    c->m_config = std::move(config);
    c->m_ads = &ads;
    c->m_userAgents = &userAgents;
    const std::string& dir = c->m_config.dataDirectory;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        error = "cannot create data directory " + dir + ": " + ec.message();
        return nullptr;
    }
    const std::string lockPath = dir + "/LOCK";
    const int lockFd = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lockFd < 0) {
        error = "cannot open " + lockPath + ": " + std::strerror(errno);
        return nullptr;
    }
    c->m_lock = FileHandle(lockFd, lockPath);
    if (::flock(lockFd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = {};
        (void)!::pread(lockFd, pid, sizeof pid - 1, 0);
        error = "data directory " + dir + " is in use by another adclick process (pid " + std::string(pid)
            + "); stop it or choose another --data-dir";
        return nullptr;
    }
    const std::string pidText = std::to_string(::getpid());
    (void)!::ftruncate(lockFd, 0);
    (void)!::pwrite(lockFd, pidText.data(), pidText.size(), 0);

    c->m_store = SqliteStore::open(dir + "/adclick.db", {}, error);
    if (!c->m_store)
        return nullptr;
    // Named ads get dense ids in interning order: re-interning the stored names in id order gives
    // every ad its stored id back.
    bool idsMatch = true;
    c->m_store->forEachAd([&](AdId id, const std::string& name) {
        const auto got = ads.intern(name);
        idsMatch = idsMatch && got && *got == id;
    });
    if (!idsMatch) {
        error = "the ads dictionary in " + c->m_store->path() + " does not match this process's (was it edited?)";
        return nullptr;
    }
    c->m_adsPersisted = ads.namedCount();
    c->m_config.rawLog.directory = dir + "/raw";
    if (!c->m_config.tracePath.empty())
        c->m_trace = FileHandle(::open(c->m_config.tracePath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644),
            c->m_config.tracePath);
    return c;
}

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

bool Checkpointer::recover(Pipeline& pipeline, EventSource& source, RecoveryReport& report, std::string& error)
{
    const auto t0 = std::chrono::steady_clock::now();
    m_pipeline = &pipeline;
    report = {};
    CheckpointData ck;
    const bool have = m_store->loadCheckpoint(ck);
    if (!have && !m_store->error().empty()) {
        // Unreadable is not "absent": a fresh start would throw away the raw log.
        error = "cannot read the last checkpoint from " + m_store->path() + ": " + m_store->error();
        return false;
    }
    const std::string quarantinePath = m_config.dataDirectory + "/quarantine.ndjson";
    std::uint64_t quarantineBytes = 0;

    if (!have) {
        // Nothing durable yet: whatever a crashed first run left in the raw log is not part of any
        // checkpoint and will be ingested again, so it goes.
        std::error_code ec;
        if (fs::exists(m_config.rawLog.directory, ec))
            for (const auto& entry : fs::directory_iterator(m_config.rawLog.directory, ec))
                if (entry.path().extension() == ".acr")
                    fs::remove(entry.path(), ec);
        m_raw = RawLogWriter::open(m_config.rawLog, nullptr, *m_userAgents, *m_ads, error);
        if (!m_raw)
            return false;
    } else {
        ByteReader r(ck.state);
        std::uint32_t magic = 0;
        if (!r.get(magic) || magic != kHeaderMagic || !r.get(quarantineBytes)) {
            error = "checkpoint " + std::to_string(ck.sequence) + " in " + m_store->path() + " is unreadable";
            return false;
        }
        constexpr std::size_t kHeaderBytes = sizeof(std::uint32_t) + sizeof(std::uint64_t);
        if (!pipeline.restoreState(std::span(ck.state).subspan(kHeaderBytes), error))
            return false;
        report.restored = true;
        report.checkpointSequence = ck.sequence;
        report.watermarkMs = ck.watermarkMs;
        report.nextSequence = ck.rawEnd.nextSequence;
        report.previousRunFinished = pipeline.finished();
        if (report.previousRunFinished)
            report.warnings.push_back("the previous run reached the end of its input and finalised every window: "
                                      "events for those windows will count as late");

        std::vector<RawSegmentInfo> before = RawLogReader(m_config.rawLog.directory).segments();
        std::uint64_t bytesBefore = 0;
        for (const auto& s : before)
            bytesBefore += s.bytes;
        m_raw = RawLogWriter::open(m_config.rawLog, &ck.rawEnd, *m_userAgents, *m_ads, error);
        if (!m_raw)
            return false;
        std::uint64_t bytesAfter = 0;
        for (const auto& s : RawLogReader(m_config.rawLog.directory).segments())
            bytesAfter += s.bytes;
        report.rawBytesTruncated = bytesBefore > bytesAfter ? bytesBefore - bytesAfter : 0;

        // Windows still held at the checkpoint's watermark come back from their rows.
        const WindowConfig& wc = pipeline.config().window;
        const TimeMs span = 2 * wc.windowMs + wc.allowedLatenessMs + wc.updateRetentionMs;
        const TimeMs from = ck.watermarkMs <= kMinTimeMs + span ? kMinTimeMs : ck.watermarkMs - span;
        m_store->forEachSpeedMinute(from, INT64_MAX / 4, [&](const StoredRow& row) {
            if (!pipeline.holdsWindow(row.key.windowStartMs))
                return;
            pipeline.restoreCell(row.key, row.count, row.lateUpdated, row.revision);
            ++report.rowsRestored;
        });

        // De-duplication ids and top-K slots come back from the raw log.
        const std::uint64_t replayFrom = pipeline.replayFromSequence();
        const std::uint64_t replayTo = ck.rawEnd.nextSequence;
        std::uint64_t expected = replayFrom;
        bool gap = false;
        RawLogReader reader(m_config.rawLog.directory);
        if (replayFrom < replayTo)
            reader.scanFromSequence(replayFrom, [&](const RawRecord& rec) {
                if (rec.sequence >= replayTo)
                    return false;
                gap = gap || rec.sequence != expected;
                expected = rec.sequence + 1;
                pipeline.replayEvent(rec.event, rec.sequence);
                ++report.replayedRecords;
                return true;
            });
        if (gap || expected != std::max(replayFrom, replayTo))
            report.warnings.push_back("the raw log misses records " + std::to_string(expected) + " … "
                + std::to_string(replayTo) + " needed to rebuild de-duplication and top-K state; "
                + "duplicates of those clicks may be counted and the top-K is incomplete until its window passes");
        for (const RawLogDamage& d : reader.damage())
            report.warnings.push_back(
                "raw log damage in " + d.path + " at byte " + std::to_string(d.byteOffset) + ": " + d.reason);

        if (ck.sourceKey == m_config.sourceKey) {
            const auto& offsets = pipeline.sourceOffsets();
            for (std::uint32_t p = 0; p < offsets.size() && p < source.partitionCount(); ++p)
                if (!source.seek(p, offsets[p]))
                    report.warnings.push_back("the source cannot seek partition " + std::to_string(p) + " to offset "
                        + std::to_string(offsets[p]) + ": events may be lost or repeated");
        } else {
            report.sourceMatched = false;
            report.warnings.push_back("the checkpoint belongs to another source (" + ck.sourceKey
                + "): this source starts from its beginning");
        }
        m_lastCheckpointMs = ck.processingTimeMs;
        std::lock_guard lock(m_mutex);
        m_stats.lastSequence = ck.sequence;
        m_stats.lastCommitWallMs = ck.wallTimeMs;
        m_stats.lastCommitProcessingMs = ck.processingTimeMs;
    }

    const int qfd = ::open(quarantinePath.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (qfd < 0 || ::ftruncate(qfd, static_cast<off_t>(quarantineBytes)) != 0) {
        error = "cannot open " + quarantinePath + ": " + std::strerror(errno);
        if (qfd >= 0)
            ::close(qfd);
        return false;
    }
    m_quarantineSync = std::make_shared<FileHandle>(qfd, quarantinePath);
    m_quarantineBytes = quarantineBytes;

    pipeline.finishRestore();
    pipeline.addSink(this);
    report.seconds = msSince(t0) / 1000.0;
    m_thread = std::thread([this] { storeThread(); });
    return true;
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
    while (!m_raw->append(batch.events.data(), batch.events.size(), batch.processingTimeMs)) {
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
        appendJsonString(q, r.bytes);
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
    w.put(kHeaderMagic);
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
    if (m_poisoned || !m_raw)
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
    if (m_poisoned || !m_raw) {
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

bool Checkpointer::commit(Job& job)
{
    std::string error;
    m_store->setInjectedFailure(m_injectFailure.load(std::memory_order_acquire));
    for (const auto& f : job.cut.files)
        if (!f->sync(error)) {
            job.error = error;
            return false;
        }
    const auto trace = [&](const char* what) {
        if (!m_trace.isOpen())
            return;
        const std::string line = std::string(what) + " " + std::to_string(m_stats.lastSequence + 1) + "\n";
        (void)!::write(m_trace.fd(), line.data(), line.size());
    };
    trace("begin");
    if (m_store->writeCheckpoint(job.data) != StoreStatus::Ok) {
        job.error = "checkpoint commit failed: " + m_store->error();
        trace("failed");
        return false;
    }
    trace("end");
    return true;
}

void Checkpointer::maintain(TimeMs nowMs)
{
    RollupReport rollup;
    const StoreStatus s = m_store->rollup(nowMs, m_config.retention, &rollup);
    const std::size_t deleted = applyRawLogRetention(m_config.rawLog.directory, nowMs, m_config.rawLog.retentionMs);
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
                const bool ok = commit(job);
                const double ms = msSince(t0);
                lock.lock();
                if (ok) {
                    ++m_stats.checkpoints;
                    m_stats.rowsWritten += job.data.rows.size();
                    m_stats.lastSequence = job.data.sequence = m_stats.lastSequence + 1;
                    m_stats.lastCommitMs = ms;
                    m_stats.maxCommitMs = std::max(m_stats.maxCommitMs, ms);
                    m_stats.lastCommitWallMs = wallNowMs();
                    m_stats.lastCommitProcessingMs = job.data.processingTimeMs;
                    m_stats.pauseReason.clear();
                    m_storeFailing.store(false, std::memory_order_release);
                    break;
                }
                ++m_stats.failedAttempts;
                m_stats.pauseReason = job.error;
                m_storeFailing.store(true, std::memory_order_release);
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
            if (m_nextMaintenanceMs == kMinTimeMs || now >= m_nextMaintenanceMs) {
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
    return s;
}

void Checkpointer::injectStoreFailure(bool on)
{
    m_injectFailure.store(on, std::memory_order_release);
}

} // namespace adclick::engine
