// The NDJSON file source: accepted / rejected lines with reasons and line numbers, blank and
// CRLF lines, oversized lines (streamed, never held whole), a final line without newline,
// seek-resume, pacing by event time on a virtual and a real clock, unreadable paths.

#include "ingest/file_source.h"

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>
#include <random>
#include <string>
#include <vector>

using namespace adclick::engine;

Q_DECLARE_METATYPE(adclick::engine::RejectReason)

namespace {
constexpr TimeMs kBaseMs = 1795845600000LL; // 2026-11-28T06:00:00Z

std::string goodLine(int adId, TimeMs eventTimeMs, const std::string& user = "u1")
{
    ClickRecordText r;
    r.adId = std::to_string(adId);
    r.clickTimestampMs = eventTimeMs;
    r.userId = user;
    r.ip = "203.0.113.7";
    r.country = "DE";
    r.userAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0.0.0";
    return JsonCodec::encode(r);
}

// A syntactically fine record whose user agent pads it to `bytes` bytes.
std::string paddedLine(std::size_t bytes)
{
    ClickRecordText r;
    r.adId = "9";
    r.clickTimestampMs = kBaseMs;
    r.userId = "u9";
    r.ip = "198.51.100.1";
    r.country = "US";
    r.userAgent = "x";
    const std::size_t base = JsonCodec::encode(r).size();
    r.userAgent = std::string(bytes - base + 1, 'x');
    return JsonCodec::encode(r);
}

std::string writeFile(const QTemporaryDir& dir, const char* name, const std::string& content)
{
    const std::string path = dir.filePath(QString::fromLatin1(name)).toStdString();
    std::ofstream out(path, std::ios::binary);
    out << content;
    return path;
}

struct Drained {
    std::vector<ClickEvent> events;
    std::vector<RejectedRecord> rejected;
    PollResult last = PollResult::Idle;
};

// Polls until EndOfStream with batch sizes `batch` (0: random in [1, 5]).
Drained drain(FileSource& source, std::size_t batch, int maxPolls = 100000)
{
    Drained d;
    std::mt19937 rng(5);
    IngestBatch b;
    for (int i = 0; i < maxPolls; ++i) {
        b.clear();
        d.last = source.poll(b, batch ? batch : 1 + rng() % 5);
        d.events.insert(d.events.end(), b.events.begin(), b.events.end());
        d.rejected.insert(d.rejected.end(), b.rejected.begin(), b.rejected.end());
        if (d.last == PollResult::EndOfStream)
            break;
    }
    return d;
}

struct Dicts {
    AdDictionary ads;
    UserAgentDictionary userAgents;
};
} // namespace

class TestFileSource : public QObject {
    Q_OBJECT

private slots:
    void mixedFile_data()
    {
        QTest::addColumn<int>("batch");
        QTest::newRow("one at a time") << 1;
        QTest::newRow("random small batches") << 0;
        QTest::newRow("large batches") << 4096;
    }
    void mixedFile()
    {
        QFETCH(int, batch);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string oversized = paddedLine(200 * 1024);
        const std::vector<std::string> lines = {
            goodLine(1, kBaseMs), // 0
            "", // 1 blank
            "  \t ", // 2 blank
            "{\"ad_id\": 5, \"click_timestamp\": ", // 3 truncated JSON
            goodLine(2, kBaseMs + 1000), // 4
            oversized, // 5 200 KB
            goodLine(3, kBaseMs + 2000), // 6
            R"({"ad_id":"7","click_timestamp":1795845600,"user_id":"u","ip":"1.2.3.4","country":"ZZ","user_agent":"x"})", // 7
            goodLine(4, kBaseMs + 3000) + "\r", // 8 CRLF
            "\r", // 9 blank (CRLF)
            goodLine(5, kBaseMs + 4000), // 10, final line without newline
        };
        std::string content;
        for (std::size_t i = 0; i < lines.size(); ++i)
            content += lines[i] + (i + 1 < lines.size() ? "\n" : "");
        const std::string path = writeFile(dir, "mixed.ndjson", content);

        Dicts dicts;
        VirtualClock clock(kBaseMs + 3600000);
        FileSource source(path, clock, dicts.ads, dicts.userAgents);
        QVERIFY(source.isOpen());
        QVERIFY(source.error().empty());
        QCOMPARE(source.partitionCount(), 1u);
        QCOMPARE(source.describe(), "file " + path);
        const Drained d = drain(source, static_cast<std::size_t>(batch));
        QCOMPARE(d.last, PollResult::EndOfStream);

        QCOMPARE(d.events.size(), std::size_t { 5 });
        const std::vector<std::int64_t> eventLines = { 0, 4, 6, 8, 10 };
        for (std::size_t i = 0; i < d.events.size(); ++i) {
            QCOMPARE(d.events[i].offset, eventLines[i]);
            QCOMPARE(d.events[i].partition, 0u);
            QCOMPARE(d.events[i].adId, static_cast<AdId>(i + 1));
            QCOMPARE(d.events[i].eventTimeMs, kBaseMs + static_cast<TimeMs>(i) * 1000);
        }
        QCOMPARE(d.rejected.size(), std::size_t { 3 });
        QCOMPARE(d.rejected[0].position.offset, std::int64_t { 3 });
        QCOMPARE(d.rejected[0].reason, RejectReason::NotJson);
        QCOMPARE(d.rejected[0].bytes, lines[3]);
        QCOMPARE(d.rejected[1].position.offset, std::int64_t { 5 });
        QCOMPARE(d.rejected[1].reason, RejectReason::TooLarge);
        QCOMPARE(d.rejected[1].bytes, oversized.substr(0, 4096));
        QCOMPARE(d.rejected[2].position.offset, std::int64_t { 7 });
        QCOMPARE(d.rejected[2].reason, RejectReason::BadCountry);

        QCOMPARE(source.nextLine(), std::int64_t { 11 });
        QCOMPARE(source.acceptedCount(), std::uint64_t { 5 });
        const RejectCounters counters = source.rejectCounters();
        QCOMPARE(counters.total(), std::uint64_t { 3 });
        QCOMPARE(counters[RejectReason::TooLarge], std::uint64_t { 1 });

        // At the end it stays at the end.
        IngestBatch b;
        QCOMPARE(source.poll(b, 10), PollResult::EndOfStream);
        QVERIFY(b.events.empty() && b.rejected.empty());
    }

    void sizeLimitBoundary_data()
    {
        QTest::addColumn<int>("bytes");
        QTest::addColumn<bool>("crlf");
        QTest::addColumn<bool>("accepted");
        QTest::newRow("at the limit") << 400 << false << true;
        QTest::newRow("at the limit, CRLF") << 400 << true << true;
        QTest::newRow("one over") << 401 << false << false;
        QTest::newRow("one over, CRLF") << 401 << true << false;
        QTest::newRow("far over (buffer refills)") << 5 * 1024 * 1024 << false << false;
    }
    void sizeLimitBoundary()
    {
        QFETCH(int, bytes);
        QFETCH(bool, crlf);
        QFETCH(bool, accepted);
        QTemporaryDir dir;
        const std::string line = paddedLine(static_cast<std::size_t>(bytes));
        QCOMPARE(line.size(), static_cast<std::size_t>(bytes));
        const std::string eol = crlf ? "\r\n" : "\n";
        // The line under test twice: once in the middle, once as the final line without newline.
        const std::string path = writeFile(
            dir, "limit.ndjson", goodLine(1, kBaseMs) + eol + line + eol + goodLine(2, kBaseMs) + eol + line);
        Dicts dicts;
        VirtualClock clock(kBaseMs);
        CodecLimits limits;
        limits.maxMessageBytes = 400;
        FileSource source(path, clock, dicts.ads, dicts.userAgents, 0, limits);
        const Drained d = drain(source, 3);
        QCOMPARE(d.events.size() + d.rejected.size(), std::size_t { 4 });
        QCOMPARE(d.events.size(), accepted ? std::size_t { 4 } : std::size_t { 2 });
        for (const RejectedRecord& r : d.rejected) {
            QCOMPARE(r.reason, RejectReason::TooLarge);
            QVERIFY(r.position.offset == 1 || r.position.offset == 3);
            QCOMPARE(r.bytes, line.substr(0, 4096));
        }
    }

    void emptyAndBlankOnlyFiles()
    {
        QTemporaryDir dir;
        Dicts dicts;
        VirtualClock clock(kBaseMs);
        for (const char* content : { "", "\n", "\n\n  \n\r\n", " " }) {
            FileSource source(writeFile(dir, "blank.ndjson", content), clock, dicts.ads, dicts.userAgents);
            QVERIFY(source.isOpen());
            const Drained d = drain(source, 10);
            QCOMPARE(d.last, PollResult::EndOfStream);
            QVERIFY(d.events.empty());
            QVERIFY(d.rejected.empty());
        }
    }

    void processingTimeIsTheClock()
    {
        QTemporaryDir dir;
        Dicts dicts;
        VirtualClock clock(kBaseMs + 5000);
        FileSource source(
            writeFile(dir, "one.ndjson", goodLine(1, kBaseMs) + "\n"), clock, dicts.ads, dicts.userAgents);
        IngestBatch b;
        source.poll(b, 10);
        QCOMPARE(b.processingTimeMs, kBaseMs + 5000);
    }

    void seekResumes_data()
    {
        QTest::addColumn<qint64>("offset");
        for (qint64 o : { -1LL, 0LL, 1LL, 5LL, 13LL, 18LL, 19LL })
            QTest::newRow(QByteArray::number(o).constData()) << o;
    }
    void seekResumes()
    {
        QFETCH(qint64, offset);
        QTemporaryDir dir;
        std::string content;
        for (int i = 0; i < 20; ++i) {
            if (i % 7 == 3)
                content += "garbage line\n";
            else if (i % 7 == 5)
                content += "\n";
            else if (i == 11)
                content += paddedLine(70 * 1024) + "\n";
            else
                content += goodLine(100 + i, kBaseMs + i * 1000) + "\n";
        }
        const std::string path = writeFile(dir, "seek.ndjson", content);
        Dicts dicts;
        VirtualClock clock(kBaseMs);
        FileSource full(path, clock, dicts.ads, dicts.userAgents);
        const Drained all = drain(full, 4);

        const auto expectAfter = [&](const Drained& d) {
            std::vector<std::int64_t> expectedEvents, gotEvents, expectedRejected, gotRejected;
            for (const ClickEvent& e : all.events)
                if (e.offset > offset)
                    expectedEvents.push_back(e.offset);
            for (const RejectedRecord& r : all.rejected)
                if (r.position.offset > offset)
                    expectedRejected.push_back(r.position.offset);
            for (const ClickEvent& e : d.events)
                gotEvents.push_back(e.offset);
            for (const RejectedRecord& r : d.rejected)
                gotRejected.push_back(r.position.offset);
            QCOMPARE(gotEvents, expectedEvents);
            QCOMPARE(gotRejected, expectedRejected);
        };

        // A fresh source (recovery) ...
        FileSource resumed(path, clock, dicts.ads, dicts.userAgents);
        QVERIFY(resumed.seek(0, offset));
        QCOMPARE(resumed.nextLine(), offset + 1);
        expectAfter(drain(resumed, 3));
        // ... and a source that already read everything, rewinding.
        QVERIFY(full.seek(0, offset));
        expectAfter(drain(full, 2));

        QVERIFY(!resumed.seek(1, offset)); // only partition 0
        QVERIFY(!resumed.seek(0, 20)); // the file has lines 0 … 19
    }

    void standardInputCannotRewind()
    {
        Dicts dicts;
        VirtualClock clock(kBaseMs);
        FileSource source("-", clock, dicts.ads, dicts.userAgents, 60);
        QVERIFY(source.describe().find("standard input") != std::string::npos);
        QVERIFY(source.describe().find("(paced x60)") != std::string::npos);
        QVERIFY(source.seek(0, -1)); // already at the start: nothing to do
        QVERIFY(!source.seek(0, 5));
    }

    void unreadablePaths()
    {
        QTemporaryDir dir;
        Dicts dicts;
        VirtualClock clock(kBaseMs);
        const std::string missing = dir.filePath("does-not-exist.ndjson").toStdString();
        FileSource source(missing, clock, dicts.ads, dicts.userAgents);
        QVERIFY(!source.isOpen());
        QVERIFY2(source.error().find(missing) != std::string::npos, source.error().c_str());
        QVERIFY2(source.error().find("No such file") != std::string::npos, source.error().c_str());
        IngestBatch b;
        QCOMPARE(source.poll(b, 10), PollResult::EndOfStream);
        QVERIFY(!source.seek(0, 3));

        FileSource directory(dir.path().toStdString(), clock, dicts.ads, dicts.userAgents);
        QVERIFY(!directory.isOpen());
        QVERIFY2(directory.error().find("directory") != std::string::npos, directory.error().c_str());
    }

    // x60: a minute of event time per second of clock time. Nothing is released before its
    // time, out-of-order events go at once, and nothing overtakes a held event.
    void pacedOnVirtualClock()
    {
        QTemporaryDir dir;
        const std::string content = goodLine(1, kBaseMs) + "\n" // due at origin
            + goodLine(2, kBaseMs + 60000) + "\n" // due at origin + 1 s
            + "not json\n" // behind event 2
            + goodLine(3, kBaseMs + 120000) + "\n" // due at origin + 2 s
            + goodLine(4, kBaseMs + 30000) + "\n"; // already due when read
        const std::string path = writeFile(dir, "paced.ndjson", content);
        Dicts dicts;
        const TimeMs origin = kBaseMs + 7 * 3600000;
        VirtualClock clock(origin);
        FileSource source(path, clock, dicts.ads, dicts.userAgents, 60);
        QCOMPARE(source.describe(), "file " + path + " (paced x60)");

        IngestBatch b;
        QCOMPARE(source.poll(b, 100), PollResult::Events);
        QCOMPARE(b.events.size(), std::size_t { 1 });
        QCOMPARE(b.events[0].adId, AdId { 1 });
        QVERIFY(b.rejected.empty());

        b.clear();
        QCOMPARE(source.poll(b, 100), PollResult::Idle);
        QVERIFY(b.events.empty() && b.rejected.empty());
        QCOMPARE(b.processingTimeMs, origin + 1000); // the release time of the held event

        clock.advanceTo(origin + 999);
        b.clear();
        QCOMPARE(source.poll(b, 100), PollResult::Idle);
        QVERIFY(b.events.empty());

        clock.advanceTo(origin + 1000);
        b.clear();
        QCOMPARE(source.poll(b, 100), PollResult::Events);
        QCOMPARE(b.events.size(), std::size_t { 1 });
        QCOMPARE(b.events[0].adId, AdId { 2 });
        QCOMPARE(b.rejected.size(), std::size_t { 1 });
        QCOMPARE(b.rejected[0].position.offset, std::int64_t { 2 });
        QCOMPARE(b.processingTimeMs, origin + 1000);

        clock.advanceTo(origin + 2000);
        b.clear();
        QCOMPARE(source.poll(b, 100), PollResult::EndOfStream);
        QCOMPARE(b.events.size(), std::size_t { 2 });
        QCOMPARE(b.events[0].adId, AdId { 3 });
        QCOMPARE(b.events[1].adId, AdId { 4 });
    }

    // A driver that advances its virtual clock to each batch's processing time (as Pipeline
    // does) replays a paced file to the end, each event no earlier than its release time.
    void pacedVirtualDriverMovesOn()
    {
        QTemporaryDir dir;
        std::string content;
        for (int i = 0; i < 50; ++i)
            content += goodLine(i + 1, kBaseMs + i * 7000) + "\n";
        const std::string path = writeFile(dir, "driver.ndjson", content);
        Dicts dicts;
        const TimeMs origin = kBaseMs + 3600000;
        VirtualClock clock(origin);
        FileSource source(path, clock, dicts.ads, dicts.userAgents, 10);
        IngestBatch b;
        std::size_t delivered = 0;
        for (int polls = 0; polls < 1000; ++polls) {
            b.clear();
            const PollResult r = source.poll(b, 8);
            for (const ClickEvent& e : b.events) {
                QVERIFY(clock.nowMs() >= origin + (e.eventTimeMs - kBaseMs) / 10);
                ++delivered;
            }
            clock.advanceTo(b.processingTimeMs);
            if (r == PollResult::EndOfStream)
                break;
        }
        QCOMPARE(delivered, std::size_t { 50 });
        QCOMPARE(clock.nowMs(), origin + 49 * 700);
    }

    void pacedOnRealClock()
    {
        QTemporaryDir dir;
        // 150 s of event time at x1000: 150 ms of wall time.
        const std::string path
            = writeFile(dir, "real.ndjson", goodLine(1, kBaseMs) + "\n" + goodLine(2, kBaseMs + 150000) + "\n");
        Dicts dicts;
        SystemClock clock;
        FileSource source(path, clock, dicts.ads, dicts.userAgents, 1000);
        const TimeMs start = clock.nowMs();
        IngestBatch b;
        std::vector<TimeMs> releasedAt;
        for (int i = 0; i < 1000 && releasedAt.size() < 2; ++i) {
            b.clear();
            source.poll(b, 10);
            for (std::size_t k = 0; k < b.events.size(); ++k)
                releasedAt.push_back(clock.nowMs());
        }
        QCOMPARE(releasedAt.size(), std::size_t { 2 });
        QVERIFY(releasedAt[1] - start >= 150);
    }
};

QTEST_APPLESS_MAIN(TestFileSource)
#include "tst_file_source.moc"
