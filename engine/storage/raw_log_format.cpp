#include "storage/raw_log_format.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace adclick::engine::rawlog {

namespace {

constexpr std::uint32_t kCastagnoliReflected = 0x82F63B78u;

struct SlicingTables {
    std::array<std::array<std::uint32_t, 256>, 8> t {};
    constexpr SlicingTables()
    {
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k)
                c = (c & 1) ? (c >> 1) ^ kCastagnoliReflected : c >> 1;
            t[0][i] = c;
        }
        for (std::uint32_t i = 0; i < 256; ++i)
            for (std::size_t s = 1; s < 8; ++s)
                t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    }
};
constexpr SlicingTables kTables;

std::uint32_t crc32cSoftware(std::uint32_t crc, const std::uint8_t* p, std::size_t n)
{
    const auto& t = kTables.t;
    while (n >= 8) {
        std::uint64_t w = 0;
        std::memcpy(&w, p, 8);
        w ^= crc;
        crc = t[7][w & 0xff] ^ t[6][(w >> 8) & 0xff] ^ t[5][(w >> 16) & 0xff] ^ t[4][(w >> 24) & 0xff]
            ^ t[3][(w >> 32) & 0xff] ^ t[2][(w >> 40) & 0xff] ^ t[1][(w >> 48) & 0xff] ^ t[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
    return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32cHardware(std::uint32_t crc, const std::uint8_t* p, std::size_t n)
{
    std::uint64_t c = crc;
    while (n >= 8) {
        std::uint64_t w = 0;
        std::memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        n -= 8;
    }
    auto c32 = static_cast<std::uint32_t>(c);
    while (n--)
        c32 = _mm_crc32_u8(c32, *p++);
    return c32;
}

bool haveSse42()
{
    static const bool have = __builtin_cpu_supports("sse4.2");
    return have;
}
#endif

template <typename T> T getAt(const std::uint8_t* in, std::size_t at)
{
    T v;
    std::memcpy(&v, in + at, sizeof(T));
    return v;
}
template <typename T> void putAt(std::uint8_t* out, std::size_t at, T v)
{
    std::memcpy(out + at, &v, sizeof(T));
}

constexpr std::size_t kSegmentCrcAt = 12;
constexpr std::size_t kBlockCrcAt = 52;

} // namespace

std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t n)
{
    const auto* p = static_cast<const std::uint8_t*>(data);
    crc = ~crc;
#if defined(__x86_64__)
    if (haveSse42())
        return ~crc32cHardware(crc, p, n);
#endif
    return ~crc32cSoftware(crc, p, n);
}

void encodeSegmentHeader(const SegmentHeader& h, std::uint8_t* out)
{
    std::memset(out, 0, kSegmentHeaderBytes);
    std::memcpy(out, kSegmentMagic.data(), kSegmentMagic.size());
    putAt<std::uint16_t>(out, 8, kFormatVersion);
    putAt<std::uint16_t>(out, 10, h.sealed ? kSegmentSealed : 0);
    putAt(out, 16, h.segmentId);
    putAt(out, 24, h.firstSequence);
    putAt(out, 32, h.records);
    putAt(out, 40, h.minEventTimeMs);
    putAt(out, 48, h.maxEventTimeMs);
    putAt(out, 56, h.dataEndBytes);
    putAt(out, kSegmentCrcAt, crc32c(0, out, kSegmentHeaderBytes));
}

SegmentHeaderStatus decodeSegmentHeader(const std::uint8_t* in, SegmentHeader& out, std::uint16_t& version)
{
    if (std::memcmp(in, kSegmentMagic.data(), kSegmentMagic.size()) != 0)
        return SegmentHeaderStatus::BadMagic;
    std::array<std::uint8_t, kSegmentHeaderBytes> copy;
    std::memcpy(copy.data(), in, kSegmentHeaderBytes);
    putAt<std::uint32_t>(copy.data(), kSegmentCrcAt, 0);
    if (crc32c(0, copy.data(), copy.size()) != getAt<std::uint32_t>(in, kSegmentCrcAt))
        return SegmentHeaderStatus::BadChecksum;
    version = getAt<std::uint16_t>(in, 8);
    if (version < kOldestReadableVersion || version > kFormatVersion)
        return SegmentHeaderStatus::UnsupportedVersion;
    const auto flags = getAt<std::uint16_t>(in, 10);
    out.sealed = (flags & kSegmentSealed) != 0;
    out.segmentId = getAt<std::uint64_t>(in, 16);
    out.firstSequence = getAt<std::uint64_t>(in, 24);
    out.records = getAt<std::uint64_t>(in, 32);
    out.minEventTimeMs = getAt<TimeMs>(in, 40);
    out.maxEventTimeMs = getAt<TimeMs>(in, 48);
    out.dataEndBytes = getAt<std::uint64_t>(in, 56);
    return SegmentHeaderStatus::Ok;
}

void encodeBlockHeader(const BlockHeader& h, std::uint8_t* out)
{
    putAt(out, 0, kBlockMagic);
    putAt(out, 4, h.payloadBytes);
    putAt(out, 8, h.dictBytes);
    putAt(out, 12, h.records);
    putAt(out, 16, h.firstSequence);
    putAt(out, 24, h.minEventTimeMs);
    putAt(out, 32, h.maxEventTimeMs);
    putAt(out, 40, h.dictCrc);
    putAt(out, 44, h.payloadCrc);
    putAt(out, 48, h.flags);
    putAt(out, kBlockCrcAt, crc32c(0, out, kBlockCrcAt));
}

bool decodeBlockHeader(const std::uint8_t* in, BlockHeader& out, const char*& why)
{
    if (getAt<std::uint32_t>(in, 0) != kBlockMagic) {
        why = "no block magic";
        return false;
    }
    if (crc32c(0, in, kBlockCrcAt) != getAt<std::uint32_t>(in, kBlockCrcAt)) {
        why = "block header checksum mismatch";
        return false;
    }
    BlockHeader h;
    h.payloadBytes = getAt<std::uint32_t>(in, 4);
    h.dictBytes = getAt<std::uint32_t>(in, 8);
    h.records = getAt<std::uint32_t>(in, 12);
    h.firstSequence = getAt<std::uint64_t>(in, 16);
    h.minEventTimeMs = getAt<TimeMs>(in, 24);
    h.maxEventTimeMs = getAt<TimeMs>(in, 32);
    h.dictCrc = getAt<std::uint32_t>(in, 40);
    h.payloadCrc = getAt<std::uint32_t>(in, 44);
    h.flags = getAt<std::uint32_t>(in, 48);
    // A header with a valid checksum but impossible fields was not written by this format's writer.
    why = "block header fields out of range";
    if ((h.flags & ~kKnownBlockFlags) != 0 || h.records == 0 || h.records > kMaxBlockRecords
        || h.payloadBytes > kMaxBlockPayloadBytes || h.dictBytes > h.payloadBytes
        || static_cast<std::uint64_t>(h.records) * kMinRecordBytes > h.payloadBytes - h.dictBytes
        || h.minEventTimeMs > h.maxEventTimeMs || h.firstSequence > UINT64_MAX - h.records)
        return false;
    out = h;
    return true;
}

} // namespace adclick::engine::rawlog
