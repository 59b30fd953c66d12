#pragma once

#include "core/hash.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace adclick::engine {

/// Open-addressing hash map from non-zero 64-bit keys to trivially copyable values
/// (linear probing, power-of-two capacity, max load 3/4: large tables stay cache-sized). Key 0 marks an empty slot, so
/// callers must never insert 0. No erase: tables are cleared or dropped as a whole
/// (windows, slots, generations), which keeps probing simple and the hot path branch-light.
/// Not thread-safe.
template <typename V> class FlatU64Map {
public:
    using value_type = V;
    struct Slot {
        std::uint64_t key;
        V value;
    };

    static_assert(std::is_trivially_copyable_v<V>, "values are moved with memcpy and zeroed with memset");

    explicit FlatU64Map(std::size_t initialCapacity = 16) { allocate(roundUp(initialCapacity)); }
    FlatU64Map(FlatU64Map&&) noexcept = default;
    FlatU64Map& operator=(FlatU64Map&&) noexcept = default;

    /// Reference to the value of key, default-constructing it (V{}) when new. key != 0.
    V& operator[](std::uint64_t key) { return findOrInsert(key, hashOf(key)); }

    /// The hash operator[] and prefetchHash() use: a caller that computes it once per key can
    /// prefetch the slot early and then update it without hashing again.
    static std::uint64_t hashOf(std::uint64_t key) { return mix64(key); }
    /// operator[] with the key's hashOf() already computed. key != 0.
    V& findOrInsert(std::uint64_t key, std::uint64_t hash)
    {
        std::size_t i = hash & m_mask;
        while (true) {
            Slot& s = m_slots[i];
            if (s.key == key) [[likely]]
                return s.value;
            if (s.key == 0) {
                if ((m_size + 1) * 4 > m_capacity * 3) [[unlikely]] {
                    grow();
                    return findOrInsert(key, hash);
                }
                s.key = key;
                s.value = V {};
                ++m_size;
                return s.value;
            }
            i = (i + 1) & m_mask;
        }
    }

    /// Pointer to the value of key or nullptr.
    const V* find(std::uint64_t key) const
    {
        std::size_t i = mix64(key) & m_mask;
        while (true) {
            const Slot& s = m_slots[i];
            if (s.key == key)
                return &s.value;
            if (s.key == 0)
                return nullptr;
            i = (i + 1) & m_mask;
        }
    }
    V* find(std::uint64_t key) { return const_cast<V*>(std::as_const(*this).find(key)); }
    bool contains(std::uint64_t key) const { return find(key) != nullptr; }
    /// Hints the CPU to load key's home slot: issued a few events ahead, it overlaps the
    /// cache misses of a batch instead of paying them one after another.
    void prefetch(std::uint64_t key) const { prefetchHash(mix64(key)); }
    /// prefetch() with the key's hashOf() already computed.
    void prefetchHash(std::uint64_t hash) const { __builtin_prefetch(&m_slots[hash & m_mask], 1, 1); }

    /// Removes key if present (backward-shift deletion keeps probe chains intact).
    bool erase(std::uint64_t key)
    {
        std::size_t i = mix64(key) & m_mask;
        while (m_slots[i].key != key) {
            if (m_slots[i].key == 0)
                return false;
            i = (i + 1) & m_mask;
        }
        std::size_t hole = i;
        std::size_t j = i;
        while (true) {
            j = (j + 1) & m_mask;
            if (m_slots[j].key == 0)
                break;
            const std::size_t home = mix64(m_slots[j].key) & m_mask;
            // Move j into the hole unless its home lies cyclically in (hole, j].
            const bool homeInRange = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
            if (!homeInRange) {
                m_slots[hole] = m_slots[j];
                hole = j;
            }
        }
        m_slots[hole].key = 0;
        --m_size;
        return true;
    }

    std::size_t size() const { return m_size; }
    bool empty() const { return m_size == 0; }
    std::size_t capacity() const { return m_capacity; }
    std::size_t memoryBytes() const { return m_capacity * sizeof(Slot); }

    /// Removes every entry; keeps the allocation when it is not much larger than needed.
    void clear()
    {
        if (m_capacity > 1024 && m_size * 8 < m_capacity)
            allocate(roundUp(m_size * 2 + 16));
        else
            std::memset(static_cast<void*>(m_slots.get()), 0, m_capacity * sizeof(Slot));
        m_size = 0;
    }

    /// Calls f(key, value) for every entry, in slot order.
    template <typename F> void forEach(F&& f) const
    {
        for (std::size_t i = 0; i < m_capacity; ++i)
            if (m_slots[i].key != 0)
                f(m_slots[i].key, m_slots[i].value);
    }
    /// Calls f(key, value&) for every entry, in slot order; f may change values, not keys.
    template <typename F> void forEachMutable(F&& f)
    {
        for (std::size_t i = 0; i < m_capacity; ++i)
            if (m_slots[i].key != 0)
                f(m_slots[i].key, m_slots[i].value);
    }

private:
    static std::size_t roundUp(std::size_t n)
    {
        std::size_t c = 16;
        while (c * 3 < n * 4)
            c <<= 1;
        return c;
    }
    struct FreeDeleter {
        void operator()(Slot* p) const { std::free(p); }
    };
    using Storage = std::unique_ptr<Slot[], FreeDeleter>;

    /// Zeroed storage (all keys 0, all values V{} == zero bytes). Tables of 2 MiB and more ask
    /// for transparent huge pages: random probes into a large table otherwise miss the TLB.
    static Storage allocateStorage(std::size_t capacity)
    {
        constexpr std::size_t kHugePage = 2u << 20;
        const std::size_t bytes = capacity * sizeof(Slot);
        const std::size_t align = bytes >= kHugePage ? kHugePage : 64;
        const std::size_t rounded = (bytes + align - 1) / align * align;
        void* p = std::aligned_alloc(align, rounded);
        if (!p)
            throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
        if (align == kHugePage)
            madvise(p, rounded, MADV_HUGEPAGE);
#endif
        std::memset(p, 0, rounded);
        return Storage(static_cast<Slot*>(p));
    }

    void allocate(std::size_t capacity)
    {
        m_slots = allocateStorage(capacity);
        m_capacity = capacity;
        m_mask = capacity - 1;
        m_size = 0;
    }
    void grow()
    {
        Storage old = std::move(m_slots);
        const std::size_t oldCapacity = m_capacity;
        allocate(oldCapacity * 2);
        for (std::size_t i = 0; i < oldCapacity; ++i) {
            if (old[i].key == 0)
                continue;
            std::size_t j = mix64(old[i].key) & m_mask;
            while (m_slots[j].key != 0)
                j = (j + 1) & m_mask;
            m_slots[j] = old[i];
            ++m_size;
        }
    }

    Storage m_slots;
    std::size_t m_capacity = 0;
    std::size_t m_mask = 0;
    std::size_t m_size = 0;
};

} // namespace adclick::engine
