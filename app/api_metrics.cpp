// GET /metrics: the server's figures in the Prometheus text exposition format 0.0.4 (the same
// figures /v1/pipeline gives as JSON, from the same ServerStatus).

#include "api_json.h"

#include "ingest/reject_reason.h"

#include <cmath>

namespace adclick::app::api {

using namespace adclick::engine;

namespace {
void metric(QByteArray& out, const char* name, const char* type, const char* help)
{
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

void sample(QByteArray& out, const char* name, double value, const QByteArray& labels = {})
{
    out += name;
    if (!labels.isEmpty()) {
        out += '{';
        out += labels;
        out += '}';
    }
    out += ' ';
    if (std::isnan(value))
        out += "NaN";
    else if (value == std::floor(value) && std::abs(value) < 9e15)
        out += QByteArray::number(static_cast<qint64>(value));
    else
        out += QByteArray::number(value, 'g', 12);
    out += '\n';
}

void one(QByteArray& out, const char* name, const char* type, const char* help, double value)
{
    metric(out, name, type, help);
    sample(out, name, value);
}
} // namespace

QByteArray metrics(const ServerStatus& st)
{
    QByteArray out;
    out.reserve(8192);
    one(out, "adclick_up", "gauge", "1 while the server answers.", 1);
    one(out, "adclick_uptime_seconds", "gauge", "Seconds since the server started.", st.uptimeSeconds);
    one(out, "adclick_ingest_ended", "gauge", "1 once the input ended: nothing more is ingested.", st.ingestEnded ? 1 : 0);
    one(out, "adclick_http_requests_total", "counter", "HTTP requests answered.", static_cast<double>(st.httpRequests));
    metric(out, "adclick_http_errors_total", "counter", "HTTP requests answered with an error status, by class.");
    sample(out, "adclick_http_errors_total", static_cast<double>(st.httpClientErrors), "class=\"4xx\"");
    sample(out, "adclick_http_errors_total", static_cast<double>(st.httpServerErrors), "class=\"5xx\"");
    if (const PipelineSnapshot* s = st.snapshot.get()) {
        const PipelineCounters& c = s->counters;
        one(out, "adclick_events_received_total", "counter", "Records polled from the source (accepted + rejected).",
            static_cast<double>(c.received));
        one(out, "adclick_events_accepted_total", "counter", "Records decoded into click events.",
            static_cast<double>(c.accepted));
        one(out, "adclick_events_counted_total", "counter", "Events counted into windows (incl. late updates).",
            static_cast<double>(c.counted));
        one(out, "adclick_events_late_dropped_total", "counter", "Events dropped because their window was final.",
            static_cast<double>(c.lateDropped));
        one(out, "adclick_events_late_updated_total", "counter", "Late events that corrected a final window.",
            static_cast<double>(c.lateUpdated));
        one(out, "adclick_events_duplicate_total", "counter", "Resent clicks removed by click id.",
            static_cast<double>(c.duplicates));
        metric(out, "adclick_events_rejected_total", "counter", "Malformed records quarantined, by reason.");
        for (int i = 0; i < kRejectReasonCount; ++i)
            sample(out, "adclick_events_rejected_total", static_cast<double>(c.rejected.byReason[static_cast<std::size_t>(i)]),
                "reason=\"" + QByteArray(rejectReasonName(static_cast<RejectReason>(i)).data()) + "\"");
        one(out, "adclick_events_per_second", "gauge", "Records received per second over the last snapshot interval.",
            s->eventsPerWallSecond);
        one(out, "adclick_windows_finalised_total", "counter", "Windows made final.",
            static_cast<double>(c.windowsFinalised));
        const bool hasWatermark = s->watermarkMs > kMinTimeMs && s->watermarkMs < INT64_MAX / 8;
        one(out, "adclick_watermark_seconds", "gauge", "Event-time watermark (Unix seconds).",
            hasWatermark ? static_cast<double>(s->watermarkMs) / 1000.0 : std::nan(""));
        one(out, "adclick_processing_time_seconds", "gauge", "Processing time of the last step (Unix seconds).",
            static_cast<double>(s->processingTimeMs) / 1000.0);
        one(out, "adclick_watermark_lag_seconds", "gauge", "Processing time minus watermark.",
            hasWatermark ? static_cast<double>(s->processingTimeMs - s->watermarkMs) / 1000.0 : std::nan(""));
        metric(out, "adclick_partition_watermark_seconds", "gauge", "Watermark of each source partition (Unix seconds).");
        for (std::size_t i = 0; i < s->partitions.size(); ++i) {
            const TimeMs w = s->partitions[i].watermarkMs;
            sample(out, "adclick_partition_watermark_seconds",
                w > kMinTimeMs ? static_cast<double>(w) / 1000.0 : std::nan(""),
                "partition=\"" + QByteArray::number(static_cast<qulonglong>(i)) + "\"");
        }
        metric(out, "adclick_partition_idle", "gauge", "1 while a source partition is idle.");
        for (std::size_t i = 0; i < s->partitions.size(); ++i)
            sample(out, "adclick_partition_idle", s->partitions[i].idle ? 1 : 0,
                "partition=\"" + QByteArray::number(static_cast<qulonglong>(i)) + "\"");
        if (const SourceStatus& ss = s->sourceStatus; ss.external) {
            one(out, "adclick_source_connected", "gauge", "0 during a broker outage (Kafka source).", ss.connected ? 1 : 0);
            one(out, "adclick_source_brokers_up", "gauge", "Kafka brokers connected.", ss.brokersUp);
            one(out, "adclick_source_outages_total", "counter", "Broker outages seen since start.",
                static_cast<double>(ss.outages));
            one(out, "adclick_source_dead_lettered_total", "counter", "Malformed messages delivered to the dead-letter topic.",
                static_cast<double>(ss.deadLettered));
            metric(out, "adclick_source_partition_lag", "gauge",
                "Messages behind the end of each assigned Kafka partition (high watermark - position).");
            for (const SourcePartitionStatus& p : ss.partitions)
                if (p.assigned && p.lag >= 0)
                    sample(out, "adclick_source_partition_lag", static_cast<double>(p.lag),
                        "partition=\"" + QByteArray::number(static_cast<qulonglong>(p.partition)) + "\"");
        }
        one(out, "adclick_open_windows", "gauge", "Windows not yet final.", static_cast<double>(s->openWindows));
        one(out, "adclick_open_cells", "gauge", "(ad, country, device) cells of open windows.",
            static_cast<double>(s->openCells));
        one(out, "adclick_state_bytes", "gauge", "Memory of windows, top-K and de-duplication state.",
            static_cast<double>(s->stateBytes));
    }
    if (st.checkpoint) {
        const CheckpointStats& c = *st.checkpoint;
        one(out, "adclick_checkpoints_total", "counter", "Checkpoints committed.", static_cast<double>(c.checkpoints));
        one(out, "adclick_checkpoint_failures_total", "counter", "Checkpoint attempts that failed (retried).",
            static_cast<double>(c.failedAttempts));
        one(out, "adclick_checkpoint_age_seconds", "gauge", "Seconds since the last checkpoint committed.",
            c.lastCommitWallMs > 0 ? static_cast<double>(st.wallNowMs - c.lastCommitWallMs) / 1000.0 : std::nan(""));
        one(out, "adclick_checkpoint_commit_seconds", "gauge", "Duration of the last checkpoint commit.",
            c.lastCommitMs / 1000.0);
        one(out, "adclick_ingest_paused", "gauge", "1 while ingestion waits for a failing checkpoint.", c.paused ? 1 : 0);
        one(out, "adclick_store_failed", "gauge", "1 once the database was found damaged and ingestion stopped.",
            c.failed ? 1 : 0);
        one(out, "adclick_raw_log_bytes_total", "counter", "Raw click log bytes written by this process.",
            static_cast<double>(c.rawBytes));
        one(out, "adclick_quarantined_records_total", "counter", "Records written to quarantine.ndjson by this process.",
            static_cast<double>(c.quarantined));
    }
    if (st.batches) {
        const BatchSchedulerStatus& b = *st.batches;
        one(out, "adclick_batch_running", "gauge", "1 while a batch recount runs.", b.running ? 1 : 0);
        one(out, "adclick_batch_runs_completed_total", "counter", "Batch runs that completed.",
            static_cast<double>(b.runsCompleted));
        one(out, "adclick_batch_runs_failed_total", "counter", "Batch runs that failed or were cancelled.",
            static_cast<double>(b.runsFailed));
        one(out, "adclick_batch_progress_ratio", "gauge", "Progress of the running batch recount (0 … 1).",
            b.running && b.progress.bytesTotal > 0 ? b.progress.fraction() : 0);
    }
    return out;
}

} // namespace adclick::app::api
