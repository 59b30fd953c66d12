#include "window/ysb_campaign_counter.h"

#include "core/hash.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace adclick::engine {

namespace {
constexpr std::uint64_t kCampaignBits = 20;
constexpr std::uint64_t kCampaignMask = (1ULL << kCampaignBits) - 1;
} // namespace

YsbCampaignCounter::YsbCampaignCounter(
    const std::vector<std::pair<YsbUuid, std::uint32_t>>& campaigns, TimeMs windowMs)
    : m_windowMs(windowMs)
    , m_counts(1024)
{
    if (windowMs <= 0)
        throw std::invalid_argument("YsbCampaignCounter: windowMs must be positive");
    std::size_t size = 16;
    while (size < campaigns.size() * 2)
        size *= 2;
    m_join.resize(size);
    m_joinMask = size - 1;
    for (const auto& [ad, campaign] : campaigns) {
        if (campaign >= kCampaignMask)
            throw std::invalid_argument("YsbCampaignCounter: campaign index too large");
        std::size_t i = hashOf(ad) & m_joinMask;
        while (m_join[i].campaignPlusOne != 0 && !(m_join[i].ad == ad))
            i = (i + 1) & m_joinMask;
        m_join[i] = { ad, campaign + 1 };
    }
}

std::uint64_t YsbCampaignCounter::hashOf(const YsbUuid& ad)
{
    return mix64(ad.hi ^ (ad.lo * 0x9E3779B97F4A7C15ULL));
}

const YsbCampaignCounter::JoinSlot* YsbCampaignCounter::lookup(const YsbUuid& ad) const
{
    std::size_t i = hashOf(ad) & m_joinMask;
    while (true) {
        const JoinSlot& s = m_join[i];
        if (s.campaignPlusOne == 0)
            return nullptr;
        if (s.ad == ad)
            return &s;
        i = (i + 1) & m_joinMask;
    }
}

std::uint64_t YsbCampaignCounter::keyOf(std::uint32_t campaign, TimeMs windowStartMs) const
{
    const auto window = static_cast<std::uint64_t>(windowStartMs / m_windowMs);
    return (window << kCampaignBits) | (static_cast<std::uint64_t>(campaign) + 1);
}

YsbParseResult YsbCampaignCounter::add(std::string_view line)
{
    ++m_counters.lines;
    YsbEvent e;
    const YsbParseResult r = YsbCodec::parse(line, e);
    if (r != YsbParseResult::Ok) [[unlikely]] {
        ++m_counters.rejected;
        return r;
    }
    if (e.type != YsbEventType::View) {
        ++m_counters.filtered;
        return r;
    }
    const JoinSlot* slot = lookup(e.adId);
    if (!slot) [[unlikely]] {
        ++m_counters.unknownAd;
        return r;
    }
    ++m_counts[keyOf(slot->campaignPlusOne - 1, e.eventTimeMs)];
    ++m_counters.counted;
    return r;
}

void YsbCampaignCounter::addLines(std::string_view text)
{
    const char* p = text.data();
    const char* end = p + text.size();
    while (p < end) {
        const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
        const char* lineEnd = nl ? static_cast<const char*>(nl) : end;
        if (lineEnd > p)
            add({ p, static_cast<std::size_t>(lineEnd - p) });
        p = lineEnd + 1;
    }
}

void YsbCampaignCounter::merge(const YsbCampaignCounter& other)
{
    if (other.m_windowMs != m_windowMs)
        throw std::invalid_argument("YsbCampaignCounter::merge: different window sizes");
    other.m_counts.forEach([&](std::uint64_t key, std::uint64_t views) { m_counts[key] += views; });
    m_counters.lines += other.m_counters.lines;
    m_counters.rejected += other.m_counters.rejected;
    m_counters.filtered += other.m_counters.filtered;
    m_counters.unknownAd += other.m_counters.unknownAd;
    m_counters.counted += other.m_counters.counted;
}

std::uint64_t YsbCampaignCounter::views(std::uint32_t campaign, TimeMs windowStartMs) const
{
    if (windowStartMs < 0 || windowStartMs % m_windowMs != 0 || campaign >= kCampaignMask)
        return 0;
    const std::uint64_t* v = m_counts.find(keyOf(campaign, windowStartMs));
    return v ? *v : 0;
}

std::vector<YsbWindowCount> YsbCampaignCounter::results() const
{
    std::vector<YsbWindowCount> out;
    out.reserve(m_counts.size());
    m_counts.forEach([&](std::uint64_t key, std::uint64_t views) {
        out.push_back({ static_cast<std::uint32_t>((key & kCampaignMask) - 1),
            static_cast<TimeMs>(key >> kCampaignBits) * m_windowMs, views });
    });
    std::sort(out.begin(), out.end(), [](const YsbWindowCount& a, const YsbWindowCount& b) {
        return a.campaign != b.campaign ? a.campaign < b.campaign : a.windowStartMs < b.windowStartMs;
    });
    return out;
}

} // namespace adclick::engine
