#include "ingest/reject_reason.h"

namespace adclick::engine {

std::string_view rejectReasonName(RejectReason r)
{
    switch (r) {
    case RejectReason::NotJson:
        return "not_json";
    case RejectReason::MissingField:
        return "missing_field";
    case RejectReason::WrongType:
        return "wrong_type";
    case RejectReason::TimestampOutOfRange:
        return "timestamp_out_of_range";
    case RejectReason::BadTimestamp:
        return "bad_timestamp";
    case RejectReason::BadIp:
        return "bad_ip";
    case RejectReason::BadCountry:
        return "bad_country";
    case RejectReason::BadAdId:
        return "bad_ad_id";
    case RejectReason::BadUserId:
        return "bad_user_id";
    case RejectReason::TooLarge:
        return "too_large";
    case RejectReason::DictionaryFull:
        return "dictionary_full";
    }
    return "unknown";
}

} // namespace adclick::engine
