// Instances of a scale-out deployment in one process (issue 11): PartitionedIngest members of one
// consumer group on a real `adclick broker` (3 brokers, 6 partitions) share a real PostgreSQL 15.
// Between phases of producing, instances join, one leaves cleanly and one dies without a last
// checkpoint (abandon(): no hand-over, as after kill -9) and comes back. The partitions move with
// their state (claims, epochs, raw log replay for de-duplication), and at the end every cell of
// the shared store equals a brute-force count of the produced records: 0 lost, 0 doubled, every
// resent click recognised across the moves.
#include "app/kafka_test_support.h"
#include "pg_test_support.h"
#include "storage/pg_partitioned_ingest.h"

#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <thread>

using namespace adclick::engine;
using namespace adclick::test;

namespace {
/// One instance on its own ingest thread.
class Member {
public:
    Member(const QString& id, const QString& brokers, const std::string& conninfo, const QString& sharedDir)
    {
        PartitionedIngestConfig c;
        c.pipeline.watermark.boundMs = 30 * kMsPerMinute;
        c.pipeline.dedupHorizonMs = kMsPerDay;
        c.pipeline.maxFutureMs = 0;
        c.sourceKey = "clicks";
        c.instanceId = id.toStdString();
        c.sharedDir = sharedDir.toStdString();
        c.checkpointIntervalMs = 200;
        KafkaSourceConfig k;
        k.brokers = brokers.toStdString();
        k.topic = "clicks";
        k.group = "scale";
        k.sessionTimeoutMs = 3000;
        k.assignmentStrategy = "cooperative-sticky";
        m_ingest = std::make_unique<PartitionedIngest>(c, k, conninfo, m_clock);
    }
    ~Member() { stop(); }
    bool start()
    {
        if (!m_ingest->open())
            return false;
        m_thread = std::thread([this] {
            while (!m_crash.load() && !m_ingest->stopRequested() && m_ingest->step()) {
            }
            if (m_crash.load())
                m_ingest->abandon();
            else
                m_ingest->close();
        });
        return true;
    }
    void stop()
    {
        m_ingest->requestStop();
        if (m_thread.joinable())
            m_thread.join();
    }
    void crash()
    {
        m_crash.store(true);
        stop();
    }
    PartitionedIngestStatus status() const { return m_ingest->status(); }
    std::string error() const { return m_ingest->error(); }

private:
    SystemClock m_clock;
    std::unique_ptr<PartitionedIngest> m_ingest;
    std::thread m_thread;
    std::atomic<bool> m_crash { false };
};
} // namespace

class TestPgPartitionedIngest : public QObject {
    Q_OBJECT
private slots:
    void partitionsMoveWithTheGroup();
};

void TestPgPartitionedIngest::partitionsMoveWithTheGroup()
{
    PgTestServer pg;
    QVERIFY2(pg.start(), qPrintable(pg.error()));
    QVERIFY2(pg.createDatabase("scale"), qPrintable(pg.error()));
    BrokerProcess broker;
    QVERIFY(broker.start(6, "clicks", 3));
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString oraclePath = dir.filePath("produced.ndjson");
    const QString shared = dir.filePath("shared");
    const std::string conninfo = pg.conninfo("scale");

    // The test broker keeps only the last ~5 MB of each partition, read or not (tst_scale_out,
    // README "Scale-out"): the records come in phases of 40,000 that a stalled partition can hold.
    int phase = 0;
    QByteArray produced;
    auto produce = [&](bool waitCommitted = true) -> bool {
        const QString file = dir.filePath(QStringLiteral("phase%1.ndjson").arg(++phase));
        QByteArray out;
        const int code = runProcess({ adclickBinary(), "produce", "--brokers", broker.bootstrap(), "--topic", "clicks",
                                        "--rate", "40000", "--duration", "1s", "--ads", "2000", "--seed",
                                        QString::number(phase), "--oracle", file },
            60000, &out);
        QFile f(file);
        if (code != 0 || !f.open(QIODevice::ReadOnly))
            return false;
        produced += f.readAll();
        // Until the group has committed every record to the store (no backlog builds up in the
        // broker across phases, whatever the machine's load).
        if (!waitCommitted)
            return true;
        const std::int64_t records = produced.count('\n');
        std::string why;
        auto progress = PgStore::open(conninfo, why);
        for (int i = 0; progress && i < 900; ++i) {
            std::int64_t done = 0;
            for (const PartitionCheckpoint& pc : progress->partitions("clicks"))
                done += pc.lastOffset + 1;
            if (done >= records)
                return true;
            QTest::qWait(100);
        }
        qWarning("phase %d: the store did not catch up with %lld records", phase, static_cast<long long>(records));
        return false;
    };
    auto owned = [](const Member& m) { return m.status().partitions.size(); };
    // Until the members own all 6 partitions between them, each at least one.
    auto waitOwned = [&](const std::vector<const Member*>& members) {
        for (int i = 0; i < 300; ++i) {
            std::size_t n = 0;
            bool each = true;
            for (const Member* m : members) {
                n += owned(*m);
                each = each && owned(*m) > 0;
            }
            if (n == 6 && each)
                return true;
            QTest::qWait(100);
        }
        return false;
    };

    auto a = std::make_unique<Member>("A", broker.bootstrap(), conninfo, shared);
    Member b("B", broker.bootstrap(), conninfo, shared);
    Member c("C", broker.bootstrap(), conninfo, shared);
    QVERIFY2(a->start(), a->error().c_str());
    QVERIFY2(b.start(), b.error().c_str());
    QVERIFY(waitOwned({ a.get(), &b }));
    QVERIFY(produce());
    QVERIFY2(c.start(), c.error().c_str()); // C joins: partitions move to it
    QVERIFY(produce());
    QVERIFY(waitOwned({ a.get(), &b, &c }));
    QVERIFY(owned(c) > 0);
    QVERIFY(produce(false)); // A dies with this phase half counted
    const std::uint64_t claimsBeforeCrash = a->status().claims + b.status().claims + c.status().claims;
    a->crash(); // A dies: no last checkpoint, no hand-over; B and C take its partitions after the session timeout
    QVERIFY(a->status().partitions.empty());
    a.reset();
    QVERIFY(waitOwned({ &b, &c }));
    QVERIFY(produce());
    a = std::make_unique<Member>("A", broker.bootstrap(), conninfo, shared);
    QVERIFY2(a->start(), a->error().c_str()); // A is back: partitions move again
    QVERIFY(produce());
    QVERIFY(waitOwned({ a.get(), &b, &c }));
    QVERIFY(owned(*a) > 0);
    QFile all(oraclePath);
    QVERIFY(all.open(QIODevice::WriteOnly));
    all.write(produced);
    all.close();

    const KafkaOracle oracle = oracleOfFile(oraclePath);
    QVERIFY(oracle.events.size() > 190000);
    std::uint64_t expected = 0;
    for (const auto& [key, cell] : oracle.result.cells)
        expected += cell.count;

    // Until the shared store holds everything (or a minute passed).
    std::string error;
    auto reader = PgStore::open(conninfo, error);
    QVERIFY2(reader, error.c_str());
    std::uint64_t total = 0;
    for (int i = 0; i < 600 && total != expected; ++i) {
        QTest::qWait(100);
        total = reader->total(RowKind::Speed, kMinTimeMs / 2, INT64_MAX / 4);
    }
    const std::uint64_t claims = a->status().claims + b.status().claims + c.status().claims;
    b.stop(); // clean leave: A and C take B's partitions after its final checkpoint
    QTest::qWait(1000);
    a->stop();
    c.stop();
    for (const Member* m : { a.get(), &b, &c })
        QVERIFY2(m->error().empty(), m->error().c_str());

    std::map<WindowKey, std::uint64_t> stored;
    reader->forEachSpeedMinute(kMinTimeMs / 2, INT64_MAX / 4, [&](const StoredRow& r) { stored[r.key] = r.count; });
    std::uint64_t lost = 0, doubled = 0;
    for (const auto& [key, cell] : oracle.result.cells) {
        const std::uint64_t got = stored.contains(key) ? stored.at(key) : 0;
        lost += got < cell.count ? cell.count - got : 0;
        doubled += got > cell.count ? got - cell.count : 0;
    }
    for (const auto& [key, n] : stored)
        if (!oracle.result.cells.contains(key))
            doubled += n;
    std::int64_t maxEpoch = 0;
    for (const PartitionCheckpoint& p : reader->partitions("clicks"))
        maxEpoch = std::max(maxEpoch, p.epoch);
    qInfo("%zu records produced, %llu duplicates; %zu cells; claims %llu before the crash, %llu in all; highest "
          "epoch %lld; lost %llu, doubled %llu",
        oracle.events.size() + oracle.rejectedBytes.size(), static_cast<unsigned long long>(oracle.result.duplicates),
        oracle.result.cells.size(), static_cast<unsigned long long>(claimsBeforeCrash),
        static_cast<unsigned long long>(claims), static_cast<long long>(maxEpoch),
        static_cast<unsigned long long>(lost), static_cast<unsigned long long>(doubled));
    QVERIFY(oracle.result.duplicates > 0); // resends were produced: de-duplication had work across moves
    QVERIFY(claims > 6); // partitions moved
    QVERIFY(maxEpoch >= 3);
    QCOMPARE(lost, std::uint64_t { 0 });
    QCOMPARE(doubled, std::uint64_t { 0 });
    QCOMPARE(total, expected);
    // Quarantined records are counted per partition and summed: all of them, once.
    std::uint64_t quarantined = 0, rejected = 0;
    for (const std::uint64_t n : reader->quarantined())
        quarantined += n;
    for (const std::uint64_t n : oracle.rejected.byReason)
        rejected += n;
    QCOMPARE(quarantined, rejected);
}

QTEST_GUILESS_MAIN(TestPgPartitionedIngest)
#include "tst_pg_partitioned_ingest.moc"
