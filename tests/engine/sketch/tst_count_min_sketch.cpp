// Count-Min Sketch against an exact oracle: never under, the ε·N bound fails for at most a δ
// fraction of keys over many seeds, merge equals the sketch of the union, and serialization
// round-trips and rejects every truncation, corruption and random input without crashing.

#include "sketch/count_min_sketch.h"
#include "sketch_streams.h"

#include <QtTest>

#include <cmath>
#include <unordered_map>

using namespace adclick::engine;
using adclick::test::SplitMix64;
using adclick::test::zipfStream;

namespace {
// Header layout of version 1: magic[4], version, width u32, depth u32, seed u64, total u64.
constexpr std::size_t kVersionAt = 4;
constexpr std::size_t kWidthAt = 5;
constexpr std::size_t kDepthAt = 9;
constexpr std::size_t kTotalAt = 21;
constexpr std::size_t kCountersAt = 29;

void putU32(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// Independent re-check of the serialized invariants: every row sums to N unless saturated.
bool rowsConsistent(const CountMinSketch& s)
{
    const auto b = s.serialize();
    for (std::uint32_t r = 0; r < s.depth(); ++r) {
        std::uint64_t sum = 0;
        bool saturated = false;
        for (std::uint32_t i = 0; i < s.width(); ++i) {
            const std::size_t at = kCountersAt + 4 * (std::size_t(r) * s.width() + i);
            const std::uint32_t v = b[at] | b[at + 1] << 8 | b[at + 2] << 16 | std::uint32_t(b[at + 3]) << 24;
            sum += v;
            saturated |= v == UINT32_MAX;
        }
        if (saturated ? sum > s.totalCount() : sum != s.totalCount())
            return false;
    }
    return true;
}
} // namespace

class TestCountMinSketch : public QObject {
    Q_OBJECT

private slots:
    void suggestWidth_data()
    {
        QTest::addColumn<double>("epsilon");
        QTest::addColumn<std::uint32_t>("width");
        QTest::newRow("0.1: ceil(27.2)=28 -> 32") << 0.1 << 32u;
        QTest::newRow("0.01: 272 -> 512") << 0.01 << 512u;
        QTest::newRow("0.001: 2719 -> 4096") << 0.001 << 4096u;
        QTest::newRow("e/1024 exactly -> 1024") << std::exp(1.0) / 1024 << 1024u;
        QTest::newRow("1.0: 3 -> minimum 8") << 1.0 << 8u;
        QTest::newRow("0 -> maximum") << 0.0 << (1u << 26);
    }
    void suggestWidth()
    {
        QFETCH(double, epsilon);
        QFETCH(std::uint32_t, width);
        QCOMPARE(CountMinSketch::suggestWidth(epsilon), width);
    }

    void suggestDepth_data()
    {
        QTest::addColumn<double>("delta");
        QTest::addColumn<std::uint32_t>("depth");
        QTest::newRow("0.5: ln 2 -> 1") << 0.5 << 1u;
        QTest::newRow("0.05: ln 20 = 3.0 -> 3") << 0.05 << 3u;
        QTest::newRow("0.01: ln 100 = 4.6 -> 5") << 0.01 << 5u;
        QTest::newRow("1e-6: 13.8 -> 14") << 1e-6 << 14u;
        QTest::newRow("1e-9: 20.7 -> clamped 16") << 1e-9 << 16u;
        QTest::newRow("1 -> 1") << 1.0 << 1u;
    }
    void suggestDepth()
    {
        QFETCH(double, delta);
        QFETCH(std::uint32_t, depth);
        QCOMPARE(CountMinSketch::suggestDepth(delta), depth);
    }

    void shapeAndForError()
    {
        const auto s = CountMinSketch::forError(0.001, 0.01, 1);
        QCOMPARE(s.width(), 4096u);
        QCOMPARE(s.depth(), 5u);
        QVERIFY(s.epsilon() <= 0.001);
        QVERIFY(s.delta() <= 0.01);
        QCOMPARE(s.memoryBytes(), std::size_t(4096) * 5 * 4);
        QCOMPARE(CountMinSketch(1000, 4).width(), 1024u);
        QCOMPARE(CountMinSketch(1024, 4).width(), 1024u);
        QCOMPARE(CountMinSketch(100, 0).depth(), 1u);
        QCOMPARE(CountMinSketch(100, 17).depth(), 16u);
        CountMinSketch t(1024, 4);
        QCOMPARE(t.errorBound(), std::uint64_t(0));
        t.update(7, 1000);
        QCOMPARE(t.errorBound(), std::uint64_t(std::ceil(std::exp(1.0) / 1024 * 1000))); // ceil(2.65) = 3
    }

    void boundHoldsOverManySeeds_data()
    {
        QTest::addColumn<double>("skew");
        QTest::addColumn<std::uint32_t>("width");
        QTest::addColumn<std::uint32_t>("depth");
        QTest::newRow("zipf 1.1, 256 x 4") << 1.1 << 256u << 4u;
        QTest::newRow("zipf 0.6, 256 x 4") << 0.6 << 256u << 4u;
        QTest::newRow("uniform, 256 x 4") << 0.0 << 256u << 4u;
        QTest::newRow("uniform, 64 x 2") << 0.0 << 64u << 2u;
        QTest::newRow("zipf 0.8, 32 x 1") << 0.8 << 32u << 1u;
        QTest::newRow("zipf 1.1, 1024 x 3") << 1.1 << 1024u << 3u;
    }
    void boundHoldsOverManySeeds()
    {
        QFETCH(double, skew);
        QFETCH(std::uint32_t, width);
        QFETCH(std::uint32_t, depth);
        std::size_t keysChecked = 0;
        std::size_t keysOverBound = 0;
        for (std::uint64_t seed = 1; seed <= 50; ++seed) {
            const auto data = zipfStream(20000, 3000, skew, seed, seed);
            CountMinSketch s(width, depth, seed * 7919);
            std::unordered_map<std::uint64_t, std::uint64_t> exact;
            for (auto k : data) {
                const std::uint32_t est = s.updateAndEstimate(k);
                const std::uint64_t truth = ++exact[k];
                QVERIFY(est >= truth);
                QCOMPARE(std::uint64_t(est), s.estimate(k));
            }
            QCOMPARE(s.totalCount(), std::uint64_t(data.size()));
            const double bound = s.epsilon() * double(s.totalCount());
            QCOMPARE(s.errorBound(), std::uint64_t(std::ceil(bound)));
            for (auto [k, n] : exact) {
                const std::uint64_t est = s.estimate(k);
                QVERIFY(est >= n); // never under
                ++keysChecked;
                keysOverBound += double(est - n) > bound;
            }
            QVERIFY(rowsConsistent(s));
        }
        const double failRate = double(keysOverBound) / double(keysChecked);
        const double delta = std::exp(-double(depth));
        qInfo("%zu of %zu keys over ε·N (%.5f, δ = %.5f)", keysOverBound, keysChecked, failRate, delta);
        QVERIFY2(failRate <= delta + 0.005, qPrintable(QStringLiteral("%1 > δ %2").arg(failRate).arg(delta)));
    }

    void weightedUpdates()
    {
        SplitMix64 rng(11);
        CountMinSketch s(512, 4, 3);
        std::unordered_map<std::uint64_t, std::uint64_t> exact;
        std::uint64_t total = 0;
        for (int i = 0; i < 20000; ++i) {
            const std::uint64_t key = rng.below(2000);
            const auto count = static_cast<std::uint32_t>(1 + rng.below(50));
            s.update(key, count);
            exact[key] += count;
            total += count;
        }
        QCOMPARE(s.totalCount(), total);
        for (auto [k, n] : exact)
            QVERIFY(s.estimate(k) >= n);
        QVERIFY(rowsConsistent(s));
    }

    void mergeEqualsUnion_data()
    {
        QTest::addColumn<std::uint64_t>("seed");
        for (std::uint64_t seed : { 1, 2, 3, 42, 1000 })
            QTest::addRow("seed %llu", static_cast<unsigned long long>(seed)) << seed;
    }
    void mergeEqualsUnion()
    {
        QFETCH(std::uint64_t, seed);
        const auto a = zipfStream(5000, 500, 1.0, seed);
        const auto b = zipfStream(7000, 900, 0.0, seed + 100);
        CountMinSketch sa(128, 5, seed), sb(128, 5, seed), su(128, 5, seed);
        for (auto k : a) {
            sa.update(k);
            su.update(k);
        }
        for (auto k : b) {
            sb.update(k);
            su.update(k);
        }
        QVERIFY(sa.merge(sb));
        QCOMPARE(sa.totalCount(), su.totalCount());
        QCOMPARE(sa.serialize(), su.serialize()); // counter-by-counter identical
        CountMinSketch empty(128, 5, seed);
        QVERIFY(sa.merge(empty));
        QCOMPARE(sa.serialize(), su.serialize());
    }

    void mergeRejectsMismatchedShape_data()
    {
        QTest::addColumn<std::uint32_t>("width");
        QTest::addColumn<std::uint32_t>("depth");
        QTest::addColumn<std::uint64_t>("seed");
        QTest::newRow("seed") << 128u << 5u << std::uint64_t(10);
        QTest::newRow("width") << 256u << 5u << std::uint64_t(9);
        QTest::newRow("depth") << 128u << 4u << std::uint64_t(9);
    }
    void mergeRejectsMismatchedShape()
    {
        QFETCH(std::uint32_t, width);
        QFETCH(std::uint32_t, depth);
        QFETCH(std::uint64_t, seed);
        CountMinSketch s(128, 5, 9), other(width, depth, seed);
        for (auto k : zipfStream(1000, 100, 1.0, 1)) {
            s.update(k);
            other.update(k);
        }
        const auto before = s.serialize();
        QVERIFY(!s.merge(other));
        QCOMPARE(s.serialize(), before);
    }

    void roundTrip_data()
    {
        QTest::addColumn<std::uint32_t>("width");
        QTest::addColumn<std::uint32_t>("depth");
        QTest::addColumn<int>("events");
        QTest::newRow("empty") << 8u << 1u << 0;
        QTest::newRow("64 x 3") << 64u << 3u << 3000;
        QTest::newRow("1024 x 16") << 1024u << 16u << 10000;
    }
    void roundTrip()
    {
        QFETCH(std::uint32_t, width);
        QFETCH(std::uint32_t, depth);
        QFETCH(int, events);
        CountMinSketch s(width, depth, 77);
        const auto data = zipfStream(std::size_t(events), 200, 1.0, 3);
        for (auto k : data)
            s.update(k);
        const auto bytes = s.serialize();
        std::string error;
        auto back = CountMinSketch::deserialize(bytes, &error);
        QVERIFY2(back.has_value(), error.c_str());
        QCOMPARE(back->serialize(), bytes);
        QCOMPARE(back->width(), s.width());
        QCOMPARE(back->depth(), s.depth());
        QCOMPARE(back->seed(), s.seed());
        QCOMPARE(back->totalCount(), s.totalCount());
        for (auto k : data)
            QCOMPARE(back->estimate(k), s.estimate(k));
        // The copy keeps hashing like the original: it still merges and updates identically.
        back->update(12345, 3);
        s.update(12345, 3);
        QCOMPARE(back->serialize(), s.serialize());
        QVERIFY(back->merge(s));
    }

    void rejectsCorruption()
    {
        CountMinSketch s(64, 3, 77);
        for (auto k : zipfStream(3000, 200, 1.0, 3))
            s.update(k);
        const auto bytes = s.serialize();
        std::string error;

        for (std::size_t len = 0; len < bytes.size(); ++len)
            QVERIFY(!CountMinSketch::deserialize(std::span(bytes.data(), len), &error).has_value());
        auto trailing = bytes;
        trailing.push_back(0);
        QVERIFY(!CountMinSketch::deserialize(trailing, &error).has_value());
        QVERIFY(error.find("trailing") != std::string::npos);

        for (int v = 0; v < 256; ++v) {
            if (v == CountMinSketch::kSerialVersion)
                continue;
            auto badVersion = bytes;
            badVersion[kVersionAt] = static_cast<std::uint8_t>(v);
            QVERIFY(!CountMinSketch::deserialize(badVersion, &error).has_value());
            QVERIFY(error.find("version") != std::string::npos);
        }
        for (std::size_t i = 0; i < 4; ++i)
            for (int bit = 0; bit < 8; ++bit) {
                auto badMagic = bytes;
                badMagic[i] ^= static_cast<std::uint8_t>(1 << bit);
                QVERIFY(!CountMinSketch::deserialize(badMagic, &error).has_value());
                QVERIFY(error.find("magic") != std::string::npos);
            }

        auto badCounter = bytes;
        badCounter[bytes.size() - 1] ^= 0x40; // a row no longer adds up to N
        QVERIFY(!CountMinSketch::deserialize(badCounter, &error).has_value());
        auto badTotal = bytes;
        badTotal[kTotalAt] ^= 1;
        QVERIFY(!CountMinSketch::deserialize(badTotal, &error).has_value());
        QVERIFY(error.find("total") != std::string::npos);

        for (std::uint32_t width : { 0u, 4u, 65u, 96u, 1u << 27, UINT32_MAX }) {
            auto badWidth = bytes;
            putU32(badWidth, kWidthAt, width);
            QVERIFY(!CountMinSketch::deserialize(badWidth, &error).has_value());
        }
        for (std::uint32_t depth : { 0u, 17u, UINT32_MAX }) {
            auto badDepth = bytes;
            putU32(badDepth, kDepthAt, depth);
            QVERIFY(!CountMinSketch::deserialize(badDepth, &error).has_value());
            QVERIFY(error.find("depth") != std::string::npos);
        }
        // A smaller but internally plausible shape must still match the byte count.
        auto otherShape = bytes;
        putU32(otherShape, kWidthAt, 32);
        QVERIFY(!CountMinSketch::deserialize(otherShape, &error).has_value());
    }

    void randomBytesNeverCrash_data()
    {
        QTest::addColumn<int>("mode");
        QTest::newRow("random bytes") << 0;
        QTest::newRow("valid header, random body") << 1;
        QTest::newRow("valid sketch, sparse bit flips") << 2;
    }
    void randomBytesNeverCrash()
    {
        QFETCH(int, mode);
        SplitMix64 rng(5 + mode);
        CountMinSketch small(8, 2, 0);
        small.update(1, 3);
        small.update(2, 5);
        const auto valid = small.serialize();
        int accepted = 0;
        for (int i = 0; i < 10000; ++i) {
            std::vector<std::uint8_t> b;
            if (mode == 0) {
                b.resize(rng.below(200));
                for (auto& x : b)
                    x = static_cast<std::uint8_t>(rng.next());
            } else if (mode == 1) {
                // Rows that add up to a random N, half of them then nudged by one.
                b = valid;
                const std::uint64_t n = rng.below(20);
                b[kTotalAt] = static_cast<std::uint8_t>(n);
                std::fill(b.begin() + kCountersAt, b.end(), 0);
                for (std::uint32_t r = 0; r < small.depth(); ++r)
                    for (std::uint64_t u = 0; u < n; ++u)
                        ++b[kCountersAt + 4 * (std::size_t(r) * small.width() + rng.below(small.width()))];
                if (rng.below(2) == 0)
                    b[kCountersAt + rng.below(b.size() - kCountersAt)] ^= 1;
            } else {
                b = valid;
                for (int flips = 1 + int(rng.below(3)); flips > 0; --flips)
                    b[rng.below(b.size())] ^= static_cast<std::uint8_t>(1u << rng.below(8));
                if (rng.below(4) == 0)
                    b.resize(rng.below(b.size() + 8));
            }
            if (auto s = CountMinSketch::deserialize(b)) {
                ++accepted;
                QCOMPARE(s->serialize(), b); // anything accepted is self-consistent
                QVERIFY(rowsConsistent(*s));
                QVERIFY(s->estimate(1) <= s->totalCount());
            }
        }
        qInfo("accepted %d of 10000", accepted);
        QVERIFY(accepted < 10000);
    }

    void saturatesInsteadOfWrapping()
    {
        CountMinSketch s(8, 1, 0);
        QCOMPARE(s.updateAndEstimate(1, UINT32_MAX - 1), UINT32_MAX - 1);
        QCOMPARE(s.updateAndEstimate(1, 5), UINT32_MAX);
        // The counter is stuck at 2^32 − 1 but the true count is higher: the estimate falls back
        // to N, which is never below it.
        QCOMPARE(s.estimate(1), std::uint64_t(UINT32_MAX) + 4);
        QCOMPARE(s.totalCount(), std::uint64_t(UINT32_MAX) + 4);
        const auto bytes = s.serialize();
        const auto back = CountMinSketch::deserialize(bytes);
        QVERIFY(back.has_value()); // a saturated row sums to less than N, and that is accepted
        QCOMPARE(back->estimate(1), s.estimate(1));
        CountMinSketch t(8, 1, 0);
        t.update(1, UINT32_MAX);
        QVERIFY(s.merge(t));
        QCOMPARE(s.estimate(1), 2 * std::uint64_t(UINT32_MAX) + 4);
    }

    void clearResets()
    {
        CountMinSketch s(64, 3, 5);
        for (auto k : zipfStream(1000, 100, 1.0, 1))
            s.update(k);
        s.clear();
        QCOMPARE(s.totalCount(), std::uint64_t(0));
        QCOMPARE(s.serialize(), CountMinSketch(64, 3, 5).serialize());
    }
};

QTEST_APPLESS_MAIN(TestCountMinSketch)
#include "tst_count_min_sketch.moc"
