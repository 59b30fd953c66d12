#include "ingest/json_codec.h"

#include "core/hash.h"
#include "ingest/country_codes.h"
#include "ingest/ip_address.h"
#include "ingest/iso_timestamp.h"
#include "ingest/json_text.h"
#include "ingest/json_value.h"
#include "ingest/json_writer.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <new>
#include <utility>

// Decisions the header leaves open:
// - Duplicate keys: the first occurrence wins (as simdjson's own at_key lookup); later ones are
//   ignored like unknown fields.
// - user_agent longer than maxUserAgentBytes: the event is kept. The device class is computed
//   on the full text, the dictionary stores the text truncated to maxUserAgentBytes (at a UTF-8
//   character boundary).
// - A required field that is JSON null is WrongType; click_id null or "" means "no click id".
// - Numbers with a fraction or exponent are doubles; as click_timestamp they are seconds
//   (rounded to the nearest ms), as ad_id they are BadAdId, as user_id / click_id WrongType.
//   Integers beyond 64 bits stay text: user_id / click_id hash it, ad_id interns it,
//   click_timestamp is out of range. "-0" is the integer 0.
// - ISO-8601: "YYYY-MM-DDTHH:MM:SS[.fraction]" + "Z" or ±hh:mm (also ±hhmm); 'T' may be 't' or
//   a space; the fraction (1–9 digits) is truncated to ms; second 60 (leap) rolls over.
// - Parsing uses simdjson On-Demand, but every value (also in ignored fields) is fully parsed,
//   so malformed JSON anywhere is NotJson; nesting deeper than 256 levels is NotJson too.
// - Field checks run in schema order (ad_id, click_timestamp, user_id, ip, country, user_agent,
//   click_id) after all required fields were found present; nothing is interned into a
//   dictionary unless the whole record is valid.

namespace adclick::engine {

namespace {
namespace ondemand = simdjson::ondemand;

constexpr std::uint64_t kUserIdSeed = 0x5ca1ab1e0ddba11ULL;
constexpr std::uint64_t kClickIdSeed = 0xc1c4d00dfeedf00dULL;
constexpr std::size_t kInitialCapacity = std::size_t { 64 } * 1024;

enum Field : int { kAdId, kTimestamp, kUserId, kIp, kCountry, kUserAgent, kClickId, kFieldCount };
constexpr std::uint32_t kRequiredMask = (1u << kClickId) - 1;

int fieldIndex(std::string_view key)
{
    switch (key.size()) {
    case 2:
        return key == "ip" ? kIp : -1;
    case 5:
        return key == "ad_id" ? kAdId : -1;
    case 7:
        return key == "user_id" ? kUserId : (key == "country" ? kCountry : -1);
    case 8:
        return key == "click_id" ? kClickId : -1;
    case 10:
        return key == "user_agent" ? kUserAgent : -1;
    case 15:
        return key == "click_timestamp" ? kTimestamp : -1;
    default:
        return -1;
    }
}

// Longest prefix of s of at most maxBytes that does not cut a UTF-8 sequence.
std::string_view utf8Prefix(std::string_view s, std::size_t maxBytes)
{
    if (s.size() <= maxBytes)
        return s;
    std::size_t n = maxBytes;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80)
        --n;
    return s.substr(0, n);
}

} // namespace

struct JsonCodec::Impl {
    ondemand::parser parser;
    std::unique_ptr<char[]> buffer; // input copy followed by SIMDJSON_PADDING bytes
    std::size_t capacity = 0;
    // Device class per interned UA id (0xFF: not computed yet), so a UA is classified once.
    std::array<std::uint8_t, UserAgentDictionary::kOverflowId> uaClass;

    explicit Impl(std::size_t maxMessageBytes)
    {
        uaClass.fill(0xFF);
        const std::size_t initial = std::min(maxMessageBytes, kInitialCapacity);
        // Failure is not fatal: iterate() retries the allocation and the message is rejected.
        [[maybe_unused]] const auto error = parser.allocate(initial, kMaxJsonDepth + 1);
        reserve(initial);
    }

    bool reserve(std::size_t n)
    {
        if (n <= capacity && buffer)
            return true;
        const std::size_t newCapacity = std::max(n, capacity * 2);
        std::unique_ptr<char[]> fresh(new (std::nothrow) char[newCapacity + simdjson::SIMDJSON_PADDING]);
        if (!fresh)
            return false;
        buffer = std::move(fresh);
        capacity = newCapacity;
        return true;
    }

    // Parses the whole message into `fields` (first occurrence of each known key). Every value,
    // known or not, is fully parsed, so malformed JSON anywhere is an error; so is content
    // after the object.
    simdjson::error_code parse(
        std::string_view bytes, std::array<JsonValue, kFieldCount>& fields, std::uint32_t& present)
    {
        if (!reserve(bytes.size()))
            return simdjson::MEMALLOC;
        if (!bytes.empty()) // data() may be null for an empty view
            std::memcpy(buffer.get(), bytes.data(), bytes.size());
        std::memset(buffer.get() + bytes.size(), 0, simdjson::SIMDJSON_PADDING);
        ondemand::document doc;
        if (auto error = parser.iterate(buffer.get(), bytes.size(), capacity + simdjson::SIMDJSON_PADDING).get(doc))
            return error;
        ondemand::object object;
        if (auto error = doc.get_object().get(object))
            return error;
        for (auto fieldResult : object) {
            ondemand::field field;
            if (auto error = std::move(fieldResult).get(field))
                return error;
            std::string_view key;
            if (auto error = field.unescaped_key().get(key))
                return error;
            const int f = fieldIndex(key);
            JsonValue ignored;
            const bool wanted = f >= 0 && !(present & (1u << f));
            if (auto error = readValue(field.value(), wanted ? fields[f] : ignored, 1))
                return error;
            if (wanted)
                present |= 1u << f;
        }
        // simdjson 3.0 has no document::at_end(): current_location() is OUT_OF_BOUNDS exactly when
        // every token was consumed.
        return doc.current_location().error() == simdjson::OUT_OF_BOUNDS ? simdjson::SUCCESS
                                                                         : simdjson::TRAILING_CONTENT;
    }
};

JsonCodec::JsonCodec(AdDictionary& ads, UserAgentDictionary& userAgents, CodecLimits limits)
    : m_impl(std::make_unique<Impl>(limits.maxMessageBytes))
    , m_ads(ads)
    , m_userAgents(userAgents)
    , m_limits(limits)
{
}

JsonCodec::~JsonCodec() = default;

JsonCodec::Status JsonCodec::decode(std::string_view bytes, ClickEvent& out, RejectReason& reason)
{
    const auto reject = [&](RejectReason r) {
        reason = r;
        m_counters.add(r);
        return Status::Rejected;
    };
    if (bytes.size() > m_limits.maxMessageBytes)
        return reject(RejectReason::TooLarge);

    std::array<JsonValue, kFieldCount> fields;
    std::uint32_t present = 0;
    if (const auto error = m_impl->parse(bytes, fields, present); error != simdjson::SUCCESS)
        return reject(error == simdjson::MEMALLOC || error == simdjson::CAPACITY ? RejectReason::TooLarge
                                                                                 : RejectReason::NotJson);
    if ((present & kRequiredMask) != kRequiredMask)
        return reject(RejectReason::MissingField);

    // ad_id: interned only after every other field passed.
    std::array<char, 24> adBuf;
    std::string_view adText;
    std::optional<AdId> adNumber;
    {
        const JsonValue& v = fields[kAdId];
        switch (v.kind) {
        case JsonKind::String:
            adText = v.text;
            if (adText.empty() || adText.size() > AdDictionary::kMaxAdIdLength)
                return reject(RejectReason::BadAdId);
            break;
        case JsonKind::Int:
            if (v.i < 0)
                return reject(RejectReason::BadAdId);
            adNumber = AdDictionary::fromNumber(static_cast<std::uint64_t>(v.i));
            adText = integerText(v.i, adBuf);
            break;
        case JsonKind::UInt:
            adNumber = AdDictionary::fromNumber(v.u);
            adText = integerText(v.u, adBuf);
            break;
        case JsonKind::BigInt:
            adText = v.text;
            if (adText[0] == '-' || adText.size() > AdDictionary::kMaxAdIdLength)
                return reject(RejectReason::BadAdId);
            break;
        case JsonKind::Double:
        case JsonKind::BigDouble:
            return reject(RejectReason::BadAdId);
        default:
            return reject(RejectReason::WrongType);
        }
    }

    TimeMs eventTimeMs = 0;
    {
        const JsonValue& v = fields[kTimestamp];
        switch (v.kind) {
        case JsonKind::Int:
            if (v.i >= kMsThreshold)
                eventTimeMs = v.i;
            else if (v.i <= -kMsThreshold)
                return reject(RejectReason::TimestampOutOfRange);
            else
                eventTimeMs = v.i * kMsPerSecond;
            break;
        case JsonKind::UInt: // above INT64_MAX
        case JsonKind::BigInt:
        case JsonKind::BigDouble:
            return reject(RejectReason::TimestampOutOfRange);
        case JsonKind::Double: {
            const double ms = v.d * 1000.0;
            // Range-check as double first: converting an out-of-range double is undefined.
            if (!(ms > -9.0e18 && ms < 9.0e18))
                return reject(RejectReason::TimestampOutOfRange);
            eventTimeMs = std::llround(ms);
            break;
        }
        case JsonKind::String:
            if (!parseIsoTimestamp(v.text, eventTimeMs))
                return reject(RejectReason::BadTimestamp);
            break;
        default:
            return reject(RejectReason::WrongType);
        }
        if (eventTimeMs < m_limits.minTimestampMs || eventTimeMs > m_limits.maxTimestampMs)
            return reject(RejectReason::TimestampOutOfRange);
    }

    std::uint64_t userHash = 0;
    {
        const JsonValue& v = fields[kUserId];
        std::array<char, 24> buf;
        std::string_view text;
        switch (v.kind) {
        case JsonKind::String:
            text = v.text;
            break;
        case JsonKind::Int:
            text = integerText(v.i, buf);
            break;
        case JsonKind::UInt:
            text = integerText(v.u, buf);
            break;
        case JsonKind::BigInt:
            text = v.text;
            break;
        default:
            return reject(RejectReason::WrongType);
        }
        if (text.empty() || text.size() > m_limits.maxUserIdBytes)
            return reject(RejectReason::BadUserId);
        userHash = hashUserId(text);
    }

    IpBytes ip {};
    bool isV6 = false;
    if (fields[kIp].kind != JsonKind::String)
        return reject(RejectReason::WrongType);
    if (!parseIp(fields[kIp].text, ip, isV6))
        return reject(RejectReason::BadIp);

    CountryCode country = 0;
    if (fields[kCountry].kind != JsonKind::String)
        return reject(RejectReason::WrongType);
    if (!parseCountry(fields[kCountry].text, country))
        return reject(RejectReason::BadCountry);

    if (fields[kUserAgent].kind != JsonKind::String)
        return reject(RejectReason::WrongType);
    const std::string_view userAgent = fields[kUserAgent].text;

    std::uint64_t clickId = 0;
    if (present & (1u << kClickId)) {
        const JsonValue& v = fields[kClickId];
        std::array<char, 24> buf;
        switch (v.kind) {
        case JsonKind::Null:
            break;
        case JsonKind::String:
            if (!v.text.empty())
                clickId = hashClickId(v.text);
            break;
        case JsonKind::Int:
            clickId = hashClickId(integerText(v.i, buf));
            break;
        case JsonKind::UInt:
            clickId = hashClickId(integerText(v.u, buf));
            break;
        case JsonKind::BigInt:
            clickId = hashClickId(v.text);
            break;
        default:
            return reject(RejectReason::WrongType);
        }
    }

    // The record is valid: intern. Allocation failure inside a dictionary counts as full.
    AdId adId = 0;
    std::uint16_t uaId = 0;
    try {
        if (adNumber) {
            adId = *adNumber;
        } else if (auto id = m_ads.intern(adText)) {
            adId = *id;
        } else {
            return reject(RejectReason::DictionaryFull);
        }
        uaId = m_userAgents.intern(utf8Prefix(userAgent, m_limits.maxUserAgentBytes));
    } catch (const std::bad_alloc&) {
        return reject(RejectReason::DictionaryFull);
    }

    DeviceClass device;
    if (uaId != UserAgentDictionary::kOverflowId && userAgent.size() <= m_limits.maxUserAgentBytes) {
        std::uint8_t& cached = m_impl->uaClass[uaId];
        if (cached == 0xFF)
            cached = static_cast<std::uint8_t>(classifyUserAgent(userAgent));
        device = static_cast<DeviceClass>(cached);
    } else {
        device = classifyUserAgent(userAgent);
    }

    out.eventTimeMs = eventTimeMs;
    out.userHash = userHash;
    out.clickId = clickId;
    out.ip = ip;
    out.adId = adId;
    out.uaId = uaId;
    out.country = country;
    out.device = device;
    out.flags = isV6 ? ClickEvent::kFlagIpv6 : 0;
    ++m_accepted;
    return Status::Accepted;
}

std::string JsonCodec::encode(const ClickRecordText& record)
{
    std::string out;
    out.reserve(96 + record.adId.size() + record.userId.size() + record.ip.size() + record.userAgent.size()
        + record.clickId.size());
    out.append("{\"ad_id\":");
    appendJsonString(out, record.adId);
    out.append(",\"click_timestamp\":");
    appendTimestamp(out, record.clickTimestampMs);
    out.append(",\"user_id\":");
    appendJsonString(out, record.userId);
    out.append(",\"ip\":");
    appendJsonString(out, record.ip);
    out.append(",\"country\":");
    appendJsonString(out, record.country);
    out.append(",\"user_agent\":");
    appendJsonString(out, record.userAgent);
    if (!record.clickId.empty()) {
        out.append(",\"click_id\":");
        appendJsonString(out, record.clickId);
    }
    out.push_back('}');
    return out;
}

std::uint64_t hashUserId(std::string_view userId)
{
    return hashBytes(userId, kUserIdSeed);
}

std::uint64_t hashClickId(std::string_view clickId)
{
    const std::uint64_t h = hashBytes(clickId, kClickIdSeed);
    return h == 0 ? 1 : h;
}

} // namespace adclick::engine
