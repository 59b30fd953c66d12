#include "storage/raw_log_recovery.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>

namespace adclick::engine::rawlog {

namespace {

struct Scanned {
    bool headerValid = false;
    SegmentHeader header;
    bool haveBlocks = false;
    std::uint64_t firstBlockSequence = 0;
    std::uint64_t endSequence = 0; ///< after the last valid block
    std::uint64_t records = 0;
    TimeMs minEventTimeMs = 0;
    TimeMs maxEventTimeMs = 0;
    std::uint64_t lastGoodEnd = kSegmentHeaderBytes; ///< byte after the last valid block
};

/// Walks a segment file up to size; with verify, blocks whose payload checksum fails do not count.
/// False if it cannot be walked at all (shorter than a header, unsupported version).
bool scanSegment(int fd, std::uint64_t size, const std::string& path, bool verify, Scanned& s,
    std::vector<RawLogDamage>& damage, bool truncatedOnPurpose = false)
{
    FileSegmentBytes bytes(fd, size);
    RawSegmentScanner scanner(bytes, path, damage);
    if (truncatedOnPurpose)
        scanner.ignoreSealedSize();
    if (!scanner.start())
        return false;
    s.headerValid = scanner.headerValid();
    s.header = scanner.header();
    while (scanner.next()) {
        if (verify && !scanner.verify())
            continue;
        const BlockHeader& b = scanner.block();
        s.minEventTimeMs = s.haveBlocks ? std::min(s.minEventTimeMs, b.minEventTimeMs) : b.minEventTimeMs;
        s.maxEventTimeMs = s.haveBlocks ? std::max(s.maxEventTimeMs, b.maxEventTimeMs) : b.maxEventTimeMs;
        if (!s.haveBlocks)
            s.firstBlockSequence = b.firstSequence;
        s.haveBlocks = true;
        s.records += b.records;
        s.endSequence = b.firstSequence + b.records;
        s.lastGoodEnd = scanner.blockEnd();
    }
    return true;
}

std::string errnoText(const char* op, const std::string& path)
{
    return std::string("raw log ") + op + " " + path + ": " + systemErrorText(errno);
}

bool removeSegment(const std::string& path, bool& removed, std::string& error)
{
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        error = errnoText("delete", path);
        return false;
    }
    removed = true;
    return true;
}

/// Read-only: the sequence after a segment's last record, if the segment tells.
std::optional<std::uint64_t> endSequenceOf(const SegmentFile& f)
{
    const int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return std::nullopt;
    FileHandle handle(fd, f.path);
    struct stat st { };
    if (::fstat(fd, &st) != 0)
        return std::nullopt;
    std::vector<RawLogDamage> ignored; // reported when that segment is read
    Scanned s;
    if (!scanSegment(fd, static_cast<std::uint64_t>(st.st_size), f.path, false, s, ignored))
        return std::nullopt;
    if (s.haveBlocks)
        return s.endSequence;
    if (s.headerValid)
        return s.header.firstSequence + (s.header.sealed ? s.header.records : 0);
    return std::nullopt;
}

/// Truncates (to truncateTo, or after the last valid block) and seals the segment a writer
/// stopped in. endSequence: after its last valid block (nullopt if the file was removed).
bool finishSegment(const SegmentFile& f, std::optional<std::uint64_t> truncateTo,
    std::optional<std::uint64_t>& endSequence, bool& removed, std::vector<RawLogDamage>& damage, std::string& error)
{
    endSequence.reset();
    if (truncateTo && *truncateTo < kSegmentHeaderBytes)
        return removeSegment(f.path, removed, error); // a position inside the header: nothing was logged
    const int fd = ::open(f.path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        error = errnoText("open", f.path);
        return false;
    }
    FileHandle handle(fd, f.path);
    struct stat st { };
    if (::fstat(fd, &st) != 0) {
        error = errnoText("stat", f.path);
        return false;
    }
    auto size = static_cast<std::uint64_t>(st.st_size);
    if (truncateTo && *truncateTo > size) {
        damage.push_back({ f.path, size,
            "the segment ends at byte " + std::to_string(size) + ", before the recovery position "
                + std::to_string(*truncateTo) + ": records in between are lost" });
    } else if (truncateTo && *truncateTo < size) {
        if (::ftruncate(fd, static_cast<off_t>(*truncateTo)) != 0) {
            error = errnoText("truncate", f.path);
            return false;
        }
        size = *truncateTo;
    }
    Scanned s;
    if (!scanSegment(fd, size, f.path, true, s, damage, truncateTo.has_value())) {
        if (size < kSegmentHeaderBytes) // created, header never written: it holds nothing
            return removeSegment(f.path, removed, error);
        error = "raw log segment " + f.path + " has a format this build cannot read; move it away to continue";
        return false;
    }
    if (!s.headerValid && !s.haveBlocks) {
        damage.push_back({ f.path, 0, "the segment holds no valid header or block: removed" });
        return removeSegment(f.path, removed, error);
    }
    if (!truncateTo && s.lastGoodEnd < size) {
        damage.push_back({ f.path, s.lastGoodEnd,
            "unusable tail of " + std::to_string(size - s.lastGoodEnd)
                + " bytes after the last valid block truncated (a crash during a write)" });
        if (::ftruncate(fd, static_cast<off_t>(s.lastGoodEnd)) != 0) {
            error = errnoText("truncate", f.path);
            return false;
        }
        size = s.lastGoodEnd;
    }
    SegmentHeader h;
    h.segmentId = f.id;
    h.firstSequence = s.headerValid ? s.header.firstSequence : s.firstBlockSequence;
    h.records = s.records;
    h.minEventTimeMs = s.minEventTimeMs;
    h.maxEventTimeMs = s.maxEventTimeMs;
    h.dataEndBytes = size;
    h.sealed = true;
    std::array<std::uint8_t, kSegmentHeaderBytes> bytes {};
    encodeSegmentHeader(h, bytes.data());
    if (::pwrite(fd, bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
        error = errnoText("seal", f.path);
        return false;
    }
    if (!handle.sync(error))
        return false;
    endSequence = s.haveBlocks ? s.endSequence : h.firstSequence;
    return true;
}

} // namespace

bool recoverRawLog(const std::string& directory, const std::vector<SegmentFile>& files, const RawLogPosition* recoverTo,
    RecoveredLog& out, std::vector<RawLogDamage>& damage, std::string& error)
{
    out = {};
    bool removed = false;
    std::optional<std::uint64_t> endSequence;
    if (recoverTo) {
        out.lastSegmentId = recoverTo->segmentId;
        out.nextSequence = recoverTo->nextSequence;
        // Newest first, so that a crash part-way leaves a prefix of the log.
        for (auto it = files.rbegin(); it != files.rend() && it->id > recoverTo->segmentId; ++it)
            if (!removeSegment(it->path, removed, error))
                return false;
        const auto at = std::find_if(
            files.begin(), files.end(), [&](const SegmentFile& f) { return f.id == recoverTo->segmentId; });
        if (at != files.end()) {
            if (!finishSegment(*at, recoverTo->byteOffset, endSequence, removed, damage, error))
                return false;
            if (endSequence && *endSequence != recoverTo->nextSequence)
                damage.push_back({ at->path, recoverTo->byteOffset,
                    "the segment ends at sequence " + std::to_string(*endSequence) + " but the recovery position says "
                        + std::to_string(recoverTo->nextSequence) });
        }
    } else if (!files.empty()) {
        out.lastSegmentId = files.back().id;
        if (!finishSegment(files.back(), std::nullopt, endSequence, removed, damage, error))
            return false;
        for (std::size_t i = files.size() - 1; !endSequence && i-- > 0;)
            endSequence = endSequenceOf(files[i]);
        out.nextSequence = endSequence.value_or(0);
    }
    if (removed && !syncDirectory(directory, error)) {
        error = "raw log " + error;
        return false;
    }
    return true;
}

} // namespace adclick::engine::rawlog
