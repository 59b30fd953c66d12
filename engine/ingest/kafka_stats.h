#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace adclick::engine {

/// Brokers a Kafka client is connected to, from librdkafka's statistics JSON.
struct KafkaBrokerCounts {
    std::uint32_t known = 0; ///< brokers (by node id) the client has needed so far
    std::uint32_t up = 0; ///< of those, the ones with a connection in state UP
};

/// Reads the "brokers" object of librdkafka's statistics (statistics.interval.ms). Each broker id
/// counts once (the group coordinator is listed again under its own name) and is up when any of its
/// connections is; bootstrap entries and brokers never needed (state INIT) are left out. Keeps its
/// parser between calls (no allocation once warm). Not thread-safe.
class KafkaStatsReader {
public:
    KafkaStatsReader();
    ~KafkaStatsReader();
    KafkaStatsReader(const KafkaStatsReader&) = delete;
    KafkaStatsReader& operator=(const KafkaStatsReader&) = delete;

    /// False when the text is not statistics JSON (out is left alone).
    bool read(const char* json, std::size_t len, KafkaBrokerCounts& out);

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace adclick::engine
