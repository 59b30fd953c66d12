// What the synthetic generator generates: Zipf ad popularity, uniform ads, ad range, configured
// fractions, click ids, burst, 10 M ads in little memory, live config changes and pacing.

#include "synthetic_test_support.h"

using namespace adclick::engine;
using namespace adclick::test;

class TestGeneratorModel : public QObject {
    Q_OBJECT

private slots:
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

QTEST_APPLESS_MAIN(TestGeneratorModel)
#include "tst_generator_model.moc"
