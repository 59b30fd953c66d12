#include "ingest/json_codec.h"

#include "core/hash.h"
#include "ingest/country_codes.h"
#include "ingest/ip_address.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
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
constexpr std::int64_t kMsThreshold = 100'000'000'000LL; // integers ≥ 10^11 are ms
constexpr std::size_t kInitialCapacity = std::size_t { 64 } * 1024;
constexpr int kMaxDepth = 256; // nesting allowed inside ignored fields

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

bool isDigit(char c)
{
    return c >= '0' && c <= '9';
}

// Howard Hinnant's days_from_civil: days since 1970-01-01 in the proleptic Gregorian calendar.
constexpr std::int64_t daysFromCivil(int y, unsigned m, unsigned d)
{
    y -= m <= 2 ? 1 : 0;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return std::int64_t { era } * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

constexpr unsigned daysInMonth(int y, unsigned m)
{
    constexpr std::array<unsigned, 12> kDays = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : kDays[m - 1];
}

bool readDigits(std::string_view s, std::size_t pos, std::size_t n, int& v)
{
    if (pos + n > s.size())
        return false;
    v = 0;
    for (std::size_t k = 0; k < n; ++k) {
        if (!isDigit(s[pos + k]))
            return false;
        v = v * 10 + (s[pos + k] - '0');
    }
    return true;
}

bool parseIsoTimestamp(std::string_view s, TimeMs& out)
{
    if (s.size() < 20 || s.size() > 40)
        return false;
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!readDigits(s, 0, 4, year) || s[4] != '-' || !readDigits(s, 5, 2, month) || s[7] != '-'
        || !readDigits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !readDigits(s, 11, 2, hour)
        || s[13] != ':' || !readDigits(s, 14, 2, minute) || s[16] != ':' || !readDigits(s, 17, 2, second))
        return false;
    std::size_t i = 19;
    int ms = 0;
    if (s[i] == '.') {
        const std::size_t start = ++i;
        while (i < s.size() && isDigit(s[i])) {
            if (i - start < 3)
                ms = ms * 10 + (s[i] - '0');
            ++i;
        }
        const std::size_t n = i - start;
        if (n == 0 || n > 9)
            return false;
        for (std::size_t k = n; k < 3; ++k)
            ms *= 10;
    }
    if (i >= s.size())
        return false; // no zone: local time is ambiguous
    int offsetMinutes = 0;
    if (s[i] == 'Z' || s[i] == 'z') {
        ++i;
    } else if (s[i] == '+' || s[i] == '-') {
        const int sign = s[i] == '-' ? -1 : 1;
        ++i;
        int oh = 0, om = 0;
        if (!readDigits(s, i, 2, oh))
            return false;
        i += 2;
        if (i < s.size() && s[i] == ':')
            ++i;
        if (!readDigits(s, i, 2, om))
            return false;
        i += 2;
        if (oh > 23 || om > 59)
            return false;
        offsetMinutes = sign * (oh * 60 + om);
    } else {
        return false;
    }
    if (i != s.size())
        return false;
    if (month < 1 || month > 12 || day < 1 || static_cast<unsigned>(day) > daysInMonth(year, month) || hour > 23
        || minute > 59 || second > 60)
        return false;
    const std::int64_t days = daysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
    const std::int64_t seconds = days * 86400 + std::int64_t { hour } * 3600 + std::int64_t { minute } * 60 + second
        - std::int64_t { offsetMinutes } * 60;
    out = seconds * kMsPerSecond + ms;
    return true;
}

// Text of a JSON integer, as the producer wrote it (JSON integers have one canonical form).
template <typename Int> std::string_view integerText(Int v, std::array<char, 24>& buf)
{
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    return { buf.data(), static_cast<std::size_t>(end - buf.data()) };
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

void appendInt(std::string& out, std::int64_t v)
{
    std::array<char, 24> buf;
    out.append(integerText(v, buf));
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not valid
// (overlong, surrogate, above U+10FFFF, truncated).
std::size_t utf8SequenceLength(std::string_view s, std::size_t i)
{
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    unsigned lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        n = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        n = 3;
        if (b0 == 0xE0)
            lo = 0xA0;
        else if (b0 == 0xED)
            hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        n = 4;
        if (b0 == 0xF0)
            lo = 0x90;
        else if (b0 == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (i + n > s.size())
        return 0;
    const auto b1 = static_cast<unsigned char>(s[i + 1]);
    if (b1 < lo || b1 > hi)
        return 0;
    for (std::size_t k = 2; k < n; ++k)
        if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80)
            return 0;
    return n;
}

// JSON string literal: quotes, backslash and control characters escaped (\u00XX); invalid
// UTF-8 bytes become U+FFFD so the output is always valid JSON.
void appendJsonString(std::string& out, std::string_view s)
{
    static constexpr char kHex[] = "0123456789abcdef";
    out.push_back('"');
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(static_cast<char>(c));
            ++i;
        } else if (c < 0x20) {
            out.append("\\u00");
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0xF]);
            ++i;
        } else if (c < 0x80) {
            out.push_back(static_cast<char>(c));
            ++i;
        } else if (const std::size_t n = utf8SequenceLength(s, i); n != 0) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            out.append("\\ufffd");
            ++i;
        }
    }
    out.push_back('"');
}

void appendTimestamp(std::string& out, TimeMs ms)
{
    if (ms % kMsPerSecond == 0 && ms / kMsPerSecond < kMsThreshold && ms / kMsPerSecond > -kMsThreshold) {
        appendInt(out, ms / kMsPerSecond);
    } else if (ms >= kMsThreshold) {
        appendInt(out, ms);
    } else {
        // Small values with a ms part: as integers they would read back as seconds, so write
        // fractional seconds instead ("-1.500").
        if (ms < 0)
            out.push_back('-');
        const std::uint64_t mag = ms < 0 ? 0 - static_cast<std::uint64_t>(ms) : static_cast<std::uint64_t>(ms);
        std::array<char, 24> buf;
        out.append(integerText(mag / 1000, buf));
        const auto frac = static_cast<unsigned>(mag % 1000);
        out.push_back('.');
        out.push_back(static_cast<char>('0' + frac / 100));
        out.push_back(static_cast<char>('0' + frac / 10 % 10));
        out.push_back(static_cast<char>('0' + frac % 10));
    }
}

// BigInt: an integer beyond 64 bits, kept as its text. BigDouble: a number beyond the double
// range (d is ±infinity). simdjson refuses both although they are valid JSON.
enum class JsonKind : std::uint8_t { Null, Bool, Int, UInt, Double, BigInt, BigDouble, String, Array, Object };

// A fully parsed JSON value; strings point into the parser's buffer (valid until the next
// message). Arrays and objects are validated but not kept.
struct JsonValue {
    JsonKind kind = JsonKind::Null;
    std::int64_t i = 0;
    std::uint64_t u = 0;
    double d = 0;
    std::string_view text;
};

// A valid JSON number simdjson cannot represent (-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?).
bool readBigNumber(std::string_view token, JsonValue& out)
{
    while (
        !token.empty() && (token.back() == ' ' || token.back() == '\t' || token.back() == '\n' || token.back() == '\r'))
        token.remove_suffix(1);
    std::size_t i = 0;
    const auto digits = [&] {
        const std::size_t start = i;
        while (i < token.size() && isDigit(token[i]))
            ++i;
        return i - start;
    };
    const bool negative = i < token.size() && token[i] == '-';
    if (negative)
        ++i;
    const std::size_t intStart = i;
    const std::size_t intDigits = digits();
    if (intDigits == 0 || (intDigits > 1 && token[intStart] == '0'))
        return false;
    bool integer = true;
    if (i < token.size() && token[i] == '.') {
        ++i;
        integer = false;
        if (digits() == 0)
            return false;
    }
    if (i < token.size() && (token[i] == 'e' || token[i] == 'E')) {
        ++i;
        integer = false;
        if (i < token.size() && (token[i] == '+' || token[i] == '-'))
            ++i;
        if (digits() == 0)
            return false;
    }
    if (i != token.size())
        return false;
    if (integer) {
        out.kind = JsonKind::BigInt;
        out.text = token;
    } else {
        // Only magnitudes beyond the double range fail to parse; tiny ones become 0 in simdjson.
        out.kind = JsonKind::BigDouble;
        out.d = negative ? -HUGE_VAL : HUGE_VAL;
    }
    return true;
}

// Parses v completely (recursively for arrays and objects) so that malformed JSON is an
// error even in fields the codec ignores; On-Demand would otherwise only skip over them.
simdjson::error_code readValue(ondemand::value v, JsonValue& out, int depth)
{
    if (depth > kMaxDepth)
        return simdjson::DEPTH_ERROR;
    ondemand::json_type type;
    if (auto error = v.type().get(type))
        return error;
    switch (type) {
    case ondemand::json_type::number: {
        ondemand::number n;
        if (auto error = v.get_number().get(n))
            return readBigNumber(v.raw_json_token(), out) ? simdjson::SUCCESS : error;
        switch (n.get_number_type()) {
        case ondemand::number_type::signed_integer:
            out.kind = JsonKind::Int;
            out.i = n.get_int64();
            break;
        case ondemand::number_type::unsigned_integer:
            out.kind = JsonKind::UInt;
            out.u = n.get_uint64();
            break;
        default:
            out.kind = JsonKind::Double;
            out.d = n.get_double();
            break;
        }
        return simdjson::SUCCESS;
    }
    case ondemand::json_type::string:
        out.kind = JsonKind::String;
        return v.get_string().get(out.text);
    case ondemand::json_type::boolean: {
        out.kind = JsonKind::Bool;
        bool b = false;
        return v.get_bool().get(b);
    }
    case ondemand::json_type::null: {
        out.kind = JsonKind::Null;
        bool isNull = false;
        if (auto error = v.is_null().get(isNull))
            return error;
        return isNull ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
    case ondemand::json_type::array: {
        out.kind = JsonKind::Array;
        ondemand::array array;
        if (auto error = v.get_array().get(array))
            return error;
        for (auto element : array) {
            ondemand::value child;
            if (auto error = element.get(child))
                return error;
            JsonValue ignored;
            if (auto error = readValue(child, ignored, depth + 1))
                return error;
        }
        return simdjson::SUCCESS;
    }
    case ondemand::json_type::object: {
        out.kind = JsonKind::Object;
        ondemand::object object;
        if (auto error = v.get_object().get(object))
            return error;
        for (auto fieldResult : object) {
            ondemand::field field;
            if (auto error = std::move(fieldResult).get(field))
                return error;
            std::string_view key;
            if (auto error = field.unescaped_key().get(key))
                return error;
            JsonValue ignored;
            if (auto error = readValue(field.value(), ignored, depth + 1))
                return error;
        }
        return simdjson::SUCCESS;
    }
    }
    return simdjson::TAPE_ERROR;
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
        [[maybe_unused]] const auto error = parser.allocate(initial, kMaxDepth + 1);
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
