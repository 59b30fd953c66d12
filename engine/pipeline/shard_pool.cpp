#include "pipeline/shard_pool.h"

namespace adclick::engine {

ShardPool::ShardPool(std::uint32_t shards)
    : m_shards(shards == 0 ? 1 : shards)
{
    for (std::uint32_t i = 1; i < m_shards; ++i)
        m_threads.emplace_back([this, i] { workerLoop(i); });
}

ShardPool::~ShardPool()
{
    m_stop.store(true, std::memory_order_release);
    m_generation.fetch_add(1, std::memory_order_acq_rel);
    m_generation.notify_all();
    for (auto& t : m_threads)
        t.join();
}

void ShardPool::run(const std::function<void(std::uint32_t)>& task)
{
    if (m_shards == 1) {
        task(0);
        return;
    }
    m_task = &task;
    m_pending.store(m_shards - 1, std::memory_order_release);
    m_generation.fetch_add(1, std::memory_order_acq_rel);
    m_generation.notify_all();
    task(0);
    std::uint32_t pending = m_pending.load(std::memory_order_acquire);
    while (pending != 0) {
        m_pending.wait(pending, std::memory_order_acquire);
        pending = m_pending.load(std::memory_order_acquire);
    }
    m_task = nullptr;
}

void ShardPool::workerLoop(std::uint32_t shard)
{
    std::uint64_t seen = 0;
    while (true) {
        std::uint64_t gen = m_generation.load(std::memory_order_acquire);
        while (gen == seen) {
            m_generation.wait(gen, std::memory_order_acquire);
            gen = m_generation.load(std::memory_order_acquire);
        }
        seen = gen;
        if (m_stop.load(std::memory_order_acquire))
            return;
        (*m_task)(shard);
        if (m_pending.fetch_sub(1, std::memory_order_acq_rel) == 1)
            m_pending.notify_one();
    }
}

} // namespace adclick::engine
