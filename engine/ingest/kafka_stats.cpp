#include "ingest/kafka_stats.h"

#include <simdjson.h>

#include <algorithm>
#include <string_view>
#include <utility>
#include <vector>

namespace adclick::engine {

struct KafkaStatsReader::Impl {
    simdjson::dom::parser parser;
    std::vector<std::pair<std::int64_t, bool>> nodes; ///< (broker id, up)
};

KafkaStatsReader::KafkaStatsReader()
    : m_impl(std::make_unique<Impl>())
{
}

KafkaStatsReader::~KafkaStatsReader() = default;

bool KafkaStatsReader::read(const char* json, std::size_t len, KafkaBrokerCounts& out)
{
    simdjson::dom::element root;
    if (m_impl->parser.parse(json, len).get(root) != simdjson::SUCCESS)
        return false;
    simdjson::dom::object brokers;
    if (root["brokers"].get(brokers) != simdjson::SUCCESS)
        return false;
    auto& nodes = m_impl->nodes;
    nodes.clear();
    for (auto field : brokers) {
        std::int64_t nodeId = -1;
        std::string_view state;
        if (field.value["nodeid"].get(nodeId) != simdjson::SUCCESS || nodeId < 0)
            continue; // bootstrap entries and the internal broker
        if (field.value["state"].get(state) != simdjson::SUCCESS || state == "INIT")
            continue;
        auto it = std::find_if(nodes.begin(), nodes.end(), [&](const auto& n) { return n.first == nodeId; });
        if (it == nodes.end())
            nodes.emplace_back(nodeId, state == "UP");
        else
            it->second = it->second || state == "UP";
    }
    out.known = static_cast<std::uint32_t>(nodes.size());
    out.up
        = static_cast<std::uint32_t>(std::count_if(nodes.begin(), nodes.end(), [](const auto& n) { return n.second; }));
    return true;
}

} // namespace adclick::engine
