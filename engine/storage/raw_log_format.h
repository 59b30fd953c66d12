#pragma once

// On-disk layout of the raw click log (format version 2; version 1 segments are still read),
// shared by the writer, the reader and the fuzz target. Everything is little-endian; all offsets
// are in bytes.
//
// Segment file raw-<id, 12 digits>.acr:
//   [segment header, kSegmentHeaderBytes] [block]*
// Segment header:
//   0  magic "ACRLSEG1"          8  u16 format version   10 u16 flags (bit 0: sealed)
//   12 u32 CRC32C of bytes 0…63 with this field zero
//   16 u64 segment id            24 u64 first sequence   32 u64 records (sealed only)
//   40 i64 min event time ms     48 i64 max event time ms (sealed only; 0/0 when empty)
//   56 u64 data end = file size when sealed
// Block:
//   [block header, kBlockHeaderBytes] [dictionary, dictBytes] [records, payloadBytes − dictBytes]
// Block header:
//   0  u32 magic "ACRB"          4  u32 payload bytes    8  u32 dictionary bytes   12 u32 records
//   16 u64 first sequence        24 i64 min event time   32 i64 max event time
//   40 u32 CRC32C(dictionary)    44 u32 CRC32C(whole payload)
//   48 u32 block flags (bit 0: records carry the watermark at arrival; 0 in version 1)
//   52 u32 CRC32C of header bytes 0…51
// Dictionary: strings first used in this block of the segment:
//   varint n, n × (varint uaId, varint length, bytes); varint m, m × (varint adId − kFirstNamedAdId,
//   varint length, bytes)
// Record (sequence = block first sequence + index):
//   u8 tag: bits 0-2 flags, bits 3-5 device (7 = escape: raw flags and device bytes follow the
//           record), bit 6 IPv4-mapped address (4 bytes stored), bit 7 click id present
//   varint zigzag(eventTimeMs − previous record's, 0 before the first record of the block)
//   u64 userHash, [u64 clickId]
//   varint partition, varint zigzag(offset − previous offset of that partition in this block, 0 at
//   first; partitions ≥ kTrackedPartitions: zigzag(offset))
//   ip: 4 bytes (IPv4-mapped) or 16, varint adId, varint uaId, u16 country, [u8 flags, u8 device]
//   [flag bit 0: varint zigzag(watermark at arrival − previous record's, 0 before the first record of
//    the block): the watermark the speed layer judged the event against, kMinTimeMs if none yet]
// Version 2 added the block flags word (reserved, 0, in version 1) and the arrival watermark. A
// reader accepts versions 1 and 2; each block says by its flags whether its records carry it, so a
// segment whose header is damaged still decodes.

#include "core/click_event.h"

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace adclick::engine::rawlog {

static_assert(std::endian::native == std::endian::little, "the raw log codec assumes a little-endian host");

inline constexpr std::array<char, 8> kSegmentMagic = { 'A', 'C', 'R', 'L', 'S', 'E', 'G', '1' };
inline constexpr std::uint16_t kFormatVersion = 2; ///< written
inline constexpr std::uint16_t kOldestReadableVersion = 1;
inline constexpr std::size_t kSegmentHeaderBytes = 64;
inline constexpr std::uint16_t kSegmentSealed = 1;

inline constexpr std::uint32_t kBlockMagic = 0x42524341u; // "ACRB" read as a little-endian u32
inline constexpr std::size_t kBlockHeaderBytes = 56;
/// Block flag: every record of the block is followed by its arrival watermark.
inline constexpr std::uint32_t kBlockArrivalWatermark = 1;
inline constexpr std::uint32_t kKnownBlockFlags = kBlockArrivalWatermark;
/// The writer clamps RawLogConfig::blockRecords to this; readers refuse larger blocks.
inline constexpr std::uint32_t kMaxBlockRecords = 1u << 16;
/// Sanity bound on one block's payload (a reader never allocates more than the input holds anyway).
inline constexpr std::uint32_t kMaxBlockPayloadBytes = 1u << 30;
/// The writer closes a block early once its dictionary grows past this.
inline constexpr std::size_t kSoftMaxDictionaryBytes = 8u << 20;
/// Offsets of partitions below this are delta-coded per block.
inline constexpr std::uint32_t kTrackedPartitions = 64;
/// Longest possible encoded record: tag, 10-byte time, two u64, 5-byte partition, 10-byte offset,
/// 16-byte ip, 5-byte ad, 3-byte ua, country, escape bytes, 10-byte arrival watermark.
inline constexpr std::size_t kMaxRecordBytes = 1 + 10 + 8 + 8 + 5 + 10 + 16 + 5 + 3 + 2 + 2 + 10;
/// Shortest possible encoded record (tag, time, userHash, partition, offset, IPv4, ad, ua, country).
inline constexpr std::size_t kMinRecordBytes = 1 + 1 + 8 + 1 + 1 + 4 + 1 + 1 + 2;

/// CRC32C (Castagnoli), chainable: crc32c(crc32c(0, a), b) == crc32c(0, a ‖ b). SSE4.2 when the
/// CPU has it (checked once), else a slicing-by-8 table. Any thread.
std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t n);

struct SegmentHeader {
    std::uint64_t segmentId = 0;
    std::uint64_t firstSequence = 0;
    std::uint64_t records = 0;
    TimeMs minEventTimeMs = 0;
    TimeMs maxEventTimeMs = 0;
    std::uint64_t dataEndBytes = 0;
    bool sealed = false;
};

enum class SegmentHeaderStatus : std::uint8_t { Ok, BadMagic, BadChecksum, UnsupportedVersion };

void encodeSegmentHeader(const SegmentHeader& h, std::uint8_t* out /* kSegmentHeaderBytes */);
/// Validates magic, checksum and version; `version` receives the stored version.
SegmentHeaderStatus decodeSegmentHeader(const std::uint8_t* in, SegmentHeader& out, std::uint16_t& version);

struct BlockHeader {
    std::uint32_t payloadBytes = 0;
    std::uint32_t dictBytes = 0;
    std::uint32_t records = 0;
    std::uint64_t firstSequence = 0;
    TimeMs minEventTimeMs = 0;
    TimeMs maxEventTimeMs = 0;
    std::uint32_t dictCrc = 0;
    std::uint32_t payloadCrc = 0;
    std::uint32_t flags = 0; ///< kBlock* bits
};

void encodeBlockHeader(const BlockHeader& h, std::uint8_t* out /* kBlockHeaderBytes */);
/// Checks magic, header checksum and field sanity; on failure returns false and why (static text).
bool decodeBlockHeader(const std::uint8_t* in, BlockHeader& out, const char*& why);

// ---- varints (LEB128) and zigzag ----

inline std::uint64_t zigzag(std::uint64_t twosComplement)
{
    return (twosComplement << 1) ^ (0 - (twosComplement >> 63));
}
inline std::uint64_t unzigzag(std::uint64_t v)
{
    return (v >> 1) ^ (0 - (v & 1));
}

inline std::uint8_t* putVarint(std::uint8_t* p, std::uint64_t v)
{
    while (v >= 0x80) {
        *p++ = static_cast<std::uint8_t>(v | 0x80);
        v >>= 7;
    }
    *p++ = static_cast<std::uint8_t>(v);
    return p;
}

/// Bounds-checked; false on a truncated or over-long (> 10 bytes) varint.
inline bool getVarint(const std::uint8_t*& p, const std::uint8_t* end, std::uint64_t& v)
{
    if (p < end && *p < 0x80) {
        v = *p++;
        return true;
    }
    std::uint64_t r = 0;
    for (unsigned shift = 0; shift < 64 && p < end; shift += 7) {
        const std::uint8_t b = *p++;
        r |= static_cast<std::uint64_t>(b & 0x7f) << shift;
        if (b < 0x80) {
            v = r;
            return true;
        }
    }
    return false;
}

template <typename T> inline void putRaw(std::uint8_t*& p, T v)
{
    std::memcpy(p, &v, sizeof(T));
    p += sizeof(T);
}

// ---- records ----

/// Per-block delta state shared by the record encoder and decoder (reset at each block start).
struct RecordContext {
    std::uint64_t previousTimeMs = 0;
    std::uint64_t previousWatermarkMs = 0;
    std::array<std::uint64_t, kTrackedPartitions> lastOffset {};
    void reset()
    {
        previousTimeMs = 0;
        previousWatermarkMs = 0;
        lastOffset.fill(0);
    }
};

inline constexpr std::uint8_t kTagFlagsMask = 0x07;
inline constexpr unsigned kTagDeviceShift = 3;
inline constexpr std::uint8_t kTagDeviceEscape = 7;
inline constexpr std::uint8_t kTagIpv4 = 0x40;
inline constexpr std::uint8_t kTagClickId = 0x80;

inline bool isIpv4Mapped(const std::array<std::uint8_t, 16>& ip)
{
    std::uint64_t lo = 0;
    std::uint32_t mid = 0;
    std::memcpy(&lo, ip.data(), 8);
    std::memcpy(&mid, ip.data() + 8, 4);
    return lo == 0 && mid == 0xffff0000u;
}

/// Appends one record at p (room for kMaxRecordBytes required); returns the new end.
inline std::uint8_t* encodeRecord(std::uint8_t* p, const ClickEvent& e, RecordContext& ctx)
{
    const auto device = static_cast<std::uint8_t>(e.device);
    const bool escape = e.flags > kTagFlagsMask || device >= kTagDeviceEscape;
    const bool v4 = isIpv4Mapped(e.ip);
    std::uint8_t tag = escape ? static_cast<std::uint8_t>(kTagDeviceEscape << kTagDeviceShift)
                              : static_cast<std::uint8_t>(e.flags | (device << kTagDeviceShift));
    tag |= v4 ? kTagIpv4 : 0;
    tag |= e.clickId != 0 ? kTagClickId : 0;
    *p++ = tag;
    const auto t = static_cast<std::uint64_t>(e.eventTimeMs);
    p = putVarint(p, zigzag(t - ctx.previousTimeMs));
    ctx.previousTimeMs = t;
    putRaw(p, e.userHash);
    if (e.clickId != 0)
        putRaw(p, e.clickId);
    p = putVarint(p, e.partition);
    const auto offset = static_cast<std::uint64_t>(e.offset);
    if (e.partition < kTrackedPartitions) {
        p = putVarint(p, zigzag(offset - ctx.lastOffset[e.partition]));
        ctx.lastOffset[e.partition] = offset;
    } else {
        p = putVarint(p, zigzag(offset));
    }
    if (v4) {
        std::memcpy(p, e.ip.data() + 12, 4);
        p += 4;
    } else {
        std::memcpy(p, e.ip.data(), 16);
        p += 16;
    }
    p = putVarint(p, e.adId);
    p = putVarint(p, e.uaId);
    putRaw(p, e.country);
    if (escape) {
        *p++ = e.flags;
        *p++ = device;
    }
    return p;
}

/// Decodes one record (bounds-checked); false on malformed bytes. e is fully assigned on success.
inline bool decodeRecord(const std::uint8_t*& p, const std::uint8_t* end, ClickEvent& e, RecordContext& ctx)
{
    if (p >= end)
        return false;
    const std::uint8_t tag = *p++;
    std::uint64_t v = 0;
    if (!getVarint(p, end, v))
        return false;
    ctx.previousTimeMs += unzigzag(v);
    e.eventTimeMs = static_cast<TimeMs>(ctx.previousTimeMs);
    const std::size_t fixed = 8 + ((tag & kTagClickId) ? 8 : 0);
    if (static_cast<std::size_t>(end - p) < fixed)
        return false;
    std::memcpy(&e.userHash, p, 8);
    p += 8;
    e.clickId = 0;
    if (tag & kTagClickId) {
        std::memcpy(&e.clickId, p, 8);
        p += 8;
        if (e.clickId == 0)
            return false;
    }
    if (!getVarint(p, end, v) || v > UINT32_MAX)
        return false;
    e.partition = static_cast<std::uint32_t>(v);
    if (!getVarint(p, end, v))
        return false;
    if (e.partition < kTrackedPartitions) {
        std::uint64_t& last = ctx.lastOffset[e.partition];
        last += unzigzag(v);
        e.offset = static_cast<std::int64_t>(last);
    } else {
        e.offset = static_cast<std::int64_t>(unzigzag(v));
    }
    if (tag & kTagIpv4) {
        if (end - p < 4)
            return false;
        e.ip = {};
        e.ip[10] = 0xff;
        e.ip[11] = 0xff;
        std::memcpy(e.ip.data() + 12, p, 4);
        p += 4;
    } else {
        if (end - p < 16)
            return false;
        std::memcpy(e.ip.data(), p, 16);
        p += 16;
        if (isIpv4Mapped(e.ip))
            return false; // the writer stores these in 4 bytes: not a record it wrote
    }
    if (!getVarint(p, end, v) || v > UINT32_MAX)
        return false;
    e.adId = static_cast<AdId>(v);
    if (!getVarint(p, end, v) || v > UINT16_MAX)
        return false;
    e.uaId = static_cast<std::uint16_t>(v);
    if (end - p < 2)
        return false;
    std::memcpy(&e.country, p, 2);
    p += 2;
    const auto device = static_cast<std::uint8_t>((tag >> kTagDeviceShift) & 7);
    if (device == kTagDeviceEscape) {
        if (end - p < 2 || (tag & kTagFlagsMask) != 0)
            return false;
        e.flags = p[0];
        e.device = static_cast<DeviceClass>(p[1]);
        p += 2;
        if (e.flags <= kTagFlagsMask && p[-1] < kTagDeviceEscape)
            return false; // would not have been escaped
    } else {
        e.flags = tag & kTagFlagsMask;
        e.device = static_cast<DeviceClass>(device);
    }
    return true;
}

/// Appends a record's arrival watermark (blocks flagged kBlockArrivalWatermark: right after each
/// record). Consecutive events see nearly the same watermark, so the delta is usually one byte.
inline std::uint8_t* encodeArrivalWatermark(std::uint8_t* p, TimeMs watermarkMs, RecordContext& ctx)
{
    const auto w = static_cast<std::uint64_t>(watermarkMs);
    p = putVarint(p, zigzag(w - ctx.previousWatermarkMs));
    ctx.previousWatermarkMs = w;
    return p;
}

/// Bounds-checked; false on malformed bytes.
inline bool decodeArrivalWatermark(
    const std::uint8_t*& p, const std::uint8_t* end, TimeMs& watermarkMs, RecordContext& ctx)
{
    std::uint64_t v = 0;
    if (!getVarint(p, end, v))
        return false;
    ctx.previousWatermarkMs += unzigzag(v);
    watermarkMs = static_cast<TimeMs>(ctx.previousWatermarkMs);
    return true;
}

} // namespace adclick::engine::rawlog
