#pragma once

#include <array>
#include <charconv>
#include <cstdint>
#include <string_view>

// Small text pieces shared by the JsonCodec's decoder and encoder.

namespace adclick::engine {

inline constexpr std::int64_t kMsThreshold = 100'000'000'000LL; // integers ≥ 10^11 are ms

inline bool isDigit(char c)
{
    return c >= '0' && c <= '9';
}

// Text of a JSON integer, as the producer wrote it (JSON integers have one canonical form).
template <typename Int> std::string_view integerText(Int v, std::array<char, 24>& buf)
{
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    return { buf.data(), static_cast<std::size_t>(end - buf.data()) };
}

} // namespace adclick::engine
