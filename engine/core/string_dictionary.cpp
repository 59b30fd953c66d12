#include "core/string_dictionary.h"

namespace adclick::engine {

StringDictionary::StringDictionary() = default;

StringDictionary::~StringDictionary()
{
    for (auto& c : m_chunks)
        delete c.load(std::memory_order_relaxed); // owned: allocated in intern()
}

std::optional<std::uint32_t> StringDictionary::intern(std::string_view s)
{
    if (auto it = m_index.find(s); it != m_index.end())
        return it->second;
    const std::uint32_t id = m_size.load(std::memory_order_relaxed);
    if (id >= kMaxEntries)
        return std::nullopt;
    const std::uint32_t chunkIdx = id >> kChunkBits;
    Chunk* chunk = m_chunks[chunkIdx].load(std::memory_order_relaxed);
    if (!chunk) {
        chunk = new Chunk(); // NOLINT: owned by m_chunks, freed in the destructor
        m_chunks[chunkIdx].store(chunk, std::memory_order_release);
    }
    std::string& slot = chunk->names[id & (kChunkSize - 1)];
    slot.assign(s);
    m_index.emplace(std::string_view(slot), id);
    m_size.store(id + 1, std::memory_order_release);
    return id;
}

std::optional<std::uint32_t> StringDictionary::find(std::string_view s) const
{
    if (auto it = m_index.find(s); it != m_index.end())
        return it->second;
    return std::nullopt;
}

std::string_view StringDictionary::name(std::uint32_t id) const
{
    if (id >= size())
        return {};
    const Chunk* chunk = m_chunks[id >> kChunkBits].load(std::memory_order_acquire);
    return chunk->names[id & (kChunkSize - 1)];
}

} // namespace adclick::engine
