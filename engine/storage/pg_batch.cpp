// PgStore: the batch layer's rows and run records (as sqlite_batch.cpp), raw log retention state.

#include "storage/pg_store.h"

namespace adclick::engine {

namespace {
constexpr const char* kRunColumns = kBatchRunColumns;

BatchRunRecord readRun(const PgResult& q, int row)
{
    BatchRunRecord r;
    auto u = [&](int c) { return static_cast<std::uint64_t>(q.int64(row, c)); };
    r.runId = q.int64(row, 0);
    r.fromMs = q.int64(row, 1);
    r.toMs = q.int64(row, 2);
    r.rawEnd = { u(3), u(4), u(5) };
    r.startedWallMs = q.int64(row, 6);
    r.finishedWallMs = q.int64(row, 7);
    r.processingTimeMs = q.int64(row, 8);
    r.trigger = std::string(q.text(row, 9));
    r.recordsRead = u(10);
    r.recordsInRange = u(11);
    r.counted = u(12);
    r.duplicates = u(13);
    r.lateDropped = u(14);
    r.damagedBlocks = u(15);
    r.threads = static_cast<std::uint32_t>(q.int64(row, 16));
    r.seconds = q.real(row, 17);
    return r;
}

PgParam i64(std::uint64_t v)
{
    return PgParam(static_cast<std::int64_t>(v));
}

} // namespace

StoreStatus PgStore::writeBatchRun(BatchRunRecord& run, std::span<const BatchCell> cells, const std::string& instanceId)
{
    m_error.clear();
    if (run.fromMs >= run.toMs)
        return fail("batch run: empty range");
    for (const BatchCell& c : cells)
        if (c.key.windowStartMs < run.fromMs || c.key.windowStartMs >= run.toMs)
            return fail("batch run: a cell lies outside the run's range");
    PgTransaction tx(*m_conn);
    if (!tx.ok())
        return fail("batch run: BEGIN: " + tx.error());
    if (PgResult del = m_conn->exec("DELETE FROM batch_minute WHERE window_start >= $1 AND window_start < $2",
            { PgParam(static_cast<std::int64_t>(run.fromMs)), PgParam(static_cast<std::int64_t>(run.toMs)) });
        !del.ok())
        return fail(del, "batch run: clearing the range");
    // Chunks of cells, each one INSERT … SELECT FROM unnest(ten arrays).
    constexpr std::size_t kChunk = 20000;
    for (std::size_t at = 0; at < cells.size(); at += kChunk) {
        PgNumberArray cols[10];
        for (std::size_t i = at; i < std::min(cells.size(), at + kChunk); ++i) {
            const BatchCell& c = cells[i];
            cols[0].add(static_cast<std::int64_t>(c.key.adId));
            cols[1].add(c.key.windowStartMs);
            cols[2].add(static_cast<std::int64_t>(c.key.country));
            cols[3].add(static_cast<std::int64_t>(c.key.device));
            cols[4].add(static_cast<std::int64_t>(c.count));
            cols[5].add(static_cast<std::int64_t>(c.lateUpdated));
            cols[6].add(static_cast<std::int64_t>(c.lateDropped));
            cols[7].add(static_cast<std::int64_t>(c.speedDuplicates));
            cols[8].add(static_cast<std::int64_t>(c.duplicates));
            cols[9].add(static_cast<std::int64_t>(c.speedCounted));
        }
        PgResult ins = m_conn->exec(
            "INSERT INTO batch_minute(ad_id, window_start, country, device, count, late_updated, late_dropped, "
            "speed_duplicates, duplicates, speed_counted) SELECT * FROM unnest($1::bigint[], $2::bigint[], "
            "$3::int[], $4::int[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[])",
            { cols[0].param(), cols[1].param(), cols[2].param(), cols[3].param(), cols[4].param(), cols[5].param(),
                cols[6].param(), cols[7].param(), cols[8].param(), cols[9].param() });
        if (!ins.ok())
            return fail(ins, "batch run: writing rows");
    }
    PgResult rec = m_conn->exec(
        "INSERT INTO batch_run(from_ms, to_ms, raw_segment, raw_offset, raw_next_sequence, started_wall_ms, "
        "finished_wall_ms, processing_time_ms, trigger, records_read, records_in_range, counted, duplicates, "
        "late_dropped, damaged_blocks, threads, seconds, instance_id) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
        "$11, $12, $13, $14, $15, $16, $17, $18) RETURNING run_id",
        { PgParam(static_cast<std::int64_t>(run.fromMs)), PgParam(static_cast<std::int64_t>(run.toMs)),
            i64(run.rawEnd.segmentId), i64(run.rawEnd.byteOffset), i64(run.rawEnd.nextSequence),
            PgParam(run.startedWallMs), PgParam(run.finishedWallMs),
            PgParam(static_cast<std::int64_t>(run.processingTimeMs)), PgParam(run.trigger), i64(run.recordsRead),
            i64(run.recordsInRange), i64(run.counted), i64(run.duplicates), i64(run.lateDropped),
            i64(run.damagedBlocks), PgParam(run.threads), PgParam(run.seconds), PgParam(instanceId) });
    if (!rec.ok() || rec.rows() != 1)
        return fail(rec, "batch run: recording the run");
    if (!tx.commit())
        return fail("batch run: COMMIT: " + tx.error());
    run.runId = rec.int64(0, 0);
    return StoreStatus::Ok;
}

std::vector<BatchRunRecord> PgStore::batchRuns(TimeMs fromMs, TimeMs toMs)
{
    m_error.clear();
    std::vector<BatchRunRecord> out;
    PgResult q = m_conn->exec(
        (std::string("SELECT ") + kRunColumns + " FROM batch_run WHERE to_ms > $1 AND from_ms < $2 ORDER BY run_id")
            .c_str(),
        { PgParam(static_cast<std::int64_t>(fromMs)), PgParam(static_cast<std::int64_t>(toMs)) });
    if (!q.ok()) {
        fail(q, "batch runs");
        return out;
    }
    for (int i = 0; i < q.rows(); ++i)
        out.push_back(readRun(q, i));
    return out;
}

bool PgStore::latestBatchRun(BatchRunRecord& out)
{
    m_error.clear();
    PgResult q
        = m_conn->exec((std::string("SELECT ") + kRunColumns + " FROM batch_run ORDER BY run_id DESC LIMIT 1").c_str());
    if (!q.ok() || q.rows() != 1)
        return false;
    out = readRun(q, 0);
    return true;
}

void PgStore::forEachBatchCell(TimeMs fromMs, TimeMs toMs, const std::function<void(const BatchCell&)>& f)
{
    m_error.clear();
    PgResult q = m_conn->exec("SELECT ad_id, window_start, country, device, count, late_dropped, late_updated, "
                              "speed_duplicates, duplicates, speed_counted FROM batch_minute "
                              "WHERE window_start >= $1 AND window_start < $2 ORDER BY ad_id, window_start, country, device",
        { PgParam(static_cast<std::int64_t>(fromMs)), PgParam(static_cast<std::int64_t>(toMs)) });
    if (!q.ok()) {
        fail(q, "batch cells");
        return;
    }
    for (int i = 0; i < q.rows(); ++i) {
        BatchCell c;
        c.key.adId = static_cast<AdId>(q.int64(i, 0));
        c.key.windowStartMs = q.int64(i, 1);
        c.key.country = static_cast<CountryCode>(q.int64(i, 2));
        c.key.device = static_cast<DeviceClass>(q.int64(i, 3));
        c.count = static_cast<std::uint64_t>(q.int64(i, 4));
        c.lateDropped = static_cast<std::uint64_t>(q.int64(i, 5));
        c.lateUpdated = static_cast<std::uint64_t>(q.int64(i, 6));
        c.speedDuplicates = static_cast<std::uint64_t>(q.int64(i, 7));
        c.duplicates = static_cast<std::uint64_t>(q.int64(i, 8));
        c.speedCounted = static_cast<std::uint64_t>(q.int64(i, 9));
        f(c);
    }
}

TimeMs PgStore::minuteCutoffMs()
{
    PgResult q = m_conn->exec("SELECT minute_cutoff_ms FROM rollup_state WHERE id = 1");
    return q.ok() && q.rows() == 1 ? q.int64(0, 0) : kMinTimeMs;
}

StoreStatus PgStore::noteRawLogDeleted(TimeMs newestDeletedMs)
{
    m_error.clear();
    PgResult q = m_conn->exec("INSERT INTO raw_log_state(id, deleted_through_ms) VALUES(1, $1) ON CONFLICT (id) DO "
                              "UPDATE SET deleted_through_ms = greatest(raw_log_state.deleted_through_ms, "
                              "EXCLUDED.deleted_through_ms)",
        { PgParam(static_cast<std::int64_t>(newestDeletedMs)) });
    return q.ok() ? StoreStatus::Ok : fail(q, "raw log state");
}

TimeMs PgStore::rawLogDeletedThroughMs()
{
    PgResult q = m_conn->exec("SELECT deleted_through_ms FROM raw_log_state WHERE id = 1");
    return q.ok() && q.rows() == 1 ? q.int64(0, 0) : kMinTimeMs;
}

} // namespace adclick::engine
