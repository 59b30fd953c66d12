#include "batch/batch_worker.h"

#include "core/hash.h"

#include <algorithm>
#include <cctype>
#include <fcntl.h>
#include <unistd.h>

namespace adclick::engine::batchdetail {

using namespace rawlog;

namespace {

constexpr std::uint32_t kDispositionShift = 32;

/// The de-duplication key of a record: its click id for its ad in its window. Never 0.
inline std::uint64_t copyKey(const ClickEvent& e, std::uint64_t windowIndex)
{
    const std::uint64_t k = mix64(e.clickId ^ mix64((static_cast<std::uint64_t>(e.adId) << 13) ^ windowIndex));
    return k != 0 ? k : 1;
}

bool containsIgnoringCase(std::string_view text, std::string_view needle)
{
    if (needle.empty())
        return true;
    auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
    return std::search(text.begin(), text.end(), needle.begin(), needle.end(),
               [&](char a, char b) { return lower(a) == lower(b); })
        != text.end();
}

/// Adds one record to a cell as the batch layer counts it.
inline void countIn(BatchCell& c, ClickEvent::Disposition d)
{
    ++c.count;
    switch (d) {
    case ClickEvent::Disposition::LateDropped:
        ++c.lateDropped;
        break;
    case ClickEvent::Disposition::LateUpdated:
        ++c.lateUpdated;
        break;
    case ClickEvent::Disposition::Duplicate:
        ++c.speedDuplicates;
        break;
    case ClickEvent::Disposition::Counted:
        break;
    }
}

/// Moves one counted record of a cell to the batch layer's duplicates.
inline void uncount(BatchCell& c, ClickEvent::Disposition d)
{
    --c.count;
    ++c.duplicates;
    switch (d) {
    case ClickEvent::Disposition::LateDropped:
        --c.lateDropped;
        break;
    case ClickEvent::Disposition::LateUpdated:
        --c.lateUpdated;
        break;
    case ClickEvent::Disposition::Duplicate:
        --c.speedDuplicates;
        break;
    case ClickEvent::Disposition::Counted:
        break;
    }
}

inline bool speedCounts(ClickEvent::Disposition d)
{
    return d == ClickEvent::Disposition::Counted || d == ClickEvent::Disposition::LateUpdated;
}

} // namespace

BatchWorker::BatchWorker(const WorkerSpec& spec, std::vector<const SegmentPlan*> segments)
    : m_spec(spec)
    , m_segments(std::move(segments))
    , m_cellIndex(1024)
    , m_firstCopies(std::min<std::uint64_t>(spec.expectedRecords, 1u << 20))
{
}

void BatchWorker::run()
{
    for (const SegmentPlan* plan : m_segments) {
        if (m_spec.cancel && m_spec.cancel->load(std::memory_order_relaxed))
            return;
        walkSegment(*plan);
    }
}

void BatchWorker::walkSegment(const SegmentPlan& plan)
{
    const int fd = ::open(plan.file.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            m_damage.push_back({ plan.file.path, 0, "cannot open: " + systemErrorText(errno) });
        m_spec.progress->bytesDone.fetch_add(plan.bytes, std::memory_order_relaxed);
        return;
    }
    FileHandle handle(fd, plan.file.path);
    FileSegmentBytes bytes(fd, plan.bytes);
    RawSegmentScanner scanner(bytes, plan.file.path, m_damage);
    if (plan.clamped)
        scanner.ignoreSealedSize();
    std::uint64_t walked = 0;
    if (scanner.start()) {
        ++m_stats.segmentsRead;
        m_uaMatch.assign(m_spec.filter && !m_spec.filter->userAgentContains.empty() ? 65536 : 0, -1);
        while (scanner.next()) {
            if (m_spec.cancel && m_spec.cancel->load(std::memory_order_relaxed))
                break;
            const BlockHeader& b = scanner.block();
            const std::uint64_t end = scanner.blockEnd();
            m_spec.progress->bytesDone.fetch_add(end - walked, std::memory_order_relaxed);
            walked = end;
            if (b.records == 0 || b.maxEventTimeMs < m_spec.fromMs || b.minEventTimeMs >= m_spec.toMs
                || b.firstSequence >= m_spec.endSequence) {
                scanner.loadDictionary(); // later blocks may use its strings
                ++m_stats.blocksSkipped;
                continue;
            }
            if (!scanner.decode(m_events))
                continue; // reported as damage by the scanner
            ++m_stats.blocksRead;
            m_stats.bytesRead += end - scanner.blockOffset();
            m_stats.recordsRead += m_events.size();
            m_spec.progress->recordsRead.fetch_add(m_events.size(), std::memory_order_relaxed);
            countBlock(scanner, b.firstSequence);
        }
    }
    if (walked < plan.bytes)
        m_spec.progress->bytesDone.fetch_add(plan.bytes - walked, std::memory_order_relaxed);
}

bool BatchWorker::userAgentMatches(RawSegmentScanner& scanner, std::uint16_t uaId)
{
    std::int8_t& m = m_uaMatch[uaId];
    if (m < 0)
        m = containsIgnoringCase(scanner.userAgent(uaId), m_spec.filter->userAgentContains) ? 1 : 0;
    return m == 1;
}

std::uint32_t BatchWorker::cellFor(const ClickEvent& e, std::uint64_t windowIndex)
{
    if (static_cast<std::uint8_t>(e.device) >= 8) [[unlikely]] { // not a DeviceClass: no room in the packed key
        const WindowKey key { e.adId, m_spec.fromMs + static_cast<TimeMs>(windowIndex) * m_spec.windowMs, e.country,
            e.device };
        auto [it, inserted] = m_oddCells.try_emplace(key, static_cast<std::uint32_t>(m_cells.size()));
        if (inserted)
            m_cells.push_back(BatchCell { key });
        return it->second;
    }
    const std::uint64_t packed = (static_cast<std::uint64_t>(e.adId) << 32)
        | (static_cast<std::uint64_t>(e.country) << 16) | (static_cast<std::uint64_t>(e.device) << 13) | windowIndex;
    std::uint32_t& slot = m_cellIndex[packed + 1];
    if (slot == 0) {
        BatchCell c;
        c.key = { e.adId, m_spec.fromMs + static_cast<TimeMs>(windowIndex) * m_spec.windowMs, e.country, e.device };
        m_cells.push_back(c);
        slot = static_cast<std::uint32_t>(m_cells.size());
    }
    return slot - 1;
}

void BatchWorker::countBlock(RawSegmentScanner& scanner, std::uint64_t firstSequence)
{
    const TimeMs from = m_spec.fromMs;
    const TimeMs to = m_spec.toMs;
    const TimeMs w = m_spec.windowMs;
    const RawRecordFilter* f = m_spec.filter && !m_spec.filter->empty() ? m_spec.filter : nullptr;
    const std::size_t n = m_events.size();
    const std::size_t limit = firstSequence + n > m_spec.endSequence ? m_spec.endSequence - firstSequence : n;
    const bool dedup = m_spec.deduplicate;
    constexpr std::size_t kAhead = 12;
    auto prefetch = [&](std::size_t i) {
        const ClickEvent& e = m_events[i];
        if (dedup && e.clickId != 0 && e.eventTimeMs >= from && e.eventTimeMs < to)
            m_firstCopies.prefetch(copyKey(e, static_cast<std::uint64_t>((e.eventTimeMs - from) / w)));
    };
    for (std::size_t i = 0; i < std::min(limit, kAhead); ++i)
        prefetch(i);
    for (std::size_t i = 0; i < limit; ++i) {
        if (i + kAhead < limit)
            prefetch(i + kAhead);
        const ClickEvent& e = m_events[i];
        if (e.eventTimeMs < from || e.eventTimeMs >= to)
            continue;
        if (f) {
            if ((f->adId && e.adId != *f->adId) || (f->country && e.country != *f->country)
                || (f->device && e.device != *f->device) || (f->ip && !f->ip->contains(e.ip))
                || (!m_uaMatch.empty() && !userAgentMatches(scanner, e.uaId)))
                continue;
        }
        ++m_stats.recordsInRange;
        const auto windowIndex = static_cast<std::uint64_t>((e.eventTimeMs - from) / w);
        const std::uint32_t idx = cellFor(e, windowIndex);
        BatchCell& cell = m_cells[idx];
        const ClickEvent::Disposition d = e.disposition();
        if (speedCounts(d))
            ++cell.speedCounted;
        if (dedup && e.clickId != 0) {
            std::uint64_t& first = m_firstCopies[copyKey(e, windowIndex)];
            if (first != 0) {
                ++cell.duplicates;
                continue;
            }
            first = static_cast<std::uint64_t>(idx) | (static_cast<std::uint64_t>(d) << kDispositionShift)
                | (1ull << 63);
        }
        countIn(cell, d);
    }
}

void BatchWorker::removeDuplicatesOf(const std::vector<const BatchWorker*>& earlier)
{
    if (earlier.empty() || !m_spec.deduplicate)
        return;
    m_firstCopies.forEach([&](std::uint64_t key, std::uint64_t value) {
        for (const BatchWorker* e : earlier) {
            if (e->m_firstCopies.contains(key)) {
                const auto d = static_cast<ClickEvent::Disposition>((value >> kDispositionShift) & 3);
                uncount(m_cells[static_cast<std::uint32_t>(value)], d);
                return;
            }
        }
    });
}

void BatchWorker::mergeInto(std::map<WindowKey, BatchCell>& out) const
{
    for (const BatchCell& c : m_cells) {
        auto [it, inserted] = out.try_emplace(c.key, c);
        if (inserted)
            continue;
        BatchCell& m = it->second;
        m.count += c.count;
        m.lateDropped += c.lateDropped;
        m.lateUpdated += c.lateUpdated;
        m.speedDuplicates += c.speedDuplicates;
        m.duplicates += c.duplicates;
        m.speedCounted += c.speedCounted;
    }
}

} // namespace adclick::engine::batchdetail
