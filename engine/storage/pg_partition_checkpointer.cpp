#include "storage/pg_partition_checkpointer.h"

#include <chrono>

namespace adclick::engine {

PgPartitionCheckpointer::PgPartitionCheckpointer(
    PgStore& store, std::string sourceKey, std::uint32_t partition, std::string owner)
    : m_store(store)
{
    m_position.sourceKey = std::move(sourceKey);
    m_position.partition = partition;
    m_position.owner = std::move(owner);
}

StoreStatus PgPartitionCheckpointer::claimAndRestore(Pipeline& pipeline, EventSource& source, std::string& error)
{
    // Copies: claimPartition overwrites m_position.
    const std::string sourceKey = m_position.sourceKey;
    const std::string owner = m_position.owner;
    if (const StoreStatus s = m_store.claimPartition(sourceKey, m_position.partition, owner, m_position);
        s != StoreStatus::Ok) {
        error = m_store.error();
        return s;
    }
    if (m_position.sequence == 0) { // never checkpointed: a fresh start
        if (m_raw && !m_raw->open(m_position.epoch, 0, error))
            return StoreStatus::IoError;
        return StoreStatus::Ok;
    }
    if (!pipeline.restoreState(m_position.state, error)) {
        error = "partition " + std::to_string(m_position.partition) + ": " + error;
        return StoreStatus::IoError;
    }
    // Windows still held at the checkpoint's watermark come back from the partition's rows.
    const WindowConfig& wc = pipeline.config().window;
    const TimeMs span = 2 * wc.windowMs + wc.allowedLatenessMs + wc.updateRetentionMs;
    const TimeMs from = m_position.watermarkMs <= kMinTimeMs + span ? kMinTimeMs : m_position.watermarkMs - span;
    m_store.forEachPartitionRow(m_position.partition, from, [&](const StoredRow& row) {
        if (!pipeline.holdsWindow(row.key.windowStartMs))
            return;
        pipeline.restoreCell(row.key, row.count, row.lateUpdated, row.revision);
        ++m_rowsRestored;
    });
    if (!m_store.error().empty()) {
        error = m_store.error();
        return StoreStatus::IoError;
    }
    if (m_raw) {
        m_recordsReplayed = m_raw->replay(m_position, pipeline, m_warnings);
        if (!m_raw->open(m_position.epoch, m_position.rawEnd.nextSequence, error))
            return StoreStatus::IoError;
    }
    pipeline.finishRestore();
    if (!source.seek(m_position.partition, m_position.lastOffset)) {
        error = "the source cannot resume partition " + std::to_string(m_position.partition) + " after offset "
            + std::to_string(m_position.lastOffset);
        return StoreStatus::IoError;
    }
    return StoreStatus::Ok;
}

void PgPartitionCheckpointer::onBatch(const IngestBatch& batch)
{
    if (m_raw && !m_rawFailed && !m_raw->append(batch))
        m_rawFailed = true;
}

void PgPartitionCheckpointer::onResults(
    std::span<const WindowResult> results, std::span<const LateDropDelta> lateDrops, std::span<const WindowSummary>)
{
    for (const WindowResult& r : results) {
        MinuteRow& row = m_final[r.key];
        row.key = r.key;
        row.count = r.count;
        row.lateUpdated = r.lateUpdated;
        row.revision = r.revision;
        row.final = true;
    }
    m_lateDrops.insert(m_lateDrops.end(), lateDrops.begin(), lateDrops.end());
}

StoreStatus PgPartitionCheckpointer::checkpoint(Pipeline& pipeline)
{
    if (m_rawFailed) // events counted but not logged: never commit them (the next owner recounts)
        {
        m_rawError = "raw log: " + m_raw->error();
        return StoreStatus::IoError;
    }
    PipelineCheckpoint ck;
    pipeline.captureCheckpoint(ck);
    PartitionCheckpointData data;
    data.position = m_position;
    data.position.state = std::move(ck.state);
    data.position.processingTimeMs = ck.processingTimeMs;
    data.position.watermarkMs = ck.watermarkMs;
    data.position.wallTimeMs = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch())
                                   .count();
    for (const SourcePosition& o : ck.offsets)
        if (o.partition == m_position.partition)
            data.position.lastOffset = o.offset;
    // Open cells changed since the last checkpoint that committed (a failed one's are kept: the
    // pipeline hands each change out once), then the final ones, which win for the same cell.
    for (const WindowResult& open : ck.changedOpenCells)
        m_open[open.key] = { open.key, open.count, open.lateUpdated, open.revision, false };
    for (const auto& [key, row] : m_open)
        if (!m_final.contains(key))
            data.rows.push_back(row);
    for (const auto& [key, row] : m_final)
        data.rows.push_back(row);
    data.lateDrops = m_lateDrops;
    data.quarantined = pipeline.counters().rejected.byReason;
    if (m_raw) {
        if (!m_raw->cut(data.position.rawEnd))
            {
        m_rawError = "raw log: " + m_raw->error();
        return StoreStatus::IoError;
    }
        data.position.rawEpoch = data.position.epoch;
    }
    const StoreStatus s = m_store.writePartitionCheckpoint(data);
    if (s != StoreStatus::Ok)
        return s;
    m_position = data.position;
    m_position.state.clear();
    m_open.clear();
    m_final.clear();
    m_lateDrops.clear();
    return StoreStatus::Ok;
}

} // namespace adclick::engine
