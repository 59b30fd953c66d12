#include "ingest/ysb_codec.h"

#include <array>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace adclick::engine {

namespace {

bool isSpace(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/// A scanned JSON value: a string's raw contents (escapes left as they are) or a scalar's text.
struct Value {
    std::string_view text;
    bool isString = false;
    bool hasEscape = false;
};

/// Cursor over one line; every method returns false on malformed input.
class Scanner {
public:
    explicit Scanner(std::string_view s)
        : m_p(s.data())
        , m_end(s.data() + s.size())
    {
    }
    void skipSpace()
    {
        while (m_p < m_end && isSpace(*m_p))
            ++m_p;
    }
    bool atEnd() const { return m_p >= m_end; }
    char peek() const { return *m_p; }
    bool consume(char c)
    {
        skipSpace();
        if (m_p < m_end && *m_p == c) {
            ++m_p;
            return true;
        }
        return false;
    }
    /// A string starting at the current '"': contents up to the closing unescaped quote. One pass,
    /// 16 bytes at a time where SSE2 exists: stops at '"', '\\' or a control character.
    bool string(Value& v)
    {
        ++m_p; // the opening quote
        const char* begin = m_p;
        v.isString = true;
        v.hasEscape = false;
        while (true) {
#if defined(__SSE2__)
            while (m_end - m_p >= 16) {
                const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(m_p));
                const __m128i special = _mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(b, _mm_set1_epi8('"')), _mm_cmpeq_epi8(b, _mm_set1_epi8('\\'))),
                    _mm_cmpeq_epi8(_mm_max_epu8(b, _mm_set1_epi8(0x1F)), _mm_set1_epi8(0x1F)));
                const int mask = _mm_movemask_epi8(special);
                if (mask != 0) {
                    m_p += __builtin_ctz(static_cast<unsigned>(mask));
                    break;
                }
                m_p += 16;
            }
#endif
            if (m_p >= m_end)
                return false;
            const auto c = static_cast<unsigned char>(*m_p);
            if (c == '"') {
                v.text = { begin, static_cast<std::size_t>(m_p - begin) };
                ++m_p;
                return true;
            }
            if (c == '\\') {
                v.hasEscape = true;
                if (m_end - m_p < 2)
                    return false;
                m_p += 2; // the escaped character, whatever it is
                continue;
            }
            if (c < 0x20)
                return false; // raw control characters are not JSON
            ++m_p;
        }
    }
    /// A number or literal: the characters up to the next delimiter.
    bool scalar(Value& v)
    {
        const char* begin = m_p;
        while (m_p < m_end && *m_p != ',' && *m_p != '}' && !isSpace(*m_p))
            ++m_p;
        v.text = { begin, static_cast<std::size_t>(m_p - begin) };
        v.isString = false;
        v.hasEscape = false;
        if (v.text.empty())
            return false;
        if (v.text == "true" || v.text == "false" || v.text == "null")
            return true;
        // A JSON number: -?digits(.digits)?([eE][+-]?digits)?
        std::size_t i = 0;
        const std::string_view t = v.text;
        if (t[i] == '-')
            ++i;
        const auto digits = [&] {
            const std::size_t from = i;
            while (i < t.size() && t[i] >= '0' && t[i] <= '9')
                ++i;
            return i > from;
        };
        if (!digits())
            return false;
        if (i < t.size() && t[i] == '.' && (++i, !digits()))
            return false;
        if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
            ++i;
            if (i < t.size() && (t[i] == '+' || t[i] == '-'))
                ++i;
            if (!digits())
                return false;
        }
        return i == t.size();
    }

private:
    const char* m_p;
    const char* m_end;
};

bool parseMillis(const Value& v, TimeMs& out)
{
    if (v.hasEscape || v.text.empty() || v.text.size() > 17)
        return false;
    TimeMs t = 0;
    for (char c : v.text) {
        if (c < '0' || c > '9')
            return false;
        t = t * 10 + (c - '0');
    }
    out = t;
    return true;
}

} // namespace

YsbParseResult YsbCodec::parse(std::string_view line, YsbEvent& out)
{
    Scanner s(line);
    if (!s.consume('{'))
        return YsbParseResult::NotJson;
    bool haveAd = false, haveType = false, haveTime = false;
    bool badAd = false, badTime = false;
    if (!s.consume('}')) {
        do {
            s.skipSpace();
            Value key, value;
            if (s.atEnd() || s.peek() != '"' || !s.string(key) || !s.consume(':'))
                return YsbParseResult::NotJson;
            s.skipSpace();
            if (s.atEnd())
                return YsbParseResult::NotJson;
            if (s.peek() == '"' ? !s.string(value) : !s.scalar(value))
                return YsbParseResult::NotJson;
            if (key.hasEscape)
                continue; // no field we read is spelt with escapes
            if (key.text == "ad_id") {
                haveAd = true;
                badAd = !value.isString || value.hasEscape || !parseUuid(value.text, out.adId);
            } else if (key.text == "event_type") {
                haveType = true;
                out.type = value.isString && !value.hasEscape ? eventTypeOf(value.text) : YsbEventType::Other;
            } else if (key.text == "event_time") {
                haveTime = true;
                badTime = !parseMillis(value, out.eventTimeMs);
            }
        } while (s.consume(','));
        if (!s.consume('}'))
            return YsbParseResult::NotJson;
    }
    s.skipSpace();
    if (!s.atEnd())
        return YsbParseResult::NotJson;
    if (!haveAd || !haveType || !haveTime)
        return YsbParseResult::MissingField;
    if (badAd)
        return YsbParseResult::BadAdId;
    if (badTime)
        return YsbParseResult::BadEventTime;
    return YsbParseResult::Ok;
}

bool YsbCodec::parseUuid(std::string_view text, YsbUuid& out)
{
    // Branch-free per digit: a table maps every byte to its hex value or 0xFF; the 32 digits sit at
    // fixed offsets around the four dashes.
    static constexpr auto kHex = [] {
        std::array<std::uint8_t, 256> t {};
        for (auto& v : t)
            v = 0xFF;
        for (int c = 0; c < 10; ++c)
            t['0' + c] = static_cast<std::uint8_t>(c);
        for (int c = 0; c < 6; ++c) {
            t['a' + c] = static_cast<std::uint8_t>(10 + c);
            t['A' + c] = static_cast<std::uint8_t>(10 + c);
        }
        return t;
    }();
    static constexpr std::array<std::uint8_t, 32> kOffsets = { 0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 16, 17,
        19, 20, 21, 22, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35 };
    if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-')
        return false;
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    std::uint64_t words[2] = { 0, 0 };
    std::uint8_t bad = 0;
    for (int half = 0; half < 2; ++half) {
        std::uint64_t w = 0;
        for (int i = 0; i < 16; ++i) {
            const std::uint8_t v = kHex[p[kOffsets[static_cast<std::size_t>(half * 16 + i)]]];
            bad |= v;
            w = (w << 4) | (v & 0xF);
        }
        words[half] = w;
    }
    if (bad & 0xF0)
        return false;
    out.hi = words[0];
    out.lo = words[1];
    return true;
}

std::string YsbCodec::formatUuid(const YsbUuid& id)
{
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s(36, '-');
    std::size_t pos = 0;
    for (int n = 0; n < 32; ++n) {
        if (pos == 8 || pos == 13 || pos == 18 || pos == 23)
            ++pos;
        const std::uint64_t w = n < 16 ? id.hi : id.lo;
        s[pos++] = kHex[(w >> (60 - 4 * (n % 16))) & 0xF];
    }
    return s;
}

YsbEventType YsbCodec::eventTypeOf(std::string_view text)
{
    if (text == "view")
        return YsbEventType::View;
    if (text == "click")
        return YsbEventType::Click;
    if (text == "purchase")
        return YsbEventType::Purchase;
    return YsbEventType::Other;
}

std::string_view YsbCodec::nameOf(YsbEventType type)
{
    switch (type) {
    case YsbEventType::View:
        return "view";
    case YsbEventType::Click:
        return "click";
    case YsbEventType::Purchase:
        return "purchase";
    case YsbEventType::Other:
        break;
    }
    return "other";
}

} // namespace adclick::engine
