#include "reconcile_command.h"

#include "batch/reconciler.h"
#include "cli_args.h"
#include "api_json.h"
#include "run_report.h"
#include "storage/sqlite_store.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <charconv>
#include <optional>

namespace adclick::app {

using namespace adclick::engine;

namespace {

const char* kHelp
    = "Usage: adclick reconcile --from T --to T [--data-dir DIR] [--json] [--limit N]\n\n"
      "Compares the speed layer's count with the batch layer's recount for every (ad, minute) of\n"
      "[from, to) (widened to whole minutes) and splits each gap = batch - speed into its causes:\n"
      "  late            + events the speed layer dropped as late (the batch layer counts them)\n"
      "  duplicates      +/- resends only one layer removed (the speed layer's click-id horizon is\n"
      "                  time-bound; the batch layer removes a click id once per ad and minute)\n"
      "  after the run   - events the speed layer counted after the batch run read the raw log\n"
      "and what is left: the UNEXPLAINED gap, 0 in a healthy system. Quarantined input is counted\n"
      "by neither layer (shown as context); unreadable raw log blocks are flagged on the minutes\n"
      "they may hold. Minutes no batch run covers are listed, not reconciled: run `adclick batch`\n"
      "over them first. A demo of a non-zero unexplained gap: `adclick run --inject-speed-fault\n"
      "drop-country:DE:0.1` (FAULT INJECTION: the speed layer miscounts on purpose), then\n"
      "`adclick batch` and `adclick reconcile` over the same range.\n\n"
      "Options:\n"
      "  --from T        start, epoch ms or ISO-8601 with a zone (2026-01-01T00:00:00Z)\n"
      "  --to T          end (exclusive), same forms\n"
      "  --data-dir DIR  the data directory (default $XDG_DATA_HOME/adclick, else ~/.local/share/adclick)\n"
      "  --json          one JSON document instead of text (minutes: all of them, in time order)\n"
      "  --limit N       worst cells, ads and minutes printed, 0 = all (default 20)\n"
      "  --help          this text\n\n"
      "Exit code: 0 when it ran (even with gaps), 1 when it could not, 2 for bad arguments.\n";

std::string minuteText(TimeMs t)
{
    return formatIsoUtc(t).substr(0, 16) + "Z"; // 2026-01-01T00:03Z
}

std::string signedText(std::int64_t v)
{
    if (v == 0)
        return "0";
    const std::uint64_t m = v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
    return (v < 0 ? "-" : "+") + groupThousands(m);
}

std::string flagsText(bool open, bool damage)
{
    std::string f;
    if (open)
        f += " open";
    if (damage)
        f += " raw-damage";
    return f;
}

/// The watermark as a user reads it: a finished run's is "past every window", not a date.
std::string watermarkText(TimeMs watermarkMs)
{
    if (watermarkMs <= kMinTimeMs)
        return "none";
    if (watermarkMs >= INT64_MAX / 8)
        return "end of input (every window final)";
    return formatIsoUtc(watermarkMs);
}

void printPartsHeader(std::FILE* out, const char* first)
{
    std::fprintf(out, "  %-22s %10s %10s %9s %8s %8s %9s %12s\n", first, "speed", "batch", "gap", "late", "dup",
        "after-run", "unexplained");
}

void printParts(std::FILE* out, const std::string& first, const GapParts& p, const std::string& tail)
{
    std::fprintf(out, "  %-22s %10s %10s %9s %8s %8s %9s %12s%s\n", first.c_str(), groupThousands(p.speed).c_str(),
        groupThousands(p.batch).c_str(), signedText(p.gap).c_str(), signedText(p.late).c_str(),
        signedText(p.duplicates).c_str(), signedText(p.afterRun).c_str(), signedText(p.unexplained).c_str(),
        tail.c_str());
}

void printText(const ReconcileReport& r, const std::string& dir, std::size_t limit, std::FILE* out)
{
    const GapParts& t = r.totals;
    std::fprintf(out, "reconcile %s: %s .. %s (%lld minutes)\n", dir.c_str(), formatIsoUtc(r.fromMs).c_str(),
        formatIsoUtc(r.toMs).c_str(), static_cast<long long>((r.toMs - r.fromMs) / kMsPerMinute));
    if (!r.note.empty())
        std::fprintf(out, "note: %s\n", r.note.c_str());
    if (r.hasCheckpoint)
        std::fprintf(out, "speed layer: checkpoint #%llu, watermark %s, raw log end sequence %llu\n",
            static_cast<unsigned long long>(r.checkpointSequence), watermarkText(r.watermarkMs).c_str(),
            static_cast<unsigned long long>(r.rawEnd.nextSequence));
    else
        std::fprintf(out, "speed layer: no checkpoint yet\n");
    for (const BatchRunRecord& run : r.runs)
        std::fprintf(out, "batch run #%lld: %s .. %s, read raw sequence < %llu, %s records counted, trigger %s%s\n",
            static_cast<long long>(run.runId), minuteText(run.fromMs).c_str(), minuteText(run.toMs).c_str(),
            static_cast<unsigned long long>(run.rawEnd.nextSequence), groupThousands(run.counted).c_str(),
            run.trigger.c_str(),
            run.damagedBlocks ? (", " + std::to_string(run.damagedBlocks) + " damaged raw blocks").c_str() : "");
    if (r.runs.empty())
        std::fprintf(out, "batch runs: none cover this range (run `adclick batch --from .. --to ..` first)\n");
    std::fprintf(out, "covered: %llu of %lld minutes, %s (ad, minute) cells, %s ads%s\n",
        static_cast<unsigned long long>(r.coveredMinutes), static_cast<long long>((r.toMs - r.fromMs) / kMsPerMinute),
        groupThousands(r.cellCount).c_str(), groupThousands(r.adCount).c_str(),
        r.speedOpenCells ? (", " + groupThousands(r.speedOpenCells) + " cells with open (partial) speed rows").c_str()
                         : "");
    std::fprintf(out, "\ntotals: speed %s, batch %s, gap %s\n", groupThousands(t.speed).c_str(),
        groupThousands(t.batch).c_str(), signedText(t.gap).c_str());
    std::fprintf(out, "explained: %s = late %s, duplicates %s, arrived after the batch run %s\n",
        signedText(t.explained()).c_str(), signedText(t.late).c_str(), signedText(t.duplicates).c_str(),
        signedText(t.afterRun).c_str());
    std::fprintf(out, "UNEXPLAINED: %s in %s cells, %s ads\n", signedText(t.unexplained).c_str(),
        groupThousands(r.cellsUnexplained).c_str(), groupThousands(r.adsUnexplained).c_str());
    if (r.cellsUnexplained > 0)
        std::fprintf(out,
            "  not explained by late events, duplicates, arrival after the batch run or quarantine: a speed-layer\n"
            "  miscount (an injected demo fault, adclick run --inject-speed-fault, or a bug) or raw log damage;\n"
            "  start with the worst cells below\n");
    std::fprintf(out, "quarantined (context; counted by neither layer, explains no gap): %s",
        groupThousands(r.quarantinedTotal).c_str());
    for (std::size_t i = 0; i < r.quarantined.size(); ++i)
        std::fprintf(out, "%s%s %s", i ? ", " : " (", r.quarantined[i].reason.c_str(),
            groupThousands(r.quarantined[i].count).c_str());
    std::fprintf(out, "%s\n", r.quarantined.empty() ? "" : ")");
    if (r.damage.empty())
        std::fprintf(out, "raw log damage: none found\n");
    for (const ReconcileDamage& d : r.damage)
        std::fprintf(out, "raw log damage: %s at byte %llu (%s): may hold records of %s .. %s\n", d.damage.path.c_str(),
            static_cast<unsigned long long>(d.damage.byteOffset), d.damage.reason.c_str(), minuteText(d.fromMs).c_str(),
            minuteText(d.toMs).c_str());
    for (const UncoveredSpan& u : r.uncovered)
        std::fprintf(out, "not covered by a batch run (not reconciled): %s .. %s, speed %s in %s cells\n",
            minuteText(u.fromMs).c_str(), minuteText(u.toMs).c_str(), groupThousands(u.speed).c_str(),
            groupThousands(u.cells).c_str());

    if (!r.worstCells.empty()) {
        std::fprintf(out, "\nworst cells (|unexplained|, then |gap|; %zu of %s):\n", r.worstCells.size(),
            groupThousands(r.cellCount).c_str());
        printPartsHeader(out, "ad @ minute");
        for (const ReconcileCell& c : r.worstCells)
            printParts(out, c.adName + " @ " + minuteText(c.minuteMs).substr(11), c.parts,
                flagsText(c.speedOpen, c.rawDamage));
    }
    if (!r.worstAds.empty()) {
        std::fprintf(out, "\nper ad (worst first; %zu of %s):\n", r.worstAds.size(), groupThousands(r.adCount).c_str());
        printPartsHeader(out, "ad (minutes)");
        for (const ReconcileAd& a : r.worstAds)
            printParts(out, a.adName + " (" + std::to_string(a.minutes) + ")", a.parts, "");
    }
    std::vector<const ReconcileMinute*> minutes;
    for (const ReconcileMinute& m : r.minutes)
        if (m.covered)
            minutes.push_back(&m);
    if (!minutes.empty()) {
        std::stable_sort(minutes.begin(), minutes.end(), [](const ReconcileMinute* a, const ReconcileMinute* b) {
            const auto mag = [](std::int64_t v) { return v < 0 ? -v : v; };
            if (mag(a->parts.unexplained) != mag(b->parts.unexplained))
                return mag(a->parts.unexplained) > mag(b->parts.unexplained);
            return mag(a->parts.gap) > mag(b->parts.gap);
        });
        const std::size_t shown = std::min(limit, minutes.size());
        std::fprintf(out, "\nper minute (worst first; %zu of %zu covered minutes with rows):\n", shown, minutes.size());
        printPartsHeader(out, "minute (ads)");
        for (std::size_t i = 0; i < shown; ++i) {
            const ReconcileMinute& m = *minutes[i];
            printParts(out, minuteText(m.minuteMs) + " (" + std::to_string(m.ads) + ")", m.parts,
                flagsText(m.speedOpen, m.rawDamage));
        }
    }
}

} // namespace

int runReconcileCommand(const std::vector<std::string>& args, std::FILE* out, std::FILE* err)
{
    std::optional<TimeMs> from, to;
    std::string dataDir;
    bool json = false;
    std::size_t limit = 20;
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
        if (a != "--from" && a != "--to" && a != "--data-dir" && a != "--limit") {
            std::fprintf(err, "adclick reconcile: unknown option '%s' (see adclick reconcile --help)\n", a.c_str());
            return 2;
        }
        if (i + 1 >= args.size()) {
            std::fprintf(err, "adclick reconcile: option %s needs a value\n", a.c_str());
            return 2;
        }
        const std::string& v = args[++i];
        if (a == "--from" || a == "--to") {
            std::optional<TimeMs>& target = a == "--from" ? from : to;
            if (!(target = parseInstant(v))) {
                std::fprintf(err,
                    "adclick reconcile: invalid value '%s' for %s (expected epoch ms or ISO-8601 with a zone)\n",
                    v.c_str(), a.c_str());
                return 2;
            }
        } else if (a == "--data-dir") {
            dataDir = v;
        } else {
            std::uint64_t n = 0;
            const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
            if (ec != std::errc() || p != v.data() + v.size() || n > 1000000) {
                std::fprintf(
                    err, "adclick reconcile: invalid value '%s' for --limit (expected 0 … 1000000)\n", v.c_str());
                return 2;
            }
            limit = n == 0 ? SIZE_MAX : static_cast<std::size_t>(n);
        }
    }
    if (!from || !to) {
        std::fprintf(
            err, "adclick reconcile: %s is required (epoch ms or ISO-8601 with a zone)\n", !from ? "--from" : "--to");
        return 2;
    }
    if (*from >= *to) {
        std::fprintf(err, "adclick reconcile: --to must be after --from (the range is [from, to))\n");
        return 1;
    }
    if (dataDir.empty())
        dataDir = defaultDataDirectory();
    ReconcileOptions options;
    options.limit = limit == SIZE_MAX ? 0 : limit;
    const ReconcileReport report = reconcile(dataDir, *from, *to, options);
    if (!report.ok) {
        std::fprintf(err, "adclick reconcile: %s\n", report.error.c_str());
        return 1;
    }
    if (json)
        std::fprintf(
            out, "%s\n", QJsonDocument(reconcileReportJson(report, dataDir)).toJson(QJsonDocument::Compact).constData());
    else
        printText(report, dataDir, limit, out);
    return 0;
}

} // namespace adclick::app
