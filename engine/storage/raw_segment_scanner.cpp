#include "storage/raw_segment_scanner.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <unistd.h>

namespace adclick::engine::rawlog {

std::string segmentFileName(std::uint64_t segmentId)
{
    char name[48];
    std::snprintf(name, sizeof name, "raw-%012llu.acr", static_cast<unsigned long long>(segmentId));
    return name;
}

std::string systemErrorText(int err)
{
    return std::error_code(err, std::generic_category()).message();
}

std::vector<SegmentFile> listSegmentFiles(const std::string& directory, std::string* error)
{
    std::vector<SegmentFile> out;
    std::error_code ec;
    std::filesystem::directory_iterator it(directory, ec);
    if (ec) {
        if (ec != std::errc::no_such_file_or_directory && error)
            *error = "cannot list " + directory + ": " + ec.message();
        return out;
    }
    for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
        const std::string fileName = it->path().filename().string();
        const std::string_view name(fileName);
        constexpr std::string_view kPrefix = "raw-";
        constexpr std::string_view kSuffix = ".acr";
        if (name.size() <= kPrefix.size() + kSuffix.size() || !name.starts_with(kPrefix) || !name.ends_with(kSuffix))
            continue;
        const std::string_view digits = name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
        std::uint64_t id = 0;
        const std::from_chars_result parsed = std::from_chars(digits.data(), digits.data() + digits.size(), id);
        if (parsed.ec != std::errc() || parsed.ptr != digits.data() + digits.size())
            continue;
        SegmentFile& f = out.emplace_back();
        f.id = id;
        f.path.reserve(directory.size() + 1 + fileName.size());
        f.path.append(directory).append("/").append(fileName);
    }
    if (ec && error)
        *error = "cannot list " + directory + ": " + ec.message();
    std::sort(out.begin(), out.end(), [](const SegmentFile& a, const SegmentFile& b) { return a.id < b.id; });
    return out;
}

bool FileSegmentBytes::read(std::uint64_t offset, std::size_t n, std::span<const std::uint8_t>& out, std::string& error)
{
    if (m_buffer.size() < n)
        m_buffer.resize(n);
    std::size_t done = 0;
    while (done < n) {
        const ssize_t r = ::pread(m_fd, m_buffer.data() + done, n - done, static_cast<off_t>(offset + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            error = systemErrorText(errno);
            return false;
        }
        if (r == 0) {
            error = "the file ended early (truncated while being read?)";
            return false;
        }
        done += static_cast<std::size_t>(r);
    }
    out = std::span<const std::uint8_t>(m_buffer.data(), n);
    return true;
}

RawSegmentScanner::RawSegmentScanner(SegmentBytes& bytes, std::string path, std::vector<RawLogDamage>& damage)
    : m_bytes(bytes)
    , m_path(std::move(path))
    , m_damage(damage)
    , m_size(bytes.size())
{
}

void RawSegmentScanner::report(std::uint64_t offset, std::string reason)
{
    m_damage.push_back({ m_path, offset, std::move(reason) });
}

std::string RawSegmentScanner::lostText() const
{
    return std::to_string(m_block.records) + " records (sequences " + std::to_string(m_block.firstSequence) + "…"
        + std::to_string(m_block.firstSequence + m_block.records - 1) + ") lost";
}

bool RawSegmentScanner::start()
{
    if (m_size < kSegmentHeaderBytes) {
        report(0,
            "file of " + std::to_string(m_size) + " bytes is shorter than a segment header ("
                + std::to_string(kSegmentHeaderBytes) + ")");
        return false;
    }
    std::span<const std::uint8_t> h;
    if (!m_bytes.read(0, kSegmentHeaderBytes, h, m_ioError)) {
        report(0, "read error: " + m_ioError);
        return false;
    }
    std::uint16_t version = 0;
    switch (decodeSegmentHeader(h.data(), m_header, version)) {
    case SegmentHeaderStatus::Ok:
        m_headerValid = true;
        if (m_header.sealed && m_header.dataEndBytes != m_size && !m_ignoreSealedSize)
            report(std::min(m_size, m_header.dataEndBytes),
                "sealed segment holds " + std::to_string(m_size) + " bytes but its header says "
                    + std::to_string(m_header.dataEndBytes));
        return true;
    case SegmentHeaderStatus::UnsupportedVersion:
        report(0, "unsupported format version " + std::to_string(version) + ": segment skipped");
        return false;
    case SegmentHeaderStatus::BadMagic:
        report(0, "no segment header magic: facts rebuilt from the blocks");
        return true;
    case SegmentHeaderStatus::BadChecksum:
        report(0, "segment header checksum mismatch: facts rebuilt from the blocks");
        return true;
    }
    return false;
}

bool RawSegmentScanner::candidateAt(std::uint64_t offset, BlockHeader& h)
{
    if (offset > m_size || m_size - offset < kBlockHeaderBytes)
        return false;
    std::span<const std::uint8_t> bytes;
    if (!m_bytes.read(offset, kBlockHeaderBytes, bytes, m_ioError))
        return false;
    const char* why = nullptr;
    return decodeBlockHeader(bytes.data(), h, why) && h.payloadBytes <= m_size - offset - kBlockHeaderBytes;
}

bool RawSegmentScanner::resync(std::uint64_t from, std::uint64_t badOffset, const std::string& what)
{
    constexpr std::size_t kChunk = 1u << 20;
    constexpr std::array<std::uint8_t, 4> kMagic = { 'A', 'C', 'R', 'B' };
    std::vector<std::uint8_t> chunk;
    BlockHeader h;
    std::uint64_t pos = from;
    while (pos < m_size && m_size - pos >= kBlockHeaderBytes) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, m_size - pos));
        std::span<const std::uint8_t> view;
        if (!m_bytes.read(pos, n, view, m_ioError)) {
            report(badOffset, what + "; read error while looking for the next block: " + m_ioError);
            m_stopped = true;
            return false;
        }
        chunk.assign(view.begin(), view.end()); // candidateAt() reuses the file buffer
        for (std::size_t i = 0; i + kMagic.size() <= n; ++i) {
            const void* hit = std::memchr(chunk.data() + i, kMagic[0], n - i);
            if (!hit)
                break;
            i = static_cast<std::size_t>(static_cast<const std::uint8_t*>(hit) - chunk.data());
            if (i + kMagic.size() <= n && std::memcmp(chunk.data() + i, kMagic.data(), kMagic.size()) == 0
                && candidateAt(pos + i, h)) {
                const std::uint64_t at = pos + i;
                report(badOffset,
                    what + "; skipped " + std::to_string(at - badOffset) + " bytes to the next block at offset "
                        + std::to_string(at));
                m_cursor = at;
                return true;
            }
        }
        if (pos + n >= m_size)
            break;
        pos += n - (kMagic.size() - 1);
    }
    report(badOffset,
        what + "; no further block: the rest of the segment (" + std::to_string(m_size - badOffset)
            + " bytes) is skipped");
    m_stopped = true;
    m_cursor = m_size;
    return false;
}

bool RawSegmentScanner::next()
{
    while (!m_stopped && m_cursor < m_size) {
        const std::uint64_t off = m_cursor;
        if (m_size - off < kBlockHeaderBytes) {
            report(off,
                "incomplete block header at the end of the segment (" + std::to_string(m_size - off)
                    + " bytes; crash or a write in progress)");
            m_stopped = true;
            return false;
        }
        std::span<const std::uint8_t> bytes;
        if (!m_bytes.read(off, kBlockHeaderBytes, bytes, m_ioError)) {
            report(off, "read error: " + m_ioError);
            m_stopped = true;
            return false;
        }
        BlockHeader h;
        const char* why = nullptr;
        if (!decodeBlockHeader(bytes.data(), h, why)) {
            if (!resync(off + 1, off, std::string("bad block header (") + why + ")"))
                return false;
            continue;
        }
        const std::uint64_t available = m_size - off - kBlockHeaderBytes;
        if (h.payloadBytes > available) {
            m_block = h;
            const std::string what = "block extends past the end of the segment (" + std::to_string(available) + " of "
                + std::to_string(h.payloadBytes)
                + " payload bytes present; crash or a write in progress): " + lostText();
            if (!resync(off + 1, off, what))
                return false;
            continue;
        }
        m_block = h;
        m_blockOffset = off;
        m_cursor = off + kBlockHeaderBytes + h.payloadBytes;
        return true;
    }
    return false;
}

bool RawSegmentScanner::readPayload(std::span<const std::uint8_t>& payload)
{
    if (!m_bytes.read(m_blockOffset + kBlockHeaderBytes, m_block.payloadBytes, payload, m_ioError)) {
        report(m_blockOffset, "read error: " + m_ioError + ": " + lostText());
        return false;
    }
    return true;
}

bool RawSegmentScanner::parseDictionary(std::span<const std::uint8_t> dict)
{
    const std::uint8_t* p = dict.data();
    const std::uint8_t* end = p + dict.size();
    std::uint64_t count = 0;
    if (!getVarint(p, end, count))
        return false;
    for (std::uint64_t i = 0; i < count; ++i) {
        std::uint64_t id = 0;
        std::uint64_t len = 0;
        if (!getVarint(p, end, id) || id > UINT16_MAX || !getVarint(p, end, len)
            || len > static_cast<std::uint64_t>(end - p))
            return false;
        std::unique_ptr<UaPage>& page = m_uaPages[id >> 8];
        if (!page)
            page = std::make_unique<UaPage>(); // value-initialised: all undefined
        m_strings.emplace_back(reinterpret_cast<const char*>(p), len);
        (*page)[id & 0xff] = static_cast<std::uint32_t>(m_strings.size());
        p += len;
    }
    if (!getVarint(p, end, count))
        return false;
    for (std::uint64_t i = 0; i < count; ++i) {
        std::uint64_t index = 0;
        std::uint64_t len = 0;
        if (!getVarint(p, end, index) || index > UINT32_MAX - kFirstNamedAdId || !getVarint(p, end, len)
            || len > static_cast<std::uint64_t>(end - p))
            return false;
        m_strings.emplace_back(reinterpret_cast<const char*>(p), len);
        m_adIndex[kFirstNamedAdId + static_cast<AdId>(index)] = static_cast<std::uint32_t>(m_strings.size());
        p += len;
    }
    return p == end;
}

bool RawSegmentScanner::loadDictionary()
{
    std::span<const std::uint8_t> dict;
    if (!m_bytes.read(m_blockOffset + kBlockHeaderBytes, m_block.dictBytes, dict, m_ioError)) {
        report(m_blockOffset, "read error: " + m_ioError);
        return false;
    }
    if (crc32c(0, dict.data(), dict.size()) != m_block.dictCrc) {
        report(m_blockOffset, "dictionary checksum mismatch: the strings this block defines are lost");
        return false;
    }
    if (!parseDictionary(dict)) {
        report(m_blockOffset, "malformed dictionary: the strings this block defines are lost");
        return false;
    }
    return true;
}

bool RawSegmentScanner::verify()
{
    std::span<const std::uint8_t> payload;
    if (!readPayload(payload))
        return false;
    if (crc32c(0, payload.data(), payload.size()) != m_block.payloadCrc) {
        report(m_blockOffset, "payload checksum mismatch: " + lostText());
        return false;
    }
    return true;
}

bool RawSegmentScanner::decode(std::vector<ClickEvent>& events, std::vector<TimeMs>* watermarks)
{
    events.clear();
    if (watermarks)
        watermarks->clear();
    std::span<const std::uint8_t> payload;
    if (!readPayload(payload))
        return false;
    const std::span<const std::uint8_t> dict = payload.first(m_block.dictBytes);
    const std::span<const std::uint8_t> records = payload.subspan(m_block.dictBytes);
    const std::uint32_t dictCrc = crc32c(0, dict.data(), dict.size());
    if (crc32c(dictCrc, records.data(), records.size()) != m_block.payloadCrc || dictCrc != m_block.dictCrc) {
        // The strings may still be good (own checksum): later blocks of the segment need them.
        const bool keptStrings = dictCrc == m_block.dictCrc && parseDictionary(dict);
        report(m_blockOffset,
            "payload checksum mismatch: " + lostText() + (keptStrings ? " (its strings are intact)" : ""));
        return false;
    }
    if (!parseDictionary(dict)) {
        report(m_blockOffset, "malformed dictionary: " + lostText());
        return false;
    }
    events.resize(m_block.records);
    if (watermarks)
        watermarks->assign(m_block.records, kMinTimeMs);
    const bool withWatermarks = (m_block.flags & kBlockArrivalWatermark) != 0;
    RecordContext ctx;
    ctx.reset();
    const std::uint8_t* p = records.data();
    const std::uint8_t* end = p + records.size();
    std::uint32_t missingStrings = 0;
    for (std::uint32_t i = 0; i < m_block.records; ++i) {
        ClickEvent& e = events[i];
        TimeMs watermarkMs = kMinTimeMs;
        if (!decodeRecord(p, end, e, ctx) || e.eventTimeMs < m_block.minEventTimeMs
            || e.eventTimeMs > m_block.maxEventTimeMs
            || (withWatermarks && !decodeArrivalWatermark(p, end, watermarkMs, ctx))) {
            report(m_blockOffset,
                "record " + std::to_string(i)
                    + " does not decode or lies outside the block's time range: " + lostText());
            events.clear();
            if (watermarks)
                watermarks->clear();
            return false;
        }
        if (watermarks)
            (*watermarks)[i] = watermarkMs;
        const bool uaKnown = uaIndex(e.uaId) != 0;
        const bool adKnown = e.adId < kFirstNamedAdId || m_adIndex.contains(e.adId);
        missingStrings += (uaKnown && adKnown) ? 0 : 1;
    }
    if (p != end) {
        report(m_blockOffset, "bytes left after the last record: " + lostText());
        events.clear();
        if (watermarks)
            watermarks->clear();
        return false;
    }
    if (missingStrings != 0)
        report(m_blockOffset,
            std::to_string(missingStrings)
                + " records refer to user-agent or ad strings the segment does not define (a block defining "
                  "them is damaged): they are read without those strings");
    return true;
}

std::string_view RawSegmentScanner::userAgent(std::uint16_t uaId) const
{
    const std::uint32_t i = uaIndex(uaId);
    return i ? std::string_view(m_strings[i - 1]) : std::string_view();
}

std::string_view RawSegmentScanner::adName(AdId adId) const
{
    const auto it = m_adIndex.find(adId);
    return it != m_adIndex.end() ? std::string_view(m_strings[it->second - 1]) : std::string_view();
}

} // namespace adclick::engine::rawlog
