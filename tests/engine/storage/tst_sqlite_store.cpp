// The SQLite store (DESIGN.md "Exactly once", "Storage"): schema versions and migrations,
// checkpoint round trips, UPSERT semantics of absolute rows and late-drop deltas, failed writes
// that leave the last good checkpoint intact (injected and a real SQLITE_FULL), copies of the
// files taken mid-transaction or with a torn WAL that open as one whole checkpoint, WAL readers
// beside the writer, and range reads against a brute-force oracle.

#include "storage/sqlite_handle.h"
#include "storage/sqlite_schema.h"
#include "storage/sqlite_store.h"

#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <map>
#include <set>

using namespace adclick::engine;
namespace fs = std::filesystem;

namespace {

constexpr TimeMs kT0 = 1'700'000'040'000; // a minute boundary
const CountryCode kUS = packCountry('U', 'S');
const CountryCode kDE = packCountry('D', 'E');

WindowKey key(AdId ad, TimeMs start, CountryCode c = kUS, DeviceClass d = DeviceClass::Mobile)
{
    return WindowKey { ad, start, c, d };
}

MinuteRow row(const WindowKey& k, std::uint64_t count, bool final = false, std::uint64_t lateUpdated = 0,
    std::uint32_t revision = 0)
{
    MinuteRow r;
    r.key = k;
    r.count = count;
    r.final = final;
    r.lateUpdated = lateUpdated;
    r.revision = revision;
    return r;
}

std::unique_ptr<SqliteStore> openStore(const QString& path, SqliteStore::Options options = {})
{
    std::string error;
    auto store = SqliteStore::open(path.toStdString(), options, error);
    if (!store)
        qWarning("open %s: %s", qPrintable(path), error.c_str());
    return store;
}

/// A raw connection for looking behind the store's back.
SqliteDb rawOpen(const QString& path)
{
    SqliteDb db;
    const SqliteStatus s = SqliteDb::open(path.toStdString(), 0x02 /* SQLITE_OPEN_READWRITE */, db);
    if (!s.ok())
        qWarning("raw open: %s", s.message.c_str());
    return db;
}

std::int64_t rawInt(SqliteDb& db, const char* sql)
{
    std::int64_t v = -1;
    const SqliteStatus s = db.queryInt64(sql, v);
    if (!s.ok())
        qWarning("%s: %s", sql, s.message.c_str());
    return v;
}

/// Checkpoint i of the "consistency" scenarios: row A (ad 1) holds count i, row B_i (ad 2, minute
/// i, new each time) holds count i, and `filler` rows all hold count i. So a database showing
/// checkpoint s must show A = s, B_1..B_s (B_j = j) and every filler row = s — anything else is a
/// mixture.
CheckpointData numberedCheckpoint(std::uint64_t i, int filler)
{
    CheckpointData d;
    d.processingTimeMs = kT0 + static_cast<TimeMs>(i) * 1000;
    d.watermarkMs = kT0 + static_cast<TimeMs>(i) * 1000 - 5000;
    d.wallTimeMs = 1'800'000'000'000 + static_cast<std::int64_t>(i);
    d.rawEnd = { i, i * 100, i * 10 };
    d.sourceKey = "numbered";
    d.offsets = { { 0, static_cast<std::int64_t>(i) } };
    d.state.assign(16, static_cast<std::uint8_t>(i));
    d.rows.push_back(row(key(1, kT0), i));
    d.rows.push_back(row(key(2, kT0 + static_cast<TimeMs>(i) * kMsPerMinute), i, true));
    for (int f = 0; f < filler; ++f)
        d.rows.push_back(row(key(static_cast<AdId>(1000 + f), kT0 + (f % 7) * kMsPerMinute, kDE,
                                 static_cast<DeviceClass>(f % kDeviceClassCount)),
            i, true));
    return d;
}

/// Opens a database (copy) and checks that it shows exactly one whole numbered checkpoint.
/// Returns its sequence (0: none).
std::uint64_t checkWholeCheckpoint(const QString& path, int filler)
{
    auto store = openStore(path);
    if (!store) {
        QTest::qFail("copy does not open", __FILE__, __LINE__);
        return ~0ull;
    }
    CheckpointData ck;
    const bool have = store->loadCheckpoint(ck);
    if (!store->error().empty())
        qWarning("load: %s", store->error().c_str());
    const std::uint64_t s = have ? ck.sequence : 0;
    std::uint64_t rows = 0, bad = 0, sum = 0;
    store->forEachSpeedMinute(kMinTimeMs, INT64_MAX / 4, [&](const StoredRow& r) {
        ++rows;
        sum += r.count;
        const std::uint64_t expected
            = r.key.adId == 2 ? static_cast<std::uint64_t>((r.key.windowStartMs - kT0) / kMsPerMinute) : s;
        if (r.count != expected || expected > s)
            ++bad;
    });
    const std::uint64_t expectRows = s == 0 ? 0 : 1 + s + static_cast<std::uint64_t>(filler);
    if (bad != 0 || rows != expectRows
        || (have
            && (ck.rawEnd.segmentId != s || ck.state != std::vector<std::uint8_t>(16, static_cast<std::uint8_t>(s))
                || ck.offsets.size() != 1 || ck.offsets[0].offset != static_cast<std::int64_t>(s)))) {
        qWarning("mixture: sequence %llu, %llu rows (expected %llu), %llu with another count", (unsigned long long)s,
            (unsigned long long)rows, (unsigned long long)expectRows, (unsigned long long)bad);
        return ~0ull;
    }
    return s;
}

void copyFile(const QString& from, const QString& to, std::int64_t truncateTo = -1)
{
    fs::copy_file(from.toStdString(), to.toStdString(), fs::copy_options::overwrite_existing);
    if (truncateTo >= 0)
        fs::resize_file(to.toStdString(), static_cast<std::uintmax_t>(truncateTo));
}

std::int64_t sizeOf(const QString& path)
{
    return QFileInfo(path).exists() ? QFileInfo(path).size() : 0;
}

} // namespace

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

QTEST_APPLESS_MAIN(TestSqliteStore)
#include "tst_sqlite_store.moc"
