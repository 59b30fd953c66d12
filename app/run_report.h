#pragma once

#include "core/ad_dictionary.h"
#include "pipeline/pipeline_snapshot.h"

#include <cstdio>
#include <string>

namespace adclick::app {

/// Prints what `adclick run` reports — finalised windows, top ads, progress and the final
/// summary — as aligned text or as JSON lines (one object per line, "type" says which).
class RunReport {
public:
    RunReport(std::FILE* out, bool json, int topN, const engine::AdDictionary& ads);

    void window(const engine::WindowSummary& w, engine::TimeMs watermarkMs, engine::TimeMs processingTimeMs);
    void topK(const engine::TopKResult& r);
    void progress(const engine::PipelineSnapshot& s);
    void summary(const engine::PipelineSnapshot& s, double wallSeconds);

private:
    std::string adName(engine::AdId id) const;

    std::FILE* m_out;
    bool m_json;
    int m_topN;
    const engine::AdDictionary& m_ads;
};

/// Formats 1234567 as "1,234,567".
std::string groupThousands(std::uint64_t n);
/// Escapes a string for a JSON string literal (without the quotes).
std::string jsonEscape(const std::string& s);

} // namespace adclick::app
