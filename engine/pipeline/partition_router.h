#pragma once

#include "ingest/event_source.h"

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>

namespace adclick::engine {

/// Splits one upstream source into one EventSource per partition, so that each partition runs
/// its own Pipeline — its own watermark, windows, de-duplication and checkpoint — and its state
/// can move to another instance with the partition (the scale-out model, docs/SCALE-OUT.md).
///
/// pump() polls the upstream source once and queues what came by partition (events and rejected
/// records, in arrival order); stream(p).poll() hands out partition p's queue. A stream sees only
/// its own partition as active (it alone holds its pipeline's watermark), seeks go upstream.
/// Single-threaded, like the sources it wraps.
class PartitionRouter {
public:
    explicit PartitionRouter(EventSource& upstream);
    ~PartitionRouter();
    PartitionRouter(const PartitionRouter&) = delete;
    PartitionRouter& operator=(const PartitionRouter&) = delete;

    /// The stream of `partition`, created on first use (a stable reference until drop()).
    EventSource& stream(std::uint32_t partition);
    /// Polls the upstream source once (up to maxRecords) and routes what came. The upstream result.
    PollResult pump(std::size_t maxRecords);
    /// The upstream source ended (EndOfStream seen): streams end once their queue is empty.
    bool ended() const { return m_ended; }
    /// Records (events + rejected) waiting in partition p's queue.
    std::size_t queued(std::uint32_t partition) const;
    /// Forgets partition p (revoked): its stream and queued records go; a later stream(p) starts
    /// empty. Records of p pumped afterwards are dropped unless stream(p) is asked for again.
    void drop(std::uint32_t partition);
    /// Records routed to a partition without a stream (not owned here): counted, not kept.
    std::uint64_t unrouted() const { return m_unrouted; }

private:
    class Stream;
    EventSource& m_upstream;
    std::map<std::uint32_t, std::unique_ptr<Stream>> m_streams;
    IngestBatch m_batch;
    bool m_ended = false;
    std::uint64_t m_unrouted = 0;
};

} // namespace adclick::engine
