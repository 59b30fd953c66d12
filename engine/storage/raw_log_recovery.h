#pragma once

#include "storage/raw_log.h"
#include "storage/raw_segment_scanner.h"

#include <cstdint>
#include <string>
#include <vector>

namespace adclick::engine::rawlog {

/// Where a writer continues after recoverRawLog().
struct RecoveredLog {
    std::uint64_t lastSegmentId = 0; ///< the new segment gets lastSegmentId + 1
    std::uint64_t nextSequence = 0;
};

/// Brings a raw log directory to a state a new writer can continue from (RawLogWriter::open).
/// With recoverTo: deletes the segments after recoverTo->segmentId, truncates that segment to
/// recoverTo->byteOffset and seals it with the figures its remaining blocks give; sequences
/// continue at recoverTo->nextSequence. Without: verifies the last segment's blocks, truncates an
/// unusable tail (reported in damage) and seals it; sequences continue after its last valid block.
/// Everything changed is fsync'd (files and directory). False with error on an I/O failure.
bool recoverRawLog(const std::string& directory, const std::vector<SegmentFile>& files, const RawLogPosition* recoverTo,
    RecoveredLog& out, std::vector<RawLogDamage>& damage, std::string& error);

} // namespace adclick::engine::rawlog
