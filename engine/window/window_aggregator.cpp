#include "window/window_aggregator.h"

#include <cassert>

namespace adclick::engine {

WindowAggregator::WindowAggregator(WindowConfig config)
    : m_config(config)
{
    if (m_config.windowMs <= 0)
        m_config.windowMs = kMsPerMinute;
}

WindowAggregator::~WindowAggregator() = default;

WindowAggregator::Window& WindowAggregator::windowFor(TimeMs startMs)
{
    if (startMs == m_cachedStart)
        return *m_cached;
    auto it = m_windows.find(startMs);
    if (it == m_windows.end()) {
        std::unique_ptr<Window> w;
        if (!m_pool.empty()) {
            w = std::move(m_pool.back());
            m_pool.pop_back();
        } else {
            w = std::make_unique<Window>();
        }
        // A window first touched by a late update is already final.
        w->closed = startMs + m_config.windowMs + m_config.allowedLatenessMs <= m_watermarkMs;
        it = m_windows.emplace(startMs, std::move(w)).first;
    }
    m_cachedStart = startMs;
    m_cached = it->second.get();
    return *m_cached;
}

void WindowAggregator::add(const ClickEvent* events, std::size_t n)
{
    const TimeMs windowMs = m_config.windowMs;
    TimeMs start = kMinTimeMs;
    constexpr std::size_t kLookahead = 12;
    for (std::size_t i = 0; i < n; ++i) {
        if (i + kLookahead < n && m_cached) {
            const ClickEvent& f = events[i + kLookahead];
            if (f.eventTimeMs >= m_cachedStart && f.eventTimeMs < m_cachedStart + windowMs)
                m_cached->cells.prefetch(packCellKey(f.adId, f.country, f.device));
        }
        const ClickEvent& e = events[i];
        if (e.eventTimeMs < start || e.eventTimeMs >= start + windowMs)
            start = windowStartOf(e.eventTimeMs, windowMs); // rare: events cluster in one window
        const std::uint64_t key = packCellKey(e.adId, e.country, e.device);
        switch (e.disposition()) {
        case ClickEvent::Disposition::Counted: {
            Window& w = windowFor(start);
            assert(!w.closed);
            ++w.cells[key].count;
            ++w.counted;
            ++m_counted;
            break;
        }
        case ClickEvent::Disposition::LateUpdated: {
            Window& w = windowFor(start);
            Cell& c = w.cells[key];
            ++c.count;
            ++c.lateUpdated;
            ++w.counted;
            if (w.closed)
                w.dirty[key] = 1;
            ++m_counted;
            ++m_lateUpdated;
            break;
        }
        case ClickEvent::Disposition::LateDropped: {
            ++m_lateDrops[start][key];
            if (auto it = m_windows.find(start); it != m_windows.end())
                ++it->second->lateDropped;
            ++m_lateDropped;
            break;
        }
        case ClickEvent::Disposition::Duplicate:
            break;
        }
    }
}

void WindowAggregator::emitAll(TimeMs startMs, Window& w)
{
    const std::uint32_t revision = w.revision++;
    FlatU64Map<std::uint8_t> ads(w.cells.size() / 2 + 16);
    w.cells.forEach([&](std::uint64_t k, const Cell& c) {
        m_closed.push_back(
            { WindowKey { cellAd(k), startMs, cellCountry(k), cellDevice(k) }, c.count, c.lateUpdated, revision });
        ads[static_cast<std::uint64_t>(cellAd(k)) | (1ULL << 32)] = 1;
    });
    w.dirty.clear();
    m_summaries.push_back({ startMs, w.counted, w.cells.size(), ads.size(), w.lateDropped });
}

void WindowAggregator::emitDirty(TimeMs startMs, Window& w)
{
    const std::uint32_t revision = w.revision++;
    w.dirty.forEach([&](std::uint64_t k, std::uint8_t) {
        const Cell* c = w.cells.find(k);
        m_closed.push_back(
            { WindowKey { cellAd(k), startMs, cellCountry(k), cellDevice(k) }, c->count, c->lateUpdated, revision });
    });
    w.dirty.clear();
}

void WindowAggregator::advanceWatermark(TimeMs watermarkMs)
{
    if (watermarkMs > m_watermarkMs)
        m_watermarkMs = watermarkMs;
    const TimeMs finalAfter = m_config.windowMs + m_config.allowedLatenessMs;
    for (auto it = m_windows.begin(); it != m_windows.end();) {
        const TimeMs start = it->first;
        if (start + finalAfter > m_watermarkMs)
            break; // ordered by start: every later window is still open
        Window& w = *it->second;
        if (!w.closed) {
            emitAll(start, w);
            w.closed = true;
        } else if (!w.dirty.empty()) {
            emitDirty(start, w);
        }
        const bool purge = m_config.latePolicy == LatePolicy::Drop
            || start + finalAfter + m_config.updateRetentionMs <= m_watermarkMs;
        if (!purge) {
            ++it;
            continue;
        }
        if (m_cached == &w) {
            m_cached = nullptr;
            m_cachedStart = kMinTimeMs;
        }
        std::unique_ptr<Window> recycled = std::move(it->second);
        it = m_windows.erase(it);
        recycled->cells.clear();
        recycled->dirty.clear();
        recycled->counted = 0;
        recycled->lateDropped = 0;
        recycled->revision = 0;
        recycled->closed = false;
        if (m_pool.size() < 8)
            m_pool.push_back(std::move(recycled));
    }
}

void WindowAggregator::drainClosed(std::vector<WindowResult>& out)
{
    out.insert(out.end(), m_closed.begin(), m_closed.end());
    m_closed.clear();
}

void WindowAggregator::drainLateDrops(std::vector<LateDropDelta>& out)
{
    for (const auto& entry : m_lateDrops) {
        const TimeMs start = entry.first;
        entry.second.forEach([&](std::uint64_t k, std::uint32_t n) {
            out.push_back({ WindowKey { cellAd(k), start, cellCountry(k), cellDevice(k) }, n });
        });
    }
    m_lateDrops.clear();
}

void WindowAggregator::drainSummaries(std::vector<WindowSummary>& out)
{
    out.insert(out.end(), m_summaries.begin(), m_summaries.end());
    m_summaries.clear();
}

std::size_t WindowAggregator::openWindows() const
{
    std::size_t n = 0;
    for (const auto& [start, w] : m_windows)
        n += w->closed ? 0 : 1;
    return n;
}

std::size_t WindowAggregator::cellCount() const
{
    std::size_t n = 0;
    for (const auto& [start, w] : m_windows)
        n += w->cells.size();
    return n;
}

std::size_t WindowAggregator::memoryBytes() const
{
    std::size_t n = 0;
    for (const auto& [start, w] : m_windows)
        n += w->cells.memoryBytes() + w->dirty.memoryBytes();
    for (const auto& w : m_pool)
        n += w->cells.memoryBytes();
    return n;
}

} // namespace adclick::engine
