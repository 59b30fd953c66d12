#include "ingest/generator_model.h"

#include "ingest/country_codes.h"
#include "ingest/ip_address.h"
#include "ingest/malformed_records.h"

#include <numeric>

namespace adclick::engine {

namespace {

constexpr std::uint64_t kUserSalt = 0x7573657273616c74ULL;

// A probability as a threshold on 53 random bits (exact for 0 and 1).
std::uint64_t threshold53(double p)
{
    p = std::clamp(std::isfinite(p) ? p : 0.0, 0.0, 1.0);
    return static_cast<std::uint64_t>(p * 0x1.0p53);
}

} // namespace

GeneratorModel::GeneratorModel(UserAgentDictionary& userAgents)
{
    for (std::size_t i = 0; i < kCountries.size(); ++i)
        countryCodes[i] = packCountry(kCountries[i].code[0], kCountries[i].code[1]);
    for (std::size_t i = 0; i < kUserAgents.size(); ++i) {
        userAgentIds[i] = userAgents.intern(kUserAgents[i].text);
        userAgentDevices[i] = classifyUserAgent(kUserAgents[i].text);
    }
}

void GeneratorModel::apply(const GeneratorConfig& c)
{
    config = c;
    ratePerSec = std::isfinite(c.ratePerSec) && c.ratePerSec > 1e-3 ? c.ratePerSec : 1e-3;
    seedKey = mix64(c.seed ^ 0x5EED5EED5EED5EEDULL);
    userKey = mix64(c.seed + kUserSalt);
    partitions = std::max<std::uint32_t>(1, c.partitions);
    adCount = std::clamp<std::uint32_t>(c.adCount, 1, kFirstNamedAdId - 1);
    userCount = std::max<std::uint32_t>(1, c.userCount);
    const double malformed = std::clamp(std::isfinite(c.malformedFraction) ? c.malformedFraction : 0.0, 0.0, 1.0);
    const double duplicate
        = std::clamp(std::isfinite(c.duplicateFraction) ? c.duplicateFraction : 0.0, 0.0, 1.0 - malformed);
    malformedThreshold = threshold53(malformed);
    duplicateThreshold = threshold53(malformed + duplicate);
    lateThreshold = threshold53(c.lateFraction) >> 21;
    burstThreshold = threshold53(c.burstShare);
    ipv6Threshold = static_cast<std::uint32_t>(threshold53(c.ipv6Fraction) >> 37);
    jitterRange = static_cast<std::uint64_t>(std::max<TimeMs>(0, c.jitterMaxMs)) + 1;
    zipf = ZipfRanks(adCount, c.zipfSkew);
    // Rank → ad id: r ↦ ((r − 1)·stride + shift) mod adCount + 1 with gcd(stride, adCount) = 1,
    // so popular ads are spread over the id range instead of being 1, 2, 3, …
    adStride = static_cast<std::uint64_t>(static_cast<double>(adCount) * 0.6180339887498949) | 1;
    while (adCount > 1 && std::gcd(adStride, std::uint64_t { adCount }) != 1)
        ++adStride;
    adStride %= adCount;
    if (adStride == 0)
        adStride = adCount > 1 ? 1 : 0;
    adShift = mix64(seedKey + 17) % adCount;
    adInverse = 1.0 / static_cast<double>(adCount);
    clickIdPrefix = std::to_string(c.seed);
    clickIdPrefix.insert(0, 1, 'c');
    clickIdPrefix.push_back('-');
    burstAd = c.burstAdId != 0 && c.burstDurationMs > 0 ? AdDictionary::fromNumber(c.burstAdId) : std::nullopt;
}

std::uint64_t GeneratorModel::firstSequenceAfter(TimeMs offsetMs) const
{
    if (offsetMs < 0)
        return 0;
    double estimate = std::floor(static_cast<double>(offsetMs + 1) * ratePerSec / 1000.0);
    auto n = static_cast<std::uint64_t>(std::max(0.0, std::min(estimate, 9.0e15)));
    while (n > 0 && offsetMsOf(n - 1) > offsetMs)
        --n;
    while (offsetMsOf(n) <= offsetMs)
        ++n;
    return n;
}

void GeneratorModel::fillText(ClickRecordText& out, const Content& c, const UserAttributes& a) const
{
    out.adId = std::to_string(c.adId);
    out.clickTimestampMs = c.eventTimeMs;
    out.userId = std::to_string(c.user);
    out.userId.insert(0, 1, 'u');
    IpBytes ip {};
    storeIp(ip.data(), a.ipWords);
    out.ip = formatIp(ip);
    out.country = kCountries[a.country].code;
    out.userAgent = kUserAgents[a.userAgent].text;
    out.clickId = config.clickIds ? clickIdPrefix + std::to_string(c.sequence) : std::string();
}

ClickRecordText GeneratorModel::originalText(std::uint64_t sequence) const
{
    const Content c = contentOf(sequence);
    ClickRecordText text;
    fillText(text, c, attributesOf(c.user));
    return text;
}

std::string GeneratorModel::malformedBytes(std::uint64_t sequence, std::uint64_t h, std::size_t maxMessageBytes) const
{
    const MalformedKind kind = malformedKindOf(static_cast<std::uint32_t>(streamOf(h, kMalformedStream)));
    const std::uint64_t detail = streamOf(h, kMalformedDetailStream);
    return malformedRecord(kind, JsonCodec::encode(originalText(sequence)), detail, maxMessageBytes);
}

} // namespace adclick::engine
