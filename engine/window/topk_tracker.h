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
    void add(AdId ad, TimeMs eventTimeMs);
    /// Drops slots that can no longer be part of a window ending at or after the watermark.
    void advanceWatermark(TimeMs watermarkMs);

    /// End of the latest complete window for a watermark (aligned down to slideMs).
    TimeMs windowEndFor(TimeMs watermarkMs) const;
    /// Merges the slots of [windowEnd − windowMs, windowEnd) into scratch structures.
    void prepareQuery(TimeMs windowEndMs);
    const FlatU64Map<std::uint64_t>& scratchExact() const { return m_scratchExact; }
    const CountMinSketch& scratchSketch() const { return m_scratchSketch; }
    const std::vector<AdId>& scratchCandidates() const { return m_scratchCandidates; }
    std::uint64_t scratchTotal() const { return m_scratchTotal; }

    std::uint64_t ignoredEvents() const { return m_ignored; }
    std::size_t slotCount() const { return m_slots.size(); }
    std::size_t sketchBytes() const;
    std::size_t exactBytes() const;
    const TopKConfig& config() const { return m_config; }

    static std::uint64_t adKey(AdId ad) { return static_cast<std::uint64_t>(ad) | (1ULL << 32); }

private:
    struct Candidate {
        AdId adId;
        std::uint32_t estimate;
    };
    struct Slot {
        explicit Slot(const TopKConfig& c);
        FlatU64Map<std::uint32_t> exact { 1024 };
        CountMinSketch sketch;
        FlatU64Map<std::uint32_t> candidateIndex { 64 }; ///< ad key → index in candidates
        std::vector<Candidate> candidates;
        std::uint32_t minEstimate = 0; ///< lower bound of the smallest candidate estimate
        std::uint64_t events = 0;
        void reset();
    };
    Slot& slotFor(std::int64_t index);
    void trackCandidate(Slot& s, AdId ad, std::uint32_t estimate);

    TopKConfig m_config;
    std::uint32_t m_candidateCapacity;
    std::map<std::int64_t, std::unique_ptr<Slot>> m_slots;
    std::int64_t m_cachedIndex = INT64_MIN;
    Slot* m_cached = nullptr;
    std::int64_t m_lowestSlot = INT64_MIN; ///< slots below this are gone
    std::vector<std::unique_ptr<Slot>> m_pool;
    std::uint64_t m_ignored = 0;

    FlatU64Map<std::uint64_t> m_scratchExact { 1024 };
    CountMinSketch m_scratchSketch;
    std::vector<AdId> m_scratchCandidates;
    std::uint64_t m_scratchTotal = 0;
};

/// Combines prepared shard trackers (ads partitioned across shards by shardOfAd, so the
/// exact answer is exact) into one result with the approximate answer's bound and error.
/// Call prepareQuery(windowEndMs) on every shard first.
TopKResult mergeTopK(const std::vector<const TopKTracker*>& shards, TimeMs windowEndMs, std::uint32_t k);

} // namespace adclick::engine
