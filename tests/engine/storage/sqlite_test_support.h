#pragma once

// Shared by the SQLite store tests: rows, checkpoints, file copies and whole-checkpoint checks.

#include "storage/sqlite_handle.h"
#include "storage/sqlite_schema.h"
#include "storage/sqlite_store.h"

#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <map>
#include <set>

namespace adclick::test {

using namespace adclick::engine;
namespace fs = std::filesystem;

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

} // namespace adclick::test
