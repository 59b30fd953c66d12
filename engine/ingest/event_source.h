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
    /// After the pipeline classified the batch: for each event (same index), the watermark it was
    /// judged against (the one before it arrived; kMinTimeMs before the first). Empty before that.
    std::vector<TimeMs> watermarkAtArrivalMs;
    TimeMs processingTimeMs = 0; ///< processing time at the end of this batch
    void clear()
    {
        events.clear();
        rejected.clear();
        watermarkAtArrivalMs.clear();
    }
};

/// One partition of a source as seen by its consumer (Kafka), for metrics and the dashboard.
struct SourcePartitionStatus {
    std::uint32_t partition = 0;
    bool assigned = false; ///< this process consumes it now
    std::int64_t position = -1; ///< next offset this process reads (-1: not known yet)
    std::int64_t highWatermark = -1; ///< broker's end offset (-1: not known yet)
    std::int64_t lag = -1; ///< highWatermark − position (-1: not known)
};

/// Health of a source's connection, published with every pipeline snapshot. Sources without a
/// connection (generator, file) report the default: connected, no partitions listed.
struct SourceStatus {
    bool external = false; ///< a networked source (Kafka): the fields below mean something
    bool connected = true; ///< false during an outage (a broker down or unreachable)
    std::string state = "ok"; ///< "ok", "outage: …", "connecting"
    std::uint32_t brokersUp = 0;
    std::uint32_t brokersKnown = 0;
    std::uint64_t outages = 0; ///< transitions into an outage since start
    std::uint64_t rebalances = 0; ///< assignments + revocations since start
    std::uint64_t deadLettered = 0; ///< rejected records delivered to the dead-letter topic
    std::uint64_t deadLetterFailures = 0; ///< rejected records the dead-letter topic did not take
    std::vector<SourcePartitionStatus> partitions;
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
    /// False for a partition this process does not read now (a Kafka partition owned by another
    /// group member, or before the first assignment): it then does not hold the watermark.
    virtual bool partitionActive(std::uint32_t partition) const { return true; }
    /// Connection health and per-partition lag (ingest thread, with each snapshot).
    virtual SourceStatus status() const { return {}; }
};

} // namespace adclick::engine
