// countRawLog, the batch layer's recount, against a brute-force oracle over the same records:
// random logs with resends (same click id, same or another minute), every speed-layer disposition,
// odd values, many segments; any number of threads and time slices; the end bound; the filters
// (ad, country, device, IP/CIDR v4 and v6, user-agent substring); damage; progress; cancellation.

#include "engine/storage/raw_log_test_support.h"

#include "batch/batch_counter.h"
#include "storage/raw_segment_scanner.h"

#include <map>
#include <set>
#include <tuple>

using namespace adclick::engine;
using namespace adclick::test;

namespace {

/// The batch layer's rules written plainly: in log order, a record with a click id counts unless
/// the same click id was already counted for the same ad in the same minute.
std::map<WindowKey, BatchCell> bruteForce(const std::vector<ClickEvent>& log, const std::vector<std::string>& uaText,
    TimeMs from, TimeMs to, const RawRecordFilter& f = {}, std::uint64_t endSequence = UINT64_MAX)
{
    std::map<WindowKey, BatchCell> cells;
    std::set<std::tuple<std::uint64_t, AdId, TimeMs>> seen;
    for (std::size_t i = 0; i < log.size() && i < endSequence; ++i) {
        const ClickEvent& e = log[i];
        if (e.eventTimeMs < from || e.eventTimeMs >= to)
            continue;
        if ((f.adId && e.adId != *f.adId) || (f.country && e.country != *f.country) || (f.device && e.device != *f.device)
            || (f.ip && !f.ip->contains(e.ip)))
            continue;
        if (!f.userAgentContains.empty()) {
            QString ua = QString::fromStdString(uaText[i]);
            if (!ua.contains(QString::fromStdString(f.userAgentContains), Qt::CaseInsensitive))
                continue;
        }
        const TimeMs minute = windowStartOf(e.eventTimeMs, kMsPerMinute);
        BatchCell& c = cells[WindowKey { e.adId, minute, e.country, e.device }];
        c.key = WindowKey { e.adId, minute, e.country, e.device };
        const auto d = e.disposition();
        if (d == ClickEvent::Disposition::Counted || d == ClickEvent::Disposition::LateUpdated)
            ++c.speedCounted;
        if (e.clickId != 0 && !seen.insert({ e.clickId, e.adId, minute }).second) {
            ++c.duplicates;
            continue;
        }
        ++c.count;
        c.lateDropped += d == ClickEvent::Disposition::LateDropped;
        c.lateUpdated += d == ClickEvent::Disposition::LateUpdated;
        c.speedDuplicates += d == ClickEvent::Disposition::Duplicate;
    }
    return cells;
}

QString cellText(const BatchCell& c)
{
    return QString("ad %1 minute %2 country %3 device %4: count %5 late %6 upd %7 sdup %8 dup %9 speed %10")
        .arg(c.key.adId)
        .arg(c.key.windowStartMs)
        .arg(c.key.country)
        .arg(static_cast<int>(c.key.device))
        .arg(c.count)
        .arg(c.lateDropped)
        .arg(c.lateUpdated)
        .arg(c.speedDuplicates)
        .arg(c.duplicates)
        .arg(c.speedCounted);
}

void compareCells(BatchCountResult got, const std::map<WindowKey, BatchCell>& want)
{
    QVERIFY2(got.ok(), got.error.c_str());
    sortCells(got.cells);
    std::size_t i = 0;
    for (const auto& [key, w] : want) {
        QVERIFY2(i < got.cells.size(), qPrintable("missing " + cellText(w)));
        QVERIFY2(got.cells[i] == w, qPrintable("got " + cellText(got.cells[i]) + "\nwant " + cellText(w)));
        ++i;
    }
    QCOMPARE(got.cells.size(), want.size());
}

/// A log with resends: 4% repeat an earlier record (same fields, disposition as the speed layer
/// would have marked it or not), 1% repeat a click id in another minute.
std::vector<ClickEvent> logWithResends(Dicts& d, std::size_t n, std::uint64_t seed)
{
    StreamSpec spec;
    spec.events = n;
    spec.seed = seed;
    spec.jitterMs = 90 * kMsPerSecond;
    std::vector<ClickEvent> events = makeEvents(d, spec);
    std::mt19937_64 rng(seed * 7 + 1);
    for (std::size_t i = 1; i < events.size(); ++i) {
        const auto r = rng() % 100;
        if (r < 5) {
            const ClickEvent& original = events[rng() % i];
            ClickEvent copy = original;
            copy.offset = events[i].offset;
            copy.partition = events[i].partition;
            if (r == 4)
                copy.eventTimeMs += (rng() % 2 ? 1 : -1) * kMsPerMinute; // same click id, another minute
            copy.setDisposition(static_cast<ClickEvent::Disposition>(rng() % 4));
            events[i] = copy;
        }
    }
    return events;
}

struct LogFixture {
    QTemporaryDir tmp;
    Dicts dicts;
    std::vector<ClickEvent> events;
    std::vector<std::string> uaText; ///< per record, as the reader returns it
    RawLogPosition middle; ///< a cut after about half the records
    std::string dir() const { return tmp.path().toStdString() + "/raw"; }

    LogFixture(std::size_t n, std::uint64_t seed, std::uint64_t segmentBytes = 64 << 10, std::uint32_t blockRecords = 300)
    {
        events = logWithResends(dicts, n, seed);
        RawLogConfig config;
        config.directory = dir();
        config.segmentMaxBytes = segmentBytes;
        config.blockRecords = blockRecords;
        auto w = openWriter(config, dicts);
        if (!w)
            qFatal("writer");
        appendAll(*w, events, 0, n / 2, 997);
        RawLogWriter::Cut cut;
        if (!w->cut(cut))
            qFatal("cut");
        middle = cut.end;
        appendAll(*w, events, n / 2, n, 997);
        if (!w->close())
            qFatal("close");
        for (const ReadRecord& r : readAll(dir()))
            uaText.push_back(r.userAgent);
        if (uaText.size() != events.size())
            qFatal("read back %zu of %zu records", uaText.size(), events.size());
    }
};

TimeMs minute(int m)
{
    return kStartMs + m * kMsPerMinute;
}

} // namespace

class TestBatchCounter : public QObject {
    Q_OBJECT

private slots:
    void equalsOracleForAnyThreadsAndSlices_data()
    {
        QTest::addColumn<int>("seed");
        QTest::addColumn<int>("threads");
        QTest::addColumn<int>("sliceRecords");
        QTest::addColumn<int>("segmentKiB");
        for (int seed : { 1, 2 })
            for (int threads : { 1, 2, 3, 5 })
                for (int slice : { 1 << 30, 2000 }) {
                    const int segment = threads == 3 ? 1024 : 48; // one big segment or many small ones
                    QTest::addRow("seed %d, %d threads, slice %d, segment %d KiB", seed, threads, slice, segment)
                        << seed << threads << slice << segment;
                }
    }
    void equalsOracleForAnyThreadsAndSlices()
    {
        QFETCH(int, seed);
        QFETCH(int, threads);
        QFETCH(int, sliceRecords);
        QFETCH(int, segmentKiB);
        LogFixture log(30000, static_cast<std::uint64_t>(seed), static_cast<std::uint64_t>(segmentKiB) << 10);
        BatchCountOptions o;
        o.fromMs = minute(-2) + 17; // misaligned: counted from the window that holds it
        o.toMs = minute(9) - 5;
        o.threads = static_cast<unsigned>(threads);
        o.maxRecordsPerSlice = static_cast<std::uint64_t>(sliceRecords);
        const BatchCountResult r = countRawLog(log.dir(), o);
        QCOMPARE(r.fromMs, minute(-2));
        QCOMPARE(r.toMs, minute(9));
        QVERIFY(r.damage.empty());
        if (sliceRecords < 10000)
            QVERIFY2(r.slices > 1, "a small slice bound splits the range");
        const auto want = bruteForce(log.events, log.uaText, r.fromMs, r.toMs);
        compareCells(r, want);
        std::uint64_t counted = 0;
        std::uint64_t duplicates = 0;
        for (const auto& [k, c] : want) {
            counted += c.count;
            duplicates += c.duplicates;
        }
        QCOMPARE(r.counted, counted);
        QCOMPARE(totalCount(r), counted);
        QCOMPARE(r.duplicates, duplicates);
        QVERIFY2(duplicates > 200, "the log has resends to remove");
    }

    void withoutDeduplicationEveryRecordCounts()
    {
        LogFixture log(8000, 3);
        BatchCountOptions o;
        o.fromMs = minute(-5);
        o.toMs = minute(10);
        o.deduplicate = false;
        const BatchCountResult r = countRawLog(log.dir(), o);
        std::uint64_t inRange = 0;
        for (const ClickEvent& e : log.events)
            inRange += e.eventTimeMs >= r.fromMs && e.eventTimeMs < r.toMs;
        QCOMPARE(r.counted, inRange);
        QCOMPARE(r.duplicates, std::uint64_t(0));
    }

    void endBoundReadsOnlyCommittedRecords()
    {
        LogFixture log(20000, 4);
        BatchCountOptions o;
        o.fromMs = minute(-5);
        o.toMs = minute(10);
        o.end = log.middle;
        const BatchCountResult r = countRawLog(log.dir(), o);
        QCOMPARE(r.rawEndSequence, log.middle.nextSequence);
        compareCells(r, bruteForce(log.events, log.uaText, r.fromMs, r.toMs, {}, log.middle.nextSequence));
        QVERIFY(r.damage.empty());
    }

    void filtersEqualOracle_data()
    {
        QTest::addColumn<QString>("what");
        for (const char* w : { "ad", "country", "device", "ipv4 cidr", "ipv6 cidr", "exact ip", "user agent", "all" })
            QTest::newRow(w) << QString(w);
    }
    void filtersEqualOracle()
    {
        QFETCH(QString, what);
        LogFixture log(20000, 5);
        const ClickEvent& sample = log.events[777];
        RawRecordFilter f;
        if (what == "ad" || what == "all")
            f.adId = sample.adId;
        if (what == "country" || what == "all")
            f.country = sample.country;
        if (what == "device")
            f.device = sample.device;
        if (what == "ipv4 cidr")
            f.ip = IpPrefix::parse("10.0.0.0/1"); // half of the IPv4 space
        if (what == "ipv6 cidr")
            f.ip = IpPrefix::parse("8000::/1");
        if (what == "exact ip" || what == "all")
            f.ip = IpPrefix::parse(formatIp(sample.ip));
        if (what == "user agent")
            f.userAgentContains = "AGENT 1"; // case-insensitive: "agent 1", "agent 10"…
        QVERIFY(!f.empty());
        BatchCountOptions o;
        o.fromMs = minute(-5);
        o.toMs = minute(10);
        o.filter = f;
        const BatchCountResult r = countRawLog(log.dir(), o);
        const auto want = bruteForce(log.events, log.uaText, r.fromMs, r.toMs, f);
        QVERIFY2(!want.empty(), "the filter matches something");
        compareCells(r, want);
        QVERIFY(r.recordsInRange < r.recordsRead);
    }

    void damagedBlockIsReportedAndSkipped()
    {
        LogFixture log(10000, 6, 1 << 20);
        const auto files = rawlog::listSegmentFiles(log.dir());
        QVERIFY(!files.empty());
        const auto blocks = blockOffsets(files[0].path);
        QVERIFY(blocks.size() > 4);
        flipByte(files[0].path, blocks[3] - 3); // in block 2's records (not its dictionary)
        std::vector<RawLogDamage> readerDamage;
        std::vector<ClickEvent> readable;
        std::vector<std::string> readableUa;
        for (const ReadRecord& rec : readAll(log.dir(), &readerDamage)) {
            readable.push_back(rec.event);
            readableUa.push_back(rec.userAgent);
        }
        QCOMPARE(readerDamage.size(), std::size_t(1));
        QVERIFY(readable.size() < log.events.size());
        BatchCountOptions o;
        o.fromMs = minute(-5);
        o.toMs = minute(10);
        o.threads = 2;
        const BatchCountResult r = countRawLog(log.dir(), o);
        QCOMPARE(r.damage.size(), std::size_t(1));
        QCOMPARE(r.damage[0].path, files[0].path);
        compareCells(r, bruteForce(readable, readableUa, r.fromMs, r.toMs));
    }

    void progressReachesTheEndAndCancelStops()
    {
        LogFixture log(20000, 7);
        std::vector<BatchProgress> seen;
        BatchCountOptions o;
        o.fromMs = minute(-5);
        o.toMs = minute(10);
        o.progress = [&](const BatchProgress& p) { seen.push_back(p); };
        const BatchCountResult r = countRawLog(log.dir(), o);
        QVERIFY(r.ok());
        QVERIFY(!seen.empty());
        QCOMPARE(seen.back().fraction(), 1.0);
        QCOMPARE(seen.back().recordsRead, r.recordsRead);

        std::atomic<bool> cancel { true };
        o.cancel = &cancel;
        o.progress = {};
        const BatchCountResult c = countRawLog(log.dir(), o);
        QVERIFY(c.status == BatchCountResult::Status::Cancelled);
        QVERIFY(c.recordsRead < r.recordsRead);
    }

    void emptyOrMissingLogCountsNothing()
    {
        QTemporaryDir tmp;
        BatchCountOptions o;
        o.fromMs = minute(0);
        o.toMs = minute(5);
        const BatchCountResult r = countRawLog(tmp.path().toStdString() + "/nothing-here", o);
        QVERIFY(r.ok());
        QVERIFY(r.cells.empty());
        o.toMs = o.fromMs;
        const BatchCountResult bad = countRawLog(tmp.path().toStdString(), o);
        QVERIFY(bad.status == BatchCountResult::Status::Failed);
        QVERIFY(!bad.error.empty());
    }
};

QTEST_GUILESS_MAIN(TestBatchCounter)
#include "tst_batch_counter.moc"
