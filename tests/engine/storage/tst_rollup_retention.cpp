// Rollups and retention of the SQLite store (DESIGN.md "Retention and rollups"): minute rows
// older than 7 days become hour rows, hour rows older than 30 days become day rows, nothing older
// than 90 days stays; totals over whole days inside retention never change, a rollup is
// idempotent, and over a simulated 100 days the database stops growing once retention kicks in.

#include "storage/sqlite_handle.h"
#include "storage/sqlite_store.h"

#include <QTemporaryDir>
#include <QtTest>

#include <map>

using namespace adclick::engine;

namespace {

constexpr TimeMs kDay0 = 19676 * kMsPerDay; // 2023-11-15T00:00Z, day-aligned
const CountryCode kCountries[]
    = { packCountry('U', 'S'), packCountry('D', 'E'), packCountry('J', 'P'), packCountry('B', 'R') };

MinuteRow row(AdId ad, TimeMs start, CountryCode c, DeviceClass d, std::uint64_t count, std::uint64_t lateUpdated = 0)
{
    MinuteRow r;
    r.key = WindowKey { ad, start, c, d };
    r.count = count;
    r.lateUpdated = lateUpdated;
    r.final = true;
    return r;
}

std::unique_ptr<SqliteStore> openStore(const QString& path)
{
    std::string error;
    auto store = SqliteStore::open(path.toStdString(), {}, error);
    if (!store)
        qWarning("open: %s", error.c_str());
    return store;
}

/// Writes batch_minute rows the way the batch layer will (that writer is not the store's yet).
bool insertBatchRows(const QString& path, const std::vector<MinuteRow>& rows)
{
    SqliteDb db;
    if (!SqliteDb::open(path.toStdString(), 0x02, db).ok())
        return false;
    SqliteTransaction tx(db, SqliteTransaction::Mode::Immediate);
    SqliteStatement q;
    if (!tx.status().ok()
        || !db.prepare("INSERT INTO batch_minute(ad_id, window_start, country, device, count, late_updated) "
                       "VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO UPDATE SET count = excluded.count",
                  q)
                .ok())
        return false;
    for (const MinuteRow& r : rows) {
        q.bindInt64(1, r.key.adId)
            .bindInt64(2, r.key.windowStartMs)
            .bindInt64(3, r.key.country)
            .bindInt64(4, static_cast<int>(r.key.device))
            .bindInt64(5, static_cast<std::int64_t>(r.count))
            .bindInt64(6, static_cast<std::int64_t>(r.lateUpdated));
        if (!q.run().ok())
            return false;
        q.reset();
    }
    return tx.commit().ok();
}

std::uint64_t rowsIn(SqliteStore& s, RowKind kind, RowLevel level, TimeMs from, TimeMs to)
{
    std::uint64_t n = 0;
    s.forEachRow(kind, level, from, to, [&](const StoredRow&) { ++n; });
    return n;
}

std::uint64_t allRows(SqliteStore& s)
{
    std::uint64_t n = 0;
    for (RowKind k : { RowKind::Speed, RowKind::Batch })
        for (RowLevel l : { RowLevel::Minute, RowLevel::Hour, RowLevel::Day })
            n += s.rowCount(k, l);
    return n;
}

constexpr TimeMs kFar = INT64_MAX / 4;

} // namespace

class TestRollupRetention : public QObject {
    Q_OBJECT

private slots:
    void rollupKeepsTotalsAndReports_data()
    {
        QTest::addColumn<qint64>("nowMs");
        QTest::addColumn<quint64>("minuteRolled");
        QTest::addColumn<quint64>("hourRolled");
        QTest::addColumn<quint64>("deleted");
        // Rows (one ad, one cell) at day 0 00:00, 00:59, 01:00, and day 1 12:30.
        // now = day 8 00:30 → minute cutoff = day 1 00:00: day-0 rows roll into 2 hour rows.
        QTest::newRow("minutes into hours")
            << qint64(kDay0 + 8 * kMsPerDay + 30 * kMsPerMinute) << quint64(3) << quint64(0) << quint64(0);
        // now = day 8 12:40 → minute cutoff day 1 12:00 (hour-aligned): 12:30 stays a minute row
        // although it is more than 7 days old.
        QTest::newRow("hour-aligned cutoff") << qint64(kDay0 + 8 * kMsPerDay + 12 * kMsPerHour + 40 * kMsPerMinute)
                                             << quint64(3) << quint64(0) << quint64(0);
        // now = day 31 06:00 → hour cutoff day 1: day-0 hours roll into a day row; day 1's minute
        // row becomes an hour row first.
        QTest::newRow("hours into days") << qint64(kDay0 + 31 * kMsPerDay + 6 * kMsPerHour) << quint64(4) << quint64(2)
                                         << quint64(0);
        // now = day 91 00:01 → delete cutoff day 1: day 0 goes, day 1 rolls all the way to a day.
        QTest::newRow("past retention") << qint64(kDay0 + 91 * kMsPerDay + kMsPerMinute) << quint64(1) << quint64(1)
                                        << quint64(3);
    }
    void rollupKeepsTotalsAndReports()
    {
        QFETCH(qint64, nowMs);
        QFETCH(quint64, minuteRolled);
        QFETCH(quint64, hourRolled);
        QFETCH(quint64, deleted);
        QTemporaryDir dir;
        auto store = openStore(dir.filePath("a.db"));
        QVERIFY(store);
        const CountryCode us = kCountries[0];
        CheckpointData d;
        d.rows = { row(9, kDay0, us, DeviceClass::Mobile, 5, 1),
            row(9, kDay0 + 59 * kMsPerMinute, us, DeviceClass::Mobile, 7),
            row(9, kDay0 + kMsPerHour, us, DeviceClass::Mobile, 11, 2),
            row(9, kDay0 + kMsPerDay + 12 * kMsPerHour + 30 * kMsPerMinute, us, DeviceClass::Mobile, 13) };
        d.lateDrops = { { d.rows[1].key, 4 } };
        QCOMPARE(store->writeCheckpoint(d), StoreStatus::Ok);
        const std::uint64_t before0 = store->total(RowKind::Speed, kDay0, kDay0 + kMsPerDay);
        const std::uint64_t before1 = store->total(RowKind::Speed, kDay0 + kMsPerDay, kDay0 + 2 * kMsPerDay);
        QCOMPARE(before0, std::uint64_t(23));
        QCOMPARE(before1, std::uint64_t(13));

        RollupReport report;
        QCOMPARE(store->rollup(nowMs, RetentionConfig {}, &report), StoreStatus::Ok);
        QCOMPARE(report.minuteRowsRolled, minuteRolled);
        QCOMPARE(report.hourRowsRolled, hourRolled);
        QCOMPARE(report.rowsDeleted, deleted);
        QCOMPARE(report.minuteCutoffMs % kMsPerHour, TimeMs(0));
        QCOMPARE(report.hourCutoffMs % kMsPerDay, TimeMs(0));
        QCOMPARE(report.deleteCutoffMs % kMsPerDay, TimeMs(0));
        QVERIFY(report.minuteCutoffMs <= nowMs - 7 * kMsPerDay
            && report.minuteCutoffMs > nowMs - 7 * kMsPerDay - kMsPerHour);

        const bool day0Kept = kDay0 >= report.deleteCutoffMs;
        QCOMPARE(store->total(RowKind::Speed, kDay0, kDay0 + kMsPerDay), day0Kept ? before0 : 0);
        QCOMPARE(store->total(RowKind::Speed, kDay0 + kMsPerDay, kDay0 + 2 * kMsPerDay), before1);
        QCOMPARE(store->total(RowKind::Speed, kDay0, kDay0 + 2 * kMsPerDay, 9), (day0Kept ? before0 : 0) + before1);
        QCOMPARE(store->total(RowKind::Speed, kDay0, kDay0 + 2 * kMsPerDay, 10), std::uint64_t(0));

        // The late columns are summed along with the count.
        std::uint64_t lateUpdated = 0, lateDropped = 0;
        for (RowLevel level : { RowLevel::Minute, RowLevel::Hour, RowLevel::Day })
            store->forEachRow(RowKind::Speed, level, kDay0, kDay0 + kMsPerDay, [&](const StoredRow& r) {
                lateUpdated += r.lateUpdated;
                lateDropped += r.lateDropped;
            });
        QCOMPARE(lateUpdated, std::uint64_t(day0Kept ? 3 : 0));
        QCOMPARE(lateDropped, std::uint64_t(day0Kept ? 4 : 0));

        // Nothing finer than allowed before each cutoff.
        QCOMPARE(rowsIn(*store, RowKind::Speed, RowLevel::Minute, kMinTimeMs, report.minuteCutoffMs), std::uint64_t(0));
        QCOMPARE(rowsIn(*store, RowKind::Speed, RowLevel::Hour, kMinTimeMs, report.hourCutoffMs), std::uint64_t(0));
        QCOMPARE(rowsIn(*store, RowKind::Speed, RowLevel::Day, kMinTimeMs, report.deleteCutoffMs), std::uint64_t(0));

        // Idempotent: again at the same instant changes nothing; an earlier instant neither.
        const std::uint64_t rows = allRows(*store);
        for (TimeMs again : { nowMs, nowMs - kMsPerDay }) {
            RollupReport second;
            QCOMPARE(store->rollup(again, RetentionConfig {}, &second), StoreStatus::Ok);
            QCOMPARE(second.minuteRowsRolled + second.hourRowsRolled + second.rowsDeleted, std::uint64_t(0));
            QCOMPARE(allRows(*store), rows);
            QCOMPARE(store->total(RowKind::Speed, kDay0, kDay0 + 2 * kMsPerDay), (day0Kept ? before0 : 0) + before1);
        }
    }

    void laterRollupsAddIntoExistingBuckets()
    {
        // Minute rows of an hour that already has an hour row (written after the first rollup,
        // e.g. by a batch run over old data) are added to it, not written over it.
        QTemporaryDir dir;
        const QString path = dir.filePath("a.db");
        auto store = openStore(path);
        QVERIFY(store);
        const CountryCode us = kCountries[0];
        QVERIFY(insertBatchRows(path, { row(3, kDay0 + 5 * kMsPerMinute, us, DeviceClass::Desktop, 100) }));
        const TimeMs now = kDay0 + 10 * kMsPerDay;
        QCOMPARE(store->rollup(now, RetentionConfig {}), StoreStatus::Ok);
        QCOMPARE(store->rowCount(RowKind::Batch, RowLevel::Hour), std::uint64_t(1));
        QVERIFY(insertBatchRows(path, { row(3, kDay0 + 50 * kMsPerMinute, us, DeviceClass::Desktop, 20) }));
        QCOMPARE(store->total(RowKind::Batch, kDay0, kDay0 + kMsPerDay), std::uint64_t(120));
        RollupReport report;
        QCOMPARE(store->rollup(now, RetentionConfig {}, &report), StoreStatus::Ok);
        QCOMPARE(report.minuteRowsRolled, std::uint64_t(1));
        QCOMPARE(store->rowCount(RowKind::Batch, RowLevel::Minute), std::uint64_t(0));
        QCOMPARE(store->rowCount(RowKind::Batch, RowLevel::Hour), std::uint64_t(1));
        std::uint64_t hourCount = 0;
        store->forEachRow(RowKind::Batch, RowLevel::Hour, kMinTimeMs, kFar, [&](const StoredRow& r) {
            QCOMPARE(r.key.windowStartMs, kDay0);
            QCOMPARE(r.key.device, DeviceClass::Desktop);
            hourCount = r.count;
        });
        QCOMPARE(hourCount, std::uint64_t(120));
        QCOMPARE(store->total(RowKind::Batch, kDay0, kDay0 + kMsPerDay), std::uint64_t(120));
        QCOMPARE(store->total(RowKind::Speed, kDay0, kDay0 + kMsPerDay), std::uint64_t(0)); // kinds apart
    }

    void hundredDays()
    {
        // Sparse but multi-dimensional traffic: every 7th minute, three cells (ads, countries and
        // devices cycling with different periods) in the speed rows and two in the batch rows, a
        // checkpoint and a rollup every simulated 6 hours, for 100 days.
        QTemporaryDir dir;
        const QString path = dir.filePath("a.db");
        auto store = openStore(path);
        QVERIFY(store);
        const RetentionConfig cfg;
        std::map<TimeMs, std::uint64_t> speedPerDay, batchPerDay, speedAd5PerDay;
        std::map<int, std::uint64_t> rowsByDay, bytesByDay;
        std::uint64_t rolled = 0, hoursRolled = 0, deleted = 0;
        constexpr int kSteps = 100 * 4;
        for (int step = 0; step < kSteps; ++step) {
            const TimeMs from = kDay0 + step * 6 * kMsPerHour;
            const TimeMs to = from + 6 * kMsPerHour;
            CheckpointData d;
            std::vector<MinuteRow> batch;
            for (TimeMs t = from; t < to; t += kMsPerMinute) {
                const std::int64_t m = (t - kDay0) / kMsPerMinute;
                if (m % 7 != 0)
                    continue;
                const std::int64_t k = m / 7;
                const TimeMs day = windowStartOf(t, kMsPerDay);
                for (int c = 0; c < 3; ++c) {
                    const AdId ad = c == 2 ? kFirstNamedAdId + static_cast<AdId>(k % 3)
                                           : static_cast<AdId>(1 + (k * (c + 1)) % 20);
                    const std::uint64_t n = 1 + static_cast<std::uint64_t>((k + c) % 9);
                    d.rows.push_back(row(ad, t, kCountries[(k + c) % 4],
                        static_cast<DeviceClass>((k / 3 + c) % kDeviceClassCount), n, n / 4));
                    speedPerDay[day] += n;
                    if (ad == 5)
                        speedAd5PerDay[day] += n;
                }
                for (int c = 0; c < 2; ++c) {
                    const std::uint64_t n = 2 + static_cast<std::uint64_t>(k % 5);
                    batch.push_back(row(static_cast<AdId>(1 + (k + 7 * c) % 20), t, kCountries[(k / 2 + c) % 4],
                        static_cast<DeviceClass>(c), n));
                    batchPerDay[day] += n;
                }
            }
            d.processingTimeMs = to;
            QCOMPARE(store->writeCheckpoint(d), StoreStatus::Ok);
            QVERIFY(insertBatchRows(path, batch));
            RollupReport r;
            QCOMPARE(store->rollup(to, cfg, &r), StoreStatus::Ok);
            rolled += r.minuteRowsRolled;
            hoursRolled += r.hourRowsRolled;
            deleted += r.rowsDeleted;

            // Levels stay in their age bands: minutes only within ~7 days, hours for 7–30 days
            // back, days up to 90 days back, nothing older.
            for (RowKind kind : { RowKind::Speed, RowKind::Batch }) {
                QCOMPARE(rowsIn(*store, kind, RowLevel::Minute, kMinTimeMs, r.minuteCutoffMs), std::uint64_t(0));
                QCOMPARE(rowsIn(*store, kind, RowLevel::Hour, kMinTimeMs, r.hourCutoffMs), std::uint64_t(0));
                QCOMPARE(rowsIn(*store, kind, RowLevel::Hour, r.minuteCutoffMs, kFar), std::uint64_t(0));
                QCOMPARE(rowsIn(*store, kind, RowLevel::Day, kMinTimeMs, r.deleteCutoffMs), std::uint64_t(0));
                QCOMPARE(rowsIn(*store, kind, RowLevel::Day, r.hourCutoffMs, kFar), std::uint64_t(0));
            }
            QVERIFY(r.minuteCutoffMs > to - 7 * kMsPerDay - kMsPerHour);
            QVERIFY(r.hourCutoffMs > to - 31 * kMsPerDay);
            QVERIFY(r.deleteCutoffMs > to - 91 * kMsPerDay);

            if (step % 4 != 3)
                continue; // the per-day checks once a simulated day
            for (const auto& [day, expected] : speedPerDay) {
                const bool kept = day >= r.deleteCutoffMs;
                QCOMPARE(store->total(RowKind::Speed, day, day + kMsPerDay), kept ? expected : 0);
                QCOMPARE(store->total(RowKind::Batch, day, day + kMsPerDay), kept ? batchPerDay[day] : 0);
                QCOMPARE(store->total(RowKind::Speed, day, day + kMsPerDay, 5), kept ? speedAd5PerDay[day] : 0);
            }
            const int dayIndex = (step + 1) / 4;
            rowsByDay[dayIndex] = allRows(*store);
            bytesByDay[dayIndex] = store->fileBytes();
        }
        QVERIFY(rolled > 0 && hoursRolled > 0 && deleted > 0);
        QVERIFY(
            store->rowCount(RowKind::Speed, RowLevel::Day) > 0 && store->rowCount(RowKind::Batch, RowLevel::Day) > 0);

        // Growth stops once retention kicks in (day 91): the rows and the file over the last days
        // stay within what they were then (the pattern repeats, with small day-to-day wobble).
        std::uint64_t rowsAt91 = 0, bytesAt91 = 0, rowsMaxLater = 0, bytesMaxLater = 0;
        for (int day = 91; day <= 93; ++day) {
            rowsAt91 = std::max(rowsAt91, rowsByDay[day]);
            bytesAt91 = std::max(bytesAt91, bytesByDay[day]);
        }
        for (int day = 94; day <= 100; ++day) {
            rowsMaxLater = std::max(rowsMaxLater, rowsByDay[day]);
            bytesMaxLater = std::max(bytesMaxLater, bytesByDay[day]);
        }
        qInfo("rows: day 30 %llu, day 60 %llu, day 91-93 max %llu, day 94-100 max %llu; bytes day 91-93 %llu, "
              "94-100 %llu",
            (unsigned long long)rowsByDay[30], (unsigned long long)rowsByDay[60], (unsigned long long)rowsAt91,
            (unsigned long long)rowsMaxLater, (unsigned long long)bytesAt91, (unsigned long long)bytesMaxLater);
        QVERIFY(rowsByDay[60] > rowsByDay[30]); // still growing while day rows accumulate
        QVERIFY2(rowsMaxLater <= rowsAt91 + rowsAt91 / 100, "rows keep growing past retention");
        QVERIFY2(bytesMaxLater <= bytesAt91 + bytesAt91 / 20, "the file keeps growing past retention");
    }
};

QTEST_APPLESS_MAIN(TestRollupRetention)
#include "tst_rollup_retention.moc"
