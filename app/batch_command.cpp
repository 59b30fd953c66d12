#include "batch_command.h"

#include "api_json.h"
#include "batch/batch_job.h"
#include "cli_args.h"
#include "storage/raw_log.h"
#include "storage/sqlite_store.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <charconv>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <optional>
#include <unistd.h>

namespace adclick::app {

using namespace adclick::engine;

namespace {

const char* kHelp
    = "Usage: adclick batch [--from T] [--to T] [--data-dir DIR] [--threads N] [--json]\n\n"
      "Recounts [from, to) exactly from the raw click log (every accepted event once per click id,\n"
      "ad and minute, late events included) and replaces the batch view of that range, in one\n"
      "transaction. The serving layer then prefers these rows over the speed layer's.\n"
      "Reads only what the last checkpoint committed, so it is safe next to a running adclick.\n\n"
      "  --from T      start (epoch ms or ISO-8601 with zone); default: the oldest raw event\n"
      "  --to T        end, exclusive; default: the watermark of the last checkpoint\n"
      "  --data-dir D  data directory (default: $XDG_DATA_HOME/adclick)\n"
      "  --threads N   worker threads, 1 … 64 (default 2)\n"
      "  --json        print the result as one JSON object\n";

std::atomic<bool> g_cancel { false };

void onSignal(int)
{
    g_cancel = true;
}

} // namespace

std::string batchRunText(const BatchJobResult& r)
{
    const BatchCountResult& c = r.count;
    char buf[1024];
    if (!r.ok) {
        std::snprintf(buf, sizeof buf, "batch run (%s) %s … %s failed: %s\n", r.run.trigger.c_str(),
            formatIsoUtc(c.fromMs).c_str(), formatIsoUtc(c.toMs).c_str(), r.error.c_str());
        return buf;
    }
    std::snprintf(buf, sizeof buf,
        "batch run %lld (%s): %s … %s recounted from the raw log in %.2f s (%u thread%s)\n"
        "  %llu records read (%.1f M/s), %llu in range, %llu counted, %llu duplicates removed, "
        "%llu late events the speed layer dropped\n"
        "  %zu batch rows written; %llu segments and %llu blocks skipped by their time range\n",
        static_cast<long long>(r.run.runId), r.run.trigger.c_str(), formatIsoUtc(r.run.fromMs).c_str(),
        formatIsoUtc(r.run.toMs).c_str(), c.seconds, c.threads, c.threads == 1 ? "" : "s",
        static_cast<unsigned long long>(c.recordsRead),
        c.seconds > 0 ? static_cast<double>(c.recordsRead) / c.seconds / 1e6 : 0.0,
        static_cast<unsigned long long>(c.recordsInRange), static_cast<unsigned long long>(c.counted),
        static_cast<unsigned long long>(c.duplicates), static_cast<unsigned long long>(c.lateDropped),
        static_cast<std::size_t>(r.rowsWritten),
        static_cast<unsigned long long>(c.segmentsSkipped), static_cast<unsigned long long>(c.blocksSkipped));
    std::string text = buf;
    if (!r.note.empty())
        text += "  note: " + r.note + "\n";
    return text;
}

namespace {

/// Default range: the oldest raw event up to the last checkpoint's watermark (or the newest raw
/// event, when the watermark is past it: a finished input).
bool defaultRange(const std::string& dir, std::optional<TimeMs>& from, std::optional<TimeMs>& to, std::string& why)
{
    std::optional<TimeMs> oldest;
    std::optional<TimeMs> newest;
    RawLogReader reader(dir + "/raw");
    for (const RawSegmentInfo& s : reader.segments()) {
        if (s.records == 0)
            continue;
        if (!oldest || s.minEventTimeMs < *oldest)
            oldest = s.minEventTimeMs;
        if (!newest || s.maxEventTimeMs > *newest)
            newest = s.maxEventTimeMs;
    }
    if (!to) {
        std::string error;
        auto store = SqliteStore::open(dir + "/adclick.db", { true, 5000 }, error);
        CheckpointData ck;
        if (!store || !store->loadCheckpoint(ck)) {
            why = store ? "no checkpoint in the store yet" : error;
            return false;
        }
        if (ck.watermarkMs <= kMinTimeMs) {
            why = "the last checkpoint has no watermark yet; give --to";
            return false;
        }
        to = newest ? std::min(ck.watermarkMs, *newest + 1) : ck.watermarkMs;
    }
    if (!from) {
        from = oldest;
        if (!from) {
            why = "the raw log is empty; give --from";
            return false;
        }
    }
    return true;
}

} // namespace

int runBatchCommand(const std::vector<std::string>& args, std::FILE* out, std::FILE* err)
{
    std::optional<TimeMs> from;
    std::optional<TimeMs> to;
    std::string dir;
    unsigned threads = 2;
    bool json = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") {
            std::fputs(kHelp, out);
            return 0;
        }
        if (a == "--json") {
            json = true;
            continue;
        }
        if (i + 1 >= args.size()) {
            std::fprintf(err, "adclick batch: %s needs a value (see adclick batch --help)\n", a.c_str());
            return 2;
        }
        const std::string& v = args[++i];
        if (a == "--from" || a == "--to") {
            const auto t = parseInstant(v);
            if (!t) {
                std::fprintf(err, "adclick batch: %s '%s' is not epoch ms or ISO-8601 with a zone\n", a.c_str(), v.c_str());
                return 2;
            }
            (a == "--from" ? from : to) = *t;
        } else if (a == "--data-dir") {
            dir = v;
        } else if (a == "--threads") {
            auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), threads);
            if (ec != std::errc() || p != v.data() + v.size() || threads < 1 || threads > 64) {
                std::fprintf(err, "adclick batch: --threads '%s' must be 1 … 64\n", v.c_str());
                return 2;
            }
        } else {
            std::fprintf(err, "adclick batch: unknown option '%s' (see adclick batch --help)\n", a.c_str());
            return 2;
        }
    }
    if (dir.empty())
        dir = defaultDataDirectory();
    if (!std::filesystem::exists(dir + "/adclick.db")) {
        std::fprintf(err, "adclick batch: no store in %s\n", dir.c_str());
        return 1;
    }
    std::string why;
    if (!defaultRange(dir, from, to, why)) {
        std::fprintf(err, "adclick batch: %s\n", why.c_str());
        return 1;
    }
    if (*from >= *to) {
        std::fprintf(err, "adclick batch: --from must be before --to\n");
        return 2;
    }

    BatchJobOptions o;
    o.fromMs = *from;
    o.toMs = *to;
    o.threads = threads;
    o.trigger = "manual";
    o.processingTimeMs
        = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count();
    o.cancel = &g_cancel;
    const bool tty = ::isatty(::fileno(err));
    int lastTenth = -1;
    o.progress = [&](const BatchProgress& p) {
        const int tenth = static_cast<int>(p.fraction() * 10);
        if (!tty && tenth == lastTenth)
            return;
        lastTenth = tenth;
        std::fprintf(err, "%sbatch: %5.1f%%  %llu records  %.1f M records/s%s", tty ? "\r" : "", p.fraction() * 100,
            static_cast<unsigned long long>(p.recordsRead), p.recordsPerSecond() / 1e6, tty ? "" : "\n");
        std::fflush(err);
    };
    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    const BatchJobResult r = BatchJob::run(dir, o);
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    if (tty)
        std::fputs("\n", err);
    if (json) {
        std::fprintf(out, "%s\n", QJsonDocument(batchRunJson(r, dir)).toJson(QJsonDocument::Compact).constData());
    } else if (r.ok) {
        std::fputs(batchRunText(r).c_str(), out);
    }
    if (!r.note.empty() && json)
        std::fprintf(err, "adclick batch: note: %s\n", r.note.c_str());
    for (const RawLogDamage& d : r.count.damage)
        std::fprintf(err, "adclick batch: raw log damage (records not counted): %s at byte %llu: %s\n", d.path.c_str(),
            static_cast<unsigned long long>(d.byteOffset), d.reason.c_str());
    if (!r.ok) {
        std::fprintf(err, "adclick batch: %s\n", r.error.c_str());
        return 1;
    }
    return 0;
}

} // namespace adclick::app
