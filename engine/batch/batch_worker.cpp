// Pass 1 of a batch count: walking segments and partitioning the kept records.

#include "batch/batch_worker.h"

#include "core/hash.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <emmintrin.h>
#include <utility>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace adclick::engine::batchdetail {

using namespace rawlog;

namespace {

bool containsIgnoringCase(std::string_view text, std::string_view needle)
{
    if (needle.empty())
        return true;
    auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
    return std::search(text.begin(), text.end(), needle.begin(), needle.end(),
               [&](char a, char b) { return lower(a) == lower(b); })
        != text.end();
}

} // namespace

BatchWorker::BatchWorker(const WorkerSpec& spec, std::vector<const SegmentPlan*> segments)
    : m_spec(spec)
    , m_segments(std::move(segments))
    , m_parts(std::size_t { 1 } << spec.partitionBits)
    , m_staged(std::size_t { 1 } << spec.partitionBits)
    , m_stagedCount(std::size_t { 1 } << spec.partitionBits, 0)
{
    for (PartitionBuffer& part : m_parts)
        part.reserve(spec.expectedPerPartition);
}

void BatchWorker::run()
{
    for (const SegmentPlan* plan : m_segments) {
        if (m_spec.cancel && m_spec.cancel->load(std::memory_order_relaxed))
            break;
        walkSegment(*plan);
    }
    flushStaged();
}

void BatchWorker::flushStaged()
{
    for (std::size_t p = 0; p < m_parts.size(); ++p) {
        m_parts[p].appendTail(m_staged[p].records, m_stagedCount[p]);
        m_stagedCount[p] = 0;
    }
    _mm_sfence(); // the streamed lines are visible before another thread reads them (after join)
}

PartitionBuffer::~PartitionBuffer()
{
    std::free(m_data);
}

PartitionBuffer::PartitionBuffer(PartitionBuffer&& o) noexcept
    : m_data(std::exchange(o.m_data, nullptr))
    , m_size(std::exchange(o.m_size, 0))
    , m_capacity(std::exchange(o.m_capacity, 0))
{
}

void PartitionBuffer::reserve(std::size_t records)
{
    if (records > m_capacity)
        grow(records);
}

void PartitionBuffer::grow(std::size_t atLeast)
{
    std::size_t capacity = std::max<std::size_t>(m_capacity * 2, 64);
    while (capacity < atLeast)
        capacity *= 2;
    // Large buffers on transparent huge pages: one fault per 2 MiB instead of per 4 KiB.
    constexpr std::size_t kHugePage = 2u << 20;
    const std::size_t bytes = capacity * sizeof(Pending); // capacity is a multiple of 4
    const std::size_t align = bytes >= kHugePage ? kHugePage : 64;
    void* p = std::aligned_alloc(align, (bytes + align - 1) / align * align);
    if (!p)
        throw std::bad_alloc();
#if defined(MADV_HUGEPAGE)
    if (align == kHugePage)
        ::madvise(p, (bytes + align - 1) / align * align, MADV_HUGEPAGE);
#endif
    if (m_size)
        std::memcpy(p, m_data, m_size * sizeof(Pending));
    std::free(m_data);
    m_data = static_cast<Pending*>(p);
    m_capacity = capacity;
}

void PartitionBuffer::appendLine(const Pending* line)
{
    if (m_size + 4 > m_capacity)
        grow(m_size + 4);
    // m_size is a multiple of 4 here (lines first, the tail once at the end): 64-byte aligned.
    auto* dst = reinterpret_cast<__m128i*>(m_data + m_size);
    const auto* src = reinterpret_cast<const __m128i*>(line);
    _mm_stream_si128(dst, _mm_load_si128(src));
    _mm_stream_si128(dst + 1, _mm_load_si128(src + 1));
    _mm_stream_si128(dst + 2, _mm_load_si128(src + 2));
    _mm_stream_si128(dst + 3, _mm_load_si128(src + 3));
    m_size += 4;
}

void PartitionBuffer::appendTail(const Pending* records, std::size_t n)
{
    if (m_size + n > m_capacity)
        grow(m_size + n);
    std::memcpy(m_data + m_size, records, n * sizeof(Pending));
    m_size += n;
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
            keepRecords(scanner, b.firstSequence);
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

void BatchWorker::keepRecords(RawSegmentScanner& scanner, std::uint64_t firstSequence)
{
    const TimeMs from = m_spec.fromMs;
    const TimeMs to = m_spec.toMs;
    const TimeMs w = m_spec.windowMs;
    const RawRecordFilter* f = m_spec.filter && !m_spec.filter->empty() ? m_spec.filter : nullptr;
    const std::size_t n = m_events.size();
    const std::size_t limit = firstSequence + n > m_spec.endSequence ? m_spec.endSequence - firstSequence : n;
    const bool dedup = m_spec.deduplicate;
    const unsigned shift = 64 - m_spec.partitionBits;
    TimeMs windowFrom = kMinTimeMs; // window of the previous record: no division per record
    std::uint64_t windowIndex = 0;
    for (std::size_t i = 0; i < limit; ++i) {
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
        if (static_cast<std::uint8_t>(e.device) >= 8) [[unlikely]] {
            m_odd.push_back(e);
            continue;
        }
        if (e.eventTimeMs < windowFrom || e.eventTimeMs >= windowFrom + w) {
            windowIndex = static_cast<std::uint64_t>((e.eventTimeMs - from) / w);
            windowFrom = from + static_cast<TimeMs>(windowIndex) * w;
        }
        const std::uint64_t adWindowHash = mix64((static_cast<std::uint64_t>(e.adId) << 11) | windowIndex);
        const std::uint64_t cellKey = ((static_cast<std::uint64_t>(e.adId) << 30)
                                          | (static_cast<std::uint64_t>(e.country) << 14)
                                          | (static_cast<std::uint64_t>(e.device) << 11) | windowIndex)
            + 1;
        std::uint64_t copyKey = 0;
        if (dedup && e.clickId != 0) {
            copyKey = mix64(e.clickId ^ adWindowHash);
            copyKey += copyKey == 0;
        }
        const std::size_t p = m_spec.partitionBits == 0 ? 0 : static_cast<std::size_t>(adWindowHash >> shift);
        std::uint8_t& staged = m_stagedCount[p];
        m_staged[p].records[staged] = { cellKey | (static_cast<std::uint64_t>(e.disposition()) << 62), copyKey };
        if (++staged == 4) {
            m_parts[p].appendLine(m_staged[p].records);
            staged = 0;
        }
    }
}

} // namespace adclick::engine::batchdetail
