#pragma once

#include "pipeline/pipeline.h"
#include "storage/file_handle.h"
#include "storage/raw_log.h"
#include "storage/sqlite_store.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace adclick::engine {

class AdDictionary;
class UserAgentDictionary;

struct CheckpointerConfig {
    std::string dataDirectory; ///< holds adclick.db, raw/, quarantine.ndjson, LOCK
    TimeMs intervalMs = kMsPerSecond; ///< processing time between checkpoints (a minimum: commits never overlap)
    RawLogConfig rawLog; ///< directory is set to <dataDirectory>/raw
    RetentionConfig retention;
    TimeMs maintenanceIntervalMs = kMsPerHour; ///< processing time between rollup + raw-log retention runs
    std::string sourceKey; ///< stable identity of the source the offsets belong to
    /// Test aid: if set, the store thread appends "begin N" / "end N" around each commit here, so
    /// a crash test can tell whether its kill landed inside a commit.
    std::string tracePath;
};

/// Thread-safe picture of the checkpointer for status lines, metrics and tests.
struct CheckpointStats {
    std::uint64_t checkpoints = 0; ///< committed
    std::uint64_t failedAttempts = 0;
    std::uint64_t rowsWritten = 0;
    std::uint64_t lastSequence = 0;
    /// Source offsets of the last committed checkpoint, per partition (-1: none): what a restart
    /// resumes after. A Kafka source commits these to its consumer group, for display.
    std::vector<std::int64_t> durableOffsets;
    double lastCommitMs = 0; ///< wall time of the last fsync + commit (store thread)
    double maxCommitMs = 0;
    double lastCaptureMs = 0; ///< ingest-thread time the last checkpoint took (capture + raw log cut)
    double maxCaptureMs = 0; ///< the longest ingest stall any checkpoint caused
    std::int64_t lastCommitWallMs = 0; ///< system time of the last commit (0 = none yet)
    TimeMs lastCommitProcessingMs = 0;
    bool paused = false; ///< ingestion paused: a checkpoint or raw log write keeps failing
    bool failed = false; ///< the database is damaged: no checkpoint can ever commit (pauseReason says why)
    std::string pauseReason;
    std::uint64_t rawBytes = 0; ///< raw log bytes written by this process
    std::uint64_t rawRecords = 0;
    std::uint64_t quarantined = 0; ///< records written to quarantine.ndjson by this process
    std::uint64_t maintenanceRuns = 0;
    RollupReport lastRollup;
    std::uint64_t rawSegmentsDeleted = 0;
};

/// What recover() did, for the console and the dashboard.
struct RecoveryReport {
    bool restored = false; ///< false: no checkpoint, a fresh start
    std::uint64_t checkpointSequence = 0;
    TimeMs watermarkMs = kMinTimeMs;
    std::uint64_t nextSequence = 0; ///< accepted events before the restart
    std::uint64_t rowsRestored = 0;
    std::uint64_t replayedRecords = 0;
    std::uint64_t rawBytesTruncated = 0;
    bool previousRunFinished = false;
    bool sourceMatched = true; ///< the checkpoint's offsets belong to this source
    double seconds = 0;
    std::vector<std::string> warnings;
};

/// Makes a Pipeline durable and exactly-once (DESIGN.md "Exactly once").
/// As a PipelineSink it appends every accepted event to the raw log (ingest thread) and collects
/// emitted rows. afterStep() starts a checkpoint every intervalMs of processing time: the ingest
/// thread captures the pipeline state and cuts the raw log (the only ingest stall), and the store
/// thread fsyncs the raw log and commits rows + state + offsets + raw log end in ONE SQLite
/// transaction. While a commit or a raw log write fails (disk full…), ingestion pauses (paused()),
/// the last good checkpoint stays intact, and the attempt is retried until it succeeds or the
/// process stops. Recovery (recover()) restores that checkpoint and seeks the source, so a kill -9
/// at any instant neither loses nor double-counts an event, in the rows or in the raw log.
class Checkpointer final : public PipelineSink {
public:
    /// Locks the data directory (one process at a time), opens the store and restores the named
    /// ads into `ads` (so ids match the stored rows). Call before the source interns anything.
    static std::unique_ptr<Checkpointer> open(
        CheckpointerConfig config, AdDictionary& ads, UserAgentDictionary& userAgents, std::string& error);
    ~Checkpointer() override;

    /// Restores the last checkpoint into a fresh pipeline (before its first step), truncates the
    /// raw log and quarantine file back to it, replays the raw log tail the state needs, and
    /// seeks the source. Registers itself as the pipeline's sink.
    bool recover(Pipeline& pipeline, EventSource& source, RecoveryReport& report, std::string& error);

    void onBatch(const IngestBatch& batch) override;
    void onResults(std::span<const WindowResult> results, std::span<const LateDropDelta> lateDrops,
        std::span<const WindowSummary> summaries) override;

    /// Ingest thread, after each step: starts a checkpoint when one is due and none is in flight.
    void afterStep();
    /// True while ingestion must wait (a failing checkpoint is being retried). Any thread.
    bool paused() const
    {
        return m_rawFailing.load(std::memory_order_acquire) || m_storeFailing.load(std::memory_order_acquire);
    }
    /// True once a commit found the database damaged (SQLITE_CORRUPT): retrying cannot help, so the
    /// ingest loop must stop; the last good checkpoint and the raw log are left as they are. Any thread.
    bool failed() const { return m_storeCorrupt.load(std::memory_order_acquire); }
    /// Ingest thread: waits for the checkpoint in flight, then commits one more synchronously
    /// (clean shutdown, end of input). False with error if it cannot be made durable.
    bool checkpointNow(std::string& error);
    /// Ingest thread: runs rollup + raw-log retention now (on demand) on the store thread and waits.
    bool maintainNow(std::string& error);
    /// Final checkpoint, seal the raw log, stop the store thread. Idempotent. Destroying the
    /// checkpointer without close() abandons it as a crash would (no final checkpoint).
    bool close(std::string& error);

    CheckpointStats stats() const;
    const CheckpointerConfig& config() const { return m_config; }
    std::string databasePath() const;
    /// Test hook: make commits fail as on a full disk until cleared.
    void injectStoreFailure(bool on);

private:
    /// Leads the state blob: the checkpointer's own part (quarantine file size), then the pipeline's.
    static constexpr std::uint32_t kStateHeaderMagic = 0x48504341; // "ACPH"
    struct Job;
    Checkpointer(); ///< via open()
    std::unique_ptr<Job> capture();
    void submit(std::unique_ptr<Job> job);
    /// Waits until no job is in flight; false if a failing commit was still retried after giveUpAfter.
    bool waitIdle(std::chrono::milliseconds giveUpAfter = std::chrono::milliseconds::max());
    void storeThread();
    StoreStatus commit(Job& job);
    void maintain(TimeMs nowMs);
    bool appendRaw(const IngestBatch& batch);
    void quarantine(const IngestBatch& batch);
    bool flushQuarantine(std::string& error);

    CheckpointerConfig m_config;
    AdDictionary* m_ads = nullptr;
    UserAgentDictionary* m_userAgents = nullptr;
    Pipeline* m_pipeline = nullptr;
    FileHandle m_lock;
    FileHandle m_trace;
    std::unique_ptr<SqliteStore> m_store;
    std::unique_ptr<RawLogWriter> m_raw;
    std::shared_ptr<FileHandle> m_quarantineSync;
    std::string m_quarantineBuffer;
    std::uint64_t m_quarantineBytes = 0; ///< durable + buffered size of quarantine.ndjson
    std::uint32_t m_adsPersisted = 0;
    std::vector<MinuteRow> m_pendingRows;
    std::vector<MinuteRow> m_spareRows; ///< a committed job's row buffer, handed back (no page faults on reuse)
    PipelineCheckpoint m_capture; ///< reused by capture(): its buffers keep their capacity
    std::vector<LateDropDelta> m_pendingLateDrops;
    TimeMs m_lastCheckpointMs = kMinTimeMs;
    TimeMs m_nextMaintenanceMs = kMinTimeMs;
    bool m_poisoned = false; ///< events were processed but not logged: never checkpoint again
    bool m_closed = false;

    mutable std::mutex m_mutex;
    std::condition_variable m_cv;
    std::unique_ptr<Job> m_job; ///< in flight (store thread)
    bool m_busy = false;
    bool m_maintenanceRequested = false;
    bool m_stopThread = false;
    std::atomic<bool> m_rawFailing { false }; ///< the raw log or quarantine file cannot be written
    std::atomic<bool> m_storeFailing { false }; ///< the checkpoint in flight cannot be committed
    std::atomic<bool> m_storeCorrupt { false }; ///< a commit found the database damaged: never retried
    std::atomic<bool> m_injectFailure { false };
    CheckpointStats m_stats;
    std::thread m_thread;
};

} // namespace adclick::engine
