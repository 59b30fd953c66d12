#include "api_json.h"

#include "json_out.h"

#include "core/time_units.h"
#include "ingest/reject_reason.h"

#include <QJsonArray>

#include <cmath>

namespace adclick::app {

using namespace adclick::engine;

namespace {
QJsonObject partsJson(const GapParts& p)
{
    return QJsonObject { { "speed", static_cast<qint64>(p.speed) }, { "batch", static_cast<qint64>(p.batch) },
        { "gap", static_cast<qint64>(p.gap) }, { "late", static_cast<qint64>(p.late) },
        { "duplicates", static_cast<qint64>(p.duplicates) }, { "after_run", static_cast<qint64>(p.afterRun) },
        { "explained", static_cast<qint64>(p.explained()) }, { "unexplained", static_cast<qint64>(p.unexplained) } };
}

QString qs(const std::string& s)
{
    return QString::fromStdString(s);
}

} // namespace

QJsonObject reconcileReportJson(const ReconcileReport& r, const std::string& dir)
{
    QJsonObject o;
    o["data_dir"] = qs(dir);
    o["from"] = qs(formatIsoUtc(r.fromMs));
    o["to"] = qs(formatIsoUtc(r.toMs));
    o["from_ms"] = static_cast<qint64>(r.fromMs);
    o["to_ms"] = static_cast<qint64>(r.toMs);
    if (!r.note.empty())
        o["note"] = qs(r.note);
    if (r.hasCheckpoint)
        o["checkpoint"] = QJsonObject { { "sequence", static_cast<qint64>(r.checkpointSequence) },
            { "processing_time", qs(formatIsoUtc(r.checkpointProcessingMs)) },
            { "watermark",
                r.watermarkMs <= kMinTimeMs || r.watermarkMs >= INT64_MAX / 8
                    ? QJsonValue()
                    : QJsonValue(qs(formatIsoUtc(r.watermarkMs))) },
            { "end_of_input", r.watermarkMs >= INT64_MAX / 8 },
            { "raw_end_sequence", static_cast<qint64>(r.rawEnd.nextSequence) } };
    QJsonArray runs;
    for (const BatchRunRecord& run : r.runs)
        runs.append(QJsonObject { { "run_id", static_cast<qint64>(run.runId) },
            { "from", qs(formatIsoUtc(run.fromMs)) }, { "to", qs(formatIsoUtc(run.toMs)) },
            { "raw_end_sequence", static_cast<qint64>(run.rawEnd.nextSequence) }, { "trigger", qs(run.trigger) },
            { "counted", static_cast<qint64>(run.counted) },
            { "damaged_blocks", static_cast<qint64>(run.damagedBlocks) } });
    o["runs"] = runs;
    o["totals"] = partsJson(r.totals);
    o["cells"] = static_cast<qint64>(r.cellCount);
    o["cells_unexplained"] = static_cast<qint64>(r.cellsUnexplained);
    o["ads"] = static_cast<qint64>(r.adCount);
    o["ads_unexplained"] = static_cast<qint64>(r.adsUnexplained);
    o["covered_minutes"] = static_cast<qint64>(r.coveredMinutes);
    o["speed_open_cells"] = static_cast<qint64>(r.speedOpenCells);
    QJsonArray cells;
    for (const ReconcileCell& c : r.worstCells) {
        QJsonObject j = partsJson(c.parts);
        j["ad_id"] = qs(c.adName);
        j["minute"] = qs(formatIsoUtc(c.minuteMs));
        j["run_id"] = static_cast<qint64>(c.runId);
        j["speed_open"] = c.speedOpen;
        j["raw_damage"] = c.rawDamage;
        cells.append(j);
    }
    o["worst_cells"] = cells;
    QJsonArray ads;
    for (const ReconcileAd& a : r.worstAds) {
        QJsonObject j = partsJson(a.parts);
        j["ad_id"] = qs(a.adName);
        j["minutes"] = static_cast<qint64>(a.minutes);
        j["minutes_unexplained"] = static_cast<qint64>(a.minutesUnexplained);
        ads.append(j);
    }
    o["worst_ads"] = ads;
    QJsonArray minutes;
    for (const ReconcileMinute& m : r.minutes) {
        QJsonObject j
            = m.covered ? partsJson(m.parts) : QJsonObject { { "speed", static_cast<qint64>(m.parts.speed) } };
        j["minute"] = qs(formatIsoUtc(m.minuteMs));
        j["covered"] = m.covered;
        if (m.covered)
            j["run_id"] = static_cast<qint64>(m.runId);
        j["ads"] = static_cast<qint64>(m.ads);
        j["ads_unexplained"] = static_cast<qint64>(m.adsUnexplained);
        j["speed_open"] = m.speedOpen;
        j["raw_damage"] = m.rawDamage;
        minutes.append(j);
    }
    o["minutes"] = minutes;
    QJsonArray uncovered;
    for (const UncoveredSpan& u : r.uncovered)
        uncovered.append(QJsonObject { { "from", qs(formatIsoUtc(u.fromMs)) }, { "to", qs(formatIsoUtc(u.toMs)) },
            { "speed", static_cast<qint64>(u.speed) }, { "cells", static_cast<qint64>(u.cells) } });
    o["uncovered"] = uncovered;
    o["uncovered_speed"] = static_cast<qint64>(r.uncoveredSpeed);
    QJsonObject quarantine;
    for (const QuarantineCount& q : r.quarantined)
        quarantine[qs(q.reason)] = static_cast<qint64>(q.count);
    o["quarantined"] = quarantine;
    o["quarantined_total"] = static_cast<qint64>(r.quarantinedTotal);
    QJsonArray damage;
    for (const ReconcileDamage& d : r.damage)
        damage.append(QJsonObject { { "file", qs(d.damage.path) },
            { "offset", static_cast<qint64>(d.damage.byteOffset) }, { "reason", qs(d.damage.reason) },
            { "from", qs(formatIsoUtc(d.fromMs)) }, { "to", qs(formatIsoUtc(d.toMs)) } });
    o["raw_damage"] = damage;
    o["tail_records_scanned"] = static_cast<qint64>(r.tailRecordsScanned);
    o["seconds"] = r.seconds;
    return o;
}

QJsonObject batchRunJson(const BatchJobResult& r, const std::string& dir)
{
    QJsonObject o;
    o["type"] = "batch";
    o["data_dir"] = QString::fromStdString(dir);
    o["ok"] = r.ok;
    if (!r.error.empty())
        o["error"] = QString::fromStdString(r.error);
    if (!r.note.empty())
        o["note"] = QString::fromStdString(r.note);
    const BatchCountResult& c = r.count;
    o["trigger"] = QString::fromStdString(r.run.trigger);
    o["from"] = QString::fromStdString(formatIsoUtc(r.ok ? r.run.fromMs : c.fromMs));
    o["to"] = QString::fromStdString(formatIsoUtc(r.ok ? r.run.toMs : c.toMs));
    o["run_id"] = static_cast<qint64>(r.run.runId);
    o["raw_end_sequence"] = static_cast<qint64>(c.rawEndSequence == UINT64_MAX ? 0 : c.rawEndSequence);
    o["records_read"] = static_cast<qint64>(c.recordsRead);
    o["records_in_range"] = static_cast<qint64>(c.recordsInRange);
    o["counted"] = static_cast<qint64>(c.counted);
    o["duplicates"] = static_cast<qint64>(c.duplicates);
    o["late_dropped_by_speed"] = static_cast<qint64>(c.lateDropped);
    o["rows_written"] = static_cast<qint64>(r.rowsWritten);
    o["segments_read"] = static_cast<qint64>(c.segmentsRead);
    o["segments_skipped"] = static_cast<qint64>(c.segmentsSkipped);
    o["blocks_read"] = static_cast<qint64>(c.blocksRead);
    o["blocks_skipped"] = static_cast<qint64>(c.blocksSkipped);
    o["threads"] = static_cast<int>(c.threads);
    o["slices"] = static_cast<int>(c.slices);
    o["seconds"] = c.seconds;
    o["records_per_second"] = c.seconds > 0 ? static_cast<double>(c.recordsRead) / c.seconds : 0.0;
    QJsonArray damage;
    for (const RawLogDamage& d : c.damage)
        damage.append(QJsonObject { { "path", QString::fromStdString(d.path) },
            { "offset", static_cast<qint64>(d.byteOffset) }, { "reason", QString::fromStdString(d.reason) } });
    o["damage"] = damage;
    return o;
}


namespace api {

namespace {
qint64 n(std::uint64_t v)
{
    return static_cast<qint64>(std::min<std::uint64_t>(v, static_cast<std::uint64_t>(INT64_MAX)));
}

QJsonValue str(const std::string& s)
{
    return s.empty() ? QJsonValue() : QJsonValue(QString::fromStdString(s));
}

} // namespace

QJsonValue seconds(TimeMs ms)
{
    if (ms <= kMinTimeMs || ms >= INT64_MAX / 8)
        return QJsonValue();
    if (ms % 1000 == 0)
        return static_cast<qint64>(ms / 1000);
    return static_cast<double>(ms) / 1000.0;
}

QJsonObject error(int status, const QString& message, const QString& parameter)
{
    return QJsonObject { { "error", message }, { "parameter", parameter.isEmpty() ? QJsonValue() : parameter },
        { "status", status } };
}

namespace {
void provenanceOut(JsonOut& j, const QueryProvenance& p, TimeMs windowMs)
{
    j.beginObject()
        .key("window_seconds").value(static_cast<std::int64_t>(windowMs / kMsPerSecond))
        .key("batch").value(p.batchWindows)
        .key("speed_final").value(p.speedFinalWindows)
        .key("open").value(p.openWindows)
        .key("raw_log").value(p.rawLogWindows)
        .key("missing").value(p.missingWindows)
        .key("hour_buckets").value(p.hourBuckets)
        .key("day_buckets").value(p.dayBuckets)
        .endObject();
}

void checkpointOut(JsonOut& j, const QueryCheckpointInfo& c, std::int64_t wallNowMs)
{
    if (!c.present) {
        j.null();
        return;
    }
    j.beginObject().key("sequence").value(c.sequence).key("watermark").seconds(c.watermarkMs);
    j.key("end_of_input").value(c.watermarkMs >= INT64_MAX / 8);
    j.key("processing_time").seconds(c.processingTimeMs).key("committed_at").seconds(c.wallTimeMs);
    j.key("age_seconds");
    if (c.wallTimeMs > 0)
        j.value(static_cast<double>(wallNowMs - c.wallTimeMs) / 1000.0);
    else
        j.null();
    j.key("raw_end_sequence").value(c.rawEndSequence).endObject();
}

void notesOut(JsonOut& j, const std::vector<std::string>& notes)
{
    j.beginArray();
    for (const std::string& s : notes)
        j.value(s);
    j.endArray();
}
} // namespace

namespace {
/// The fields a count and a series share (R: CountResult or SeriesResult), inside an open object.
template <class R> void countFieldsOut(JsonOut& j, const CountRequest& q, const R& r, std::int64_t wallNowMs)
{
    const CountFilters& f = q.filters;
    j.key("ad_id").value(q.adId).key("from").seconds(q.fromMs).key("to").seconds(q.toMs);
    j.key("click_count").value(r.total);
    j.key("filter").beginObject();
    j.key("region").stringOrNull(f.region).key("user_agent").stringOrNull(f.userAgentClass);
    j.key("ip").stringOrNull(f.ip).key("user_agent_contains").stringOrNull(f.userAgentContains).endObject();
    j.key("effective_from").seconds(r.fromMs).key("effective_to").seconds(r.toMs).key("widened").value(r.widened);
    j.key("exact").value(r.exact).key("partial").value(r.partial).key("path").value(countPathName(r.path));
    j.key("provenance");
    provenanceOut(j, r.provenance, q.windowMs);
    j.key("checkpoint");
    checkpointOut(j, r.checkpoint, wallNowMs);
    j.key("notes");
    notesOut(j, r.notes);
    if (r.raw) {
        const RawScanSummary& s = *r.raw;
        j.key("raw_scan").beginObject();
        j.key("records_read").value(s.recordsRead).key("records_matched").value(s.recordsMatched);
        j.key("duplicates_removed").value(s.duplicates).key("late_dropped_by_speed").value(s.lateDropped);
        j.key("segments_read").value(s.segmentsRead).key("segments_skipped").value(s.segmentsSkipped);
        j.key("blocks_read").value(s.blocksRead).key("blocks_skipped").value(s.blocksSkipped);
        j.key("bytes_read").value(s.bytesRead).key("damaged_blocks").value(s.damagedBlocks);
        j.key("damage");
        notesOut(j, s.damage);
        j.key("threads").value(s.threads).key("seconds").value(s.seconds).endObject();
    }
}
} // namespace

QByteArray count(const CountRequest& q, const CountResult& r, std::int64_t wallNowMs)
{
    JsonOut j;
    j.beginObject();
    countFieldsOut(j, q, r, wallNowMs);
    j.endObject();
    return j.take();
}

QByteArray series(const CountRequest& q, const SeriesResult& r, std::int64_t wallNowMs)
{
    JsonOut j;
    j.beginObject();
    countFieldsOut(j, q, r, wallNowMs);
    j.key("points").beginArray();
    for (const SeriesPoint& p : r.points)
        j.beginObject()
            .key("start").seconds(p.startMs)
            .key("seconds").value(p.sizeMs / 1000)
            .key("click_count").value(p.count)
            .key("source").value(seriesSourceName(p.source))
            .endObject();
    j.endArray().endObject();
    return j.take();
}

QByteArray topK(const TopKQueryResult& r, bool approx, std::uint32_t windowMinutes, TimeMs windowMs,
    const std::function<std::string(AdId)>& adName)
{
    JsonOut j;
    j.beginObject().key("window_start").seconds(r.fromMs).key("window_end").seconds(r.toMs);
    j.key("window_minutes").value(windowMinutes).key("k").value(r.k);
    j.key("source").value(topKSourceName(r.source)).key("approx").value(approx);
    j.key("top_ads").beginArray();
    if (approx && r.live) {
        for (const TopKApproxEntry& e : r.live->approx)
            j.beginObject()
                .key("ad_id").value(adName(e.adId))
                .key("click_count").value(e.estimate)
                .key("exact_count").value(e.exactCount)
                .key("error").value(e.estimate - std::min(e.estimate, e.exactCount))
                .endObject();
    } else {
        for (const TopKEntry& e : r.entries)
            j.beginObject().key("ad_id").value(adName(e.adId)).key("click_count").value(e.count).endObject();
    }
    j.endArray();
    if (r.live) {
        const TopKResult& l = *r.live;
        j.key("total_clicks").value(l.totalEvents);
        if (approx) {
            j.key("approximation").beginObject();
            j.key("method").value("count-min sketch + candidate list");
            j.key("epsilon").value(l.epsilon).key("delta").value(l.delta).key("error_bound").value(l.errorBound);
            j.key("guarantee").value("each click_count overestimates the true count by at most error_bound (= "
                                     "ceil(epsilon * total_clicks)) with probability at least 1 - delta");
            j.key("measured_error").beginObject();
            j.key("max_abs").value(l.maxAbsError).key("mean_abs").value(l.meanAbsError);
            j.key("precision").value(l.precision).key("within_bound").value(l.withinBound).endObject();
            j.key("sketch_bytes").value(static_cast<std::uint64_t>(l.sketchBytes));
            j.key("exact_bytes").value(static_cast<std::uint64_t>(l.exactBytes)).endObject();
        }
    } else {
        j.key("widened").value(r.widened).key("partial").value(r.partial).key("provenance");
        provenanceOut(j, r.provenance, windowMs);
    }
    j.key("notes");
    notesOut(j, r.notes);
    j.endObject();
    return j.take();
}

namespace {
QJsonObject batchesJson(const BatchSchedulerStatus& b)
{
    QJsonObject o { { "running", b.running }, { "runs_completed", n(b.runsCompleted) },
        { "runs_failed", n(b.runsFailed) }, { "next_scheduled", seconds(b.nextScheduledMs) },
        { "last_error", str(b.lastError) } };
    if (b.running)
        o["current"] = QJsonObject { { "id", n(b.runningId) }, { "trigger", QString::fromStdString(b.runningTrigger) },
            { "from", seconds(b.runningFromMs) }, { "to", seconds(b.runningToMs) },
            { "progress", b.progress.bytesTotal == 0 ? 0.0 : b.progress.fraction() },
            { "records_read", n(b.progress.recordsRead) } };
    if (b.lastRun)
        o["last_run"] = QJsonObject { { "run_id", static_cast<qint64>(b.lastRun->runId) },
            { "from", seconds(b.lastRun->fromMs) }, { "to", seconds(b.lastRun->toMs) },
            { "trigger", QString::fromStdString(b.lastRun->trigger) }, { "counted", n(b.lastRun->counted) },
            { "finished_at", seconds(b.lastRun->finishedWallMs) }, { "seconds", b.lastRun->seconds } };
    return o;
}

/// Lag of the watermark behind processing time, in seconds (null without a watermark).
QJsonValue lagSeconds(const PipelineSnapshot& s)
{
    if (s.watermarkMs <= kMinTimeMs || s.watermarkMs >= INT64_MAX / 8)
        return QJsonValue();
    return static_cast<double>(s.processingTimeMs - s.watermarkMs) / 1000.0;
}
} // namespace

QJsonObject pipeline(const ServerStatus& st)
{
    QJsonObject o { { "source", QString::fromStdString(st.source) }, { "data_dir", str(st.dataDirectory) },
        { "server_time", seconds(st.wallNowMs) }, { "uptime_seconds", st.uptimeSeconds },
        { "ingest_ended", st.ingestEnded }, { "stopping", st.stopping },
        { "config",
            QJsonObject { { "window_seconds", static_cast<double>(st.windowMs) / 1000.0 },
                { "watermark_bound_seconds", static_cast<double>(st.watermarkBoundMs) / 1000.0 },
                { "allowed_lateness_seconds", static_cast<double>(st.allowedLatenessMs) / 1000.0 } } } };
    if (const PipelineSnapshot* s = st.snapshot.get()) {
        const PipelineCounters& c = s->counters;
        o["processing_time"] = seconds(s->processingTimeMs);
        o["watermark"] = seconds(s->watermarkMs);
        o["max_event_time"] = seconds(s->maxEventTimeMs);
        o["watermark_lag_seconds"] = lagSeconds(*s);
        o["events_per_second"] = s->eventsPerWallSecond;
        o["wall_seconds"] = s->wallSeconds;
        QJsonObject rejected;
        for (int i = 0; i < kRejectReasonCount; ++i)
            if (c.rejected.byReason[static_cast<std::size_t>(i)] > 0)
                rejected[QString::fromUtf8(rejectReasonName(static_cast<RejectReason>(i)).data())]
                    = n(c.rejected.byReason[static_cast<std::size_t>(i)]);
        o["counters"] = QJsonObject { { "received", n(c.received) }, { "accepted", n(c.accepted) },
            { "counted", n(c.counted) }, { "late_dropped", n(c.lateDropped) }, { "late_updated", n(c.lateUpdated) },
            { "duplicates", n(c.duplicates) }, { "quarantined", n(c.rejected.total()) }, { "rejected", rejected },
            { "windows_finalised", n(c.windowsFinalised) } };
        QJsonArray partitions;
        for (std::size_t i = 0; i < s->partitions.size(); ++i) {
            const PartitionWatermark& p = s->partitions[i];
            partitions.append(QJsonObject { { "partition", static_cast<qint64>(i) }, { "watermark", seconds(p.watermarkMs) },
                { "max_event_time", seconds(p.maxEventTimeMs) }, { "events", n(p.events) }, { "idle", p.idle },
                { "holds_watermark", !p.idle && p.watermarkMs == s->watermarkMs } });
        }
        o["partitions"] = partitions;
        o["idle_partitions"] = static_cast<qint64>(s->idlePartitions);
        if (const SourceStatus& ss = s->sourceStatus; ss.external) {
            QJsonArray kafkaPartitions;
            for (const SourcePartitionStatus& p : ss.partitions)
                kafkaPartitions.append(QJsonObject { { "partition", static_cast<qint64>(p.partition) },
                    { "assigned", p.assigned }, { "position", p.position >= 0 ? QJsonValue(static_cast<qint64>(p.position)) : QJsonValue() },
                    { "high_watermark", p.highWatermark >= 0 ? QJsonValue(static_cast<qint64>(p.highWatermark)) : QJsonValue() },
                    { "lag", p.lag >= 0 ? QJsonValue(static_cast<qint64>(p.lag)) : QJsonValue() } });
            o["source_status"] = QJsonObject { { "connected", ss.connected }, { "state", str(ss.state) },
                { "brokers_up", static_cast<qint64>(ss.brokersUp) }, { "brokers_known", static_cast<qint64>(ss.brokersKnown) },
                { "outages", n(ss.outages) }, { "rebalances", n(ss.rebalances) }, { "dead_lettered", n(ss.deadLettered) },
                { "dead_letter_failures", n(ss.deadLetterFailures) }, { "partitions", kafkaPartitions } };
        }
        QJsonArray lateness;
        for (int b = 0; b < LatenessHistogram::kBuckets; ++b)
            lateness.append(QJsonObject { { "from_seconds", b == 0 ? 0 : static_cast<qint64>(1) << (b - 1) },
                { "to_seconds", b == LatenessHistogram::kBuckets - 1 ? QJsonValue() : QJsonValue(static_cast<qint64>(1) << b) },
                { "count", n(s->lateness.counts[static_cast<std::size_t>(b)]) } });
        o["lateness"] = lateness;
        o["state"] = QJsonObject { { "open_windows", n(s->openWindows) }, { "open_cells", n(s->openCells) },
            { "state_bytes", n(s->stateBytes) }, { "dedup_ids", n(s->dedupIds) }, { "shards", static_cast<qint64>(s->shards) } };
        QJsonArray windows;
        for (const WindowSummary& w : s->recentWindows)
            windows.append(QJsonObject { { "window_start", seconds(w.windowStartMs) }, { "counted", n(w.counted) },
                { "ads", n(w.ads) }, { "cells", n(w.cells) }, { "late_dropped", n(w.lateDropped) } });
        o["recent_windows"] = windows;
        o["finished"] = s->finished;
    }
    if (st.checkpoint) {
        const CheckpointStats& c = *st.checkpoint;
        o["checkpoint"] = QJsonObject { { "checkpoints", n(c.checkpoints) }, { "last_sequence", n(c.lastSequence) },
            { "last_committed_at", c.lastCommitWallMs > 0 ? seconds(c.lastCommitWallMs) : QJsonValue() },
            { "age_seconds",
                c.lastCommitWallMs > 0 ? QJsonValue(static_cast<double>(st.wallNowMs - c.lastCommitWallMs) / 1000.0)
                                       : QJsonValue() },
            { "last_commit_ms", c.lastCommitMs }, { "max_commit_ms", c.maxCommitMs },
            { "max_ingest_stall_ms", c.maxCaptureMs }, { "failed_attempts", n(c.failedAttempts) },
            { "paused", c.paused }, { "failed", c.failed }, { "pause_reason", str(c.pauseReason) }, { "raw_records", n(c.rawRecords) },
            { "raw_bytes", n(c.rawBytes) }, { "quarantined_records", n(c.quarantined) } };
    }
    if (st.batches)
        o["batch"] = batchesJson(*st.batches);
    return o;
}

QJsonObject health(const ServerStatus& st)
{
    const bool failed = st.checkpoint && st.checkpoint->failed;
    const bool paused = st.checkpoint && st.checkpoint->paused;
    const bool outage = st.snapshot && st.snapshot->sourceStatus.external && !st.snapshot->sourceStatus.connected;
    QJsonObject o { { "status", failed ? "failed" : (paused || outage) ? "degraded" : "ok" }, { "ingest_ended", st.ingestEnded },
        { "stopping", st.stopping }, { "uptime_seconds", st.uptimeSeconds } };
    if (failed)
        o["reason"] = QString::fromStdString("ingestion stopped, the database is damaged: " + st.checkpoint->pauseReason);
    else if (paused)
        o["reason"] = QString::fromStdString("ingestion paused: " + st.checkpoint->pauseReason);
    else if (outage)
        o["reason"] = QString::fromStdString("source " + st.snapshot->sourceStatus.state);
    return o;
}

QJsonObject batchRequest(const BatchRequestStatus& r, const std::string& dataDirectory)
{
    QJsonObject o { { "id", n(r.id) }, { "state", QString::fromUtf8(batchRequestStateName(r.state).data()) },
        { "trigger", QString::fromStdString(r.trigger) }, { "from", seconds(r.requestedFromMs) },
        { "to", seconds(r.requestedToMs) }, { "created_at", seconds(r.createdWallMs) },
        { "finished_at", r.finishedWallMs > 0 ? seconds(r.finishedWallMs) : QJsonValue() },
        { "progress",
            QJsonObject { { "fraction",
                              r.state == BatchRequestState::Succeeded ? 1.0
                                  : r.progress.bytesTotal == 0        ? 0.0 // not planned yet
                                                                      : r.progress.fraction() },
                { "records_read", n(r.progress.recordsRead) }, { "bytes_done", n(r.progress.bytesDone) },
                { "bytes_total", n(r.progress.bytesTotal) }, { "records_per_second", r.progress.recordsPerSecond() },
                { "seconds", r.progress.seconds } } },
        { "status_url", QString("/v1/batch/runs/%1").arg(r.id) } };
    if (r.result) {
        QJsonObject result = batchRunJson(*r.result, dataDirectory);
        result.remove("type");
        result.remove("data_dir");
        o["result"] = result;
    }
    return o;
}

} // namespace api
} // namespace adclick::app
