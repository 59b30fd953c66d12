#include "ingest/json_value.h"

#include "ingest/json_text.h"

#include <cmath>

namespace adclick::engine {

// A valid JSON number simdjson cannot represent (-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?).
bool readBigNumber(std::string_view token, JsonValue& out)
{
    while (
        !token.empty() && (token.back() == ' ' || token.back() == '\t' || token.back() == '\n' || token.back() == '\r'))
        token.remove_suffix(1);
    std::size_t i = 0;
    const auto digits = [&] {
        const std::size_t start = i;
        while (i < token.size() && isDigit(token[i]))
            ++i;
        return i - start;
    };
    const bool negative = i < token.size() && token[i] == '-';
    if (negative)
        ++i;
    const std::size_t intStart = i;
    const std::size_t intDigits = digits();
    if (intDigits == 0 || (intDigits > 1 && token[intStart] == '0'))
        return false;
    bool integer = true;
    if (i < token.size() && token[i] == '.') {
        ++i;
        integer = false;
        if (digits() == 0)
            return false;
    }
    if (i < token.size() && (token[i] == 'e' || token[i] == 'E')) {
        ++i;
        integer = false;
        if (i < token.size() && (token[i] == '+' || token[i] == '-'))
            ++i;
        if (digits() == 0)
            return false;
    }
    if (i != token.size())
        return false;
    if (integer) {
        out.kind = JsonKind::BigInt;
        out.text = token;
    } else {
        // Only magnitudes beyond the double range fail to parse; tiny ones become 0 in simdjson.
        out.kind = JsonKind::BigDouble;
        out.d = negative ? -HUGE_VAL : HUGE_VAL;
    }
    return true;
}

} // namespace adclick::engine
