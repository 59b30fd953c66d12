#pragma once

#include "core/ad_dictionary.h"
#include "core/click_event.h"
#include "ingest/reject_reason.h"
#include "ingest/user_agent.h"

#include <memory>
#include <string>
#include <string_view>

namespace adclick::engine {

/// Limits the codec enforces; anything outside is rejected with a reason, never thrown.
struct CodecLimits {
    std::size_t maxMessageBytes = std::size_t { 64 } * 1024;
    TimeMs minTimestampMs = 946684800000LL;  ///< 2000-01-01T00:00:00Z
    TimeMs maxTimestampMs = 4102444800000LL; ///< 2100-01-01T00:00:00Z
    std::size_t maxUserIdBytes = 256;
    std::size_t maxUserAgentBytes = 2048;
};

/// The fields of one click in their external (seed schema) form, for encoding.
struct ClickRecordText {
    std::string adId;
    TimeMs clickTimestampMs = 0;
    std::string userId;
    std::string ip;
    std::string country; ///< two letters
    std::string userAgent;
    std::string clickId; ///< empty: omitted
};

/// Decodes the seed schema {"ad_id","click_timestamp","user_id","ip","country","user_agent"}
/// (+ optional "click_id") with simdjson into a ClickEvent.
/// - ad_id: string or non-negative integer; user_id: string or integer.
/// - click_timestamp: integer Unix seconds, integer ms (values ≥ 10^11), a number with a
///   fraction (seconds), or an ISO-8601 string with a zone ("Z" or ±hh:mm).
/// - ip: IPv4 dotted quad or IPv6 text; country: ISO-3166 alpha-2 (case-insensitive).
/// Unknown extra fields are ignored. Never throws; every failure returns a RejectReason and
/// is counted in counters(). Not thread-safe: one instance per ingest thread (it owns a
/// simdjson parser and interns into the dictionaries on that thread).
class JsonCodec {
public:
    JsonCodec(AdDictionary& ads, UserAgentDictionary& userAgents, CodecLimits limits = {});
    ~JsonCodec();
    JsonCodec(const JsonCodec&) = delete;
    JsonCodec& operator=(const JsonCodec&) = delete;

    enum class Status : std::uint8_t { Accepted, Rejected };

    /// Decodes one record. On Accepted, `out` is filled except its source position (the
    /// caller sets it). On Rejected, `reason` says why and the counter is incremented.
    Status decode(std::string_view bytes, ClickEvent& out, RejectReason& reason);

    const RejectCounters& counters() const { return m_counters; }
    std::uint64_t acceptedCount() const { return m_accepted; }
    const CodecLimits& limits() const { return m_limits; }

    /// Encodes a record as one line of compact JSON in the seed schema (no trailing newline).
    /// click_timestamp is written as integer Unix seconds when the ms part is 0, else as ms.
    static std::string encode(const ClickRecordText& record);

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
    AdDictionary& m_ads;
    UserAgentDictionary& m_userAgents;
    CodecLimits m_limits;
    RejectCounters m_counters;
    std::uint64_t m_accepted = 0;
};

/// Hash of a user_id as stored in ClickEvent::userHash (stable across runs).
std::uint64_t hashUserId(std::string_view userId);
/// Hash of a click_id as stored in ClickEvent::clickId; never 0 (0 means "no click id").
std::uint64_t hashClickId(std::string_view clickId);

} // namespace adclick::engine
