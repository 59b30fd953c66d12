#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string_view>
#include <utility>

// Reading one JSON value completely with simdjson On-Demand, for the JsonCodec.

namespace adclick::engine {

inline constexpr int kMaxJsonDepth = 256; // nesting allowed inside ignored fields

// BigInt: an integer beyond 64 bits, kept as its text. BigDouble: a number beyond the double
// range (d is ±infinity). simdjson refuses both although they are valid JSON.
enum class JsonKind : std::uint8_t { Null, Bool, Int, UInt, Double, BigInt, BigDouble, String, Array, Object };

// A fully parsed JSON value; strings point into the parser's buffer (valid until the next
// message). Arrays and objects are validated but not kept.
struct JsonValue {
    JsonKind kind = JsonKind::Null;
    std::int64_t i = 0;
    std::uint64_t u = 0;
    double d = 0;
    std::string_view text;
};

// A valid JSON number simdjson cannot represent (-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?).
bool readBigNumber(std::string_view token, JsonValue& out);

// Parses v completely (recursively for arrays and objects) so that malformed JSON is an
// error even in fields the codec ignores; On-Demand would otherwise only skip over them.
// Defined here: it runs for every field of every message, and the codec's translation unit
// gets to specialise it (as when it was local to json_codec.cpp).
inline simdjson::error_code readValue(simdjson::ondemand::value v, JsonValue& out, int depth)
{
    if (depth > kMaxJsonDepth)
        return simdjson::DEPTH_ERROR;
    simdjson::ondemand::json_type type;
    if (auto error = v.type().get(type))
        return error;
    switch (type) {
    case simdjson::ondemand::json_type::number: {
        simdjson::ondemand::number n;
        if (auto error = v.get_number().get(n))
            return readBigNumber(v.raw_json_token(), out) ? simdjson::SUCCESS : error;
        switch (n.get_number_type()) {
        case simdjson::ondemand::number_type::signed_integer:
            out.kind = JsonKind::Int;
            out.i = n.get_int64();
            break;
        case simdjson::ondemand::number_type::unsigned_integer:
            out.kind = JsonKind::UInt;
            out.u = n.get_uint64();
            break;
        default:
            out.kind = JsonKind::Double;
            out.d = n.get_double();
            break;
        }
        return simdjson::SUCCESS;
    }
    case simdjson::ondemand::json_type::string:
        out.kind = JsonKind::String;
        return v.get_string().get(out.text);
    case simdjson::ondemand::json_type::boolean: {
        out.kind = JsonKind::Bool;
        bool b = false;
        return v.get_bool().get(b);
    }
    case simdjson::ondemand::json_type::null: {
        out.kind = JsonKind::Null;
        bool isNull = false;
        if (auto error = v.is_null().get(isNull))
            return error;
        return isNull ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
    case simdjson::ondemand::json_type::array: {
        out.kind = JsonKind::Array;
        simdjson::ondemand::array array;
        if (auto error = v.get_array().get(array))
            return error;
        for (auto element : array) {
            simdjson::ondemand::value child;
            if (auto error = element.get(child))
                return error;
            JsonValue ignored;
            if (auto error = readValue(child, ignored, depth + 1))
                return error;
        }
        return simdjson::SUCCESS;
    }
    case simdjson::ondemand::json_type::object: {
        out.kind = JsonKind::Object;
        simdjson::ondemand::object object;
        if (auto error = v.get_object().get(object))
            return error;
        for (auto fieldResult : object) {
            simdjson::ondemand::field field;
            if (auto error = std::move(fieldResult).get(field))
                return error;
            std::string_view key;
            if (auto error = field.unescaped_key().get(key))
                return error;
            JsonValue ignored;
            if (auto error = readValue(field.value(), ignored, depth + 1))
                return error;
        }
        return simdjson::SUCCESS;
    }
    }
    return simdjson::TAPE_ERROR;
}

} // namespace adclick::engine
