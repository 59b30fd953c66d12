#include "window/window_aggregator.h"

#include <algorithm>
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
            // Sized like the largest window so far: growing by doubling would rehash every cell
            // about twice and fault in a fresh table at each step.
            if (m_cellsHint > 0)
                w->cells = FlatU64Map<Cell>(m_cellsHint + m_cellsHint / 8);
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
    // Software pipeline: the cell of event i + kAhead is hashed and prefetched while event i is
    // counted, so ~kAhead cache misses on the (tens of MiB) cell table are in flight at once
    // instead of one after another. Keys and hashes wait in a small ring so each is computed once.
    constexpr std::size_t kAhead = 16;
    std::uint64_t keys[kAhead];
    std::uint64_t hashes[kAhead];
    const auto stage = [&](std::size_t j) {
        const ClickEvent& f = events[j];
        const std::uint64_t key = packCellKey(f.adId, f.country, f.device);
        const std::uint64_t hash = FlatU64Map<Cell>::hashOf(key);
        keys[j % kAhead] = key;
        hashes[j % kAhead] = hash;
        // Into the cached window's table: right for nearly every event (they cluster in one
        // window), and a wrong guess only costs a useless prefetch.
        if (m_cached)
            m_cached->cells.prefetchHash(hash);
    };
    for (std::size_t j = 0; j < std::min(n, kAhead); ++j)
        stage(j);

    const auto windowMs = static_cast<std::uint64_t>(m_config.windowMs);
    std::uint64_t counted = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t key = keys[i % kAhead];
        const std::uint64_t hash = hashes[i % kAhead];
        if (i + kAhead < n)
            stage(i + kAhead);
        const ClickEvent& e = events[i];
        // Common case in one branch: counted on time, in the window of the previous event.
        if (e.disposition() == ClickEvent::Disposition::Counted && m_cached
            && static_cast<std::uint64_t>(e.eventTimeMs) - static_cast<std::uint64_t>(m_cachedStart) < windowMs)
            [[likely]] {
            Cell& c = m_cached->cells.findOrInsert(key, hash);
            ++c.count;
            c.lateBits |= Cell::kChanged;
            ++m_cached->counted;
            ++counted;
        } else {
            addSlow(e, key);
        }
    }
    m_counted += counted;
}

void WindowAggregator::addSlow(const ClickEvent& e, std::uint64_t key)
{
    const TimeMs start = windowStartOf(e.eventTimeMs, m_config.windowMs);
    switch (e.disposition()) {
    case ClickEvent::Disposition::Counted: {
        Window& w = windowFor(start);
        assert(!w.closed);
        Cell& c = w.cells[key];
        ++c.count;
        c.lateBits |= Cell::kChanged;
        ++w.counted;
        ++m_counted;
        break;
    }
    case ClickEvent::Disposition::LateUpdated: {
        Window& w = windowFor(start);
        Cell& c = w.cells[key];
        ++c.count;
        c.lateBits = (c.lateBits + 1) | Cell::kChanged;
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

void WindowAggregator::emitAll(TimeMs startMs, Window& w)
{
    const std::uint32_t revision = w.revision++;
    m_closed.reserve(m_closed.size() + w.cells.size());
    // Distinct ads: a bitmap for the common small numeric ids (cleared below by walking the
    // same cells), a map for the rest; both kept across windows so no table is re-faulted.
    std::size_t ads = 0;
    w.cells.forEach([&](std::uint64_t k, const Cell& c) {
        const AdId ad = cellAd(k);
        m_closed.push_back(
            { WindowKey { ad, startMs, cellCountry(k), cellDevice(k) }, c.count, c.lateUpdated(), revision });
        if (ad < kAdBitmapAds) {
            if (ad / 64 >= m_adBits.size())
                m_adBits.resize(
                    std::min<std::size_t>(kAdBitmapAds / 64, std::max<std::size_t>(ad / 64 + 1, m_adBits.size() * 2)),
                    0);
            std::uint64_t& word = m_adBits[ad / 64];
            const std::uint64_t bit = 1ULL << (ad % 64);
            ads += (word & bit) == 0;
            word |= bit;
        } else {
            m_otherAds[static_cast<std::uint64_t>(ad) | (1ULL << 32)] = 1;
        }
    });
    std::fill(m_adBits.begin(), m_adBits.end(), 0);
    ads += m_otherAds.size();
    m_otherAds.clear();
    w.dirty.clear();
    m_summaries.push_back({ startMs, w.counted, w.cells.size(), ads, w.lateDropped });
    m_cellsHint = std::max(m_cellsHint, w.cells.size());
}

void WindowAggregator::emitDirty(TimeMs startMs, Window& w)
{
    const std::uint32_t revision = w.revision++;
    w.dirty.forEach([&](std::uint64_t k, std::uint8_t) {
        const Cell* c = w.cells.find(k);
        m_closed.push_back(
            { WindowKey { cellAd(k), startMs, cellCountry(k), cellDevice(k) }, c->count, c->lateUpdated(), revision });
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
    // A window emits hundreds of thousands of cells: hand the buffer over instead of copying it
    // (the caller's emptied buffer comes back, capacity kept, for the next emission).
    if (out.empty())
        out.swap(m_closed);
    else
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

void WindowAggregator::drainChangedOpenCells(std::vector<WindowResult>& out)
{
    for (auto& entry : m_windows) {
        if (entry.second->closed)
            continue;
        const TimeMs start = entry.first;
        entry.second->cells.forEachMutable([&](std::uint64_t k, Cell& c) {
            if (!c.changed())
                return;
            c.lateBits &= ~Cell::kChanged;
            out.push_back(
                { WindowKey { cellAd(k), start, cellCountry(k), cellDevice(k) }, c.count, c.lateUpdated(), 0 });
        });
    }
}

void WindowAggregator::restoreCell(
    const WindowKey& key, std::uint64_t count, std::uint64_t lateUpdated, std::uint32_t revision)
{
    Window& w = windowFor(key.windowStartMs);
    Cell& c = w.cells[packCellKey(key.adId, key.country, key.device)];
    c.count = static_cast<std::uint32_t>(count);
    c.lateBits = static_cast<std::uint32_t>(lateUpdated) & ~Cell::kChanged;
    w.counted += count;
    w.revision = std::max(w.revision, revision + 1);
    m_counted += count;
    m_lateUpdated += lateUpdated;
}

void WindowAggregator::finishRestore(TimeMs watermarkMs)
{
    m_watermarkMs = std::max(m_watermarkMs, watermarkMs);
    const TimeMs finalAfter = m_config.windowMs + m_config.allowedLatenessMs;
    for (auto& entry : m_windows) {
        Window& w = *entry.second;
        w.closed = entry.first + finalAfter <= m_watermarkMs;
        if (!w.closed)
            w.revision = 0;
        m_cellsHint = std::max(m_cellsHint, w.cells.size());
    }
    m_cached = nullptr;
    m_cachedStart = kMinTimeMs;
}

bool WindowAggregator::holdsWindow(TimeMs startMs, TimeMs watermarkMs) const
{
    const TimeMs finalAfter = m_config.windowMs + m_config.allowedLatenessMs;
    if (startMs + finalAfter > watermarkMs)
        return true;
    return m_config.latePolicy == LatePolicy::Update && startMs + finalAfter + m_config.updateRetentionMs > watermarkMs;
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
