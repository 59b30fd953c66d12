#pragma once

#include "ingest/event_source.h"
#include "storage/raw_log.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace adclick::engine {

class Pipeline;
struct PartitionCheckpoint;

/// The raw log of ONE partition in the shared directory of a scale-out deployment
/// (docs/SCALE-OUT.md): `<root>/p<partition>/e<epoch>/`, one directory per claim of the partition,
/// written only by the owner of that epoch. Sequences continue across epochs: an epoch starts at
/// the sequence of the checkpoint its claim restored.
///
/// Which records count: a checkpoint of epoch E records (E, end). Records of E below end are
/// committed; an older epoch's records count only below the first sequence of the next epoch on
/// the chain, so what a killed or fenced owner appended after its last checkpoint (and its
/// successor counted again under its own epoch) is never read twice.
class PartitionRawLog {
public:
    PartitionRawLog(std::string root, std::uint32_t partition, const UserAgentDictionary& userAgents,
        const AdDictionary& ads);
    ~PartitionRawLog();

    /// Replays into `pipeline` (restored, before finishRestore()) the records of the chain ending at
    /// `ck` from the pipeline's replay point up to ck.rawEnd, in sequence order: de-duplication ids
    /// and top-K counts come back. Gaps and damaged blocks become warnings. Returns records replayed.
    std::uint64_t replay(const PartitionCheckpoint& ck, Pipeline& pipeline, std::vector<std::string>& warnings);
    /// Starts this owner's epoch directory; the first record gets `nextSequence`.
    bool open(std::int64_t epoch, std::uint64_t nextSequence, std::string& error);
    /// Logs a batch's accepted events (every disposition). False on I/O error (see error()).
    bool append(const IngestBatch& batch);
    /// Writes and fsyncs what was appended; `end` is the durable position to checkpoint.
    bool cut(RawLogPosition& end);
    /// Seals the open segment (clean release of the partition).
    void close();

    std::string epochDirectory(std::int64_t epoch) const;
    const std::string& error() const { return m_error; }

private:
    std::string m_root; ///< <root>/p<partition>
    const UserAgentDictionary& m_userAgents;
    const AdDictionary& m_ads;
    std::unique_ptr<RawLogWriter> m_writer;
    std::string m_error;
};

} // namespace adclick::engine
