// libFuzzer target for decodeRawSegment (the raw log reader's decoder): never crashes or reads out
// of bounds on any segment image, reports every damage with the given path and an offset inside
// the image, and every record it yields survives the record codec's encode → decode unchanged.

#include "storage/raw_log.h"
#include "storage/raw_log_format.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

using namespace adclick::engine;

namespace {

#define FUZZ_CHECK(cond)                                                                                               \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            __builtin_trap();                                                                                          \
    } while (0)

constexpr std::string_view kPath = "fuzz.acr";

bool sameEvent(const ClickEvent& a, const ClickEvent& b)
{
    return a.eventTimeMs == b.eventTimeMs && a.userHash == b.userHash && a.clickId == b.clickId && a.offset == b.offset
        && a.ip == b.ip && a.adId == b.adId && a.partition == b.partition && a.uaId == b.uaId && a.country == b.country
        && a.device == b.device && a.flags == b.flags;
}

struct Checker {
    std::uint64_t records = 0;
    std::uint64_t touched = 0;

    bool operator()(const RawRecord& r)
    {
        ++records;
        // The views must point at live memory (ASan checks every byte read here).
        for (const char c : r.userAgent)
            touched += static_cast<unsigned char>(c);
        for (const char c : r.adName)
            touched += static_cast<unsigned char>(c);
        FUZZ_CHECK(r.adName.empty() || r.event.adId >= kFirstNamedAdId);

        // Whatever the decoder accepts is exactly what the encoder would have written.
        std::array<std::uint8_t, rawlog::kMaxRecordBytes> buf {};
        rawlog::RecordContext encodeCtx;
        encodeCtx.reset();
        const std::uint8_t* end = rawlog::encodeRecord(buf.data(), r.event, encodeCtx);
        FUZZ_CHECK(static_cast<std::size_t>(end - buf.data()) <= rawlog::kMaxRecordBytes);
        rawlog::RecordContext decodeCtx;
        decodeCtx.reset();
        const std::uint8_t* p = buf.data();
        ClickEvent back;
        FUZZ_CHECK(rawlog::decodeRecord(p, end, back, decodeCtx));
        FUZZ_CHECK(p == end);
        FUZZ_CHECK(sameEvent(back, r.event));
        return true;
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    std::vector<RawLogDamage> damage;
    Checker checker;
    const std::uint64_t n = decodeRawSegment(
        bytes, kPath, [&](const RawRecord& r) { return checker(r); }, damage);
    FUZZ_CHECK(n == checker.records);
    // Every record costs at least kMinRecordBytes of the image.
    FUZZ_CHECK(n * rawlog::kMinRecordBytes <= size);
    for (const RawLogDamage& d : damage) {
        FUZZ_CHECK(d.path == kPath);
        FUZZ_CHECK(d.byteOffset <= size);
        FUZZ_CHECK(!d.reason.empty());
    }

    // Stopping early yields exactly one record.
    if (n > 1) {
        std::vector<RawLogDamage> again;
        std::uint64_t seen = 0;
        FUZZ_CHECK(decodeRawSegment(
                       bytes, kPath, [&](const RawRecord&) { return ++seen < 1; }, again)
            == 1);
        FUZZ_CHECK(seen == 1);
    }
    return 0;
}
