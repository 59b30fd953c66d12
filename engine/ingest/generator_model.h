#pragma once

#include "core/ad_dictionary.h"
#include "core/click_event.h"
#include "core/hash.h"
#include "ingest/generator_mixes.h"
#include "ingest/generator_random.h"
#include "ingest/json_codec.h"
#include "ingest/synthetic_source.h"
#include "ingest/user_agent.h"
#include "ingest/zipf_ranks.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

// How a record is made (every choice is a pure function of (seed, sequence)):
// - recordHash(n) = mix64(seedKey ^ n·φ); each independent choice of record n uses its own
//   stream mix64(recordHash(n) + stream·φ'), so resuming at any n, or polling with any batch
//   size, gives the same records.
// - A record is Malformed, a Duplicate (resend of an earlier original record m, carrying m's
//   content and click id at n's position) or an Original. Only originals have content of their
//   own: ad (Zipf rank → fixed permutation, or the burst ad), user, event time.
// - A user's country, user agent and address derive from (seed, user), so a user keeps one
//   device, one country and one address, and the configured mixes hold over users.
// - The fast path (poll) and the text path (recordText) both start from the same Content and
//   UserAttributes; only the last conversion differs.

namespace adclick::engine {

// Decimal digits of v at out (no terminator); returns the length.
inline std::size_t appendDecimal(char* out, std::uint64_t v)
{
    return static_cast<std::size_t>(std::to_chars(out, out + 20, v).ptr - out);
}

/// The record model of SyntheticSource: the parameters derived from a GeneratorConfig and the
/// pure functions from (seed, sequence) to a record. It has no position and no clock; the
/// source anchors the time origin (zeroMs). The per-record functions are defined here so that
/// the source's produce loop can inline them.
struct GeneratorModel {
    static constexpr std::uint32_t kDuplicateWindow = 1000;
    static constexpr int kDuplicateAttempts = 8;

    // Independent random streams of one record.
    enum Stream : std::uint64_t {
        kKindStream = 1,
        kUserTimeStream, // low 32 bits: user, high 32 bits: jitter
        kLateStream, // high 32 bits: late?, low bits: unused
        kLateDelayStream,
        kBurstStream,
        kMalformedStream,
        kMalformedDetailStream,
        kZipfStream = 16, // + attempt
        kDuplicateStream = 128, // + attempt
    };

    // What a record is.
    enum class Kind : std::uint8_t { Original, Duplicate, Malformed };

    // The content of an original record (duplicates carry their original's).
    struct Content {
        std::uint64_t sequence = 0; ///< the original record (click id "c<seed>-<sequence>")
        AdId adId = 0;
        std::uint32_t user = 0; ///< user number k of "u<k>", 1 … userCount
        TimeMs eventTimeMs = 0;
    };

    // Attributes fixed per user.
    struct UserAttributes {
        // The address as two words of eight bytes each, first byte least significant: written
        // to the event as two 8-byte stores (byte-wise building would stall the copy).
        std::array<std::uint64_t, 2> ipWords {};
        bool isV6 = false;
        std::uint8_t country = 0; ///< index into kCountries
        std::uint8_t userAgent = 0; ///< index into kUserAgents
    };

    GeneratorConfig config;

    // Derived from config.
    std::uint64_t seedKey = 0;
    std::uint64_t userKey = 0;
    std::uint32_t partitions = 1;
    std::uint32_t adCount = 1;
    std::uint32_t userCount = 1;
    double ratePerSec = 1;
    std::uint64_t malformedThreshold = 0; ///< on 53 bits
    std::uint64_t duplicateThreshold = 0; ///< on 53 bits, cumulative after malformed
    std::uint64_t lateThreshold = 0; ///< on 32 bits
    std::uint64_t burstThreshold = 0; ///< on 53 bits
    std::uint32_t ipv6Threshold = 0; ///< on 16 bits
    std::uint64_t jitterRange = 1; ///< jitterMaxMs + 1
    std::uint64_t adStride = 0;
    std::uint64_t adShift = 0;
    double adInverse = 1;
    ZipfRanks zipf { 1, 0 };
    std::string clickIdPrefix; ///< "c<seed>-"
    std::optional<AdId> burstAd;

    // Time origin, set by the source (mutable: a real clock anchors it lazily, also in const calls).
    mutable TimeMs zeroMs = 0; ///< processing time of sequence 0

    // Fixed tables.
    std::array<std::uint8_t, 1000> countrySlots = perMilleTable(kCountries);
    std::array<std::uint8_t, 1000> userAgentSlots = perMilleTable(kUserAgents);
    std::array<CountryCode, kCountries.size()> countryCodes {};
    std::array<std::uint16_t, kUserAgents.size()> userAgentIds {};
    std::array<DeviceClass, kUserAgents.size()> userAgentDevices {};

    /// Interns the user agents of the mix. Derived values are set by apply().
    explicit GeneratorModel(UserAgentDictionary& userAgents);
    /// Takes a new configuration (the source keeps its position and re-anchors its origin).
    void apply(const GeneratorConfig& c);

    // ---- time ---------------------------------------------------------------------------------

    static TimeMs offsetMsOf(std::uint64_t sequence, double rate)
    {
        // Non-negative, so truncation is floor (and avoids a libm call per event).
        return static_cast<TimeMs>(static_cast<double>(sequence) * 1000.0 / rate);
    }
    TimeMs offsetMsOf(std::uint64_t sequence) const { return offsetMsOf(sequence, ratePerSec); }

    // Smallest sequence whose processing-time offset exceeds offsetMs.
    std::uint64_t firstSequenceAfter(TimeMs offsetMs) const;

    // ---- record structure ---------------------------------------------------------------------

    std::uint64_t recordHash(std::uint64_t sequence) const { return mix64(seedKey ^ (sequence * kPhi)); }

    // The raw class of a record before duplicate targets are resolved.
    Kind drawKind(std::uint64_t h) const
    {
        const std::uint64_t r = streamOf(h, kKindStream) >> 11;
        if (r < malformedThreshold)
            return Kind::Malformed;
        if (r < duplicateThreshold)
            return Kind::Duplicate;
        return Kind::Original;
    }

    // Kind of record `sequence`; `origin` receives the original whose content it carries.
    Kind kindOf(std::uint64_t sequence, std::uint64_t h, std::uint64_t& origin) const
    {
        origin = sequence;
        const Kind kind = drawKind(h);
        if (kind != Kind::Duplicate)
            return kind;
        if (sequence == 0)
            return Kind::Original;
        const auto window = static_cast<std::uint32_t>(std::min<std::uint64_t>(sequence, kDuplicateWindow));
        for (int attempt = 0; attempt < kDuplicateAttempts; ++attempt) {
            const std::uint64_t r = streamOf(h, kDuplicateStream + static_cast<std::uint64_t>(attempt));
            const std::uint64_t m = sequence - 1 - below32(static_cast<std::uint32_t>(r), window);
            if (drawKind(recordHash(m)) == Kind::Original) {
                origin = m;
                return Kind::Duplicate;
            }
        }
        return Kind::Original; // no original nearby (only possible at extreme fractions)
    }

    AdId rankToAd(std::uint32_t rank) const
    {
        // (rank − 1)·stride + shift < 2^47 is exact in a double; the quotient is off by at most 1.
        const std::uint64_t p = std::uint64_t { rank - 1 } * adStride + adShift;
        const auto q = static_cast<std::uint64_t>(static_cast<double>(p) * adInverse);
        auto rem = static_cast<std::int64_t>(p - q * adCount);
        if (rem < 0)
            rem += adCount;
        else if (rem >= static_cast<std::int64_t>(adCount))
            rem -= adCount;
        return static_cast<AdId>(rem + 1);
    }

    Content contentOf(std::uint64_t origin) const { return contentOf(origin, recordHash(origin)); }
    /// h must be recordHash(origin).
    Content contentOf(std::uint64_t origin, std::uint64_t h) const
    {
        Content c;
        c.sequence = origin;
        const TimeMs offsetMs = offsetMsOf(origin);
        const std::uint64_t userTime = streamOf(h, kUserTimeStream);
        c.user = 1 + below32(static_cast<std::uint32_t>(userTime), userCount);
        TimeMs delayMs = static_cast<TimeMs>(((userTime >> 32) * jitterRange) >> 32);
        if ((streamOf(h, kLateStream) >> 32) < lateThreshold) {
            const double u = unitOf(streamOf(h, kLateDelayStream));
            const double late = -static_cast<double>(config.lateDelayMeanMs) * std::log1p(-u);
            delayMs
                += static_cast<TimeMs>(std::min(late, static_cast<double>(std::max<TimeMs>(0, config.lateDelayMaxMs))));
        }
        c.eventTimeMs = zeroMs + offsetMs - delayMs;
        if (burstAd && offsetMs >= config.burstStartMs && offsetMs - config.burstStartMs < config.burstDurationMs
            && (streamOf(h, kBurstStream) >> 11) < burstThreshold) {
            c.adId = *burstAd;
        } else {
            const std::uint32_t rank
                = zipf.sample([h](std::uint32_t attempt) { return streamOf(h, kZipfStream + attempt); });
            c.adId = rankToAd(rank);
        }
        return c;
    }

    UserAttributes attributesOf(std::uint32_t user) const
    {
        UserAttributes a;
        const std::uint64_t r = mix64(userKey + user * kPhi);
        a.country = countrySlots[(((r & 0xFFFF) * 1000) >> 16)];
        a.userAgent = userAgentSlots[((((r >> 16) & 0xFFFF) * 1000) >> 16)];
        a.isV6 = ((r >> 32) & 0xFFFF) < ipv6Threshold;
        const std::uint64_t r2 = mix64(r);
        if (a.isV6) {
            const std::uint64_t r3 = mix64(r2);
            a.ipWords[0] = kIpv6Prefixes[r2 >> 61] | (r3 << 32);
            a.ipWords[1] = (r3 >> 32) | (r2 << 32);
        } else {
            // ::ffff:a.b.c.d with a public-looking first octet: 1 … 223 except 10 and 127.
            std::uint64_t first = 1 + below32(static_cast<std::uint32_t>(r2 >> 32), 223);
            if (first == 10 || first == 127)
                ++first;
            a.ipWords[1] = 0xFFFF0000ULL | (first << 32) | ((r2 & 0xFFFFFF) << 40);
        }
        return a;
    }

    static void storeIp(std::uint8_t* out, const std::array<std::uint64_t, 2>& words)
    {
        for (int w = 0; w < 2; ++w) {
            std::uint64_t v = words[w];
            if constexpr (std::endian::native == std::endian::big)
                v = __builtin_bswap64(v);
            std::memcpy(out + 8 * w, &v, 8);
        }
    }

    static std::uint64_t computeUserHash(std::uint32_t user)
    {
        std::array<char, 24> buf;
        buf[0] = 'u';
        const std::size_t n = 1 + appendDecimal(buf.data() + 1, user);
        return hashUserId(std::string_view(buf.data(), n));
    }

    std::uint64_t clickIdHash(std::uint64_t origin) const
    {
        std::array<char, 64> buf;
        const std::size_t prefix = std::min(clickIdPrefix.size(), buf.size() - 21);
        std::memcpy(buf.data(), clickIdPrefix.data(), prefix);
        const std::size_t n = prefix + appendDecimal(buf.data() + prefix, origin);
        return hashClickId(std::string_view(buf.data(), n));
    }

    // ---- the two output forms -----------------------------------------------------------------

    void fillEvent(ClickEvent& e, const Content& c, const UserAttributes& a, std::uint64_t userHashValue) const
    {
        e.eventTimeMs = c.eventTimeMs;
        e.userHash = userHashValue;
        e.clickId = config.clickIds ? clickIdHash(c.sequence) : 0;
        storeIp(e.ip.data(), a.ipWords);
        e.adId = c.adId;
        e.uaId = userAgentIds[a.userAgent];
        e.country = countryCodes[a.country];
        e.device = userAgentDevices[a.userAgent];
        e.flags = a.isV6 ? ClickEvent::kFlagIpv6 : 0;
    }

    void fillText(ClickRecordText& out, const Content& c, const UserAttributes& a) const;
    ClickRecordText originalText(std::uint64_t sequence) const;
    /// The bad bytes of malformed record `sequence` (h = recordHash(sequence)); maxMessageBytes
    /// is the codec's limit that an Oversized record exceeds.
    std::string malformedBytes(std::uint64_t sequence, std::uint64_t h, std::size_t maxMessageBytes) const;
};

} // namespace adclick::engine
