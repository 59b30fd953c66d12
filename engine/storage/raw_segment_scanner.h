#pragma once

#include "storage/raw_log.h"
#include "storage/raw_log_format.h"

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace adclick::engine::rawlog {

/// "raw-<id, 12 digits>.acr"
std::string segmentFileName(std::uint64_t segmentId);

/// strerror text for an errno value; any thread.
std::string systemErrorText(int err);

struct SegmentFile {
    std::uint64_t id = 0;
    std::string path;
};
/// The segment files of a directory in id order (other names are ignored). A missing directory
/// is an empty log; other errors set error (if given) and return what was listed.
std::vector<SegmentFile> listSegmentFiles(const std::string& directory, std::string* error = nullptr);

/// Random-access bytes of one segment image: a file read with pread, or memory.
class SegmentBytes {
public:
    virtual ~SegmentBytes() = default;
    /// Bytes in the image (fixed when the source was opened).
    virtual std::uint64_t size() const = 0;
    /// n bytes at offset (offset + n ≤ size()). The view stays valid until the next read. False
    /// with error text on an I/O error.
    virtual bool read(std::uint64_t offset, std::size_t n, std::span<const std::uint8_t>& out, std::string& error) = 0;
};

/// An in-memory image (no copy).
class MemorySegmentBytes final : public SegmentBytes {
public:
    explicit MemorySegmentBytes(std::string_view bytes)
        : m_bytes(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size())
    {
    }
    std::uint64_t size() const override { return m_bytes.size(); }
    bool read(std::uint64_t offset, std::size_t n, std::span<const std::uint8_t>& out, std::string&) override
    {
        out = m_bytes.subspan(offset, n);
        return true;
    }

private:
    std::span<const std::uint8_t> m_bytes;
};

/// A segment file; size() is its size when opened (a live writer may append behind it).
class FileSegmentBytes final : public SegmentBytes {
public:
    FileSegmentBytes(int fd, std::uint64_t size)
        : m_fd(fd)
        , m_size(size)
    {
    }
    std::uint64_t size() const override { return m_size; }
    bool read(std::uint64_t offset, std::size_t n, std::span<const std::uint8_t>& out, std::string& error) override;

private:
    int m_fd;
    std::uint64_t m_size;
    std::vector<std::uint8_t> m_buffer;
};

/// Walks the blocks of one segment image in order. Every unusable part (bad header, checksum,
/// truncation, inconsistent payload) is appended to `damage` with the path and byte offset, and
/// the walk resynchronises on the next valid block header when there is one. Also keeps the
/// segment's string dictionary (user agents, named ads) as blocks are loaded. Never reads out of
/// bounds on any input. One thread.
class RawSegmentScanner {
public:
    RawSegmentScanner(SegmentBytes& bytes, std::string path, std::vector<RawLogDamage>& damage);

    /// Reads the segment header. False if the segment cannot be walked at all (shorter than a
    /// header, unsupported version, unreadable): damage says why. A bad header is reported but
    /// the blocks are still walked (headerValid() false).
    bool start();
    /// Call before start() when the segment was truncated on purpose: its sealed header is known to
    /// be stale and is not reported.
    void ignoreSealedSize() { m_ignoreSealedSize = true; }
    bool headerValid() const { return m_headerValid; }
    const SegmentHeader& header() const { return m_header; }

    /// Moves to the next block whose header is valid and whose payload lies inside the image.
    /// False at the end.
    bool next();
    const BlockHeader& block() const { return m_block; }
    std::uint64_t blockOffset() const { return m_blockOffset; }
    std::uint64_t blockEnd() const { return m_blockOffset + kBlockHeaderBytes + m_block.payloadBytes; }

    /// For a block not decoded: checks and loads only its dictionary (later blocks need the
    /// strings). False (damage recorded) if the dictionary is unusable.
    bool loadDictionary();
    /// Checks the whole payload's checksum without decoding (recovery scans). False + damage.
    bool verify();
    /// Checks the payload, loads its dictionary and decodes its records into events (cleared
    /// first). False + damage if anything is inconsistent; then no record of the block is used.
    /// watermarks (if given) receives each record's arrival watermark (kMinTimeMs if the block
    /// does not carry them).
    bool decode(std::vector<ClickEvent>& events, std::vector<TimeMs>* watermarks = nullptr);

    /// Strings of the records decoded so far; empty if unknown (reported as damage by decode()).
    std::string_view userAgent(std::uint16_t uaId) const;
    std::string_view adName(AdId adId) const;

    std::uint64_t size() const { return m_size; }

private:
    void report(std::uint64_t offset, std::string reason);
    bool resync(std::uint64_t from, std::uint64_t badOffset, const std::string& what);
    bool candidateAt(std::uint64_t offset, BlockHeader& h);
    bool readPayload(std::span<const std::uint8_t>& payload);
    bool parseDictionary(std::span<const std::uint8_t> dict);
    std::string lostText() const;

    SegmentBytes& m_bytes;
    std::string m_path;
    std::vector<RawLogDamage>& m_damage;
    std::uint64_t m_size = 0;
    SegmentHeader m_header;
    bool m_headerValid = false;
    bool m_ignoreSealedSize = false;
    std::uint64_t m_cursor = kSegmentHeaderBytes; ///< where next() looks
    bool m_stopped = false;
    BlockHeader m_block;
    std::uint64_t m_blockOffset = 0;
    std::string m_ioError;

    // Strings of this segment: uaId → index + 1 into m_strings (0 = not defined), in pages of 256
    // ids allocated on first use (real ids are dense from 0; a stray high id costs one page).
    using UaPage = std::array<std::uint32_t, 256>;
    std::array<std::unique_ptr<UaPage>, 256> m_uaPages;
    std::uint32_t uaIndex(std::uint16_t uaId) const
    {
        const UaPage* page = m_uaPages[uaId >> 8].get();
        return page ? (*page)[uaId & 0xff] : 0;
    }
    std::unordered_map<AdId, std::uint32_t> m_adIndex;
    std::deque<std::string> m_strings; // stable addresses: views handed out stay valid
};

} // namespace adclick::engine::rawlog
