#include "sim_shard_model.h"

#include "window/window_types.h"

#include <algorithm>
#include <unordered_map>

namespace adclick::app {

using namespace adclick::engine;

namespace {
bool byCountThenAd(const TopKEntry& a, const TopKEntry& b)
{
    return a.count != b.count ? a.count > b.count : a.adId < b.adId;
}

std::vector<TopKEntry> topOf(const std::unordered_map<AdId, std::uint64_t>& counts, std::size_t k)
{
    std::vector<TopKEntry> all;
    all.reserve(counts.size());
    for (const auto& [ad, n] : counts)
        all.push_back({ ad, n });
    const std::size_t keep = std::min(k, all.size());
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(), byCountThenAd);
    all.resize(keep);
    return all;
}

std::vector<TopKEntry> localTop(const TopKTracker& t, std::size_t k)
{
    std::unordered_map<AdId, std::uint64_t> local;
    t.forEachScratch([&](AdId ad, std::uint64_t n) { local[ad] = n; });
    return topOf(local, k);
}
} // namespace

SimShardModel::SimShardModel(ShardModelSpec spec, const TopKConfig& topK)
    : m_spec(spec)
{
    for (std::uint32_t i = 0; i < m_spec.shards; ++i)
        m_shards.push_back(std::make_unique<TopKTracker>(topK));
}

SimShardModel::~SimShardModel() = default;

std::uint32_t SimShardModel::shardOf(const ClickEvent& e) const
{
    switch (m_spec.routing) {
    case ShardRouting::SourcePartition:
        return e.partition % m_spec.shards;
    case ShardRouting::User:
        return static_cast<std::uint32_t>((e.userHash >> 17) % m_spec.shards);
    case ShardRouting::Ad:
        return shardOfAd(e.adId, m_spec.shards);
    }
    return 0;
}

void SimShardModel::onBatch(const IngestBatch& batch)
{
    // The same events the engine's top-K counts (counted or late-updated), before it aggregates them.
    for (const ClickEvent& e : batch.events) {
        const auto d = e.disposition();
        if (d == ClickEvent::Disposition::Counted || d == ClickEvent::Disposition::LateUpdated)
            m_shards[shardOf(e)]->add(e.adId, e.eventTimeMs);
    }
    if (m_pipeline)
        for (auto& t : m_shards)
            t->advanceWatermark(m_pipeline->watermark());
}

void SimShardModel::sample(TimeMs offsetMs, const TopKResult& engine)
{
    if (!engine.valid || engine.exact.empty() || engine.windowEndMs == m_lastWindowEndMs)
        return;
    m_lastWindowEndMs = engine.windowEndMs;
    const std::size_t k = m_spec.k;
    const auto m = static_cast<double>(m_shards.size());
    for (auto& t : m_shards)
        t->prepareQuery(engine.windowEndMs);

    // Full merge: every partial count summed before ranking.
    std::unordered_map<AdId, std::uint64_t> truth;
    Sample s;
    s.offsetMs = offsetMs;
    for (const auto& t : m_shards)
        t->forEachScratch([&](AdId ad, std::uint64_t n) {
            truth[ad] += n;
            ++s.mergedShipped;
        });
    const std::vector<TopKEntry> merged = topOf(truth, k);

    const std::uint64_t kth = engine.exact.back().count;
    auto trueCount = [&](AdId ad) {
        const auto it = truth.find(ad);
        return it == truth.end() ? std::uint64_t { 0 } : it->second;
    };
    auto score = [&](const std::vector<TopKEntry>& list, double& precision, std::uint64_t& maxError) {
        std::size_t hits = 0;
        for (std::size_t i = 0; i < list.size() && i < engine.exact.size(); ++i)
            hits += trueCount(list[i].adId) >= kth ? 1 : 0;
        precision = static_cast<double>(hits) / static_cast<double>(engine.exact.size());
        maxError = 0;
        for (const TopKEntry& e : list) {
            const std::uint64_t t = trueCount(e.adId);
            maxError = std::max(maxError, e.count > t ? e.count - t : t - e.count);
        }
    };
    for (std::size_t i = 0; i < engine.exact.size(); ++i)
        if (i >= merged.size() || merged[i].count != engine.exact[i].count)
            ++s.engineMismatches;

    // Naive: the union of local top-Ks, ranked by the counts the shards sent.
    std::unordered_map<AdId, std::uint64_t> naiveSums;
    std::vector<std::vector<TopKEntry>> locals;
    for (const auto& t : m_shards) {
        locals.push_back(localTop(*t, k));
        for (const TopKEntry& e : locals.back())
            naiveSums[e.adId] += e.count;
        s.naiveShipped += locals.back().size();
    }
    const std::vector<TopKEntry> naive = topOf(naiveSums, k);

    // TPUT. Phase 1 = the naive exchange; τ1 = K-th partial sum.
    std::unordered_map<AdId, std::pair<std::uint64_t, std::uint32_t>> partial; // ad → (sum sent, shards that sent it)
    for (const auto& local : locals)
        for (const TopKEntry& e : local) {
            partial[e.adId].first += e.count;
            partial[e.adId].second += 1;
        }
    const std::vector<TopKEntry> phase1 = topOf(naiveSums, k);
    const double tau1 = phase1.size() >= k ? static_cast<double>(phase1.back().count) : 0.0;
    const double threshold = tau1 / m;
    s.tputShipped = s.naiveShipped;
    // Phase 2: every shard sends each (ad, count) with count ≥ τ1/m it has not sent yet.
    for (std::size_t i = 0; i < m_shards.size(); ++i) {
        std::unordered_map<AdId, bool> sent;
        for (const TopKEntry& e : locals[i])
            sent[e.adId] = true;
        m_shards[i]->forEachScratch([&](AdId ad, std::uint64_t n) {
            if (static_cast<double>(n) >= threshold && !sent.count(ad)) {
                partial[ad].first += n;
                partial[ad].second += 1;
                ++s.tputShipped;
            }
        });
    }
    std::unordered_map<AdId, std::uint64_t> lower;
    for (const auto& [ad, p] : partial)
        lower[ad] = p.first;
    const std::vector<TopKEntry> phase2 = topOf(lower, k);
    const double tau2 = phase2.size() >= k ? static_cast<double>(phase2.back().count) : 0.0;
    // A shard that did not send an ad holds fewer than τ1/m of it: that bounds the ad's total from above.
    // An ad no shard sent is below m·τ1/m = τ1 ≤ τ2 and cannot be in the top-K.
    std::unordered_map<AdId, std::uint64_t> tput;
    for (const auto& [ad, p] : partial) {
        const double upper = static_cast<double>(p.first) + (m - p.second) * threshold;
        if (upper < tau2)
            continue;
        // Phase 3: the exact count of each remaining candidate from every shard.
        std::uint64_t n = 0;
        for (const auto& t : m_shards)
            n += t->scratchCount(ad);
        tput[ad] = n;
        s.tputShipped += m_shards.size();
    }
    const std::vector<TopKEntry> tputTop = topOf(tput, k);

    std::uint64_t unusedError = 0;
    score(naive, s.naivePrecision, s.naiveMaxCountError);
    score(tputTop, s.tputPrecision, s.tputMaxCountError);
    score(merged, s.mergedPrecision, s.mergedMaxCountError);
    score(engine.exact, s.partitionedPrecision, unusedError);
    s.naiveTop1Wrong = !naive.empty() && trueCount(naive.front().adId) < engine.exact.front().count;
    m_samples.push_back(s);
}

void SimShardModel::figures(const std::string& prefix, QJsonObject& figures, QJsonObject& series) const
{
    auto put = [&](const char* name, double value) { figures.insert(QString::fromStdString(prefix + name), value); };
    double naiveMin = 1, tputMin = 1, mergedMin = 1, partitionedMin = 1, naiveSum = 0;
    std::uint64_t naiveErr = 0, tputErr = 0, mergedErr = 0, mismatches = 0, top1Wrong = 0;
    double naiveShipped = 0, tputShipped = 0, mergedShipped = 0;
    QJsonArray rows;
    for (const Sample& s : m_samples) {
        naiveMin = std::min(naiveMin, s.naivePrecision);
        tputMin = std::min(tputMin, s.tputPrecision);
        mergedMin = std::min(mergedMin, s.mergedPrecision);
        partitionedMin = std::min(partitionedMin, s.partitionedPrecision);
        naiveSum += s.naivePrecision;
        naiveErr = std::max(naiveErr, s.naiveMaxCountError);
        tputErr = std::max(tputErr, s.tputMaxCountError);
        mergedErr = std::max(mergedErr, s.mergedMaxCountError);
        mismatches += s.engineMismatches;
        top1Wrong += s.naiveTop1Wrong ? 1 : 0;
        naiveShipped += static_cast<double>(s.naiveShipped);
        tputShipped += static_cast<double>(s.tputShipped);
        mergedShipped += static_cast<double>(s.mergedShipped);
        rows.append(QJsonArray { static_cast<double>(s.offsetMs), s.naivePrecision, s.tputPrecision, s.mergedPrecision,
            s.partitionedPrecision, static_cast<double>(s.naiveMaxCountError),
            static_cast<double>(s.tputMaxCountError) });
    }
    const double n = m_samples.empty() ? 1.0 : static_cast<double>(m_samples.size());
    put("shard_model_shards", static_cast<double>(m_spec.shards));
    put("shard_model_samples", static_cast<double>(m_samples.size()));
    put("naive_topk_precision", m_samples.empty() ? 0.0 : naiveMin);
    put("naive_mean_topk_precision", m_samples.empty() ? 0.0 : std::round(naiveSum / n * 1000.0) / 1000.0);
    put("naive_max_count_error", static_cast<double>(naiveErr));
    put("naive_top1_wrong_windows", static_cast<double>(top1Wrong));
    put("tput_topk_precision", m_samples.empty() ? 0.0 : tputMin);
    put("tput_max_count_error", static_cast<double>(tputErr));
    put("merged_topk_precision", m_samples.empty() ? 0.0 : mergedMin);
    put("merged_max_count_error", static_cast<double>(mergedErr));
    put("partitioned_topk_precision", m_samples.empty() ? 0.0 : partitionedMin);
    put("merged_vs_engine_mismatches", static_cast<double>(mismatches));
    put("naive_mean_entries_shipped", std::round(naiveShipped / n));
    put("tput_mean_entries_shipped", std::round(tputShipped / n));
    put("merged_mean_entries_shipped", std::round(mergedShipped / n));
    series.insert(QString::fromStdString(prefix + "shard_samples"), rows);
}

} // namespace adclick::app
