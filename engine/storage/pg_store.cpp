#include "storage/pg_store.h"

#include "storage/pg_schema.h"

#include <algorithm>
#include <chrono>
#include <map>

namespace adclick::engine {

namespace {
std::int64_t wallNowMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// Columns ad_id, window_start, country, device, count, late_updated, late_dropped, revision,
/// final (in that order) of row i.
StoredRow storedRow(const PgResult& r, int i)
{
    StoredRow row;
    row.key.adId = static_cast<AdId>(r.int64(i, 0));
    row.key.windowStartMs = r.int64(i, 1);
    row.key.country = static_cast<CountryCode>(r.int64(i, 2));
    row.key.device = static_cast<DeviceClass>(r.int64(i, 3));
    row.count = static_cast<std::uint64_t>(r.int64(i, 4));
    row.lateUpdated = static_cast<std::uint64_t>(r.int64(i, 5));
    row.lateDropped = static_cast<std::uint64_t>(r.int64(i, 6));
    row.revision = static_cast<std::uint32_t>(r.int64(i, 7));
    row.final = r.boolean(i, 8);
    return row;
}

const char* const kClaim = "INSERT INTO partition_checkpoint(source_key, source_partition, owner, owner_epoch, "
                           "claimed_wall_ms) VALUES($1, $2, $3, 1, $4) "
                           "ON CONFLICT (source_key, source_partition) DO UPDATE SET owner = EXCLUDED.owner, "
                           "owner_epoch = partition_checkpoint.owner_epoch + 1, claimed_wall_ms = EXCLUDED.claimed_wall_ms "
                           "RETURNING owner_epoch, sequence, last_offset, processing_time_ms, watermark_ms, "
                           "wall_time_ms, state, raw_epoch, raw_segment, raw_offset, raw_next_sequence";
const char* const kLockOwner = "SELECT owner, owner_epoch, sequence FROM partition_checkpoint "
                               "WHERE source_key = $1 AND source_partition = $2 FOR UPDATE";
const char* const kInsertAd = "INSERT INTO ads(ad_id, name) VALUES($1, $2) ON CONFLICT (ad_id) DO NOTHING";
// Absolute values: a re-sent row changes nothing; late_dropped is the late-drop statement's.
const char* const kUpsertRows
    = "INSERT INTO speed_minute(ad_id, window_start, country, device, source_partition, count, late_updated, "
      "revision, final) SELECT a, w, c, d, $1, n, lu, r, f FROM unnest($2::bigint[], $3::bigint[], $4::int[], "
      "$5::int[], $6::bigint[], $7::bigint[], $8::int[], $9::boolean[]) AS t(a, w, c, d, n, lu, r, f) "
      "ON CONFLICT (ad_id, window_start, country, device, source_partition) DO UPDATE SET count = EXCLUDED.count, "
      "late_updated = EXCLUDED.late_updated, revision = EXCLUDED.revision, final = EXCLUDED.final";
// Deltas: a late drop only exists for a final window, so a missing row is created final, count 0.
const char* const kAddLateDrops
    = "INSERT INTO speed_minute(ad_id, window_start, country, device, source_partition, late_dropped, final) "
      "SELECT a, w, c, d, $1, n, true FROM unnest($2::bigint[], $3::bigint[], $4::int[], $5::int[], $6::bigint[]) "
      "AS t(a, w, c, d, n) ON CONFLICT (ad_id, window_start, country, device, source_partition) DO UPDATE SET "
      "late_dropped = speed_minute.late_dropped + EXCLUDED.late_dropped";
const char* const kUpsertQuarantine
    = "INSERT INTO quarantine_stats(source_key, source_partition, reason, name, count) VALUES($1, $2, $3, $4, $5) "
      "ON CONFLICT (source_key, source_partition, reason) DO UPDATE SET name = EXCLUDED.name, count = EXCLUDED.count";
const char* const kUpdatePosition
    = "UPDATE partition_checkpoint SET sequence = $3, last_offset = $4, processing_time_ms = $5, watermark_ms = $6, "
      "wall_time_ms = $7, state = $8, raw_epoch = $9, raw_segment = $10, raw_offset = $11, raw_next_sequence = $12 "
      "WHERE source_key = $1 AND source_partition = $2";
} // namespace

std::unique_ptr<PgStore> PgStore::open(const std::string& conninfo, std::string& error)
{
    std::unique_ptr<PgStore> s(new PgStore);
    s->m_conn = PgConnection::connect(conninfo, error);
    if (!s->m_conn)
        return nullptr;
    if (!PgSchema::migrate(*s->m_conn, wallNowMs(), s->m_version, error))
        return nullptr;
    return s;
}

PgStore::~PgStore() = default;

StoreStatus PgStore::fail(const PgResult& r, const char* what)
{
    m_error = std::string(what) + ": " + r.error();
    return StoreStatus::IoError;
}

StoreStatus PgStore::fail(std::string message)
{
    m_error = std::move(message);
    return StoreStatus::IoError;
}

StoreStatus PgStore::claimPartition(
    const std::string& sourceKey, std::uint32_t partition, const std::string& owner, PartitionCheckpoint& out)
{
    m_error.clear();
    PgResult r = m_conn->exec(kClaim, { PgParam(sourceKey), PgParam(partition), PgParam(owner), PgParam(wallNowMs()) });
    if (!r.ok() || r.rows() != 1)
        return fail(r, "claiming a partition");
    out = PartitionCheckpoint {};
    out.sourceKey = sourceKey;
    out.partition = partition;
    out.owner = owner;
    out.epoch = r.int64(0, 0);
    out.sequence = static_cast<std::uint64_t>(r.int64(0, 1));
    out.lastOffset = r.int64(0, 2);
    out.processingTimeMs = r.int64(0, 3);
    out.watermarkMs = r.int64(0, 4);
    out.wallTimeMs = r.int64(0, 5);
    out.state = r.bytes(0, 6);
    out.rawEpoch = r.int64(0, 7);
    out.rawEnd = { static_cast<std::uint64_t>(r.int64(0, 8)), static_cast<std::uint64_t>(r.int64(0, 9)),
        static_cast<std::uint64_t>(r.int64(0, 10)) };
    return StoreStatus::Ok;
}

StoreStatus PgStore::writePartitionCheckpoint(PartitionCheckpointData& data)
{
    m_error.clear();
    PartitionCheckpoint& p = data.position;
    PgTransaction tx(*m_conn);
    if (!tx.ok())
        return fail("BEGIN: " + tx.error());
    // The fence: the partition's row is locked until COMMIT; a newer claim waits for it, and
    // this write goes ahead only while its epoch is the partition's.
    PgResult owner = m_conn->exec(kLockOwner, { PgParam(p.sourceKey), PgParam(p.partition) });
    if (!owner.ok())
        return fail(owner, "locking the partition");
    if (owner.rows() != 1 || owner.text(0, 0) != p.owner || owner.int64(0, 1) != p.epoch) {
        m_error = "partition " + std::to_string(p.partition) + " of " + p.sourceKey + " is no longer ours ("
            + p.owner + ", epoch " + std::to_string(p.epoch) + "): "
            + (owner.rows() == 1 ? "claimed by " + std::string(owner.text(0, 0)) + ", epoch "
                       + std::to_string(owner.int64(0, 1))
                                 : std::string("never claimed"));
        return StoreStatus::Fenced;
    }
    const std::uint64_t sequence = static_cast<std::uint64_t>(owner.int64(0, 2)) + 1;

    for (const auto& [id, name] : data.newAds)
        if (PgResult r = m_conn->exec(kInsertAd, { PgParam(static_cast<std::int64_t>(id)), PgParam(name) }); !r.ok())
            return fail(r, "writing ad names");

    if (!data.rows.empty()) {
        // One row per cell (ON CONFLICT cannot touch a row twice in one statement): the last wins.
        std::map<WindowKey, const MinuteRow*> cells;
        for (const MinuteRow& row : data.rows)
            cells[row.key] = &row;
        PgNumberArray a, w, c, d, n, lu, r, f;
        for (const auto& [key, row] : cells) {
            a.add(static_cast<std::int64_t>(key.adId));
            w.add(static_cast<std::int64_t>(key.windowStartMs));
            c.add(static_cast<std::int64_t>(key.country));
            d.add(static_cast<std::int64_t>(key.device));
            n.add(static_cast<std::int64_t>(row->count));
            lu.add(static_cast<std::int64_t>(row->lateUpdated));
            r.add(static_cast<std::int64_t>(row->revision));
            f.add(row->final);
        }
        PgResult res = m_conn->exec(kUpsertRows,
            { PgParam(p.partition), a.param(), w.param(), c.param(), d.param(), n.param(), lu.param(), r.param(),
                f.param() });
        if (!res.ok())
            return fail(res, "writing speed rows");
    }
    if (!data.lateDrops.empty()) {
        std::map<WindowKey, std::uint64_t> drops;
        for (const LateDropDelta& l : data.lateDrops)
            drops[l.key] += l.count;
        PgNumberArray a, w, c, d, n;
        for (const auto& [key, count] : drops) {
            a.add(static_cast<std::int64_t>(key.adId));
            w.add(static_cast<std::int64_t>(key.windowStartMs));
            c.add(static_cast<std::int64_t>(key.country));
            d.add(static_cast<std::int64_t>(key.device));
            n.add(static_cast<std::int64_t>(count));
        }
        PgResult res
            = m_conn->exec(kAddLateDrops, { PgParam(p.partition), a.param(), w.param(), c.param(), d.param(), n.param() });
        if (!res.ok())
            return fail(res, "writing late drops");
    }
    for (int i = 0; i < kRejectReasonCount; ++i) {
        if (data.quarantined[static_cast<std::size_t>(i)] == 0)
            continue;
        PgResult res = m_conn->exec(kUpsertQuarantine,
            { PgParam(p.sourceKey), PgParam(p.partition), PgParam(i),
                PgParam(rejectReasonName(static_cast<RejectReason>(i))),
                PgParam(static_cast<std::int64_t>(data.quarantined[static_cast<std::size_t>(i)])) });
        if (!res.ok())
            return fail(res, "writing quarantine counts");
    }
    PgResult pos = m_conn->exec(kUpdatePosition,
        { PgParam(p.sourceKey), PgParam(p.partition), PgParam(static_cast<std::int64_t>(sequence)),
            PgParam(p.lastOffset), PgParam(static_cast<std::int64_t>(p.processingTimeMs)),
            PgParam(static_cast<std::int64_t>(p.watermarkMs)), PgParam(p.wallTimeMs), PgParam::bytes(p.state),
            PgParam(p.rawEpoch), PgParam(p.rawEnd.segmentId), PgParam(p.rawEnd.byteOffset),
            PgParam(p.rawEnd.nextSequence) });
    if (!pos.ok())
        return fail(pos, "writing the partition's position");
    if (!tx.commit())
        return fail("COMMIT: " + tx.error());
    p.sequence = sequence;
    return StoreStatus::Ok;
}

std::vector<PartitionCheckpoint> PgStore::partitions(const std::string& sourceKey)
{
    m_error.clear();
    std::vector<PartitionCheckpoint> out;
    PgResult r = m_conn->exec("SELECT source_partition, owner, owner_epoch, sequence, last_offset, processing_time_ms, "
                              "watermark_ms, wall_time_ms FROM partition_checkpoint WHERE source_key = $1 "
                              "ORDER BY source_partition",
        { PgParam(sourceKey) });
    if (!r.ok()) {
        fail(r, "listing partitions");
        return out;
    }
    for (int i = 0; i < r.rows(); ++i) {
        PartitionCheckpoint p;
        p.sourceKey = sourceKey;
        p.partition = static_cast<std::uint32_t>(r.int64(i, 0));
        p.owner = std::string(r.text(i, 1));
        p.epoch = r.int64(i, 2);
        p.sequence = static_cast<std::uint64_t>(r.int64(i, 3));
        p.lastOffset = r.int64(i, 4);
        p.processingTimeMs = r.int64(i, 5);
        p.watermarkMs = r.int64(i, 6);
        p.wallTimeMs = r.int64(i, 7);
        out.push_back(std::move(p));
    }
    return out;
}

void PgStore::forEachPartitionRow(
    std::uint32_t partition, TimeMs fromMs, const std::function<void(const StoredRow&)>& f)
{
    m_error.clear();
    PgResult r = m_conn->exec("SELECT ad_id, window_start, country, device, count, late_updated, late_dropped, "
                              "revision, final FROM speed_minute WHERE source_partition = $1 AND window_start >= $2 "
                              "ORDER BY ad_id, window_start, country, device",
        { PgParam(partition), PgParam(static_cast<std::int64_t>(fromMs)) });
    if (!r.ok()) {
        fail(r, "reading a partition's rows");
        return;
    }
    for (int i = 0; i < r.rows(); ++i)
        f(storedRow(r, i));
}

void PgStore::forEachSpeedMinute(TimeMs fromMs, TimeMs toMs, const std::function<void(const StoredRow&)>& f)
{
    m_error.clear();
    PgResult r = m_conn->exec("SELECT ad_id, window_start, country, device, sum(count), sum(late_updated), "
                              "sum(late_dropped), max(revision), bool_and(final) FROM speed_minute "
                              "WHERE window_start >= $1 AND window_start < $2 "
                              "GROUP BY ad_id, window_start, country, device ORDER BY ad_id, window_start, country, device",
        { PgParam(static_cast<std::int64_t>(fromMs)), PgParam(static_cast<std::int64_t>(toMs)) });
    if (!r.ok()) {
        fail(r, "reading speed rows");
        return;
    }
    for (int i = 0; i < r.rows(); ++i)
        f(storedRow(r, i));
}

std::uint64_t PgStore::total(RowKind kind, TimeMs fromMs, TimeMs toMs, AdId adId)
{
    m_error.clear();
    const bool speed = kind == RowKind::Speed;
    const std::string minute = speed ? "speed_minute" : "batch_minute";
    const std::string hour = speed ? "speed_hour" : "batch_hour";
    const std::string day = speed ? "speed_day" : "batch_day";
    // Table names come from the two constants above, never from the caller.
    const std::string adFilter = adId == 0 ? "" : " AND ad_id = $3";
    const std::string sql = "SELECT coalesce((SELECT sum(count) FROM " + minute
        + " WHERE window_start >= $1 AND window_start < $2" + adFilter + "), 0) + coalesce((SELECT sum(count) FROM "
        + hour + " WHERE bucket_start >= $1 AND bucket_start < $2" + adFilter
        + "), 0) + coalesce((SELECT sum(count) FROM " + day + " WHERE bucket_start >= $1 AND bucket_start < $2"
        + adFilter + "), 0)";
    std::vector<PgParam> params { PgParam(static_cast<std::int64_t>(fromMs)), PgParam(static_cast<std::int64_t>(toMs)) };
    if (adId != 0)
        params.emplace_back(static_cast<std::int64_t>(adId));
    PgResult r = m_conn->exec(sql.c_str(), params);
    if (!r.ok()) {
        fail(r, "total");
        return 0;
    }
    return static_cast<std::uint64_t>(r.int64(0, 0));
}

std::array<std::uint64_t, kRejectReasonCount> PgStore::quarantined()
{
    m_error.clear();
    std::array<std::uint64_t, kRejectReasonCount> out {};
    PgResult r = m_conn->exec("SELECT reason, sum(count) FROM quarantine_stats GROUP BY reason");
    if (!r.ok()) {
        fail(r, "reading quarantine counts");
        return out;
    }
    for (int i = 0; i < r.rows(); ++i)
        if (const std::int64_t reason = r.int64(i, 0); reason >= 0 && reason < kRejectReasonCount)
            out[static_cast<std::size_t>(reason)] = static_cast<std::uint64_t>(r.int64(i, 1));
    return out;
}

void PgStore::forEachAd(const std::function<void(AdId, const std::string&)>& f)
{
    m_error.clear();
    PgResult r = m_conn->exec("SELECT ad_id, name FROM ads ORDER BY ad_id");
    if (!r.ok()) {
        fail(r, "reading ads");
        return;
    }
    for (int i = 0; i < r.rows(); ++i)
        f(static_cast<AdId>(r.int64(i, 0)), std::string(r.text(i, 1)));
}

StoreStatus PgStore::heartbeat(const std::string& instanceId, const std::string& host, const std::string& statusJson)
{
    m_error.clear();
    const std::int64_t now = wallNowMs();
    PgResult r = m_conn->exec("INSERT INTO instance(instance_id, host, started_wall_ms, heartbeat_wall_ms, status) "
                              "VALUES($1, $2, $3, $3, $4::jsonb) ON CONFLICT (instance_id) DO UPDATE SET "
                              "host = EXCLUDED.host, heartbeat_wall_ms = EXCLUDED.heartbeat_wall_ms, "
                              "status = EXCLUDED.status",
        { PgParam(instanceId), PgParam(host), PgParam(now), PgParam(statusJson.empty() ? "{}" : statusJson) });
    return r.ok() ? StoreStatus::Ok : fail(r, "heartbeat");
}

std::vector<PgStore::Instance> PgStore::instances()
{
    m_error.clear();
    std::vector<Instance> out;
    PgResult r = m_conn->exec(
        "SELECT instance_id, host, started_wall_ms, heartbeat_wall_ms, status::text FROM instance ORDER BY instance_id");
    if (!r.ok()) {
        fail(r, "listing instances");
        return out;
    }
    for (int i = 0; i < r.rows(); ++i)
        out.push_back({ std::string(r.text(i, 0)), std::string(r.text(i, 1)), r.int64(i, 2), r.int64(i, 3),
            std::string(r.text(i, 4)) });
    return out;
}

bool PgStore::tryBatchLock()
{
    PgResult r = m_conn->exec("SELECT pg_try_advisory_lock($1)", { PgParam(PgSchema::kBatchLockKey) });
    return r.ok() && r.boolean(0, 0);
}

void PgStore::releaseBatchLock()
{
    m_conn->exec("SELECT pg_advisory_unlock($1)", { PgParam(PgSchema::kBatchLockKey) });
}

} // namespace adclick::engine
