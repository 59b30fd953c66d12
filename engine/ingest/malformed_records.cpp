#include "ingest/malformed_records.h"

#include "ingest/generator_random.h"

#include <array>
#include <string_view>
#include <utility>

namespace adclick::engine {

namespace {

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

MalformedKind malformedKindOf(std::uint32_t bits)
{
    std::uint32_t pickWeight = below32(bits, kMalformedWeightTotal);
    MalformedKind kind = MalformedKind::Truncated;
    for (const MalformedWeight& w : kMalformedWeights) {
        if (pickWeight < w.weight) {
            kind = w.kind;
            break;
        }
        pickWeight -= w.weight;
    }
    return kind;
}

std::string malformedRecord(MalformedKind kind, std::string json, std::uint64_t detail, std::size_t maxMessageBytes)
{
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
        std::string huge(maxMessageBytes + 1 + (detail & 0xFFF), 'A');
        huge.front() = '"';
        huge.back() = '"';
        replaceField(json, "user_agent", huge);
        return json;
    }
    }
    return json;
}

} // namespace adclick::engine
