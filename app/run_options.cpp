#include "run_options.h"

#include "core/time_units.h"
#include "ingest/country_codes.h"
#include "window/window_types.h"

#include <charconv>
#include <cstdio>
#include <functional>
#include <map>

namespace adclick::app {

using namespace adclick::engine;

namespace {
bool parseDouble(const std::string& s, double& out)
{
    if (s.empty())
        return false;
    const char* end = s.data() + s.size();
    auto [ptr, ec] = std::from_chars(s.data(), end, out);
    return ec == std::errc() && ptr == end && out == out; // rejects NaN
}

bool parseUnsigned(const std::string& s, std::uint64_t& out)
{
    if (s.empty())
        return false;
    const char* end = s.data() + s.size();
    auto [ptr, ec] = std::from_chars(s.data(), end, out);
    return ec == std::errc() && ptr == end;
}

bool parseFraction(const std::string& s, double& out)
{
    return parseDouble(s, out) && out >= 0 && out <= 1;
}

/// --inject-speed-fault: "drop-country:CC[:FRACTION]" or "double-count-ad:AD" (numeric ad id).
bool parseSpeedFault(const std::string& v, SpeedFault& out)
{
    SpeedFault f;
    if (v.rfind("drop-country:", 0) == 0) {
        const std::string rest = v.substr(13);
        const std::size_t colon = rest.find(':');
        if (!parseCountry(rest.substr(0, colon), f.country))
            return false;
        if (colon != std::string::npos && !parseFraction(rest.substr(colon + 1), f.fraction))
            return false;
        f.kind = SpeedFault::Kind::DropCountry;
    } else if (v.rfind("double-count-ad:", 0) == 0) {
        std::uint64_t ad = 0;
        if (!parseUnsigned(v.substr(16), ad) || ad >= kFirstNamedAdId)
            return false;
        f.adId = static_cast<AdId>(ad);
        f.kind = SpeedFault::Kind::DoubleCountAd;
    } else if (v != "none") {
        return false;
    }
    out = f;
    return true;
}

struct Option {
    const char* name;
    const char* valueName; ///< nullptr: a flag without value
    const char* help;
    std::function<bool(RunOptions&, const std::string&)> apply;
};

std::vector<Option> options()
{
    return {
        { "--source", "generator|file|kafka", "where clicks come from (default generator)",
            [](RunOptions& o, const std::string& v) {
                if (v == "generator")
                    o.source = SourceKind::Generator;
                else if (v == "file")
                    o.source = SourceKind::File;
                else if (v == "kafka")
                    o.source = SourceKind::Kafka;
                else
                    return false;
                return true;
            } },
        { "--input", "PATH|-", "NDJSON file of the seed schema for --source file; - reads standard input",
            [](RunOptions& o, const std::string& v) {
                o.input = v;
                return !v.empty();
            } },
        { "--brokers", "HOST:PORT[,…]", "kafka source: bootstrap brokers (e.g. 127.0.0.1:9092)",
            [](RunOptions& o, const std::string& v) {
                o.kafka.brokers = v;
                return plausibleBrokerList(v);
            } },
        { "--topic", "T", "kafka source: the topic of NDJSON clicks",
            [](RunOptions& o, const std::string& v) {
                o.kafka.topic = v;
                return !v.empty();
            } },
        { "--group", "G", "kafka source: consumer group id (members split the partitions)",
            [](RunOptions& o, const std::string& v) {
                o.kafka.group = v;
                return !v.empty();
            } },
        { "--start", "earliest|latest",
            "kafka source: where a partition starts when neither the store nor the group has an offset for it "
            "(default earliest)",
            [](RunOptions& o, const std::string& v) {
                if (v != "earliest" && v != "latest")
                    return false;
                o.kafka.startLatest = v == "latest";
                return true;
            } },
        { "--dead-letter-topic", "D",
            "kafka source: also produce malformed messages here, with the reason in the header adclick-reject-reason",
            [](RunOptions& o, const std::string& v) {
                o.kafka.deadLetterTopic = v;
                return !v.empty();
            } },
        { "--rebalance", "eager|cooperative", "kafka source: the group's rebalance protocol (default eager)",
            [](RunOptions& o, const std::string& v) {
                if (v == "eager")
                    o.kafka.assignmentStrategy = "range,roundrobin";
                else if (v == "cooperative")
                    o.kafka.assignmentStrategy = "cooperative-sticky";
                else
                    return false;
                return true;
            } },
        { "--session-timeout", "D", "kafka source: group session timeout, 1s … 5m (default 6s)",
            [](RunOptions& o, const std::string& v) {
                auto d = parseDurationMs(v);
                if (!d || *d < 1000 || *d > 5 * kMsPerMinute)
                    return false;
                o.kafka.sessionTimeoutMs = static_cast<int>(*d);
                return true;
            } },
        { "--until-end", nullptr,
            "kafka source: stop once every assigned partition is read to its end (like kcat -e); default: run on",
            [](RunOptions& o, const std::string&) {
                o.kafka.stopAtEnd = true;
                return true;
            } },
        { "--speedup", "X", "file source: replay paced by event time, X times faster (default: as fast as possible)",
            [](RunOptions& o, const std::string& v) { return parseDouble(v, o.speedup) && o.speedup > 0; } },
        { "--seed", "N", "generator seed (default 1)",
            [](RunOptions& o, const std::string& v) { return parseUnsigned(v, o.generator.seed); } },
        { "--rate", "N", "generator events per second of processing time (default 50000)",
            [](RunOptions& o, const std::string& v) {
                return parseDouble(v, o.generator.ratePerSec) && o.generator.ratePerSec > 0
                    && o.generator.ratePerSec <= 1e9;
            } },
        { "--ads", "N", "number of distinct ads, 1 … 10000000 (default 100000)",
            [](RunOptions& o, const std::string& v) {
                std::uint64_t n = 0;
                if (!parseUnsigned(v, n) || n < 1 || n > 10000000)
                    return false;
                o.generator.adCount = static_cast<std::uint32_t>(n);
                return true;
            } },
        { "--skew", "S", "Zipf exponent of ad popularity, 0 = uniform (default 1.1)",
            [](RunOptions& o, const std::string& v) {
                return parseDouble(v, o.generator.zipfSkew) && o.generator.zipfSkew >= 0 && o.generator.zipfSkew <= 5;
            } },
        { "--partitions", "N", "generator partitions, 1 … 1024 (default 4)",
            [](RunOptions& o, const std::string& v) {
                std::uint64_t n = 0;
                if (!parseUnsigned(v, n) || n < 1 || n > 1024)
                    return false;
                o.generator.partitions = static_cast<std::uint32_t>(n);
                return true;
            } },
        { "--late-fraction", "F", "share of generated events delayed beyond the jitter, 0 … 1 (default 0.01)",
            [](RunOptions& o, const std::string& v) { return parseFraction(v, o.generator.lateFraction); } },
        { "--late-delay", "D", "mean extra delay of late events (default 90s)",
            [](RunOptions& o, const std::string& v) {
                auto d = parseDurationMs(v);
                if (!d || *d == 0)
                    return false;
                o.generator.lateDelayMeanMs = *d;
                o.generator.lateDelayMaxMs = std::max(o.generator.lateDelayMaxMs, *d);
                return true;
            } },
        { "--duplicates", "F", "share of generated records that resend an earlier click, 0 … 1 (default 0.005)",
            [](RunOptions& o, const std::string& v) { return parseFraction(v, o.generator.duplicateFraction); } },
        { "--malformed", "F", "share of generated records that are malformed, 0 … 1 (default 0.001)",
            [](RunOptions& o, const std::string& v) { return parseFraction(v, o.generator.malformedFraction); } },
        { "--duration", "D", "stop after this much processing time (default: until the input ends / Ctrl-C)",
            [](RunOptions& o, const std::string& v) {
                o.durationMs = parseDurationMs(v);
                return o.durationMs.has_value() && *o.durationMs > 0;
            } },
        { "--clock", "virtual|real", "processing clock: real (paced) or virtual (as fast as possible); default real",
            [](RunOptions& o, const std::string& v) {
                if (v == "virtual")
                    o.clock = ClockKind::Virtual;
                else if (v == "real")
                    o.clock = ClockKind::Real;
                else
                    return false;
                return true;
            } },
        { "--window", "D", "tumbling window size (default 60s)",
            [](RunOptions& o, const std::string& v) {
                auto d = parseDurationMs(v);
                if (!d || *d < 1000 || *d > kMsPerDay || kMsPerDay % *d != 0)
                    return false;
                o.pipeline.window.windowMs = *d;
                return true;
            } },
        { "--watermark-bound", "D", "bounded out-of-orderness of the watermark (default 2m)",
            [](RunOptions& o, const std::string& v) {
                auto d = parseDurationMs(v);
                if (!d || *d > 7 * kMsPerDay)
                    return false;
                o.pipeline.watermark.boundMs = *d;
                return true;
            } },
        { "--allowed-lateness", "D", "extra time a window stays open after the watermark passes its end (default 0s)",
            [](RunOptions& o, const std::string& v) {
                auto d = parseDurationMs(v);
                if (!d || *d > 7 * kMsPerDay)
                    return false;
                o.pipeline.window.allowedLatenessMs = *d;
                return true;
            } },
        { "--late-policy", "drop|update",
            "events for final windows: drop (counted) or update the window (default drop)",
            [](RunOptions& o, const std::string& v) { return parseLatePolicy(v, o.pipeline.window.latePolicy); } },
        { "--idle-timeout", "D", "processing time without events before a partition is idle; 0s = never (default 30s)",
            [](RunOptions& o, const std::string& v) {
                auto d = parseDurationMs(v);
                if (!d)
                    return false;
                o.pipeline.watermark.idleTimeoutMs = *d;
                return true;
            } },
        { "--dedup-horizon", "D",
            "how long click ids are remembered for de-duplication; 0s = no de-duplication (default 10m)",
            [](RunOptions& o, const std::string& v) {
                auto d = parseDurationMs(v);
                if (!d)
                    return false;
                o.pipeline.deduplicate = *d > 0;
                o.pipeline.dedupHorizonMs = *d > 0 ? *d : o.pipeline.dedupHorizonMs;
                return true;
            } },
        { "--max-future", "D", "reject events stamped further ahead of processing time; 0s = off (default 1h)",
            [](RunOptions& o, const std::string& v) {
                auto d = parseDurationMs(v);
                if (!d)
                    return false;
                o.pipeline.maxFutureMs = *d;
                return true;
            } },
        { "--shards", "N", "aggregation shards partitioned by ad id, 1 … 64 (default 1)",
            [](RunOptions& o, const std::string& v) {
                std::uint64_t n = 0;
                if (!parseUnsigned(v, n) || n < 1 || n > 64)
                    return false;
                o.pipeline.shards = static_cast<std::uint32_t>(n);
                return true;
            } },
        { "--top", "N", "how many top ads the report prints, 1 … 100 (default 10)",
            [](RunOptions& o, const std::string& v) {
                std::uint64_t n = 0;
                if (!parseUnsigned(v, n) || n < 1 || n > 100)
                    return false;
                o.topN = static_cast<int>(n);
                return true;
            } },
        { "--data-dir", "DIR",
            "where the SQLite store, raw click log and quarantine file live (default $XDG_DATA_HOME/adclick, "
            "else ~/.local/share/adclick); a second run continues where the first stopped",
            [](RunOptions& o, const std::string& v) {
                o.dataDirectory = v;
                return !v.empty();
            } },
        { "--no-store", nullptr, "keep nothing on disk: no checkpoints, raw log or recovery",
            [](RunOptions& o, const std::string&) {
                o.store = false;
                return true;
            } },
        { "--checkpoint-interval", "D", "processing time between checkpoints, 10ms … 1h (default 1s)",
            [](RunOptions& o, const std::string& v) {
                auto d = parseDurationMs(v);
                if (!d || *d < 10 || *d > kMsPerHour)
                    return false;
                o.checkpoints.intervalMs = *d;
                return true;
            } },
        { "--raw-retention", "D", "keep raw click log segments this long (default 7d)",
            [](RunOptions& o, const std::string& v) {
                auto d = parseDurationMs(v);
                if (!d || *d < kMsPerMinute)
                    return false;
                o.checkpoints.rawLog.retentionMs = *d;
                return true;
            } },
        { "--minute-retention", "D", "keep minute rows this long, then roll them into hours (default 7d)",
            [](RunOptions& o, const std::string& v) {
                auto d = parseDurationMs(v);
                if (!d || *d < kMsPerHour)
                    return false;
                o.checkpoints.retention.minuteRetentionMs = *d;
                return true;
            } },
        { "--hour-retention", "D", "keep hour rows this long, then roll them into days (default 30d)",
            [](RunOptions& o, const std::string& v) {
                auto d = parseDurationMs(v);
                if (!d || *d < kMsPerDay)
                    return false;
                o.checkpoints.retention.hourRetentionMs = *d;
                return true;
            } },
        { "--aggregate-retention", "D", "delete aggregate rows older than this (default 90d)",
            [](RunOptions& o, const std::string& v) {
                auto d = parseDurationMs(v);
                if (!d || *d < kMsPerDay)
                    return false;
                o.checkpoints.retention.aggregateRetentionMs = *d;
                return true;
            } },
        { "--maintenance-interval", "D", "processing time between rollup/retention runs (default 1h)",
            [](RunOptions& o, const std::string& v) {
                auto d = parseDurationMs(v);
                if (!d || *d < kMsPerSecond)
                    return false;
                o.checkpoints.maintenanceIntervalMs = *d;
                return true;
            } },
        { "--inject-speed-fault", "SPEC",
            "FAULT INJECTION for demos and tests of `adclick reconcile`: the speed layer miscounts on purpose "
            "while the raw log stays true. drop-country:CC[:F] leaves a share F (default 1) of country CC's "
            "counted clicks out of the speed counts; double-count-ad:AD counts ad AD's clicks twice (default none)",
            [](RunOptions& o, const std::string& v) { return parseSpeedFault(v, o.pipeline.speedFault); } },
        { "--batch-interval", "D",
            "processing time between scheduled batch recounts of the raw log; 0s = never (default 3h)",
            [](RunOptions& o, const std::string& v) {
                auto d = parseDurationMs(v);
                if (!d || *d < 0 || *d > 30 * kMsPerDay)
                    return false;
                o.batchSchedule.intervalMs = *d;
                return true;
            } },
        { "--batch-threads", "N", "threads of a scheduled batch recount, 1 … 64 (default 1: ingest keeps a core)",
            [](RunOptions& o, const std::string& v) {
                std::uint64_t n = 0;
                if (!parseUnsigned(v, n) || n < 1 || n > 64)
                    return false;
                o.batchSchedule.threads = static_cast<unsigned>(n);
                return true;
            } },
        { "--json", nullptr, "print JSON lines instead of text",
            [](RunOptions& o, const std::string&) {
                o.json = true;
                return true;
            } },
    };
}
} // namespace

ParsedRun parseRunOptions(const std::vector<std::string>& args)
{
    ParsedRun r;
    const auto table = options();
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string name = args[i];
        std::string value;
        bool hasValue = false;
        if (name == "--help" || name == "-h") {
            r.help = true;
            return r;
        }
        if (auto eq = name.find('='); eq != std::string::npos && name.rfind("--", 0) == 0) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
            hasValue = true;
        }
        const Option* opt = nullptr;
        for (const auto& o : table)
            if (name == o.name)
                opt = &o;
        if (!opt) {
            r.error = "unknown option '" + name + "' (see --help)";
            return r;
        }
        if (opt->valueName) {
            if (!hasValue) {
                if (i + 1 >= args.size()) {
                    r.error = "option " + name + " needs a value (" + opt->valueName + ")";
                    return r;
                }
                value = args[++i];
            }
        } else if (hasValue) {
            r.error = "option " + name + " takes no value";
            return r;
        }
        if (!opt->apply(r.options, value)) {
            r.error = "invalid value '";
            r.error.append(value).append("' for ").append(name).append(" (expected ");
            r.error.append(opt->valueName).append(": ").append(opt->help).append(")");
            return r;
        }
    }
    if (r.options.source == SourceKind::File && r.options.input.empty())
        r.error = "--source file needs --input PATH (or - for standard input)";
    else if (r.options.source != SourceKind::File && !r.options.input.empty())
        r.error = "--input is only valid with --source file";
    else if (r.options.source == SourceKind::Kafka
        && (r.options.kafka.brokers.empty() || r.options.kafka.topic.empty() || r.options.kafka.group.empty()))
        r.error = "--source kafka needs --brokers HOST:PORT, --topic T and --group G";
    else if (r.options.source != SourceKind::Kafka
        && (!r.options.kafka.brokers.empty() || !r.options.kafka.topic.empty() || !r.options.kafka.group.empty()
            || !r.options.kafka.deadLetterTopic.empty() || r.options.kafka.stopAtEnd))
        r.error = "--brokers, --topic, --group, --dead-letter-topic and --until-end are only valid with --source kafka";
    else if (!r.options.store && !r.options.dataDirectory.empty())
        r.error = "--data-dir and --no-store contradict each other";
    else if (r.options.checkpoints.retention.hourRetentionMs < r.options.checkpoints.retention.minuteRetentionMs
        || r.options.checkpoints.retention.aggregateRetentionMs < r.options.checkpoints.retention.hourRetentionMs)
        r.error = "retention must grow from minutes to hours to the aggregate retention";
    return r;
}

std::string speedFaultWarning(const RunOptions& options)
{
    const SpeedFault& f = options.pipeline.speedFault;
    char share[32];
    std::snprintf(share, sizeof share, "%g%%", f.fraction * 100);
    switch (f.kind) {
    case SpeedFault::Kind::None:
        return {};
    case SpeedFault::Kind::DropCountry:
        return "FAULT INJECTED (--inject-speed-fault): the speed layer leaves " + std::string(share) + " of country "
            + formatCountry(f.country)
            + "'s counted clicks out of its counts; the raw log stays true, so `adclick batch` + `adclick reconcile` "
              "show the miscount as the unexplained gap";
    case SpeedFault::Kind::DoubleCountAd:
        return "FAULT INJECTED (--inject-speed-fault): the speed layer counts every click of ad "
            + std::to_string(f.adId)
            + " twice; the raw log stays true, so `adclick batch` + `adclick reconcile` show the miscount as the "
              "unexplained gap";
    }
    return {};
}

std::string runHelpText()
{
    std::string out = "Usage: adclick run [options]\n\n"
                      "Runs the speed layer headless and prints per-window totals, late counts, watermark\n"
                      "progress and the top ads. Durations take a unit: ms, s, m, h, d (a bare number is seconds).\n\n"
                      "Options:\n";
    for (const auto& o : options()) {
        std::string left = std::string("  ") + o.name + (o.valueName ? std::string(" ") + o.valueName : "");
        if (left.size() < 32)
            left.resize(32, ' ');
        else
            left += "\n" + std::string(32, ' ');
        out += left + o.help + "\n";
    }
    out += "  --help                        this text\n\n"
           "Example: adclick run --source generator --rate 50000 --ads 100000 --duration 10m --clock virtual --json\n"
           "Kafka:   adclick run --source kafka --brokers 127.0.0.1:9092 --topic ad-clicks --group adclick\n"
           "         (the Kafka source always runs on the real clock; offsets resume from the store)\n";
    return out;
}

} // namespace adclick::app
