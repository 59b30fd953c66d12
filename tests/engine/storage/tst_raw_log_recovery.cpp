// The raw click log when things go wrong: recovery truncation, torn tails and flipped bytes
// (reported with path and offset, never invented records), corrupt images, retention, a full file
// system (RLIMIT_FSIZE) with a later retry, and Cut::sync on another thread.

#include "raw_log_test_support.h"

using namespace adclick::engine;
using namespace adclick::test;

class TestRawLogRecovery : public QObject {
    Q_OBJECT

private slots:
    void recoverToTruncates_data();
    void recoverToTruncates();
    void truncatedLastBlock_data();
    void truncatedLastBlock();
    void damagedBlock_data();
    void damagedBlock();
    void corruptImagesNeverLie();
    void retention();
    void fullFileSystemThenRetry();
    void syncFromAnotherThread();
};

void TestRawLogRecovery::recoverToTruncates_data()
{
    QTest::addColumn<int>("cutAfter");
    QTest::addColumn<int>("segmentMaxBytes");
    QTest::newRow("later segments deleted") << 1500 << 20000;
    QTest::newRow("inside one segment") << 1500 << (64 << 20);
    QTest::newRow("at the start") << 0 << 20000;
}

void TestRawLogRecovery::recoverToTruncates()
{
    QFETCH(int, cutAfter);
    QFETCH(int, segmentMaxBytes);
    QTemporaryDir tmp;
    Dicts d;
    StreamSpec spec;
    spec.events = 6000;
    const std::vector<ClickEvent> ev = makeEvents(d, spec);
    RawLogConfig config;
    config.directory = tmp.path().toStdString();
    config.blockRecords = 128;
    config.segmentMaxBytes = static_cast<std::uint64_t>(segmentMaxBytes);
    const auto keep = static_cast<std::size_t>(cutAfter);
    RawLogPosition checkpoint;
    {
        auto w = openWriter(config, d);
        QVERIFY(w);
        QVERIFY(appendAll(*w, ev, 0, keep, 100));
        RawLogWriter::Cut cut;
        QVERIFY(w->cut(cut));
        checkpoint = cut.end;
        QCOMPARE(checkpoint.nextSequence, keep);
        QVERIFY(appendAll(*w, ev, keep, 4000, 100)); // logged after the checkpoint: to be dropped
        RawLogWriter::Cut later;
        QVERIFY(w->cut(later));
        QVERIFY(later.end.nextSequence == 4000);
        // no close(): as after a crash, but the bytes are in the files
    }
    const std::uint64_t highestBefore = RawLogReader(config.directory).segments().back().segmentId;
    if (segmentMaxBytes < (1 << 20) && keep > 0)
        QVERIFY(highestBefore > checkpoint.segmentId);

    auto w = openWriter(config, d, &checkpoint);
    QVERIFY(w);
    QVERIFY2(w->damage().empty(), qPrintable(damageText(w->damage())));
    QCOMPARE(w->position().nextSequence, keep);
    QVERIFY(w->position().segmentId > checkpoint.segmentId); // a new segment
    for (const RawSegmentInfo& s : RawLogReader(config.directory).segments()) {
        QVERIFY(s.segmentId <= checkpoint.segmentId || s.segmentId == w->position().segmentId);
        if (s.segmentId == checkpoint.segmentId) {
            QCOMPARE(s.bytes, checkpoint.byteOffset);
            QVERIFY(s.sealed);
        }
    }
    QVERIFY(appendAll(*w, ev, 4000, ev.size(), 250));
    QVERIFY(w->close());

    // ev[0, keep) then ev[4000, end) with sequences keep, keep + 1, …
    std::vector<RawLogDamage> damage;
    const auto got = readAll(config.directory, &damage);
    QVERIFY2(damage.empty(), qPrintable(damageText(damage)));
    QCOMPARE(got.size(), keep + ev.size() - 4000);
    for (std::size_t k = 0; k < got.size(); ++k) {
        const std::size_t i = k < keep ? k : 4000 + (k - keep);
        QVERIFY2(describeDifference(got[k].event, ev[i]).isEmpty(), qPrintable(QString::number(k)));
        QCOMPARE(got[k].sequence, k);
    }
}

void TestRawLogRecovery::truncatedLastBlock_data()
{
    QTest::addColumn<int>("bytesIntoLastBlock"); // < 0: counted back from the end of the block
    QTest::newRow("mid payload") << -100;
    QTest::newRow("one byte short") << -1;
    QTest::newRow("inside the block header") << 20;
    QTest::newRow("header only") << int(rawlog::kBlockHeaderBytes);
}

void TestRawLogRecovery::truncatedLastBlock()
{
    QFETCH(int, bytesIntoLastBlock);
    QTemporaryDir tmp;
    Dicts d;
    StreamSpec spec;
    spec.events = 1000;
    const std::vector<ClickEvent> ev = makeEvents(d, spec);
    RawLogConfig config;
    config.directory = tmp.path().toStdString();
    config.blockRecords = 100;
    {
        auto w = openWriter(config, d);
        QVERIFY(appendAll(*w, ev, 0, ev.size(), 100));
        RawLogWriter::Cut cut;
        QVERIFY(w->cut(cut));
    } // destroyed without close(): sealed but not synced
    const std::string path = config.directory + "/raw-000000000001.acr";
    const auto blocks = blockOffsets(path);
    QCOMPARE(blocks.size(), 10u);
    const auto size = fs::file_size(path);
    const std::uint64_t cutAt = bytesIntoLastBlock < 0 ? size - static_cast<std::uint64_t>(-bytesIntoLastBlock)
                                                       : blocks.back() + static_cast<std::uint64_t>(bytesIntoLastBlock);
    fs::resize_file(path, cutAt);

    // The reader: the first nine blocks exactly, the damage named with file and offset, no invention.
    std::vector<RawLogDamage> damage;
    const auto got = readAll(config.directory, &damage);
    checkRecords(got, ev, iota(0, 900), 0, d);
    QVERIFY(!damage.empty());
    bool named = false;
    for (const auto& dm : damage)
        named = named || (dm.path == path && dm.byteOffset == blocks.back());
    QVERIFY2(named, qPrintable(damageText(damage)));

    // The writer reopens: the torn tail is reported and cut off; sequences continue after block 9.
    auto w = openWriter(config, d);
    QVERIFY(w);
    QVERIFY(!w->damage().empty());
    QCOMPARE(w->damage().back().path, path);
    QCOMPARE(w->damage().back().byteOffset, blocks.back());
    QCOMPARE(fs::file_size(path), blocks.back());
    QCOMPARE(w->position().nextSequence, 900u);
    QCOMPARE(w->position().segmentId, 2u);
    QVERIFY(appendAll(*w, ev, 900, ev.size(), 100)); // the lost ones logged again
    QVERIFY(w->close());
    const auto again = readAll(config.directory, &damage);
    QVERIFY2(damage.empty(), qPrintable(damageText(damage)));
    checkRecords(again, ev, iota(0, ev.size()), 0, d);
}

void TestRawLogRecovery::damagedBlock_data()
{
    QTest::addColumn<QString>("where");
    QTest::newRow("payload byte of the middle block") << QStringLiteral("payload");
    QTest::newRow("header byte of the middle block") << QStringLiteral("header");
    QTest::newRow("block magic of the middle block") << QStringLiteral("magic");
    QTest::newRow("segment header") << QStringLiteral("segment");
}

void TestRawLogRecovery::damagedBlock()
{
    QFETCH(QString, where);
    QTemporaryDir tmp;
    Dicts d;
    StreamSpec spec;
    spec.events = 1000;
    spec.variety = 30; // every string is defined by the first block, so losing another loses no strings
    const std::vector<ClickEvent> ev = makeEvents(d, spec);
    RawLogConfig config;
    config.directory = tmp.path().toStdString();
    config.blockRecords = 100;
    {
        auto w = openWriter(config, d);
        QVERIFY(appendAll(*w, ev, 0, ev.size(), 50));
        QVERIFY(w->close());
    }
    const std::string path = config.directory + "/raw-000000000001.acr";
    const auto blocks = blockOffsets(path);
    QCOMPARE(blocks.size(), 10u);
    const std::uint64_t middle = blocks[5];
    std::vector<std::size_t> expected = iota(0, 500);
    const auto rest = iota(600, 1000);
    expected.insert(expected.end(), rest.begin(), rest.end());
    std::uint64_t reportedAt = middle;
    if (where == QLatin1String("payload"))
        flipByte(path, blocks[6] - 10);
    else if (where == QLatin1String("header"))
        flipByte(path, middle + 17); // first sequence
    else if (where == QLatin1String("magic"))
        flipByte(path, middle);
    else {
        flipByte(path, 30); // segment header: facts come from the blocks instead
        expected = iota(0, 1000);
        reportedAt = 0;
    }

    RawLogReader reader(config.directory);
    std::vector<ReadRecord> got;
    QVERIFY(reader.scanFromSequence(0, collector(got)));
    checkRecords(got, ev, expected, 0, d);
    QCOMPARE(reader.damagedBlocks(), 1u);
    QCOMPARE(reader.damage().front().path, path);
    QCOMPARE(reader.damage().front().byteOffset, reportedAt);
    QVERIFY(!reader.damage().front().reason.empty());
    qDebug("%s", qPrintable(damageText(reader.damage())));

    // The segment facts stay truthful: a damaged header is rebuilt from the blocks.
    RawLogReader facts(config.directory);
    const auto segments = facts.segments();
    QCOMPARE(segments.size(), 1u);
    if (where == QLatin1String("segment")) {
        QVERIFY(!segments[0].sealed);
        QCOMPARE(segments[0].records, 1000u);
    }
    // A time-range scan over the same file reports the same damage.
    std::vector<ReadRecord> ranged;
    RawLogReader rangeReader(config.directory);
    rangeReader.scan(INT64_MIN + 100, INT64_MAX - 100, collector(ranged));
    QVERIFY(rangeReader.damagedBlocks() >= 1);
}

void TestRawLogRecovery::corruptImagesNeverLie()
{
    // Every prefix and many random corruptions of a small segment image: decodeRawSegment yields
    // only records identical to the ones written (with their right sequence), and reports damage
    // whenever it yields fewer than all.
    QTemporaryDir tmp;
    Dicts d;
    StreamSpec spec;
    spec.events = 400;
    const std::vector<ClickEvent> ev = makeEvents(d, spec);
    RawLogConfig config;
    config.directory = tmp.path().toStdString();
    config.blockRecords = 40;
    {
        auto w = openWriter(config, d);
        QVERIFY(appendAll(*w, ev, 0, ev.size(), 40));
        QVERIFY(w->close());
    }
    const std::string image = fileBytes(config.directory + "/raw-000000000001.acr");
    std::mt19937_64 rng(9);
    auto check = [&](const std::string& bytes) {
        std::vector<RawLogDamage> damage;
        std::uint64_t yielded = 0;
        bool identical = true;
        decodeRawSegment(
            bytes, "img",
            [&](const RawRecord& r) {
                ++yielded;
                identical
                    = identical && r.sequence < ev.size() && describeDifference(r.event, ev[r.sequence]).isEmpty();
                return true;
            },
            damage);
        return std::make_tuple(identical, yielded, damage.empty());
    };
    for (std::size_t len = 0; len < image.size(); len += 1 + len / 50) {
        const auto [identical, yielded, clean] = check(image.substr(0, len));
        QVERIFY(identical);
        QVERIFY(yielded < ev.size());
        QVERIFY(!clean);
    }
    for (int round = 0; round < 2000; ++round) {
        std::string bytes = image;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int k = 0; k < flips; ++k) {
            char& c = bytes[rng() % bytes.size()];
            c = static_cast<char>(static_cast<unsigned char>(c) ^ (1 + rng() % 255));
        }
        const auto [identical, yielded, clean] = check(bytes);
        QVERIFY(identical);
        if (yielded < ev.size())
            QVERIFY(!clean);
    }
}

void TestRawLogRecovery::retention()
{
    QTemporaryDir tmp;
    Dicts d;
    RawLogConfig config;
    config.directory = tmp.path().toStdString();
    config.segmentMaxAgeMs = 1000;
    {
        auto w = openWriter(config, d);
        // Segment k (1…5) holds events of day k; one append per segment (the age roll separates them).
        for (int day = 1; day <= 5; ++day) {
            StreamSpec spec;
            spec.events = 200;
            spec.seed = static_cast<std::uint64_t>(day);
            spec.oddValues = false;
            std::vector<ClickEvent> ev = makeEvents(d, spec);
            for (auto& e : ev)
                e.eventTimeMs = kStartMs + day * kMsPerDay + (e.eventTimeMs - kStartMs) % kMsPerHour;
            QVERIFY(w->append(ev.data(), ev.size(), kStartMs + day * TimeMs { 5000 }));
        }
        QVERIFY(w->close());
    }
    auto segments = RawLogReader(config.directory).segments();
    QCOMPARE(segments.size(), 5u);
    // Segment 2 as a crashed writer left it: unsealed, so its newest event must be scanned for.
    {
        rawlog::SegmentHeader h;
        h.segmentId = 2;
        h.firstSequence = segments[1].firstSequence;
        std::array<std::uint8_t, rawlog::kSegmentHeaderBytes> bytes {};
        rawlog::encodeSegmentHeader(h, bytes.data());
        std::fstream f(segments[1].path, std::ios::in | std::ios::out | std::ios::binary);
        f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    }
    QVERIFY(!RawLogReader(config.directory).segments()[1].sealed);

    // now − retention falls just before day 3: days 1 and 2 go (the unsealed one by its scanned maximum).
    const TimeMs now = kStartMs + 3 * kMsPerDay - kMsPerHour + 7 * kMsPerDay;
    std::uint64_t freed = 0;
    QCOMPARE(applyRawLogRetention(config.directory, now, 7 * kMsPerDay, &freed), 2u);
    QCOMPARE(freed, segments[0].bytes + segments[1].bytes);
    auto left = RawLogReader(config.directory).segments();
    QCOMPARE(left.size(), 3u);
    QCOMPARE(left.front().segmentId, 3u);
    QCOMPARE(applyRawLogRetention(config.directory, now, 7 * kMsPerDay), 0u); // idempotent
    // Everything is old: all but the highest id (a writer may have it open).
    QCOMPARE(applyRawLogRetention(config.directory, now + 30 * kMsPerDay, 7 * kMsPerDay), 2u);
    left = RawLogReader(config.directory).segments();
    QCOMPARE(left.size(), 1u);
    QCOMPARE(left.front().segmentId, 5u);
    QCOMPARE(left.front().records, 200u);
}

void TestRawLogRecovery::fullFileSystemThenRetry()
{
    QTemporaryDir tmp;
    Dicts d;
    StreamSpec spec;
    spec.events = 2000;
    const std::vector<ClickEvent> ev = makeEvents(d, spec);
    RawLogConfig config;
    config.directory = tmp.path().toStdString();
    config.blockRecords = 100;
    auto w = openWriter(config, d);
    QVERIFY(w);
    const std::string path = config.directory + "/raw-000000000001.acr";

    // A file-size limit stands in for a full disk: writes past it fail with EFBIG (SIGXFSZ ignored).
    rlimit old {};
    QVERIFY(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    const auto oldHandler = std::signal(SIGXFSZ, SIG_IGN);
    QVERIFY(appendAll(*w, ev, 0, 300, 100)); // three blocks written before the disk fills
    const auto limitBytes = static_cast<std::uintmax_t>(fs::file_size(path)) + 6000;
    rlimit low = old;
    low.rlim_cur = limitBytes;
    QVERIFY(::setrlimit(RLIMIT_FSIZE, &low) == 0);
    std::size_t failedAt = ev.size();
    for (std::size_t i = 300; i < ev.size(); i += 100)
        if (!w->append(ev.data() + i, 100, kStartMs)) {
            failedAt = i;
            break;
        }
    RawLogWriter::Cut cut;
    const bool cutWhileFull = w->cut(cut);
    const std::string error = w->error();
    const auto sizeWhileFull = fs::file_size(path);
    std::vector<RawLogDamage> damageWhileFull;
    const auto readWhileFull = readAll(config.directory, &damageWhileFull);
    ::setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, oldHandler);

    QVERIFY(failedAt < ev.size());
    QVERIFY(!cutWhileFull);
    QVERIFY2(error.find("raw log write raw-000000000001.acr: ") == 0, error.c_str());
    QVERIFY2(error.find(std::error_code(EFBIG, std::generic_category()).message()) != std::string::npos, error.c_str());
    // No half block is left behind: what is on disk reads cleanly.
    QVERIFY(sizeWhileFull <= limitBytes);
    QVERIFY2(damageWhileFull.empty(), qPrintable(damageText(damageWhileFull)));
    QVERIFY(readWhileFull.size() % 100 == 0 && readWhileFull.size() >= 300 && readWhileFull.size() < failedAt);
    checkRecords(readWhileFull, ev, iota(0, readWhileFull.size()), 0, d);

    // Space again: the refused call is retried, the rest follows, nothing twice, nothing lost.
    QVERIFY2(w->append(ev.data() + failedAt, 100, kStartMs), w->error().c_str());
    QVERIFY(appendAll(*w, ev, failedAt + 100, ev.size(), 100));
    QVERIFY(w->cut(cut));
    QCOMPARE(cut.end.nextSequence, ev.size());
    std::string syncError;
    QVERIFY(cut.sync(syncError));
    QVERIFY(w->close());
    std::vector<RawLogDamage> damage;
    checkRecords(readAll(config.directory, &damage), ev, iota(0, ev.size()), 0, d);
    QVERIFY2(damage.empty(), qPrintable(damageText(damage)));
}

void TestRawLogRecovery::syncFromAnotherThread()
{
    QTemporaryDir tmp;
    Dicts d;
    StreamSpec spec;
    spec.events = 40000;
    const std::vector<ClickEvent> ev = makeEvents(d, spec);
    RawLogConfig config;
    config.directory = tmp.path().toStdString();
    config.blockRecords = 300;
    config.segmentMaxBytes = 100000; // rolls while cuts are in flight
    auto w = openWriter(config, d);
    QVERIFY(w);

    std::mutex mutex;
    std::condition_variable cv;
    std::deque<RawLogWriter::Cut> queue;
    bool done = false;
    std::atomic<int> synced { 0 };
    std::atomic<int> failed { 0 };
    std::thread syncer([&] {
        std::unique_lock lock(mutex);
        while (true) {
            cv.wait(lock, [&] { return done || !queue.empty(); });
            if (queue.empty())
                return;
            RawLogWriter::Cut c = std::move(queue.front());
            queue.pop_front();
            lock.unlock();
            std::string error;
            (c.sync(error) ? synced : failed)++;
            lock.lock();
        }
    });
    RawLogPosition last;
    int cuts = 0;
    bool ok = true;
    for (std::size_t i = 0; i < ev.size() && ok; i += 1000) {
        ok = appendAll(*w, ev, i, i + 1000, 250, kStartMs + static_cast<TimeMs>(i));
        RawLogWriter::Cut c;
        ok = ok && w->cut(c);
        ok = ok && (c.end.segmentId > last.segmentId || c.end.byteOffset > last.byteOffset);
        last = c.end;
        ++cuts;
        std::lock_guard lock(mutex);
        queue.push_back(std::move(c));
        cv.notify_one();
    }
    {
        std::lock_guard lock(mutex);
        done = true;
        cv.notify_one();
    }
    syncer.join();
    QVERIFY(ok);
    QCOMPARE(failed.load(), 0);
    QCOMPARE(synced.load(), cuts);
    QCOMPARE(last.nextSequence, ev.size());
    QVERIFY(w->close());
    checkRecords(readAll(config.directory), ev, iota(0, ev.size()), 0, d);
    QVERIFY(RawLogReader(config.directory).segments().size() > 5);
}

QTEST_GUILESS_MAIN(TestRawLogRecovery)
#include "tst_raw_log_recovery.moc"
