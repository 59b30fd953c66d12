#include "ingest/user_agent.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace adclick::engine {

namespace {
// Lower-case tokens looked for; the bit index is the token's position here.
enum Token : std::uint32_t {
    kBot,
    kCrawl,
    kSpider,
    kSlurp,
    kCurl,
    kWget,
    kPythonRequests,
    kHeadless,
    kIpad,
    kAndroid,
    kTabletWord,
    kIphone,
    kMobileWord,
    kWindows,
    kMacintosh,
    kX11,
    kLinux,
    kCros,
    kTokenCount
};
constexpr std::array<std::string_view, kTokenCount> kTokens
    = { "bot", "crawl", "spider", "slurp", "curl", "wget", "python-requests", "headless", "ipad", "android", "tablet",
          "iphone", "mobile", "windows", "macintosh", "x11", "linux", "cros" };
constexpr std::uint32_t kBotMask = (1u << kBot) | (1u << kCrawl) | (1u << kSpider) | (1u << kSlurp) | (1u << kCurl)
    | (1u << kWget) | (1u << kPythonRequests) | (1u << kHeadless);
constexpr std::uint32_t kDesktopMask
    = (1u << kWindows) | (1u << kMacintosh) | (1u << kX11) | (1u << kLinux) | (1u << kCros);

constexpr std::size_t longestToken()
{
    std::size_t n = 0;
    for (auto t : kTokens)
        n = std::max(n, t.size());
    return n;
}

char lowerAscii(char c)
{
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::uint32_t tokensIn(std::string_view lowered)
{
    std::uint32_t found = 0;
    for (std::uint32_t i = 0; i < kTokenCount; ++i)
        if (lowered.find(kTokens[i]) != std::string_view::npos)
            found |= 1u << i;
    return found;
}
} // namespace

DeviceClass classifyUserAgent(std::string_view userAgent)
{
    // Lower-case into a stack buffer, window by window; windows overlap by the longest token
    // minus one so no token is missed at a seam. No allocation, O(length × tokens).
    constexpr std::size_t kWindow = 512;
    constexpr std::size_t kOverlap = longestToken() - 1;
    std::array<char, kWindow> buf;
    std::uint32_t found = 0;
    std::size_t pos = 0;
    while (pos < userAgent.size()) {
        const std::size_t n = std::min(kWindow, userAgent.size() - pos);
        std::transform(userAgent.data() + pos, userAgent.data() + pos + n, buf.data(), lowerAscii);
        found |= tokensIn(std::string_view(buf.data(), n));
        if (pos + n >= userAgent.size())
            break;
        pos += n - kOverlap;
    }

    const auto has = [found](Token t) { return (found >> t) & 1u; };
    if (found & kBotMask)
        return DeviceClass::Bot;
    if (has(kIpad) || has(kTabletWord) || (has(kAndroid) && !has(kMobileWord)))
        return DeviceClass::Tablet;
    if (has(kIphone) || has(kMobileWord))
        return DeviceClass::Mobile;
    if (found & kDesktopMask)
        return DeviceClass::Desktop;
    return DeviceClass::Other;
}

std::uint16_t UserAgentDictionary::intern(std::string_view userAgent)
{
    // Ids stop at kOverflowId - 1: once full, known strings keep their id and new ones share
    // kOverflowId, so the underlying dictionary never grows past 65535 entries.
    if (m_names.size() < kOverflowId) {
        if (auto id = m_names.intern(userAgent))
            return static_cast<std::uint16_t>(*id);
        return kOverflowId;
    }
    if (auto id = m_names.find(userAgent))
        return static_cast<std::uint16_t>(*id);
    return kOverflowId;
}

std::string_view UserAgentDictionary::name(std::uint16_t id) const
{
    if (id == kOverflowId)
        return "(other user agents)";
    return m_names.name(id);
}

} // namespace adclick::engine
