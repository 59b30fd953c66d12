#include "ingest_objects.h"

#include "ingest/file_source.h"
#include "ingest/kafka_source.h"
#include "ingest/synthetic_source.h"
#include "scaled_clock.h"
#include "storage/sqlite_store.h"

#include <filesystem>

namespace adclick::ui {

using namespace adclick::engine;

std::string sourceKeyOf(const DashboardSettings& s)
{
    if (s.source == DashboardSource::Generator)
        return "generator seed=" + std::to_string(s.generator.seed)
            + " partitions=" + std::to_string(s.generator.partitions);
    if (s.source == DashboardSource::Kafka)
        return "kafka topic " + s.kafka.topic;
    std::error_code ec;
    const auto abs = std::filesystem::absolute(s.inputPath, ec);
    return "file " + (ec ? s.inputPath : abs.string());
}

IngestObjects::IngestObjects(DashboardSettings settings, ScaledClock& clock)
    : m_settings(std::move(settings))
    , m_clock(clock)
{
}

IngestObjects::~IngestObjects()
{
    if (m_batches) {
        m_batches->cancel();
        m_batches->waitIdle();
    }
}

bool IngestObjects::open(std::string& error)
{
    // The store opens first: it restores the named ads, so their ids match the stored rows.
    m_dataDir = m_settings.dataDirectory.empty() ? defaultDataDirectory() : m_settings.dataDirectory;
    CheckpointerConfig cc = m_settings.checkpoints;
    cc.dataDirectory = m_dataDir;
    cc.sourceKey = sourceKeyOf(m_settings);
    m_checkpointer = Checkpointer::open(cc, m_ads, m_userAgents, error);
    if (!m_checkpointer)
        return false;

    switch (m_settings.source) {
    case DashboardSource::Generator: {
        auto generator = std::make_unique<SyntheticSource>(m_settings.generator, m_clock, m_ads, m_userAgents);
        m_generator = generator.get();
        m_source = std::move(generator);
        break;
    }
    case DashboardSource::Kafka: {
        auto kafka = std::make_unique<KafkaSource>(m_settings.kafka, m_clock, m_ads, m_userAgents);
        if (!kafka->isOpen()) {
            error = "cannot read from Kafka: " + kafka->error();
            return false;
        }
        m_kafka = kafka.get();
        m_source = std::move(kafka);
        break;
    }
    case DashboardSource::File: {
        auto file
            = std::make_unique<FileSource>(m_settings.inputPath, m_clock, m_ads, m_userAgents, m_settings.fileSpeedup);
        if (!file->isOpen()) {
            error = "cannot read input: " + file->error();
            return false;
        }
        m_source = std::move(file);
        break;
    }
    }
    m_sourceDescription = m_source->describe();
    m_pipeline = std::make_unique<Pipeline>(m_settings.pipeline, *m_source, m_clock);
    if (!m_checkpointer->recover(*m_pipeline, *m_source, m_recovery, error))
        return false;
    // A store written by a fast-forwarded run may be ahead of the wall clock: processing time
    // continues from there, or every new event would be late.
    if (m_recovery.restored && m_recovery.watermarkMs > kMinTimeMs)
        m_clock.advanceTo(m_recovery.watermarkMs + m_settings.pipeline.watermark.boundMs);
    if (m_kafka)
        m_kafka->setRevokeHook([this] {
            std::string ignored; // a failure leaves the last checkpoint as the hand-over
            (void)m_checkpointer->checkpointNow(ignored);
        });
    m_pipeline->publishSnapshot();
    if (m_settings.batchSchedule.intervalMs >= 0) {
        BatchScheduleConfig bc = m_settings.batchSchedule;
        bc.allowedLatenessMs = m_settings.pipeline.window.allowedLatenessMs;
        m_batches = std::make_shared<BatchScheduler>(m_dataDir, bc);
    }
    return true;
}

bool IngestObjects::step(bool& ended, std::string& error)
{
    ended = m_finished;
    if (m_finished)
        return true;
    if (m_checkpointer->failed()) {
        error = "the database is damaged and cannot take checkpoints: " + m_checkpointer->stats().pauseReason;
        return false;
    }
    if (m_checkpointer->paused()) { // nothing is ingested until the store takes a checkpoint again
        m_checkpointer->afterStep();
        return true;
    }
    const PollResult r = m_pipeline->step();
    m_checkpointer->afterStep();
    if (m_kafka) {
        const CheckpointStats cs = m_checkpointer->stats();
        if (cs.lastSequence != m_kafkaCommittedSequence) {
            m_kafkaCommittedSequence = cs.lastSequence;
            m_kafka->commitDurable(cs.durableOffsets);
        }
    }
    if (m_batches) {
        m_batches->poll(m_clock.nowMs(), m_pipeline->watermark());
        (void)m_batches->takeFinished(); // the dashboard reads results from status()/recentRequests()
    }
    if (r == PollResult::EndOfStream) {
        m_pipeline->finish();
        std::string ignored;
        (void)m_checkpointer->checkpointNow(ignored);
        m_pipeline->publishSnapshot();
        m_finished = true;
        ended = true;
    }
    return true;
}

bool IngestObjects::close(std::string& error)
{
    if (!m_checkpointer)
        return true;
    if (m_batches) {
        m_batches->cancel();
        m_batches->waitIdle();
    }
    m_pipeline->publishSnapshot();
    const bool ok = m_checkpointer->close(error);
    if (m_kafka && ok)
        m_kafka->close();
    return ok;
}

void IngestObjects::abandon()
{
    if (m_batches) {
        m_batches->cancel();
        m_batches->waitIdle();
    }
    m_checkpointer.reset(); // without close(): no final checkpoint, as a kill -9 leaves it
    m_pipeline.reset();
    m_generator = nullptr;
    m_kafka = nullptr;
    m_source.reset();
}

std::optional<CheckpointStats> IngestObjects::checkpointStats() const
{
    if (!m_checkpointer)
        return std::nullopt;
    return m_checkpointer->stats();
}

} // namespace adclick::ui
