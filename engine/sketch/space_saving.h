#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace adclick::engine {

/// Space-Saving heavy-hitter summary (Metwally, Agrawal & El Abbadi 2005) over 64-bit keys,
/// mergeable as in Agarwal et al., "Mergeable Summaries" (2012).
///
/// Guarantee: with capacity k after a stream of total count N, every monitored key x has
/// count(x) − error(x) ≤ true(x) ≤ count(x) and error(x) ≤ errorBound() ≤ N / k; an unmonitored
/// key has true(x) ≤ errorBound(), so every key with true(x) > N / k is monitored. errorBound()
/// is the minimum counter once the summary is full and 0 before (all counts are then exact).
/// Both hold across merge().
///
/// Stream-summary layout: entries hang in buckets of equal count, buckets in a list by count, so
/// a unit update is O(1) (plus one expected-O(1) hash lookup); a weighted update also walks past
/// the buckets it overtakes.
/// When full, the entry that has sat longest in the minimum bucket is evicted. Deterministic: the
/// same updates and merges give the same summary, and serialization keeps the eviction order, so
/// a deserialized copy behaves exactly like the original. Storage grows with the monitored keys:
/// update() allocates only while the summary fills, never once it is full. Not thread-safe.
class SpaceSaving {
public:
    static constexpr std::uint8_t kSerialVersion = 1;
    static constexpr std::uint32_t kMaxCapacity = 1u << 24;

    struct Entry {
        std::uint64_t key;
        std::uint64_t count; ///< over-estimate of the key's true count
        std::uint64_t error; ///< count − error ≤ true count
        bool operator==(const Entry&) const = default;
    };

    /// capacity (the number of monitored keys k) is clamped to [1, kMaxCapacity].
    explicit SpaceSaving(std::uint32_t capacity);
    /// The capacity k with N / k ≤ ε·N, i.e. ceil(1 / ε).
    static std::uint32_t suggestCapacity(double epsilon);

    /// Adds count occurrences of key (count 0 is a no-op). Evicts the minimum entry when full.
    void update(std::uint64_t key, std::uint64_t count = 1);

    /// count(key) if monitored, else 0 — then the true count is at most errorBound().
    std::uint64_t estimate(std::uint64_t key) const;
    bool contains(std::uint64_t key) const { return findSlot(key) != kNone; }
    /// The monitored entry of key, if any.
    std::optional<Entry> entry(std::uint64_t key) const;
    /// Up to k entries, by count descending then key ascending.
    std::vector<Entry> topK(std::size_t k) const;

    std::uint64_t totalCount() const { return m_total; }
    /// The minimum counter when full, else 0: bounds every error and every unmonitored key.
    std::uint64_t errorBound() const;
    std::uint32_t capacity() const { return m_capacity; }
    std::size_t size() const { return m_nodes.size(); }
    std::size_t memoryBytes() const;

    /// Adds other's counts; a key missing on one side is padded with that side's errorBound()
    /// (as count and error), then the top capacity() entries are kept. The guarantee then holds
    /// for the union stream. False, and no change, if other's capacity is smaller than ours.
    bool merge(const SpaceSaving& other);
    void clear();

    /// Little-endian: "SSUM", version byte, capacity u32, size u32, total u64, then size entries
    /// (key u64, count u64, error u64) by count descending, equal counts in eviction order.
    std::vector<std::uint8_t> serialize() const;
    /// Rejects (nullopt, with a reason in *error) anything malformed or inconsistent: wrong magic
    /// or version, bad capacity or size, truncation, trailing bytes, increasing counts, duplicate keys,
    /// zero counts, error ≥ count, or counts that cannot come from a stream of the stated total.
    static std::optional<SpaceSaving> deserialize(std::span<const std::uint8_t> bytes, std::string* error = nullptr);

private:
    static constexpr std::uint32_t kNone = UINT32_MAX;
    struct Node {
        std::uint64_t key;
        std::uint64_t error;
        std::uint32_t bucket;
        std::uint32_t prev; // within the bucket, towards its head (evicted first)
        std::uint32_t next;
    };
    struct Bucket {
        std::uint64_t count;
        std::uint32_t head;
        std::uint32_t tail;
        std::uint32_t lower; // neighbouring buckets by count; kNone at the ends
        std::uint32_t higher;
    };
    struct MapSlot {
        std::uint64_t key;
        std::uint32_t node; // kNone = empty
        std::uint32_t home; // the key's home slot, so erase never rehashes
    };

    std::uint32_t findSlot(std::uint64_t key) const;
    void mapInsert(std::uint64_t key, std::uint32_t node);
    void mapErase(std::uint64_t key);
    void growMap();
    std::uint32_t newBucket(std::uint64_t count, std::uint32_t lower, std::uint32_t higher);
    void freeBucket(std::uint32_t b);
    void attach(std::uint32_t node, std::uint32_t b);
    void detach(std::uint32_t node);
    // Puts a detached node into the bucket of count, searching upwards from bucket `below`
    // (whose count is lower; kNone = from the minimum).
    void place(std::uint32_t node, std::uint32_t below, std::uint64_t count);
    void increment(std::uint32_t node, std::uint64_t count);
    // Entries in serialization order: buckets by count descending, each from head to tail.
    std::vector<Entry> internalOrder() const;
    // Replaces the contents with entries (≤ capacity, counts non-increasing, in bucket order);
    // false on a duplicate key or an increasing count.
    bool rebuild(const std::vector<Entry>& entries);

    std::uint32_t m_capacity;
    std::uint64_t m_total = 0;
    std::vector<Node> m_nodes; // one per monitored key
    std::vector<Bucket> m_buckets; // pool; free ones are chained through `higher`
    std::uint32_t m_freeBucket = kNone;
    std::uint32_t m_minBucket = kNone;
    std::uint32_t m_maxBucket = kNone;
    // key → node. Open addressing, linear probing, load ≤ 1/4, backward-shift erase.
    std::vector<MapSlot> m_map;
    std::uint64_t m_mapMask = 0;
};

} // namespace adclick::engine
