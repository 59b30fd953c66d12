#pragma once

#include "core/click_event.h"
#include "core/time_units.h"
#include "ingest/reject_reason.h"

#include <cstdint>
#include <string>
#include <vector>

namespace adclick::engine {

/// A record that failed decoding: kept verbatim for the quarantine file.
struct RejectedRecord {
    RejectReason reason = RejectReason::NotJson;
    SourcePosition position;
    std::string bytes; ///< original bytes (truncated to 4 KiB for oversized messages)
};

/// What one poll() produced. Reused between polls (clear() keeps capacity), so the
/// per-event path does not allocate.
struct IngestBatch {
    std::vector<ClickEvent> events; ///< accepted events, in arrival order
    std::vector<RejectedRecord> rejected; ///< rejected records, in arrival order
    TimeMs processingTimeMs = 0; ///< processing time at the end of this batch
    void clear()
    {
        events.clear();
        rejected.clear();
    }
};

enum class PollResult : std::uint8_t {
    Events, ///< batch holds events and/or rejections
    Idle, ///< nothing available right now (try again)
    EndOfStream, ///< the source is exhausted; batch may still hold a final tail
};

/// A source of click events. Not thread-safe: one ingest thread polls it.
/// Contract: events come in arrival order; each carries its SourcePosition; after
/// seek(p) the next event polled is the one right after p in that partition.
class EventSource {
public:
    virtual ~EventSource() = default;
    /// Appends up to maxEvents records (accepted + rejected) to batch. Non-blocking or
    /// short-blocking (≤ ~100 ms) so that stop requests are seen.
    virtual PollResult poll(IngestBatch& batch, std::size_t maxEvents) = 0;
    /// Number of partitions positions refer to (≥ 1).
    virtual std::uint32_t partitionCount() const = 0;
    /// Human-readable description ("generator seed=1 rate=50000/s").
    virtual std::string describe() const = 0;
    /// Resume so that the next event of `partition` is the one after `offset`
    /// (offset -1: from the beginning). Returns false if the source cannot seek.
    virtual bool seek(std::uint32_t partition, std::int64_t offset) = 0;
};

} // namespace adclick::engine
