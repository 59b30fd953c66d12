#include "sketch/space_saving.h"

#include "core/hash.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace adclick::engine {

namespace {
constexpr char kMagic[4] = { 'S', 'S', 'U', 'M' };
constexpr std::size_t kHeaderBytes = 4 + 1 + 4 + 4 + 8;
constexpr std::size_t kEntryBytes = 24; // key, count, error
constexpr std::size_t kInitialMapSlots = 16;
// Load ≤ 1/4: a miss (most updates of a long tail) ends within a probe or two.
constexpr std::size_t kMapSlotsPerKey = 4;

// Counts saturate instead of wrapping (only reachable with adversarial weights).
std::uint64_t addSat(std::uint64_t a, std::uint64_t b)
{
    const std::uint64_t s = a + b;
    return s < a ? UINT64_MAX : s;
}
// topK order: count descending, then key ascending.
bool ranksBefore(const SpaceSaving::Entry& a, const SpaceSaving::Entry& b)
{
    return a.count > b.count || (a.count == b.count && a.key < b.key);
}
template <typename T> void put(std::vector<std::uint8_t>& out, T v)
{
    for (std::size_t i = 0; i < sizeof(T); ++i)
        out.push_back(static_cast<std::uint8_t>(static_cast<std::uint64_t>(v) >> (8 * i)));
}
template <typename T> T get(const std::uint8_t* p)
{
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
        v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
    return static_cast<T>(v);
}
bool fail(std::string* error, const char* why)
{
    if (error)
        *error = why;
    return false;
}
} // namespace

SpaceSaving::SpaceSaving(std::uint32_t capacity)
    : m_capacity(std::clamp<std::uint32_t>(capacity, 1, kMaxCapacity))
    , m_map(kInitialMapSlots, MapSlot { 0, kNone, 0 })
    , m_mapMask(kInitialMapSlots - 1)
{
}

std::uint32_t SpaceSaving::suggestCapacity(double epsilon)
{
    if (!(epsilon > 0))
        return kMaxCapacity;
    const double k = std::ceil(1.0 / epsilon);
    return k >= kMaxCapacity ? kMaxCapacity : std::max<std::uint32_t>(1, static_cast<std::uint32_t>(k));
}

std::uint32_t SpaceSaving::findSlot(std::uint64_t key) const
{
    for (std::uint64_t i = mix64(key) & m_mapMask;; i = (i + 1) & m_mapMask) {
        const MapSlot& m = m_map[i];
        if (m.node == kNone || m.key == key)
            return m.node;
    }
}

void SpaceSaving::mapInsert(std::uint64_t key, std::uint32_t node)
{
    const auto home = static_cast<std::uint32_t>(mix64(key) & m_mapMask);
    std::uint64_t i = home;
    while (m_map[i].node != kNone)
        i = (i + 1) & m_mapMask;
    m_map[i] = { key, node, home };
}

void SpaceSaving::mapErase(std::uint64_t key)
{
    std::uint64_t i = mix64(key) & m_mapMask;
    while (m_map[i].key != key || m_map[i].node == kNone)
        i = (i + 1) & m_mapMask;
    // Backward shift: pull later members of the probe run into the hole unless that would put
    // them before their home slot.
    for (std::uint64_t j = (i + 1) & m_mapMask; m_map[j].node != kNone; j = (j + 1) & m_mapMask) {
        if (((j - m_map[j].home) & m_mapMask) >= ((j - i) & m_mapMask)) {
            m_map[i] = m_map[j];
            i = j;
        }
    }
    m_map[i].node = kNone;
}

void SpaceSaving::growMap()
{
    m_map.assign(m_map.size() * 2, MapSlot { 0, kNone, 0 });
    m_mapMask = m_map.size() - 1;
    for (std::uint32_t n = 0; n < m_nodes.size(); ++n)
        mapInsert(m_nodes[n].key, n);
}

std::uint32_t SpaceSaving::newBucket(std::uint64_t count, std::uint32_t lower, std::uint32_t higher)
{
    std::uint32_t b = m_freeBucket;
    if (b != kNone) {
        m_freeBucket = m_buckets[b].higher;
    } else {
        b = static_cast<std::uint32_t>(m_buckets.size());
        m_buckets.emplace_back();
    }
    m_buckets[b] = { count, kNone, kNone, lower, higher };
    (lower == kNone ? m_minBucket : m_buckets[lower].higher) = b;
    (higher == kNone ? m_maxBucket : m_buckets[higher].lower) = b;
    return b;
}

void SpaceSaving::freeBucket(std::uint32_t b)
{
    const Bucket& bucket = m_buckets[b];
    (bucket.lower == kNone ? m_minBucket : m_buckets[bucket.lower].higher) = bucket.higher;
    (bucket.higher == kNone ? m_maxBucket : m_buckets[bucket.higher].lower) = bucket.lower;
    m_buckets[b].higher = m_freeBucket;
    m_freeBucket = b;
}

void SpaceSaving::attach(std::uint32_t node, std::uint32_t b)
{
    Bucket& bucket = m_buckets[b];
    Node& n = m_nodes[node];
    n.bucket = b;
    n.prev = bucket.tail;
    n.next = kNone;
    (bucket.tail == kNone ? bucket.head : m_nodes[bucket.tail].next) = node;
    bucket.tail = node;
}

void SpaceSaving::detach(std::uint32_t node)
{
    const Node& n = m_nodes[node];
    Bucket& bucket = m_buckets[n.bucket];
    (n.prev == kNone ? bucket.head : m_nodes[n.prev].next) = n.next;
    (n.next == kNone ? bucket.tail : m_nodes[n.next].prev) = n.prev;
}

void SpaceSaving::place(std::uint32_t node, std::uint32_t below, std::uint64_t count)
{
    std::uint32_t higher = below == kNone ? m_minBucket : m_buckets[below].higher;
    while (higher != kNone && m_buckets[higher].count < count) {
        below = higher;
        higher = m_buckets[higher].higher;
    }
    if (higher != kNone && m_buckets[higher].count == count)
        attach(node, higher);
    else
        attach(node, newBucket(count, below, higher));
}

void SpaceSaving::increment(std::uint32_t node, std::uint64_t count)
{
    const std::uint32_t b = m_nodes[node].bucket;
    Bucket& bucket = m_buckets[b];
    const std::uint64_t newCount = addSat(bucket.count, count);
    if (newCount == bucket.count)
        return;
    // Alone in its bucket and not overtaking the next one: the bucket itself moves up.
    if (bucket.head == bucket.tail && (bucket.higher == kNone || m_buckets[bucket.higher].count > newCount)) {
        bucket.count = newCount;
        return;
    }
    detach(node);
    if (bucket.head == kNone) {
        const std::uint32_t below = bucket.lower;
        freeBucket(b);
        place(node, below, newCount);
    } else {
        place(node, b, newCount);
    }
}

void SpaceSaving::update(std::uint64_t key, std::uint64_t count)
{
    if (count == 0)
        return;
    m_total = addSat(m_total, count);
    if (const std::uint32_t n = findSlot(key); n != kNone) {
        increment(n, count);
        return;
    }
    if (m_nodes.size() < m_capacity) {
        if ((m_nodes.size() + 1) * kMapSlotsPerKey > m_map.size())
            growMap();
        const auto n = static_cast<std::uint32_t>(m_nodes.size());
        m_nodes.push_back({ key, 0, kNone, kNone, kNone });
        mapInsert(key, n);
        place(n, kNone, count);
        // There are never more buckets than entries: once full, the pool never grows.
        if (m_nodes.size() == m_capacity)
            m_buckets.reserve(m_capacity);
        return;
    }
    // Full: the new key takes over the oldest entry of the minimum bucket; its count becomes
    // the new key's error.
    const std::uint32_t n = m_buckets[m_minBucket].head;
    mapErase(m_nodes[n].key);
    m_nodes[n].key = key;
    m_nodes[n].error = m_buckets[m_minBucket].count;
    mapInsert(key, n);
    increment(n, count);
}

std::uint64_t SpaceSaving::estimate(std::uint64_t key) const
{
    const std::uint32_t n = findSlot(key);
    return n == kNone ? 0 : m_buckets[m_nodes[n].bucket].count;
}

std::optional<SpaceSaving::Entry> SpaceSaving::entry(std::uint64_t key) const
{
    const std::uint32_t n = findSlot(key);
    if (n == kNone)
        return std::nullopt;
    return Entry { key, m_buckets[m_nodes[n].bucket].count, m_nodes[n].error };
}

std::vector<SpaceSaving::Entry> SpaceSaving::topK(std::size_t k) const
{
    std::vector<Entry> all;
    all.reserve(m_nodes.size());
    for (const Node& n : m_nodes)
        all.push_back({ n.key, m_buckets[n.bucket].count, n.error });
    k = std::min(k, all.size());
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(), ranksBefore);
    all.resize(k);
    return all;
}

std::uint64_t SpaceSaving::errorBound() const
{
    return m_nodes.size() == m_capacity ? m_buckets[m_minBucket].count : 0;
}

std::size_t SpaceSaving::memoryBytes() const
{
    return sizeof(*this) + m_nodes.capacity() * sizeof(Node) + m_buckets.capacity() * sizeof(Bucket)
        + m_map.capacity() * sizeof(MapSlot);
}

std::vector<SpaceSaving::Entry> SpaceSaving::internalOrder() const
{
    std::vector<Entry> out;
    out.reserve(m_nodes.size());
    for (std::uint32_t b = m_maxBucket; b != kNone; b = m_buckets[b].lower)
        for (std::uint32_t n = m_buckets[b].head; n != kNone; n = m_nodes[n].next)
            out.push_back({ m_nodes[n].key, m_buckets[b].count, m_nodes[n].error });
    return out;
}

bool SpaceSaving::rebuild(const std::vector<Entry>& entries)
{
    clear();
    std::size_t slots = kInitialMapSlots;
    while (slots < entries.size() * kMapSlotsPerKey)
        slots *= 2;
    if (slots > m_map.size()) {
        m_map.assign(slots, MapSlot { 0, kNone, 0 });
        m_mapMask = slots - 1;
    }
    m_nodes.reserve(entries.size());
    for (const Entry& e : entries) {
        if (findSlot(e.key) != kNone)
            return false;
        if (m_minBucket != kNone && m_buckets[m_minBucket].count < e.count)
            return false;
        const auto n = static_cast<std::uint32_t>(m_nodes.size());
        m_nodes.push_back({ e.key, e.error, kNone, kNone, kNone });
        mapInsert(e.key, n);
        if (m_minBucket == kNone || m_buckets[m_minBucket].count != e.count)
            newBucket(e.count, kNone, m_minBucket);
        attach(n, m_minBucket);
    }
    if (m_nodes.size() == m_capacity)
        m_buckets.reserve(m_capacity);
    return true;
}

bool SpaceSaving::merge(const SpaceSaving& other)
{
    if (other.m_capacity < m_capacity)
        return false;
    // A key one side does not monitor has at most that side's errorBound() there (0 if that side
    // never evicted), so padding with it keeps count ≥ true and count − error ≤ true. Everything is
    // read before anything is written, so merging a summary into itself doubles it.
    const std::uint64_t padMine = errorBound();
    const std::uint64_t padOther = other.errorBound();
    std::vector<Entry> combined;
    combined.reserve(m_nodes.size() + other.m_nodes.size());
    for (const Node& n : m_nodes) {
        const std::uint32_t o = other.findSlot(n.key);
        const std::uint64_t addCount = o == kNone ? padOther : other.m_buckets[other.m_nodes[o].bucket].count;
        const std::uint64_t addError = o == kNone ? padOther : other.m_nodes[o].error;
        combined.push_back({ n.key, addSat(m_buckets[n.bucket].count, addCount), addSat(n.error, addError) });
    }
    for (const Node& o : other.m_nodes) {
        if (findSlot(o.key) == kNone)
            combined.push_back({ o.key, addSat(other.m_buckets[o.bucket].count, padMine), addSat(o.error, padMine) });
    }
    // Canonical order (count descending, key ascending) so merge(a, b) equals merge(b, a).
    const auto keep = std::min<std::size_t>(combined.size(), m_capacity);
    std::partial_sort(
        combined.begin(), combined.begin() + static_cast<std::ptrdiff_t>(keep), combined.end(), ranksBefore);
    combined.resize(keep);
    const std::uint64_t total = addSat(m_total, other.m_total);
    rebuild(combined);
    m_total = total;
    return true;
}

void SpaceSaving::clear()
{
    m_total = 0;
    m_nodes.clear();
    m_buckets.clear();
    m_freeBucket = m_minBucket = m_maxBucket = kNone;
    std::fill(m_map.begin(), m_map.end(), MapSlot { 0, kNone, 0 });
}

std::vector<std::uint8_t> SpaceSaving::serialize() const
{
    std::vector<std::uint8_t> out;
    out.reserve(kHeaderBytes + m_nodes.size() * kEntryBytes);
    for (char m : kMagic)
        out.push_back(static_cast<std::uint8_t>(m));
    out.push_back(kSerialVersion);
    put(out, m_capacity);
    put(out, static_cast<std::uint32_t>(m_nodes.size()));
    put(out, m_total);
    for (const Entry& e : internalOrder()) {
        put(out, e.key);
        put(out, e.count);
        put(out, e.error);
    }
    return out;
}

std::optional<SpaceSaving> SpaceSaving::deserialize(std::span<const std::uint8_t> bytes, std::string* error)
{
    if (bytes.size() < kHeaderBytes)
        return fail(error, "truncated header"), std::nullopt;
    const std::uint8_t* p = bytes.data();
    if (std::memcmp(p, kMagic, 4) != 0)
        return fail(error, "not a Space-Saving summary (bad magic)"), std::nullopt;
    if (p[4] != kSerialVersion)
        return fail(error, "unsupported version"), std::nullopt;
    const auto capacity = get<std::uint32_t>(p + 5);
    const auto size = get<std::uint32_t>(p + 9);
    const auto total = get<std::uint64_t>(p + 13);
    if (capacity == 0 || capacity > kMaxCapacity)
        return fail(error, "capacity out of range"), std::nullopt;
    if (size > capacity)
        return fail(error, "more entries than capacity"), std::nullopt;
    // Checked before anything is allocated: memory stays proportional to the input.
    const std::size_t expected = kHeaderBytes + static_cast<std::size_t>(size) * kEntryBytes;
    if (bytes.size() != expected)
        return fail(error, bytes.size() < expected ? "truncated entries" : "trailing bytes"), std::nullopt;

    std::vector<Entry> entries(size);
    for (std::size_t i = 0; i < size; ++i) {
        const std::uint8_t* e = p + kHeaderBytes + i * kEntryBytes;
        entries[i] = { get<std::uint64_t>(e), get<std::uint64_t>(e + 8), get<std::uint64_t>(e + 16) };
        if (entries[i].error >= entries[i].count)
            return fail(error, "entry error not below its count"), std::nullopt;
        if (i > 0 && entries[i - 1].count < entries[i].count)
            return fail(error, "entries not in count order"), std::nullopt;
    }
    // Counts of a full summary sum to at most N (exactly N without merges) and every error is at
    // most the minimum counter; before it fills, nothing was evicted, so counts are exact.
    std::uint64_t sum = 0;
    for (const Entry& e : entries) {
        if (e.count > total - sum)
            return fail(error, "counts exceed the total"), std::nullopt;
        sum += e.count;
    }
    if (size < capacity) {
        if (sum != total)
            return fail(error, "counts of a summary that never evicted do not add up to the total"), std::nullopt;
        for (const Entry& e : entries)
            if (e.error != 0)
                return fail(error, "error in a summary that never evicted"), std::nullopt;
    } else {
        const std::uint64_t minCount = entries.back().count;
        for (const Entry& e : entries)
            if (e.error > minCount)
                return fail(error, "error above the minimum counter"), std::nullopt;
    }
    SpaceSaving s(capacity);
    if (!s.rebuild(entries))
        return fail(error, "duplicate key"), std::nullopt;
    s.m_total = total;
    return s;
}

} // namespace adclick::engine
