#include "produce_command.h"

#include "core/clock.h"
#include "ingest/kafka_handles.h"
#include "ingest/synthetic_source.h"
#include "run_options.h"

#include <chrono>
#include <csignal>
#include <thread>

namespace adclick::app {

using namespace adclick::engine;

namespace {
volatile std::sig_atomic_t g_stop = 0;
void onSignal(int)
{
    g_stop = 1;
}

struct Delivery {
    std::uint64_t delivered = 0;
    std::uint64_t failed = 0;
    std::string lastError;
};

void onDelivered(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque)
{
    auto& d = *static_cast<Delivery*>(opaque);
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
        ++d.delivered;
    else {
        ++d.failed;
        d.lastError = rd_kafka_err2str(m->err);
    }
}

void onLog(const rd_kafka_t*, int, const char*, const char*) { }
} // namespace

std::string produceHelpText()
{
    std::string s = "Usage: adclick produce --brokers HOST:PORT --topic T --rate R --duration D [generator options]\n"
                    "                       [--oracle FILE]\n\n"
                    "Produces the synthetic generator's clicks (NDJSON, the seed schema) to a Kafka topic with an\n"
                    "idempotent producer (enable.idempotence=true, acks=all), keyed by ad id, paced to R records per\n"
                    "second of wall time for D, and reports delivered/s every second. Event times start now.\n"
                    "--oracle FILE writes each produced record as one line, in produce order (for tests).\n"
                    "Generator options are those of `adclick run` (--seed --ads --skew --late-fraction --duplicates\n"
                    "--malformed …; see adclick run --help).\n\n"
                    "Example: adclick produce --brokers 127.0.0.1:9092 --topic ad-clicks --rate 50000 --duration 60s\n";
    return s;
}

int runProduceCommand(const std::vector<std::string>& args, std::FILE* out, std::FILE* err)
{
    std::string brokers;
    std::string topic;
    std::string oraclePath;
    std::vector<std::string> rest;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") {
            std::fputs(produceHelpText().c_str(), out);
            return 0;
        }
        if ((a == "--brokers" || a == "--topic" || a == "--oracle")) {
            if (i + 1 >= args.size() || args[i + 1].empty()) {
                std::fprintf(err, "adclick produce: option %s needs a value\n", a.c_str());
                return 2;
            }
            (a == "--brokers" ? brokers : a == "--topic" ? topic : oraclePath) = args[++i];
            continue;
        }
        rest.push_back(a);
    }
    if (brokers.empty() || topic.empty()) {
        std::fprintf(err, "adclick produce: --brokers and --topic are required (see --help)\n");
        return 2;
    }
    ParsedRun parsed = parseRunOptions(rest);
    if (!parsed.error.empty() || parsed.options.source != SourceKind::Generator) {
        std::fprintf(err, "adclick produce: %s\n",
            parsed.error.empty() ? "only generator options are valid here" : parsed.error.c_str());
        return 2;
    }
    if (!parsed.options.durationMs) {
        std::fprintf(err, "adclick produce: --duration is required (how long to produce)\n");
        return 2;
    }
    GeneratorConfig g = parsed.options.generator;
    g.startTimeMs = SystemClock().nowMs() / kMsPerSecond * kMsPerSecond;
    const auto count
        = static_cast<std::uint64_t>(static_cast<double>(*parsed.options.durationMs) * g.ratePerSec / 1000.0);

    std::FILE* oracle = nullptr;
    if (!oraclePath.empty()) {
        oracle = std::fopen(oraclePath.c_str(), "w");
        if (!oracle) {
            std::fprintf(err, "adclick produce: cannot write %s\n", oraclePath.c_str());
            return 1;
        }
    }
    Delivery delivery;
    std::string error;
    KafkaConf conf
        = makeKafkaConf({ { "bootstrap.servers", brokers }, { "client.id", "adclick-produce" },
                            { "enable.idempotence", "true" }, { "acks", "all" }, { "linger.ms", "10" },
                            { "batch.num.messages", "10000" }, { "queue.buffering.max.messages", "1000000" },
                            { "queue.buffering.max.kbytes", "1048576" }, { "message.timeout.ms", "300000" } },
            error);
    if (!conf) {
        std::fprintf(err, "adclick produce: %s\n", error.c_str());
        return 2;
    }
    rd_kafka_conf_set_opaque(conf.get(), &delivery);
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &onDelivered);
    rd_kafka_conf_set_log_cb(conf.get(), &onLog);
    char errstr[512];
    KafkaHandle rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof errstr));
    if (!rk) {
        std::fprintf(err, "adclick produce: cannot create the producer: %s\n", errstr);
        return 1;
    }
    (void)conf.release();
    KafkaTopic rkt(rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr));

    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    AdDictionary ads;
    UserAgentDictionary userAgents;
    VirtualClock clock(g.startTimeMs);
    SyntheticSource generator(g, clock, ads, userAgents);
    std::fprintf(out, "adclick produce: %llu records to %s on %s at %g/s (idempotent, acks=all, keyed by ad id)\n",
        static_cast<unsigned long long>(count), topic.c_str(), brokers.c_str(), g.ratePerSec);
    std::fflush(out);

    const auto start = std::chrono::steady_clock::now();
    auto lastReport = start;
    std::uint64_t lastDelivered = 0;
    ClickRecordText text;
    std::string bad;
    std::string line;
    std::uint64_t produced = 0;
    for (std::uint64_t n = 0; n < count && !g_stop; ++n) {
        // Pacing by wall time: record n is due at n / rate seconds.
        const auto due = start
            + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                std::chrono::duration<double>(static_cast<double>(n) / g.ratePerSec));
        if (due > std::chrono::steady_clock::now() + std::chrono::milliseconds(2)) {
            rd_kafka_poll(rk.get(), 0);
            std::this_thread::sleep_until(due);
        }
        const bool ok = generator.recordText(n, text, bad);
        line = ok ? JsonCodec::encode(text) : bad;
        const std::string& key = ok ? text.adId : std::string();
        for (;;) {
            const rd_kafka_resp_err_t e = rd_kafka_producev(rk.get(), RD_KAFKA_V_RKT(rkt.get()),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(line.data(), line.size()),
                RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                std::fprintf(err, "adclick produce: cannot produce record %llu: %s\n",
                    static_cast<unsigned long long>(n), rd_kafka_err2str(e));
                return 1;
            }
            rd_kafka_poll(rk.get(), 50); // the queue drains as deliveries complete
        }
        ++produced;
        if (oracle) {
            line += '\n';
            std::fwrite(line.data(), 1, line.size(), oracle);
        }
        if ((n & 1023) == 0) {
            rd_kafka_poll(rk.get(), 0);
            const auto now = std::chrono::steady_clock::now();
            if (now - lastReport >= std::chrono::seconds(1)) {
                const double s = std::chrono::duration<double>(now - lastReport).count();
                std::fprintf(out, "delivered %llu of %llu (%.0f/s)\n",
                    static_cast<unsigned long long>(delivery.delivered), static_cast<unsigned long long>(produced),
                    static_cast<double>(delivery.delivered - lastDelivered) / s);
                std::fflush(out);
                lastReport = now;
                lastDelivered = delivery.delivered;
            }
        }
    }
    if (oracle && std::fclose(oracle) != 0) {
        std::fprintf(err, "adclick produce: cannot write %s\n", oraclePath.c_str());
        return 1;
    }
    while (delivery.delivered + delivery.failed < produced && rd_kafka_outq_len(rk.get()) > 0)
        rd_kafka_poll(rk.get(), 100);
    (void)rd_kafka_flush(rk.get(), 10000);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(out, "adclick produce: delivered %llu of %llu records in %.2f s (%.0f/s), %llu failed%s%s\n",
        static_cast<unsigned long long>(delivery.delivered), static_cast<unsigned long long>(produced), seconds,
        static_cast<double>(delivery.delivered) / seconds, static_cast<unsigned long long>(delivery.failed),
        delivery.failed ? ": " : "", delivery.lastError.c_str());
    std::fflush(out);
    return delivery.failed == 0 && delivery.delivered == produced ? 0 : 1;
}

} // namespace adclick::app
