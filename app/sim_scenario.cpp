#include "sim_scenario.h"

#include "core/time_units.h"

#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <set>

namespace adclick::app {

using namespace adclick::engine;

namespace {
// Settings a scenario may set, as their command-line options (key = option without "--", '_' → '-').
const std::set<std::string> kGeneratorKeys { "rate", "ads", "skew", "partitions", "late_fraction", "late_delay",
    "duplicates", "malformed" };
const std::set<std::string> kPipelineKeys { "window", "watermark_bound", "allowed_lateness", "late_policy",
    "idle_timeout", "dedup_horizon", "max_future", "shards", "inject_speed_fault", "checkpoint_interval",
    "raw_retention", "minute_retention", "hour_retention", "aggregate_retention", "maintenance_interval",
    "batch_interval", "batch_threads" };
const std::set<std::string> kTopKeys { "title", "teaches", "seed", "duration", "ci_duration", "generator", "pipeline",
    "hot_ad", "shard_model", "sample_interval", "retention_check", "variants", "events", "expect", "chart" };

struct Failure {
    std::string path;
    std::string message;
};

std::string optionOf(const std::string& key)
{
    std::string o = "--" + key;
    std::replace(o.begin(), o.end(), '_', '-');
    return o;
}

std::string scalarText(const QJsonValue& v)
{
    if (v.isDouble())
        return QString::number(v.toDouble(), 'g', 15).toStdString();
    return v.toString().toStdString();
}

TimeMs durationAt(const QJsonValue& v, const std::string& path)
{
    if (!v.isString() && !v.isDouble())
        throw Failure { path, "expected a duration such as \"90s\", \"2m\", \"24h\"" };
    const auto ms = parseDurationMs(scalarText(v));
    if (!ms || *ms < 0)
        throw Failure { path, "not a duration: " + scalarText(v) + " (use a unit: ms, s, m, h, d)" };
    return *ms;
}

/// Appends the settings of `obj` (at `path`) as command-line arguments, checking each with the
/// run option parser so a bad value is reported at its JSON path.
void appendSettings(const QJsonObject& obj, const std::set<std::string>& allowed, const std::string& path,
    std::vector<std::string>& args)
{
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        const std::string key = it.key().toStdString();
        const std::string at = path + "." + key;
        if (!allowed.count(key)) {
            std::string known;
            for (const std::string& k : allowed)
                known += (known.empty() ? "" : ", ") + k;
            throw Failure { at, "unknown setting (known: " + known + ")" };
        }
        if (!it.value().isDouble() && !it.value().isString())
            throw Failure { at, "expected a number or a string" };
        const std::vector<std::string> one { optionOf(key), scalarText(it.value()) };
        ParsedRun probe = parseRunOptions(one);
        // Settings that must agree with each other (retention periods) are checked together later.
        if (!probe.error.empty() && probe.error.find("retention must grow") == std::string::npos)
            throw Failure { at, probe.error };
        args.insert(args.end(), one.begin(), one.end());
    }
}

QJsonObject objectAt(const QJsonObject& parent, const char* key, const std::string& path)
{
    const QJsonValue v = parent.value(key);
    if (v.isUndefined())
        return {};
    if (!v.isObject())
        throw Failure { path + "." + key, "expected an object" };
    return v.toObject();
}

SimExpectation parseExpectation(const QJsonValue& v, const std::string& path)
{
    if (!v.isString())
        throw Failure { path, "expected a string such as \"lost == 0\"" };
    SimExpectation e;
    e.text = v.toString().toStdString();
    e.path = path;
    static const char* kOps[] = { "==", "!=", "<=", ">=", "<", ">" };
    for (const char* op : kOps) {
        const std::size_t at = e.text.find(op);
        if (at == std::string::npos)
            continue;
        auto trim = [](std::string s) {
            s.erase(0, s.find_first_not_of(' '));
            s.erase(s.find_last_not_of(' ') + 1);
            return s;
        };
        e.figure = trim(e.text.substr(0, at));
        e.op = op;
        const std::string rhs = trim(e.text.substr(at + std::string(op).size()));
        bool ok = false;
        e.value = QString::fromStdString(rhs).toDouble(&ok);
        if (!ok) {
            if (rhs.empty() || rhs.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_.") != std::string::npos)
                throw Failure { path, "the right-hand side of '" + e.text + "' is neither a number nor a figure name" };
            e.rhsFigure = rhs;
        }
        if (e.figure.empty())
            throw Failure { path, "no figure named on the left of '" + e.text + "'" };
        return e;
    }
    throw Failure { path, "no comparison (==, !=, <, <=, >, >=) in '" + e.text + "'" };
}

SimEvent parseEvent(const QJsonValue& v, const std::string& path, TimeMs durationMs)
{
    if (!v.isObject())
        throw Failure { path, "expected an object {\"at\": \"5m\", \"do\": \"crash\"}" };
    const QJsonObject o = v.toObject();
    SimEvent e;
    e.path = path;
    e.atMs = durationAt(o.value("at"), path + ".at");
    if (e.atMs <= 0 || e.atMs >= durationMs)
        throw Failure { path + ".at",
            "must lie inside the run (0 < at < duration " + formatDurationMs(durationMs) + ")" };
    const std::string kind = o.value("do").toString().toStdString();
    e.note = o.value("note").toString().toStdString();
    for (auto it = o.begin(); it != o.end(); ++it)
        if (it.key() != "at" && it.key() != "do" && it.key() != "note" && it.key() != "fault" && it.key() != "pipeline")
            throw Failure { path + "." + it.key().toStdString(), "unknown field of an event" };
    if (kind == "crash")
        e.kind = SimEvent::Kind::Crash;
    else if (kind == "batch")
        e.kind = SimEvent::Kind::Batch;
    else if (kind == "fault_off")
        e.kind = SimEvent::Kind::FaultOff;
    else if (kind == "fault_on") {
        e.kind = SimEvent::Kind::FaultOn;
        e.fault = o.value("fault").toString().toStdString();
        ParsedRun probe = parseRunOptions({ "--inject-speed-fault", e.fault });
        if (e.fault.empty() || !probe.error.empty())
            throw Failure { path + ".fault",
                "expected a fault such as \"drop-country:DE:0.1\" or \"double-count-ad:42\"" };
    } else if (kind == "restart") {
        e.kind = SimEvent::Kind::Restart;
        appendSettings(objectAt(o, "pipeline", path), kPipelineKeys, path + ".pipeline", e.pipelineArgs);
    } else {
        throw Failure { path + ".do", "unknown action '" + kind + "' (crash, restart, batch, fault_on, fault_off)" };
    }
    return e;
}

Scenario parse(const QJsonObject& root, const std::string& name)
{
    Scenario s;
    s.name = name;
    for (auto it = root.begin(); it != root.end(); ++it)
        if (!kTopKeys.count(it.key().toStdString()))
            throw Failure { "$." + it.key().toStdString(), "unknown field" };
    s.title = root.value("title").toString().toStdString();
    s.teaches = root.value("teaches").toString().toStdString();
    if (s.title.empty())
        throw Failure { "$.title", "required: a one-line title" };
    const QJsonValue seed = root.value("seed");
    if (!seed.isUndefined()) {
        if (!seed.isDouble() || seed.toDouble() < 0 || seed.toDouble() != static_cast<double>(seed.toInteger()))
            throw Failure { "$.seed", "expected a non-negative integer" };
        s.seed = static_cast<std::uint64_t>(seed.toInteger());
    }
    if (root.value("duration").isUndefined())
        throw Failure { "$.duration", "required: processing time to simulate, e.g. \"30m\"" };
    s.durationMs = durationAt(root.value("duration"), "$.duration");
    if (s.durationMs <= 0)
        throw Failure { "$.duration", "must be positive" };
    if (!root.value("ci_duration").isUndefined()) {
        s.ciDurationMs = durationAt(root.value("ci_duration"), "$.ci_duration");
        if (*s.ciDurationMs <= 0 || *s.ciDurationMs > s.durationMs)
            throw Failure { "$.ci_duration", "must be positive and at most the duration" };
    }
    appendSettings(objectAt(root, "generator", "$"), kGeneratorKeys, "$.generator", s.baseArgs);
    appendSettings(objectAt(root, "pipeline", "$"), kPipelineKeys, "$.pipeline", s.baseArgs);
    const QJsonObject hot = objectAt(root, "hot_ad", "$");
    if (!hot.isEmpty()) {
        const double ad = hot.value("ad").toDouble(-1);
        if (ad < 1 || ad != static_cast<double>(static_cast<std::uint32_t>(ad)))
            throw Failure { "$.hot_ad.ad", "expected an ad id ≥ 1" };
        s.hotAd.burstAdId = static_cast<std::uint32_t>(ad);
        s.hotAd.burstStartMs = durationAt(hot.value("start"), "$.hot_ad.start");
        s.hotAd.burstDurationMs = durationAt(hot.value("duration"), "$.hot_ad.duration");
        s.hotAd.burstShare = hot.value("share").toDouble(-1);
        if (s.hotAd.burstShare <= 0 || s.hotAd.burstShare > 1)
            throw Failure { "$.hot_ad.share", "expected a share in (0, 1]" };
    }
    if (!root.value("sample_interval").isUndefined()) {
        s.sampleIntervalMs = durationAt(root.value("sample_interval"), "$.sample_interval");
        if (s.sampleIntervalMs < kMsPerSecond)
            throw Failure { "$.sample_interval", "must be at least 1s" };
    }
    if (!root.value("retention_check").isUndefined() && !root.value("retention_check").isBool())
        throw Failure { "$.retention_check", "expected true or false" };
    s.retentionCheck = root.value("retention_check").toBool(false);
    const QJsonObject model = objectAt(root, "shard_model", "$");
    if (!model.isEmpty()) {
        for (auto it = model.begin(); it != model.end(); ++it)
            if (it.key() != "shards" && it.key() != "by" && it.key() != "k")
                throw Failure { "$.shard_model." + it.key().toStdString(), "unknown setting (known: by, k, shards)" };
        const int shards = model.value("shards").toInt(0);
        if (shards < 2 || shards > 64)
            throw Failure { "$.shard_model.shards", "expected 2 to 64 shards" };
        s.shardModel.shards = static_cast<std::uint32_t>(shards);
        const int k = model.value("k").toInt(10);
        if (k < 1 || k > 1000)
            throw Failure { "$.shard_model.k", "expected 1 to 1000" };
        s.shardModel.k = static_cast<std::uint32_t>(k);
        const std::string by = model.value("by").toString("partition").toStdString();
        if (by == "partition")
            s.shardModel.routing = ShardRouting::SourcePartition;
        else if (by == "user")
            s.shardModel.routing = ShardRouting::User;
        else if (by == "ad")
            s.shardModel.routing = ShardRouting::Ad;
        else
            throw Failure { "$.shard_model.by", "one of partition, user, ad" };
    }
    const QJsonValue variants = root.value("variants");
    if (!variants.isUndefined()) {
        if (!variants.isArray() || variants.toArray().isEmpty())
            throw Failure { "$.variants", "expected a non-empty array of {\"name\", \"pipeline\"}" };
        int i = 0;
        for (const QJsonValue& v : variants.toArray()) {
            const std::string at = "$.variants[" + std::to_string(i++) + "]";
            if (!v.isObject())
                throw Failure { at, "expected an object" };
            SimVariant sv;
            sv.name = v.toObject().value("name").toString().toStdString();
            if (sv.name.empty()
                || sv.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos)
                throw Failure { at + ".name", "required: lower-case letters, digits and _ (it prefixes the figures)" };
            for (const SimVariant& other : s.variants)
                if (other.name == sv.name)
                    throw Failure { at + ".name", "duplicate variant name '" + sv.name + "'" };
            appendSettings(objectAt(v.toObject(), "generator", at), kGeneratorKeys, at + ".generator", sv.args);
            appendSettings(objectAt(v.toObject(), "pipeline", at), kPipelineKeys, at + ".pipeline", sv.args);
            s.variants.push_back(std::move(sv));
        }
    } else {
        s.variants.push_back({});
    }
    for (const SimVariant& v : s.variants) {
        std::vector<std::string> all = s.baseArgs;
        all.insert(all.end(), v.args.begin(), v.args.end());
        if (const ParsedRun run = parseRunOptions(all); !run.error.empty())
            throw Failure { v.name.empty() ? "$.pipeline" : "$.variants." + v.name, run.error };
    }
    const QJsonValue events = root.value("events");
    if (!events.isUndefined() && !events.isArray())
        throw Failure { "$.events", "expected an array" };
    int i = 0;
    for (const QJsonValue& v : events.toArray())
        s.events.push_back(parseEvent(v, "$.events[" + std::to_string(i++) + "]", s.durationMs));
    std::stable_sort(
        s.events.begin(), s.events.end(), [](const SimEvent& a, const SimEvent& b) { return a.atMs < b.atMs; });
    if (s.shardModel.shards > 0)
        for (const SimEvent& e : s.events)
            if (e.kind != SimEvent::Kind::Batch)
                throw Failure { e.path,
                    "a scenario with a shard_model only takes batch events (the model is not recovered)" };
    const QJsonValue expect = root.value("expect");
    if (!expect.isArray() || expect.toArray().isEmpty())
        throw Failure { "$.expect", "required: a non-empty array of expectations such as \"lost == 0\"" };
    i = 0;
    for (const QJsonValue& v : expect.toArray())
        s.expectations.push_back(parseExpectation(v, "$.expect[" + std::to_string(i++) + "]"));
    s.chart = root.value("chart").toString("counts").toStdString();
    static const std::set<std::string> kCharts { "counts", "gap", "topk", "watermark", "variants", "shards",
        "retention" };
    if (!kCharts.count(s.chart))
        throw Failure { "$.chart", "one of counts, gap, topk, watermark, variants, shards, retention" };
    return s;
}
} // namespace

std::optional<Scenario> loadScenario(const std::string& path, std::string& error)
{
    QFile file(QString::fromStdString(path));
    if (!file.open(QIODevice::ReadOnly)) {
        error = path + ": cannot open: " + file.errorString().toStdString();
        return std::nullopt;
    }
    const QByteArray bytes = file.readAll();
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(bytes, &pe);
    if (pe.error != QJsonParseError::NoError) {
        const int line = static_cast<int>(bytes.left(pe.offset).count('\n')) + 1;
        error = path + ":" + std::to_string(line) + ": not valid JSON: " + pe.errorString().toStdString();
        return std::nullopt;
    }
    if (!doc.isObject()) {
        error = path + ": $: expected a JSON object";
        return std::nullopt;
    }
    try {
        return parse(doc.object(), QFileInfo(file).completeBaseName().toStdString());
    } catch (const Failure& f) {
        error = path + ": " + f.path + ": " + f.message;
        return std::nullopt;
    }
}

bool scenarioRunOptions(const Scenario& s, const SimVariant& v, const std::vector<std::string>& extraArgs,
    const std::string& dataDir, RunOptions& out, std::string& error)
{
    std::vector<std::string> args { "--source", "generator", "--clock", "virtual", "--seed", std::to_string(s.seed),
        "--data-dir", dataDir, "--batch-interval", "0s" };
    args.insert(args.end(), s.baseArgs.begin(), s.baseArgs.end());
    args.insert(args.end(), v.args.begin(), v.args.end());
    args.insert(args.end(), extraArgs.begin(), extraArgs.end());
    ParsedRun parsed = parseRunOptions(args);
    if (!parsed.error.empty()) {
        error = parsed.error;
        return false;
    }
    out = parsed.options;
    if (s.hotAd.burstAdId != 0) {
        out.generator.burstAdId = s.hotAd.burstAdId;
        out.generator.burstStartMs = s.hotAd.burstStartMs;
        out.generator.burstDurationMs = s.hotAd.burstDurationMs;
        out.generator.burstShare = s.hotAd.burstShare;
    }
    return true;
}

} // namespace adclick::app
