// The raw click log: bit-identical round trips (all fields, dispositions, IPv4/IPv6, named ads,
// many user agents, sequences), range and sequence scans against a brute-force filter with block
// and segment skipping, rolling by size and age, recovery truncation, torn tails and flipped bytes
// (reported with path and offset, never invented records), retention, a full file system
// (RLIMIT_FSIZE) with a later retry, and Cut::sync on another thread.

#include "core/ad_dictionary.h"
#include "core/clock.h"
#include "ingest/synthetic_source.h"
#include "ingest/user_agent.h"
#include "storage/raw_log.h"
#include "storage/raw_log_format.h"

#include <QTemporaryDir>
#include <QtTest>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sys/resource.h>
#include <system_error>
#include <thread>
#include <unistd.h>

using namespace adclick::engine;
namespace fs = std::filesystem;

namespace {

constexpr TimeMs kStartMs = 1795845600000LL; // 2026-11-28T06:00:00Z

struct Dicts {
    UserAgentDictionary uas;
    AdDictionary ads;
    std::vector<std::uint16_t> uaIds;
    std::vector<AdId> namedAds;

    Dicts()
    {
        for (int i = 0; i < 400; ++i)
            uaIds.push_back(
                uas.intern("Mozilla/5.0 (test agent " + std::to_string(i) + ") " + std::string(i % 97, 'x')));
        uaIds.push_back(uas.intern(""));
        for (int i = 0; i < 60; ++i)
            namedAds.push_back(*ads.intern("campaign-" + std::to_string(i) + "-ü"));
    }
};

struct StreamSpec {
    std::size_t events = 10000;
    std::uint64_t seed = 1;
    TimeMs stepMs = 20;
    TimeMs jitterMs = 3000;
    bool oddValues = true; ///< extreme times, escaped flag/device bytes, huge partitions, zero click ids
    std::size_t variety = 0; ///< > 0: only this many user agents / named ads, all used by the first records
};

std::vector<ClickEvent> makeEvents(Dicts& d, const StreamSpec& spec)
{
    std::mt19937_64 rng(spec.seed);
    std::vector<ClickEvent> out(spec.events);
    std::vector<std::int64_t> offsets(5, 1000);
    for (std::size_t i = 0; i < spec.events; ++i) {
        ClickEvent& e = out[i];
        e.eventTimeMs
            = kStartMs + static_cast<TimeMs>(i) * spec.stepMs - static_cast<TimeMs>(rng() % (spec.jitterMs + 1));
        e.userHash = rng();
        e.clickId = (rng() % 10 == 0 && spec.oddValues) ? 0 : rng() | 1;
        const auto p = static_cast<std::uint32_t>(rng() % 5);
        e.partition = p == 4 && spec.oddValues ? (rng() % 2 ? 100u : 0xFFFFFFFFu) : p;
        e.offset = offsets[p]++;
        if (spec.oddValues && rng() % 50 == 0)
            e.offset = static_cast<std::int64_t>(rng()); // any value, negative included
        const auto kind = rng() % 20;
        if (kind < 14) { // IPv4-mapped
            e.ip[10] = e.ip[11] = 0xff;
            for (int b = 12; b < 16; ++b)
                e.ip[b] = static_cast<std::uint8_t>(rng());
        } else if (kind < 19) {
            for (auto& b : e.ip)
                b = static_cast<std::uint8_t>(rng());
            e.flags = ClickEvent::kFlagIpv6;
        } else {
            e.ip[15] = 1; // ::1, not IPv4-mapped
            e.flags = ClickEvent::kFlagIpv6;
        }
        e.setDisposition(static_cast<ClickEvent::Disposition>(rng() % 4));
        const auto ad = rng() % 10;
        const std::size_t uaCount = spec.variety ? spec.variety : d.uaIds.size();
        const std::size_t adCount = spec.variety ? std::min(spec.variety, d.namedAds.size()) : d.namedAds.size();
        e.adId = ad < 7 ? 1 + static_cast<AdId>(rng() % 1000)
            : ad < 9    ? d.namedAds[rng() % adCount]
                        : static_cast<AdId>(rng() % kFirstNamedAdId);
        e.uaId = rng() % 200 == 0 && !spec.variety ? UserAgentDictionary::kOverflowId : d.uaIds[rng() % uaCount];
        if (i < spec.variety) {
            e.uaId = d.uaIds[i];
            e.adId = d.namedAds[i % adCount];
        }
        e.country = packCountry(static_cast<char>('A' + rng() % 26), static_cast<char>('A' + rng() % 26));
        e.device = static_cast<DeviceClass>(rng() % kDeviceClassCount);
        if (spec.oddValues && rng() % 100 == 0) { // bytes outside the known ranges still round-trip
            e.flags = static_cast<std::uint8_t>(rng());
            e.device = static_cast<DeviceClass>(rng());
        }
        if (spec.oddValues && i % 997 == 3)
            e.eventTimeMs = (rng() % 2) ? INT64_MIN + static_cast<TimeMs>(rng() % 10) : INT64_MAX - 5;
    }
    return out;
}

QString describeDifference(const ClickEvent& a, const ClickEvent& b)
{
    QStringList d;
    if (a.eventTimeMs != b.eventTimeMs)
        d << QStringLiteral("eventTimeMs %1 != %2").arg(a.eventTimeMs).arg(b.eventTimeMs);
    if (a.userHash != b.userHash)
        d << QStringLiteral("userHash");
    if (a.clickId != b.clickId)
        d << QStringLiteral("clickId");
    if (a.offset != b.offset)
        d << QStringLiteral("offset %1 != %2").arg(a.offset).arg(b.offset);
    if (a.partition != b.partition)
        d << QStringLiteral("partition");
    if (a.ip != b.ip)
        d << QStringLiteral("ip");
    if (a.adId != b.adId)
        d << QStringLiteral("adId");
    if (a.uaId != b.uaId)
        d << QStringLiteral("uaId");
    if (a.country != b.country)
        d << QStringLiteral("country");
    if (a.device != b.device)
        d << QStringLiteral("device");
    if (a.flags != b.flags)
        d << QStringLiteral("flags %1 != %2").arg(a.flags).arg(b.flags);
    return d.join(QStringLiteral(", "));
}

struct ReadRecord {
    ClickEvent event;
    std::uint64_t sequence = 0;
    std::string userAgent;
    std::string adName;
};

std::function<bool(const RawRecord&)> collector(std::vector<ReadRecord>& out)
{
    return [&out](const RawRecord& r) {
        out.push_back({ r.event, r.sequence, std::string(r.userAgent), std::string(r.adName) });
        return true;
    };
}

std::vector<ReadRecord> readAll(const std::string& dir, std::vector<RawLogDamage>* damage = nullptr)
{
    std::vector<ReadRecord> out;
    RawLogReader reader(dir);
    reader.scanFromSequence(0, collector(out));
    if (damage)
        *damage = reader.damage();
    return out;
}

QString damageText(const std::vector<RawLogDamage>& damage)
{
    QStringList l;
    for (const auto& d : damage)
        l << QString::fromStdString(d.path + " @" + std::to_string(d.byteOffset) + ": " + d.reason);
    return l.join(QStringLiteral("\n"));
}

/// Checks records against the appended events: record k must be events[expected[k]] with
/// sequence firstSequence + expected[k], and carry its strings.
void checkRecords(const std::vector<ReadRecord>& got, const std::vector<ClickEvent>& events,
    const std::vector<std::size_t>& expected, std::uint64_t firstSequence, const Dicts& d)
{
    QCOMPARE(got.size(), expected.size());
    for (std::size_t k = 0; k < got.size(); ++k) {
        const ClickEvent& want = events[expected[k]];
        const QString diff = describeDifference(got[k].event, want);
        QVERIFY2(diff.isEmpty(), qPrintable(QStringLiteral("record %1: %2").arg(k).arg(diff)));
        QCOMPARE(got[k].sequence, firstSequence + expected[k]);
        QCOMPARE(got[k].userAgent, std::string(d.uas.name(want.uaId)));
        QCOMPARE(got[k].adName, want.adId >= kFirstNamedAdId ? d.ads.format(want.adId) : std::string());
    }
}

std::vector<std::size_t> iota(std::size_t from, std::size_t to)
{
    std::vector<std::size_t> v;
    for (std::size_t i = from; i < to; ++i)
        v.push_back(i);
    return v;
}

std::unique_ptr<RawLogWriter> openWriter(
    const RawLogConfig& config, const Dicts& d, const RawLogPosition* recoverTo = nullptr)
{
    std::string error;
    auto w = RawLogWriter::open(config, recoverTo, d.uas, d.ads, error);
    if (!w)
        qWarning("open: %s", error.c_str());
    return w;
}

bool appendAll(RawLogWriter& w, const std::vector<ClickEvent>& events, std::size_t from, std::size_t to,
    std::size_t batch, TimeMs processingMs = kStartMs)
{
    for (std::size_t i = from; i < to; i += batch)
        if (!w.append(events.data() + i, std::min(batch, to - i), processingMs))
            return false;
    return true;
}

/// Byte offsets of the blocks of a segment file (walking valid headers from the segment header).
std::vector<std::uint64_t> blockOffsets(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::uint64_t> out;
    std::uint64_t off = rawlog::kSegmentHeaderBytes;
    while (off + rawlog::kBlockHeaderBytes <= bytes.size()) {
        rawlog::BlockHeader h;
        const char* why = nullptr;
        if (!rawlog::decodeBlockHeader(reinterpret_cast<const std::uint8_t*>(bytes.data() + off), h, why))
            break;
        out.push_back(off);
        off += rawlog::kBlockHeaderBytes + h.payloadBytes;
    }
    return out;
}

void flipByte(const std::string& path, std::uint64_t offset)
{
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x5a);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(&c, 1);
}

std::string fileBytes(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    return { std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>() };
}

} // namespace

class TestRawLog : public QObject {
    Q_OBJECT

private slots:
    void roundTrip_data();
    void roundTrip();
    void rangeScan_data();
    void rangeScan();
    void rollBySize();
    void rollByAge();
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

void TestRawLog::recoverToTruncates_data()
{
    QTest::addColumn<int>("cutAfter");
    QTest::addColumn<int>("segmentMaxBytes");
    QTest::newRow("later segments deleted") << 1500 << 20000;
    QTest::newRow("inside one segment") << 1500 << (64 << 20);
    QTest::newRow("at the start") << 0 << 20000;
}

void TestRawLog::recoverToTruncates()
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

void TestRawLog::truncatedLastBlock_data()
{
    QTest::addColumn<int>("bytesIntoLastBlock"); // < 0: counted back from the end of the block
    QTest::newRow("mid payload") << -100;
    QTest::newRow("one byte short") << -1;
    QTest::newRow("inside the block header") << 20;
    QTest::newRow("header only") << int(rawlog::kBlockHeaderBytes);
}

void TestRawLog::truncatedLastBlock()
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

void TestRawLog::damagedBlock_data()
{
    QTest::addColumn<QString>("where");
    QTest::newRow("payload byte of the middle block") << QStringLiteral("payload");
    QTest::newRow("header byte of the middle block") << QStringLiteral("header");
    QTest::newRow("block magic of the middle block") << QStringLiteral("magic");
    QTest::newRow("segment header") << QStringLiteral("segment");
}

void TestRawLog::damagedBlock()
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

void TestRawLog::corruptImagesNeverLie()
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

void TestRawLog::retention()
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

void TestRawLog::fullFileSystemThenRetry()
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

void TestRawLog::syncFromAnotherThread()
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

QTEST_APPLESS_MAIN(TestRawLog)
#include "tst_raw_log.moc"
