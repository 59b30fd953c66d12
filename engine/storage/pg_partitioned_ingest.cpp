#include "storage/pg_partitioned_ingest.h"

#include <chrono>

namespace adclick::engine {

namespace {
std::int64_t wallNowMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string jsonString(const std::string& s)
{
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\')
            out += '\\';
        if (static_cast<unsigned char>(c) >= 0x20)
            out += c;
    }
    return out + '"';
}
} // namespace

PartitionedIngest::PartitionedIngest(
    PartitionedIngestConfig config, KafkaSourceConfig kafka, std::string conninfo, Clock& clock)
    : m_config(std::move(config))
    , m_kafkaConfig(std::move(kafka))
    , m_conninfo(std::move(conninfo))
    , m_clock(clock)
{
    m_config.pipeline.shards = 1; // one pipeline per partition already spreads the work
    m_counters.instanceId = m_config.instanceId;
    m_status = m_counters;
}

PartitionedIngest::~PartitionedIngest()
{
    close();
}

bool PartitionedIngest::open()
{
    std::string error;
    m_store = PgStore::open(m_conninfo, error);
    if (!m_store) {
        fail("PostgreSQL store: " + error);
        return false;
    }
    m_source = std::make_unique<KafkaSource>(m_kafkaConfig, m_clock, m_ads, m_userAgents);
    if (!m_source->isOpen()) {
        fail("Kafka: " + m_source->error());
        return false;
    }
    m_router = std::make_unique<PartitionRouter>(*m_source);
    m_source->setAssignHook([this](const std::vector<std::uint32_t>& parts) { adopt(parts); });
    m_source->setRevokeHook([this] { drainAndCheckpointAll(); });
    m_lastCheckpointWallMs = wallNowMs();
    publishStatus();
    heartbeat();
    return true;
}

void PartitionedIngest::adopt(const std::vector<std::uint32_t>& partitions)
{
    for (const std::uint32_t p : partitions) {
        if (m_failed || m_owned.contains(p))
            continue;
        Owned o;
        EventSource& stream = m_router->stream(p);
        o.pipeline = std::make_unique<Pipeline>(m_config.pipeline, stream, m_clock);
        o.checkpointer = std::make_unique<PgPartitionCheckpointer>(*m_store, m_config.sourceKey, p, m_config.instanceId);
        if (!m_config.sharedDir.empty())
            o.checkpointer->setRawLog(
                std::make_unique<PartitionRawLog>(m_config.sharedDir + "/raw", p, m_userAgents, m_ads));
        o.pipeline->addSink(o.checkpointer.get());
        std::string error;
        if (o.checkpointer->claimAndRestore(*o.pipeline, stream, error) != StoreStatus::Ok) {
            m_router->drop(p);
            fail("claiming partition " + std::to_string(p) + ": " + error);
            return;
        }
        if (o.checkpointer->position().sequence == 0)
            (void)stream.seek(p, -1); // never counted by anyone: from the group's offset or the start
        for (const std::string& w : o.checkpointer->warnings())
            m_counters.warnings.push_back("partition " + std::to_string(p) + ": " + w);
        ++m_counters.claims;
        m_owned.emplace(p, std::move(o));
    }
    publishStatus();
}

bool PartitionedIngest::step()
{
    if (m_failed)
        return false;
    m_router->pump(m_config.pumpRecords); // may run the assign and revoke hooks
    if (m_failed)
        return false;
    releaseInactive();
    for (auto& [p, o] : m_owned) {
        do
            o.pipeline->step();
        while (m_router->queued(p) > 0);
    }
    if (wallNowMs() - m_lastCheckpointWallMs >= m_config.checkpointIntervalMs) {
        if (!checkpointAll(true))
            return false;
        publishStatus();
        heartbeat();
    }
    return !m_failed;
}

int PartitionedIngest::run()
{
    while (!stopRequested() && step()) {
    }
    const bool failed = m_failed;
    close();
    return failed || m_failed ? 3 : 0;
}

void PartitionedIngest::abandon()
{
    fail("abandoned (a simulated crash)");
    close();
}

void PartitionedIngest::drainAndCheckpointAll()
{
    if (m_failed)
        return;
    // Records polled before the rebalance are processed first: the hand-over offset the consumer
    // commits next must not pass anything the store does not hold.
    for (auto& [p, o] : m_owned)
        while (m_router->queued(p) > 0)
            o.pipeline->step();
    checkpointAll(false);
}

bool PartitionedIngest::checkpointAll(bool commitOffsets)
{
    std::vector<std::uint32_t> fenced;
    for (auto& [p, o] : m_owned) {
        const StoreStatus s = o.checkpointer->checkpoint(*o.pipeline);
        if (s == StoreStatus::Fenced) {
            fenced.push_back(p);
            continue;
        }
        if (s != StoreStatus::Ok) {
            fail("checkpoint of partition " + std::to_string(p) + ": " + o.checkpointer->error());
            return false;
        }
        ++m_counters.checkpoints;
    }
    for (const std::uint32_t p : fenced)
        release(p, true);
    m_lastCheckpointWallMs = wallNowMs();
    m_counters.lastCheckpointWallMs = m_lastCheckpointWallMs;
    if (commitOffsets && m_source) {
        std::vector<std::int64_t> last(m_source->partitionCount(), -1);
        for (const auto& [p, o] : m_owned)
            if (p < last.size())
                last[p] = o.checkpointer->position().lastOffset;
        m_source->commitDurable(last);
    }
    return true;
}

void PartitionedIngest::release(std::uint32_t partition, bool fenced)
{
    const auto it = m_owned.find(partition);
    if (it == m_owned.end())
        return;
    it->second.checkpointer->closeRawLog();
    m_owned.erase(it);
    m_router->drop(partition);
    ++(fenced ? m_counters.fenced : m_counters.releases);
}

void PartitionedIngest::releaseInactive()
{
    std::vector<std::uint32_t> gone;
    for (const auto& [p, o] : m_owned)
        if (!m_source->partitionActive(p))
            gone.push_back(p);
    for (const std::uint32_t p : gone)
        release(p, false);
    if (!gone.empty())
        publishStatus();
}

void PartitionedIngest::close()
{
    if (m_closed)
        return;
    m_closed = true;
    if (m_source && m_router && !m_failed) {
        drainAndCheckpointAll();
        if (!m_failed) {
            for (auto& [p, o] : m_owned)
                o.checkpointer->closeRawLog();
            m_source->close(); // the durable positions go to the group; leave it
        }
    }
    m_owned.clear();
    m_router.reset();
    m_source.reset(); // after a failure: leaves without handing positions over
    publishStatus();
    if (m_store)
        heartbeat();
    m_store.reset();
}

void PartitionedIngest::heartbeat()
{
    // The instance row carries what status() shows (published just before: one source status read).
    if (!m_store)
        return;
    const PartitionedIngestStatus s = status();
    std::string json = "{\"partitions\":[";
    bool first = true;
    for (const OwnedPartitionStatus& p : s.partitions) {
        json += (first ? "" : ",") + std::string("{\"partition\":") + std::to_string(p.partition)
            + ",\"epoch\":" + std::to_string(p.epoch) + ",\"last_offset\":" + std::to_string(p.lastOffset)
            + ",\"lag\":" + std::to_string(p.lag) + ",\"watermark_ms\":" + std::to_string(p.watermarkMs)
            + ",\"accepted\":" + std::to_string(p.accepted) + "}";
        first = false;
    }
    json += "],\"accepted\":" + std::to_string(s.accepted) + ",\"claims\":" + std::to_string(s.claims)
        + ",\"releases\":" + std::to_string(s.releases) + ",\"fenced\":" + std::to_string(s.fenced)
        + ",\"checkpoint_interval_ms\":" + std::to_string(m_config.checkpointIntervalMs)
        + ",\"last_checkpoint_wall_ms\":" + std::to_string(m_lastCheckpointWallMs)
        + ",\"state\":" + jsonString(m_closed ? "stopped" : (m_failed ? "failed" : s.sourceState)) + "}";
    (void)m_store->heartbeat(m_config.instanceId, m_config.host, json);
}

void PartitionedIngest::publishStatus()
{
    const SourceStatus source = m_source ? m_source->status() : SourceStatus {};
    m_counters.sourceState = m_source ? source.state : "stopped";
    PartitionedIngestStatus s = m_counters;
    s.accepted = m_closed ? m_counters.accepted : 0; // after close(): the last figure, not an empty sum
    s.unrouted = m_router ? m_router->unrouted() : m_counters.unrouted;
    m_counters.unrouted = s.unrouted;
    for (const auto& [p, o] : m_owned) {
        OwnedPartitionStatus ps;
        ps.partition = p;
        ps.epoch = o.checkpointer->position().epoch;
        ps.lastOffset = o.checkpointer->position().lastOffset;
        ps.watermarkMs = o.pipeline->watermark();
        ps.accepted = o.pipeline->counters().accepted;
        ps.rowsRestored = o.checkpointer->rowsRestored();
        ps.recordsReplayed = o.checkpointer->recordsReplayed();
        for (const SourcePartitionStatus& sp : source.partitions)
            if (sp.partition == p)
                ps.lag = sp.lag;
        s.accepted += ps.accepted;
        s.partitions.push_back(ps);
    }
    m_counters.accepted = s.accepted;
    std::lock_guard lock(m_statusMutex);
    m_status = std::move(s);
}

void PartitionedIngest::fail(std::string message)
{
    m_failed = true;
    m_counters.error = std::move(message);
    publishStatus();
}

PartitionedIngestStatus PartitionedIngest::status() const
{
    std::lock_guard lock(m_statusMutex);
    return m_status;
}

std::string PartitionedIngest::error() const
{
    std::lock_guard lock(m_statusMutex);
    return m_status.error;
}

} // namespace adclick::engine
