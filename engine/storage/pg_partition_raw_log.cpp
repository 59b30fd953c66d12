#include "storage/pg_partition_raw_log.h"

#include "pipeline/pipeline.h"
#include "storage/pg_store.h"

#include <algorithm>
#include <filesystem>

namespace adclick::engine {

PartitionRawLog::PartitionRawLog(
    std::string root, std::uint32_t partition, const UserAgentDictionary& userAgents, const AdDictionary& ads)
    : m_root(std::move(root) + "/p" + std::to_string(partition))
    , m_userAgents(userAgents)
    , m_ads(ads)
{
}

PartitionRawLog::~PartitionRawLog() = default;

std::string PartitionRawLog::epochDirectory(std::int64_t epoch) const
{
    return m_root + "/e" + std::to_string(epoch);
}

std::uint64_t PartitionRawLog::replay(
    const PartitionCheckpoint& ck, Pipeline& pipeline, std::vector<std::string>& warnings)
{
    const std::uint64_t from = pipeline.replayFromSequence();
    const std::uint64_t to = ck.rawEnd.nextSequence;
    if (ck.rawEpoch <= 0 || from >= to)
        return 0;
    // Walk the chain back from the checkpoint's epoch: each epoch contributes the sequences below
    // where the next one (on the chain) started.
    struct Range {
        std::int64_t epoch;
        std::uint64_t from, to;
    };
    std::vector<Range> ranges;
    std::uint64_t limit = to;
    for (std::int64_t e = ck.rawEpoch; e >= 1 && limit > from; --e) {
        const std::string dir = epochDirectory(e);
        std::error_code ec;
        if (!std::filesystem::is_directory(dir, ec))
            continue;
        RawLogReader reader(dir);
        if (e == ck.rawEpoch)
            reader.setEnd(ck.rawEnd);
        const std::vector<RawSegmentInfo> segments = reader.segments();
        if (segments.empty())
            continue;
        const std::uint64_t first = segments.front().firstSequence;
        if (first < limit) {
            ranges.push_back({ e, std::max(first, from), limit });
            limit = first;
        }
    }
    std::uint64_t replayed = 0, expected = std::max(from, limit);
    bool gap = limit > from;
    for (auto it = ranges.rbegin(); it != ranges.rend(); ++it) {
        RawLogReader reader(epochDirectory(it->epoch));
        if (it->epoch == ck.rawEpoch)
            reader.setEnd(ck.rawEnd);
        reader.scanFromSequence(it->from, [&](const RawRecord& rec) {
            if (rec.sequence >= it->to)
                return false;
            gap = gap || rec.sequence != expected;
            expected = rec.sequence + 1;
            pipeline.replayEvent(rec.event, rec.sequence);
            ++replayed;
            return true;
        });
        for (const RawLogDamage& d : reader.damage())
            warnings.push_back("raw log damage in " + d.path + " at byte " + std::to_string(d.byteOffset) + ": " + d.reason);
    }
    if (gap || expected != to)
        warnings.push_back("the raw log of " + m_root + " misses records " + std::to_string(expected) + " … "
            + std::to_string(to) + " needed to rebuild de-duplication and top-K state");
    return replayed;
}

bool PartitionRawLog::open(std::int64_t epoch, std::uint64_t nextSequence, std::string& error)
{
    RawLogConfig config;
    config.directory = epochDirectory(epoch);
    const RawLogPosition start { 0, 0, nextSequence };
    m_writer = RawLogWriter::open(config, &start, m_userAgents, m_ads, error);
    return m_writer != nullptr;
}

bool PartitionRawLog::append(const IngestBatch& batch)
{
    if (!m_writer || batch.events.empty())
        return true;
    const TimeMs* arrival
        = batch.watermarkAtArrivalMs.size() == batch.events.size() ? batch.watermarkAtArrivalMs.data() : nullptr;
    if (m_writer->append(batch.events.data(), batch.events.size(), batch.processingTimeMs, arrival))
        return true;
    m_error = m_writer->error();
    return false;
}

bool PartitionRawLog::cut(RawLogPosition& end)
{
    if (!m_writer)
        return true;
    RawLogWriter::Cut c;
    if (!m_writer->cut(c)) {
        m_error = m_writer->error();
        return false;
    }
    if (!c.sync(m_error))
        return false;
    end = c.end;
    return true;
}

void PartitionRawLog::close()
{
    if (m_writer)
        (void)m_writer->close();
    m_writer.reset();
}

} // namespace adclick::engine
