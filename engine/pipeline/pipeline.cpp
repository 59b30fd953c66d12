#include "pipeline/pipeline.h"

#include "pipeline/shard_pool.h"

#include <algorithm>
#include <string>

namespace adclick::engine {

namespace {
constexpr TimeMs kEndOfTimeMs = INT64_MAX / 4;

/// Fault injection (PipelineConfig::speedFault, demos and tests only): the window counts see the
/// batch with the fault applied; the events themselves (and so the raw log) stay as classified.
void addWithFault(WindowAggregator& windows, const std::vector<ClickEvent>& events, const SpeedFault& fault)
{
    // Per shard thread; only ever used while a fault is injected, so the normal path pays nothing.
    thread_local std::vector<ClickEvent> faulted;
    faulted.clear();
    for (const ClickEvent& e : events) {
        const auto d = e.disposition();
        const bool counted = d == ClickEvent::Disposition::Counted || d == ClickEvent::Disposition::LateUpdated;
        if (counted && fault.drops(e))
            continue;
        faulted.push_back(e);
        if (counted && fault.doubles(e))
            faulted.push_back(e);
    }
    windows.add(faulted.data(), faulted.size());
}

std::string describeFutureEvent(const ClickEvent& e, TimeMs nowMs)
{
    return "{\"error\":\"event time too far ahead of processing time\",\"click_timestamp_ms\":"
        + std::to_string(e.eventTimeMs) + ",\"processing_time_ms\":" + std::to_string(nowMs) + "}";
}
} // namespace

Pipeline::Pipeline(PipelineConfig config, EventSource& source, Clock& clock)
    : m_config(config)
    , m_source(source)
    , m_clock(clock)
    , m_watermarks(config.watermark, source.partitionCount(), clock.nowMs())
    , m_dedup(config.dedupHorizonMs)
    , m_startWall(std::chrono::steady_clock::now())
    , m_lastSnapshotWall(m_startWall)
    , m_lastPublishWall(m_startWall)
{
    if (m_config.shards == 0)
        m_config.shards = 1;
    if (m_config.batchSize == 0)
        m_config.batchSize = 4096;
    for (std::uint32_t i = 0; i < m_config.shards; ++i) {
        m_shards.push_back(std::make_unique<Shard>(m_config));
        m_shards.back()->input.reserve(m_config.batchSize);
    }
    m_pool = std::make_unique<ShardPool>(m_config.shards);
    m_offsets.assign(source.partitionCount(), -1);
    m_batch.events.reserve(m_config.batchSize);
    m_batch.watermarkAtArrivalMs.reserve(m_config.batchSize);
    auto initial = std::make_shared<PipelineSnapshot>();
    initial->source = source.describe();
    initial->shards = m_config.shards;
    m_snapshot = std::move(initial);
}

Pipeline::~Pipeline() = default;

PollResult Pipeline::step()
{
    m_batch.clear();
    m_batch.processingTimeMs = 0;
    const PollResult r = m_source.poll(m_batch, m_config.batchSize);
    TimeMs now = m_batch.processingTimeMs;
    if (auto* vc = dynamic_cast<VirtualClock*>(&m_clock); vc && now > 0)
        vc->advanceTo(now);
    now = std::max(now, m_clock.nowMs());
    if (m_source.partitionCount() > m_watermarks.partitions().size())
        m_watermarks.resize(m_source.partitionCount());
    if (m_source.partitionCount() > m_offsets.size())
        m_offsets.resize(m_source.partitionCount(), -1);
    for (std::uint32_t p = 0; p < m_watermarks.partitions().size(); ++p)
        if (const bool released = !m_source.partitionActive(p); released != m_watermarks.released(p))
            m_watermarks.setReleased(p, released);
    const TimeMs wmBefore = m_watermarks.advanceProcessingTime(now);
    (void)wmBefore;
    m_batch.processingTimeMs = now;

    if (!m_batch.events.empty() || !m_batch.rejected.empty()) {
        classify(m_batch);
        for (PipelineSink* s : m_sinks)
            s->onBatch(m_batch);
        ++m_counters.batches;
    }
    aggregate(m_watermarks.watermark(), m_config.shards == 1 ? &m_batch.events : nullptr);
    deliverResults();

    const auto wall = std::chrono::steady_clock::now();
    if (wall - m_lastPublishWall >= std::chrono::milliseconds(m_config.snapshotIntervalMs))
        publishSnapshot();
    return r;
}

void Pipeline::classify(IngestBatch& batch)
{
    m_counters.received += batch.events.size() + batch.rejected.size();
    for (const RejectedRecord& rr : batch.rejected) {
        m_counters.rejected.add(rr.reason);
        if (rr.position.partition < m_offsets.size())
            m_offsets[rr.position.partition] = std::max(m_offsets[rr.position.partition], rr.position.offset);
    }

    const TimeMs now = batch.processingTimeMs;
    const TimeMs windowMs = m_config.window.windowMs;
    const TimeMs finalAfter = windowMs + m_config.window.allowedLatenessMs;
    const bool update = m_config.window.latePolicy == LatePolicy::Update;
    const TimeMs retention = m_config.window.updateRetentionMs;
    const std::uint32_t shards = m_config.shards;
    TimeMs wm = m_watermarks.watermark();
    TimeMs cachedStart = kMinTimeMs; // window of the previous event: avoids a division per event
    const bool inPlace = shards == 1; // one shard reads batch.events directly (no copy)
    const TimeMs slideMs = m_config.topK.slideMs;
    TimeMs slotFrom = kMinTimeMs; // top-K slot of the previous counted event

    std::size_t kept = 0;
    std::vector<TimeMs>& arrival = batch.watermarkAtArrivalMs;
    arrival.resize(batch.events.size()); // capacity is kept between batches: no allocation
    for (std::size_t i = 0; i < batch.events.size(); ++i) {
        // In place: copying the 64-byte event out and back costs store-forwarding stalls.
        ClickEvent& e = batch.events[i];
        if (e.partition < m_offsets.size() && e.offset > m_offsets[e.partition])
            m_offsets[e.partition] = e.offset;
        if (m_config.maxFutureMs > 0 && e.eventTimeMs > now + m_config.maxFutureMs) {
            batch.rejected.push_back({ RejectReason::TimestampOutOfRange, e.position(), describeFutureEvent(e, now) });
            m_counters.rejected.add(RejectReason::TimestampOutOfRange);
            continue;
        }
        const std::uint64_t sequence = m_counters.accepted++; // the event's raw log sequence
        arrival[kept] = wm; // logged with the event: the drill-down shows its lateness
        if (m_config.deduplicate && e.hasClickId() && m_dedup.isDuplicate(e.clickId, wm, sequence)) {
            e.setDisposition(ClickEvent::Disposition::Duplicate);
            ++m_counters.duplicates;
        } else {
            // Lateness is judged against the watermark before this event, so the decision
            // depends only on arrival order, never on batch or shard boundaries.
            if (e.eventTimeMs < cachedStart || e.eventTimeMs >= cachedStart + windowMs)
                cachedStart = windowStartOf(e.eventTimeMs, windowMs);
            const TimeMs closesAt = cachedStart + finalAfter;
            if (closesAt > wm) {
                e.setDisposition(ClickEvent::Disposition::Counted);
                ++m_counters.counted;
            } else if (update && closesAt + retention > wm) {
                e.setDisposition(ClickEvent::Disposition::LateUpdated);
                ++m_counters.counted;
                ++m_counters.lateUpdated;
                m_lateness.add(wm - e.eventTimeMs);
            } else {
                e.setDisposition(ClickEvent::Disposition::LateDropped);
                ++m_counters.lateDropped;
                m_lateness.add(wm - e.eventTimeMs);
            }
            if (e.disposition() != ClickEvent::Disposition::LateDropped
                && (e.eventTimeMs < slotFrom || e.eventTimeMs >= slotFrom + slideMs)) [[unlikely]] {
                slotFrom = windowStartOf(e.eventTimeMs, slideMs);
                noteTopKSlot(slotFrom / slideMs, sequence);
            }
            wm = m_watermarks.observe(e.partition, e.eventTimeMs);
            if (!inPlace)
                m_shards[shardOfAd(e.adId, shards)]->input.push_back(e);
        }
        if (kept != i)
            batch.events[kept] = e;
        ++kept;
    }
    batch.events.resize(kept);
    arrival.resize(kept);
}

void Pipeline::aggregate(TimeMs watermarkMs, const std::vector<ClickEvent>* inPlace)
{
    m_pool->run([&](std::uint32_t i) {
        Shard& s = *m_shards[i];
        const std::vector<ClickEvent>& events = inPlace ? *inPlace : s.input;
        if (!events.empty()) {
            if (m_config.speedFault.active()) [[unlikely]]
                addWithFault(s.windows, events, m_config.speedFault);
            else
                s.windows.add(events.data(), events.size());
            // Pre-aggregate the batch per (top-K slot, ad): hot ads repeat many times in a batch,
            // so the slot maps and the sketch see each of them once, with its count.
            const TimeMs slideMs = m_config.topK.slideMs;
            TimeMs slotFrom = kMinTimeMs;
            std::uint64_t slotIndex = 0;
            s.batchCounts.clear();
            for (const ClickEvent& e : events) {
                const auto d = e.disposition();
                if (d != ClickEvent::Disposition::Counted && d != ClickEvent::Disposition::LateUpdated)
                    continue;
                if (e.eventTimeMs < slotFrom || e.eventTimeMs >= slotFrom + slideMs) {
                    slotFrom = windowStartOf(e.eventTimeMs, slideMs);
                    slotIndex = static_cast<std::uint64_t>(slotFrom / slideMs) & 0x7FFFFFFF;
                }
                ++s.batchCounts[(slotIndex << 32 | e.adId) + 1];
            }
            s.increments.clear();
            s.batchCounts.forEach([&](std::uint64_t key, std::uint32_t n) {
                const std::uint64_t k = key - 1;
                s.increments.push_back(
                    { static_cast<AdId>(k & 0xFFFFFFFFu), n, static_cast<TimeMs>(k >> 32) * slideMs });
            });
            s.topK.add(s.increments.data(), s.increments.size());
            s.input.clear();
        }
        s.windows.advanceWatermark(watermarkMs);
        s.topK.advanceWatermark(watermarkMs);
    });
}

void Pipeline::deliverResults()
{
    m_results.clear();
    m_lateDrops.clear();
    m_summaries.clear();
    for (auto& s : m_shards) {
        s->windows.drainClosed(m_results);
        s->windows.drainLateDrops(m_lateDrops);
        s->windows.drainSummaries(m_summaries);
    }
    if (m_results.empty() && m_lateDrops.empty() && m_summaries.empty())
        return;
    // Shards finalise the same window starts together; merge their per-shard summaries.
    std::sort(m_summaries.begin(), m_summaries.end(),
        [](const WindowSummary& a, const WindowSummary& b) { return a.windowStartMs < b.windowStartMs; });
    std::vector<WindowSummary> merged;
    for (const WindowSummary& w : m_summaries) {
        if (!merged.empty() && merged.back().windowStartMs == w.windowStartMs) {
            merged.back().counted += w.counted;
            merged.back().cells += w.cells;
            merged.back().ads += w.ads; // ads are partitioned across shards: disjoint
            merged.back().lateDropped += w.lateDropped;
        } else {
            merged.push_back(w);
        }
    }
    m_summaries.swap(merged);
    m_counters.windowsFinalised += m_summaries.size();
    m_counters.cellsEmitted += m_results.size();
    for (const WindowSummary& w : m_summaries)
        m_recentSummaries.push_back(w);
    if (m_recentSummaries.size() > m_config.recentWindowSummaries)
        m_recentSummaries.erase(m_recentSummaries.begin(),
            m_recentSummaries.end() - static_cast<std::ptrdiff_t>(m_config.recentWindowSummaries));
    for (PipelineSink* s : m_sinks)
        s->onResults(m_results, m_lateDrops, m_summaries);
}

PollResult Pipeline::run(TimeMs untilProcessingTimeMs)
{
    PollResult r = PollResult::Idle;
    while (!stopRequested()) {
        r = step();
        if (r == PollResult::EndOfStream)
            break;
        if (untilProcessingTimeMs > 0 && m_clock.nowMs() >= untilProcessingTimeMs)
            break;
    }
    publishSnapshot();
    return r;
}

void Pipeline::finish()
{
    if (m_finished)
        return;
    m_finished = true;
    // Snapshot the last window's top-K before the end-of-input watermark empties the slots.
    publishSnapshot();
    auto last = snapshot();
    m_watermarks.forceWatermark(kEndOfTimeMs);
    aggregate(kEndOfTimeMs);
    deliverResults();
    auto fin = std::make_shared<PipelineSnapshot>(*last);
    fin->finished = true;
    fin->counters = m_counters;
    fin->recentWindows = m_recentSummaries;
    fin->openWindows = 0;
    fin->openCells = 0;
    std::lock_guard lock(m_snapshotMutex);
    fin->sequence = ++m_snapshotSequence;
    m_snapshot = std::move(fin);
}

TopKResult Pipeline::topK(std::uint32_t k)
{
    const TimeMs wm = m_watermarks.watermark();
    if (wm <= kMinTimeMs || m_finished)
        return {};
    std::vector<const TopKTracker*> trackers;
    const TimeMs end = m_shards.front()->topK.windowEndFor(wm);
    m_pool->run([&](std::uint32_t i) { m_shards[i]->topK.prepareQuery(end); });
    for (const auto& s : m_shards)
        trackers.push_back(&s->topK);
    return mergeTopK(trackers, end, k);
}

void Pipeline::publishSnapshot()
{
    auto snap = std::make_shared<PipelineSnapshot>();
    const auto wall = std::chrono::steady_clock::now();
    snap->source = m_source.describe();
    snap->sourceStatus = m_source.status();
    snap->processingTimeMs = m_clock.nowMs();
    snap->watermarkMs = m_watermarks.watermark();
    snap->partitions = m_watermarks.partitions();
    snap->idlePartitions = m_watermarks.idlePartitions();
    for (const auto& p : snap->partitions)
        snap->maxEventTimeMs = std::max(snap->maxEventTimeMs, p.maxEventTimeMs);
    snap->counters = m_counters;
    snap->lateness = m_lateness;
    snap->wallSeconds = std::chrono::duration<double>(wall - m_startWall).count();
    // The rate over the last second or more (not the last snapshot interval: batches arrive
    // unevenly within 100 ms, and snapshots published back to back would read 0).
    const double dt = std::chrono::duration<double>(wall - m_lastSnapshotWall).count();
    if (dt >= 1.0) {
        m_rate = static_cast<double>(m_counters.received - m_lastSnapshotReceived) / dt;
        m_lastSnapshotWall = wall;
        m_lastSnapshotReceived = m_counters.received;
    }
    m_lastPublishWall = wall;
    // Before the first full second: the rate so far.
    snap->eventsPerWallSecond = m_rate > 0 || dt <= 0 ? m_rate
                                                      : static_cast<double>(m_counters.received - m_lastSnapshotReceived) / dt;
    snap->shards = m_config.shards;
    for (const auto& s : m_shards) {
        snap->openWindows = std::max(snap->openWindows, s->windows.openWindows());
        snap->openCells += s->windows.cellCount();
        snap->stateBytes += s->windows.memoryBytes() + s->topK.sketchBytes() + s->topK.exactBytes();
    }
    snap->dedupIds = m_dedup.rememberedIds();
    snap->stateBytes += m_dedup.memoryBytes();
    snap->recentWindows = m_recentSummaries;
    snap->topK = topK(m_config.topK.k);
    snap->finished = m_finished;
    std::lock_guard lock(m_snapshotMutex);
    snap->sequence = ++m_snapshotSequence;
    m_snapshot = std::move(snap);
}

std::shared_ptr<const PipelineSnapshot> Pipeline::snapshot() const
{
    std::lock_guard lock(m_snapshotMutex);
    return m_snapshot;
}

} // namespace adclick::engine
