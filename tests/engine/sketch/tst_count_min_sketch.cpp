// Count-Min Sketch: the ε·N bound holds with probability ≥ 1 − δ against an exact oracle,
// merge equals the sketch of the union, and serialization round-trips and rejects corruption.

#include "sketch/count_min_sketch.h"

#include <QtTest>

#include <cmath>
#include <random>
#include <unordered_map>

using namespace adclick::engine;

namespace {
std::vector<std::uint64_t> stream(std::size_t n, std::uint32_t keys, double skew, std::uint64_t seed)
{
    std::mt19937_64 rng(seed);
    std::vector<double> cdf(keys);
    double sum = 0;
    for (std::uint32_t i = 0; i < keys; ++i)
        cdf[i] = (sum += skew == 0 ? 1.0 : 1.0 / std::pow(i + 1.0, skew));
    std::uniform_real_distribution<double> u(0, sum);
    std::vector<std::uint64_t> out(n);
    for (auto& k : out)
        k = 1000 + static_cast<std::uint64_t>(std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin());
    return out;
}
} // namespace

class TestCountMinSketch : public QObject {
    Q_OBJECT

private slots:
    void sizing()
    {
        QCOMPARE(CountMinSketch::suggestWidth(0.01), 512u); // ceil(e/0.01) = 272 → 512
        QCOMPARE(CountMinSketch::suggestDepth(0.01), 5u);   // ceil(ln 100) = 5
        QCOMPARE(CountMinSketch::suggestDepth(0.5), 1u);
        const auto s = CountMinSketch::forError(0.001, 0.01, 1);
        QVERIFY(s.epsilon() <= 0.001);
        QVERIFY(s.delta() <= 0.01);
    }

    void boundHoldsOverManySeeds_data()
    {
        QTest::addColumn<double>("skew");
        QTest::newRow("zipf 1.1") << 1.1;
        QTest::newRow("zipf 0.6") << 0.6;
        QTest::newRow("uniform") << 0.0;
    }
    void boundHoldsOverManySeeds()
    {
        QFETCH(double, skew);
        std::size_t keysChecked = 0;
        std::size_t keysOverBound = 0;
        for (std::uint64_t seed = 1; seed <= 50; ++seed) {
            const auto data = stream(20000, 3000, skew, seed);
            CountMinSketch s(256, 4, seed);
            std::unordered_map<std::uint64_t, std::uint64_t> exact;
            for (auto k : data) {
                const std::uint32_t est = s.updateAndEstimate(k);
                ++exact[k];
                QVERIFY(est >= exact[k]);
            }
            QCOMPARE(s.totalCount(), std::uint64_t(data.size()));
            const double bound = s.epsilon() * double(s.totalCount());
            for (auto [k, n] : exact) {
                const std::uint64_t est = s.estimate(k);
                QVERIFY(est >= n); // never under
                ++keysChecked;
                keysOverBound += double(est - n) > bound;
            }
        }
        const double failRate = double(keysOverBound) / double(keysChecked);
        const double delta = std::exp(-4.0);
        QVERIFY2(failRate <= delta * 1.5, qPrintable(QStringLiteral("%1 > δ %2").arg(failRate).arg(delta)));
    }

    void mergeEqualsUnion()
    {
        const auto a = stream(5000, 500, 1.0, 1);
        const auto b = stream(7000, 900, 0.8, 2);
        CountMinSketch sa(128, 5, 9), sb(128, 5, 9), su(128, 5, 9);
        for (auto k : a) {
            sa.update(k);
            su.update(k);
        }
        for (auto k : b) {
            sb.update(k);
            su.update(k);
        }
        QVERIFY(sa.merge(sb));
        QCOMPARE(sa.serialize(), su.serialize()); // counter-by-counter identical
        CountMinSketch otherSeed(128, 5, 10), otherShape(256, 5, 9);
        const auto before = sa.serialize();
        QVERIFY(!sa.merge(otherSeed));
        QVERIFY(!sa.merge(otherShape));
        QCOMPARE(sa.serialize(), before);
    }

    void roundTripAndCorruption()
    {
        CountMinSketch s(64, 3, 77);
        for (auto k : stream(3000, 200, 1.0, 3))
            s.update(k);
        const auto bytes = s.serialize();
        std::string error;
        auto back = CountMinSketch::deserialize(bytes, &error);
        QVERIFY2(back.has_value(), error.c_str());
        QCOMPARE(back->serialize(), bytes);
        QCOMPARE(back->estimate(1000), s.estimate(1000));

        for (std::size_t len = 0; len < bytes.size(); ++len)
            QVERIFY(!CountMinSketch::deserialize(std::span(bytes.data(), len)).has_value());
        auto trailing = bytes;
        trailing.push_back(0);
        QVERIFY(!CountMinSketch::deserialize(trailing, &error).has_value());
        QVERIFY(error.find("trailing") != std::string::npos);
        auto badVersion = bytes;
        badVersion[4] = 2;
        QVERIFY(!CountMinSketch::deserialize(badVersion, &error).has_value());
        QVERIFY(error.find("version") != std::string::npos);
        auto badMagic = bytes;
        badMagic[0] = 'X';
        QVERIFY(!CountMinSketch::deserialize(badMagic).has_value());
        auto badCounter = bytes;
        badCounter[bytes.size() - 1] ^= 0x40; // a counter no longer adds up
        QVERIFY(!CountMinSketch::deserialize(badCounter, &error).has_value());
        auto badWidth = bytes;
        badWidth[5] = 65; // not a power of two
        QVERIFY(!CountMinSketch::deserialize(badWidth).has_value());
    }

    void randomBytesNeverCrash()
    {
        std::mt19937_64 rng(5);
        const auto valid = CountMinSketch(8, 1, 0).serialize();
        int accepted = 0;
        for (int i = 0; i < 10000; ++i) {
            std::vector<std::uint8_t> b = (i % 2) ? valid : std::vector<std::uint8_t>(rng() % 200);
            for (auto& x : b)
                if (i % 2 == 0 || rng() % 16 == 0)
                    x = static_cast<std::uint8_t>(rng());
            if (auto s = CountMinSketch::deserialize(b)) {
                ++accepted;
                QCOMPARE(s->serialize(), b); // anything accepted is self-consistent
            }
        }
        QVERIFY(accepted < 10000);
    }

    void saturatesInsteadOfWrapping()
    {
        CountMinSketch s(8, 1, 0);
        s.update(1, UINT32_MAX - 1);
        s.update(1, 5);
        QCOMPARE(s.estimate(1), std::uint64_t(UINT32_MAX));
    }
};

QTEST_APPLESS_MAIN(TestCountMinSketch)
#include "tst_count_min_sketch.moc"
