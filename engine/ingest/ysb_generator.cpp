#include "ingest/ysb_generator.h"

#include "core/hash.h"

#include <array>
#include <string_view>

namespace adclick::engine {

namespace {
constexpr std::array<std::string_view, 5> kAdTypes = { "banner", "modal", "sponsored-search", "mail", "mobile" };
constexpr std::array<YsbEventType, 3> kEventTypes = { YsbEventType::View, YsbEventType::Click,
    YsbEventType::Purchase };
} // namespace

YsbGenerator::YsbGenerator(const YsbGeneratorConfig& config)
    : m_config(config)
    , m_state(mix64(config.seed ^ 0x5953425953420001ULL))
{
    const std::uint64_t ads = static_cast<std::uint64_t>(config.campaigns) * config.adsPerCampaign;
    m_adCampaigns.reserve(ads);
    for (std::uint32_t c = 0; c < config.campaigns; ++c)
        for (std::uint32_t a = 0; a < config.adsPerCampaign; ++a)
            m_adCampaigns.emplace_back(randomUuid(), c);
}

std::uint64_t YsbGenerator::random()
{
    m_state += 0x9E3779B97F4A7C15ULL;
    return mix64(m_state);
}

YsbUuid YsbGenerator::randomUuid()
{
    YsbUuid id { random(), random() };
    // Version 4, variant 1, like java.util.UUID.randomUUID() in YSB's generator.
    id.hi = (id.hi & ~0xF000ULL) | 0x4000ULL;
    id.lo = (id.lo & ~(0xC000000000000000ULL)) | 0x8000000000000000ULL;
    return id;
}

YsbEvent YsbGenerator::next(std::string& out)
{
    YsbEvent e;
    const std::uint64_t r = random();
    const bool unknown = m_config.unknownAdFraction > 0
        && static_cast<double>(r >> 11) * 0x1.0p-53 < m_config.unknownAdFraction;
    e.adId = unknown || m_adCampaigns.empty() ? randomUuid() : m_adCampaigns[random() % m_adCampaigns.size()].first;
    e.type = kEventTypes[(r >> 3) % kEventTypes.size()];
    const TimeMs base = m_config.startTimeMs
        + static_cast<TimeMs>(m_sequence * 1000 / (m_config.eventsPerSecond ? m_config.eventsPerSecond : 1));
    const TimeMs jitter = m_config.jitterMs > 0 ? static_cast<TimeMs>((r >> 20) % static_cast<std::uint64_t>(m_config.jitterMs + 1)) : 0;
    e.eventTimeMs = base - jitter < 0 ? 0 : base - jitter;
    ++m_sequence;

    const std::uint64_t ip = random();
    out += "{\"user_id\": \"";
    out += YsbCodec::formatUuid(randomUuid());
    out += "\", \"page_id\": \"";
    out += YsbCodec::formatUuid(randomUuid());
    out += "\", \"ad_id\": \"";
    out += YsbCodec::formatUuid(e.adId);
    out += "\", \"ad_type\": \"";
    out += kAdTypes[(r >> 8) % kAdTypes.size()];
    out += "\", \"event_type\": \"";
    out += YsbCodec::nameOf(e.type);
    out += "\", \"event_time\": \"";
    out += std::to_string(e.eventTimeMs);
    out += "\", \"ip_address\": \"";
    out += std::to_string(ip & 0xFF) + '.' + std::to_string((ip >> 8) & 0xFF) + '.' + std::to_string((ip >> 16) & 0xFF)
        + '.' + std::to_string((ip >> 24) & 0xFF);
    out += "\"}\n";
    return e;
}

} // namespace adclick::engine
