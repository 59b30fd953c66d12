// The watermark at arrival in the raw click log (format 2): each record carries the watermark the
// speed layer judged it against, so a reader can tell every raw event's lateness. Round trips of
// arbitrary watermarks, format 1 segments still read (without it) next to format 2 ones, unknown
// block flags and versions refused, and a pipeline run where a click injected late by a known delay
// is logged with exactly that lateness and as dropped.

#include "raw_log_test_support.h"

#include "ingest/vector_source.h"
#include "pipeline/pipeline.h"
#include "storage/checkpointer.h"
#include "storage/raw_segment_scanner.h"

using namespace adclick::engine;
using namespace adclick::test;

namespace {

struct Logged {
    std::uint64_t sequence = 0;
    ClickEvent event;
    TimeMs watermarkMs = kMinTimeMs;
};

std::function<bool(const RawRecord&)> logged(std::vector<Logged>& out)
{
    return [&out](const RawRecord& r) {
        out.push_back({ r.sequence, r.event, r.watermarkAtArrivalMs });
        return true;
    };
}

/// A segment as a format 1 writer left it: version 1 header, one block without flags.
std::string formatOneSegment(std::uint64_t segmentId, const std::vector<ClickEvent>& events)
{
    using namespace rawlog;
    std::vector<std::uint8_t> dict(64);
    std::uint8_t* p = putVarint(dict.data(), 1); // one user agent: uaId 0 = "ua"
    p = putVarint(p, 0);
    p = putVarint(p, 2);
    *p++ = 'u';
    *p++ = 'a';
    p = putVarint(p, 0); // no named ads
    dict.resize(static_cast<std::size_t>(p - dict.data()));
    std::vector<std::uint8_t> records(events.size() * kMaxRecordBytes);
    RecordContext ctx;
    ctx.reset();
    std::uint8_t* r = records.data();
    BlockHeader b;
    b.minEventTimeMs = INT64_MAX;
    b.maxEventTimeMs = INT64_MIN;
    for (const ClickEvent& e : events) {
        r = encodeRecord(r, e, ctx);
        b.minEventTimeMs = std::min(b.minEventTimeMs, e.eventTimeMs);
        b.maxEventTimeMs = std::max(b.maxEventTimeMs, e.eventTimeMs);
    }
    records.resize(static_cast<std::size_t>(r - records.data()));
    b.payloadBytes = static_cast<std::uint32_t>(dict.size() + records.size());
    b.dictBytes = static_cast<std::uint32_t>(dict.size());
    b.records = static_cast<std::uint32_t>(events.size());
    b.dictCrc = crc32c(0, dict.data(), dict.size());
    b.payloadCrc = crc32c(b.dictCrc, records.data(), records.size());
    b.flags = 0;

    SegmentHeader h;
    h.segmentId = segmentId;
    h.records = events.size();
    h.minEventTimeMs = b.minEventTimeMs;
    h.maxEventTimeMs = b.maxEventTimeMs;
    h.dataEndBytes = kSegmentHeaderBytes + kBlockHeaderBytes + b.payloadBytes;
    h.sealed = true;
    std::string image(h.dataEndBytes, '\0');
    auto* out = reinterpret_cast<std::uint8_t*>(image.data());
    encodeSegmentHeader(h, out);
    const std::uint16_t version = 1;
    std::memcpy(out + 8, &version, 2);
    std::memset(out + 12, 0, 4);
    const std::uint32_t crc = crc32c(0, out, kSegmentHeaderBytes);
    std::memcpy(out + 12, &crc, 4);
    encodeBlockHeader(b, out + kSegmentHeaderBytes);
    std::memcpy(out + kSegmentHeaderBytes + kBlockHeaderBytes, dict.data(), dict.size());
    std::memcpy(out + kSegmentHeaderBytes + kBlockHeaderBytes + dict.size(), records.data(), records.size());
    return image;
}

ClickEvent simpleEvent(TimeMs eventTimeMs, std::int64_t offset)
{
    ClickEvent e;
    e.eventTimeMs = eventTimeMs;
    e.userHash = static_cast<std::uint64_t>(offset) * 7919 + 1;
    e.offset = offset;
    e.ip[10] = e.ip[11] = 0xff;
    e.ip[15] = static_cast<std::uint8_t>(offset);
    e.adId = 1 + static_cast<AdId>(offset % 10);
    e.country = packCountry('D', 'E');
    e.device = DeviceClass::Mobile;
    return e;
}

} // namespace

class TestRawLogLateness : public QObject {
    Q_OBJECT

private slots:
    void arrivalWatermarksRoundTrip();
    void formatOneSegmentsStillRead();
    void unknownFlagsAndVersionsRefused();
    void lateClickIsLoggedWithItsLateness();
};

void TestRawLogLateness::arrivalWatermarksRoundTrip()
{
    QTemporaryDir tmp;
    Dicts d;
    StreamSpec spec;
    spec.events = 20000;
    spec.seed = 77;
    const std::vector<ClickEvent> ev = makeEvents(d, spec);
    std::mt19937_64 rng(5);
    std::vector<TimeMs> wm(ev.size());
    for (std::size_t i = 0; i < ev.size(); ++i) {
        // Mostly a slowly rising watermark; also none yet, jumps back and forth, and the extremes.
        const auto kind = rng() % 100;
        wm[i] = kind < 90 ? kStartMs + static_cast<TimeMs>(i) * 15
            : kind < 94   ? kMinTimeMs
            : kind < 98   ? static_cast<TimeMs>(rng())
            : kind < 99   ? INT64_MIN
                          : INT64_MAX;
    }
    RawLogConfig config;
    config.directory = tmp.path().toStdString() + "/raw";
    config.blockRecords = 700;
    config.segmentMaxBytes = 200000;
    auto w = openWriter(config, d);
    QVERIFY(w);
    const std::size_t withoutFrom = 15000; // a writer not given the watermarks logs "unknown"
    for (std::size_t i = 0; i < ev.size(); i += 999) {
        const std::size_t n = std::min<std::size_t>(999, ev.size() - i);
        const std::size_t cut = std::min(n, i < withoutFrom ? withoutFrom - i : 0);
        QVERIFY(w->append(ev.data() + i, cut, kStartMs, wm.data() + i));
        QVERIFY(w->append(ev.data() + i + cut, n - cut, kStartMs));
    }
    QVERIFY2(w->close(), w->error().c_str());

    std::vector<Logged> got;
    RawLogReader reader(config.directory);
    reader.scanFromSequence(0, logged(got));
    QVERIFY2(reader.damage().empty(), qPrintable(damageText(reader.damage())));
    QCOMPARE(got.size(), ev.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        QCOMPARE(got[i].sequence, i);
        QVERIFY2(describeDifference(got[i].event, ev[i]).isEmpty(), qPrintable(QString::number(i)));
        QCOMPARE(got[i].watermarkMs, i < withoutFrom ? wm[i] : kMinTimeMs);
    }
    // The in-memory decoder (the fuzz target's entry point) agrees, file by file.
    std::vector<Logged> decoded;
    std::vector<RawLogDamage> damage;
    for (const RawSegmentInfo& s : reader.segments())
        decodeRawSegment(fileBytes(s.path), s.path, logged(decoded), damage);
    QVERIFY2(damage.empty(), qPrintable(damageText(damage)));
    QCOMPARE(decoded.size(), got.size());
    for (std::size_t i = 0; i < decoded.size(); ++i)
        QCOMPARE(decoded[i].watermarkMs, got[i].watermarkMs);
    QVERIFY(reader.segments().size() > 3);
}

void TestRawLogLateness::formatOneSegmentsStillRead()
{
    QTemporaryDir tmp;
    const std::string dir = tmp.path().toStdString() + "/raw";
    fs::create_directories(dir);
    std::vector<ClickEvent> old;
    for (int i = 0; i < 50; ++i)
        old.push_back(simpleEvent(kStartMs + i * 1000, i));
    {
        std::ofstream f(dir + "/" + rawlog::segmentFileName(1), std::ios::binary);
        const std::string image = formatOneSegment(1, old);
        f.write(image.data(), static_cast<std::streamsize>(image.size()));
    }
    // A format 2 writer continues the log in a new segment; both read, without damage.
    Dicts d;
    RawLogConfig config;
    config.directory = dir;
    auto w = openWriter(config, d);
    QVERIFY(w);
    QCOMPARE(w->position().nextSequence, old.size());
    std::vector<ClickEvent> fresh;
    std::vector<TimeMs> wm;
    for (int i = 0; i < 30; ++i) {
        ClickEvent e = simpleEvent(kStartMs + 50000 + i * 1000, 50 + i);
        e.uaId = d.uaIds[0];
        fresh.push_back(e);
        wm.push_back(kStartMs + 40000 + i * 1000);
    }
    QVERIFY(w->append(fresh.data(), fresh.size(), kStartMs, wm.data()));
    QVERIFY2(w->close(), w->error().c_str());

    RawLogReader reader(dir);
    std::vector<Logged> got;
    reader.scanFromSequence(0, logged(got));
    QVERIFY2(reader.damage().empty(), qPrintable(damageText(reader.damage())));
    QCOMPARE(got.size(), old.size() + fresh.size());
    for (std::size_t i = 0; i < old.size(); ++i) {
        QVERIFY(describeDifference(got[i].event, old[i]).isEmpty());
        QCOMPARE(got[i].watermarkMs, kMinTimeMs); // format 1 did not record it
    }
    for (std::size_t i = 0; i < fresh.size(); ++i) {
        QVERIFY(describeDifference(got[old.size() + i].event, fresh[i]).isEmpty());
        QCOMPARE(got[old.size() + i].watermarkMs, wm[i]);
    }
    // A time-range scan (the drill-down's) reaches into the old segment too.
    std::vector<Logged> range;
    RawLogReader(dir).scan(kStartMs + 10000, kStartMs + 60000, logged(range));
    QCOMPARE(range.size(), std::size_t { 40 + 10 });
}

void TestRawLogLateness::unknownFlagsAndVersionsRefused()
{
    using namespace rawlog;
    std::array<std::uint8_t, kBlockHeaderBytes> block {};
    BlockHeader b;
    b.records = 1;
    b.payloadBytes = 100;
    b.flags = kBlockArrivalWatermark;
    encodeBlockHeader(b, block.data());
    BlockHeader back;
    const char* why = nullptr;
    QVERIFY(decodeBlockHeader(block.data(), back, why));
    QCOMPARE(back.flags, kBlockArrivalWatermark);
    b.flags = 2; // a flag this reader does not know: it cannot tell how records are laid out
    encodeBlockHeader(b, block.data());
    QVERIFY(!decodeBlockHeader(block.data(), back, why));

    std::array<std::uint8_t, kSegmentHeaderBytes> seg {};
    SegmentHeader h;
    encodeSegmentHeader(h, seg.data());
    SegmentHeader out;
    std::uint16_t version = 0;
    QCOMPARE(decodeSegmentHeader(seg.data(), out, version), SegmentHeaderStatus::Ok);
    QCOMPARE(version, kFormatVersion);
    const std::uint16_t future = kFormatVersion + 1;
    std::memcpy(seg.data() + 8, &future, 2);
    std::memset(seg.data() + 12, 0, 4);
    const std::uint32_t crc = crc32c(0, seg.data(), seg.size());
    std::memcpy(seg.data() + 12, &crc, 4);
    QCOMPARE(decodeSegmentHeader(seg.data(), out, version), SegmentHeaderStatus::UnsupportedVersion);
}

void TestRawLogLateness::lateClickIsLoggedWithItsLateness()
{
    // One partition, in order, 10 clicks/s for 200 s; then one click whose event time is 10 s after
    // the start: it arrives 184.9 s behind the watermark (max event time 199.9 s − 5 s bound).
    constexpr TimeMs kBoundMs = 5000;
    constexpr int kOnTime = 2000;
    constexpr TimeMs kLateEventMs = kStartMs + 10000;
    constexpr TimeMs kExpectedLatenessMs = (kOnTime - 1) * 100 - kBoundMs - 10000;
    std::vector<VectorSource::Record> records;
    for (int i = 0; i < kOnTime; ++i) {
        VectorSource::Record r;
        r.event = simpleEvent(kStartMs + i * 100, i);
        r.processingTimeMs = kStartMs + i * 100 + 50;
        records.push_back(r);
    }
    VectorSource::Record late;
    late.event = simpleEvent(kLateEventMs, kOnTime);
    late.processingTimeMs = kStartMs + kOnTime * 100 + 50;
    records.push_back(late);

    QTemporaryDir tmp;
    AdDictionary ads;
    UserAgentDictionary uas;
    VirtualClock clock(kStartMs);
    CheckpointerConfig cc;
    cc.dataDirectory = tmp.path().toStdString();
    cc.sourceKey = "vector";
    std::string error;
    auto checkpointer = Checkpointer::open(cc, ads, uas, error);
    QVERIFY2(checkpointer, error.c_str());
    VectorSource source(std::move(records), 1);
    source.setBatchSizes(37, 300, 3);
    PipelineConfig pc;
    pc.watermark.boundMs = kBoundMs;
    pc.window.allowedLatenessMs = 0;
    pc.window.latePolicy = LatePolicy::Drop;
    Pipeline pipeline(pc, source, clock);
    RecoveryReport recovery;
    QVERIFY2(checkpointer->recover(pipeline, source, recovery, error), error.c_str());
    while (pipeline.step() != PollResult::EndOfStream)
        checkpointer->afterStep();
    pipeline.finish();
    QVERIFY2(checkpointer->close(error), error.c_str());
    QCOMPARE(pipeline.counters().lateDropped, std::uint64_t { 1 });

    std::vector<Logged> got;
    RawLogReader reader(cc.dataDirectory + "/raw");
    reader.scanFromSequence(0, logged(got));
    QVERIFY2(reader.damage().empty(), qPrintable(damageText(reader.damage())));
    QCOMPARE(got.size(), std::size_t { kOnTime + 1 });
    QVERIFY(got[0].watermarkMs <= kMinTimeMs); // nothing seen before the first click
    for (int i = 1; i < kOnTime; ++i) {
        // In order on one partition: the watermark before click i is click i−1's time − bound.
        QCOMPARE(got[static_cast<std::size_t>(i)].watermarkMs, kStartMs + (i - 1) * 100 - kBoundMs);
        QCOMPARE(got[static_cast<std::size_t>(i)].event.disposition(), ClickEvent::Disposition::Counted);
    }
    const Logged& l = got.back();
    QCOMPARE(l.event.eventTimeMs, kLateEventMs);
    QCOMPARE(l.event.disposition(), ClickEvent::Disposition::LateDropped);
    QCOMPARE(l.watermarkMs - l.event.eventTimeMs, kExpectedLatenessMs);
    // The speed layer's lateness histogram counted the same lateness.
    const auto snap = pipeline.snapshot();
    QCOMPARE(snap->lateness.counts[static_cast<std::size_t>(LatenessHistogram::bucketOf(kExpectedLatenessMs))],
        std::uint64_t { 1 });
}

QTEST_GUILESS_MAIN(TestRawLogLateness)
#include "tst_raw_log_lateness.moc"
