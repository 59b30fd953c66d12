// Space-Saving against an exact oracle: every reported count brackets the true count within its
// error, errors stay ≤ N / capacity, every key above N / capacity is monitored, the heavy keys of
// a skewed stream come out in exact order, merges keep all of that for the union stream, and
// serialization round-trips and rejects corruption without crashing.

#include "sketch/space_saving.h"
#include "sketch_streams.h"

#include <QtTest>

#include <algorithm>
#include <unordered_map>

using namespace adclick::engine;
using adclick::test::SplitMix64;
using adclick::test::zipfStream;

namespace {
using Exact = std::unordered_map<std::uint64_t, std::uint64_t>;

// Header layout of version 1: magic[4], version, capacity u32, size u32, total u64.
constexpr std::size_t kVersionAt = 4;
constexpr std::size_t kCapacityAt = 5;
constexpr std::size_t kSizeAt = 9;
constexpr std::size_t kTotalAt = 13;
constexpr std::size_t kEntriesAt = 21;
constexpr std::size_t kEntryBytes = 24;

void putU64(std::vector<std::uint8_t>& b, std::size_t at, std::uint64_t v)
{
    for (int i = 0; i < 8; ++i)
        b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void putU32(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint64_t getU64(const std::vector<std::uint8_t>& b, std::size_t at)
{
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
        v |= std::uint64_t(b[at + i]) << (8 * i);
    return v;
}

// The first violated guarantee, or an empty string.
QString violation(const SpaceSaving& s, const Exact& exact)
{
    std::uint64_t n = 0;
    for (auto [k, c] : exact)
        n += c;
    if (s.totalCount() != n)
        return QStringLiteral("N %1 != %2").arg(s.totalCount()).arg(n);
    const std::uint64_t bound = s.errorBound();
    if (bound * s.capacity() > n)
        return QStringLiteral("errorBound %1 > N/k").arg(bound);
    if (s.size() > s.capacity())
        return QStringLiteral("size above capacity");
    const auto all = s.topK(s.size() + 5);
    if (all.size() != s.size())
        return QStringLiteral("topK(size+5) has %1 entries, size %2").arg(all.size()).arg(s.size());
    for (std::size_t i = 0; i < all.size(); ++i) {
        const auto& e = all[i];
        const auto it = exact.find(e.key);
        const std::uint64_t truth = it == exact.end() ? 0 : it->second;
        if (e.count < truth || e.count - e.error > truth || e.error >= e.count)
            return QStringLiteral("key %1: count %2 error %3 true %4").arg(e.key).arg(e.count).arg(e.error).arg(truth);
        if (e.error > bound)
            return QStringLiteral("key %1: error %2 > errorBound %3").arg(e.key).arg(e.error).arg(bound);
        if (s.estimate(e.key) != e.count || !s.contains(e.key) || s.entry(e.key) != e)
            return QStringLiteral("key %1: lookup disagrees with topK").arg(e.key);
        if (i > 0 && !(all[i - 1].count > e.count || (all[i - 1].count == e.count && all[i - 1].key < e.key)))
            return QStringLiteral("topK not sorted at %1").arg(i);
    }
    for (auto [k, truth] : exact) {
        if (s.contains(k))
            continue;
        if (truth > bound)
            return QStringLiteral("unmonitored key %1 with true %2 > errorBound %3").arg(k).arg(truth).arg(bound);
        if (truth * s.capacity() > n)
            return QStringLiteral("heavy key %1 (true %2 > N/k) not monitored").arg(k).arg(truth);
        if (s.estimate(k) != 0 || s.entry(k).has_value())
            return QStringLiteral("unmonitored key %1 has an estimate").arg(k);
    }
    return {};
}

std::vector<std::pair<std::uint64_t, std::uint64_t>> exactTop(const Exact& exact)
{
    std::vector<std::pair<std::uint64_t, std::uint64_t>> v(exact.begin(), exact.end());
    std::sort(v.begin(), v.end(),
        [](auto& a, auto& b) { return a.second > b.second || (a.second == b.second && a.first < b.first); });
    return v;
}
} // namespace

class TestSpaceSaving : public QObject {
    Q_OBJECT

private slots:
    void sizing()
    {
        QCOMPARE(SpaceSaving::suggestCapacity(0.01), 100u);
        QCOMPARE(SpaceSaving::suggestCapacity(0.001), 1000u);
        QCOMPARE(SpaceSaving::suggestCapacity(0.3), 4u);
        QCOMPARE(SpaceSaving::suggestCapacity(2.0), 1u);
        QCOMPARE(SpaceSaving(0).capacity(), 1u);
        QCOMPARE(SpaceSaving(1u << 30).capacity(), SpaceSaving::kMaxCapacity);
        // Storage follows the monitored keys, not the capacity.
        QVERIFY(SpaceSaving(SpaceSaving::kMaxCapacity).memoryBytes() < 4096);
    }

    void boundsAgainstOracle_data()
    {
        QTest::addColumn<double>("skew");
        QTest::addColumn<std::uint32_t>("capacity");
        QTest::addColumn<std::uint32_t>("keys");
        QTest::addColumn<bool>("weighted");
        QTest::newRow("zipf 1.1, k 100") << 1.1 << 100u << 5000u << false;
        QTest::newRow("zipf 0.8, k 50") << 0.8 << 50u << 5000u << false;
        QTest::newRow("zipf 1.5, k 10") << 1.5 << 10u << 2000u << false;
        QTest::newRow("uniform, k 100") << 0.0 << 100u << 1000u << false;
        QTest::newRow("zipf 1.0, k 1") << 1.0 << 1u << 100u << false;
        QTest::newRow("zipf 1.0, k 64, weighted") << 1.0 << 64u << 3000u << true;
        QTest::newRow("fewer keys than capacity") << 1.0 << 500u << 300u << false;
    }
    void boundsAgainstOracle()
    {
        QFETCH(double, skew);
        QFETCH(std::uint32_t, capacity);
        QFETCH(std::uint32_t, keys);
        QFETCH(bool, weighted);
        for (std::uint64_t seed = 1; seed <= 30; ++seed) {
            const auto data = zipfStream(20000, keys, skew, seed, seed);
            SplitMix64 weights(seed);
            SpaceSaving s(capacity);
            Exact exact;
            for (std::size_t i = 0; i < data.size(); ++i) {
                const std::uint64_t count = weighted ? 1 + weights.below(20) : 1;
                s.update(data[i], count);
                exact[data[i]] += count;
                if (i % 4999 == 0) {
                    const QString v = violation(s, exact);
                    QVERIFY2(v.isEmpty(), qPrintable(v));
                }
            }
            const QString v = violation(s, exact);
            QVERIFY2(v.isEmpty(), qPrintable(QStringLiteral("seed %1: %2").arg(seed).arg(v)));
            QCOMPARE(s.size(), std::min<std::size_t>(capacity, exact.size()));
            std::uint64_t sum = 0;
            for (const auto& e : s.topK(capacity))
                sum += e.count;
            QCOMPARE(sum, s.totalCount()); // without merges every update lands in exactly one counter
            if (exact.size() <= capacity) {
                QCOMPARE(s.errorBound(), std::uint64_t(0));
                for (auto [k, n] : exact)
                    QCOMPARE(s.estimate(k), n); // never evicted: exact
            }
        }
    }

    void topKMatchesExactHeavyKeys_data()
    {
        QTest::addColumn<double>("skew");
        QTest::addColumn<std::size_t>("k");
        QTest::newRow("zipf 1.2, top 10") << 1.2 << std::size_t(10);
        QTest::newRow("zipf 1.0, top 10") << 1.0 << std::size_t(10);
        QTest::newRow("zipf 1.5, top 50") << 1.5 << std::size_t(50);
    }
    void topKMatchesExactHeavyKeys()
    {
        QFETCH(double, skew);
        QFETCH(std::size_t, k);
        const auto data = zipfStream(300000, 100000, skew, 9, 4);
        SpaceSaving s(1000);
        Exact exact;
        for (auto key : data) {
            s.update(key);
            ++exact[key];
        }
        const auto truth = exactTop(exact);
        const auto top = s.topK(k);
        QCOMPARE(top.size(), k);
        // Where exact ranks i and i+1 differ by more than twice the error bound, the approximate
        // top-(i+1) must be exactly the true top-(i+1) as a set.
        const std::uint64_t bound = s.errorBound();
        std::size_t checkedPrefixes = 0;
        for (std::size_t i = 0; i < k; ++i) {
            if (truth[i].second <= truth[i + 1].second + 2 * bound)
                continue;
            std::vector<std::uint64_t> want, got;
            for (std::size_t j = 0; j <= i; ++j) {
                want.push_back(truth[j].first);
                got.push_back(top[j].key);
            }
            std::sort(want.begin(), want.end());
            std::sort(got.begin(), got.end());
            QCOMPARE(got, want);
            ++checkedPrefixes;
        }
        qInfo("%zu of %zu prefixes separated by more than 2 x errorBound (%llu)", checkedPrefixes, k,
            static_cast<unsigned long long>(bound));
        QVERIFY(checkedPrefixes >= k / 2); // the test is about heavy keys: most ranks are separated
        for (std::size_t i = 0; i < k; ++i) {
            QVERIFY(top[i].count >= exact[top[i].key]);
            QVERIFY(top[i].count - top[i].error <= exact[top[i].key]);
        }
    }

    void noAllocationOnceFull()
    {
        SpaceSaving s(1000);
        const auto data = zipfStream(200000, 50000, 1.0, 3);
        std::size_t i = 0;
        for (; s.size() < s.capacity(); ++i)
            s.update(data[i]);
        const std::size_t bytes = s.memoryBytes();
        for (; i < data.size(); ++i)
            s.update(data[i]);
        QCOMPARE(s.memoryBytes(), bytes);
    }

    void extremeKeysAndZeroCount()
    {
        SpaceSaving s(2);
        s.update(0, 5);
        s.update(UINT64_MAX, 3);
        s.update(42, 0); // no-op
        QCOMPARE(s.size(), std::size_t(2));
        QCOMPARE(s.totalCount(), std::uint64_t(8));
        QCOMPARE(s.estimate(0), std::uint64_t(5));
        QCOMPARE(s.estimate(UINT64_MAX), std::uint64_t(3));
        QVERIFY(!s.contains(42));
        s.update(7); // evicts UINT64_MAX (the minimum), inheriting its count as error
        QVERIFY(!s.contains(UINT64_MAX));
        QCOMPARE(s.entry(7), std::optional(SpaceSaving::Entry { 7, 4, 3 }));
        QCOMPARE(s.errorBound(), std::uint64_t(4));
    }

    void tiesEvictTheOldestMinimum()
    {
        // Among equal minimum counts, the entry that has been at that count longest goes first.
        for (bool reversed : { false, true }) {
            SpaceSaving s(3);
            const std::vector<std::uint64_t> keys
                = reversed ? std::vector<std::uint64_t> { 30, 20, 10 } : std::vector<std::uint64_t> { 10, 20, 30 };
            for (auto k : keys)
                s.update(k);
            s.update(99); // evicts keys[0]; 99 now has count 2, error 1
            QVERIFY(!s.contains(keys[0]));
            QCOMPARE(s.entry(99), std::optional(SpaceSaving::Entry { 99, 2, 1 }));
            s.update(keys[1]); // keys[1] → 2: keys[2] is now the only minimum
            s.update(7);
            QVERIFY(!s.contains(keys[2]));
            QVERIFY(s.contains(keys[1]) && s.contains(99) && s.contains(7));
        }
    }

    void weightedUpdatesOvertakeBuckets()
    {
        // Weighted increments jump over several buckets and land between or on existing ones.
        SpaceSaving s(5);
        Exact exact;
        const std::pair<std::uint64_t, std::uint64_t> steps[] = { { 1, 1 }, { 2, 2 }, { 3, 3 }, { 4, 4 }, { 5, 5 },
            { 1, 10 }, { 2, 2 }, { 3, 8 }, { 6, 1 }, { 7, 20 }, { 2, 7 }, { 8, 3 }, { 1, 1 } };
        for (auto [key, count] : steps) {
            s.update(key, count);
            exact[key] += count;
            const QString v = violation(s, exact);
            QVERIFY2(v.isEmpty(), qPrintable(v));
            auto back = SpaceSaving::deserialize(s.serialize());
            QVERIFY(back.has_value());
            QVERIFY(back->topK(5) == s.topK(5));
        }
        QCOMPARE(s.size(), std::size_t(5));
    }

    void merge_data()
    {
        QTest::addColumn<int>("parts");
        QTest::addColumn<double>("skew");
        QTest::addColumn<std::uint32_t>("capacity");
        QTest::addColumn<bool>("tree");
        QTest::newRow("2 parts, zipf 1.1") << 2 << 1.1 << 100u << false;
        QTest::newRow("3 parts, zipf 0.8") << 3 << 0.8 << 50u << false;
        QTest::newRow("8 parts, zipf 1.2, chain") << 8 << 1.2 << 64u << false;
        QTest::newRow("8 parts, zipf 1.2, tree") << 8 << 1.2 << 64u << true;
        QTest::newRow("4 parts, uniform, tree") << 4 << 0.0 << 100u << true;
        QTest::newRow("5 parts, small (no eviction)") << 5 << 1.0 << 400u << false;
    }
    void merge()
    {
        QFETCH(int, parts);
        QFETCH(double, skew);
        QFETCH(std::uint32_t, capacity);
        QFETCH(bool, tree);
        for (std::uint64_t seed = 1; seed <= 20; ++seed) {
            std::vector<SpaceSaving> sketches(static_cast<std::size_t>(parts), SpaceSaving { capacity });
            Exact exact;
            SplitMix64 rng(seed);
            for (int p = 0; p < parts; ++p) {
                // Parts of different sizes and key ranges (overlapping) so pads matter.
                const auto data
                    = zipfStream(2000 + rng.below(8000), capacity == 400 ? 300 : 4000, skew, seed * 31 + p, p % 2);
                for (auto k : data) {
                    sketches[p].update(k);
                    ++exact[k];
                }
            }
            if (tree) {
                for (std::size_t step = 1; step < sketches.size(); step *= 2)
                    for (std::size_t i = 0; i + step < sketches.size(); i += 2 * step)
                        QVERIFY(sketches[i].merge(sketches[i + step]));
            } else {
                for (std::size_t i = 1; i < sketches.size(); ++i)
                    QVERIFY(sketches[0].merge(sketches[i]));
            }
            const QString v = violation(sketches[0], exact);
            QVERIFY2(v.isEmpty(), qPrintable(QStringLiteral("seed %1: %2").arg(seed).arg(v)));
            QCOMPARE(sketches[0].size(), std::min<std::size_t>(capacity, exact.size()));
            // Merged summaries keep working: more updates, and the guarantee still holds.
            for (auto k : zipfStream(3000, 4000, skew, seed + 999)) {
                sketches[0].update(k);
                ++exact[k];
            }
            const QString after = violation(sketches[0], exact);
            QVERIFY2(after.isEmpty(), qPrintable(QStringLiteral("seed %1 after updates: %2").arg(seed).arg(after)));
            // A merged summary survives serialization (its invariants are the loader's).
            QVERIFY(SpaceSaving::deserialize(sketches[0].serialize()).has_value());
        }
    }

    void mergeIsSymmetricAndChecksCapacity()
    {
        SpaceSaving a(50), b(50), big(80), small(40);
        Exact exact;
        for (auto k : zipfStream(5000, 1000, 1.0, 1)) {
            a.update(k);
            big.update(k);
            small.update(k);
        }
        for (auto k : zipfStream(7000, 1000, 0.7, 2, 1))
            b.update(k);
        SpaceSaving ab = a, ba = b;
        QVERIFY(ab.merge(b));
        QVERIFY(ba.merge(a));
        QCOMPARE(ab.serialize(), ba.serialize());

        const auto before = a.serialize();
        QVERIFY(!a.merge(small)); // a smaller capacity would break error ≤ N / capacity
        QCOMPARE(a.serialize(), before);
        QVERIFY(a.merge(big));
        QCOMPARE(a.capacity(), 50u);
        QCOMPARE(a.totalCount(), std::uint64_t(10000));

        SpaceSaving self(10);
        for (auto k : zipfStream(1000, 100, 1.0, 5))
            self.update(k);
        SpaceSaving twice = self;
        QVERIFY(twice.merge(twice));
        QCOMPARE(twice.totalCount(), 2 * self.totalCount());
        QCOMPARE(twice.topK(1).front().count, 2 * self.topK(1).front().count);
        SpaceSaving viaCopy = self;
        const SpaceSaving copy = self;
        QVERIFY(viaCopy.merge(copy));
        QCOMPARE(twice.serialize(), viaCopy.serialize()); // self-merge = merging an equal summary
    }

    void roundTripKeepsBehaviour()
    {
        for (std::uint32_t capacity : { 1u, 7u, 100u, 1000u }) {
            SpaceSaving s(capacity);
            for (auto k : zipfStream(20000, 3000, 1.0, capacity))
                s.update(k);
            const auto bytes = s.serialize();
            QCOMPARE(bytes.size(), kEntriesAt + kEntryBytes * s.size());
            std::string error;
            auto back = SpaceSaving::deserialize(bytes, &error);
            QVERIFY2(back.has_value(), error.c_str());
            QCOMPARE(back->serialize(), bytes);
            QCOMPARE(back->capacity(), s.capacity());
            QCOMPARE(back->totalCount(), s.totalCount());
            QCOMPARE(back->errorBound(), s.errorBound());
            QVERIFY(back->topK(capacity) == s.topK(capacity));
            // The heap is rebuilt in another layout, yet the copy evicts exactly like the original.
            for (auto k : zipfStream(5000, 3000, 0.9, capacity + 1)) {
                s.update(k);
                back->update(k);
            }
            QCOMPARE(back->serialize(), s.serialize());
        }
        SpaceSaving empty(5);
        const auto back = SpaceSaving::deserialize(empty.serialize());
        QVERIFY(back.has_value());
        QCOMPARE(back->size(), std::size_t(0));
    }

    void rejectsCorruption()
    {
        SpaceSaving s(16);
        for (auto k : zipfStream(3000, 200, 1.0, 3))
            s.update(k);
        const auto bytes = s.serialize();
        QCOMPARE(s.size(), std::size_t(16));
        std::string error;
        const auto rejects = [&](const std::vector<std::uint8_t>& b, const char* why) {
            const bool rejected = !SpaceSaving::deserialize(b, &error).has_value();
            return rejected && error.find(why) != std::string::npos;
        };

        for (std::size_t len = 0; len < bytes.size(); ++len)
            QVERIFY(!SpaceSaving::deserialize(std::span(bytes.data(), len), &error).has_value());
        auto trailing = bytes;
        trailing.push_back(0);
        QVERIFY(rejects(trailing, "trailing"));
        for (int v = 0; v < 256; ++v) {
            auto b = bytes;
            b[kVersionAt] = static_cast<std::uint8_t>(v);
            if (v != SpaceSaving::kSerialVersion)
                QVERIFY(rejects(b, "version"));
        }
        for (std::size_t i = 0; i < 4; ++i) {
            auto b = bytes;
            b[i] ^= 0x20;
            QVERIFY(rejects(b, "magic"));
        }
        auto b = bytes;
        putU32(b, kCapacityAt, 0);
        QVERIFY(rejects(b, "capacity"));
        b = bytes;
        putU32(b, kCapacityAt, SpaceSaving::kMaxCapacity + 1);
        QVERIFY(rejects(b, "capacity"));
        b = bytes;
        putU32(b, kCapacityAt, 15);
        QVERIFY(rejects(b, "capacity"));
        b = bytes;
        putU32(b, kSizeAt, 15); // the byte count no longer matches
        QVERIFY(rejects(b, "trailing"));
        b = bytes;
        putU64(b, kTotalAt, getU64(bytes, kTotalAt) - 1);
        QVERIFY(rejects(b, "total"));

        const std::size_t first = kEntriesAt, second = kEntriesAt + kEntryBytes, last = bytes.size() - kEntryBytes;
        b = bytes; // error ≥ count
        putU64(b, last + 16, getU64(bytes, last + 8));
        QVERIFY(rejects(b, "error"));
        b = bytes; // order: the first entry's count drops below the second's
        putU64(b, first + 8, getU64(bytes, second + 8) - 1);
        QVERIFY(rejects(b, "order"));
        b = bytes; // duplicate key with a different count, still in order
        putU64(b, second, getU64(bytes, first));
        QVERIFY(rejects(b, "duplicate"));
        b = bytes; // an error above the minimum counter cannot come from a stream
        putU64(b, first + 16, getU64(bytes, last + 8) + 1);
        QVERIFY(rejects(b, "minimum"));

        // Not yet full: errors must be 0 and counts must add up to N exactly.
        SpaceSaving partial(100);
        for (auto k : zipfStream(500, 50, 1.0, 3))
            partial.update(k);
        const auto pb = partial.serialize();
        QVERIFY(SpaceSaving::deserialize(pb).has_value());
        b = pb;
        putU64(b, kTotalAt, getU64(pb, kTotalAt) + 1);
        QVERIFY(rejects(b, "total"));
        b = pb;
        putU64(b, kEntriesAt + 16, 1);
        QVERIFY(rejects(b, "evicted"));
    }

    void randomBytesNeverCrash_data()
    {
        QTest::addColumn<int>("mode");
        QTest::newRow("random bytes") << 0;
        QTest::newRow("real small summaries, nudged fields") << 1;
        QTest::newRow("valid summary, sparse bit flips") << 2;
    }
    void randomBytesNeverCrash()
    {
        QFETCH(int, mode);
        SplitMix64 rng(17 + mode);
        SpaceSaving small(4);
        for (auto k : { 1, 1, 1, 2, 2, 3, 4, 5 })
            small.update(std::uint64_t(k));
        const auto valid = small.serialize();
        int accepted = 0;
        for (int i = 0; i < 10000; ++i) {
            std::vector<std::uint8_t> b;
            if (mode == 0) {
                b.resize(rng.below(160));
                for (auto& x : b)
                    x = static_cast<std::uint8_t>(rng.next());
            } else if (mode == 1) {
                // A real small summary, then half the time one header or entry field nudged by ±1.
                SpaceSaving r(static_cast<std::uint32_t>(1 + rng.below(6)));
                for (int u = int(rng.below(30)); u > 0; --u)
                    r.update(rng.below(10), 1 + rng.below(3));
                b = r.serialize();
                if (rng.below(2) == 0) {
                    const std::size_t fields = (b.size() - kEntriesAt) / 8;
                    const std::size_t at = rng.below(fields + 1) == fields
                        ? kTotalAt
                        : kEntriesAt + 8 * rng.below(std::max<std::size_t>(fields, 1));
                    if (at + 8 <= b.size())
                        putU64(b, at, getU64(b, at) + (rng.below(2) ? 1 : std::uint64_t(-1)));
                }
            } else {
                b = valid;
                for (int flips = 1 + int(rng.below(3)); flips > 0; --flips)
                    b[rng.below(b.size())] ^= static_cast<std::uint8_t>(1u << rng.below(8));
                if (rng.below(4) == 0)
                    b.resize(rng.below(b.size() + 8));
            }
            if (auto s = SpaceSaving::deserialize(b)) {
                ++accepted;
                QCOMPARE(s->serialize(), b); // anything accepted is canonical and self-consistent
                const std::uint64_t bound = s->errorBound();
                QVERIFY(bound * s->capacity() <= s->totalCount());
                for (const auto& e : s->topK(s->size()))
                    QVERIFY(e.error < e.count && e.error <= bound);
                s->update(rng.below(8)); // and keeps working
                QVERIFY(s->size() <= s->capacity());
            }
        }
        qInfo("accepted %d of 10000", accepted);
        QVERIFY(accepted < 10000);
    }

    void clearResets()
    {
        SpaceSaving s(8);
        for (auto k : zipfStream(1000, 100, 1.0, 1))
            s.update(k);
        s.clear();
        QCOMPARE(s.size(), std::size_t(0));
        QCOMPARE(s.totalCount(), std::uint64_t(0));
        QCOMPARE(s.errorBound(), std::uint64_t(0));
        QCOMPARE(s.serialize(), SpaceSaving(8).serialize());
        s.update(3);
        QCOMPARE(s.estimate(3), std::uint64_t(1));
    }
};

QTEST_APPLESS_MAIN(TestSpaceSaving)
#include "tst_space_saving.moc"
