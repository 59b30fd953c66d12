#pragma once

#include "core/click_event.h"
#include "core/time_units.h"
#include "storage/file_handle.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace adclick::engine {

class UserAgentDictionary;
class AdDictionary;

/// A point in the raw click log: a byte offset inside one segment file, and the global
/// sequence number of the next record appended after it. Checkpoints store it; recovery
/// truncates the log back to it.
struct RawLogPosition {
    std::uint64_t segmentId = 0; ///< segment file number (raw-<segmentId, 12 digits>.acr)
    std::uint64_t byteOffset = 0; ///< bytes of that segment up to the end of its last complete block
    std::uint64_t nextSequence = 0; ///< global sequence number of the next record
    friend bool operator==(const RawLogPosition&, const RawLogPosition&) = default;
};

struct RawLogConfig {
    std::string directory; ///< created if missing
    std::uint64_t segmentMaxBytes = 64ull << 20; ///< roll when a segment reaches this size
    TimeMs segmentMaxAgeMs = 10 * kMsPerMinute; ///< roll when a segment is older (processing time)
    std::uint32_t blockRecords = 8192; ///< close a block after this many records
    TimeMs retentionMs = 7 * kMsPerDay; ///< delete segments whose newest event is older than this
};

/// One record as stored: the accepted event (with its disposition bits and source position),
/// its global sequence number, and the strings its ids stood for when it was written.
struct RawRecord {
    ClickEvent event;
    std::uint64_t sequence = 0;
    /// The watermark the speed layer judged the event against (the one before it arrived):
    /// event lateness = watermarkAtArrivalMs − event time. kMinTimeMs when unknown (no watermark
    /// yet, a format 1 segment, or a writer that was not given it).
    TimeMs watermarkAtArrivalMs = kMinTimeMs;
    std::string_view userAgent; ///< valid until the next record is yielded
    std::string_view adName; ///< external ad id for named ads (AdId ≥ kFirstNamedAdId), else empty
};

/// The sealed-or-open header facts of one segment file.
struct RawSegmentInfo {
    std::string path;
    std::uint64_t segmentId = 0;
    std::uint64_t firstSequence = 0;
    std::uint64_t records = 0;
    TimeMs minEventTimeMs = 0;
    TimeMs maxEventTimeMs = 0;
    std::uint64_t bytes = 0;
    bool sealed = false; ///< header holds final counts (else they were computed by scanning blocks)
};

/// A block the reader could not use (bad checksum, truncated, bad header): reported, counted,
/// skipped. Never silently: readers expose the list and the count of records lost where known.
struct RawLogDamage {
    std::string path;
    std::uint64_t byteOffset = 0;
    std::string reason;
};

/// Appends accepted events to segment files. Ingest thread only, except that a RawLogCut
/// may be made durable (sync()) on another thread.
///
/// File format (version 2; see raw_log_format.h), little-endian:
///   segment header (fixed size): magic "ACRLSEG1", format version, segment id, first sequence,
///   record count, event-time min/max, sealed flag, header CRC32C. Written when the segment is
///   created (count 0, unsealed) and rewritten with the final figures when it is sealed (rolled
///   or closed cleanly).
///   blocks: block header (magic, payload bytes, records, first sequence, event-time min/max,
///   CRC32C of the payload, flags, header CRC32C) + payload. The payload starts with the strings
///   first used in this block (user agents: uaId → text; named ads: AdId → text) and then the
///   records, each with the watermark at its arrival (version 2; version 1 segments lack it).
///   A block is self-checking: a reader needs only the segment's earlier blocks for strings.
class RawLogWriter {
public:
    /// Opens the log in config.directory. With recoverTo: deletes segments after
    /// recoverTo.segmentId, truncates that segment to recoverTo.byteOffset, and continues in a
    /// NEW segment (string ids are per process run, so a run never appends to an older segment).
    /// Without: continues after the last complete block found by scanning (an unclean tail is
    /// truncated and reported through damage()). Returns nullptr with error set on failure.
    static std::unique_ptr<RawLogWriter> open(const RawLogConfig& config, const RawLogPosition* recoverTo,
        const UserAgentDictionary& userAgents, const AdDictionary& ads, std::string& error);
    ~RawLogWriter();

    /// Buffers events (all dispositions) into the current block, closing and writing blocks as
    /// they fill and rolling segments by size/age. processingTimeMs drives age-based rolling.
    /// watermarksAtArrivalMs (n entries, or null: kMinTimeMs, unknown) is logged with each event:
    /// the watermark the speed layer judged it against (IngestBatch::watermarkAtArrivalMs).
    /// Returns false on an I/O error (disk full…); error() says what. The events are then NOT
    /// logged: the caller must stop ingesting (retrying the same call later is safe).
    /// A block write that fails after this call's events were taken (a block closing inside the
    /// call) keeps the bytes buffered and is reported by the next append() or cut(), which retry
    /// it first at the same file offset.
    bool append(const ClickEvent* events, std::size_t n, TimeMs processingTimeMs,
        const TimeMs* watermarksAtArrivalMs = nullptr);
    /// Writes the open block (if any) and returns the cut: the position after it plus the files
    /// that must be fsync'd for it to be durable. False on I/O error.
    struct Cut;
    bool cut(Cut& out);
    /// Seals the current segment (final header) and fsyncs it. Called on clean shutdown.
    bool close();

    /// After the last record appended (buffered or not): nextSequence counts every record, byteOffset
    /// only the closed blocks. Only Cut::end is a recovery point.
    RawLogPosition position() const;
    const std::string& error() const { return m_error; }
    const std::vector<RawLogDamage>& damage() const { return m_damage; }
    std::uint64_t bytesWritten() const { return m_bytesWritten; } ///< since open
    std::uint64_t recordsWritten() const { return m_recordsWritten; } ///< since open

    struct Cut {
        RawLogPosition end;
        std::vector<std::shared_ptr<FileHandle>> files; ///< segments written since the previous cut
        /// fdatasync every file; any thread. False (with errno text in error) on failure.
        bool sync(std::string& error) const;
    };

private:
    RawLogWriter() = default;
    struct Impl;
    std::unique_ptr<Impl> m_impl;
    std::string m_error;
    std::vector<RawLogDamage> m_damage;
    std::uint64_t m_bytesWritten = 0;
    std::uint64_t m_recordsWritten = 0;
};

/// Reads segments of a raw log directory. Any thread; independent of a live writer (it reads
/// only complete, checksummed blocks, so it may run while the writer appends).
class RawLogReader {
public:
    explicit RawLogReader(std::string directory);

    /// Reads only what lies before `end` (a checkpoint's raw end): segments after end.segmentId
    /// are ignored and segment end.segmentId is read up to end.byteOffset. Records there are
    /// committed; later ones may still be rolled back by a crash or be in a block being written.
    void setEnd(const RawLogPosition& end) { m_end = end; m_bounded = true; }

    /// Segment files in id order with their header facts (unsealed segments are scanned).
    std::vector<RawSegmentInfo> segments();

    /// Calls f(const RawRecord&) for every record whose event time is in [fromMs, toMs), in log
    /// order, skipping segments (by header) and blocks (by block header) outside the range.
    /// Returns false if f returned false (stop early). Damaged blocks are skipped and recorded.
    bool scan(TimeMs fromMs, TimeMs toMs, const std::function<bool(const RawRecord&)>& f);
    /// Same, for every record with sequence ≥ fromSequence (all event times), in log order.
    bool scanFromSequence(std::uint64_t fromSequence, const std::function<bool(const RawRecord&)>& f);

    const std::vector<RawLogDamage>& damage() const { return m_damage; }
    std::uint64_t damagedBlocks() const { return m_damage.size(); }
    std::uint64_t blocksRead() const { return m_blocksRead; }
    std::uint64_t blocksSkipped() const { return m_blocksSkipped; } ///< outside the range, not decoded
    std::uint64_t segmentsSkipped() const { return m_segmentsSkipped; } ///< excluded by their sealed header

private:
    std::string m_directory;
    RawLogPosition m_end;
    bool m_bounded = false;
    std::vector<RawLogDamage> m_damage;
    std::uint64_t m_blocksRead = 0;
    std::uint64_t m_blocksSkipped = 0;
    std::uint64_t m_segmentsSkipped = 0;
};

/// Deletes segments (never the one a writer has open: the highest id) whose newest event is older
/// than nowMs − retentionMs. Returns the number of files deleted; bytesFreed adds their sizes;
/// newestDeletedMs (if given; initialise it to kMinTimeMs) is raised to the newest event time among them
/// (record it with SqliteStore::noteRawLogDeleted: the batch layer must not recount before it).
std::size_t applyRawLogRetention(const std::string& directory, TimeMs nowMs, TimeMs retentionMs,
    std::uint64_t* bytesFreed = nullptr, TimeMs* newestDeletedMs = nullptr);

/// Decodes one segment image held in memory (the fuzz target's entry point; also used by the
/// reader). Never crashes or reads out of bounds on any input; returns records decoded and
/// appends damage for every unusable part.
std::uint64_t decodeRawSegment(std::string_view bytes, std::string_view pathForErrors,
    const std::function<bool(const RawRecord&)>& f, std::vector<RawLogDamage>& damage);

} // namespace adclick::engine
