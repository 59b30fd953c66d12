// The PostgreSQL store (issue 11) against a real PostgreSQL 15 started by the test: migrations
// applied once by instances starting together, partition checkpoints that restore exactly what
// was committed, fencing of an owner that lost its partition, per-partition absolute rows summed
// per cell, the batch layer's advisory lock, parameters instead of SQL text.
#include "pg_test_support.h"
#include "storage/pg_schema.h"
#include "storage/pg_store.h"

#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <map>
#include <thread>

using namespace adclick::engine;
using adclick::test::PgTestServer;

namespace {
constexpr TimeMs kT0 = 1'767'225'600'000; // 2026-01-01 00:00 UTC

MinuteRow row(AdId ad, int minute, std::uint64_t count, bool final = true, CountryCode country = 1)
{
    MinuteRow r;
    r.key = WindowKey { ad, kT0 + minute * kMsPerMinute, country, DeviceClass::Mobile };
    r.count = count;
    r.final = final;
    return r;
}

PartitionCheckpointData checkpoint(const PartitionCheckpoint& claim, std::int64_t lastOffset, std::vector<MinuteRow> rows)
{
    PartitionCheckpointData d;
    d.position = claim;
    d.position.lastOffset = lastOffset;
    d.position.processingTimeMs = kT0 + lastOffset;
    d.position.watermarkMs = kT0 + lastOffset - 1000;
    d.position.wallTimeMs = 1;
    d.position.state = { 1, 2, 3, static_cast<std::uint8_t>(lastOffset & 0xff), 0, 255 };
    d.position.rawEpoch = claim.epoch;
    d.position.rawEnd = { 2, static_cast<std::uint64_t>(lastOffset) * 100, static_cast<std::uint64_t>(lastOffset) };
    d.rows = std::move(rows);
    return d;
}

std::map<WindowKey, std::uint64_t> speedRows(PgStore& s)
{
    std::map<WindowKey, std::uint64_t> out;
    s.forEachSpeedMinute(kT0, kT0 + kMsPerDay, [&](const StoredRow& r) { out[r.key] = r.count; });
    return out;
}
} // namespace

class TestPgStore : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void migrationsApplyOnceAcrossInstances();
    void newerSchemaIsRefused();
    void checkpointRestoresWhatWasCommitted();
    void fencedOwnerWritesNothing();
    void concurrentTakeoverFencesEveryLaterWrite();
    void partitionsSumPerCell();
    void batchLockIsExclusiveAndFreedByADeadHolder();
    void textIsAlwaysAParameter();
    void instancesReportThemselves();
    void rollupAndRetentionMatchSqlite();
    void batchLayerMatchesSqlite();

private:
    std::unique_ptr<PgStore> open(const QString& database);
    PgTestServer m_server;
};

void TestPgStore::initTestCase()
{
    QVERIFY2(m_server.start(), qPrintable(m_server.error()));
}

std::unique_ptr<PgStore> TestPgStore::open(const QString& database)
{
    std::string error;
    auto s = PgStore::open(m_server.conninfo(database), error);
    if (!s)
        qWarning("open %s: %s", qPrintable(database), error.c_str());
    return s;
}

void TestPgStore::migrationsApplyOnceAcrossInstances()
{
    QVERIFY2(m_server.createDatabase("migrate"), qPrintable(m_server.error()));
    // Six instances start at once against an empty database.
    constexpr int kInstances = 6;
    std::atomic<int> opened { 0 };
    std::vector<std::string> errors(kInstances);
    std::vector<std::thread> threads;
    for (int i = 0; i < kInstances; ++i)
        threads.emplace_back([&, i] {
            auto s = PgStore::open(m_server.conninfo("migrate"), errors[static_cast<std::size_t>(i)]);
            if (s && s->schemaVersion() == PgSchema::latestVersion())
                opened.fetch_add(1);
        });
    for (std::thread& t : threads)
        t.join();
    for (const std::string& e : errors)
        QVERIFY2(e.empty(), e.c_str());
    QCOMPARE(opened.load(), kInstances);
    std::string error;
    auto c = PgConnection::connect(m_server.conninfo("migrate"), error);
    QVERIFY2(c, error.c_str());
    PgResult r = c->exec("SELECT count(*), max(version) FROM schema_version");
    QVERIFY2(r.ok(), r.error().c_str());
    QCOMPARE(r.int64(0, 0), static_cast<std::int64_t>(PgSchema::migrations().size()));
    QCOMPARE(r.int64(0, 1), static_cast<std::int64_t>(PgSchema::latestVersion()));
    // Reopening changes nothing.
    QVERIFY(open("migrate"));
    QCOMPARE(c->exec("SELECT count(*) FROM schema_version").int64(0, 0),
        static_cast<std::int64_t>(PgSchema::migrations().size()));
}

void TestPgStore::newerSchemaIsRefused()
{
    QVERIFY2(m_server.createDatabase("newer"), qPrintable(m_server.error()));
    QVERIFY(open("newer"));
    std::string error;
    auto c = PgConnection::connect(m_server.conninfo("newer"), error);
    QVERIFY(c->exec("INSERT INTO schema_version VALUES(999, 0)").ok());
    auto s = PgStore::open(m_server.conninfo("newer"), error);
    QVERIFY(!s);
    QVERIFY2(error.find("newer than this adclick knows") != std::string::npos, error.c_str());
}

void TestPgStore::checkpointRestoresWhatWasCommitted()
{
    QVERIFY2(m_server.createDatabase("restore"), qPrintable(m_server.error()));
    auto s = open("restore");
    QVERIFY(s);
    PartitionCheckpoint claim;
    QCOMPARE(s->claimPartition("clicks", 3, "a", claim), StoreStatus::Ok);
    QCOMPARE(claim.epoch, std::int64_t { 1 });
    QCOMPARE(claim.lastOffset, std::int64_t { -1 });
    QCOMPARE(claim.sequence, std::uint64_t { 0 });
    QVERIFY(claim.state.empty());

    PartitionCheckpointData d = checkpoint(claim, 1000, { row(7, 0, 40), row(7, 1, 3, false), row(8, 0, 5) });
    d.newAds = { { 7, "summer-sale" }, { 8, "winter" } };
    d.lateDrops = { { WindowKey { 7, kT0, 1, DeviceClass::Mobile }, 2 } };
    d.quarantined[1] = 11;
    QCOMPARE(s->writePartitionCheckpoint(d), StoreStatus::Ok);
    QCOMPARE(d.position.sequence, std::uint64_t { 1 });
    // A later checkpoint: absolute rows replace, late drops add, the quarantine total replaces.
    PartitionCheckpointData d2 = checkpoint(claim, 1500, { row(7, 1, 9, true) });
    d2.lateDrops = { { WindowKey { 7, kT0, 1, DeviceClass::Mobile }, 1 } };
    d2.quarantined[1] = 12;
    QCOMPARE(s->writePartitionCheckpoint(d2), StoreStatus::Ok);

    // The owner restarts (a new process): the claim hands back the last checkpoint.
    auto restarted = open("restore");
    PartitionCheckpoint again;
    QCOMPARE(restarted->claimPartition("clicks", 3, "a", again), StoreStatus::Ok);
    QCOMPARE(again.epoch, std::int64_t { 2 });
    QCOMPARE(again.sequence, std::uint64_t { 2 });
    QCOMPARE(again.lastOffset, std::int64_t { 1500 });
    QCOMPARE(again.watermarkMs, kT0 + 500);
    QCOMPARE(again.state, d2.position.state);
    QCOMPARE(again.rawEpoch, std::int64_t { 1 });
    QCOMPARE(again.rawEnd.byteOffset, std::uint64_t { 150000 });
    QCOMPARE(again.rawEnd.nextSequence, std::uint64_t { 1500 });
    const auto rows = speedRows(*restarted);
    QCOMPARE(rows.size(), std::size_t { 3 });
    QCOMPARE(rows.at(WindowKey { 7, kT0 + kMsPerMinute, 1, DeviceClass::Mobile }), std::uint64_t { 9 });
    QCOMPARE(restarted->total(RowKind::Speed, kT0, kT0 + kMsPerHour), std::uint64_t { 54 });
    QCOMPARE(restarted->total(RowKind::Speed, kT0, kT0 + kMsPerHour, 8), std::uint64_t { 5 });
    std::uint64_t lateDropped = 0;
    restarted->forEachSpeedMinute(kT0, kT0 + kMsPerMinute, [&](const StoredRow& r) { lateDropped += r.lateDropped; });
    QCOMPARE(lateDropped, std::uint64_t { 3 });
    QCOMPARE(restarted->quarantined()[1], std::uint64_t { 12 });
    std::map<AdId, std::string> ads;
    restarted->forEachAd([&](AdId id, const std::string& name) { ads[id] = name; });
    QCOMPARE(ads.at(7), std::string("summer-sale"));
    QCOMPARE(ads.size(), std::size_t { 2 });
}

void TestPgStore::fencedOwnerWritesNothing()
{
    QVERIFY2(m_server.createDatabase("fence"), qPrintable(m_server.error()));
    auto a = open("fence");
    auto b = open("fence");
    PartitionCheckpoint ca, cb, other;
    QCOMPARE(a->claimPartition("clicks", 0, "instance-a", ca), StoreStatus::Ok);
    QCOMPARE(a->claimPartition("clicks", 1, "instance-a", other), StoreStatus::Ok);
    PartitionCheckpointData first = checkpoint(ca, 10, { row(1, 0, 10) });
    QCOMPARE(a->writePartitionCheckpoint(first), StoreStatus::Ok);
    // The group moves partition 0 to b (a stalled, say): b restores a's checkpoint.
    QCOMPARE(b->claimPartition("clicks", 0, "instance-b", cb), StoreStatus::Ok);
    QCOMPARE(cb.epoch, ca.epoch + 1);
    QCOMPARE(cb.lastOffset, std::int64_t { 10 });
    // a wakes up and writes what it counted meanwhile: refused, nothing of it visible.
    PartitionCheckpointData stale = checkpoint(ca, 20, { row(1, 0, 999), row(2, 0, 999) });
    stale.newAds = { { 2, "from-a-zombie" } };
    QCOMPARE(a->writePartitionCheckpoint(stale), StoreStatus::Fenced);
    QVERIFY2(a->error().find("claimed by instance-b") != std::string::npos, a->error().c_str());
    QCOMPARE(b->total(RowKind::Speed, kT0, kT0 + kMsPerHour), std::uint64_t { 10 });
    std::size_t ads = 0;
    b->forEachAd([&](AdId, const std::string&) { ++ads; });
    QCOMPARE(ads, std::size_t { 0 });
    // b continues from a's offset; a's other partition is still a's.
    PartitionCheckpointData next = checkpoint(cb, 20, { row(1, 0, 20) });
    QCOMPARE(b->writePartitionCheckpoint(next), StoreStatus::Ok);
    PartitionCheckpointData mine = checkpoint(other, 5, { row(3, 0, 5) });
    QCOMPARE(a->writePartitionCheckpoint(mine), StoreStatus::Ok);
    QCOMPARE(b->total(RowKind::Speed, kT0, kT0 + kMsPerHour), std::uint64_t { 25 });
    const auto parts = b->partitions("clicks");
    QCOMPARE(parts.size(), std::size_t { 2 });
    QCOMPARE(parts[0].owner, std::string("instance-b"));
    QCOMPARE(parts[0].lastOffset, std::int64_t { 20 });
    QCOMPARE(parts[1].owner, std::string("instance-a"));
}

void TestPgStore::concurrentTakeoverFencesEveryLaterWrite()
{
    QVERIFY2(m_server.createDatabase("takeover"), qPrintable(m_server.error()));
    auto setup = open("takeover");
    PartitionCheckpoint ca;
    QCOMPARE(setup->claimPartition("clicks", 0, "a", ca), StoreStatus::Ok);
    // a checkpoints as fast as it can; b takes the partition over meanwhile.
    std::atomic<bool> stop { false };
    std::atomic<std::uint64_t> lastOk { 0 }, fenced { 0 }, failures { 0 };
    std::thread writer([&] {
        std::string error;
        auto a = PgStore::open(m_server.conninfo("takeover"), error);
        if (!a) {
            failures.fetch_add(1);
            return;
        }
        for (std::int64_t offset = 1; !stop.load(); ++offset) {
            PartitionCheckpointData d = checkpoint(ca, offset, { row(1, 0, static_cast<std::uint64_t>(offset)) });
            const StoreStatus st = a->writePartitionCheckpoint(d);
            if (st == StoreStatus::Ok) {
                if (fenced.load() > 0)
                    failures.fetch_add(1); // a write after the fence went through
                lastOk.store(d.position.sequence);
            } else if (st == StoreStatus::Fenced)
                fenced.fetch_add(1);
            else
                failures.fetch_add(1);
        }
    });
    // A failing check returns early: the writer must still be stopped and joined (else the
    // process aborts and leaves its PostgreSQL server running).
    const auto joinWriter = qScopeGuard([&] {
        stop.store(true);
        if (writer.joinable())
            writer.join();
    });
    QTRY_VERIFY_WITH_TIMEOUT(lastOk.load() >= 20, 30000);
    auto b = open("takeover");
    PartitionCheckpoint cb;
    QCOMPARE(b->claimPartition("clicks", 0, "b", cb), StoreStatus::Ok);
    QTRY_VERIFY_WITH_TIMEOUT(fenced.load() >= 20, 30000);
    stop.store(true);
    if (writer.joinable())
        writer.join();
    QCOMPARE(failures.load(), std::uint64_t { 0 });
    // b's claim saw exactly a's last committed checkpoint, and it stays the last one.
    QCOMPARE(cb.sequence, lastOk.load());
    QCOMPARE(static_cast<std::uint64_t>(cb.lastOffset), cb.sequence);
    QCOMPARE(b->total(RowKind::Speed, kT0, kT0 + kMsPerHour), cb.sequence);
    QCOMPARE(b->partitions("clicks").at(0).sequence, cb.sequence);
}

void TestPgStore::partitionsSumPerCell()
{
    QVERIFY2(m_server.createDatabase("sum"), qPrintable(m_server.error()));
    auto s = open("sum");
    PartitionCheckpoint p0, p1;
    QCOMPARE(s->claimPartition("clicks", 0, "a", p0), StoreStatus::Ok);
    QCOMPARE(s->claimPartition("clicks", 1, "b", p1), StoreStatus::Ok);
    // The same cell fed by two partitions (a topic not keyed by ad id).
    auto d0 = checkpoint(p0, 1, { row(5, 0, 5, false) });
    auto d1 = checkpoint(p1, 1, { row(5, 0, 7, true) });
    QCOMPARE(s->writePartitionCheckpoint(d0), StoreStatus::Ok);
    QCOMPARE(s->writePartitionCheckpoint(d1), StoreStatus::Ok);
    QCOMPARE(s->total(RowKind::Speed, kT0, kT0 + kMsPerMinute), std::uint64_t { 12 });
    bool final = true;
    s->forEachSpeedMinute(kT0, kT0 + kMsPerMinute, [&](const StoredRow& r) { final = r.final; });
    QVERIFY(!final); // partition 0's part of the cell is still open
    // Re-sending the same absolute row changes nothing; a new absolute count replaces.
    auto again = checkpoint(p0, 2, { row(5, 0, 5, false) });
    QCOMPARE(s->writePartitionCheckpoint(again), StoreStatus::Ok);
    QCOMPARE(s->total(RowKind::Speed, kT0, kT0 + kMsPerMinute), std::uint64_t { 12 });
    auto more = checkpoint(p0, 3, { row(5, 0, 6, true), row(5, 0, 6, true) }); // a repeated key: the last wins
    QCOMPARE(s->writePartitionCheckpoint(more), StoreStatus::Ok);
    QCOMPARE(s->total(RowKind::Speed, kT0, kT0 + kMsPerMinute), std::uint64_t { 13 });
    s->forEachSpeedMinute(kT0, kT0 + kMsPerMinute, [&](const StoredRow& r) { final = r.final; });
    QVERIFY(final);
}

void TestPgStore::batchLockIsExclusiveAndFreedByADeadHolder()
{
    QVERIFY2(m_server.createDatabase("batchlock"), qPrintable(m_server.error()));
    auto a = open("batchlock");
    auto b = open("batchlock");
    QVERIFY(a->tryBatchLock());
    QVERIFY(!b->tryBatchLock());
    a->releaseBatchLock();
    QVERIFY(b->tryBatchLock());
    QVERIFY(!a->tryBatchLock());
    b.reset(); // the holder's connection ends (a crash): the lock goes with it
    QTRY_VERIFY_WITH_TIMEOUT(a->tryBatchLock(), 10000);
}

void TestPgStore::textIsAlwaysAParameter()
{
    QVERIFY2(m_server.createDatabase("params"), qPrintable(m_server.error()));
    auto s = open("params");
    const std::string hostileKey = "clicks'; DROP TABLE speed_minute; --";
    const std::string hostileName = "x'), (2, 'y'); DROP TABLE ads; -- \"{}\\";
    PartitionCheckpoint p;
    QCOMPARE(s->claimPartition(hostileKey, 0, "o'neil", p), StoreStatus::Ok);
    auto d = checkpoint(p, 1, { row(1, 0, 1) });
    d.newAds = { { 1, hostileName } };
    QCOMPARE(s->writePartitionCheckpoint(d), StoreStatus::Ok);
    std::map<AdId, std::string> ads;
    s->forEachAd([&](AdId id, const std::string& name) { ads[id] = name; });
    QCOMPARE(ads.size(), std::size_t { 1 });
    QCOMPARE(ads.at(1), hostileName);
    QCOMPARE(s->partitions(hostileKey).at(0).owner, std::string("o'neil"));
    QCOMPARE(s->total(RowKind::Speed, kT0, kT0 + kMsPerMinute), std::uint64_t { 1 });
}

void TestPgStore::instancesReportThemselves()
{
    QVERIFY2(m_server.createDatabase("instances"), qPrintable(m_server.error()));
    auto s = open("instances");
    QCOMPARE(s->heartbeat("a", "host-1", R"({"partitions":[0,1],"lag":12})"), StoreStatus::Ok);
    QCOMPARE(s->heartbeat("b", "host-2", R"({"partitions":[2]})"), StoreStatus::Ok);
    QCOMPARE(s->heartbeat("a", "host-1", R"({"partitions":[0],"lag":3})"), StoreStatus::Ok);
    const auto list = s->instances();
    QCOMPARE(list.size(), std::size_t { 2 });
    QCOMPARE(list[0].id, std::string("a"));
    QVERIFY2(list[0].statusJson.find("\"lag\": 3") != std::string::npos, list[0].statusJson.c_str());
    QVERIFY(list[0].heartbeatWallMs >= list[0].startedWallMs);
    QCOMPARE(s->heartbeat("c", "h", "not json"), StoreStatus::IoError);
    QVERIFY(!s->error().empty());
}

/// 100 days of minute rows into both stores (in PostgreSQL each cell's count split over two
/// partitions), then the same rollup at the same time: every day's total, every stored row and
/// the report must agree, and totals over whole days inside retention must not change.
void TestPgStore::rollupAndRetentionMatchSqlite()
{
    QVERIFY2(m_server.createDatabase("rollup"), qPrintable(m_server.error()));
    auto pg = open("rollup");
    QTemporaryDir dir;
    std::string error;
    auto lite = SqliteStore::open(dir.filePath("adclick.db").toStdString(), {}, error);
    QVERIFY2(lite, error.c_str());

    QRandomGenerator rng(11);
    constexpr int kDays = 100;
    PartitionCheckpoint p0, p1;
    QCOMPARE(pg->claimPartition("clicks", 0, "a", p0), StoreStatus::Ok);
    QCOMPARE(pg->claimPartition("clicks", 1, "a", p1), StoreStatus::Ok);
    for (int day = 0; day < kDays; ++day) {
        CheckpointData liteData;
        PartitionCheckpointData d0 = checkpoint(p0, day, {}), d1 = checkpoint(p1, day, {});
        for (int i = 0; i < 40; ++i) {
            const int minute = day * 1440 + static_cast<int>(rng.bounded(1440));
            const AdId ad = 1 + rng.bounded(20);
            const CountryCode country = static_cast<CountryCode>(1 + rng.bounded(3));
            const std::uint64_t count = 1 + rng.bounded(1000);
            const std::uint64_t part = rng.bounded(static_cast<quint64>(count + 1));
            liteData.rows.push_back(row(ad, minute, count, true, country));
            d0.rows.push_back(row(ad, minute, part, true, country));
            d1.rows.push_back(row(ad, minute, count - part, true, country));
        }
        // A repeated cell within a day: the last absolute count wins, on both stores.
        liteData.rows.push_back(liteData.rows.front());
        QCOMPARE(lite->writeCheckpoint(liteData), StoreStatus::Ok);
        QCOMPARE(pg->writePartitionCheckpoint(d0), StoreStatus::Ok);
        QCOMPARE(pg->writePartitionCheckpoint(d1), StoreStatus::Ok);
    }
    auto dayTotals = [&](auto& store) {
        std::vector<std::uint64_t> t;
        for (int day = 0; day < kDays; ++day)
            t.push_back(store.total(RowKind::Speed, kT0 + day * kMsPerDay, kT0 + (day + 1) * kMsPerDay));
        return t;
    };
    const std::vector<std::uint64_t> before = dayTotals(*lite);
    QCOMPARE(dayTotals(*pg), before);

    const TimeMs now = kT0 + kDays * kMsPerDay + 5 * kMsPerHour;
    RollupReport liteReport, pgReport;
    QCOMPARE(lite->rollup(now, RetentionConfig {}, &liteReport), StoreStatus::Ok);
    QCOMPARE(pg->rollup(now, RetentionConfig {}, &pgReport), StoreStatus::Ok);
    QCOMPARE(pgReport.minuteCutoffMs, liteReport.minuteCutoffMs);
    QCOMPARE(pgReport.deleteCutoffMs, liteReport.deleteCutoffMs);
    QCOMPARE(pgReport.hourRowsRolled, liteReport.hourRowsRolled);
    // Minute rows are counted as stored: PostgreSQL keeps each cell here as two partition rows
    // (the deleted rows are all minute rows: nothing was rolled before).
    QCOMPARE(pgReport.minuteRowsRolled, 2 * liteReport.minuteRowsRolled);
    QCOMPARE(pgReport.rowsDeleted, 2 * liteReport.rowsDeleted);
    QVERIFY(pgReport.rowsDeleted > 0 && pgReport.hourRowsRolled > 0);
    for (RowLevel level : { RowLevel::Hour, RowLevel::Day })
        QCOMPARE(pg->rowCount(RowKind::Speed, level), lite->rowCount(RowKind::Speed, level));
    const std::vector<std::uint64_t> after = dayTotals(*lite);
    QCOMPARE(dayTotals(*pg), after);
    for (int day = 0; day < kDays; ++day) {
        const TimeMs start = kT0 + day * kMsPerDay;
        if (start >= liteReport.deleteCutoffMs) // inside retention: whole-day totals unchanged
            QCOMPARE(after[static_cast<std::size_t>(day)], before[static_cast<std::size_t>(day)]);
        else
            QCOMPARE(after[static_cast<std::size_t>(day)], std::uint64_t { 0 });
    }
    std::map<WindowKey, std::uint64_t> liteMinutes;
    lite->forEachSpeedMinute(kT0, now, [&](const StoredRow& r) { liteMinutes[r.key] = r.count; });
    std::map<WindowKey, std::uint64_t> pgMinutes;
    pg->forEachSpeedMinute(kT0, now, [&](const StoredRow& r) { pgMinutes[r.key] = r.count; });
    QVERIFY(!liteMinutes.empty());
    QVERIFY(pgMinutes == liteMinutes);
    // Idempotent: a second run at the same time changes nothing.
    QCOMPARE(pg->rollup(now, RetentionConfig {}, &pgReport), StoreStatus::Ok);
    QCOMPARE(pgReport.rowsDeleted + pgReport.minuteRowsRolled + pgReport.hourRowsRolled, std::uint64_t { 0 });
    QCOMPARE(dayTotals(*pg), after);
}

/// Batch runs (overlapping ranges, a range re-run) written to both stores read back the same.
void TestPgStore::batchLayerMatchesSqlite()
{
    QVERIFY2(m_server.createDatabase("batch"), qPrintable(m_server.error()));
    auto pg = open("batch");
    QTemporaryDir dir;
    std::string error;
    auto lite = SqliteStore::open(dir.filePath("adclick.db").toStdString(), {}, error);
    QVERIFY2(lite, error.c_str());
    QRandomGenerator rng(5);
    auto runOver = [&](int fromMinute, int toMinute, const char* trigger) {
        std::map<WindowKey, BatchCell> cells;
        for (int i = 0; i < 700; ++i) {
            BatchCell c;
            c.key = WindowKey { 1 + rng.bounded(50),
                kT0 + (fromMinute + static_cast<int>(rng.bounded(static_cast<quint32>(toMinute - fromMinute))))
                        * kMsPerMinute,
                static_cast<CountryCode>(rng.bounded(4)), static_cast<DeviceClass>(rng.bounded(5)) };
            c.count = 1 + rng.bounded(100);
            c.lateDropped = rng.bounded(3);
            c.lateUpdated = rng.bounded(2);
            c.speedDuplicates = rng.bounded(2);
            c.duplicates = rng.bounded(4);
            c.speedCounted = c.count - c.lateDropped;
            cells[c.key] = c;
        }
        std::vector<BatchCell> list;
        for (const auto& [k, c] : cells)
            list.push_back(c);
        BatchRunRecord run;
        run.fromMs = kT0 + fromMinute * kMsPerMinute;
        run.toMs = kT0 + toMinute * kMsPerMinute;
        run.rawEnd = { 3, 4096, static_cast<std::uint64_t>(700 + fromMinute) };
        run.trigger = trigger;
        run.counted = 77;
        run.seconds = 0.25;
        run.threads = 2;
        BatchRunRecord pgRun = run;
        QCOMPARE(lite->writeBatchRun(run, list), StoreStatus::Ok);
        QCOMPARE(pg->writeBatchRun(pgRun, list, "instance-a"), StoreStatus::Ok);
        QCOMPARE(pgRun.runId, run.runId);
    };
    runOver(0, 60, "schedule");
    runOver(30, 90, "manual");
    runOver(0, 60, "rest"); // re-running a range replaces its rows
    auto cells = [&](auto& store) {
        std::vector<BatchCell> out;
        store.forEachBatchCell(kT0, kT0 + kMsPerDay, [&](const BatchCell& c) { out.push_back(c); });
        return out;
    };
    const std::vector<BatchCell> expected = cells(*lite);
    QVERIFY(expected.size() > 1000);
    QVERIFY(cells(*pg) == expected);
    QCOMPARE(pg->total(RowKind::Batch, kT0, kT0 + kMsPerDay), lite->total(RowKind::Batch, kT0, kT0 + kMsPerDay));
    const auto liteRuns = lite->batchRuns(kT0 + 70 * kMsPerMinute, kT0 + kMsPerDay);
    const auto pgRuns = pg->batchRuns(kT0 + 70 * kMsPerMinute, kT0 + kMsPerDay);
    QCOMPARE(pgRuns.size(), std::size_t { 1 });
    QCOMPARE(pgRuns.size(), liteRuns.size());
    QCOMPARE(pgRuns[0].runId, liteRuns[0].runId);
    QCOMPARE(pgRuns[0].trigger, std::string("manual"));
    QCOMPARE(pgRuns[0].rawEnd.nextSequence, liteRuns[0].rawEnd.nextSequence);
    QCOMPARE(pgRuns[0].seconds, 0.25);
    BatchRunRecord latest;
    QVERIFY(pg->latestBatchRun(latest));
    QCOMPARE(latest.trigger, std::string("rest"));
    QCOMPARE(latest.runId, std::int64_t { 3 });
    // A cell outside the run's range: refused, nothing written.
    BatchRunRecord bad;
    bad.fromMs = kT0;
    bad.toMs = kT0 + kMsPerMinute;
    BatchCell outside;
    outside.key = WindowKey { 1, kT0 + kMsPerHour, 0, DeviceClass::Mobile };
    QCOMPARE(pg->writeBatchRun(bad, std::vector<BatchCell> { outside }), StoreStatus::IoError);
    QVERIFY(cells(*pg) == expected);
    // Raw log retention keeps the newest deletion.
    QCOMPARE(pg->rawLogDeletedThroughMs(), kMinTimeMs);
    QCOMPARE(pg->noteRawLogDeleted(kT0 + 5), StoreStatus::Ok);
    QCOMPARE(pg->noteRawLogDeleted(kT0 + 2), StoreStatus::Ok);
    QCOMPARE(pg->rawLogDeletedThroughMs(), kT0 + 5);
}

QTEST_GUILESS_MAIN(TestPgStore)
#include "tst_pg_store.moc"
