// Pipeline state for checkpoints and recovery (see Pipeline::captureCheckpoint / restoreState).
//
// What is saved where:
//   - window cells: as speed rows (open ones as partial rows) — restored by restoreCell();
//   - watermarks, counters, lateness, de-duplication generation bounds, top-K slot starts,
//     source offsets: in the state blob below;
//   - de-duplication ids and top-K slot counts: NOT saved; they are rebuilt by replaying the raw
//     log (which holds every accepted event with its disposition, durable before the commit)
//     from replayFromSequence(). Saving them would cost tens of MiB per checkpoint.
#include "core/byte_io.h"
#include "pipeline/pipeline.h"
#include "pipeline/shard_pool.h"

#include <algorithm>

namespace adclick::engine {

namespace {
constexpr std::uint32_t kStateMagic = 0x53504341; // "ACPS"
constexpr std::uint32_t kStateVersion = 1;

template <typename T> void putSized(ByteWriter& w, const T& v)
{
    w.put<std::uint32_t>(sizeof(T));
    w.put(v);
}
template <typename T> bool getSized(ByteReader& r, T& v)
{
    std::uint32_t size = 0;
    return r.get(size) && size == sizeof(T) && r.get(v);
}
} // namespace

void Pipeline::noteTopKSlot(std::int64_t slot, std::uint64_t sequence)
{
    for (auto it = m_topKSlotStarts.rbegin(); it != m_topKSlotStarts.rend(); ++it)
        if (it->first == slot)
            return;
    // Sparse or fast-moving input creates a slot every few events: drop the dead ones as we go.
    if (m_topKSlotStarts.size() >= 64)
        pruneTopKSlots();
    m_topKSlotStarts.emplace_back(slot, sequence);
}

void Pipeline::pruneTopKSlots()
{
    const std::int64_t lowest = m_shards.front()->topK.lowestSlot();
    std::erase_if(m_topKSlotStarts, [&](const auto& s) { return s.first < lowest; });
}

void Pipeline::captureCheckpoint(PipelineCheckpoint& out)
{
    pruneTopKSlots();
    out.processingTimeMs = m_clock.nowMs();
    out.watermarkMs = m_watermarks.watermark();
    out.nextSequence = m_counters.accepted;
    out.finished = m_finished;
    out.offsets.clear();
    for (std::uint32_t p = 0; p < m_offsets.size(); ++p)
        out.offsets.push_back({ m_offsets[p], p });
    out.changedOpenCells.clear();
    for (auto& s : m_shards)
        s->windows.drainChangedOpenCells(out.changedOpenCells);

    const ClickDeduplicator::Generations gen = m_dedup.generations();
    out.replayFromSequence = replayFromSequence();

    out.state.clear();
    ByteWriter w(out.state);
    w.put(kStateMagic);
    w.put(kStateVersion);
    w.put(out.processingTimeMs);
    w.put(out.watermarkMs);
    w.put(out.nextSequence);
    w.put(out.replayFromSequence);
    w.put<std::uint8_t>(m_finished ? 1 : 0);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(m_watermarks.partitions().size()));
    for (const PartitionWatermark& p : m_watermarks.partitions())
        putSized(w, p);
    putSized(w, m_counters);
    putSized(w, m_lateness);
    putSized(w, gen);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(m_topKSlotStarts.size()));
    for (const auto& s : m_topKSlotStarts) {
        w.put(s.first);
        w.put(s.second);
    }
    w.put<std::uint32_t>(static_cast<std::uint32_t>(m_offsets.size()));
    for (std::int64_t o : m_offsets)
        w.put(o);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(m_recentSummaries.size()));
    for (const WindowSummary& ws : m_recentSummaries)
        putSized(w, ws);
}

bool Pipeline::restoreState(std::span<const std::uint8_t> state, std::string& error)
{
    ByteReader r(state);
    std::uint32_t magic = 0, version = 0;
    if (!r.get(magic) || magic != kStateMagic || !r.get(version) || version != kStateVersion) {
        error = "checkpoint state has an unknown format (written by another adclick version?)";
        return false;
    }
    TimeMs processingTimeMs = 0, watermarkMs = kMinTimeMs;
    std::uint64_t nextSequence = 0, replayFrom = 0;
    std::uint8_t finished = 0;
    std::uint32_t partitions = 0;
    r.get(processingTimeMs);
    r.get(watermarkMs);
    r.get(nextSequence);
    r.get(replayFrom);
    r.get(finished);
    r.get(partitions);
    if (!r.ok() || partitions > (1u << 20)) {
        error = "checkpoint state is truncated";
        return false;
    }
    std::vector<PartitionWatermark> marks(partitions);
    for (auto& p : marks)
        getSized(r, p);
    PipelineCounters counters;
    LatenessHistogram lateness;
    ClickDeduplicator::Generations gen;
    getSized(r, counters);
    getSized(r, lateness);
    getSized(r, gen);
    std::uint32_t slots = 0;
    r.get(slots);
    std::vector<std::pair<std::int64_t, std::uint64_t>> slotStarts;
    for (std::uint32_t i = 0; r.ok() && i < slots; ++i) {
        std::int64_t slot = 0;
        std::uint64_t seq = 0;
        r.get(slot);
        r.get(seq);
        slotStarts.emplace_back(slot, seq);
    }
    std::uint32_t offsetCount = 0;
    r.get(offsetCount);
    std::vector<std::int64_t> offsets;
    for (std::uint32_t i = 0; r.ok() && i < offsetCount; ++i) {
        std::int64_t o = -1;
        r.get(o);
        offsets.push_back(o);
    }
    std::uint32_t summaries = 0;
    r.get(summaries);
    std::vector<WindowSummary> recent;
    for (std::uint32_t i = 0; r.ok() && i < summaries; ++i) {
        WindowSummary ws;
        getSized(r, ws);
        recent.push_back(ws);
    }
    if (!r.ok() || !r.atEnd() || counters.accepted != nextSequence) {
        error = "checkpoint state is corrupt or from an incompatible build";
        return false;
    }

    m_watermarks.restore(marks, watermarkMs, processingTimeMs);
    m_counters = counters;
    m_lateness = lateness;
    m_dedup.restore(gen);
    m_topKSlotStarts = std::move(slotStarts);
    if (offsets.size() > m_offsets.size())
        m_offsets.resize(offsets.size(), -1);
    std::copy(offsets.begin(), offsets.end(), m_offsets.begin());
    m_recentSummaries = std::move(recent);
    m_finished = finished != 0;
    // Slots that ended before the checkpoint stay dropped: replayed events of theirs are ignored.
    for (auto& s : m_shards)
        s->topK.advanceWatermark(watermarkMs);
    return true;
}

bool Pipeline::holdsWindow(TimeMs windowStartMs) const
{
    return m_shards.front()->windows.holdsWindow(windowStartMs, m_watermarks.watermark());
}

void Pipeline::restoreCell(const WindowKey& key, std::uint64_t count, std::uint64_t lateUpdated, std::uint32_t revision)
{
    m_shards[shardOfAd(key.adId, m_config.shards)]->windows.restoreCell(key, count, lateUpdated, revision);
}

std::uint64_t Pipeline::replayFromSequence() const
{
    // Every id the de-duplicator remembers and every counted event of a live top-K slot lies at
    // or after this sequence.
    std::uint64_t from = m_counters.accepted;
    if (m_config.deduplicate)
        from = std::min(from, m_dedup.generations().previousStart);
    for (const auto& s : m_topKSlotStarts)
        from = std::min(from, s.second);
    return from;
}

void Pipeline::replayEvent(const ClickEvent& e, std::uint64_t sequence)
{
    const auto d = e.disposition();
    if (m_config.deduplicate && e.hasClickId() && d != ClickEvent::Disposition::Duplicate)
        m_dedup.restoreId(e.clickId, sequence);
    if (d == ClickEvent::Disposition::Counted || d == ClickEvent::Disposition::LateUpdated)
        m_shards[shardOfAd(e.adId, m_config.shards)]->topK.add(e.adId, e.eventTimeMs);
}

void Pipeline::finishRestore()
{
    const TimeMs wm = m_watermarks.watermark();
    for (auto& s : m_shards)
        s->windows.finishRestore(wm);
    publishSnapshot();
}

} // namespace adclick::engine
