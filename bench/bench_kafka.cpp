// Consume + parse + aggregate from Kafka: a KafkaSource (its own fresh consumer group, read to the
// end of the topic) through the Pipeline (windows, watermarks, de-duplication, top-K), no store.
// Prints one line: records, seconds from the first record to the end, records/s, and the time the
// group join took before the first record. bench/kafka_vs_kcat.sh runs it next to `kcat -C -e`.
//
// Usage: bench_kafka BROKERS TOPIC [SHARDS]

#include "core/clock.h"
#include "ingest/kafka_source.h"
#include "pipeline/pipeline.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

using namespace adclick::engine;

int main(int argc, char** argv)
{
    if (argc < 3) {
        std::fprintf(stderr, "usage: bench_kafka BROKERS TOPIC [SHARDS]\n");
        return 2;
    }
    KafkaSourceConfig kc;
    kc.brokers = argv[1];
    kc.topic = argv[2];
    kc.group = "bench-" + std::to_string(::getpid());
    kc.stopAtEnd = true;
    SystemClock clock;
    AdDictionary ads;
    UserAgentDictionary userAgents;
    KafkaSource source(kc, clock, ads, userAgents);
    if (!source.isOpen()) {
        std::fprintf(stderr, "bench_kafka: %s\n", source.error().c_str());
        return 1;
    }
    PipelineConfig pc;
    pc.shards = argc > 3 ? static_cast<std::uint32_t>(std::atoi(argv[3])) : 1;
    pc.watermark.boundMs = 30 * kMsPerMinute; // as the tests: nothing late over data spanning seconds
    pc.maxFutureMs = 0;
    Pipeline pipeline(pc, source, clock);
    const auto start = std::chrono::steady_clock::now();
    auto first = start;
    bool started = false;
    PollResult r = PollResult::Idle;
    while (r != PollResult::EndOfStream) {
        r = pipeline.step();
        if (!started && pipeline.counters().received > 0) {
            started = true;
            first = std::chrono::steady_clock::now();
        }
    }
    const auto end = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(end - first).count();
    const double join = std::chrono::duration<double>(first - start).count();
    const PipelineCounters& c = pipeline.counters();
    std::printf("adclick records %llu seconds %.3f per_second %.0f join_seconds %.2f counted %llu rejected %llu\n",
        static_cast<unsigned long long>(c.received), seconds, static_cast<double>(c.received) / seconds, join,
        static_cast<unsigned long long>(c.counted), static_cast<unsigned long long>(c.rejected.total()));
    return 0;
}
