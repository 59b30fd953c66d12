// libFuzzer target for JsonCodec::decode: never crashes, never throws, and every accepted record
// satisfies the codec's invariants and survives encode → decode.

#include "core/ad_dictionary.h"
#include "ingest/country_codes.h"
#include "ingest/ip_address.h"
#include "ingest/json_codec.h"
#include "ingest/user_agent.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

using namespace adclick::engine;

namespace {

#define FUZZ_CHECK(cond)                                                                                               \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            __builtin_trap();                                                                                          \
    } while (0)

// Dictionaries live across inputs (as in production) but are recreated now and then so a long
// run does not grow them without bound.
struct State {
    AdDictionary ads;
    UserAgentDictionary userAgents;
    JsonCodec codec { ads, userAgents };
    JsonCodec reencoded { ads, userAgents };
};

constexpr std::uint64_t kRunsPerState = 20000;
std::unique_ptr<State> g_state;
std::uint64_t g_runs = 0;

void checkRoundTrip(State& s, const ClickEvent& e)
{
    const bool uaKnown = e.uaId != UserAgentDictionary::kOverflowId;
    ClickRecordText r;
    r.adId = s.ads.format(e.adId);
    r.clickTimestampMs = e.eventTimeMs;
    r.userId = "fuzz-user";
    r.ip = formatIp(e.ip);
    r.country = formatCountry(e.country);
    r.userAgent = uaKnown ? std::string(s.userAgents.name(e.uaId)) : std::string();
    r.clickId = "fuzz-click";
    const std::string json = JsonCodec::encode(r);

    ClickEvent back;
    RejectReason reason {};
    FUZZ_CHECK(s.reencoded.decode(json, back, reason) == JsonCodec::Status::Accepted);
    FUZZ_CHECK(back.adId == e.adId);
    FUZZ_CHECK(back.eventTimeMs == e.eventTimeMs);
    FUZZ_CHECK(back.ip == e.ip);
    FUZZ_CHECK(back.country == e.country);
    FUZZ_CHECK(back.userHash == hashUserId("fuzz-user"));
    FUZZ_CHECK(back.clickId == hashClickId("fuzz-click"));
    if (uaKnown) {
        FUZZ_CHECK(back.uaId == e.uaId);
        // The dictionary text is the full user agent unless it was truncated; a truncated one
        // is at least maxUserAgentBytes - 3 long (cut at a UTF-8 boundary).
        if (r.userAgent.size() + 3 < s.codec.limits().maxUserAgentBytes)
            FUZZ_CHECK(back.device == e.device);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (!g_state || ++g_runs % kRunsPerState == 0)
        g_state = std::make_unique<State>();
    State& s = *g_state;

    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    ClickEvent e;
    e.setPosition({ 11, 2 });
    RejectReason reason = RejectReason::NotJson;
    const std::uint64_t before = s.codec.acceptedCount() + s.codec.counters().total();
    const JsonCodec::Status status = s.codec.decode(bytes, e, reason);
    // Exactly one outcome is counted.
    FUZZ_CHECK(s.codec.acceptedCount() + s.codec.counters().total() == before + 1);

    if (status == JsonCodec::Status::Rejected) {
        FUZZ_CHECK(static_cast<int>(reason) < kRejectReasonCount);
        FUZZ_CHECK(s.codec.counters()[reason] > 0);
        if (size > s.codec.limits().maxMessageBytes)
            FUZZ_CHECK(reason == RejectReason::TooLarge);
        return 0;
    }

    const CodecLimits& limits = s.codec.limits();
    FUZZ_CHECK(size <= limits.maxMessageBytes);
    FUZZ_CHECK(e.eventTimeMs >= limits.minTimestampMs && e.eventTimeMs <= limits.maxTimestampMs);
    FUZZ_CHECK(isKnownCountry(e.country));
    FUZZ_CHECK(static_cast<int>(e.device) < kDeviceClassCount);
    FUZZ_CHECK(e.offset == 11 && e.partition == 2); // the source position is the caller's
    FUZZ_CHECK(e.uaId == UserAgentDictionary::kOverflowId || e.uaId < s.userAgents.size());
    FUZZ_CHECK(!s.ads.format(e.adId).empty());
    FUZZ_CHECK((e.flags & ~ClickEvent::kFlagIpv6) == 0);
    if (!e.isIpv6()) {
        // IPv4 text is stored IPv4-mapped.
        for (int i = 0; i < 10; ++i)
            FUZZ_CHECK(e.ip[i] == 0);
        FUZZ_CHECK(e.ip[10] == 0xFF && e.ip[11] == 0xFF);
    }
    checkRoundTrip(s, e);
    return 0;
}
