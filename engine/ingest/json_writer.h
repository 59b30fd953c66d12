#pragma once

#include "core/time_units.h"
#include "ingest/json_text.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

// Writing the pieces of the seed-schema JSON that JsonCodec::encode produces.

namespace adclick::engine {

/// Appends s as a JSON string literal: quotes, backslash and control characters escaped
/// (\u00XX); invalid UTF-8 bytes become U+FFFD so the output is always valid JSON.
void appendJsonString(std::string& out, std::string_view s);
/// Appends arbitrary bytes as a JSON string literal that keeps every byte: printable ASCII as is,
/// everything else as \u00XX (the byte's value), so the original bytes can be recovered exactly
/// (quarantine files of rejected input).
void appendJsonBytes(std::string& out, std::string_view bytes);

inline void appendInt(std::string& out, std::int64_t v)
{
    std::array<char, 24> buf;
    out.append(integerText(v, buf));
}

/// Appends a click_timestamp: integer Unix seconds when the ms part is 0, else integer ms;
/// values too small to read back as ms are written as fractional seconds ("-1.500").
/// Inline, as when it was local to JsonCodec::encode's file: it runs for every encoded record.
inline void appendTimestamp(std::string& out, TimeMs ms)
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

} // namespace adclick::engine
