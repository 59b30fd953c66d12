#include "ingest/country_codes.h"

#include <array>
#include <cstdint>

namespace adclick::engine {

namespace {
// The 249 officially assigned ISO-3166-1 alpha-2 codes (ISO 3166 Maintenance Agency), plus
// "XX", which CDNs and geo-IP databases report for "unknown".
constexpr std::string_view kAssignedCodes = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ "
                                            "BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ "
                                            "CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ "
                                            "DE DJ DK DM DO DZ "
                                            "EC EE EG EH ER ES ET "
                                            "FI FJ FK FM FO FR "
                                            "GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY "
                                            "HK HM HN HR HT HU "
                                            "ID IE IL IM IN IO IQ IR IS IT "
                                            "JE JM JO JP "
                                            "KE KG KH KI KM KN KP KR KW KY KZ "
                                            "LA LB LC LI LK LR LS LT LU LV LY "
                                            "MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ "
                                            "NA NC NE NF NG NI NL NO NP NR NU NZ "
                                            "OM "
                                            "PA PE PF PG PH PK PL PM PN PR PS PT PW PY "
                                            "QA "
                                            "RE RO RS RU RW "
                                            "SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ "
                                            "TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ "
                                            "UA UG UM US UY UZ "
                                            "VA VC VE VG VI VN VU "
                                            "WF WS "
                                            "YE YT "
                                            "ZA ZM ZW "
                                            "XX";

// Row = first letter, bit = second letter: 26 × 26 bits.
using CountryTable = std::array<std::uint32_t, 26>;

constexpr CountryTable buildTable()
{
    CountryTable t {};
    for (std::size_t i = 0; i + 1 < kAssignedCodes.size(); i += 3)
        t[kAssignedCodes[i] - 'A'] |= 1u << (kAssignedCodes[i + 1] - 'A');
    return t;
}

constexpr CountryTable kTable = buildTable();

constexpr int countCodes()
{
    int n = 0;
    for (auto row : kTable)
        for (int b = 0; b < 26; ++b)
            n += static_cast<int>((row >> b) & 1u);
    return n;
}
static_assert(countCodes() == 249 + 1, "249 assigned ISO-3166-1 alpha-2 codes plus XX");

constexpr int upperIndex(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    return -1;
}
} // namespace

bool isKnownCountry(CountryCode code)
{
    const unsigned a = code >> 8;
    const unsigned b = code & 0xFFu;
    if (a < 'A' || a > 'Z' || b < 'A' || b > 'Z')
        return false;
    return (kTable[a - 'A'] >> (b - 'A')) & 1u;
}

bool parseCountry(std::string_view text, CountryCode& out)
{
    if (text.size() != 2)
        return false;
    const int a = upperIndex(static_cast<unsigned char>(text[0]));
    const int b = upperIndex(static_cast<unsigned char>(text[1]));
    if (a < 0 || b < 0 || !((kTable[a] >> b) & 1u))
        return false;
    out = packCountry(static_cast<char>('A' + a), static_cast<char>('A' + b));
    return true;
}

std::string formatCountry(CountryCode code)
{
    if (code == 0)
        return {};
    return { static_cast<char>(code >> 8), static_cast<char>(code & 0xFFu) };
}

} // namespace adclick::engine
