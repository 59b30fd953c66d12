// PartitionRouter: one upstream source split into one stream per partition, so each partition
// runs its own Pipeline (the scale-out model). Streams get exactly their partition's records in
// arrival order; per-partition pipelines count what one pipeline over everything counts.

#include "engine/support/oracle.h"
#include "engine/support/random_events.h"
#include "ingest/vector_source.h"
#include "pipeline/partition_router.h"
#include "pipeline/pipeline.h"

#include <QtTest>

using namespace adclick::engine;
using namespace adclick::test;

namespace {
std::vector<VectorSource::Record> records(const std::vector<ClickEvent>& events, std::uint32_t partitions)
{
    std::vector<VectorSource::Record> out = VectorSource::fromEvents(events, events.front().eventTimeMs);
    // Every 50th record is rejected (a malformed message at that position).
    for (std::size_t i = 0; i < out.size(); i += 50) {
        out[i].rejected = true;
        out[i].rejection.reason = RejectReason::NotJson;
        out[i].rejection.position = { out[i].event.offset, out[i].event.partition % partitions };
        out[i].rejection.bytes = "not json " + std::to_string(i);
    }
    return out;
}

} // namespace

class TestPartitionRouter : public QObject {
    Q_OBJECT
private slots:
    void streamsGetTheirPartitionInOrder();
    void perPartitionPipelinesCountWhatOnePipelineCounts();
    void droppedPartitionIsForgotten();
};

void TestPartitionRouter::streamsGetTheirPartitionInOrder()
{
    RandomStreamSpec spec;
    spec.partitions = 4;
    spec.events = 20000;
    const std::vector<ClickEvent> events = randomStream(spec);
    const auto recs = records(events, 4);
    VectorSource upstream(recs, 4);
    upstream.setBatchSizes(1, 700, 3);
    PartitionRouter router(upstream);
    for (std::uint32_t p = 0; p < 3; ++p) // partition 3 is not ours
        router.stream(p);
    std::vector<std::vector<std::int64_t>> got(3), gotRejected(3);
    std::mt19937_64 rng(9);
    bool done = false;
    while (!done) {
        router.pump(1 + rng() % 900);
        done = router.ended();
        for (std::uint32_t p = 0; p < 3; ++p) {
            IngestBatch b;
            const PollResult r = router.stream(p).poll(b, 1 + rng() % 300);
            for (const ClickEvent& e : b.events) {
                QCOMPARE(e.partition, p);
                got[p].push_back(e.offset);
            }
            for (const RejectedRecord& rej : b.rejected) {
                QCOMPARE(rej.position.partition, p);
                gotRejected[p].push_back(rej.position.offset);
            }
            if (r != PollResult::EndOfStream)
                done = false;
        }
    }
    std::uint64_t notOurs = 0;
    for (std::uint32_t p = 0; p < 4; ++p) {
        std::vector<std::int64_t> expected, expectedRejected;
        for (const auto& rec : recs) {
            const std::uint32_t part = rec.rejected ? rec.rejection.position.partition : rec.event.partition;
            if (part != p)
                continue;
            (rec.rejected ? expectedRejected : expected).push_back(rec.rejected ? rec.rejection.position.offset : rec.event.offset);
        }
        if (p == 3) {
            notOurs = expected.size() + expectedRejected.size();
            continue;
        }
        QVERIFY(expected.size() > 1000 && !expectedRejected.empty());
        QCOMPARE(got[p], expected);
        QCOMPARE(gotRejected[p], expectedRejected);
    }
    QCOMPARE(router.unrouted(), notOurs);
    // Ended and drained: every stream says so.
    IngestBatch b;
    QCOMPARE(router.stream(0).poll(b, 10), PollResult::EndOfStream);
    QVERIFY(router.stream(1).partitionActive(1));
    QVERIFY(!router.stream(1).partitionActive(0));
}

void TestPartitionRouter::perPartitionPipelinesCountWhatOnePipelineCounts()
{
    const std::vector<ClickEvent> events = inOrderStream(3, 30000);
    const std::map<WindowKey, std::uint64_t> oracle = countPerCell(events);

    VirtualClock clock(events.front().eventTimeMs);
    VectorSource upstream(VectorSource::fromEvents(events, events.front().eventTimeMs), 3);
    upstream.setBatchSizes(1, 2000, 5);
    PartitionRouter router(upstream);
    std::vector<std::unique_ptr<Pipeline>> pipelines;
    std::vector<CollectingSink> sinks(3);
    for (std::uint32_t p = 0; p < 3; ++p) {
        pipelines.push_back(std::make_unique<Pipeline>(inOrderPipelineConfig(), router.stream(p), clock));
        pipelines.back()->addSink(&sinks[p]);
    }
    for (bool more = true; more;) {
        router.pump(1500);
        more = false;
        for (auto& pipeline : pipelines)
            more = pipeline->step() != PollResult::EndOfStream || more;
    }
    std::map<WindowKey, std::uint64_t> summed;
    std::uint64_t lateDropped = 0;
    for (std::uint32_t p = 0; p < 3; ++p) {
        pipelines[p]->finish();
        lateDropped += pipelines[p]->counters().lateDropped;
        for (const auto& [key, cell] : sinks[p].cells)
            summed[key] += cell.count;
    }
    QCOMPARE(lateDropped, std::uint64_t { 0 });
    QVERIFY(summed.size() > 100);
    QVERIFY(summed == oracle);
    // Each pipeline's watermark followed its own partition only.
    QVERIFY(pipelines[0]->watermarks().partitions().size() == 3);
}

void TestPartitionRouter::droppedPartitionIsForgotten()
{
    RandomStreamSpec spec;
    spec.partitions = 2;
    spec.events = 1000;
    const std::vector<ClickEvent> events = randomStream(spec);
    VectorSource upstream(VectorSource::fromEvents(events, events.front().eventTimeMs), 2);
    upstream.setBatchSizes(100, 100);
    PartitionRouter router(upstream);
    router.stream(0);
    router.stream(1);
    router.pump(100);
    const std::size_t queued1 = router.queued(1);
    QVERIFY(queued1 > 0);
    router.drop(1); // revoked: what was queued for it goes
    QCOMPARE(router.queued(1), std::size_t { 0 });
    const std::uint64_t before = router.unrouted();
    router.pump(100);
    QVERIFY(router.unrouted() > before); // partition 1's records are no longer ours
    // Asked for again (assigned back): a new, empty stream that receives from now on.
    router.stream(1);
    router.pump(100);
    QVERIFY(router.queued(1) > 0);
}

QTEST_GUILESS_MAIN(TestPartitionRouter)
#include "tst_partition_router.moc"
