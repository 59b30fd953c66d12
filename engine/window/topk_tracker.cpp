#include "window/topk_tracker.h"

#include <algorithm>

namespace adclick::engine {

namespace {
CountMinSketch makeSketch(const TopKConfig& c)
{
    return CountMinSketch::forError(c.epsilon, c.delta, c.sketchSeed);
}
} // namespace

void TopKTracker::Slot::reset(std::uint32_t candidateCapacity)
{
    if (candidates.size() < candidateCapacity) {
        keyScratch.clear();
        for (const Candidate& c : candidates) {
            if (c.adId < dense.size())
                dense[c.adId] = 0;
            keyScratch.push_back(adKey(c.adId));
        }
        if (sketch)
            sketch->clearKeys(keyScratch);
    } else {
        std::fill(dense.begin(), dense.end(), 0u);
        if (sketch)
            sketch->clear();
    }
    exact.clear();
    candidateIndex.clear();
    candidates.clear();
    minEstimate = 0;
    events = 0;
}

TopKTracker::TopKTracker(TopKConfig config)
    : m_config(config)
    , m_candidateCapacity(config.candidates ? config.candidates : std::max<std::uint32_t>(4 * config.k, 256))
    , m_scratchSketch(makeSketch(config))
{
    if (m_config.slideMs <= 0)
        m_config.slideMs = 10 * kMsPerSecond;
    if (m_config.windowMs < m_config.slideMs)
        m_config.windowMs = m_config.slideMs;
}

TopKTracker::~TopKTracker() = default;

TopKTracker::Slot& TopKTracker::slotFor(std::int64_t index)
{
    auto it = m_slots.find(index);
    if (it == m_slots.end()) {
        std::unique_ptr<Slot> s;
        if (!m_pool.empty()) {
            s = std::move(m_pool.back());
            m_pool.pop_back();
        } else {
            s = std::make_unique<Slot>();
        }
        it = m_slots.emplace(index, std::move(s)).first;
    }
    m_cachedIndex = index;
    m_cached = it->second.get();
    return *m_cached;
}

void TopKTracker::add(AdId ad, TimeMs eventTimeMs, std::uint32_t count)
{
    Slot* slot = m_cached;
    if (eventTimeMs < m_cachedFromMs || eventTimeMs >= m_cachedFromMs + m_config.slideMs || !slot) {
        const std::int64_t index = windowStartOf(eventTimeMs, m_config.slideMs) / m_config.slideMs;
        if (index < m_lowestSlot) {
            m_ignored += count;
            return;
        }
        slot = &slotFor(index);
        m_cachedFromMs = index * m_config.slideMs;
    }
    Slot& s = *slot;
    const std::uint64_t key = adKey(ad);
    if (ad < kDenseAds) {
        if (ad >= s.dense.size()) // grows a few times per slot lifetime, then never
            s.dense.resize(std::min<std::size_t>(kDenseAds, std::max<std::size_t>(ad + 1, s.dense.size() * 2)), 0u);
        s.dense[ad] += count;
    } else {
        s.exact[key] += count;
    }
    s.events += count;
    if (!s.sketch) [[unlikely]] {
        if (s.candidates.size() < m_candidateCapacity || s.candidateIndex.contains(key)) {
            trackCandidate(s, ad, slotCount(s, ad));
            return;
        }
        materializeSketch(s);
    }
    trackCandidate(s, ad, s.sketch->updateAndEstimate(key, count));
}

std::uint32_t TopKTracker::slotCount(const Slot& s, AdId ad)
{
    if (ad < kDenseAds)
        return ad < s.dense.size() ? s.dense[ad] : 0;
    const std::uint32_t* n = s.exact.find(adKey(ad));
    return n ? *n : 0;
}

void TopKTracker::materializeSketch(Slot& s)
{
    s.sketch = std::make_unique<CountMinSketch>(makeSketch(m_config));
    for (const Candidate& c : s.candidates)
        s.sketch->update(adKey(c.adId), slotCount(s, c.adId));
}

void TopKTracker::add(const Increment* increments, std::size_t n)
{
    constexpr std::size_t kAhead = 8;
    for (std::size_t i = 0; i < n; ++i) {
        if (i + kAhead < n) {
            const AdId ad = increments[i + kAhead].ad;
            // Into the slot of the previous increment (a batch spans one or two slots).
            if (m_cached && ad < kDenseAds)
                __builtin_prefetch(m_cached->dense.data() + ad, 1, 1);
        }
        add(increments[i].ad, increments[i].eventTimeMs, increments[i].count);
    }
}

void TopKTracker::trackCandidate(Slot& s, AdId ad, std::uint32_t estimate)
{
    const std::uint64_t key = adKey(ad);
    if (std::uint32_t* idx = s.candidateIndex.find(key)) {
        s.candidates[*idx].estimate = estimate;
        return;
    }
    if (s.candidates.size() < m_candidateCapacity) {
        s.candidateIndex[key] = static_cast<std::uint32_t>(s.candidates.size());
        s.candidates.push_back({ ad, estimate });
        s.minEstimate = s.candidates.size() == 1 ? estimate : std::min(s.minEstimate, estimate);
        return;
    }
    if (estimate <= s.minEstimate)
        return;
    // minEstimate may be stale-low (candidates only grow): find the real minimum.
    std::size_t minIdx = 0;
    for (std::size_t i = 1; i < s.candidates.size(); ++i)
        if (s.candidates[i].estimate < s.candidates[minIdx].estimate)
            minIdx = i;
    if (estimate > s.candidates[minIdx].estimate) {
        s.candidateIndex.erase(adKey(s.candidates[minIdx].adId));
        s.candidates[minIdx] = { ad, estimate };
        s.candidateIndex[key] = static_cast<std::uint32_t>(minIdx);
        std::uint32_t m = estimate;
        for (const auto& c : s.candidates)
            m = std::min(m, c.estimate);
        s.minEstimate = m;
    } else {
        s.minEstimate = s.candidates[minIdx].estimate;
    }
}

TimeMs TopKTracker::windowEndFor(TimeMs watermarkMs) const
{
    return windowStartOf(watermarkMs, m_config.slideMs);
}

void TopKTracker::advanceWatermark(TimeMs watermarkMs)
{
    if (watermarkMs <= kMinTimeMs)
        return;
    const TimeMs end = windowEndFor(watermarkMs);
    const std::int64_t lowest = (end - m_config.windowMs) / m_config.slideMs;
    if (lowest <= m_lowestSlot)
        return;
    m_lowestSlot = lowest;
    while (!m_slots.empty() && m_slots.begin()->first < lowest) {
        std::unique_ptr<Slot> s = std::move(m_slots.begin()->second);
        m_slots.erase(m_slots.begin());
        if (s.get() == m_cached) {
            m_cached = nullptr;
            m_cachedIndex = INT64_MIN;
            m_cachedFromMs = kMinTimeMs;
        }
        s->reset(m_candidateCapacity);
        if (m_pool.size() < 4)
            m_pool.push_back(std::move(s));
    }
}

void TopKTracker::prepareQuery(TimeMs windowEndMs)
{
    m_scratchExact.clear();
    std::fill(m_scratchDense.begin(), m_scratchDense.end(), 0u);
    m_scratchNonZero = 0;
    m_scratchSketch.clear();
    m_scratchCandidates.clear();
    m_scratchTotal = 0;
    const std::int64_t first = (windowEndMs - m_config.windowMs) / m_config.slideMs;
    const std::int64_t last = windowEndMs / m_config.slideMs; // exclusive
    FlatU64Map<std::uint8_t> seen(256);
    for (auto it = m_slots.lower_bound(first); it != m_slots.end() && it->first < last; ++it) {
        const Slot& s = *it->second;
        if (s.dense.size() > m_scratchDense.size())
            m_scratchDense.resize(s.dense.size(), 0u);
        for (std::size_t i = 0; i < s.dense.size(); ++i)
            m_scratchDense[i] += s.dense[i];
        s.exact.forEach([&](std::uint64_t k, std::uint32_t n) { m_scratchExact[k] += n; });
        if (s.sketch)
            m_scratchSketch.merge(*s.sketch);
        else
            for (const auto& c : s.candidates)
                m_scratchSketch.update(adKey(c.adId), slotCount(s, c.adId));
        for (const auto& c : s.candidates) {
            std::uint8_t& mark = seen[adKey(c.adId)];
            if (!mark) {
                mark = 1;
                m_scratchCandidates.push_back(c.adId);
            }
        }
        m_scratchTotal += s.events;
    }
    for (std::uint32_t n : m_scratchDense)
        m_scratchNonZero += n != 0;
    m_scratchNonZero += m_scratchExact.size();
}

std::size_t TopKTracker::sketchBytes() const
{
    std::size_t n = 0;
    for (const auto& [i, s] : m_slots)
        n += (s->sketch ? s->sketch->memoryBytes() : 0) + s->candidateIndex.memoryBytes()
            + s->candidates.capacity() * sizeof(Candidate);
    return n;
}

std::size_t TopKTracker::exactBytes() const
{
    std::size_t n = 0;
    for (const auto& [i, s] : m_slots)
        n += s->exact.memoryBytes() + s->dense.capacity() * sizeof(std::uint32_t);
    return n;
}

namespace {
bool byCountThenAd(const TopKEntry& a, const TopKEntry& b)
{
    return a.count != b.count ? a.count > b.count : a.adId < b.adId;
}
} // namespace

TopKResult mergeTopK(const std::vector<const TopKTracker*>& shards, TimeMs windowEndMs, std::uint32_t k)
{
    TopKResult r;
    if (shards.empty())
        return r;
    const TopKConfig& cfg = shards.front()->config();
    r.valid = true;
    r.k = k;
    r.shards = static_cast<std::uint32_t>(shards.size());
    r.windowEndMs = windowEndMs;
    r.windowStartMs = windowEndMs - cfg.windowMs;

    // Exact: ads are partitioned across shards, so the global top-K is the top-K of the union.
    std::vector<TopKEntry> all;
    for (const TopKTracker* t : shards) {
        std::vector<TopKEntry> local;
        local.reserve(t->scratchSize());
        t->forEachScratch([&](AdId ad, std::uint64_t n) { local.push_back({ ad, n }); });
        const std::size_t keep = std::min<std::size_t>(k, local.size());
        std::partial_sort(local.begin(), local.begin() + static_cast<std::ptrdiff_t>(keep), local.end(), byCountThenAd);
        all.insert(all.end(), local.begin(), local.begin() + static_cast<std::ptrdiff_t>(keep));
        r.totalEvents += t->scratchTotal();
        r.sketchBytes += t->sketchBytes();
        r.exactBytes += t->exactBytes();
    }
    std::sort(all.begin(), all.end(), byCountThenAd);
    if (all.size() > k)
        all.resize(k);
    r.exact = std::move(all);

    // Approximate: the union of the shards' sketches (same shape and seed) estimates every candidate.
    CountMinSketch merged = shards.front()->scratchSketch();
    for (std::size_t i = 1; i < shards.size(); ++i)
        merged.merge(shards[i]->scratchSketch());
    std::vector<TopKEntry> approx;
    for (const TopKTracker* t : shards)
        for (AdId ad : t->scratchCandidates())
            approx.push_back({ ad, merged.estimate(TopKTracker::adKey(ad)) });
    std::sort(approx.begin(), approx.end(), byCountThenAd);
    if (approx.size() > k)
        approx.resize(k);
    r.epsilon = merged.epsilon();
    r.delta = merged.delta();
    r.errorBound = merged.errorBound();

    FlatU64Map<std::uint8_t> exactSet(2 * r.exact.size() + 16);
    for (const auto& e : r.exact)
        exactSet[TopKTracker::adKey(e.adId)] = 1;
    std::size_t hits = 0;
    double errSum = 0;
    for (const auto& a : approx) {
        const std::uint64_t key = TopKTracker::adKey(a.adId);
        std::uint64_t exact = 0;
        for (const TopKTracker* t : shards)
            exact += t->scratchCount(a.adId);
        const std::uint64_t err = a.count >= exact ? a.count - exact : exact - a.count;
        r.maxAbsError = std::max(r.maxAbsError, err);
        errSum += static_cast<double>(err);
        if (err > r.errorBound)
            r.withinBound = false;
        // Tie-aware: an ad whose exact count equals the K-th exact count is as right as the one listed.
        const bool tiesKth = r.exact.size() == k && !r.exact.empty() && exact > 0 && exact >= r.exact.back().count;
        if (exactSet.contains(key) || tiesKth)
            ++hits;
        r.approx.push_back({ a.adId, a.count, exact });
    }
    r.meanAbsError = approx.empty() ? 0 : errSum / static_cast<double>(approx.size());
    r.precision = r.exact.empty() ? 1.0 : static_cast<double>(hits) / static_cast<double>(r.exact.size());
    return r;
}

} // namespace adclick::engine
