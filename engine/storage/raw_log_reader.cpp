#include "storage/raw_log.h"
#include "storage/raw_log_format.h"
#include "storage/raw_segment_scanner.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace adclick::engine {

using namespace rawlog;

namespace {

/// Opens a segment file for reading. False if it vanished (retention raced the listing: not
/// damage) or cannot be opened (reported).
bool openSegment(const SegmentFile& f, FileHandle& handle, std::uint64_t& size, std::vector<RawLogDamage>& damage)
{
    const int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            damage.push_back({ f.path, 0, "cannot open: " + systemErrorText(errno) });
        return false;
    }
    handle = FileHandle(fd, f.path);
    struct stat st { };
    if (::fstat(fd, &st) != 0) {
        damage.push_back({ f.path, 0, "cannot stat: " + systemErrorText(errno) });
        return false;
    }
    size = static_cast<std::uint64_t>(st.st_size);
    return true;
}

/// Header facts, or (unsealed / bad header) facts summed from the block headers. readable is false
/// when nothing could be told (too short, unsupported version).
RawSegmentInfo describeSegment(
    const SegmentFile& f, SegmentBytes& bytes, std::vector<RawLogDamage>& damage, bool& readable)
{
    RawSegmentInfo info;
    info.path = f.path;
    info.segmentId = f.id;
    info.bytes = bytes.size();
    RawSegmentScanner scanner(bytes, f.path, damage);
    readable = scanner.start();
    if (!readable)
        return info;
    const SegmentHeader& h = scanner.header();
    if (scanner.headerValid() && h.sealed && h.dataEndBytes == bytes.size()) {
        info.firstSequence = h.firstSequence;
        info.records = h.records;
        info.minEventTimeMs = h.minEventTimeMs;
        info.maxEventTimeMs = h.maxEventTimeMs;
        info.sealed = true;
        return info;
    }
    bool first = true;
    while (scanner.next()) {
        const BlockHeader& b = scanner.block();
        if (first)
            info.firstSequence = b.firstSequence;
        info.minEventTimeMs = first ? b.minEventTimeMs : std::min(info.minEventTimeMs, b.minEventTimeMs);
        info.maxEventTimeMs = first ? b.maxEventTimeMs : std::max(info.maxEventTimeMs, b.maxEventTimeMs);
        info.records += b.records;
        first = false;
    }
    if (scanner.headerValid())
        info.firstSequence = h.firstSequence;
    readable = scanner.headerValid() || !first;
    return info;
}

/// What a scan keeps: a time range or a sequence bound.
struct ScanFilter {
    const RawLogPosition* end = nullptr; ///< read nothing at or after it
    bool bySequence = false;
    TimeMs fromMs = 0;
    TimeMs toMs = 0;
    std::uint64_t fromSequence = 0;

    bool excludes(std::uint64_t firstSequence, std::uint64_t records, TimeMs minMs, TimeMs maxMs) const
    {
        if (records == 0)
            return true;
        if (bySequence)
            return firstSequence + records <= fromSequence;
        return maxMs < fromMs || minMs >= toMs;
    }
    bool keeps(const ClickEvent& e, std::uint64_t sequence) const
    {
        return bySequence ? sequence >= fromSequence : (e.eventTimeMs >= fromMs && e.eventTimeMs < toMs);
    }
};

/// Walks one segment image; yields the kept records of usable blocks. False if f stopped the scan.
bool scanSegment(RawSegmentScanner& scanner, const ScanFilter& filter, std::vector<ClickEvent>& events,
    std::vector<TimeMs>& watermarks, const std::function<bool(const RawRecord&)>& f, std::uint64_t& blocksRead, std::uint64_t& blocksSkipped,
    std::uint64_t& yielded)
{
    RawRecord rec;
    while (scanner.next()) {
        const BlockHeader& b = scanner.block();
        if (filter.excludes(b.firstSequence, b.records, b.minEventTimeMs, b.maxEventTimeMs)) {
            scanner.loadDictionary(); // later blocks may use its strings
            ++blocksSkipped;
            continue;
        }
        if (!scanner.decode(events, &watermarks))
            continue;
        ++blocksRead;
        for (std::size_t i = 0; i < events.size(); ++i) {
            const std::uint64_t sequence = b.firstSequence + i;
            if (!filter.keeps(events[i], sequence))
                continue;
            rec.event = events[i];
            rec.sequence = sequence;
            rec.watermarkAtArrivalMs = watermarks[i];
            rec.userAgent = scanner.userAgent(rec.event.uaId);
            rec.adName = rec.event.adId >= kFirstNamedAdId ? scanner.adName(rec.event.adId) : std::string_view();
            ++yielded;
            if (!f(rec))
                return false;
        }
    }
    return true;
}

/// Segments in id order, skipping those the filter excludes by their sealed header.
bool scanDirectory(const std::string& directory, const ScanFilter& filter,
    const std::function<bool(const RawRecord&)>& f, std::vector<RawLogDamage>& damage, std::uint64_t& blocksRead,
    std::uint64_t& blocksSkipped, std::uint64_t& segmentsSkipped)
{
    std::string error;
    const std::vector<SegmentFile> files = listSegmentFiles(directory, &error);
    if (!error.empty())
        damage.push_back({ directory, 0, error });
    std::vector<ClickEvent> events;
    std::vector<TimeMs> watermarks;
    for (const SegmentFile& file : files) {
        if (filter.end && file.id > filter.end->segmentId)
            break;
        FileHandle handle;
        std::uint64_t size = 0;
        if (!openSegment(file, handle, size, damage))
            continue;
        const bool clamped = filter.end && file.id == filter.end->segmentId && size > filter.end->byteOffset;
        if (clamped)
            size = filter.end->byteOffset;
        FileSegmentBytes bytes(handle.fd(), size);
        RawSegmentScanner scanner(bytes, file.path, damage);
        if (clamped)
            scanner.ignoreSealedSize();
        if (!scanner.start())
            continue;
        const SegmentHeader& h = scanner.header();
        if (scanner.headerValid() && h.sealed && h.dataEndBytes == size
            && filter.excludes(h.firstSequence, h.records, h.minEventTimeMs, h.maxEventTimeMs)) {
            ++segmentsSkipped;
            continue;
        }
        std::uint64_t yielded = 0;
        if (!scanSegment(scanner, filter, events, watermarks, f, blocksRead, blocksSkipped, yielded))
            return false;
    }
    return true;
}

} // namespace

RawLogReader::RawLogReader(std::string directory)
    : m_directory(std::move(directory))
{
}

std::vector<RawSegmentInfo> RawLogReader::segments()
{
    std::vector<RawSegmentInfo> out;
    std::string error;
    const std::vector<SegmentFile> files = listSegmentFiles(m_directory, &error);
    if (!error.empty())
        m_damage.push_back({ m_directory, 0, error });
    for (const SegmentFile& f : files) {
        FileHandle handle;
        std::uint64_t size = 0;
        if (!openSegment(f, handle, size, m_damage))
            continue;
        FileSegmentBytes bytes(handle.fd(), size);
        bool readable = false;
        out.push_back(describeSegment(f, bytes, m_damage, readable));
    }
    return out;
}

bool RawLogReader::scan(TimeMs fromMs, TimeMs toMs, const std::function<bool(const RawRecord&)>& f)
{
    ScanFilter filter;
    filter.end = m_bounded ? &m_end : nullptr;
    filter.fromMs = fromMs;
    filter.toMs = toMs;
    return scanDirectory(m_directory, filter, f, m_damage, m_blocksRead, m_blocksSkipped, m_segmentsSkipped);
}

bool RawLogReader::scanFromSequence(std::uint64_t fromSequence, const std::function<bool(const RawRecord&)>& f)
{
    ScanFilter filter;
    filter.end = m_bounded ? &m_end : nullptr;
    filter.bySequence = true;
    filter.fromSequence = fromSequence;
    return scanDirectory(m_directory, filter, f, m_damage, m_blocksRead, m_blocksSkipped, m_segmentsSkipped);
}

std::size_t applyRawLogRetention(const std::string& directory, TimeMs nowMs, TimeMs retentionMs,
    std::uint64_t* bytesFreed, TimeMs* newestDeletedMs)
{
    const std::vector<SegmentFile> files = listSegmentFiles(directory);
    const TimeMs cutoffMs = retentionMs < 0 || nowMs < INT64_MIN + retentionMs ? INT64_MIN : nowMs - retentionMs;
    std::size_t deleted = 0;
    for (std::size_t i = 0; i + 1 < files.size(); ++i) { // never the highest id: a writer may have it open
        FileHandle handle;
        std::uint64_t size = 0;
        std::vector<RawLogDamage> ignored; // retention decides, readers report
        if (!openSegment(files[i], handle, size, ignored))
            continue;
        FileSegmentBytes bytes(handle.fd(), size);
        bool readable = false;
        const RawSegmentInfo info = describeSegment(files[i], bytes, ignored, readable);
        if (!readable || (info.records > 0 && info.maxEventTimeMs >= cutoffMs))
            continue;
        if (::unlink(files[i].path.c_str()) != 0)
            continue;
        if (newestDeletedMs && info.records > 0)
            *newestDeletedMs = std::max(*newestDeletedMs, info.maxEventTimeMs);
        ++deleted;
        if (bytesFreed)
            *bytesFreed += size;
    }
    if (deleted > 0) {
        std::string error;
        (void)syncDirectory(directory, error);
    }
    return deleted;
}

std::uint64_t decodeRawSegment(std::string_view bytes, std::string_view pathForErrors,
    const std::function<bool(const RawRecord&)>& f, std::vector<RawLogDamage>& damage)
{
    MemorySegmentBytes image(bytes);
    RawSegmentScanner scanner(image, std::string(pathForErrors), damage);
    if (!scanner.start())
        return 0;
    ScanFilter all;
    all.bySequence = true;
    std::vector<ClickEvent> events;
    std::vector<TimeMs> watermarks;
    std::uint64_t blocksRead = 0;
    std::uint64_t blocksSkipped = 0;
    std::uint64_t yielded = 0;
    scanSegment(scanner, all, events, watermarks, f, blocksRead, blocksSkipped, yielded);
    return yielded;
}

} // namespace adclick::engine
