// A partition moves between two instances through the shared PostgreSQL store (issue 11): each
// instance runs one Pipeline per partition (PartitionRouter) checkpointed by
// PgPartitionCheckpointer. Instance A counts half the stream and dies without a last checkpoint;
// B claims every partition, restores its state and open windows, resumes after the last counted
// offset and runs to the end. Every cell equals a brute-force count (0 lost, 0 doubled), and A's
// late checkpoint is fenced off.
#include <algorithm>

#include "engine/support/oracle.h"
#include "engine/support/random_events.h"
#include "pg_test_support.h"
#include "pipeline/partition_router.h"
#include "storage/pg_partition_checkpointer.h"

#include <QtTest>

#include <algorithm>
#include <cstdint>

using namespace adclick::engine;
using namespace adclick::test;

namespace {
/// Per-partition replay with one cursor per partition, like a Kafka consumer: seek(p, o)
/// resumes partition p after offset o. Partitions are interleaved in chunks.
class PartitionedReplay final : public EventSource {
public:
    PartitionedReplay(const std::vector<ClickEvent>& events, std::uint32_t partitions, TimeMs nowMs)
        : m_parts(partitions)
        , m_cursor(partitions, 0)
        , m_nowMs(nowMs)
    {
        for (const ClickEvent& e : events)
            m_parts[e.partition].push_back(e);
    }
    PollResult poll(IngestBatch& batch, std::size_t maxEvents) override
    {
        batch.processingTimeMs = m_nowMs;
        std::size_t taken = 0;
        bool more = false;
        for (std::uint32_t p = 0; p < m_parts.size(); ++p) {
            for (std::size_t n = 0; n < 97 && taken < maxEvents && m_cursor[p] < m_parts[p].size(); ++n, ++taken)
                batch.events.push_back(m_parts[p][m_cursor[p]++]);
            more = more || m_cursor[p] < m_parts[p].size();
        }
        return more ? PollResult::Events : PollResult::EndOfStream;
    }
    std::uint32_t partitionCount() const override { return static_cast<std::uint32_t>(m_parts.size()); }
    std::string describe() const override { return "partitioned replay"; }
    bool seek(std::uint32_t partition, std::int64_t offset) override
    {
        auto& part = m_parts[partition];
        std::size_t i = 0;
        while (i < part.size() && part[i].offset <= offset)
            ++i;
        m_cursor[partition] = i;
        return true;
    }

private:
    std::vector<std::vector<ClickEvent>> m_parts;
    std::vector<std::size_t> m_cursor;
    TimeMs m_nowMs;
};

/// One instance: a source, a router, and per partition a pipeline and its checkpointer.
struct Instance {
    Instance(const std::vector<ClickEvent>& events, PgStore& store, const std::string& name, std::uint32_t partitions)
        : source(events, partitions, events.front().eventTimeMs)
        , router(source)
        , clock(events.front().eventTimeMs)
    {
        for (std::uint32_t p = 0; p < partitions; ++p) {
            pipelines.push_back(std::make_unique<Pipeline>(inOrderPipelineConfig(), router.stream(p), clock));
            checkpointers.push_back(std::make_unique<PgPartitionCheckpointer>(store, "clicks", p, name));
            pipelines.back()->addSink(checkpointers.back().get());
        }
    }
    /// One pump and a step of every pipeline; false once every partition ended.
    bool step()
    {
        router.pump(2000);
        bool more = false;
        for (auto& p : pipelines)
            more = p->step() != PollResult::EndOfStream || more;
        return more;
    }
    std::uint64_t accepted() const
    {
        std::uint64_t n = 0;
        for (const auto& p : pipelines)
            n += p->counters().accepted;
        return n;
    }
    PartitionedReplay source;
    PartitionRouter router;
    VirtualClock clock;
    std::vector<std::unique_ptr<Pipeline>> pipelines;
    std::vector<std::unique_ptr<PgPartitionCheckpointer>> checkpointers;
};
} // namespace

class TestPgPartitionMove : public QObject {
    Q_OBJECT
private slots:
    void partitionsMoveExactlyOnce();
};

void TestPgPartitionMove::partitionsMoveExactlyOnce()
{
    PgTestServer server;
    QVERIFY2(server.start(), qPrintable(server.error()));
    QVERIFY2(server.createDatabase("move"), qPrintable(server.error()));
    std::string error;
    auto storeA = PgStore::open(server.conninfo("move"), error);
    QVERIFY2(storeA, error.c_str());
    auto storeB = PgStore::open(server.conninfo("move"), error);
    QVERIFY2(storeB, error.c_str());

    const std::vector<ClickEvent> events = inOrderStream(3, 60000);
    const std::map<WindowKey, std::uint64_t> oracle = countPerCell(events);

    // Instance A: checkpoints every 4 steps, then counts on past its last checkpoint and dies.
    Instance a(events, *storeA, "A", 3);
    for (std::uint32_t p = 0; p < 3; ++p)
        QCOMPARE(a.checkpointers[p]->claimAndRestore(*a.pipelines[p], a.router.stream(p), error), StoreStatus::Ok);
    for (int steps = 1; a.accepted() < events.size() / 2; ++steps) {
        QVERIFY(a.step());
        if (steps % 4 == 0)
            for (std::uint32_t p = 0; p < 3; ++p)
                QCOMPARE(a.checkpointers[p]->checkpoint(*a.pipelines[p]), StoreStatus::Ok);
    }
    for (int i = 0; i < 3; ++i)
        a.step(); // counted, never committed: lost with A, to be recounted by B
    const std::uint64_t committedByA = storeA->total(RowKind::Speed, kMinTimeMs / 2, INT64_MAX / 4);
    QVERIFY(committedByA > 0 && committedByA < a.accepted());

    // Instance B takes every partition over.
    Instance b(events, *storeB, "B", 3);
    std::uint64_t restoredRows = 0;
    for (std::uint32_t p = 0; p < 3; ++p) {
        QCOMPARE(b.checkpointers[p]->claimAndRestore(*b.pipelines[p], b.router.stream(p), error), StoreStatus::Ok);
        QCOMPARE(b.checkpointers[p]->position().epoch, std::int64_t { 2 });
        QVERIFY(b.checkpointers[p]->position().lastOffset >= 0);
        restoredRows += b.checkpointers[p]->rowsRestored();
    }
    QVERIFY(restoredRows > 0); // open windows came back from the store
    // A was only slow: its late checkpoint is refused and changes nothing.
    QCOMPARE(a.checkpointers[1]->checkpoint(*a.pipelines[1]), StoreStatus::Fenced);
    QCOMPARE(storeA->total(RowKind::Speed, kMinTimeMs / 2, INT64_MAX / 4), committedByA);

    int steps = 0;
    while (b.step())
        if (++steps % 4 == 0)
            for (std::uint32_t p = 0; p < 3; ++p)
                QCOMPARE(b.checkpointers[p]->checkpoint(*b.pipelines[p]), StoreStatus::Ok);
    for (std::uint32_t p = 0; p < 3; ++p) {
        b.pipelines[p]->finish();
        QCOMPARE(b.checkpointers[p]->checkpoint(*b.pipelines[p]), StoreStatus::Ok);
        QCOMPARE(b.pipelines[p]->counters().lateDropped, std::uint64_t { 0 });
    }

    std::map<WindowKey, std::uint64_t> stored;
    bool allFinal = true;
    storeB->forEachSpeedMinute(kMinTimeMs / 2, INT64_MAX / 4, [&](const StoredRow& r) {
        stored[r.key] = r.count;
        allFinal = allFinal && r.final;
    });
    std::uint64_t lost = 0, doubled = 0;
    for (const auto& [key, n] : oracle) {
        const std::uint64_t got = stored.contains(key) ? stored.at(key) : 0;
        lost += got < n ? n - got : 0;
        doubled += got > n ? got - n : 0;
    }
    qInfo("%zu cells, %llu events; A committed %llu before dying; B restored %llu open cells; lost %llu, doubled %llu",
        oracle.size(), static_cast<unsigned long long>(events.size()), static_cast<unsigned long long>(committedByA),
        static_cast<unsigned long long>(restoredRows), static_cast<unsigned long long>(lost),
        static_cast<unsigned long long>(doubled));
    QCOMPARE(lost, std::uint64_t { 0 });
    QCOMPARE(doubled, std::uint64_t { 0 });
    QCOMPARE(stored.size(), oracle.size());
    QVERIFY(allFinal);
}

QTEST_GUILESS_MAIN(TestPgPartitionMove)
#include "tst_pg_partition_move.moc"
