// Pass 2 of a batch count: counting one partition with cache-resident tables; sorting the cells.

#include "batch/batch_worker.h"

#include "core/flat_u64_map.h"
#include "core/hash.h"

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <tuple>

namespace adclick::engine::batchdetail {

namespace {

constexpr std::uint64_t kCellKeyMask = (1ull << 62) - 1;

/// A cell's counters while its partition is counted (a partition holds far fewer than 2^32
/// records of one cell).
struct Counts {
    std::uint32_t count, lateDropped, lateUpdated, speedDuplicates, duplicates, speedCounted;
};

/// Adds one record to a cell as the batch layer counts it; a copy of an already counted click id
/// counts as a duplicate instead.
inline void add(Counts& c, ClickEvent::Disposition d, bool duplicate)
{
    if (d == ClickEvent::Disposition::Counted || d == ClickEvent::Disposition::LateUpdated)
        ++c.speedCounted;
    if (duplicate) {
        ++c.duplicates;
        return;
    }
    ++c.count;
    c.lateDropped += d == ClickEvent::Disposition::LateDropped;
    c.lateUpdated += d == ClickEvent::Disposition::LateUpdated;
    c.speedDuplicates += d == ClickEvent::Disposition::Duplicate;
}

BatchCell toCell(const WindowKey& key, const Counts& c)
{
    BatchCell cell;
    cell.key = key;
    cell.count = c.count;
    cell.lateDropped = c.lateDropped;
    cell.lateUpdated = c.lateUpdated;
    cell.speedDuplicates = c.speedDuplicates;
    cell.duplicates = c.duplicates;
    cell.speedCounted = c.speedCounted;
    return cell;
}

/// An open-addressing set of non-zero 64-bit keys, reused from partition to partition.
class KeySet {
public:
    void reset(std::size_t expected)
    {
        std::size_t capacity = 64;
        while (capacity < expected * 2)
            capacity <<= 1;
        if (m_slots.size() != capacity)
            m_slots.assign(capacity, 0);
        else
            std::fill(m_slots.begin(), m_slots.end(), 0);
        m_mask = capacity - 1;
    }
    /// True if key was not in the set (it is now).
    bool insert(std::uint64_t key)
    {
        std::size_t i = static_cast<std::size_t>(key) & m_mask; // keys are hashes already
        while (m_slots[i] != 0) {
            if (m_slots[i] == key)
                return false;
            i = (i + 1) & m_mask;
        }
        m_slots[i] = key;
        return true;
    }

private:
    std::vector<std::uint64_t> m_slots;
    std::size_t m_mask = 0;
};

} // namespace

void countPartition(
    const std::vector<const BatchWorker*>& workers, std::size_t p, const WorkerSpec& spec, std::vector<BatchCell>& out)
{
    thread_local FlatU64Map<Counts> cells(1024);
    thread_local KeySet copies;
    std::size_t records = 0;
    for (const BatchWorker* w : workers)
        records += w->partition(p).size();
    if (records == 0)
        return;
    cells.clear();
    copies.reset(records);
    for (const BatchWorker* w : workers) { // worker order = log order
        for (const Pending& r : w->partition(p)) {
            const bool duplicate = r.copyKey != 0 && !copies.insert(r.copyKey);
            add(cells[r.cellKey & kCellKeyMask], static_cast<ClickEvent::Disposition>(r.cellKey >> 62), duplicate);
        }
    }
    cells.forEach([&](std::uint64_t key, const Counts& c) {
        const std::uint64_t k = key - 1;
        const WindowKey wk { static_cast<AdId>(k >> 30),
            spec.fromMs + static_cast<TimeMs>(k & 0x7ff) * spec.windowMs, static_cast<CountryCode>((k >> 14) & 0xffff),
            static_cast<DeviceClass>((k >> 11) & 7) };
        out.push_back(toCell(wk, c));
    });
}

void countOddRecords(const std::vector<const BatchWorker*>& workers, const WorkerSpec& spec, std::vector<BatchCell>& out)
{
    std::map<WindowKey, Counts> cells;
    std::set<std::tuple<std::uint64_t, AdId, TimeMs>> copies;
    for (const BatchWorker* w : workers) {
        for (const ClickEvent& e : w->oddRecords()) {
            const TimeMs start = spec.fromMs + (e.eventTimeMs - spec.fromMs) / spec.windowMs * spec.windowMs;
            const bool duplicate
                = spec.deduplicate && e.clickId != 0 && !copies.insert({ e.clickId, e.adId, start }).second;
            add(cells[{ e.adId, start, e.country, e.device }], e.disposition(), duplicate);
        }
    }
    for (const auto& [key, c] : cells)
        out.push_back(toCell(key, c));
}

void sortAndCombine(std::vector<BatchCell>& cells, TimeMs baseMs, TimeMs windowMs)
{
    // Sort keys: hi = ad << 32 | window index, lo = country << 8 | device; WindowKey order is
    // (ad, window start, country, device), i.e. (hi, lo).
    struct Entry {
        std::uint64_t hi;
        std::uint32_t lo;
        std::uint32_t index;
    };
    std::vector<Entry> a(cells.size());
    for (std::size_t i = 0; i < cells.size(); ++i) {
        const WindowKey& k = cells[i].key;
        a[i] = { (static_cast<std::uint64_t>(k.adId) << 32)
                | static_cast<std::uint32_t>((k.windowStartMs - baseMs) / windowMs),
            (static_cast<std::uint32_t>(k.country) << 8) | static_cast<std::uint8_t>(k.device),
            static_cast<std::uint32_t>(i) };
    }
    std::vector<Entry> b(a.size());
    auto digit = [](const Entry& e, int d) -> unsigned {
        return d < 3 ? (e.lo >> (8 * d)) & 0xff : static_cast<unsigned>((e.hi >> (8 * (d - 3))) & 0xff);
    };
    for (int d = 0; d < 11; ++d) { // least significant byte first; stable passes
        std::array<std::size_t, 257> count {};
        for (const Entry& e : a)
            ++count[digit(e, d) + 1];
        if (std::any_of(count.begin() + 1, count.end(), [&](std::size_t c) { return c == a.size(); }))
            continue; // every key has the same byte here
        for (int i = 0; i < 256; ++i)
            count[i + 1] += count[i];
        for (const Entry& e : a)
            b[count[digit(e, d)]++] = e;
        a.swap(b);
    }
    std::vector<BatchCell> out;
    out.reserve(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        const BatchCell& c = cells[a[i].index];
        if (i > 0 && a[i].hi == a[i - 1].hi && a[i].lo == a[i - 1].lo) {
            BatchCell& m = out.back();
            m.count += c.count;
            m.lateDropped += c.lateDropped;
            m.lateUpdated += c.lateUpdated;
            m.speedDuplicates += c.speedDuplicates;
            m.duplicates += c.duplicates;
            m.speedCounted += c.speedCounted;
        } else {
            out.push_back(c);
        }
    }
    cells.swap(out);
}

} // namespace adclick::engine::batchdetail
