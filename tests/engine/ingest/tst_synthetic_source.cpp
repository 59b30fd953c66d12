// The synthetic generator: byte-identical runs for any batch sizes, resume at any sequence or
// partition position, text form == fast path, Zipf ad popularity, configured fractions, burst,
// ad range, 10 M ads in little memory, limit and pacing.

#include "core/hash.h"
#include "ingest/country_codes.h"
#include "ingest/ip_address.h"
#include "ingest/synthetic_source.h"

#include <QtTest>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

using namespace adclick::engine;

namespace {

struct Run {
    std::vector<ClickEvent> events;
    std::vector<RejectedRecord> rejected;
};

// Polls until `records` records (accepted + rejected) were produced or the stream ends. Batch
// sizes are `batch`, or random in [1, 2·batch] when `rng` is given.
Run collect(SyntheticSource& source, std::uint64_t records, std::size_t batch, std::mt19937_64* rng = nullptr)
{
    Run run;
    IngestBatch b;
    std::uint64_t produced = 0;
    while (produced < records) {
        b.clear();
        std::size_t n = rng ? 1 + (*rng)() % (2 * batch) : batch;
        n = static_cast<std::size_t>(std::min<std::uint64_t>(n, records - produced));
        const PollResult r = source.poll(b, n);
        produced += b.events.size() + b.rejected.size();
        run.events.insert(run.events.end(), b.events.begin(), b.events.end());
        run.rejected.insert(run.rejected.end(), b.rejected.begin(), b.rejected.end());
        if (r == PollResult::EndOfStream)
            break;
    }
    return run;
}

bool sameEvents(const std::vector<ClickEvent>& a, const std::vector<ClickEvent>& b)
{
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(ClickEvent)) == 0);
}

bool sameRejected(const std::vector<RejectedRecord>& a, const std::vector<RejectedRecord>& b)
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].reason != b[i].reason || a[i].position.offset != b[i].position.offset
            || a[i].position.partition != b[i].position.partition || a[i].bytes != b[i].bytes)
            return false;
    return true;
}

std::uint64_t sequenceOf(SourcePosition p, std::uint32_t partitions)
{
    return static_cast<std::uint64_t>(p.offset) * partitions + p.partition;
}

// Records of a run from sequence `from` on.
Run tail(const Run& run, std::uint64_t from, std::uint32_t partitions)
{
    Run t;
    for (const ClickEvent& e : run.events)
        if (sequenceOf(e.position(), partitions) >= from)
            t.events.push_back(e);
    for (const RejectedRecord& r : run.rejected)
        if (sequenceOf(r.position, partitions) >= from)
            t.rejected.push_back(r);
    return t;
}

GeneratorConfig noisyConfig()
{
    GeneratorConfig c;
    c.seed = 42;
    c.adCount = 5000;
    c.userCount = 20000;
    c.partitions = 4;
    c.lateFraction = 0.03;
    c.duplicateFraction = 0.02;
    c.malformedFraction = 0.01;
    return c;
}

GeneratorConfig cleanConfig()
{
    GeneratorConfig c;
    c.seed = 3;
    c.lateFraction = 0;
    c.duplicateFraction = 0;
    c.malformedFraction = 0;
    c.clickIds = false;
    return c;
}

struct Env {
    AdDictionary ads;
    UserAgentDictionary userAgents;
    VirtualClock clock;
    SyntheticSource source;
    explicit Env(const GeneratorConfig& c)
        : clock(c.startTimeMs)
        , source(c, clock, ads, userAgents)
    {
    }
};

// Sorted-descending empirical shares vs. exact Zipf probabilities: cumulative share of the
// `k` most frequent ads.
double zipfCumulative(std::uint32_t n, double s, std::uint32_t k)
{
    double total = 0, head = 0;
    for (std::uint32_t r = 1; r <= n; ++r) {
        const double p = std::pow(static_cast<double>(r), -s);
        total += p;
        if (r <= k)
            head += p;
    }
    return head / total;
}

std::size_t residentBytes()
{
    std::ifstream statm("/proc/self/statm");
    std::size_t pages = 0, resident = 0;
    statm >> pages >> resident;
    return resident * 4096;
}

} // namespace

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

    void zipfPopularity_data()
    {
        QTest::addColumn<quint32>("ads");
        QTest::addColumn<double>("skew");
        QTest::newRow("1000 ads, s=1.1") << 1000u << 1.1;
        QTest::newRow("1000 ads, s=0.8") << 1000u << 0.8;
        QTest::newRow("20 ads, s=2") << 20u << 2.0;
        QTest::newRow("6000 ads, s=0.5 (tail sampler)") << 6000u << 0.5;
        QTest::newRow("100000 ads, s=1.1") << 100000u << 1.1;
        QTest::newRow("100000 ads, s=1.0") << 100000u << 1.0;
    }
    void zipfPopularity()
    {
        QFETCH(quint32, ads);
        QFETCH(double, skew);
        GeneratorConfig c = cleanConfig();
        c.adCount = ads;
        c.zipfSkew = skew;
        constexpr std::uint64_t kRecords = 1'000'000;
        Env env(c);
        const Run run = collect(env.source, kRecords, 8192);
        std::vector<std::uint64_t> counts(ads + 1, 0);
        for (const ClickEvent& e : run.events) {
            QVERIFY(e.adId >= 1 && e.adId <= ads);
            ++counts[e.adId];
        }
        // The hottest ads are not simply 1, 2, 3.
        const auto hottest
            = static_cast<std::uint32_t>(std::max_element(counts.begin(), counts.end()) - counts.begin());
        if (ads >= 1000)
            QVERIFY(hottest > 3);
        std::sort(counts.begin(), counts.end(), std::greater<>());
        std::vector<double> cumulative(ads + 1, 0);
        for (std::uint32_t k = 1; k <= ads; ++k)
            cumulative[k] = cumulative[k - 1] + static_cast<double>(counts[k - 1]) / kRecords;
        // Rank shares: top ranks one by one (5σ), then cumulative shares further down, where the
        // sorting of noisy counts only blurs the order slightly.
        double total = 0;
        for (std::uint32_t r = 1; r <= ads; ++r)
            total += std::pow(static_cast<double>(r), -skew);
        for (std::uint32_t k = 1; k <= std::min<std::uint32_t>(5, ads); ++k) {
            const double p = std::pow(static_cast<double>(k), -skew) / total;
            const double observed = static_cast<double>(counts[k - 1]) / kRecords;
            const double sigma = std::sqrt(p * (1 - p) / kRecords);
            QVERIFY2(std::abs(observed - p) < 5 * sigma + 0.002 * p,
                qPrintable(QString("rank %1: observed %2, expected %3").arg(k).arg(observed).arg(p)));
        }
        for (std::uint32_t k : { 10u, 100u, 1000u, 4096u }) {
            if (k >= ads)
                continue;
            const double expected = zipfCumulative(ads, skew, k);
            QVERIFY2(std::abs(cumulative[k] - expected) < 0.01,
                qPrintable(QString("top %1: observed %2, expected %3").arg(k).arg(cumulative[k]).arg(expected)));
        }
    }

    void uniformAds()
    {
        GeneratorConfig c = cleanConfig();
        c.adCount = 1000;
        c.zipfSkew = 0;
        constexpr std::uint64_t kRecords = 500'000;
        Env env(c);
        const Run run = collect(env.source, kRecords, 8192);
        std::vector<double> counts(c.adCount + 1, 0);
        for (const ClickEvent& e : run.events)
            ++counts[e.adId];
        QCOMPARE(counts[0], 0.0);
        const double expected = static_cast<double>(kRecords) / c.adCount;
        double chi2 = 0;
        for (std::uint32_t a = 1; a <= c.adCount; ++a)
            chi2 += (counts[a] - expected) * (counts[a] - expected) / expected;
        // 999 degrees of freedom: mean 999, σ ≈ 44.7.
        QVERIFY2(chi2 < 999 + 6 * 44.7, qPrintable(QString("chi-square %1").arg(chi2)));
        QVERIFY2(chi2 > 999 - 6 * 44.7, qPrintable(QString("chi-square %1").arg(chi2)));
    }

    void adIdsWithinRange_data()
    {
        QTest::addColumn<quint32>("ads");
        QTest::newRow("1") << 1u;
        QTest::newRow("2") << 2u;
        QTest::newRow("7") << 7u;
        QTest::newRow("4096") << 4096u;
        QTest::newRow("4097") << 4097u;
        QTest::newRow("1000003") << 1000003u;
    }
    void adIdsWithinRange()
    {
        QFETCH(quint32, ads);
        GeneratorConfig c = cleanConfig();
        c.adCount = ads;
        c.zipfSkew = 0.7;
        Env env(c);
        const Run run = collect(env.source, 200000, 4096);
        std::unordered_set<AdId> seen;
        for (const ClickEvent& e : run.events) {
            QVERIFY(e.adId >= 1 && e.adId <= ads);
            seen.insert(e.adId);
        }
        if (ads <= 4097)
            QCOMPARE(seen.size(), std::size_t { ads }); // every ad drawn at least once
    }

    void fractionsMatchConfig()
    {
        GeneratorConfig c;
        c.seed = 11;
        c.lateFraction = 0.05;
        c.duplicateFraction = 0.03;
        c.malformedFraction = 0.02;
        c.ipv6Fraction = 0.2;
        constexpr std::uint64_t kRecords = 300'000;
        Env env(c);
        const Run run = collect(env.source, kRecords, 4096);
        const double n = kRecords;
        QCOMPARE(run.events.size() + run.rejected.size(), std::size_t { kRecords });

        const double malformed = run.rejected.size() / n;
        QVERIFY2(std::abs(malformed - 0.02) < 0.002, qPrintable(QString::number(malformed)));

        std::unordered_map<std::uint64_t, const ClickEvent*> firstByClickId;
        std::size_t duplicates = 0, late = 0, originals = 0, v6 = 0, us = 0;
        std::array<std::size_t, kDeviceClassCount> devices {};
        for (const ClickEvent& e : run.events) {
            QVERIFY(e.hasClickId());
            QVERIFY(isKnownCountry(e.country));
            ++devices[static_cast<int>(e.device)];
            v6 += e.isIpv6() ? 1 : 0;
            us += e.country == packCountry('U', 'S') ? 1 : 0;
            const std::uint64_t seq = sequenceOf(e.position(), c.partitions);
            const TimeMs delay = env.source.processingTimeOf(seq) - e.eventTimeMs;
            QVERIFY(delay >= 0);
            auto [it, fresh] = firstByClickId.try_emplace(e.clickId, &e);
            if (!fresh) {
                // A resend: the earlier record's fields, at most 1000 records back.
                ++duplicates;
                const ClickEvent& original = *it->second;
                QCOMPARE(e.eventTimeMs, original.eventTimeMs);
                QCOMPARE(e.adId, original.adId);
                QCOMPARE(e.userHash, original.userHash);
                QCOMPARE(e.ip, original.ip);
                const std::uint64_t originalSeq = sequenceOf(original.position(), c.partitions);
                QVERIFY(originalSeq < seq && seq - originalSeq <= 1000);
                continue;
            }
            ++originals;
            QVERIFY(delay <= c.jitterMaxMs + c.lateDelayMaxMs);
            late += delay > c.jitterMaxMs ? 1 : 0;
        }
        const double duplicateShare = duplicates / n;
        QVERIFY2(std::abs(duplicateShare - 0.03) < 0.002, qPrintable(QString::number(duplicateShare)));
        // A late event is delayed by min(Exp(90 s), 600 s) on top of the jitter: it shows as
        // "delay > jitterMax" unless delay + jitter stays below 2 s (≈ 1.1 % of late events).
        const double lateShare = static_cast<double>(late) / originals;
        QVERIFY2(std::abs(lateShare - 0.05 * 0.989) < 0.003, qPrintable(QString::number(lateShare)));
        const double v6Share = static_cast<double>(v6) / run.events.size();
        QVERIFY2(std::abs(v6Share - 0.2) < 0.01, qPrintable(QString::number(v6Share)));
        const double usShare = static_cast<double>(us) / run.events.size();
        QVERIFY2(std::abs(usShare - 0.3) < 0.01, qPrintable(QString::number(usShare)));
        for (int d = 0; d < kDeviceClassCount; ++d)
            QVERIFY2(devices[d] > 0, deviceClassName(static_cast<DeviceClass>(d)).data());
        QVERIFY(devices[static_cast<int>(DeviceClass::Mobile)] > devices[static_cast<int>(DeviceClass::Bot)]);
    }

    void noClickIdsWhenDisabled()
    {
        GeneratorConfig c = noisyConfig();
        c.clickIds = false;
        Env env(c);
        const Run run = collect(env.source, 20000, 4096);
        for (const ClickEvent& e : run.events)
            QVERIFY(!e.hasClickId());
    }

    void burstShare()
    {
        GeneratorConfig c = cleanConfig();
        c.adCount = 100000;
        c.ratePerSec = 50000;
        c.burstAdId = 77;
        c.burstStartMs = 1000;
        c.burstDurationMs = 2000;
        c.burstShare = 0.3;
        Env env(c);
        const Run run = collect(env.source, 250000, 4096); // 5 s of processing time
        std::size_t inside = 0, insideHot = 0, outside = 0, outsideHot = 0;
        for (const ClickEvent& e : run.events) {
            const TimeMs offsetMs = env.source.processingTimeOf(sequenceOf(e.position(), c.partitions)) - c.startTimeMs;
            const bool hot = e.adId == 77;
            if (offsetMs >= 1000 && offsetMs < 3000) {
                ++inside;
                insideHot += hot ? 1 : 0;
            } else {
                ++outside;
                outsideHot += hot ? 1 : 0;
            }
        }
        QCOMPARE(inside, std::size_t { 100000 });
        const double base = static_cast<double>(outsideHot) / outside; // ad 77's ordinary Zipf share
        const double burst = static_cast<double>(insideHot) / inside;
        QVERIFY2(
            std::abs(burst - (0.3 + 0.7 * base)) < 0.01, qPrintable(QString("%1 vs base %2").arg(burst).arg(base)));
        QVERIFY(base < 0.2);
    }

    void tenMillionAdsInLittleMemory()
    {
        const std::size_t before = residentBytes();
        GeneratorConfig c = cleanConfig();
        c.adCount = 10'000'000;
        c.userCount = 10'000'000;
        Env env(c);
        const Run run = collect(env.source, 300000, 8192);
        std::size_t above = 0;
        for (const ClickEvent& e : run.events) {
            QVERIFY(e.adId >= 1 && e.adId <= c.adCount);
            above += e.adId > 5'000'000 ? 1 : 0;
        }
        QVERIFY(above > 0);
        // The collected events are 300000 × 64 B ≈ 19 MB; the generator itself adds little.
        const std::size_t after = residentBytes();
        if (before > 0)
            QVERIFY2(after < before + 48 * 1024 * 1024, qPrintable(QString("%1 MB").arg((after - before) >> 20)));
    }

    void liveConfigChangeKeepsTimeContinuous()
    {
        GeneratorConfig c = cleanConfig();
        Env env(c);
        collect(env.source, 10000, 1000);
        const TimeMs nextMs = env.source.processingTimeOf(10000);
        c.ratePerSec = 1000;
        env.source.setConfig(c);
        QCOMPARE(env.source.config().ratePerSec, 1000.0);
        QCOMPARE(env.source.processingTimeOf(10000), nextMs);
        QCOMPARE(env.source.processingTimeOf(10001), nextMs + 1);
    }

    void realClockPaces()
    {
        GeneratorConfig c = cleanConfig();
        c.ratePerSec = 200; // one record every 5 ms
        AdDictionary ads;
        UserAgentDictionary userAgents;
        SystemClock clock;
        SyntheticSource source(c, clock, ads, userAgents);
        const TimeMs startMs = clock.nowMs();
        IngestBatch b;
        std::size_t produced = 0;
        bool sawIdle = false;
        while (clock.nowMs() - startMs < 300) {
            b.clear();
            const PollResult r = source.poll(b, 100000);
            sawIdle |= r == PollResult::Idle;
            for (const ClickEvent& e : b.events) {
                // Event times follow the wall clock, not startTimeMs.
                QVERIFY(e.eventTimeMs <= clock.nowMs());
                QVERIFY(e.eventTimeMs >= startMs - c.jitterMaxMs - 10);
            }
            produced += b.events.size();
        }
        QVERIFY(sawIdle);
        // ~60 records in 300 ms, and never more than were due by the last poll (a busy machine
        // may stretch the loop, so the upper bound follows the time that really passed).
        const TimeMs elapsedMs = clock.nowMs() - startMs;
        QVERIFY2(produced >= 20 && produced <= static_cast<std::size_t>(elapsedMs * 200 / 1000 + 2),
            qPrintable(QStringLiteral("%1 records in %2 ms").arg(produced).arg(elapsedMs)));
    }
};

QTEST_APPLESS_MAIN(TestSyntheticSource)
#include "tst_synthetic_source.moc"
