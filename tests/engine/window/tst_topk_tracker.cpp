// Sliding top-K: exact answers equal brute force, the Count-Min answer stays within ε·N,
// slots slide with the watermark, and shards merge exactly.

#include "window/topk_tracker.h"
#include "window/window_types.h"

#include <QtTest>

#include <map>
#include <random>

using namespace adclick::engine;

namespace {
struct Click {
    AdId ad;
    TimeMs t;
};

std::vector<Click> zipfClicks(std::size_t n, std::uint32_t ads, TimeMs start, TimeMs span, std::uint64_t seed)
{
    std::mt19937_64 rng(seed);
    std::vector<double> cdf(ads);
    double sum = 0;
    for (std::uint32_t i = 0; i < ads; ++i)
        cdf[i] = (sum += 1.0 / std::pow(i + 1.0, 1.1));
    std::uniform_real_distribution<double> u(0, sum);
    std::vector<Click> out(n);
    for (auto& c : out) {
        c.ad = static_cast<AdId>(std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin()) + 1;
        c.t = start + static_cast<TimeMs>(rng() % static_cast<std::uint64_t>(span));
    }
    return out;
}

std::vector<TopKEntry> bruteTopK(const std::vector<Click>& clicks, TimeMs from, TimeMs to, std::size_t k)
{
    std::map<AdId, std::uint64_t> m;
    for (const auto& c : clicks)
        if (c.t >= from && c.t < to)
            ++m[c.ad];
    std::vector<TopKEntry> v;
    for (auto [a, n] : m)
        v.push_back({ a, n });
    std::sort(
        v.begin(), v.end(), [](auto& a, auto& b) { return a.count != b.count ? a.count > b.count : a.adId < b.adId; });
    if (v.size() > k)
        v.resize(k);
    return v;
}
} // namespace

class TestTopKTracker : public QObject {
    Q_OBJECT

private slots:
    void exactAndApproximateOverSlidingWindow_data()
    {
        QTest::addColumn<int>("shards");
        QTest::addColumn<quint64>("seed");
        for (int shards : { 1, 2, 3 })
            for (quint64 seed : { 1ULL, 2ULL, 3ULL })
                QTest::addRow("shards=%d seed=%llu", shards, seed) << shards << seed;
    }
    void exactAndApproximateOverSlidingWindow()
    {
        QFETCH(int, shards);
        QFETCH(quint64, seed);
        TopKConfig cfg;
        cfg.k = 20;
        const TimeMs start = 1767225600000LL;
        const auto clicks = zipfClicks(200000, 5000, start, 3 * kMsPerMinute, seed);
        std::vector<std::unique_ptr<TopKTracker>> trackers;
        for (int i = 0; i < shards; ++i)
            trackers.push_back(std::make_unique<TopKTracker>(cfg));
        for (const auto& c : clicks)
            trackers[shardOfAd(c.ad, std::uint32_t(shards))]->add(c.ad, c.t);
        const TimeMs wm = start + 2 * kMsPerMinute + 15000; // window end aligns down to +2m10s
        std::vector<const TopKTracker*> views;
        for (auto& t : trackers) {
            t->advanceWatermark(wm);
            t->prepareQuery(t->windowEndFor(wm));
            views.push_back(t.get());
        }
        const TimeMs end = trackers[0]->windowEndFor(wm);
        QCOMPARE(end, start + 2 * kMsPerMinute + 10000);
        const TopKResult r = mergeTopK(views, end, cfg.k);
        QVERIFY(r.valid);
        QCOMPARE(r.windowStartMs, end - kMsPerMinute);
        const auto brute = bruteTopK(clicks, end - kMsPerMinute, end, cfg.k);
        QCOMPARE(r.exact.size(), brute.size());
        for (std::size_t i = 0; i < brute.size(); ++i) {
            QCOMPARE(r.exact[i].adId, brute[i].adId);
            QCOMPARE(r.exact[i].count, brute[i].count);
        }
        std::uint64_t inWindow = 0;
        for (const auto& c : clicks)
            inWindow += (c.t >= r.windowStartMs && c.t < r.windowEndMs);
        QCOMPARE(r.totalEvents, inWindow);
        QCOMPARE(r.errorBound, static_cast<std::uint64_t>(std::ceil(r.epsilon * double(inWindow))));
        QCOMPARE(r.approx.size(), std::size_t(cfg.k));
        for (const auto& a : r.approx) {
            QVERIFY(a.estimate >= a.exactCount);
            QVERIFY(a.estimate - a.exactCount <= r.errorBound);
        }
        QVERIFY(r.withinBound);
        QVERIFY2(r.precision >= 0.9, qPrintable(QString::number(r.precision)));
    }

    void slotsSlideWithWatermark()
    {
        TopKConfig cfg;
        cfg.k = 5;
        TopKTracker t(cfg);
        const TimeMs s = 1767225600000LL;
        for (int i = 0; i < 10; ++i)
            t.add(1, s + i * 1000); // slot 0
        for (int i = 0; i < 3; ++i)
            t.add(2, s + 65000 + i); // slot 6
        t.advanceWatermark(s + 60000); // window [s, s+60s): slot 0 is inside
        t.prepareQuery(t.windowEndFor(s + 60000));
        QCOMPARE(t.scratchTotal(), std::uint64_t(10));
        t.advanceWatermark(s + 70000); // window [s+10s, s+70s): slot 0 dropped
        t.prepareQuery(t.windowEndFor(s + 70000));
        QCOMPARE(t.scratchTotal(), std::uint64_t(3));
        t.add(1, s + 5000); // its slot is gone: ignored and counted as such
        QCOMPARE(t.ignoredEvents(), std::uint64_t(1));
        QCOMPARE(t.slotCount(), std::size_t(1));
    }

    void heavyHitterIsAlwaysACandidate()
    {
        TopKConfig cfg;
        cfg.k = 3;
        cfg.candidates = 8;
        TopKTracker t(cfg);
        const TimeMs s = 1767225600000LL;
        // Many one-off ads first fill the candidates, then the heavy ad arrives late in the slot.
        for (AdId a = 100; a < 1100; ++a)
            t.add(a, s + 1);
        for (int i = 0; i < 50; ++i)
            t.add(7, s + 2);
        t.advanceWatermark(s + 60000);
        t.prepareQuery(t.windowEndFor(s + 60000));
        const TopKResult r = mergeTopK({ &t }, t.windowEndFor(s + 60000), 3);
        QCOMPARE(r.approx.front().adId, AdId(7));
        QCOMPARE(r.exact.front().adId, AdId(7));
        QCOMPARE(r.exact.front().count, std::uint64_t(50));
    }
};

QTEST_APPLESS_MAIN(TestTopKTracker)
#include "tst_topk_tracker.moc"
