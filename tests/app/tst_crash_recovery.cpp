// Exactly once across crashes, checked on the real executable: `adclick run` with the generator
// (late, duplicate and malformed events on) in virtual time is killed with SIGKILL at random
// moments (some inside a checkpoint commit), sometimes stopped with SIGTERM, has the torn tail of
// its raw log cut further, is restarted each time, and finally runs to the end of its input.
// Every speed minute row and every raw log record is then compared with a brute-force oracle over
// the generator's own sequence: nothing lost, nothing counted twice. A copy of the data directory
// as one kill left it (database, WAL, raw log), with its WAL then torn at a random length past what
// a power loss could not take away, must also recover and finish with exactly the same numbers.

#include "core/clock.h"
#include "engine/support/oracle.h"
#include "ingest/synthetic_source.h"
#include "storage/raw_log.h"
#include "storage/sqlite_store.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QtTest>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <map>

using namespace adclick::engine;
using namespace adclick::test;

namespace {
QString adclickBinary()
{
    return qEnvironmentVariable("ADCLICK_BINARY_DIR") + QStringLiteral("/app/adclick");
}

// One scenario for the process and the oracle alike.
constexpr std::uint64_t kSeed = 7;
constexpr int kRate = 25000;
constexpr int kSeconds = 100; // of generated processing time: 2.5 M records
constexpr TimeMs kBoundMs = 30 * kMsPerSecond;

QStringList runArgs(const QString& dataDir)
{
    return { "run", "--source", "generator", "--clock", "virtual", "--seed", QString::number(kSeed), "--rate",
        QString::number(kRate), "--ads", "3000", "--duration", QString::number(kSeconds) + "s", "--late-fraction",
        "0.05", "--late-delay", "45s", "--duplicates", "0.02", "--malformed", "0.005", "--idle-timeout", "0s",
        // The oracle remembers every click id: a horizon longer than the data gives the same rule.
        "--dedup-horizon", "1d", "--watermark-bound", "30s", "--checkpoint-interval", "1s", "--data-dir", dataDir,
        "--json" };
}

GeneratorConfig generatorConfig()
{
    GeneratorConfig g;
    g.seed = kSeed;
    g.ratePerSec = kRate;
    g.adCount = 3000;
    g.lateFraction = 0.05;
    g.lateDelayMeanMs = 45 * kMsPerSecond;
    g.duplicateFraction = 0.02;
    g.malformedFraction = 0.005;
    return g;
}

struct Expected {
    std::vector<ClickEvent> events; ///< accepted events in arrival order = raw log sequence order
    OracleResult oracle;
    std::uint64_t rejected = 0;
};

const Expected& expected()
{
    static const Expected e = [] {
        Expected x;
        GeneratorConfig g = generatorConfig();
        VirtualClock clock(g.startTimeMs);
        AdDictionary ads;
        UserAgentDictionary uas;
        SyntheticSource source(g, clock, ads, uas);
        source.setLimit(static_cast<std::uint64_t>(kRate) * kSeconds);
        IngestBatch batch;
        while (true) {
            batch.clear();
            const PollResult r = source.poll(batch, 8192);
            x.events.insert(x.events.end(), batch.events.begin(), batch.events.end());
            x.rejected += batch.rejected.size();
            if (r == PollResult::EndOfStream)
                break;
        }
        PipelineConfig cfg;
        cfg.watermark.boundMs = kBoundMs;
        cfg.watermark.idleTimeoutMs = 0;
        x.oracle = runOracle(x.events, cfg, g.partitions);
        return x;
    }();
    return e;
}

struct Comparison {
    std::uint64_t rowsCompared = 0;
    std::uint64_t rowsWrong = 0; ///< cells whose count, late updates or late drops differ
    std::uint64_t clicksLost = 0; ///< oracle count not in the store
    std::uint64_t clicksDoubled = 0; ///< store count above the oracle
    std::uint64_t rawRecords = 0;
    std::uint64_t rawMissing = 0;
    std::uint64_t rawRepeated = 0;
    std::uint64_t rawWrong = 0; ///< record differs from the generator's event or the oracle's disposition
    std::uint64_t rawDamage = 0;
    std::uint64_t quarantined = 0;
};

Comparison compareWithOracle(const QString& dataDir)
{
    const Expected& e = expected();
    Comparison c;
    std::string error;
    auto store = SqliteStore::open((dataDir + "/adclick.db").toStdString(), { true, 5000 }, error);
    if (!store) {
        qWarning() << "cannot open store:" << error.c_str();
        c.rowsWrong = 1;
        return c;
    }
    std::map<WindowKey, std::pair<std::uint64_t, std::uint64_t>> oracle; // count, late drops
    for (const auto& [key, cell] : e.oracle.cells)
        oracle[key].first = cell.count;
    for (const auto& [key, n] : e.oracle.lateDrops)
        oracle[key].second = n;
    std::map<WindowKey, std::pair<std::uint64_t, std::uint64_t>> stored;
    store->forEachSpeedMinute(kMinTimeMs, INT64_MAX / 4, [&](const StoredRow& row) {
        stored[row.key] = { row.count, row.lateDropped };
        if (!row.final)
            ++c.rowsWrong; // the input ended: every window must be final
    });
    for (const auto& [key, want] : oracle) {
        ++c.rowsCompared;
        const auto it = stored.find(key);
        const auto got = it == stored.end() ? std::pair<std::uint64_t, std::uint64_t> {} : it->second;
        if (got != want)
            ++c.rowsWrong;
        if (got.first < want.first)
            c.clicksLost += want.first - got.first;
        else
            c.clicksDoubled += got.first - want.first;
    }
    for (const auto& [key, got] : stored)
        if (!oracle.count(key)) {
            ++c.rowsWrong;
            c.clicksDoubled += got.first;
        }
    for (std::uint64_t n : store->quarantined())
        c.quarantined += n;

    RawLogReader reader((dataDir + "/raw").toStdString());
    std::vector<std::uint8_t> seen(e.events.size(), 0);
    reader.scanFromSequence(0, [&](const RawRecord& r) {
        ++c.rawRecords;
        if (r.sequence >= e.events.size()) {
            ++c.rawWrong;
            return true;
        }
        if (seen[r.sequence]++)
            ++c.rawRepeated;
        ClickEvent want = e.events[r.sequence];
        want.setDisposition(e.oracle.dispositions[r.sequence]);
        if (std::memcmp(&want, &r.event, sizeof(ClickEvent)) != 0)
            ++c.rawWrong;
        return true;
    });
    for (std::uint8_t s : seen)
        c.rawMissing += s == 0;
    c.rawDamage = reader.damage().size();
    return c;
}

void verifyExact(const Comparison& c, const char* what)
{
    const Expected& e = expected();
    qInfo("%s: %llu cells compared, %llu wrong, %llu clicks lost, %llu doubled; raw log %llu records "
          "(%zu expected), %llu missing, %llu repeated, %llu differing, %llu damaged blocks; %llu quarantined (%llu "
          "expected)",
        what, static_cast<unsigned long long>(c.rowsCompared), static_cast<unsigned long long>(c.rowsWrong),
        static_cast<unsigned long long>(c.clicksLost), static_cast<unsigned long long>(c.clicksDoubled),
        static_cast<unsigned long long>(c.rawRecords), e.events.size(), static_cast<unsigned long long>(c.rawMissing),
        static_cast<unsigned long long>(c.rawRepeated), static_cast<unsigned long long>(c.rawWrong),
        static_cast<unsigned long long>(c.rawDamage), static_cast<unsigned long long>(c.quarantined),
        static_cast<unsigned long long>(e.rejected));
    QVERIFY(c.rowsCompared > 10000);
    QCOMPARE(c.clicksLost, 0ull);
    QCOMPARE(c.clicksDoubled, 0ull);
    QCOMPARE(c.rowsWrong, 0ull);
    QCOMPARE(c.rawRecords, static_cast<unsigned long long>(e.events.size()));
    QCOMPARE(c.rawMissing, 0ull);
    QCOMPARE(c.rawRepeated, 0ull);
    QCOMPARE(c.rawWrong, 0ull);
    QCOMPARE(c.quarantined, static_cast<unsigned long long>(e.rejected));
}

/// Runs adclick to the end of its input; returns its exit code.
int runToEnd(const QString& dataDir, QString* output = nullptr)
{
    QProcess p;
    p.start(adclickBinary(), runArgs(dataDir));
    if (!p.waitForFinished(300000)) {
        p.kill();
        p.waitForFinished();
        return -1;
    }
    if (output)
        *output = QString::fromUtf8(p.readAllStandardOutput()) + QString::fromUtf8(p.readAllStandardError());
    return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
}

/// Cuts the newest raw segment at a random point past the last checkpoint's durable end, as a
/// crash in the middle of writing a block leaves it. Returns the bytes cut.
qint64 tearRawTail(const QString& dataDir, QRandomGenerator& rng)
{
    std::string error;
    CheckpointData ck;
    {
        auto store = SqliteStore::open((dataDir + "/adclick.db").toStdString(), { true, 5000 }, error);
        if (!store || !store->loadCheckpoint(ck))
            return 0;
    }
    const auto segments = RawLogReader((dataDir + "/raw").toStdString()).segments();
    if (segments.empty())
        return 0;
    const RawSegmentInfo& last = segments.back();
    const qint64 size = QFileInfo(QString::fromStdString(last.path)).size();
    const qint64 keepFrom = last.segmentId == ck.rawEnd.segmentId ? static_cast<qint64>(ck.rawEnd.byteOffset) : 64;
    if (size <= keepFrom + 1)
        return 0;
    const qint64 newSize = keepFrom + 1 + static_cast<qint64>(rng.bounded(static_cast<quint64>(size - keepFrom - 1)));
    std::filesystem::resize_file(last.path, static_cast<std::uintmax_t>(newSize));
    return size - newSize;
}

qint64 walBytes(const QString& dir)
{
    return QFileInfo(dir + QStringLiteral("/adclick.db-wal")).size(); // 0 when absent
}

/// The WAL bytes a power loss cannot take away: SQLite syncs the WAL before it copies frames into
/// the database file, so the frames a checkpoint has copied, or started to copy, are durable (cutting
/// below them would pair database pages with an older WAL: a state no crash can produce). Reads the
/// page size from the WAL header and nBackfill / nBackfillAttempted from the WAL index (-shm).
qint64 durableWalBytes(const QString& dir)
{
    QFile wal(dir + QStringLiteral("/adclick.db-wal"));
    QFile shm(dir + QStringLiteral("/adclick.db-shm"));
    if (!wal.open(QIODevice::ReadOnly) || !shm.open(QIODevice::ReadOnly))
        return 0;
    const QByteArray header = wal.read(32);
    const QByteArray index = shm.read(136);
    if (header.size() < 32 || index.size() < 136)
        return 0;
    const auto be32 = [&](int at) {
        const auto* b = reinterpret_cast<const unsigned char*>(header.constData() + at);
        return (quint32(b[0]) << 24) | (quint32(b[1]) << 16) | (quint32(b[2]) << 8) | quint32(b[3]);
    };
    const auto native32 = [&](int at) {
        quint32 v = 0;
        std::memcpy(&v, index.constData() + at, sizeof v);
        return v;
    };
    const quint32 pageSize = be32(8) == 1 ? 65536 : be32(8);
    const quint32 backfilled = std::max(native32(96), native32(128)); // nBackfill, nBackfillAttempted
    return backfilled == 0 ? 0 : 32 + qint64(backfilled) * (24 + qint64(pageSize));
}

bool copyTree(const QString& from, const QString& to)
{
    std::error_code ec;
    std::filesystem::create_directories(to.toStdString(), ec);
    for (const char* name : { "adclick.db", "adclick.db-wal", "adclick.db-shm", "quarantine.ndjson" }) {
        const auto src = std::filesystem::path(from.toStdString()) / name;
        if (std::filesystem::exists(src, ec))
            std::filesystem::copy_file(src, std::filesystem::path(to.toStdString()) / name,
                std::filesystem::copy_options::overwrite_existing, ec);
    }
    std::filesystem::copy(std::filesystem::path(from.toStdString()) / "raw",
        std::filesystem::path(to.toStdString()) / "raw",
        std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing, ec);
    return !ec;
}
} // namespace

class TestCrashRecovery : public QObject {
    Q_OBJECT

private slots:
    void initTestCase()
    {
        QVERIFY(QFile::exists(adclickBinary()));
        const Expected& e = expected();
        QVERIFY(e.oracle.lateDropped > 1000); // the scenario exercises lateness,
        QVERIFY(e.oracle.duplicates > 1000); // resends
        QVERIFY(e.rejected > 1000); // and malformed input
    }

    void killNineAtRandomMomentsLosesAndDoublesNothing()
    {
        QTemporaryDir dir;
        QTemporaryDir tornCopy;
        const QString data = dir.filePath(QStringLiteral("data"));
        const QString trace = dir.filePath(QStringLiteral("checkpoints.trace"));
        QRandomGenerator rng(20261128);
        int kills = 0, killsInCommit = 0, terms = 0, tornTails = 0, restarts = 0;
        bool copied = false;
        bool finished = false;
        // ≥ 20 SIGKILLs at random moments, a SIGTERM every fifth interruption; then run to the end.
        for (int round = 0; !finished && kills < 24; ++round) {
            QProcess p;
            QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
            env.insert(QStringLiteral("ADCLICK_TRACE_CHECKPOINTS"), trace);
            p.setProcessEnvironment(env);
            p.start(adclickBinary(), runArgs(data));
            QVERIFY(p.waitForStarted());
            ++restarts;
            const int delayMs = 150 + static_cast<int>(rng.bounded(900u));
            if (p.waitForFinished(delayMs)) {
                finished = p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
                QVERIFY2(finished, qPrintable(QString::fromUtf8(p.readAllStandardError())));
                break;
            }
            if (round % 5 == 4) {
                ::kill(static_cast<pid_t>(p.processId()), SIGTERM);
                QVERIFY(p.waitForFinished(60000));
                QCOMPARE(p.exitStatus(), QProcess::NormalExit);
                QVERIFY2(p.exitCode() == 0, qPrintable(QString::fromUtf8(p.readAllStandardError())));
                QVERIFY(QString::fromUtf8(p.readAllStandardOutput()).contains(QStringLiteral("\"type\":\"store\"")));
                ++terms;
                continue;
            }
            ::kill(static_cast<pid_t>(p.processId()), SIGKILL);
            QVERIFY(p.waitForFinished(10000));
            ++kills;
            if (!copied && kills >= 10 && walBytes(data) > durableWalBytes(data)) {
                // The files exactly as the kill left them (a commit may have been half written),
                // at a moment when the WAL holds frames a power loss could still take away.
                QVERIFY(copyTree(data, tornCopy.filePath(QStringLiteral("data"))));
                copied = true;
            }
            QFile t(trace);
            if (t.open(QIODevice::ReadOnly)) {
                const QList<QByteArray> lines = t.readAll().split('\n');
                for (auto it = lines.rbegin(); it != lines.rend(); ++it)
                    if (!it->isEmpty()) {
                        killsInCommit += it->startsWith("begin") ? 1 : 0;
                        break;
                    }
                t.close();
                t.remove();
            }
            if (kills % 4 == 0)
                tornTails += tearRawTail(data, rng) > 0 ? 1 : 0;
        }
        QString out;
        if (!finished) {
            const int rc = runToEnd(data, &out);
            QVERIFY2(rc == 0, qPrintable(QString("exit %1:\n%2").arg(rc).arg(out.right(3000))));
        }
        qInfo("%d SIGKILLs (%d inside a checkpoint commit), %d SIGTERMs, %d raw log tails torn, %d starts", kills,
            killsInCommit, terms, tornTails, restarts + (finished ? 0 : 1));
        QVERIFY(kills >= 20);
        QVERIFY(killsInCommit >= 1);
        verifyExact(compareWithOracle(data), "after kills");

        // The copy taken mid-write, with its WAL torn: recovers to some earlier checkpoint and
        // finishes with the same exact numbers.
        QVERIFY(copied);
        const QString copy = tornCopy.filePath(QStringLiteral("data"));
        QFile wal(copy + QStringLiteral("/adclick.db-wal"));
        const qint64 walSize = walBytes(copy);
        const qint64 durable = durableWalBytes(copy);
        QVERIFY(walSize > durable);
        const qint64 cut = durable + static_cast<qint64>(rng.bounded(static_cast<quint64>(walSize - durable)));
        QVERIFY(wal.resize(cut));
        qInfo("torn WAL: cut from %lld to %lld bytes (the first %lld already copied into the database)",
            static_cast<long long>(walSize), static_cast<long long>(cut), static_cast<long long>(durable));
        const int rc = runToEnd(copy, &out);
        QVERIFY2(rc == 0, qPrintable(QString("exit %1 on the torn copy:\n%2").arg(rc).arg(out.right(3000))));
        verifyExact(compareWithOracle(copy), "torn copy");
    }
};

QTEST_GUILESS_MAIN(TestCrashRecovery)
#include "tst_crash_recovery.moc"
