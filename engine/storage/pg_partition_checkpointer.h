#pragma once

#include "pipeline/pipeline.h"
#include "storage/pg_partition_raw_log.h"
#include "storage/pg_store.h"

#include <map>
#include <string>
#include <vector>

namespace adclick::engine {

/// Checkpoints and restores ONE partition's Pipeline through the shared PostgreSQL store (the
/// scale-out model, docs/SCALE-OUT.md): add it as the pipeline's sink, claimAndRestore() before
/// the first step, checkpoint() now and then. A checkpoint writes the partition's cells that
/// became final or changed since the previous one (absolute), its late drops and quarantine
/// totals, its pipeline state and its last offset, in one transaction that is refused (Fenced)
/// once another owner claimed the partition.
///
/// With a raw log (setRawLog), every accepted event is logged under the claim's epoch before a
/// checkpoint can include it, and a claim replays the partition's log chain from the pipeline's
/// replay point: de-duplication ids and top-K counts move with the partition, so a resend that
/// straddles a move is still recognised. Without one, they start empty after a move.
class PgPartitionCheckpointer final : public PipelineSink {
public:
    PgPartitionCheckpointer(PgStore& store, std::string sourceKey, std::uint32_t partition, std::string owner);

    /// Claims the partition (a new epoch) and restores `pipeline` (new, not stepped yet) from its
    /// last checkpoint: the pipeline state, the open cells of the windows it still holds; then
    /// seeks `source` to after the last counted offset. Without a checkpoint the pipeline starts
    /// empty and the source where the group left it.
    StoreStatus claimAndRestore(Pipeline& pipeline, EventSource& source, std::string& error);
    /// Logs the partition's accepted events to `rawLog` (call before claimAndRestore).
    void setRawLog(std::unique_ptr<PartitionRawLog> rawLog) { m_raw = std::move(rawLog); }
    /// Commits what `pipeline` did since the previous checkpoint. Fenced: the partition belongs to
    /// another owner now — stop processing it (nothing was written).
    StoreStatus checkpoint(Pipeline& pipeline);

    void onBatch(const IngestBatch& batch) override;
    void onResults(std::span<const WindowResult> results, std::span<const LateDropDelta> lateDrops,
        std::span<const WindowSummary> summaries) override;

    const PartitionCheckpoint& position() const { return m_position; }
    std::uint64_t rowsRestored() const { return m_rowsRestored; }
    std::uint64_t recordsReplayed() const { return m_recordsReplayed; }
    /// What the restore could not rebuild (raw log gaps or damage); empty when complete.
    const std::vector<std::string>& warnings() const { return m_warnings; }
    /// Seals the raw log segment (after the last checkpoint, when the partition is released).
    void closeRawLog()
    {
        if (m_raw)
            m_raw->close();
    }
    const std::string& error() const { return m_rawError.empty() ? m_store.error() : m_rawError; }

private:
    PgStore& m_store;
    PartitionCheckpoint m_position;
    std::map<WindowKey, MinuteRow> m_open; ///< open cells changed since the last committed checkpoint
    std::map<WindowKey, MinuteRow> m_final; ///< cells final (or corrected) since the last committed checkpoint
    std::vector<LateDropDelta> m_lateDrops;
    std::uint64_t m_rowsRestored = 0;
    std::uint64_t m_recordsReplayed = 0;
    std::unique_ptr<PartitionRawLog> m_raw;
    bool m_rawFailed = false; ///< an append failed: no checkpoint may claim those events
    std::vector<std::string> m_warnings;
    std::string m_rawError;
};

} // namespace adclick::engine
