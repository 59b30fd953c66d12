// countRawLog: the batch layer's exact, parallel recount of the raw click log.
//
// Plan: list the segments that may hold records of the range (the sealed header's event-time
// range excludes the others), split the range into time slices when the de-duplication tables
// would outgrow their memory bound, and for each slice let T workers walk contiguous runs of
// segments (balanced by bytes). Each worker counts into its own cell table and remembers the
// first copy of every (click id, ad, window) it met; afterwards a copy that an EARLIER worker
// (earlier segments = earlier in the log) also met is un-counted, so the result is the same for
// any number of threads and segments.

#include "batch/batch_counter.h"

#include "batch/batch_worker.h"
#include "storage/raw_segment_scanner.h"

#include <algorithm>
#include <chrono>
#include <fcntl.h>
#include <mutex>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace adclick::engine {

using namespace rawlog;
using namespace batchdetail;

namespace {

using Clock = std::chrono::steady_clock;

/// At most 2^this partitions per slice (measured: 2^10–2^12 are best on the 2-core VM; beyond,
/// the staged lines no longer fit the L2 cache).
constexpr unsigned kMaxPartitionBits = 12;

/// Lists the segments within the end bound with their usable size and (sealed) header range.
std::vector<SegmentPlan> planSegments(
    const std::string& directory, const BatchCountOptions& o, BatchCountResult& r, std::string& error)
{
    std::vector<SegmentPlan> plans;
    const std::vector<SegmentFile> files = listSegmentFiles(directory, &error);
    for (const SegmentFile& f : files) {
        if (o.end && f.id > o.end->segmentId)
            break;
        const int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno != ENOENT) // vanished: retention raced the listing
                r.damage.push_back({ f.path, 0, "cannot open: " + systemErrorText(errno) });
            continue;
        }
        FileHandle handle(fd, f.path);
        struct stat st { };
        if (::fstat(fd, &st) != 0) {
            r.damage.push_back({ f.path, 0, "cannot stat: " + systemErrorText(errno) });
            continue;
        }
        SegmentPlan p;
        p.file = f;
        p.bytes = static_cast<std::uint64_t>(st.st_size);
        if (o.end && f.id == o.end->segmentId && p.bytes > o.end->byteOffset) {
            p.bytes = o.end->byteOffset;
            p.clamped = true;
        }
        FileSegmentBytes bytes(fd, p.bytes);
        std::vector<RawLogDamage> ignored; // the walk reports it
        RawSegmentScanner scanner(bytes, f.path, ignored);
        if (p.clamped)
            scanner.ignoreSealedSize();
        if (scanner.start() && scanner.headerValid() && scanner.header().sealed
            && scanner.header().dataEndBytes == p.bytes) {
            const SegmentHeader& h = scanner.header();
            p.records = h.records;
            p.minMs = h.minEventTimeMs;
            p.maxMs = h.maxEventTimeMs;
        } else { // being written, cut by the end bound, or with a bad header: sum its block headers
            bool first = true;
            while (scanner.next()) {
                const BlockHeader& b = scanner.block();
                if (b.records == 0)
                    continue;
                p.minMs = first ? b.minEventTimeMs : std::min(p.minMs, b.minEventTimeMs);
                p.maxMs = first ? b.maxEventTimeMs : std::max(p.maxMs, b.maxEventTimeMs);
                p.records += b.records;
                first = false;
            }
        }
        p.sealed = true; // the range is known either way
        plans.push_back(std::move(p));
    }
    return plans;
}

bool overlaps(const SegmentPlan& p, TimeMs fromMs, TimeMs toMs)
{
    return p.records > 0 && p.maxMs >= fromMs && p.minMs < toMs;
}

/// Splits segments[0..n) into `parts` contiguous groups of about equal bytes.
std::vector<std::vector<const SegmentPlan*>> partition(const std::vector<const SegmentPlan*>& segs, unsigned parts)
{
    std::vector<std::vector<const SegmentPlan*>> out(parts);
    std::uint64_t total = 0;
    for (const SegmentPlan* s : segs)
        total += std::max<std::uint64_t>(s->bytes, 1);
    std::uint64_t acc = 0;
    for (const SegmentPlan* s : segs) {
        const std::uint64_t mid = acc + std::max<std::uint64_t>(s->bytes, 1) / 2;
        const auto g = static_cast<unsigned>(std::min<std::uint64_t>(parts - 1, mid * parts / std::max<std::uint64_t>(total, 1)));
        out[g].push_back(s);
        acc += std::max<std::uint64_t>(s->bytes, 1);
    }
    return out;
}

/// Runs f(0 … n−1) on n threads (the calling thread runs f(0)) and calls report about every
/// 100 ms on the calling thread until all are done. Rethrows the first exception.
void runParallel(unsigned n, const std::function<void(unsigned)>& f, const std::function<void()>& report)
{
    std::atomic<unsigned> done { 0 };
    std::exception_ptr failure;
    std::mutex failureMutex;
    auto one = [&](unsigned i) {
        try {
            f(i);
        } catch (...) {
            std::lock_guard lock(failureMutex);
            if (!failure)
                failure = std::current_exception();
        }
        done.fetch_add(1, std::memory_order_release);
    };
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < n; ++i)
        pool.emplace_back(one, i);
    one(0);
    auto last = Clock::now();
    while (done.load(std::memory_order_acquire) < n) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        if (Clock::now() - last >= std::chrono::milliseconds(100)) {
            report();
            last = Clock::now();
        }
    }
    for (std::thread& t : pool)
        t.join();
    if (failure)
        std::rethrow_exception(failure);
}

} // namespace

BatchCountResult countRawLog(const std::string& rawDirectory, const BatchCountOptions& o)
{
    const auto started = Clock::now();
    BatchCountResult r;
    const TimeMs w = o.windowMs > 0 ? o.windowMs : kMsPerMinute;
    r.fromMs = windowStartOf(o.fromMs, w);
    r.toMs = windowStartOf(o.toMs, w) == o.toMs ? o.toMs : windowStartOf(o.toMs, w) + w;
    r.rawEndSequence = o.end ? o.end->nextSequence : UINT64_MAX;
    if (r.fromMs >= r.toMs) {
        r.status = BatchCountResult::Status::Failed;
        r.error = "empty range: from must be before to";
        return r;
    }
    unsigned threads = o.threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : o.threads;
    threads = std::min(threads, 64u);

    std::string listError;
    const std::vector<SegmentPlan> plans = planSegments(rawDirectory, o, r, listError);
    if (!listError.empty())
        r.damage.push_back({ rawDirectory, 0, listError });

    // Only the windows that hold data are sliced (a range may reach far beyond the log).
    TimeMs dataFrom = r.toMs;
    TimeMs dataTo = r.fromMs;
    for (const SegmentPlan& p : plans) {
        if (!overlaps(p, r.fromMs, r.toMs))
            continue;
        dataFrom = std::min(dataFrom, windowStartOf(std::max(r.fromMs, p.minMs), w));
        dataTo = std::max(dataTo, windowStartOf(std::min(r.toMs - 1, p.maxMs), w) + w);
        r.maxEventTimeMs = std::max(r.maxEventTimeMs, p.maxMs);
    }
    if (dataFrom >= dataTo) {
        r.seconds = std::chrono::duration<double>(Clock::now() - started).count();
        return r; // nothing in range
    }

    // Slices of whole windows, each small enough for the de-duplication tables (and for the
    // worker's 13-bit window index).
    std::uint64_t estimate = 0;
    for (const SegmentPlan& p : plans)
        if (overlaps(p, r.fromMs, r.toMs))
            estimate += p.records;
    const std::uint64_t windows = static_cast<std::uint64_t>((dataTo - dataFrom) / w);
    std::uint64_t slices = std::max<std::uint64_t>(1, (estimate + o.maxRecordsPerSlice - 1) / std::max<std::uint64_t>(o.maxRecordsPerSlice, 1));
    slices = std::max(slices, (windows + kMaxSliceWindows - 1) / kMaxSliceWindows);
    slices = std::min(slices, windows);
    const std::uint64_t windowsPerSlice = (windows + slices - 1) / slices;
    slices = (windows + windowsPerSlice - 1) / windowsPerSlice;
    r.slices = static_cast<unsigned>(slices);

    struct Slice {
        TimeMs fromMs, toMs;
        std::vector<const SegmentPlan*> segments;
    };
    std::vector<Slice> work;
    Progress progress;
    for (std::uint64_t s = 0; s < slices; ++s) {
        Slice sl;
        sl.fromMs = dataFrom + static_cast<TimeMs>(s * windowsPerSlice) * w;
        sl.toMs = std::min(dataTo, sl.fromMs + static_cast<TimeMs>(windowsPerSlice) * w);
        for (const SegmentPlan& p : plans) {
            if (overlaps(p, sl.fromMs, sl.toMs)) {
                sl.segments.push_back(&p);
                progress.bytesTotal += p.bytes;
            } else {
                ++r.segmentsSkipped;
            }
        }
        work.push_back(std::move(sl));
    }

    auto report = [&] {
        if (!o.progress)
            return;
        BatchProgress bp;
        bp.bytesTotal = progress.bytesTotal;
        bp.bytesDone = progress.bytesDone.load(std::memory_order_relaxed);
        bp.recordsRead = progress.recordsRead.load(std::memory_order_relaxed);
        bp.seconds = std::chrono::duration<double>(Clock::now() - started).count();
        o.progress(bp);
    };

    std::vector<BatchCell> cells; // of every worker and slice, combined at the end
    unsigned usedThreads = 1;
    try {
        for (const Slice& sl : work) {
            if (o.cancel && o.cancel->load(std::memory_order_relaxed))
                break;
            if (sl.segments.empty())
                continue;
            const unsigned t = static_cast<unsigned>(std::min<std::size_t>(threads, sl.segments.size()));
            usedThreads = std::max(usedThreads, t);
            const auto groups = partition(sl.segments, t);
            std::uint64_t sliceEstimate = 0;
            for (const SegmentPlan* p : sl.segments)
                sliceEstimate += p->records;
            unsigned bits = 0; // partitions of ~8 K records: their tables stay in the L2 cache
            while (bits < kMaxPartitionBits && (sliceEstimate >> (13 + bits)) != 0)
                ++bits;
            const bool filtered = !o.filter.empty(); // few records kept: let the buffers grow
            WorkerSpec spec { sl.fromMs, sl.toMs, w, o.deduplicate, r.rawEndSequence, &o.filter, o.cancel,
                &progress, bits, filtered ? 0 : static_cast<std::size_t>((sliceEstimate >> bits) / t * 5 / 4) };
            std::vector<std::unique_ptr<BatchWorker>> workers;
            for (unsigned g = 0; g < t; ++g)
                workers.push_back(std::make_unique<BatchWorker>(spec, groups[g]));
            runParallel(t, [&](unsigned g) { workers[g]->run(); }, report);
            std::vector<const BatchWorker*> inOrder;
            for (auto& wk : workers)
                inOrder.push_back(wk.get());
            const std::size_t partitions = std::size_t { 1 } << bits;
            const auto t2 = static_cast<unsigned>(std::min<std::size_t>(threads, partitions));
            std::vector<std::vector<BatchCell>> parts(t2);
            runParallel(
                t2,
                [&](unsigned g) {
                    for (std::size_t p = g; p < partitions; p += t2)
                        countPartition(inOrder, p, spec, parts[g]);
                },
                report);
            countOddRecords(inOrder, spec, cells);
            for (auto& part : parts) {
                if (cells.empty())
                    cells.swap(part);
                else
                    cells.insert(cells.end(), part.begin(), part.end());
            }
            for (auto& wk : workers) {
                r.recordsRead += wk->stats().recordsRead;
                r.recordsInRange += wk->stats().recordsInRange;
                r.blocksRead += wk->stats().blocksRead;
                r.blocksSkipped += wk->stats().blocksSkipped;
                r.bytesRead += wk->stats().bytesRead;
                r.segmentsRead += wk->stats().segmentsRead;
                for (RawLogDamage& d : wk->damage())
                    r.damage.push_back(std::move(d));
            }
        }
    } catch (const std::bad_alloc&) {
        r.status = BatchCountResult::Status::Failed;
        r.error = "out of memory (lower maxRecordsPerSlice)";
        return r;
    } catch (const std::exception& e) {
        r.status = BatchCountResult::Status::Failed;
        r.error = e.what();
        return r;
    }
    r.threads = usedThreads;
    if (o.cancel && o.cancel->load(std::memory_order_relaxed)) {
        r.status = BatchCountResult::Status::Cancelled;
        r.error = "cancelled";
    }
    for (const BatchCell& cell : cells) {
        r.counted += cell.count;
        r.duplicates += cell.duplicates;
        r.lateDropped += cell.lateDropped;
    }
    r.cells = std::move(cells);
    // Damage reports of blocks walked in several slices appear once.
    std::sort(r.damage.begin(), r.damage.end(), [](const RawLogDamage& a, const RawLogDamage& b) {
        return std::tie(a.path, a.byteOffset, a.reason) < std::tie(b.path, b.byteOffset, b.reason);
    });
    r.damage.erase(std::unique(r.damage.begin(), r.damage.end(),
                       [](const RawLogDamage& a, const RawLogDamage& b) {
                           return a.path == b.path && a.byteOffset == b.byteOffset && a.reason == b.reason;
                       }),
        r.damage.end());
    r.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    report();
    return r;
}

void sortCells(std::vector<BatchCell>& cells, TimeMs windowMs)
{
    TimeMs base = INT64_MAX;
    for (const BatchCell& c : cells)
        base = std::min(base, c.key.windowStartMs);
    sortAndCombine(cells, base, windowMs);
}

std::uint64_t totalCount(const BatchCountResult& r)
{
    std::uint64_t n = 0;
    for (const BatchCell& c : r.cells)
        n += c.count;
    return n;
}

} // namespace adclick::engine
