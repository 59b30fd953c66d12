#pragma once

#include "core/clock.h"
#include "ingest/event_source.h"
#include "ingest/json_codec.h"

#include <cstdint>
#include <memory>
#include <string>

namespace adclick::engine {

/// Reads NDJSON of the seed schema from a file, or from standard input for the path "-".
/// - One partition; a record's offset is its 0-based line number. Blank (whitespace-only) lines
///   are skipped without a rejection but keep their line number; a final line without a
///   newline is a line like any other; a trailing "\r" (CRLF files) is dropped.
/// - Every line goes through a JsonCodec; refusals land in IngestBatch::rejected with their
///   reason, position and bytes (the first 4 KiB). A line longer than
///   CodecLimits::maxMessageBytes is rejected TooLarge while it is read: only its first 4 KiB
///   are ever held in memory.
/// - speedup 0: as fast as poll() is called. speedup > 0: paced by event time, `speedup`
///   seconds of event time per second of processing time (Clock); the first accepted event
///   sets the origin, an event is released once clock.nowMs() ≥ origin + Δevent / speedup, and
///   events earlier than the origin go at once. Rejected lines are not paced, but never
///   overtake a held event.
/// - processingTimeMs of a batch is clock.nowMs(). Exception: with a virtual clock, an Idle
///   poll that holds a paced event reports that event's release time, so a driver that
///   advances its virtual clock from batches (Pipeline) moves on instead of spinning.
/// - poll() blocks at most ~50 ms (waiting for standard input, or ≤ 20 ms for a paced event on
///   a real clock). EndOfStream at end of file. Not thread-safe.
class FileSource final : public EventSource {
public:
    FileSource(std::string path, const Clock& clock, AdDictionary& ads, UserAgentDictionary& userAgents,
        double speedup = 0, CodecLimits limits = {});
    ~FileSource() override;
    FileSource(const FileSource&) = delete;
    FileSource& operator=(const FileSource&) = delete;

    /// False when the file could not be opened (or read); error() says why.
    bool isOpen() const;
    /// "cannot open /path: No such file or directory"; empty while all is well.
    std::string error() const;

    PollResult poll(IngestBatch& batch, std::size_t maxEvents) override;
    std::uint32_t partitionCount() const override { return 1; }
    /// "file /path", "file /path (paced x60)", "file - (standard input)".
    std::string describe() const override;
    /// Resumes after line `offset` (-1: from the start) by re-reading the file from its start.
    /// False for standard input (unless it is a no-op: already right after that line), for a
    /// partition other than 0, and when the file has no line `offset` (the source is then at
    /// its end).
    bool seek(std::uint32_t partition, std::int64_t offset) override;

    /// Line number of the next line to be read (= lines consumed so far).
    std::int64_t nextLine() const;
    /// Rejections so far by reason (the codec's plus lines refused as TooLarge while read).
    RejectCounters rejectCounters() const;
    /// Events accepted so far.
    std::uint64_t acceptedCount() const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace adclick::engine
