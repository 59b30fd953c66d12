#pragma once

#include "core/click_event.h"
#include "core/flat_u64_map.h"
#include "sketch/count_min_sketch.h"
#include "window/topk_types.h"

#include <map>
#include <memory>
#include <vector>

namespace adclick::engine {

/// Sliding "top K ads" of one shard: event-time slots of slideMs, each holding an exact
/// per-ad count map and a Count-Min Sketch with a bounded candidate set (the ads whose
/// estimate was highest when they were last seen). The answer is computed on demand over
/// the last complete window (slots ending at the watermark, so no on-time event can still
/// change it) by prepareQuery(); mergeTopK() combines shards. Per-event cost: one hash
/// increment, one sketch update, one candidate check; no allocation once warm.
/// Not thread-safe: owned by its shard; queried between batches.
class TopKTracker {
public:
    explicit TopKTracker(TopKConfig config);
    ~TopKTracker();

    /// Counts one event of ad at eventTimeMs (events of already-dropped slots are ignored).
    void add(AdId ad, TimeMs eventTimeMs, std::uint32_t count = 1);
    /// count events of one ad at eventTimeMs (a batch pre-aggregated per slot and ad).
    struct Increment {
        AdId ad;
        std::uint32_t count;
        TimeMs eventTimeMs;
    };
    /// Same as add() for each increment in order, with the per-ad counters prefetched a few
    /// increments ahead: they are random accesses into arrays larger than the L2 cache.
    void add(const Increment* increments, std::size_t n);
    /// Prefetch hint for an event about to be added (same slot as the previous one only).
    void prefetch(AdId ad, TimeMs eventTimeMs) const
    {
        // Address arithmetic rather than a bounds-checked &dense[ad]: GCC 12 drops the latter
        // prefetch; one past the end is harmless (a prefetch never faults).
        if (m_cached && eventTimeMs >= m_cachedFromMs && eventTimeMs < m_cachedFromMs + m_config.slideMs) {
            if (ad < kDenseAds)
                __builtin_prefetch(m_cached->dense.data() + ad, 1, 1);
            else
                m_cached->exact.prefetch(adKey(ad));
        }
    }
    /// Drops slots that can no longer be part of a window ending at or after the watermark.
    void advanceWatermark(TimeMs watermarkMs);

    /// End of the latest complete window for a watermark (aligned down to slideMs).
    TimeMs windowEndFor(TimeMs watermarkMs) const;
    /// Merges the slots of [windowEnd − windowMs, windowEnd) into scratch structures.
    void prepareQuery(TimeMs windowEndMs);
    /// Prepared exact counts: f(AdId, count) for every ad with a non-zero count.
    template <typename F> void forEachScratch(F&& f) const
    {
        for (std::size_t ad = 0; ad < m_scratchDense.size(); ++ad)
            if (m_scratchDense[ad])
                f(static_cast<AdId>(ad), static_cast<std::uint64_t>(m_scratchDense[ad]));
        m_scratchExact.forEach([&](std::uint64_t key, std::uint64_t n) { f(static_cast<AdId>(key & 0xFFFFFFFFu), n); });
    }
    /// Prepared exact count of one ad (0 if unseen).
    std::uint64_t scratchCount(AdId ad) const
    {
        if (ad < kDenseAds)
            return ad < m_scratchDense.size() ? m_scratchDense[ad] : 0;
        const std::uint64_t* n = m_scratchExact.find(adKey(ad));
        return n ? *n : 0;
    }
    std::size_t scratchSize() const { return m_scratchNonZero; }
    const CountMinSketch& scratchSketch() const { return m_scratchSketch; }
    const std::vector<AdId>& scratchCandidates() const { return m_scratchCandidates; }
    std::uint64_t scratchTotal() const { return m_scratchTotal; }

    /// Index (eventTime / slideMs) of the oldest slot still kept; events of lower slots are ignored.
    std::int64_t lowestSlot() const { return m_lowestSlot; }
    std::uint64_t ignoredEvents() const { return m_ignored; }
    std::size_t slotCount() const { return m_slots.size(); }
    std::size_t sketchBytes() const;
    std::size_t exactBytes() const;
    const TopKConfig& config() const { return m_config; }

    static std::uint64_t adKey(AdId ad) { return static_cast<std::uint64_t>(ad) | (1ULL << 32); }
    /// Ads with ids below this are counted in a dense array per slot (the common numeric ids:
    /// an array is several times faster than a hash map); others in a hash map.
    static constexpr AdId kDenseAds = 1u << 22;

private:
    struct Candidate {
        AdId adId;
        std::uint32_t estimate;
    };
    struct Slot {
        Slot() = default;
        std::vector<std::uint32_t> dense; ///< exact counts of ads < kDenseAds
        FlatU64Map<std::uint32_t> exact { 16 }; ///< exact counts of other ads
        /// Allocated when the slot first sees more distinct ads than the candidate capacity. Until
        /// then every ad is a candidate with its exact count, which is also the best estimate; a
        /// slot of a few events (sparse input) then costs no sketch at all.
        std::unique_ptr<CountMinSketch> sketch;
        FlatU64Map<std::uint32_t> candidateIndex { 64 }; ///< ad key → index in candidates
        std::vector<Candidate> candidates;
        std::uint32_t minEstimate = 0; ///< lower bound of the smallest candidate estimate
        std::uint64_t events = 0;
        /// Empties the slot for reuse. While fewer than candidateCapacity ads were seen, every ad
        /// is a candidate, so only their entries are cleared (sparse data: a slot of a few events
        /// must not cost a memset of the whole sketch).
        void reset(std::uint32_t candidateCapacity);
        std::vector<std::uint64_t> keyScratch;
    };
    Slot& slotFor(std::int64_t index);
    /// Exact count of ad in slot s.
    static std::uint32_t slotCount(const Slot& s, AdId ad);
    /// Creates s's sketch from the exact counts of its candidates (= every ad it has seen).
    void materializeSketch(Slot& s);
    void trackCandidate(Slot& s, AdId ad, std::uint32_t estimate);

    TopKConfig m_config;
    std::uint32_t m_candidateCapacity;
    std::map<std::int64_t, std::unique_ptr<Slot>> m_slots;
    std::int64_t m_cachedIndex = INT64_MIN;
    Slot* m_cached = nullptr;
    TimeMs m_cachedFromMs = kMinTimeMs; ///< start of the cached slot
    std::int64_t m_lowestSlot = INT64_MIN; ///< slots below this are gone
    std::vector<std::unique_ptr<Slot>> m_pool;
    std::uint64_t m_ignored = 0;

    std::vector<std::uint32_t> m_scratchDense;
    FlatU64Map<std::uint64_t> m_scratchExact { 16 };
    std::size_t m_scratchNonZero = 0;
    CountMinSketch m_scratchSketch;
    std::vector<AdId> m_scratchCandidates;
    std::uint64_t m_scratchTotal = 0;
};

/// Combines prepared shard trackers (ads partitioned across shards by shardOfAd, so the
/// exact answer is exact) into one result with the approximate answer's bound and error.
/// Call prepareQuery(windowEndMs) on every shard first.
TopKResult mergeTopK(const std::vector<const TopKTracker*>& shards, TimeMs windowEndMs, std::uint32_t k);

} // namespace adclick::engine
