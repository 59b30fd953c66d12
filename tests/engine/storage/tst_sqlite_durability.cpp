// The SQLite store when things go wrong (DESIGN.md "Exactly once"): failed writes that leave the
// last good checkpoint intact (injected and a real SQLITE_FULL), copies of the files taken
// mid-transaction or with a torn WAL that open as one whole checkpoint, WAL readers beside the writer.

#include "sqlite_test_support.h"

using namespace adclick::engine;
using namespace adclick::test;

class TestSqliteDurability : public QObject {
    Q_OBJECT

private slots:
    void injectedFailureKeepsLastCheckpoint()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("a.db");
        auto store = openStore(path);
        QVERIFY(store);
        QCOMPARE(store->writeCheckpoint(numberedCheckpoint(1, 50)), StoreStatus::Ok);
        const std::uint64_t bytes = store->fileBytes();
        const QDateTime walTime = QFileInfo(path + "-wal").lastModified();

        store->setInjectedFailure(true);
        for (std::uint64_t i = 2; i < 5; ++i) {
            QCOMPARE(store->writeCheckpoint(numberedCheckpoint(i, 50)), StoreStatus::Full);
            QVERIFY(!store->error().empty());
            QCOMPARE(store->rollup(kT0 + 400 * kMsPerDay, {}), StoreStatus::Full);
            // The last good checkpoint stays readable, whole, the whole time.
            CheckpointData out;
            QVERIFY(store->loadCheckpoint(out));
            QCOMPARE(out.sequence, std::uint64_t(1));
            QCOMPARE(store->rowCount(RowKind::Speed, RowLevel::Minute), std::uint64_t(52));
            QCOMPARE(store->total(RowKind::Speed, kMinTimeMs, INT64_MAX / 4), std::uint64_t(52)); // all of count 1
        }
        QCOMPARE(store->fileBytes(), bytes); // not touched
        QCOMPARE(QFileInfo(path + "-wal").lastModified(), walTime);
        QCOMPARE(checkWholeCheckpointCopy(path, 50), std::uint64_t(1));

        store->setInjectedFailure(false);
        QCOMPARE(store->writeCheckpoint(numberedCheckpoint(2, 50)), StoreStatus::Ok);
        QVERIFY(store->error().empty());
        store.reset();
        QCOMPARE(checkWholeCheckpoint(path, 50), std::uint64_t(2));
    }

    void diskFullRollsBack()
    {
        // A real SQLITE_FULL (the file may not grow past its cap) in the middle of a checkpoint.
        QTemporaryDir dir;
        const QString path = dir.filePath("a.db");
        SqliteStore::Options capped;
        capped.maxDatabaseBytes = 512 * 1024;
        {
            auto store = openStore(path, capped);
            QVERIFY(store);
            QCOMPARE(store->writeCheckpoint(numberedCheckpoint(1, 100)), StoreStatus::Ok);
            CheckpointData big = numberedCheckpoint(2, 100);
            for (int i = 0; i < 50000; ++i)
                big.rows.push_back(row(key(static_cast<AdId>(5000 + i), kT0 + kMsPerDay), 2, true));
            QCOMPARE(store->writeCheckpoint(big), StoreStatus::Full);
            QVERIFY2(store->error().find("full") != std::string::npos, store->error().c_str());
            CheckpointData out;
            QVERIFY(store->loadCheckpoint(out));
            QCOMPARE(out.sequence, std::uint64_t(1));
            QCOMPARE(store->rowCount(RowKind::Speed, RowLevel::Minute), std::uint64_t(102));
            // Small checkpoints still fit: the store keeps working after the failure.
            QCOMPARE(store->writeCheckpoint(numberedCheckpoint(2, 100)), StoreStatus::Ok);
        }
        QCOMPARE(checkWholeCheckpoint(path, 100), std::uint64_t(2));
        auto store = openStore(path); // "space is back"
        QVERIFY(store);
        CheckpointData big = numberedCheckpoint(3, 100);
        for (int i = 0; i < 50000; ++i)
            big.rows.push_back(row(key(static_cast<AdId>(5000 + i), kT0 + kMsPerDay), 3, true));
        QCOMPARE(store->writeCheckpoint(big), StoreStatus::Ok);
        QCOMPARE(store->rowCount(RowKind::Speed, RowLevel::Minute), std::uint64_t(50000 + 100 + 4));
    }

    void copyTakenMidTransaction()
    {
        // The files copied while a checkpoint's transaction is open (its pages partly spilled into
        // the WAL by a tiny cache) open as the previous checkpoint; copied after the commit, as the
        // new one. Never a mixture.
        QTemporaryDir dir;
        const QString path = dir.filePath("a.db");
        SqliteStore::Options tinyCache;
        tinyCache.cacheSizeKiB = 64;
        auto store = openStore(path, tinyCache);
        QVERIFY(store);
        constexpr int kFiller = 4000;
        int spilled = 0;
        for (std::uint64_t i = 1; i <= 6; ++i) {
            const std::int64_t walBefore = sizeOf(path + "-wal");
            const QString during = dir.filePath(QStringLiteral("during-%1.db").arg(i));
            store->setBeforeCommitHook([&] {
                copyFile(path, during);
                copyFile(path + "-wal", during + "-wal");
                if (sizeOf(during + "-wal") > walBefore)
                    ++spilled; // uncommitted frames are in the copy
            });
            QCOMPARE(store->writeCheckpoint(numberedCheckpoint(i, kFiller)), StoreStatus::Ok);
            store->setBeforeCommitHook({});
            const QString after = dir.filePath(QStringLiteral("after-%1.db").arg(i));
            copyFile(path, after);
            copyFile(path + "-wal", after + "-wal");
            QCOMPARE(checkWholeCheckpoint(during, kFiller), i - 1);
            QCOMPARE(checkWholeCheckpoint(after, kFiller), i);
        }
        QVERIFY2(spilled >= 3, "the open transactions should have spilled into the WAL");
    }

    void tornWal()
    {
        // A WAL cut at any length (a crash mid-append, a partial copy) opens as one whole
        // checkpoint between the last one merged into the database file and the newest.
        QTemporaryDir dir;
        const QString path = dir.filePath("a.db");
        constexpr int kFiller = 300;
        {
            auto store = openStore(path);
            QVERIFY(store);
            for (std::uint64_t i = 1; i <= 10; ++i)
                QCOMPARE(store->writeCheckpoint(numberedCheckpoint(i, kFiller)), StoreStatus::Ok);
        } // closing merges the WAL into the database file
        auto store = openStore(path);
        QVERIFY(store);
        for (std::uint64_t i = 11; i <= 30; ++i)
            QCOMPARE(store->writeCheckpoint(numberedCheckpoint(i, kFiller)), StoreStatus::Ok);
        const std::int64_t walBytes = sizeOf(path + "-wal");
        QVERIFY(walBytes > 32);
        constexpr std::int64_t kFrame = 24 + 4096;
        std::vector<std::int64_t> lengths { 0, 31, 32, 32 + kFrame, 32 + kFrame - 1, walBytes - 1, walBytes };
        QRandomGenerator rng(12345);
        for (int n = 0; n < 40; ++n)
            lengths.push_back(static_cast<std::int64_t>(rng.bounded(static_cast<quint64>(walBytes + 1))));
        std::set<std::uint64_t> seen;
        for (std::int64_t len : lengths) {
            const QString copy = dir.filePath(QStringLiteral("torn-%1.db").arg(len));
            copyFile(path, copy);
            copyFile(path + "-wal", copy + "-wal", len);
            const std::uint64_t s = checkWholeCheckpoint(copy, kFiller);
            QVERIFY2(s >= 10 && s <= 30, qPrintable(QStringLiteral("WAL cut at %1 gave sequence %2").arg(len).arg(s)));
            if (len == walBytes)
                QCOMPARE(s, std::uint64_t(30));
            if (len < 32 + kFrame)
                QCOMPARE(s, std::uint64_t(10));
            seen.insert(s);
        }
        QVERIFY(seen.size() >= 5); // the cuts landed on many different commits
    }

    void readerBesideWriter()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("a.db");
        auto writer = openStore(path);
        QVERIFY(writer);
        QCOMPARE(writer->writeCheckpoint(numberedCheckpoint(1, 10)), StoreStatus::Ok);
        SqliteStore::Options ro;
        ro.readOnly = true;
        ro.busyTimeoutMs = 100;
        auto reader = openStore(path, ro);
        QVERIFY(reader);
        CheckpointData ck;
        QCOMPARE(reader->writeCheckpoint(ck), StoreStatus::IoError); // read-only
        std::unique_ptr<SqliteStore> lateReader;
        std::uint64_t seenDuring = 0;
        writer->setBeforeCommitHook([&] {
            // The writer holds its transaction open: readers neither block nor see it.
            QVERIFY(reader->loadCheckpoint(ck));
            seenDuring = ck.sequence;
            lateReader = openStore(path, ro);
        });
        QCOMPARE(writer->writeCheckpoint(numberedCheckpoint(2, 10)), StoreStatus::Ok);
        QCOMPARE(seenDuring, std::uint64_t(1));
        QVERIFY(lateReader);
        QVERIFY(reader->loadCheckpoint(ck));
        QCOMPARE(ck.sequence, std::uint64_t(2));
        QVERIFY(lateReader->loadCheckpoint(ck));
        QCOMPARE(ck.sequence, std::uint64_t(2));
        QCOMPARE(lateReader->total(RowKind::Speed, kMinTimeMs, INT64_MAX / 4), std::uint64_t(2 + 1 + 2 + 10 * 2));
    }

private:
    /// checkWholeCheckpoint on a copy of the files, leaving the original alone.
    static std::uint64_t checkWholeCheckpointCopy(const QString& path, int filler)
    {
        const QString copy = path + ".copy";
        copyFile(path, copy);
        if (QFileInfo::exists(path + "-wal"))
            copyFile(path + "-wal", copy + "-wal");
        return checkWholeCheckpoint(copy, filler);
    }
};

QTEST_APPLESS_MAIN(TestSqliteDurability)
#include "tst_sqlite_durability.moc"
