#include "ingest/synthetic_source.h"

#include "core/hash.h"
#include "ingest/country_codes.h"
#include "ingest/ip_address.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string_view>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

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

namespace {

constexpr std::uint64_t kPhi = 0x9E3779B97F4A7C15ULL;
constexpr std::uint64_t kStreamStep = 0xD6E8FEB86659FD93ULL;
constexpr std::uint64_t kUserSalt = 0x7573657273616c74ULL;
constexpr std::size_t kMaxQuarantineBytes = 4096;
constexpr std::uint32_t kDuplicateWindow = 1000;
constexpr int kDuplicateAttempts = 8;
constexpr std::uint32_t kMaxCachedUsers = 2'000'000; // 16 MB of user hashes at most
constexpr std::size_t kProduceChunk = 64; // records planned ahead of their user-hash lookup
constexpr TimeMs kMaxIdleSleepMs = 20;

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

constexpr std::uint64_t streamOf(std::uint64_t recordHash, std::uint64_t stream)
{
    return mix64(recordHash + stream * kStreamStep);
}

// Uniform double in [0, 1) from the top 53 bits.
constexpr double unitOf(std::uint64_t r)
{
    return static_cast<double>(r >> 11) * 0x1.0p-53;
}

// Uniform integer in [0, n) from 32 random bits (Lemire's multiply-shift; bias ≤ n / 2^32).
constexpr std::uint32_t below32(std::uint32_t bits, std::uint32_t n)
{
    return static_cast<std::uint32_t>((std::uint64_t { bits } * n) >> 32);
}

// A probability as a threshold on 53 random bits (exact for 0 and 1).
std::uint64_t threshold53(double p)
{
    p = std::clamp(std::isfinite(p) ? p : 0.0, 0.0, 1.0);
    return static_cast<std::uint64_t>(p * 0x1.0p53);
}

// ---- Zipf ranks ---------------------------------------------------------------------------------

// Zipf(s) over ranks 1 … n, exact, O(1) per draw with a small fixed table:
// - the head (ranks 1 … K, K ≤ 4096) and "the tail" as one more outcome form a Walker alias
//   table (32 KiB), so most draws cost one random word and one table read;
// - a tail draw uses rejection-inversion over ranks K+1 … n (W. Hörmann, G. Derflinger,
//   "Rejection-inversion to generate variates from monotone discrete distributions", 1996, as
//   in Apache Commons RNG's RejectionInversionZipfSampler, generalised to a first rank > 1).
// The tail's mass Σ_{k>K} k^-s comes from the Euler–Maclaurin formula (error ~ K^-(s+3), far
// below double precision of the total). Random words come from the caller, so every draw is a
// pure function of the record.
class ZipfRanks {
public:
    static constexpr std::uint32_t kMaxHead = 4096;

    ZipfRanks(std::uint32_t n, double exponent)
        : m_n(std::max<std::uint32_t>(1, n))
        , m_exponent(std::isfinite(exponent) ? std::max(0.0, exponent) : 0.0)
    {
        if (m_exponent <= 0)
            return;
        m_head = std::min(m_n, kMaxHead);
        const bool hasTail = m_head < m_n;
        std::vector<double> weights(m_head + (hasTail ? 1 : 0));
        for (std::uint32_t k = 1; k <= m_head; ++k)
            weights[k - 1] = h(k);
        if (hasTail) {
            const double a = m_head + 1.0;
            const double b = m_n;
            const double derivativeA = -m_exponent * h(a) / a;
            const double derivativeB = -m_exponent * h(b) / b;
            weights[m_head] = hIntegral(b) - hIntegral(a) + (h(a) + h(b)) / 2 + (derivativeB - derivativeA) / 12;
            m_tailLow = hIntegral(a + 0.5) - h(a);
            m_tailHigh = hIntegral(b + 0.5);
            // f(x) = x − H⁻¹(H(x + ½) − h(x)) is non-decreasing (Theorem 2 of the paper), so
            // f(K + 1) is a valid squeeze for every tail rank.
            m_s = a - hIntegralInverse(hIntegral(a + 0.5) - h(a));
        }
        buildAlias(weights);
    }

    /// A rank in [1, n]. random(i) is the i-th random 64-bit word of this draw.
    template <typename Random> std::uint32_t sample(Random&& random) const
    {
        const std::uint64_t r = random(0);
        if (m_exponent <= 0)
            return 1 + static_cast<std::uint32_t>(((r >> 32) * m_n) >> 32);
        const auto slot = static_cast<std::uint32_t>(((r >> 32) * m_slots.size()) >> 32);
        const Slot& s = m_slots[slot];
        const std::uint32_t outcome = static_cast<std::uint32_t>(r) < s.threshold ? slot : s.alias;
        if (outcome < m_head)
            return outcome + 1;
        return sampleTail(random);
    }

private:
    struct Slot {
        std::uint32_t threshold; ///< keep the slot's own outcome when the low word is below this
        std::uint32_t alias;
    };

    // Vose's alias method; deterministic for given weights.
    void buildAlias(const std::vector<double>& weights)
    {
        const std::size_t m = weights.size();
        double total = 0;
        for (double w : weights)
            total += w;
        std::vector<double> scaled(m);
        std::vector<std::uint32_t> small, large;
        for (std::size_t i = 0; i < m; ++i) {
            scaled[i] = weights[i] * static_cast<double>(m) / total;
            (scaled[i] < 1.0 ? small : large).push_back(static_cast<std::uint32_t>(i));
        }
        m_slots.assign(m, Slot { 0xFFFFFFFFu, 0 });
        while (!small.empty() && !large.empty()) {
            const std::uint32_t s = small.back();
            small.pop_back();
            const std::uint32_t l = large.back();
            m_slots[s] = Slot { static_cast<std::uint32_t>(std::min(scaled[s] * 0x1.0p32, 4294967295.0)), l };
            scaled[l] -= 1.0 - scaled[s];
            if (scaled[l] < 1.0) {
                large.pop_back();
                small.push_back(l);
            }
        }
        for (std::uint32_t i : small) // rounding leftovers: probability 1
            m_slots[i] = Slot { 0xFFFFFFFFu, i };
        for (std::uint32_t i : large)
            m_slots[i] = Slot { 0xFFFFFFFFu, i };
    }

    template <typename Random> std::uint32_t sampleTail(Random&& random) const
    {
        const double first = m_head + 1.0;
        for (std::uint32_t attempt = 1;; ++attempt) {
            // u is uniform in (tailLow, tailHigh].
            const double u = m_tailHigh + unitOf(random(attempt)) * (m_tailLow - m_tailHigh);
            const double x = hIntegralInverse(u);
            double k = std::floor(x + 0.5);
            if (k < first)
                k = first;
            else if (k > m_n)
                k = m_n;
            // After 64 rejections (probability < 0.1^64) the candidate is taken to bound the loop.
            if (k - x <= m_s || u >= hIntegral(k + 0.5) - h(k) || attempt >= 64)
                return static_cast<std::uint32_t>(k);
        }
    }

    // h(x) = x^-s; hIntegral(x) = ∫₁ˣ h, written to stay accurate for s near 1.
    double h(double x) const { return std::exp(-m_exponent * std::log(x)); }
    double hIntegral(double x) const
    {
        const double logX = std::log(x);
        return helper2((1.0 - m_exponent) * logX) * logX;
    }
    double hIntegralInverse(double x) const
    {
        double t = x * (1.0 - m_exponent);
        if (t < -1.0)
            t = -1.0; // numerical guard, as in the reference implementation
        return std::exp(helper1(t) * x);
    }
    // log(1 + x) / x and (exp(x) − 1) / x, accurate near 0.
    static double helper1(double x)
    {
        return std::abs(x) > 1e-8 ? std::log1p(x) / x : 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
    }
    static double helper2(double x)
    {
        return std::abs(x) > 1e-8 ? std::expm1(x) / x : 1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x));
    }

    std::uint32_t m_n;
    double m_exponent;
    std::uint32_t m_head = 0;
    std::vector<Slot> m_slots;
    double m_tailLow = 0;
    double m_tailHigh = 0;
    double m_s = 0;
};

// ---- User hash cache ----------------------------------------------------------------------------

// hashUserId("u<k>") per user k, filled lazily (0 = not computed yet). Zero-filled anonymous
// memory: a page costs memory only once touched; on Linux it asks for transparent huge pages
// because lookups are random (with 4 KiB pages nearly every one would miss the TLB).
class UserHashCache {
public:
    UserHashCache() = default;
    ~UserHashCache() { release(); }
    UserHashCache(const UserHashCache&) = delete;
    UserHashCache& operator=(const UserHashCache&) = delete;

    /// Discards the contents; afterwards users 0 … entries−1 are cacheable (fewer if memory is short).
    void reset(std::size_t entries)
    {
        release();
        if (entries == 0)
            return;
        const std::size_t bytes = entries * sizeof(std::uint64_t);
#if defined(__linux__)
        void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return;
#if defined(MADV_HUGEPAGE)
        ::madvise(p, bytes, MADV_HUGEPAGE);
#endif
#else
        void* p = std::calloc(entries, sizeof(std::uint64_t));
        if (!p)
            return;
#endif
        m_data = static_cast<std::uint64_t*>(p);
        m_size = entries;
    }

    std::size_t size() const
    {
        return m_size;
    }
    std::uint64_t* slot(std::uint32_t user)
    {
        return m_data + user;
    }

private:
    void release()
    {
        if (!m_data)
            return;
#if defined(__linux__)
        ::munmap(m_data, m_size * sizeof(std::uint64_t));
#else
        std::free(m_data);
#endif
        m_data = nullptr;
        m_size = 0;
    }

    std::uint64_t* m_data = nullptr;
    std::size_t m_size = 0;
};

// ---- Fixed mixes --------------------------------------------------------------------------------

// Weights in per mille (each table sums to 1000).
struct CountryWeight {
    char code[3];
    std::uint16_t perMille;
};
constexpr std::array<CountryWeight, 31> kCountries = { {
    { "US", 300 },
    { "IN", 100 },
    { "GB", 70 },
    { "DE", 55 },
    { "BR", 50 },
    { "JP", 45 },
    { "FR", 40 },
    { "CA", 35 },
    { "MX", 30 },
    { "ID", 30 },
    { "IT", 25 },
    { "ES", 22 },
    { "AU", 20 },
    { "KR", 26 },
    { "NL", 15 },
    { "TR", 15 },
    { "PL", 12 },
    { "PH", 12 },
    { "VN", 11 },
    { "SE", 10 },
    { "NG", 10 },
    { "EG", 9 },
    { "ZA", 8 },
    { "AR", 8 },
    { "CO", 7 },
    { "SA", 7 },
    { "AE", 6 },
    { "CH", 6 },
    { "BE", 6 },
    { "SG", 5 },
    { "XX", 5 },
} };

struct UserAgentWeight {
    std::string_view text;
    std::uint16_t perMille;
};
constexpr std::array<UserAgentWeight, 13> kUserAgents = { {
    { "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
      "Version/17.2 Mobile/15E148 Safari/604.1",
        220 },
    { "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 "
      "Mobile Safari/537.36",
        200 },
    { "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
      "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
        80 },
    { "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
      "Safari/537.36",
        35 },
    { "Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 "
      "Mobile/15E148 Safari/604.1",
        45 },
    { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
      "Safari/537.36",
        200 },
    { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
      "Safari/537.36 Edg/120.0.2210.91",
        60 },
    { "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 "
      "Safari/605.1.15",
        80 },
    { "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", 30 },
    { "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
      "Safari/537.36",
        15 },
    { "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 20 },
    { "curl/8.4.0", 5 },
    { "Roku/DVP-12.5 (12.5.0.4174-C2)", 10 },
} };

template <typename T, std::size_t N> constexpr int sumPerMille(const std::array<T, N>& table)
{
    int sum = 0;
    for (const T& t : table)
        sum += t.perMille;
    return sum;
}
static_assert(sumPerMille(kCountries) == 1000);
static_assert(sumPerMille(kUserAgents) == 1000);

// Realistic IPv6 /32 prefixes of large access networks.
// Realistic IPv6 /32 prefixes of large access networks, as their first four bytes (first byte
// least significant).
constexpr std::uint64_t prefix32(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d)
{
    return std::uint64_t { a } | std::uint64_t { b } << 8 | std::uint64_t { c } << 16 | std::uint64_t { d } << 24;
}
constexpr std::array<std::uint64_t, 8> kIpv6Prefixes = {
    prefix32(0x26, 0x00, 0x17, 0x00), // 2600:1700::/32 (AT&T)
    prefix32(0x26, 0x01, 0x02, 0x8a), // 2601:28a::/32 (Comcast)
    prefix32(0x2a, 0x02, 0x08, 0x10), // 2a02:810::/32 (Vodafone DE)
    prefix32(0x24, 0x09, 0x40, 0x40), // 2409:4040::/32 (Jio)
    prefix32(0x2a, 0x01, 0x0e, 0x0a), // 2a01:e0a::/32 (Free)
    prefix32(0x28, 0x04, 0x01, 0x4c), // 2804:14c::/32 (Brazil)
    prefix32(0x24, 0x0d, 0x00, 0x1a), // 240d:1a::/32 (SoftBank)
    prefix32(0x26, 0x07, 0xfb, 0x90), // 2607:fb90::/32 (T-Mobile US)
};

// Per-mille lookup: index of the entry covering each of the 1000 slots.
template <typename T, std::size_t N> std::array<std::uint8_t, 1000> perMilleTable(const std::array<T, N>& table)
{
    std::array<std::uint8_t, 1000> out {};
    std::size_t slot = 0;
    for (std::size_t i = 0; i < N; ++i)
        for (int k = 0; k < table[i].perMille; ++k)
            out[slot++] = static_cast<std::uint8_t>(i);
    return out;
}

// Decimal digits of v at out (no terminator); returns the length.
std::size_t appendDecimal(char* out, std::uint64_t v)
{
    return static_cast<std::size_t>(std::to_chars(out, out + 20, v).ptr - out);
}

std::string formatNumber(double v)
{
    std::array<char, 32> buf;
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    return std::string(buf.data(), end);
}

// Malformed record kinds, each with its relative weight (out of kMalformedWeightTotal).
enum class MalformedKind : std::uint8_t {
    Truncated,
    NotJson,
    MissingField,
    WrongType,
    BadIp,
    BadCountry,
    BadTimestamp,
    BadAdId,
    BadUserId,
    Oversized,
};
struct MalformedWeight {
    MalformedKind kind;
    std::uint32_t weight;
};
constexpr std::array<MalformedWeight, 10> kMalformedWeights = { {
    { MalformedKind::Truncated, 12 },
    { MalformedKind::NotJson, 8 },
    { MalformedKind::MissingField, 10 },
    { MalformedKind::WrongType, 10 },
    { MalformedKind::BadIp, 10 },
    { MalformedKind::BadCountry, 10 },
    { MalformedKind::BadTimestamp, 10 },
    { MalformedKind::BadAdId, 5 },
    { MalformedKind::BadUserId, 4 },
    { MalformedKind::Oversized, 1 },
} };
constexpr std::uint32_t kMalformedWeightTotal = 80;

// Replaces the value of "field" in compact seed-schema JSON made by JsonCodec::encode (whose
// generated values contain no escaped quotes). An empty replacement removes the field.
void replaceField(std::string& json, std::string_view field, std::string_view replacement)
{
    std::string key;
    key.reserve(field.size() + 3);
    key.push_back('"');
    key.append(field);
    key.append("\":");
    const std::size_t keyPos = json.find(key);
    if (keyPos == std::string::npos)
        return;
    const std::size_t valuePos = keyPos + key.size();
    std::size_t valueEnd = valuePos;
    if (json[valuePos] == '"') {
        valueEnd = json.find('"', valuePos + 1) + 1;
    } else {
        while (valueEnd < json.size() && json[valueEnd] != ',' && json[valueEnd] != '}')
            ++valueEnd;
    }
    if (!replacement.empty()) {
        json.replace(valuePos, valueEnd - valuePos, replacement);
        return;
    }
    // Remove the member and one adjacent comma.
    if (json[keyPos - 1] == ',')
        json.erase(keyPos - 1, valueEnd - keyPos + 1);
    else if (valueEnd < json.size() && json[valueEnd] == ',')
        json.erase(keyPos, valueEnd + 1 - keyPos);
    else
        json.erase(keyPos, valueEnd - keyPos);
}

template <std::size_t N> std::string_view pick(const std::array<std::string_view, N>& options, std::uint64_t r)
{
    return options[below32(static_cast<std::uint32_t>(r), N)];
}

} // namespace

struct SyntheticSource::Impl {
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
    const Clock& clock;
    JsonCodec codec;

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
    UserHashCache userHashes;
    std::optional<AdId> burstAd;

    // Fixed tables.
    std::array<std::uint8_t, 1000> countrySlots = perMilleTable(kCountries);
    std::array<std::uint8_t, 1000> userAgentSlots = perMilleTable(kUserAgents);
    std::array<CountryCode, kCountries.size()> countryCodes {};
    std::array<std::uint16_t, kUserAgents.size()> userAgentIds {};
    std::array<DeviceClass, kUserAgents.size()> userAgentDevices {};

    // Position and origin.
    std::uint64_t next = 0;
    std::uint64_t limit = 0;
    bool soughtSincePoll = false;
    mutable bool originFixed = false;
    mutable TimeMs zeroMs = 0; ///< processing time of sequence 0

    Impl(GeneratorConfig c, const Clock& clk, AdDictionary& ads, UserAgentDictionary& userAgents)
        : clock(clk)
        , codec(ads, userAgents)
    {
        for (std::size_t i = 0; i < kCountries.size(); ++i)
            countryCodes[i] = packCountry(kCountries[i].code[0], kCountries[i].code[1]);
        for (std::size_t i = 0; i < kUserAgents.size(); ++i) {
            userAgentIds[i] = userAgents.intern(kUserAgents[i].text);
            userAgentDevices[i] = classifyUserAgent(kUserAgents[i].text);
        }
        apply(c);
        if (clock.isVirtual()) {
            zeroMs = config.startTimeMs;
            originFixed = true;
        }
    }

    void apply(const GeneratorConfig& c)
    {
        const double oldRate = ratePerSec;
        config = c;
        ratePerSec = std::isfinite(c.ratePerSec) && c.ratePerSec > 1e-3 ? c.ratePerSec : 1e-3;
        if (originFixed && oldRate != ratePerSec) {
            // Keep the processing time of the next record where it was.
            const TimeMs nextMs = zeroMs + offsetMsOf(next, oldRate);
            zeroMs = nextMs - offsetMsOf(next, ratePerSec);
        }
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
        // Hashes of "u<k>" do not depend on the seed: the cache only changes with its size.
        const std::size_t cached = std::size_t { std::min(userCount, kMaxCachedUsers) } + 1;
        if (userHashes.size() != cached)
            userHashes.reset(cached);
        burstAd = c.burstAdId != 0 && c.burstDurationMs > 0 ? AdDictionary::fromNumber(c.burstAdId) : std::nullopt;
    }

    // ---- time ---------------------------------------------------------------------------------

    static TimeMs offsetMsOf(std::uint64_t sequence, double rate)
    {
        // Non-negative, so truncation is floor (and avoids a libm call per event).
        return static_cast<TimeMs>(static_cast<double>(sequence) * 1000.0 / rate);
    }
    TimeMs offsetMsOf(std::uint64_t sequence) const { return offsetMsOf(sequence, ratePerSec); }

    // Real clock: the first poll (or text request) anchors the next record at the wall time.
    void fixOrigin() const
    {
        if (originFixed)
            return;
        zeroMs = clock.nowMs() - offsetMsOf(next);
        originFixed = true;
    }

    // Smallest sequence whose processing-time offset exceeds offsetMs.
    std::uint64_t firstSequenceAfter(TimeMs offsetMs) const
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

    void fillText(ClickRecordText& out, const Content& c, const UserAttributes& a) const
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

    ClickRecordText originalText(std::uint64_t sequence) const
    {
        const Content c = contentOf(sequence);
        ClickRecordText text;
        fillText(text, c, attributesOf(c.user));
        return text;
    }

    std::string malformedBytes(std::uint64_t sequence, std::uint64_t h) const
    {
        std::uint32_t pickWeight
            = below32(static_cast<std::uint32_t>(streamOf(h, kMalformedStream)), kMalformedWeightTotal);
        MalformedKind kind = MalformedKind::Truncated;
        for (const MalformedWeight& w : kMalformedWeights) {
            if (pickWeight < w.weight) {
                kind = w.kind;
                break;
            }
            pickWeight -= w.weight;
        }
        const std::uint64_t detail = streamOf(h, kMalformedDetailStream);
        std::string json = JsonCodec::encode(originalText(sequence));
        switch (kind) {
        case MalformedKind::Truncated:
            json.resize(1 + below32(static_cast<std::uint32_t>(detail), static_cast<std::uint32_t>(json.size() - 1)));
            return json;
        case MalformedKind::NotJson: {
            static constexpr std::array<std::string_view, 7> kNotJson = {
                "GET /click?ad_id=42&user=u7 HTTP/1.1",
                "<html><body><h1>502 Bad Gateway</h1></body></html>",
                "ad_id=42,user_id=u7,country=US",
                std::string_view("\x00\x01\xfe\xff\x7f garbage", 15),
                "[\"ad_id\",42]",
                "null",
                "{\"ad_id\":42,,}",
            };
            return std::string(pick(kNotJson, detail));
        }
        case MalformedKind::MissingField: {
            static constexpr std::array<std::string_view, 6> kFields
                = { "ad_id", "click_timestamp", "user_id", "ip", "country", "user_agent" };
            replaceField(json, pick(kFields, detail), {});
            return json;
        }
        case MalformedKind::WrongType: {
            static constexpr std::array<std::pair<std::string_view, std::string_view>, 5> kWrong = { {
                { "ip", "3232235777" },
                { "country", "840" },
                { "user_agent", "[\"Mozilla\"]" },
                { "click_timestamp", "true" },
                { "ad_id", "{\"id\":42}" },
            } };
            const auto& [field, value] = kWrong[below32(static_cast<std::uint32_t>(detail), kWrong.size())];
            replaceField(json, field, value);
            return json;
        }
        case MalformedKind::BadIp: {
            static constexpr std::array<std::string_view, 5> kBadIps
                = { "\"256.10.1.1\"", "\"10.0.0\"", "\"2001:db8::g1\"", "\"localhost\"", "\"1.2.3.4.5\"" };
            replaceField(json, "ip", pick(kBadIps, detail));
            return json;
        }
        case MalformedKind::BadCountry: {
            static constexpr std::array<std::string_view, 5> kBadCountries
                = { "\"ZZ\"", "\"USA\"", "\"U1\"", "\"\"", "\"QQ\"" };
            replaceField(json, "country", pick(kBadCountries, detail));
            return json;
        }
        case MalformedKind::BadTimestamp: {
            static constexpr std::array<std::string_view, 6> kBadTimestamps
                = { "0", "-1", "99999999999999999", "4102444800001", "\"yesterday\"", "\"2026-13-45T99:00:00Z\"" };
            replaceField(json, "click_timestamp", pick(kBadTimestamps, detail));
            return json;
        }
        case MalformedKind::BadAdId: {
            static constexpr std::array<std::string_view, 3> kBadAds = { "-7", "\"\"", "1.5" };
            replaceField(json, "ad_id", pick(kBadAds, detail));
            return json;
        }
        case MalformedKind::BadUserId:
            replaceField(json, "user_id", "\"\"");
            return json;
        case MalformedKind::Oversized: {
            // A user agent long enough to push the message over the codec's size limit.
            std::string huge(codec.limits().maxMessageBytes + 1 + (detail & 0xFFF), 'A');
            huge.front() = '"';
            huge.back() = '"';
            replaceField(json, "user_agent", huge);
            return json;
        }
        }
        return json;
    }

    // ---- producing ----------------------------------------------------------------------------

    // Records are made in chunks: the first pass draws each record's kind and content and
    // prefetches its user's cached hash, the second builds the events, by then without waiting
    // on memory.
    void produce(IngestBatch& batch, std::uint64_t first, std::uint64_t count)
    {
        batch.events.reserve(batch.events.size() + count);
        // Positions advance incrementally: no division per event.
        SourcePosition position { static_cast<std::int64_t>(first / partitions),
            static_cast<std::uint32_t>(first % partitions) };
        std::array<Content, kProduceChunk> contents;
        std::array<std::uint64_t, kProduceChunk> hashes;
        std::array<bool, kProduceChunk> malformed;
        const std::uint64_t end = first + count;
        for (std::uint64_t base = first; base < end; base += kProduceChunk) {
            const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(kProduceChunk, end - base));
            for (std::size_t i = 0; i < k; ++i) {
                const std::uint64_t n = base + i;
                const std::uint64_t h = recordHash(n);
                std::uint64_t origin = n;
                hashes[i] = h;
                malformed[i] = kindOf(n, h, origin) == Kind::Malformed;
                if (malformed[i])
                    continue;
                contents[i] = origin == n ? contentOf(n, h) : contentOf(origin);
                if (contents[i].user < userHashes.size())
                    __builtin_prefetch(userHashes.slot(contents[i].user));
            }
            for (std::size_t i = 0; i < k; ++i, advance(position)) {
                if (malformed[i]) {
                    rejectMalformed(batch, base + i, hashes[i], position);
                    continue;
                }
                // Built in place (a local copied in would stall on store forwarding); zeroed
                // first so that the padding is too and runs compare byte for byte.
                ClickEvent& e = batch.events.emplace_back();
                std::memset(static_cast<void*>(&e), 0, sizeof e);
                const Content& c = contents[i];
                fillEvent(e, c, attributesOf(c.user), userHash(c.user));
                e.setPosition(position);
            }
        }
    }

    std::uint64_t userHash(std::uint32_t user)
    {
        if (user >= userHashes.size())
            return computeUserHash(user);
        std::uint64_t& cached = *userHashes.slot(user);
        if (cached == 0)
            cached = computeUserHash(user); // a hash of 0 is recomputed each time: harmless
        return cached;
    }

    void advance(SourcePosition& p) const
    {
        if (++p.partition == partitions) {
            p.partition = 0;
            ++p.offset;
        }
    }

    void rejectMalformed(IngestBatch& batch, std::uint64_t n, std::uint64_t h, SourcePosition position)
    {
        std::string bytes = malformedBytes(n, h);
        ClickEvent decoded;
        RejectReason reason = RejectReason::NotJson;
        if (codec.decode(bytes, decoded, reason) == JsonCodec::Status::Rejected) {
            if (bytes.size() > kMaxQuarantineBytes)
                bytes.resize(kMaxQuarantineBytes);
            batch.rejected.push_back(RejectedRecord { reason, position, std::move(bytes) });
            return;
        }
        // Not reachable with the kinds above; if a codec change ever accepts one, keep it as an
        // event rather than dropping it.
        decoded.setPosition(position);
        batch.events.push_back(decoded);
    }
};

SyntheticSource::SyntheticSource(
    GeneratorConfig config, const Clock& clock, AdDictionary& ads, UserAgentDictionary& userAgents)
    : m_impl(std::make_unique<Impl>(std::move(config), clock, ads, userAgents))
{
}

SyntheticSource::~SyntheticSource() = default;

PollResult SyntheticSource::poll(IngestBatch& batch, std::size_t maxEvents)
{
    Impl& d = *m_impl;
    d.soughtSincePoll = false;
    d.fixOrigin();
    if (d.limit != 0 && d.next >= d.limit) {
        batch.processingTimeMs = std::max(batch.processingTimeMs, processingTimeOf(d.limit - 1));
        return PollResult::EndOfStream;
    }
    std::uint64_t count = maxEvents;
    if (d.limit != 0)
        count = std::min(count, d.limit - d.next);
    if (!d.clock.isVirtual()) {
        const TimeMs now = d.clock.nowMs();
        const std::uint64_t dueEnd = d.firstSequenceAfter(now - d.zeroMs);
        count = std::min(count, dueEnd > d.next ? dueEnd - d.next : 0);
        if (count == 0) {
            if (maxEvents > 0) {
                const TimeMs waitMs = std::clamp<TimeMs>(processingTimeOf(d.next) - now, 1, kMaxIdleSleepMs);
                std::this_thread::sleep_for(std::chrono::milliseconds(waitMs));
            }
            batch.processingTimeMs = std::max(batch.processingTimeMs, d.clock.nowMs());
            return PollResult::Idle;
        }
    }
    if (count == 0)
        return PollResult::Idle;
    d.produce(batch, d.next, count);
    d.next += count;
    batch.processingTimeMs = std::max(batch.processingTimeMs, processingTimeOf(d.next - 1));
    return d.limit != 0 && d.next >= d.limit ? PollResult::EndOfStream : PollResult::Events;
}

std::uint32_t SyntheticSource::partitionCount() const
{
    return m_impl->partitions;
}

std::string SyntheticSource::describe() const
{
    const GeneratorConfig& c = m_impl->config;
    std::string s = "generator seed=" + std::to_string(c.seed) + " rate=" + formatNumber(m_impl->ratePerSec)
        + "/s ads=" + std::to_string(m_impl->adCount) + " zipf=" + formatNumber(c.zipfSkew)
        + " users=" + std::to_string(m_impl->userCount) + " partitions=" + std::to_string(m_impl->partitions);
    if (m_impl->burstAd)
        s += " burst=ad " + std::to_string(*m_impl->burstAd);
    if (m_impl->limit != 0)
        s += " limit=" + std::to_string(m_impl->limit);
    return s;
}

bool SyntheticSource::seek(std::uint32_t partition, std::int64_t offset)
{
    Impl& d = *m_impl;
    if (partition >= d.partitions || offset < -1)
        return false;
    // The record after `offset` in `partition` is sequence (offset + 1)·P + partition.
    const std::uint64_t implied = static_cast<std::uint64_t>(offset + 1) * d.partitions + partition;
    d.next = d.soughtSincePoll ? std::min(d.next, implied) : implied;
    d.soughtSincePoll = true;
    if (!d.clock.isVirtual())
        d.originFixed = false;
    return true;
}

std::uint64_t SyntheticSource::nextSequence() const
{
    return m_impl->next;
}

void SyntheticSource::seekSequence(std::uint64_t sequence)
{
    m_impl->next = sequence;
    m_impl->soughtSincePoll = false;
    if (!m_impl->clock.isVirtual())
        m_impl->originFixed = false;
}

void SyntheticSource::setLimit(std::uint64_t maxRecords)
{
    m_impl->limit = maxRecords;
}

TimeMs SyntheticSource::processingTimeOf(std::uint64_t sequence) const
{
    m_impl->fixOrigin();
    return m_impl->zeroMs + m_impl->offsetMsOf(sequence);
}

bool SyntheticSource::recordText(std::uint64_t sequence, ClickRecordText& out, std::string& malformedBytes) const
{
    const Impl& d = *m_impl;
    d.fixOrigin();
    const std::uint64_t h = d.recordHash(sequence);
    std::uint64_t origin = sequence;
    if (d.kindOf(sequence, h, origin) == Impl::Kind::Malformed) {
        malformedBytes = d.malformedBytes(sequence, h);
        return false;
    }
    const Impl::Content c = d.contentOf(origin);
    d.fillText(out, c, d.attributesOf(c.user));
    return true;
}

const GeneratorConfig& SyntheticSource::config() const
{
    return m_impl->config;
}

void SyntheticSource::setConfig(const GeneratorConfig& config)
{
    m_impl->apply(config);
    if (m_impl->clock.isVirtual() && !m_impl->originFixed) {
        m_impl->zeroMs = config.startTimeMs;
        m_impl->originFixed = true;
    }
}

} // namespace adclick::engine
