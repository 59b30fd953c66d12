#include "ingest/iso_timestamp.h"

#include "ingest/json_text.h"

#include <array>
#include <cstdint>

namespace adclick::engine {

namespace {

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

} // namespace

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

} // namespace adclick::engine
