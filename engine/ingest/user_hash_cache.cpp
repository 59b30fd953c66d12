#include "ingest/user_hash_cache.h"

#include <cstdlib>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace adclick::engine {

void UserHashCache::reset(std::size_t entries)
{
    release();
    if (entries == 0)
        return;
    const std::size_t bytes = entries * sizeof(std::uint64_t);
#if defined(__linux__)
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return;
#if defined(MADV_HUGEPAGE)
    ::madvise(p, bytes, MADV_HUGEPAGE);
#endif
#else
    void* p = std::calloc(entries, sizeof(std::uint64_t));
    if (!p)
        return;
#endif
    m_data = static_cast<std::uint64_t*>(p);
    m_size = entries;
}

void UserHashCache::release()
{
    if (!m_data)
        return;
#if defined(__linux__)
    ::munmap(m_data, m_size * sizeof(std::uint64_t));
#else
    std::free(m_data);
#endif
    m_data = nullptr;
    m_size = 0;
}

} // namespace adclick::engine
