// The SQLite store (DESIGN.md "Storage"): schema versions and migrations, checkpoint round trips,
// UPSERT semantics of absolute rows and late-drop deltas, offsets and ads, range reads against a
// brute-force oracle, file size and the default data directory.

#include "sqlite_test_support.h"

using namespace adclick::engine;
using namespace adclick::test;

class TestSqliteStore : public QObject {
    Q_OBJECT

private slots:
    void schemaVersionRecordedAndMigrationIdempotent()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("a.db");
        std::int64_t appliedAt = 0;
        for (int open = 0; open < 3; ++open) {
            auto store = openStore(path);
            QVERIFY(store);
            QCOMPARE(store->schemaVersion(), SqliteStore::latestSchemaVersion());
            store.reset();
            SqliteDb db = rawOpen(path);
            QCOMPARE(rawInt(db, "SELECT count(*) FROM schema_version"),
                std::int64_t(SqliteSchema::migrations().size())); // each migration recorded once
            QCOMPARE(rawInt(db, "SELECT max(version) FROM schema_version"),
                std::int64_t(SqliteStore::latestSchemaVersion()));
            const std::int64_t at = rawInt(db, "SELECT applied_at_ms FROM schema_version WHERE version = 1");
            if (open == 0)
                appliedAt = at;
            QCOMPARE(at, appliedAt); // not re-applied on reopen
            QVERIFY(appliedAt > 1'600'000'000'000);
            std::string mode;
            QVERIFY(db.queryText("PRAGMA journal_mode", mode).ok());
            QCOMPARE(QString::fromStdString(mode), QStringLiteral("wal"));
            QCOMPARE(rawInt(db, "PRAGMA application_id"), std::int64_t(SqliteSchema::kApplicationId));
            // Every table the design names exists, the minute tables WITHOUT ROWID.
            for (const char* t : { "ads", "speed_minute", "batch_minute", "speed_hour", "speed_day", "batch_hour",
                     "batch_day", "checkpoint", "source_offset", "quarantine_stats", "rollup_state" }) {
                const std::string sql
                    = std::string("SELECT count(*) FROM sqlite_schema WHERE type='table' AND name='") + t + "'";
                QVERIFY2(rawInt(db, sql.c_str()) == 1, t);
            }
            QVERIFY(rawInt(db,
                        "SELECT count(*) FROM sqlite_schema WHERE name='speed_minute' AND sql LIKE '%WITHOUT ROWID%'")
                == 1);
            QVERIFY(rawInt(db, "SELECT count(*) FROM sqlite_schema WHERE type='index' AND name='speed_minute_by_time'")
                == 1);
        }
    }

    void newerSchemaIsRefused_data()
    {
        QTest::addColumn<bool>("readOnly");
        QTest::newRow("read-write") << false;
        QTest::newRow("read-only") << true;
    }
    void newerSchemaIsRefused()
    {
        QFETCH(bool, readOnly);
        QTemporaryDir dir;
        const QString path = dir.filePath("a.db");
        QVERIFY(openStore(path));
        {
            SqliteDb db = rawOpen(path);
            const std::string sql = "INSERT INTO schema_version VALUES("
                + std::to_string(SqliteStore::latestSchemaVersion() + 1) + ", 0)";
            QVERIFY(db.exec(sql.c_str()).ok());
        }
        SqliteStore::Options o;
        o.readOnly = readOnly;
        std::string error;
        QVERIFY(!SqliteStore::open(path.toStdString(), o, error));
        QVERIFY2(error.find("newer") != std::string::npos, error.c_str());
        SqliteDb db = rawOpen(path);
        QCOMPARE(
            rawInt(db, "SELECT count(*) FROM schema_version"), std::int64_t(SqliteSchema::migrations().size() + 1));
    }

    void foreignOrMissingDatabaseIsRefused()
    {
        QTemporaryDir dir;
        const QString foreign = dir.filePath("other.db");
        {
            SqliteDb db;
            QVERIFY(SqliteDb::open(foreign.toStdString(), 0x02 | 0x04, db).ok());
            QVERIFY(db.exec("CREATE TABLE notes(text TEXT)").ok());
        }
        std::string error;
        QVERIFY(!SqliteStore::open(foreign.toStdString(), {}, error));
        QVERIFY2(error.find("not an adclick database") != std::string::npos, error.c_str());

        SqliteStore::Options ro;
        ro.readOnly = true;
        error.clear();
        QVERIFY(!SqliteStore::open(dir.filePath("missing.db").toStdString(), ro, error));
        QVERIFY(!error.empty());
        QVERIFY(!QFileInfo::exists(dir.filePath("missing.db")));
    }

    void checkpointRoundTrip_data()
    {
        QTest::addColumn<int>("partitions");
        QTest::addColumn<int>("stateBytes");
        QTest::addColumn<QString>("sourceKey");
        QTest::newRow("empty state, no offsets") << 0 << 0 << "";
        QTest::newRow("one partition") << 1 << 100 << "generator seed=1 rate=50000";
        QTest::newRow("kafka, 12 partitions, 1 MiB state")
            << 12 << (1 << 20) << "kafka broker=localhost:9092 topic=clicks";
    }
    void checkpointRoundTrip()
    {
        QFETCH(int, partitions);
        QFETCH(int, stateBytes);
        QFETCH(QString, sourceKey);
        QTemporaryDir dir;
        const QString path = dir.filePath("a.db");
        CheckpointData in;
        in.sequence = 777; // ignored: assigned
        in.processingTimeMs = kT0 + 123;
        in.watermarkMs = kMinTimeMs; // no watermark yet survives as such
        in.wallTimeMs = 1'900'000'000'123;
        in.rawEnd = { 42, (1ull << 40) + 7, 9'000'000'001 };
        in.sourceKey = sourceKey.toStdString();
        for (int p = 0; p < partitions; ++p)
            in.offsets.push_back(
                { static_cast<std::uint32_t>(p), p == 3 ? -1 : static_cast<std::int64_t>(p) * 1'000'000'007 });
        QRandomGenerator rng(7);
        for (int b = 0; b < stateBytes; ++b)
            in.state.push_back(static_cast<std::uint8_t>(rng.bounded(256)));
        if (stateBytes > 0)
            in.state[0] = 0; // embedded NULs are kept (a blob, not text)
        for (int r = 0; r < kRejectReasonCount; ++r)
            in.quarantined[static_cast<std::size_t>(r)] = static_cast<std::uint64_t>(r) * 1000 + 1;
        in.newAds = { { kFirstNamedAdId, "campaign-α" }, { kFirstNamedAdId + 1, "b" } };
        in.rows.push_back(row(key(5, kT0), 3));
        {
            auto store = openStore(path);
            QVERIFY(store);
            CheckpointData none;
            QVERIFY(!store->loadCheckpoint(none));
            QVERIFY(store->error().empty());
            for (std::uint64_t seq = 1; seq <= 3; ++seq) {
                QCOMPARE(store->writeCheckpoint(in), StoreStatus::Ok);
                CheckpointData out;
                QVERIFY(store->loadCheckpoint(out));
                QCOMPARE(out.sequence, seq); // previous + 1
            }
        }
        auto store = openStore(path); // and across a reopen
        QVERIFY(store);
        CheckpointData out;
        QVERIFY(store->loadCheckpoint(out));
        QCOMPARE(out.sequence, std::uint64_t(3));
        QCOMPARE(out.processingTimeMs, in.processingTimeMs);
        QCOMPARE(out.watermarkMs, in.watermarkMs);
        QCOMPARE(out.wallTimeMs, in.wallTimeMs);
        QVERIFY(out.rawEnd == in.rawEnd);
        QCOMPARE(out.sourceKey, in.sourceKey);
        QCOMPARE(out.offsets.size(), in.offsets.size());
        for (std::size_t i = 0; i < in.offsets.size(); ++i) {
            QCOMPARE(out.offsets[i].partition, in.offsets[i].partition);
            QCOMPARE(out.offsets[i].offset, in.offsets[i].offset);
        }
        QVERIFY(out.state == in.state);
        QVERIFY(out.quarantined == in.quarantined);
        QVERIFY(out.rows.empty() && out.lateDrops.empty() && out.newAds.empty());
        QVERIFY(store->quarantined() == in.quarantined);
        std::vector<std::pair<AdId, std::string>> ads;
        store->forEachAd([&](AdId id, const std::string& name) { ads.emplace_back(id, name); });
        QVERIFY(ads == in.newAds);
    }

    void upsertSemantics()
    {
        QTemporaryDir dir;
        auto store = openStore(dir.filePath("a.db"));
        QVERIFY(store);
        const WindowKey k = key(7, kT0, kDE, DeviceClass::Tablet);
        const WindowKey other = key(8, kT0 + kMsPerMinute);
        auto readRow = [&](const WindowKey& wanted) {
            StoredRow found;
            found.count = ~0ull;
            store->forEachSpeedMinute(wanted.windowStartMs, wanted.windowStartMs + 1, [&](const StoredRow& r) {
                if (r.key == wanted)
                    found = r;
            });
            return found;
        };

        CheckpointData d;
        d.rows = { row(k, 10, false, 1, 0) };
        d.lateDrops = { { k, 3 } };
        QCOMPARE(store->writeCheckpoint(d), StoreStatus::Ok);
        QCOMPARE(store->writeCheckpoint(d), StoreStatus::Ok); // the same absolute row again; 3 more drops
        StoredRow r = readRow(k);
        QCOMPARE(r.count, std::uint64_t(10)); // absolute: not 20
        QCOMPARE(r.lateUpdated, std::uint64_t(1));
        QCOMPARE(r.lateDropped, std::uint64_t(6)); // deltas add up
        QCOMPARE(r.final, false);

        d.rows = { row(k, 12, true, 2, 1) };
        d.lateDrops = {};
        QCOMPARE(store->writeCheckpoint(d), StoreStatus::Ok);
        r = readRow(k);
        QCOMPARE(r.count, std::uint64_t(12));
        QCOMPARE(r.lateUpdated, std::uint64_t(2));
        QCOMPARE(r.revision, std::uint32_t(1));
        QCOMPARE(r.final, true);
        QCOMPARE(r.lateDropped, std::uint64_t(6)); // a row upsert never resets late drops

        d.rows = {};
        d.lateDrops = { { other, 4 }, { other, 1 } }; // for a cell with no row yet
        QCOMPARE(store->writeCheckpoint(d), StoreStatus::Ok);
        r = readRow(other);
        QCOMPARE(r.count, std::uint64_t(0));
        QCOMPARE(r.lateDropped, std::uint64_t(5));
        QCOMPARE(r.final, true);
        QCOMPARE(store->rowCount(RowKind::Speed, RowLevel::Minute), std::uint64_t(2));
        QCOMPARE(store->total(RowKind::Speed, kMinTimeMs, INT64_MAX / 4), std::uint64_t(12));
    }

    void offsetsReplacedPerSource()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("a.db");
        auto store = openStore(path);
        QVERIFY(store);
        CheckpointData d;
        d.sourceKey = "A";
        d.offsets = { { 0, 10 }, { 1, 20 }, { 2, 30 } };
        QCOMPARE(store->writeCheckpoint(d), StoreStatus::Ok);
        d.sourceKey = "B";
        d.offsets = { { 0, 5 } };
        QCOMPARE(store->writeCheckpoint(d), StoreStatus::Ok);
        d.sourceKey = "A";
        d.offsets = { { 1, 21 } }; // partitions 0 and 2 no longer ours
        QCOMPARE(store->writeCheckpoint(d), StoreStatus::Ok);
        CheckpointData out;
        QVERIFY(store->loadCheckpoint(out));
        QCOMPARE(out.sourceKey, std::string("A"));
        QCOMPARE(out.offsets.size(), std::size_t(1));
        QCOMPARE(out.offsets[0].partition, 1u);
        QCOMPARE(out.offsets[0].offset, std::int64_t(21));
        SqliteDb db = rawOpen(path);
        QCOMPARE(rawInt(db, "SELECT count(*) FROM source_offset WHERE source_key = 'B'"), std::int64_t(1));
    }

    void adsReSentOrConflicting()
    {
        QTemporaryDir dir;
        auto store = openStore(dir.filePath("a.db"));
        QVERIFY(store);
        CheckpointData d;
        d.newAds = { { kFirstNamedAdId + 1, "beta" }, { kFirstNamedAdId, "alpha" } };
        QCOMPARE(store->writeCheckpoint(d), StoreStatus::Ok);
        d.newAds = { { kFirstNamedAdId, "alpha" } }; // re-sent after a failed commit: harmless
        QCOMPARE(store->writeCheckpoint(d), StoreStatus::Ok);
        d.newAds = { { kFirstNamedAdId, "gamma" } }; // the same id under another name: refused whole
        d.rows = { row(key(1, kT0), 99) };
        QCOMPARE(store->writeCheckpoint(d), StoreStatus::IoError);
        QVERIFY2(store->error().find("another name") != std::string::npos, store->error().c_str());
        d.newAds = { { kFirstNamedAdId + 5, "beta" } }; // a name under a second id: refused (UNIQUE)
        QCOMPARE(store->writeCheckpoint(d), StoreStatus::IoError);
        std::vector<std::pair<AdId, std::string>> ads;
        store->forEachAd([&](AdId id, const std::string& name) { ads.emplace_back(id, name); });
        QCOMPARE(ads.size(), std::size_t(2));
        QCOMPARE(ads[0].second, std::string("alpha")); // id order
        QCOMPARE(ads[1].second, std::string("beta"));
        CheckpointData out;
        QVERIFY(store->loadCheckpoint(out));
        QCOMPARE(out.sequence, std::uint64_t(2));
        QCOMPARE(store->rowCount(RowKind::Speed, RowLevel::Minute), std::uint64_t(0));
    }

    void rangeReadsMatchOracle_data()
    {
        QTest::addColumn<qint64>("from");
        QTest::addColumn<qint64>("to");
        QTest::addColumn<quint32>("ad");
        QTest::newRow("everything") << qint64(kMinTimeMs) << qint64(INT64_MAX / 4) << 0u;
        QTest::newRow("one minute") << qint64(kT0 + 5 * kMsPerMinute) << qint64(kT0 + 6 * kMsPerMinute) << 0u;
        QTest::newRow("an hour, one ad") << qint64(kT0) << qint64(kT0 + kMsPerHour) << 3u;
        QTest::newRow("unaligned bounds") << qint64(kT0 + 90'000) << qint64(kT0 + 30 * kMsPerMinute + 1) << 0u;
        QTest::newRow("empty") << qint64(kT0 + 10 * kMsPerMinute) << qint64(kT0 + 10 * kMsPerMinute) << 0u;
        QTest::newRow("named ad") << qint64(kMinTimeMs) << qint64(INT64_MAX / 4) << quint32(kFirstNamedAdId + 2);
    }
    void rangeReadsMatchOracle()
    {
        QFETCH(qint64, from);
        QFETCH(qint64, to);
        QFETCH(quint32, ad);
        QTemporaryDir dir;
        auto store = openStore(dir.filePath("a.db"));
        QVERIFY(store);
        std::map<WindowKey, std::uint64_t> oracle;
        QRandomGenerator rng(99);
        for (int cp = 0; cp < 5; ++cp) {
            CheckpointData d;
            for (int i = 0; i < 2000; ++i) {
                const AdId a = rng.bounded(4) == 0 ? kFirstNamedAdId + rng.bounded(4) : 1 + rng.bounded(20);
                const WindowKey k = key(a, kT0 + static_cast<TimeMs>(rng.bounded(120)) * kMsPerMinute,
                    rng.bounded(2) ? kUS : kDE, static_cast<DeviceClass>(rng.bounded(kDeviceClassCount)));
                const std::uint64_t c = 1 + rng.bounded(1000);
                oracle[k] = c; // absolute: the last write wins, also for a key repeated in one checkpoint
                d.rows.push_back(row(k, c));
            }
            QCOMPARE(store->writeCheckpoint(d), StoreStatus::Ok);
        }
        std::vector<std::pair<WindowKey, std::uint64_t>> expected;
        std::uint64_t expectedTotal = 0;
        for (const auto& [k, c] : oracle)
            if (k.windowStartMs >= from && k.windowStartMs < to) {
                expected.emplace_back(k, c);
                if (ad == 0 || k.adId == ad)
                    expectedTotal += c;
            }
        std::vector<std::pair<WindowKey, std::uint64_t>> got;
        store->forEachSpeedMinute(from, to, [&](const StoredRow& r) { got.emplace_back(r.key, r.count); });
        QVERIFY(store->error().empty());
        QCOMPARE(got.size(), expected.size());
        QVERIFY(got == expected); // same rows, in key order
        QCOMPARE(store->total(RowKind::Speed, from, to, ad), expectedTotal);
        QCOMPARE(store->total(RowKind::Batch, from, to, ad), std::uint64_t(0));
        QCOMPARE(store->rowCount(RowKind::Speed, RowLevel::Minute), std::uint64_t(oracle.size()));
    }

    void callbacksMayReadTheStore()
    {
        QTemporaryDir dir;
        auto store = openStore(dir.filePath("a.db"));
        QVERIFY(store);
        QCOMPARE(store->writeCheckpoint(numberedCheckpoint(3, 20)), StoreStatus::Ok);
        std::uint64_t outer = 0, inner = 0;
        store->forEachSpeedMinute(kMinTimeMs, INT64_MAX / 4, [&](const StoredRow&) {
            ++outer;
            store->forEachSpeedMinute(kMinTimeMs, INT64_MAX / 4, [&](const StoredRow&) { ++inner; });
        });
        QCOMPARE(outer, std::uint64_t(22)); // A, B_3 and 20 filler rows
        QCOMPARE(inner, std::uint64_t(22 * 22));
        QCOMPARE(store->writeCheckpoint(numberedCheckpoint(4, 20)), StoreStatus::Ok); // nothing left open
    }

    void fileBytesCountsTheWal()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("a.db");
        auto store = openStore(path);
        QVERIFY(store);
        QCOMPARE(QString::fromStdString(store->path()), path);
        QCOMPARE(store->writeCheckpoint(numberedCheckpoint(1, 1000)), StoreStatus::Ok);
        QVERIFY(sizeOf(path + "-wal") > 0);
        QCOMPARE(store->fileBytes(), std::uint64_t(sizeOf(path) + sizeOf(path + "-wal")));
    }

    void defaultDataDirectoryFollowsXdg()
    {
        const QByteArray oldXdg = qgetenv("XDG_DATA_HOME");
        const bool hadXdg = qEnvironmentVariableIsSet("XDG_DATA_HOME");
        const QByteArray oldHome = qgetenv("HOME");
        qputenv("HOME", "/home/tester");
        qputenv("XDG_DATA_HOME", "/data/xdg");
        QCOMPARE(QString::fromStdString(defaultDataDirectory()), QStringLiteral("/data/xdg/adclick"));
        qputenv("XDG_DATA_HOME", "");
        QCOMPARE(QString::fromStdString(defaultDataDirectory()), QStringLiteral("/home/tester/.local/share/adclick"));
        qunsetenv("XDG_DATA_HOME");
        QCOMPARE(QString::fromStdString(defaultDataDirectory()), QStringLiteral("/home/tester/.local/share/adclick"));
        qputenv("HOME", oldHome);
        if (hadXdg)
            qputenv("XDG_DATA_HOME", oldXdg);
    }
};

QTEST_APPLESS_MAIN(TestSqliteStore)
#include "tst_sqlite_store.moc"
