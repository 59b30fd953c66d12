#pragma once

// Shared by the JSON codec tests.

#include "ingest/country_codes.h"
#include "ingest/ip_address.h"
#include "ingest/json_codec.h"

#include <QtTest>

#include <random>
#include <string>
#include <utility>
#include <vector>

Q_DECLARE_METATYPE(adclick::engine::RejectReason)
Q_DECLARE_METATYPE(adclick::engine::DeviceClass)

namespace adclick::test {

using namespace adclick::engine;

constexpr TimeMs kInstantMs = 1795845600000LL; // 2026-11-28T06:00:00Z

std::string_view view(const QByteArray& b)
{
    return { b.constData(), static_cast<std::size_t>(b.size()) };
}

// A valid record with some fields replaced (value nullptr: removed) or added; values are raw JSON.
QByteArray record(std::initializer_list<std::pair<const char*, const char*>> changes = {})
{
    std::vector<std::pair<std::string, std::string>> fields = {
        { "ad_id", "\"ad-7\"" },
        { "click_timestamp", "1795845600" },
        { "user_id", "\"user-1\"" },
        { "ip", "\"203.0.113.7\"" },
        { "country", "\"US\"" },
        { "user_agent", "\"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile/15E148\"" },
    };
    for (const auto& [key, value] : changes) {
        auto it = std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.first == key; });
        if (it == fields.end()) {
            if (value)
                fields.emplace_back(key, value);
        } else if (value) {
            it->second = value;
        } else {
            fields.erase(it);
        }
    }
    std::string json = "{";
    for (const auto& [key, value] : fields) {
        if (json.size() > 1)
            json += ',';
        json += '"' + key + "\":" + value;
    }
    json += '}';
    return QByteArray::fromStdString(json);
}

QByteArray quoted(const std::string& s)
{
    return QByteArray::fromStdString('"' + s + '"');
}

struct Fixture {
    AdDictionary ads;
    UserAgentDictionary userAgents;
    JsonCodec codec;
    explicit Fixture(CodecLimits limits = {})
        : codec(ads, userAgents, limits)
    {
    }
};

// Random text with characters that need escaping and multi-byte UTF-8.
std::string randomText(std::mt19937_64& rng, std::size_t minLength, std::size_t maxLength)
{
    static const std::vector<std::string> kPieces = { "a", "Z", "0", "7", " ", "-", "/", "\"", "\\", "\n", "\t", "\r",
        "\x01", "\x1f", "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "{", "}", ":", "," };
    const std::size_t target = minLength + rng() % (maxLength - minLength + 1);
    std::string s;
    while (s.size() < target) {
        const std::string& p = kPieces[rng() % kPieces.size()];
        if (s.size() + p.size() > maxLength)
            break;
        s += p;
    }
    while (s.size() < minLength)
        s += 'x';
    return s;
}

} // namespace adclick::test
