// The synthetic generator as a source: byte-identical runs for any batch sizes, resume at any
// sequence or partition position, positions and processing time, limit, text form == fast path.

#include "synthetic_test_support.h"

using namespace adclick::engine;
using namespace adclick::test;

class TestSyntheticSource : public QObject {
    Q_OBJECT

private slots:
    void deterministicAcrossBatchSizes_data()
    {
        QTest::addColumn<bool>("noisy");
        QTest::addColumn<bool>("clickIds");
        QTest::newRow("clean") << false << false;
        QTest::newRow("late, duplicates, malformed, click ids") << true << true;
        QTest::newRow("noisy without click ids") << true << false;
    }

    void deterministicAcrossBatchSizes()
    {
        QFETCH(bool, noisy);
        QFETCH(bool, clickIds);
        GeneratorConfig c = noisy ? noisyConfig() : cleanConfig();
        c.clickIds = clickIds;
        constexpr std::uint64_t kRecords = 120000;
        Env a(c), b(c);
        std::mt19937_64 rng(9);
        const Run ra = collect(a.source, kRecords, 4096);
        const Run rb = collect(b.source, kRecords, 700, &rng);
        QCOMPARE(ra.events.size() + ra.rejected.size(), kRecords);
        QVERIFY(sameEvents(ra.events, rb.events));
        QVERIFY(sameRejected(ra.rejected, rb.rejected));
        QCOMPARE(a.source.nextSequence(), kRecords);
        if (noisy)
            QVERIFY(!ra.rejected.empty());
        else
            QVERIFY(ra.rejected.empty());

        // A different seed gives different events.
        c.seed += 1;
        Env other(c);
        QVERIFY(!sameEvents(ra.events, collect(other.source, kRecords, 4096).events));
    }

    void resumeAtSequence_data()
    {
        QTest::addColumn<quint64>("resumeAt");
        for (quint64 n : { 0ULL, 1ULL, 999ULL, 1000ULL, 12345ULL, 77777ULL, 99999ULL })
            QTest::newRow(QByteArray::number(n).constData()) << n;
    }

    void resumeAtSequence()
    {
        QFETCH(quint64, resumeAt);
        constexpr std::uint64_t kRecords = 100000;
        const GeneratorConfig c = noisyConfig();
        Env full(c);
        full.source.setLimit(kRecords);
        const Run whole = collect(full.source, kRecords, 4096);

        // A fresh source (as after a restart)...
        Env resumed(c);
        resumed.source.setLimit(kRecords);
        resumed.source.seekSequence(resumeAt);
        QCOMPARE(resumed.source.nextSequence(), resumeAt);
        const Run rest = collect(resumed.source, kRecords, 3000);
        const Run expected = tail(whole, resumeAt, c.partitions);
        QVERIFY(sameEvents(rest.events, expected.events));
        QVERIFY(sameRejected(rest.rejected, expected.rejected));

        // ... and the same source jumping back.
        Env again(c);
        again.source.setLimit(kRecords);
        collect(again.source, 5000, 1024);
        again.source.seekSequence(resumeAt);
        const Run rest2 = collect(again.source, kRecords, 5000);
        QVERIFY(sameEvents(rest2.events, expected.events));
        QVERIFY(sameRejected(rest2.rejected, expected.rejected));
    }

    void seekPartitions_data()
    {
        QTest::addColumn<quint32>("partitions");
        QTest::addColumn<quint64>("cut");
        QTest::newRow("4 partitions, cut 0") << 4u << 0ULL;
        QTest::newRow("4 partitions, cut 2") << 4u << 2ULL;
        QTest::newRow("4 partitions, cut 40001") << 4u << 40001ULL;
        QTest::newRow("1 partition") << 1u << 777ULL;
        QTest::newRow("7 partitions") << 7u << 50003ULL;
    }

    void seekPartitions()
    {
        QFETCH(quint32, partitions);
        QFETCH(quint64, cut);
        constexpr std::uint64_t kRecords = 80000;
        GeneratorConfig c = noisyConfig();
        c.partitions = partitions;
        Env full(c);
        full.source.setLimit(kRecords);
        const Run whole = collect(full.source, kRecords, 4096);
        QCOMPARE(full.source.partitionCount(), partitions);

        // Positions a checkpoint taken after records [0, cut) would hold: the last offset per
        // partition (-1 when the partition has not produced anything yet). Sought in reverse
        // order: the generator resumes at the smallest implied sequence.
        Env resumed(c);
        resumed.source.setLimit(kRecords);
        collect(resumed.source, 10, 10); // some progress before the seek, as in a live rewind
        for (std::uint32_t p = partitions; p-- > 0;) {
            const std::int64_t last = cut > p ? static_cast<std::int64_t>((cut - 1 - p) / partitions) : -1;
            QVERIFY(resumed.source.seek(p, last));
        }
        QCOMPARE(resumed.source.nextSequence(), cut);
        const Run rest = collect(resumed.source, kRecords, 4096);
        const Run expected = tail(whole, cut, partitions);
        QVERIFY(sameEvents(rest.events, expected.events));
        QVERIFY(sameRejected(rest.rejected, expected.rejected));

        QVERIFY(!resumed.source.seek(partitions, 0)); // no such partition
    }

    void positionsAndProcessingTime()
    {
        GeneratorConfig c = cleanConfig();
        c.partitions = 3;
        c.ratePerSec = 3; // 333.33 ms apart: floor(n·1000/3)
        Env env(c);
        QCOMPARE(env.source.processingTimeOf(0), c.startTimeMs);
        QCOMPARE(env.source.processingTimeOf(1), c.startTimeMs + 333);
        QCOMPARE(env.source.processingTimeOf(2), c.startTimeMs + 666);
        QCOMPARE(env.source.processingTimeOf(3), c.startTimeMs + 1000);
        IngestBatch b;
        QCOMPARE(env.source.poll(b, 5), PollResult::Events);
        QCOMPARE(b.events.size(), std::size_t { 5 });
        QCOMPARE(b.processingTimeMs, env.source.processingTimeOf(4));
        for (std::size_t i = 0; i < b.events.size(); ++i) {
            QCOMPARE(b.events[i].partition, static_cast<std::uint32_t>(i % 3));
            QCOMPARE(b.events[i].offset, static_cast<std::int64_t>(i / 3));
            QVERIFY(b.events[i].eventTimeMs <= env.source.processingTimeOf(i));
            QVERIFY(b.events[i].eventTimeMs >= env.source.processingTimeOf(i) - c.jitterMaxMs);
        }
        QVERIFY(env.source.describe().find("seed=3") != std::string::npos);
    }

    void limitEndsTheStream()
    {
        Env env(cleanConfig());
        env.source.setLimit(1000);
        IngestBatch b;
        QCOMPARE(env.source.poll(b, 600), PollResult::Events);
        QCOMPARE(b.events.size(), std::size_t { 600 });
        b.clear();
        QCOMPARE(env.source.poll(b, 600), PollResult::EndOfStream);
        QCOMPARE(b.events.size(), std::size_t { 400 });
        b.clear();
        QCOMPARE(env.source.poll(b, 600), PollResult::EndOfStream);
        QVERIFY(b.events.empty());
        QCOMPARE(env.source.nextSequence(), 1000ULL);
    }

    // recordText → encode → decode gives exactly the fast-path event; malformed records give
    // the same bytes and the same rejection reason.

    void textFormMatchesFastPath_data()
    {
        QTest::addColumn<bool>("clickIds");
        QTest::newRow("click ids") << true;
        QTest::newRow("no click ids") << false;
    }

    void textFormMatchesFastPath()
    {
        QFETCH(bool, clickIds);
        constexpr std::uint64_t kRecords = 20000;
        GeneratorConfig c = noisyConfig();
        c.clickIds = clickIds;
        c.duplicateFraction = 0.05;
        c.malformedFraction = 0.03;
        c.ipv6Fraction = 0.4;
        Env env(c);
        const Run run = collect(env.source, kRecords, 2048);
        std::vector<const ClickEvent*> bySequence(kRecords, nullptr);
        std::vector<const RejectedRecord*> rejectedBySequence(kRecords, nullptr);
        for (const ClickEvent& e : run.events)
            bySequence[sequenceOf(e.position(), c.partitions)] = &e;
        for (const RejectedRecord& r : run.rejected)
            rejectedBySequence[sequenceOf(r.position, c.partitions)] = &r;

        JsonCodec codec(env.ads, env.userAgents);
        std::set<RejectReason> reasons;
        std::size_t texts = 0;
        for (std::uint64_t n = 0; n < kRecords; ++n) {
            ClickRecordText text;
            std::string bad;
            ClickEvent decoded;
            RejectReason reason = RejectReason::NotJson;
            if (!env.source.recordText(n, text, bad)) {
                const RejectedRecord* r = rejectedBySequence[n];
                QVERIFY2(r, qPrintable(QString("record %1 is malformed as text but not rejected").arg(n)));
                QCOMPARE(r->bytes, bad.substr(0, 4096));
                QCOMPARE(codec.decode(bad, decoded, reason), JsonCodec::Status::Rejected);
                QCOMPARE(reason, r->reason);
                reasons.insert(reason);
                continue;
            }
            ++texts;
            const ClickEvent* e = bySequence[n];
            QVERIFY2(e, qPrintable(QString("record %1 has text but no event").arg(n)));
            QCOMPARE(text.clickId.empty(), !clickIds);
            QCOMPARE(text.userId.front(), 'u');
            const std::string json = JsonCodec::encode(text);
            QCOMPARE(codec.decode(json, decoded, reason), JsonCodec::Status::Accepted);
            decoded.setPosition(e->position());
            QCOMPARE(decoded.eventTimeMs, e->eventTimeMs);
            QCOMPARE(decoded.userHash, e->userHash);
            QCOMPARE(decoded.userHash, hashUserId(text.userId));
            QCOMPARE(decoded.clickId, e->clickId);
            QCOMPARE(decoded.ip, e->ip);
            QCOMPARE(decoded.adId, e->adId);
            QCOMPARE(decoded.uaId, e->uaId);
            QCOMPARE(decoded.country, e->country);
            QCOMPARE(decoded.device, e->device);
            QCOMPARE(decoded.flags, e->flags);
            // The address text is canonical: it reads back to itself.
            IpBytes ip {};
            bool v6 = false;
            QVERIFY(parseIp(text.ip, ip, v6));
            QCOMPARE(formatIp(ip), text.ip);
        }
        QCOMPARE(texts, run.events.size());
        // Every malformed kind shows up with its own reason.
        for (RejectReason r : { RejectReason::NotJson, RejectReason::MissingField, RejectReason::WrongType,
                 RejectReason::BadIp, RejectReason::BadCountry, RejectReason::TimestampOutOfRange,
                 RejectReason::BadTimestamp, RejectReason::BadAdId, RejectReason::BadUserId })
            QVERIFY2(reasons.count(r), rejectReasonName(r).data());
    }

    void oversizedRecordsAreTruncated()
    {
        GeneratorConfig c = noisyConfig();
        c.malformedFraction = 1.0;
        Env env(c);
        const Run run = collect(env.source, 4000, 1000);
        QVERIFY(run.events.empty());
        QCOMPARE(run.rejected.size(), std::size_t { 4000 });
        std::size_t tooLarge = 0;
        for (const RejectedRecord& r : run.rejected) {
            QVERIFY(r.bytes.size() <= 4096);
            if (r.reason == RejectReason::TooLarge) {
                ++tooLarge;
                QCOMPARE(r.bytes.size(), std::size_t { 4096 });
            }
        }
        QVERIFY(tooLarge > 10); // 1 in 80 malformed records
    }
};

QTEST_APPLESS_MAIN(TestSyntheticSource)
#include "tst_synthetic_source.moc"
