#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace adclick::engine {

/// Fork-join over a fixed number of shards: run(f) calls f(i) for every shard i, shard 0 on
/// the calling thread and the others on their own long-lived threads, and returns when all
/// are done. One run at a time; the per-batch cost is two futex round trips.
class ShardPool {
public:
    explicit ShardPool(std::uint32_t shards);
    ~ShardPool();
    ShardPool(const ShardPool&) = delete;
    ShardPool& operator=(const ShardPool&) = delete;

    void run(const std::function<void(std::uint32_t)>& task);
    std::uint32_t size() const { return m_shards; }

private:
    void workerLoop(std::uint32_t shard);

    std::uint32_t m_shards;
    std::vector<std::thread> m_threads;
    const std::function<void(std::uint32_t)>* m_task = nullptr;
    std::atomic<std::uint64_t> m_generation { 0 };
    std::atomic<std::uint32_t> m_pending { 0 };
    std::atomic<bool> m_stop { false };
};

} // namespace adclick::engine
