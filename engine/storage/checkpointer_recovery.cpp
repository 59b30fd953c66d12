// Opening a data directory and recovering from its last checkpoint (see Checkpointer).
#include "storage/checkpointer.h"

#include "core/ad_dictionary.h"
#include "core/byte_io.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/file.h>
#include <unistd.h>

namespace adclick::engine {

namespace fs = std::filesystem;

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

    // A batch run replacing millions of rows holds the write lock for seconds; a checkpoint waits
    // for it (on the store thread: ingestion goes on) rather than failing and pausing ingestion.
    SqliteStore::Options storeOptions;
    storeOptions.busyTimeoutMs = 120000;
    c->m_store = SqliteStore::open(dir + "/adclick.db", storeOptions, error);
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
        if (!r.get(magic) || magic != kStateHeaderMagic || !r.get(quarantineBytes)) {
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
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    m_thread = std::thread([this] { storeThread(); });
    return true;
}

} // namespace adclick::engine
