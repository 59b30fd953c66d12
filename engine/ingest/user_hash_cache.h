#pragma once

#include <cstddef>
#include <cstdint>

namespace adclick::engine {

// hashUserId("u<k>") per user k, filled lazily (0 = not computed yet). Zero-filled anonymous
// memory: a page costs memory only once touched; on Linux it asks for transparent huge pages
// because lookups are random (with 4 KiB pages nearly every one would miss the TLB).
class UserHashCache {
public:
    UserHashCache() = default;
    ~UserHashCache() { release(); }
    UserHashCache(const UserHashCache&) = delete;
    UserHashCache& operator=(const UserHashCache&) = delete;

    /// Discards the contents; afterwards users 0 … entries−1 are cacheable (fewer if memory is short).
    void reset(std::size_t entries);

    std::size_t size() const { return m_size; }
    std::uint64_t* slot(std::uint32_t user) { return m_data + user; }

private:
    void release();

    std::uint64_t* m_data = nullptr;
    std::size_t m_size = 0;
};

} // namespace adclick::engine
