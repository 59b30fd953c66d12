#pragma once

#include "core/click_event.h"
#include "core/flat_u64_map.h"
#include "window/window_types.h"

#include <map>
#include <memory>
#include <vector>

namespace adclick::engine {

/// Tumbling event-time windows of one shard, keyed by (ad, country, device).
/// Contract: add() takes events already classified by the router (ClickEvent::disposition:
/// Counted, LateUpdated, LateDropped; Duplicate is ignored); advanceWatermark(t) finalises
/// every window with end + allowedLateness ≤ t; drain*() hand out what became final.
/// Lateness is decided by the router per event, so the final counts do not depend on batch
/// boundaries or shard count. The per-event path does not lock and, once tables have grown,
/// does not allocate. Not thread-safe: one shard thread owns it.
class WindowAggregator {
public:
    /// Counts of one (ad, country, device) cell. Bit 31 of lateBits marks the cell as changed
    /// since the last drainChangedOpenCells() (set on the same cache line as the count, so the
    /// checkpoint finds changed cells without a second table).
    struct Cell {
        std::uint32_t count = 0;
        std::uint32_t lateBits = 0;
        static constexpr std::uint32_t kChanged = 1u << 31;
        std::uint32_t lateUpdated() const { return lateBits & ~kChanged; }
        bool changed() const { return (lateBits & kChanged) != 0; }
    };

    explicit WindowAggregator(WindowConfig config);
    ~WindowAggregator();

    /// Counts events[0..n) by their disposition. Ingest order within a cell does not matter.
    void add(const ClickEvent* events, std::size_t n);
    void advanceWatermark(TimeMs watermarkMs);

    /// Moves newly final cells (and late-update corrections) into out.
    void drainClosed(std::vector<WindowResult>& out);
    void drainLateDrops(std::vector<LateDropDelta>& out);
    void drainSummaries(std::vector<WindowSummary>& out);

    /// Calls f(const WindowKey&, const Cell&) for every cell of windows still open (partial counts).
    template <typename F> void forEachOpenCell(F&& f) const
    {
        for (const auto& entry : m_windows) {
            const TimeMs start = entry.first; // not a structured binding: clang 14 cannot capture those
            if (entry.second->closed)
                continue;
            entry.second->cells.forEach([&](std::uint64_t k, const Cell& c) {
                f(WindowKey { cellAd(k), start, cellCountry(k), cellDevice(k) }, c);
            });
        }
    }

    /// Appends every cell of an open window changed since the previous call (absolute partial
    /// counts, revision 0) and clears their changed marks. For the checkpoint: O(open cells).
    void drainChangedOpenCells(std::vector<WindowResult>& out);

    /// Recovery: puts back a stored cell (absolute counts). Call for every stored cell of every
    /// window still open or kept for late updates, then finishRestore(watermark) once, before
    /// any add(). revision is the cell's last emitted revision (ignored for open windows).
    void restoreCell(const WindowKey& key, std::uint64_t count, std::uint64_t lateUpdated, std::uint32_t revision);
    void finishRestore(TimeMs watermarkMs);
    /// Whether a window starting at startMs is still held (open, or closed but kept for updates)
    /// at watermarkMs: recovery restores exactly those windows.
    bool holdsWindow(TimeMs startMs, TimeMs watermarkMs) const;

    std::size_t openWindows() const;
    std::size_t cellCount() const;
    std::size_t memoryBytes() const;
    std::uint64_t counted() const { return m_counted; }
    std::uint64_t lateUpdated() const { return m_lateUpdated; }
    std::uint64_t lateDropped() const { return m_lateDropped; }
    const WindowConfig& config() const { return m_config; }

private:
    struct Window {
        FlatU64Map<Cell> cells { 256 };
        FlatU64Map<std::uint8_t> dirty { 16 }; ///< cells changed by late updates since the last emission
        std::uint64_t counted = 0;
        std::uint64_t lateDropped = 0;
        std::uint32_t revision = 0;
        bool closed = false;
    };
    Window& windowFor(TimeMs startMs);
    /// Any event the fast path of add() does not take: late, dropped, duplicate, other window.
    void addSlow(const ClickEvent& e, std::uint64_t key);
    void emitAll(TimeMs startMs, Window& w);
    void emitDirty(TimeMs startMs, Window& w);

    WindowConfig m_config;
    std::map<TimeMs, std::unique_ptr<Window>> m_windows;
    TimeMs m_cachedStart = kMinTimeMs;
    Window* m_cached = nullptr;
    std::vector<std::unique_ptr<Window>> m_pool; ///< recycled windows (keeps table allocations)
    std::map<TimeMs, FlatU64Map<std::uint32_t>> m_lateDrops;
    std::vector<WindowResult> m_closed;
    static constexpr AdId kAdBitmapAds = 1u << 24; ///< ads below this are counted in m_adBits by emitAll()
    std::vector<std::uint64_t> m_adBits; ///< emitAll() scratch: one bit per ad id, all zero between calls
    FlatU64Map<std::uint8_t> m_otherAds { 16 }; ///< emitAll() scratch: ads ≥ kAdBitmapAds
    std::size_t m_cellsHint = 0; ///< most cells any emitted window had: initial size of new windows
    std::vector<WindowSummary> m_summaries;
    TimeMs m_watermarkMs = kMinTimeMs;
    std::uint64_t m_counted = 0;
    std::uint64_t m_lateUpdated = 0;
    std::uint64_t m_lateDropped = 0;
};

} // namespace adclick::engine
