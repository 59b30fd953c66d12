#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace adclick::engine {

/// Append-only string ↔ dense id dictionary.
/// Thread-safety: one writer thread calls intern(); any thread may call name() and size()
/// concurrently (names are published with release/acquire and never move). find() is for
/// the writer thread only. Ids are dense from 0; capacity is kMaxEntries.
class StringDictionary {
public:
    static constexpr std::uint32_t kChunkBits = 16;
    static constexpr std::uint32_t kChunkSize = 1u << kChunkBits;
    static constexpr std::uint32_t kMaxChunks = 1u << 10; ///< 64 M entries
    static constexpr std::uint32_t kMaxEntries = kChunkSize * kMaxChunks;

    StringDictionary();
    ~StringDictionary();
    StringDictionary(const StringDictionary&) = delete;
    StringDictionary& operator=(const StringDictionary&) = delete;

    /// Returns the id of s, adding it if new; nullopt when the dictionary is full. Writer only.
    std::optional<std::uint32_t> intern(std::string_view s);
    /// Writer only: id of s if present.
    std::optional<std::uint32_t> find(std::string_view s) const;
    /// Any thread: the string for id (empty view if id is not published yet).
    std::string_view name(std::uint32_t id) const;
    /// Any thread: number of published entries.
    std::uint32_t size() const { return m_size.load(std::memory_order_acquire); }

private:
    struct Chunk {
        std::array<std::string, kChunkSize> names;
    };
    std::array<std::atomic<Chunk*>, kMaxChunks> m_chunks {};
    std::atomic<std::uint32_t> m_size { 0 };
    std::unordered_map<std::string_view, std::uint32_t> m_index; // views into chunk strings
};

} // namespace adclick::engine
