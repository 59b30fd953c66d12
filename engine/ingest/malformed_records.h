#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

// The malformed records of the synthetic generator: what kinds of bad bytes it sends, and
// how each is made from a valid record.

namespace adclick::engine {

// Malformed record kinds, each with its relative weight (out of kMalformedWeightTotal).
enum class MalformedKind : std::uint8_t {
    Truncated,
    NotJson,
    MissingField,
    WrongType,
    BadIp,
    BadCountry,
    BadTimestamp,
    BadAdId,
    BadUserId,
    Oversized,
};

/// The kind of a malformed record, from 32 random bits (by the kinds' fixed weights).
MalformedKind malformedKindOf(std::uint32_t bits);

/// The bad bytes of `kind` made from `json`, a valid record in compact seed-schema JSON as
/// JsonCodec::encode writes it. `detail` (random bits) picks the variant; an Oversized record
/// is longer than `maxMessageBytes`.
std::string malformedRecord(MalformedKind kind, std::string json, std::uint64_t detail, std::size_t maxMessageBytes);

} // namespace adclick::engine
