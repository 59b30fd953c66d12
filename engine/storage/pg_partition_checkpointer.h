#pragma once

#include "pipeline/pipeline.h"
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
/// Not yet: the partition's raw log, from which the single-process recovery also rebuilds
/// de-duplication ids and top-K counts; until it exists a resend that straddles a move of its
/// partition is not recognised as one (docs/SCALE-OUT.md, next steps).
class PgPartitionCheckpointer final : public PipelineSink {
public:
    PgPartitionCheckpointer(PgStore& store, std::string sourceKey, std::uint32_t partition, std::string owner);

    /// Claims the partition (a new epoch) and restores `pipeline` (new, not stepped yet) from its
    /// last checkpoint: the pipeline state, the open cells of the windows it still holds; then
    /// seeks `source` to after the last counted offset. Without a checkpoint the pipeline starts
    /// empty and the source where the group left it.
    StoreStatus claimAndRestore(Pipeline& pipeline, EventSource& source, std::string& error);
    /// Commits what `pipeline` did since the previous checkpoint. Fenced: the partition belongs to
    /// another owner now — stop processing it (nothing was written).
    StoreStatus checkpoint(Pipeline& pipeline);

    void onResults(std::span<const WindowResult> results, std::span<const LateDropDelta> lateDrops,
        std::span<const WindowSummary> summaries) override;

    const PartitionCheckpoint& position() const { return m_position; }
    std::uint64_t rowsRestored() const { return m_rowsRestored; }
    const std::string& error() const { return m_store.error(); }

private:
    PgStore& m_store;
    PartitionCheckpoint m_position;
    std::map<WindowKey, MinuteRow> m_open; ///< open cells changed since the last committed checkpoint
    std::map<WindowKey, MinuteRow> m_final; ///< cells final (or corrected) since the last committed checkpoint
    std::vector<LateDropDelta> m_lateDrops;
    std::uint64_t m_rowsRestored = 0;
};

} // namespace adclick::engine
