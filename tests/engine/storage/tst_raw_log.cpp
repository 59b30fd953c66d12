// The raw click log, writing and reading: bit-identical round trips (all fields, dispositions,
// IPv4/IPv6, named ads, many user agents, sequences), range and sequence scans against a
// brute-force filter with block and segment skipping, rolling by size and age, and the size of
// generator data.

#include "raw_log_test_support.h"

using namespace adclick::engine;
using namespace adclick::test;

class TestRawLog : public QObject {
    Q_OBJECT

private slots:
    void roundTrip_data();
    void roundTrip();
    void rangeScan_data();
    void rangeScan();
    void rollBySize();
    void rollByAge();
    void generatorDataSizeAndSpeed();
};

void TestRawLog::roundTrip_data()
{
    QTest::addColumn<int>("events");
    QTest::addColumn<int>("blockRecords");
    QTest::addColumn<int>("segmentMaxBytes");
    QTest::addColumn<int>("batch");
    QTest::newRow("one small block") << 10 << 8192 << (64 << 20) << 3;
    QTest::newRow("single-record blocks") << 300 << 1 << (64 << 20) << 7;
    QTest::newRow("many blocks") << 20000 << 512 << (64 << 20) << 1000;
    QTest::newRow("many segments") << 20000 << 256 << 20000 << 333;
    QTest::newRow("default blocks") << 30000 << 8192 << (64 << 20) << 4096;
}

void TestRawLog::roundTrip()
{
    QFETCH(int, events);
    QFETCH(int, blockRecords);
    QFETCH(int, segmentMaxBytes);
    QFETCH(int, batch);
    QTemporaryDir tmp;
    Dicts d;
    StreamSpec spec;
    spec.events = static_cast<std::size_t>(events);
    spec.seed = static_cast<std::uint64_t>(events) * 31 + static_cast<std::uint64_t>(blockRecords);
    const std::vector<ClickEvent> ev = makeEvents(d, spec);

    RawLogConfig config;
    config.directory = tmp.path().toStdString() + "/raw";
    config.blockRecords = static_cast<std::uint32_t>(blockRecords);
    config.segmentMaxBytes = static_cast<std::uint64_t>(segmentMaxBytes);
    auto w = openWriter(config, d);
    QVERIFY(w);
    QCOMPARE(w->position().nextSequence, 0u);
    QVERIFY(appendAll(*w, ev, 0, ev.size(), static_cast<std::size_t>(batch)));
    QCOMPARE(w->position().nextSequence, ev.size());
    RawLogWriter::Cut cut;
    QVERIFY2(w->cut(cut), w->error().c_str());
    QCOMPARE(cut.end.nextSequence, ev.size());
    std::string error;
    QVERIFY2(cut.sync(error), error.c_str());
    QVERIFY2(w->close(), w->error().c_str());
    QCOMPARE(w->recordsWritten(), ev.size());
    QVERIFY(w->damage().empty());

    std::vector<RawLogDamage> damage;
    const auto got = readAll(config.directory, &damage);
    QVERIFY2(damage.empty(), qPrintable(damageText(damage)));
    checkRecords(got, ev, iota(0, ev.size()), 0, d);

    // The whole time axis through scan(), and each file through decodeRawSegment(): the same.
    std::vector<ReadRecord> all;
    RawLogReader reader(config.directory);
    QVERIFY(reader.scan(INT64_MIN, INT64_MAX, collector(all)));
    std::size_t lastAtMax = 0; // [from, to) excludes INT64_MAX itself
    std::vector<std::size_t> expected;
    for (std::size_t i = 0; i < ev.size(); ++i)
        if (ev[i].eventTimeMs != INT64_MAX)
            expected.push_back(i);
        else
            ++lastAtMax;
    checkRecords(all, ev, expected, 0, d);

    std::vector<ReadRecord> decoded;
    std::uint64_t bytes = 0;
    const auto segments = RawLogReader(config.directory).segments();
    QVERIFY(!segments.empty());
    for (const RawSegmentInfo& s : segments) {
        QVERIFY(s.sealed);
        const std::string image = fileBytes(s.path);
        bytes += image.size();
        std::vector<RawLogDamage> dmg;
        decodeRawSegment(image, s.path, collector(decoded), dmg);
        QVERIFY2(dmg.empty(), qPrintable(damageText(dmg)));
    }
    checkRecords(decoded, ev, iota(0, ev.size()), 0, d);
    QCOMPARE(w->bytesWritten(), bytes);
    if (segmentMaxBytes < (1 << 20))
        QVERIFY(segments.size() > 3);
}

void TestRawLog::rangeScan_data()
{
    QTest::addColumn<qint64>("fromOffsetMs");
    QTest::addColumn<qint64>("toOffsetMs");
    QTest::addColumn<bool>("expectSkips");
    QTest::addColumn<bool>("expectBlockSkips"); // the range ends inside a segment
    QTest::newRow("everything") << qint64(-kMsPerHour) << qint64(kMsPerHour) << false << false;
    QTest::newRow("one minute in the middle") << qint64(200000) << qint64(260000) << true << true;
    QTest::newRow("first seconds") << qint64(-10000) << qint64(5000) << true << true;
    QTest::newRow("last minute") << qint64(340000) << qint64(400000) << true << false;
    QTest::newRow("before everything") << qint64(-kMsPerHour) << qint64(-kMsPerMinute) << true << false;
    QTest::newRow("empty range") << qint64(100000) << qint64(100000) << true << false;
    QTest::newRow("one millisecond") << qint64(123457) << qint64(123458) << true << true;
}

void TestRawLog::rangeScan()
{
    QFETCH(qint64, fromOffsetMs);
    QFETCH(qint64, toOffsetMs);
    QFETCH(bool, expectSkips);
    QFETCH(bool, expectBlockSkips);
    QTemporaryDir tmp;
    Dicts d;
    StreamSpec spec;
    spec.events = 20000; // 400 s of event time
    spec.oddValues = false;
    const std::vector<ClickEvent> ev = makeEvents(d, spec);
    RawLogConfig config;
    config.directory = tmp.path().toStdString();
    config.blockRecords = 250;
    config.segmentMaxBytes = 60000;
    {
        auto w = openWriter(config, d);
        QVERIFY(w);
        QVERIFY(appendAll(*w, ev, 0, ev.size(), 640));
        QVERIFY(w->close());
    }
    const TimeMs from = kStartMs + fromOffsetMs;
    const TimeMs to = kStartMs + toOffsetMs;
    std::vector<std::size_t> expected;
    for (std::size_t i = 0; i < ev.size(); ++i)
        if (ev[i].eventTimeMs >= from && ev[i].eventTimeMs < to)
            expected.push_back(i);
    std::vector<ReadRecord> got;
    RawLogReader reader(config.directory);
    QVERIFY(reader.scan(from, to, collector(got)));
    checkRecords(got, ev, expected, 0, d);
    QVERIFY(reader.damage().empty());
    if (expectSkips) {
        QVERIFY2(reader.segmentsSkipped() > 0, "whole segments outside the range are skipped by their header");
        QVERIFY(reader.blocksRead() < 80u / 2);
        if (expectBlockSkips)
            QVERIFY2(reader.blocksSkipped() > 0, "blocks outside the range are skipped by their header");
    } else {
        QCOMPARE(reader.blocksSkipped(), 0u);
        QCOMPARE(reader.blocksRead(), 80u);
    }

    // Stopping early: f returning false ends the scan and scan() says so.
    if (expected.size() > 3) {
        std::size_t seen = 0;
        QVERIFY(!RawLogReader(config.directory).scan(from, to, [&](const RawRecord&) { return ++seen < 3; }));
        QCOMPARE(seen, 3u);
    }

    // By sequence: exactly the suffix, skipping what precedes it.
    const auto fromSequence = static_cast<std::uint64_t>(fromOffsetMs > 0 ? fromOffsetMs / 20 : 0);
    std::vector<ReadRecord> suffix;
    RawLogReader bySequence(config.directory);
    QVERIFY(bySequence.scanFromSequence(fromSequence, collector(suffix)));
    checkRecords(suffix, ev, iota(fromSequence, ev.size()), 0, d);
    if (fromSequence > 1000)
        QVERIFY(bySequence.blocksSkipped() + bySequence.segmentsSkipped() > 0);
}

void TestRawLog::rollBySize()
{
    QTemporaryDir tmp;
    Dicts d;
    StreamSpec spec;
    spec.events = 12000;
    const std::vector<ClickEvent> ev = makeEvents(d, spec);
    RawLogConfig config;
    config.directory = tmp.path().toStdString();
    config.blockRecords = 100;
    config.segmentMaxBytes = std::uint64_t { 32 } << 10;
    auto w = openWriter(config, d);
    QVERIFY(w);
    QVERIFY(appendAll(*w, ev, 0, ev.size(), 777));
    QVERIFY(w->close());
    const auto segments = RawLogReader(config.directory).segments();
    QVERIFY2(segments.size() >= 8, qPrintable(QString::number(segments.size())));
    std::uint64_t next = 0;
    for (std::size_t i = 0; i < segments.size(); ++i) {
        const RawSegmentInfo& s = segments[i];
        QVERIFY(s.sealed);
        QCOMPARE(s.segmentId, i + 1);
        QCOMPARE(s.firstSequence, next);
        next += s.records;
        if (i + 1 < segments.size()) {
            QVERIFY(s.bytes >= config.segmentMaxBytes);
            QVERIFY(s.bytes < config.segmentMaxBytes + 100 * rawlog::kMaxRecordBytes + 4096);
        }
        TimeMs lo = INT64_MAX;
        TimeMs hi = INT64_MIN;
        for (std::uint64_t k = s.firstSequence; k < s.firstSequence + s.records; ++k) {
            lo = std::min(lo, ev[k].eventTimeMs);
            hi = std::max(hi, ev[k].eventTimeMs);
        }
        QCOMPARE(s.minEventTimeMs, lo);
        QCOMPARE(s.maxEventTimeMs, hi);
        QCOMPARE(static_cast<std::uint64_t>(fs::file_size(s.path)), s.bytes);
    }
    QCOMPARE(next, ev.size());
    // Every segment carries its own strings: each file decodes alone with all its strings.
    const std::string image = fileBytes(segments[segments.size() / 2].path);
    std::vector<ReadRecord> got;
    std::vector<RawLogDamage> damage;
    decodeRawSegment(image, "middle", collector(got), damage);
    QVERIFY(damage.empty());
    const auto& mid = segments[segments.size() / 2];
    checkRecords(got, ev, iota(mid.firstSequence, mid.firstSequence + mid.records), 0, d);
}

void TestRawLog::rollByAge()
{
    QTemporaryDir tmp;
    Dicts d;
    StreamSpec spec;
    spec.events = 1000;
    const std::vector<ClickEvent> ev = makeEvents(d, spec);
    RawLogConfig config;
    config.directory = tmp.path().toStdString();
    config.segmentMaxAgeMs = 1000;
    auto w = openWriter(config, d);
    QVERIFY(w);
    // 10 appends 300 ms of processing time apart: segments start at 0, 1200, 2400 ms.
    for (std::size_t i = 0; i < 10; ++i)
        QVERIFY(w->append(ev.data() + i * 100, 100, kStartMs + static_cast<TimeMs>(i) * 300));
    QCOMPARE(w->position().segmentId, 3u);
    QVERIFY(w->close());
    const auto segments = RawLogReader(config.directory).segments();
    QCOMPARE(segments.size(), 3u);
    QCOMPARE(segments[0].records, 400u);
    QCOMPARE(segments[1].records, 400u);
    QCOMPARE(segments[1].firstSequence, 400u);
    QCOMPARE(segments[2].records, 200u);
    QCOMPARE(segments[2].firstSequence, 800u);
    checkRecords(readAll(config.directory), ev, iota(0, ev.size()), 0, d);
}

void TestRawLog::generatorDataSizeAndSpeed()
{
    // The generator's events: size is deterministic and asserted; speed is only printed.
    GeneratorConfig g;
    g.seed = 7;
    VirtualClock clock(g.startTimeMs);
    AdDictionary ads;
    UserAgentDictionary uas;
    SyntheticSource source(g, clock, ads, uas);
    const std::size_t n = 2000000;
    source.setLimit(n);
    std::vector<ClickEvent> all;
    all.reserve(n);
    IngestBatch batch;
    while (true) {
        batch.clear();
        const PollResult r = source.poll(batch, 8192);
        all.insert(all.end(), batch.events.begin(), batch.events.end());
        if (r == PollResult::EndOfStream)
            break;
    }
    for (std::size_t i = 0; i < all.size(); ++i) // realistic disposition bits
        all[i].setDisposition(static_cast<ClickEvent::Disposition>(i % 97 == 0 ? 1 : i % 211 == 0 ? 3 : 0));
    QTemporaryDir tmp;
    RawLogConfig config;
    config.directory = tmp.path().toStdString();
    std::string error;
    auto w = RawLogWriter::open(config, nullptr, uas, ads, error);
    QVERIFY(w);
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < all.size(); i += 4096)
        QVERIFY(w->append(all.data() + i, std::min<std::size_t>(4096, all.size() - i), g.startTimeMs));
    RawLogWriter::Cut cut;
    QVERIFY(w->cut(cut));
    const double writeSec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    QVERIFY(w->close());
    const double bytesPerRecord = static_cast<double>(w->bytesWritten()) / static_cast<double>(all.size());

    std::uint64_t read = 0;
    std::uint64_t checksum = 0;
    const auto t1 = std::chrono::steady_clock::now();
    RawLogReader reader(config.directory);
    reader.scanFromSequence(0, [&](const RawRecord& r) {
        ++read;
        checksum += r.event.userHash + r.userAgent.size();
        return true;
    });
    const double readSec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    qDebug("generator data: %zu records, %.2f bytes/record, write %.1f M records/s, read %.1f M records/s", all.size(),
        bytesPerRecord, static_cast<double>(all.size()) / writeSec / 1e6, static_cast<double>(read) / readSec / 1e6);
    QCOMPARE(read, all.size());
    QVERIFY(checksum != 0);
    QVERIFY2(bytesPerRecord <= 40.0, qPrintable(QString::number(bytesPerRecord)));
}

QTEST_GUILESS_MAIN(TestRawLog)
#include "tst_raw_log.moc"
