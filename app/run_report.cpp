#include "run_report.h"

#include "core/time_units.h"
#include "ingest/reject_reason.h"

#include <algorithm>

namespace adclick::app {

using namespace adclick::engine;

std::string groupThousands(std::uint64_t n)
{
    std::string s = std::to_string(n);
    for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3)
        s.insert(static_cast<std::size_t>(i), ",");
    return s;
}

std::string jsonEscape(const std::string& s)
{
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

namespace {
std::string lagText(TimeMs processingTimeMs, TimeMs watermarkMs)
{
    if (watermarkMs <= kMinTimeMs)
        return "n/a";
    const TimeMs lag = processingTimeMs - watermarkMs;
    return lag < 0 ? "-" + formatDurationMs(-lag) : formatDurationMs(lag - lag % 100);
}
} // namespace

RunReport::RunReport(std::FILE* out, bool json, int topN, const AdDictionary& ads)
    : m_out(out)
    , m_json(json)
    , m_topN(topN)
    , m_ads(ads)
{
}

std::string RunReport::adName(AdId id) const
{
    return m_ads.format(id);
}

void RunReport::window(const WindowSummary& w, TimeMs watermarkMs, TimeMs processingTimeMs)
{
    // After the end of the input the watermark is "end of time": every window is final.
    const bool endOfInput = watermarkMs > kMsPerDay * 365 * 1000;
    if (m_json && endOfInput) {
        std::fprintf(m_out,
            "{\"type\":\"window\",\"window_start\":\"%s\",\"window_start_ms\":%lld,\"counted\":%llu,\"ads\":%llu,"
            "\"cells\":%llu,\"late_dropped\":%llu,\"watermark_ms\":null,\"end_of_input\":true}\n",
            formatIsoUtc(w.windowStartMs).c_str(), static_cast<long long>(w.windowStartMs),
            static_cast<unsigned long long>(w.counted), static_cast<unsigned long long>(w.ads),
            static_cast<unsigned long long>(w.cells), static_cast<unsigned long long>(w.lateDropped));
    } else if (m_json) {
        std::fprintf(m_out,
            "{\"type\":\"window\",\"window_start\":\"%s\",\"window_start_ms\":%lld,\"counted\":%llu,\"ads\":%llu,"
            "\"cells\":%llu,\"late_dropped\":%llu,\"watermark_ms\":%lld,\"watermark_lag_ms\":%lld}\n",
            formatIsoUtc(w.windowStartMs).c_str(), static_cast<long long>(w.windowStartMs),
            static_cast<unsigned long long>(w.counted), static_cast<unsigned long long>(w.ads),
            static_cast<unsigned long long>(w.cells), static_cast<unsigned long long>(w.lateDropped),
            static_cast<long long>(watermarkMs), static_cast<long long>(processingTimeMs - watermarkMs));
    } else if (endOfInput) {
        std::fprintf(m_out, "window %s  clicks %12s  ads %9s  late-dropped %8s  | final at end of input\n",
            formatIsoUtc(w.windowStartMs).substr(0, 19).c_str(), groupThousands(w.counted).c_str(),
            groupThousands(w.ads).c_str(), groupThousands(w.lateDropped).c_str());
    } else {
        std::fprintf(m_out, "window %s  clicks %12s  ads %9s  late-dropped %8s  | watermark %s  lag %s\n",
            formatIsoUtc(w.windowStartMs).substr(0, 19).c_str(), groupThousands(w.counted).c_str(),
            groupThousands(w.ads).c_str(), groupThousands(w.lateDropped).c_str(),
            formatIsoUtc(watermarkMs).substr(11, 8).c_str(), lagText(processingTimeMs, watermarkMs).c_str());
    }
    std::fflush(m_out);
}

void RunReport::topK(const TopKResult& r)
{
    if (!r.valid)
        return;
    const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(m_topN), r.exact.size());
    if (m_json) {
        std::string s = "{\"type\":\"top_k\",\"window_start_ms\":" + std::to_string(r.windowStartMs)
            + ",\"window_end_ms\":" + std::to_string(r.windowEndMs) + ",\"total\":" + std::to_string(r.totalEvents)
            + ",\"top_ads\":[";
        for (std::size_t i = 0; i < n; ++i)
            s += std::string(i ? "," : "") + "{\"ad_id\":\"" + jsonEscape(adName(r.exact[i].adId))
                + "\",\"click_count\":" + std::to_string(r.exact[i].count) + "}";
        s += "],\"approx\":{\"epsilon\":" + std::to_string(r.epsilon) + ",\"delta\":" + std::to_string(r.delta)
            + ",\"error_bound\":" + std::to_string(r.errorBound) + ",\"max_abs_error\":" + std::to_string(r.maxAbsError)
            + ",\"precision\":" + std::to_string(r.precision)
            + ",\"within_bound\":" + (r.withinBound ? "true" : "false") + "}}\n";
        std::fputs(s.c_str(), m_out);
    } else {
        std::fprintf(m_out,
            "  top %zu ads, %s … %s (%s clicks); Count-Min: bound ε·N = %s (δ = %.2g), max error %s, "
            "precision %.1f%%\n",
            n, formatIsoUtc(r.windowStartMs).substr(11, 8).c_str(), formatIsoUtc(r.windowEndMs).substr(11, 8).c_str(),
            groupThousands(r.totalEvents).c_str(), groupThousands(r.errorBound).c_str(), r.delta,
            groupThousands(r.maxAbsError).c_str(), r.precision * 100);
        for (std::size_t i = 0; i < n; ++i)
            std::fprintf(m_out, "    %3zu. ad %-12s %10s\n", i + 1, adName(r.exact[i].adId).c_str(),
                groupThousands(r.exact[i].count).c_str());
    }
    std::fflush(m_out);
}

void RunReport::progress(const PipelineSnapshot& s)
{
    if (!m_json) {
        const auto& c = s.counters;
        std::fprintf(m_out,
            "… %s received (%s/s) · watermark %s, lag %s · %zu open window(s) · late %s · duplicates %s · rejected "
            "%s\n",
            groupThousands(c.received).c_str(),
            groupThousands(static_cast<std::uint64_t>(s.eventsPerWallSecond)).c_str(),
            s.watermarkMs > kMinTimeMs ? formatIsoUtc(s.watermarkMs).substr(11, 8).c_str() : "not yet",
            lagText(s.processingTimeMs, s.watermarkMs).c_str(), s.openWindows, groupThousands(c.lateDropped).c_str(),
            groupThousands(c.duplicates).c_str(), groupThousands(c.rejected.total()).c_str());
        std::fflush(m_out);
        return;
    }
    {
        std::fprintf(m_out,
            "{\"type\":\"progress\",\"processing_time_ms\":%lld,\"watermark_ms\":%lld,\"received\":%llu,"
            "\"counted\":%llu,\"events_per_sec\":%.0f,\"open_windows\":%zu,\"state_bytes\":%zu}\n",
            static_cast<long long>(s.processingTimeMs), static_cast<long long>(s.watermarkMs),
            static_cast<unsigned long long>(s.counters.received), static_cast<unsigned long long>(s.counters.counted),
            s.eventsPerWallSecond, s.openWindows, s.stateBytes);
        std::fflush(m_out);
    }
}

void RunReport::summary(const PipelineSnapshot& s, double wallSeconds)
{
    const auto& c = s.counters;
    const double rate = wallSeconds > 0 ? static_cast<double>(c.received) / wallSeconds : 0;
    if (m_json) {
        std::string rejected = "{";
        bool first = true;
        for (int i = 0; i < kRejectReasonCount; ++i) {
            if (!c.rejected.byReason[i])
                continue;
            rejected += std::string(first ? "" : ",") + "\""
                + std::string(rejectReasonName(static_cast<RejectReason>(i)))
                + "\":" + std::to_string(c.rejected.byReason[i]);
            first = false;
        }
        rejected += "}";
        std::string lateness = "[";
        for (int b = 0; b < LatenessHistogram::kBuckets; ++b)
            lateness += std::string(b ? "," : "") + std::to_string(s.lateness.counts[static_cast<std::size_t>(b)]);
        lateness += "]";
        std::fprintf(m_out,
            "{\"type\":\"summary\",\"received\":%llu,\"accepted\":%llu,\"counted\":%llu,\"late_dropped\":%llu,"
            "\"late_updated\":%llu,\"duplicates\":%llu,\"rejected\":%llu,\"rejected_by_reason\":%s,"
            "\"windows_finalised\":%llu,\"watermark_ms\":%lld,\"wall_seconds\":%.3f,\"events_per_sec\":%.0f,"
            "\"lateness_histogram_log2_seconds\":%s}\n",
            static_cast<unsigned long long>(c.received), static_cast<unsigned long long>(c.accepted),
            static_cast<unsigned long long>(c.counted), static_cast<unsigned long long>(c.lateDropped),
            static_cast<unsigned long long>(c.lateUpdated), static_cast<unsigned long long>(c.duplicates),
            static_cast<unsigned long long>(c.rejected.total()), rejected.c_str(),
            static_cast<unsigned long long>(c.windowsFinalised), static_cast<long long>(s.watermarkMs), wallSeconds,
            rate, lateness.c_str());
    } else {
        std::fprintf(m_out,
            "\nsummary: %s records received in %.2f s (%s/s)\n"
            "  counted      %14s   (of which late updates %s)\n"
            "  late-dropped %14s   (kept for the batch layer)\n"
            "  duplicates   %14s\n"
            "  rejected     %14s\n",
            groupThousands(c.received).c_str(), wallSeconds, groupThousands(static_cast<std::uint64_t>(rate)).c_str(),
            groupThousands(c.counted).c_str(), groupThousands(c.lateUpdated).c_str(),
            groupThousands(c.lateDropped).c_str(), groupThousands(c.duplicates).c_str(),
            groupThousands(c.rejected.total()).c_str());
        for (int i = 0; i < kRejectReasonCount; ++i)
            if (c.rejected.byReason[i])
                std::fprintf(m_out, "    %-22s %10s\n",
                    std::string(rejectReasonName(static_cast<RejectReason>(i))).c_str(),
                    groupThousands(c.rejected.byReason[i]).c_str());
        if (c.lateDropped + c.lateUpdated > 0) {
            std::fprintf(m_out, "  how late were late events (watermark − event time):\n");
            std::uint64_t peak = 1;
            for (auto n : s.lateness.counts)
                peak = std::max(peak, n);
            for (int b = 0; b < LatenessHistogram::kBuckets; ++b) {
                const std::uint64_t n = s.lateness.counts[static_cast<std::size_t>(b)];
                if (n == 0)
                    continue;
                const std::string range = b == 0 ? "< 1s"
                    : b == LatenessHistogram::kBuckets - 1
                    ? ">= " + formatDurationMs((TimeMs { 1 } << (b - 1)) * kMsPerSecond)
                    : formatDurationMs((TimeMs { 1 } << (b - 1)) * kMsPerSecond) + " … "
                        + formatDurationMs((TimeMs { 1 } << b) * kMsPerSecond);
                std::fprintf(m_out, "    %-16s %10s  %s\n", range.c_str(), groupThousands(n).c_str(),
                    std::string(static_cast<std::size_t>(1 + 39 * n / peak), '#').c_str());
            }
        }
        std::fprintf(m_out, "  windows finalised %s, watermark %s\n", groupThousands(c.windowsFinalised).c_str(),
            s.watermarkMs > kMsPerDay * 365 * 1000 ? "end of input (every window final)"
                : s.watermarkMs > kMinTimeMs      ? formatIsoUtc(s.watermarkMs).c_str()
                                                  : "not yet established");
    }
    std::fflush(m_out);
}

} // namespace adclick::app
