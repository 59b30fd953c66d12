#include "ingest/ip_address.h"

#include <algorithm>
#include <charconv>
#include <cstddef>

namespace adclick::engine {

namespace {
constexpr std::size_t kMaxIpv6TextLength = 45; // "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"

bool isDigit(char c)
{
    return c >= '0' && c <= '9';
}

int hexValue(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// Exactly four decimal octets, each "0" or 1–3 digits without a leading zero, ≤ 255.
bool parseIpv4(std::string_view s, std::uint8_t* out)
{
    std::size_t i = 0;
    for (int octet = 0; octet < 4; ++octet) {
        if (octet > 0) {
            if (i >= s.size() || s[i] != '.')
                return false;
            ++i;
        }
        const std::size_t start = i;
        unsigned v = 0;
        while (i < s.size() && isDigit(s[i]) && i - start < 3) {
            v = v * 10 + static_cast<unsigned>(s[i] - '0');
            ++i;
        }
        const std::size_t len = i - start;
        if (len == 0 || v > 255 || (len > 1 && s[start] == '0'))
            return false;
        out[octet] = static_cast<std::uint8_t>(v);
    }
    return i == s.size();
}

// RFC 4291 section 2.2 text forms.
bool parseIpv6(std::string_view s, IpBytes& out)
{
    if (s.size() < 2 || s.size() > kMaxIpv6TextLength)
        return false;
    std::array<std::uint16_t, 8> words {};
    std::size_t count = 0; // 16-bit groups parsed so far
    std::ptrdiff_t gap = -1; // group index where "::" stands
    std::size_t i = 0;
    if (s[0] == ':') {
        if (s[1] != ':')
            return false;
        gap = 0;
        i = 2;
        if (i == s.size()) {
            out = {};
            return true;
        }
    }
    while (true) {
        if (count >= 8)
            return false;
        // One group: 1–4 hex digits, or a dotted-quad tail in the last 32 bits.
        const std::size_t start = i;
        unsigned v = 0;
        while (i < s.size() && i - start < 4) {
            const int h = hexValue(s[i]);
            if (h < 0)
                break;
            v = (v << 4) | static_cast<unsigned>(h);
            ++i;
        }
        if (i < s.size() && s[i] == '.') {
            std::uint8_t v4[4];
            if (count > 6 || !parseIpv4(s.substr(start), v4))
                return false;
            words[count++] = static_cast<std::uint16_t>((v4[0] << 8) | v4[1]);
            words[count++] = static_cast<std::uint16_t>((v4[2] << 8) | v4[3]);
            break;
        }
        if (i == start)
            return false;
        words[count++] = static_cast<std::uint16_t>(v);
        if (i == s.size())
            break;
        if (s[i] != ':')
            return false;
        ++i;
        if (i < s.size() && s[i] == ':') {
            if (gap >= 0)
                return false;
            gap = static_cast<std::ptrdiff_t>(count);
            ++i;
            if (i == s.size())
                break;
        } else if (i == s.size()) {
            return false; // a single trailing ':'
        }
    }
    std::array<std::uint16_t, 8> full {};
    if (gap < 0) {
        if (count != 8)
            return false;
        full = words;
    } else {
        // "::" stands for at least one zero group.
        if (count > 7)
            return false;
        const auto head = static_cast<std::size_t>(gap);
        const std::size_t tail = count - head;
        std::copy_n(words.begin(), head, full.begin());
        std::copy_n(
            words.begin() + static_cast<std::ptrdiff_t>(head), tail, full.end() - static_cast<std::ptrdiff_t>(tail));
    }
    for (std::size_t g = 0; g < 8; ++g) {
        out[2 * g] = static_cast<std::uint8_t>(full[g] >> 8);
        out[2 * g + 1] = static_cast<std::uint8_t>(full[g] & 0xFF);
    }
    return true;
}

bool isV4Mapped(const IpBytes& ip)
{
    for (int i = 0; i < 10; ++i)
        if (ip[i] != 0)
            return false;
    return ip[10] == 0xFF && ip[11] == 0xFF;
}

void appendDecimal(std::string& s, unsigned v)
{
    char buf[4];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    s.append(buf, end);
}
} // namespace

bool parseIp(std::string_view text, IpBytes& out, bool& isV6)
{
    if (text.empty())
        return false;
    if (text.find(':') == std::string_view::npos) {
        std::uint8_t v4[4];
        if (!parseIpv4(text, v4))
            return false;
        out = {};
        out[10] = 0xFF;
        out[11] = 0xFF;
        for (int i = 0; i < 4; ++i)
            out[12 + i] = v4[i];
        isV6 = false;
        return true;
    }
    if (!parseIpv6(text, out))
        return false;
    isV6 = true;
    return true;
}

std::string formatIp(const IpBytes& ip)
{
    std::string s;
    if (isV4Mapped(ip)) {
        s.reserve(15);
        for (int i = 12; i < 16; ++i) {
            if (i > 12)
                s.push_back('.');
            appendDecimal(s, ip[i]);
        }
        return s;
    }
    std::array<unsigned, 8> g {};
    for (std::size_t i = 0; i < 8; ++i)
        g[i] = (unsigned { ip[2 * i] } << 8) | ip[2 * i + 1];
    // RFC 5952 section 4.2: compress the longest run (first on ties) of two or more zero groups.
    int bestStart = -1;
    int bestLen = 1;
    for (int i = 0; i < 8;) {
        if (g[i] != 0) {
            ++i;
            continue;
        }
        int j = i;
        while (j < 8 && g[j] == 0)
            ++j;
        if (j - i > bestLen) {
            bestStart = i;
            bestLen = j - i;
        }
        i = j;
    }
    s.reserve(39);
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 8; ++i) {
        if (i == bestStart) {
            s.append("::");
            i += bestLen - 1;
            continue;
        }
        if (i > 0 && i != bestStart + bestLen)
            s.push_back(':');
        bool started = false;
        for (int shift = 12; shift >= 0; shift -= 4) {
            const unsigned nibble = (g[i] >> shift) & 0xF;
            if (nibble != 0 || started || shift == 0) {
                s.push_back(kHex[nibble]);
                started = true;
            }
        }
    }
    return s;
}

bool IpPrefix::contains(const IpBytes& ip) const
{
    const int bits = prefixBits < 0 ? 0 : (prefixBits > 128 ? 128 : prefixBits);
    const int fullBytes = bits / 8;
    for (int i = 0; i < fullBytes; ++i)
        if (ip[i] != base[i])
            return false;
    if (const int rest = bits % 8; rest != 0) {
        const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
        if ((ip[fullBytes] & mask) != (base[fullBytes] & mask))
            return false;
    }
    return true;
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text)
{
    const std::size_t slash = text.find('/');
    IpPrefix p;
    bool isV6 = false;
    if (!parseIp(text.substr(0, slash), p.base, isV6))
        return std::nullopt;
    const int maxBits = isV6 ? 128 : 32;
    int bits = maxBits;
    if (slash != std::string_view::npos) {
        const std::string_view digits = text.substr(slash + 1);
        if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0'))
            return std::nullopt;
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
        if (ec != std::errc() || end != digits.data() + digits.size() || bits < 0 || bits > maxBits)
            return std::nullopt;
    }
    p.prefixBits = isV6 ? bits : 96 + bits;
    for (int i = 0; i < 16; ++i) {
        const int keep = p.prefixBits - i * 8;
        if (keep <= 0)
            p.base[i] = 0;
        else if (keep < 8)
            p.base[i] &= static_cast<std::uint8_t>(0xFF << (8 - keep));
    }
    return p;
}

} // namespace adclick::engine
