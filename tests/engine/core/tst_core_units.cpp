// Durations, window alignment, dictionaries and the flat hash map the hot path relies on.

#include "core/ad_dictionary.h"
#include "core/flat_u64_map.h"
#include "core/time_units.h"

#include <QtTest>

#include <map>
#include <random>

using namespace adclick::engine;

class TestCoreUnits : public QObject {
    Q_OBJECT

private slots:
    void parseDuration_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<qint64>("ms");
        QTest::newRow("ms") << "250ms" << qint64(250);
        QTest::newRow("s") << "10s" << qint64(10000);
        QTest::newRow("bare") << "90" << qint64(90000);
        QTest::newRow("m") << "2m" << qint64(120000);
        QTest::newRow("h") << "1h" << qint64(3600000);
        QTest::newRow("d") << "7d" << qint64(7 * 86400000LL);
        QTest::newRow("zero") << "0s" << qint64(0);
        QTest::newRow("bad unit") << "3w" << qint64(-1);
        QTest::newRow("negative") << "-5s" << qint64(-1);
        QTest::newRow("empty") << "" << qint64(-1);
        QTest::newRow("no number") << "s" << qint64(-1);
        QTest::newRow("overflow") << "99999999999999999999d" << qint64(-1);
        QTest::newRow("huge") << "999999999999999d" << qint64(-1);
    }
    void parseDuration()
    {
        QFETCH(QString, text);
        QFETCH(qint64, ms);
        const auto r = parseDurationMs(text.toStdString());
        if (ms < 0)
            QVERIFY(!r.has_value());
        else
            QCOMPARE(*r, ms);
    }

    void formatDuration()
    {
        QCOMPARE(formatDurationMs(120000), std::string("2m"));
        QCOMPARE(formatDurationMs(5400000), std::string("1h30m"));
        QCOMPARE(formatDurationMs(1500), std::string("1500ms"));
        QCOMPARE(formatIsoUtc(1767225600000LL), std::string("2026-01-01T00:00:00.000Z"));
        QCOMPARE(formatIsoUtc(-1), std::string("1969-12-31T23:59:59.999Z"));
    }

    void windowStart()
    {
        QCOMPARE(windowStartOf(60000, 60000), TimeMs(60000)); // exactly at the boundary: that window
        QCOMPARE(windowStartOf(59999, 60000), TimeMs(0));
        QCOMPARE(windowStartOf(-1, 60000), TimeMs(-60000));
        QCOMPARE(windowStartOf(-60000, 60000), TimeMs(-60000));
    }

    void adDictionary()
    {
        AdDictionary d;
        QCOMPARE(*d.intern("42"), AdId(42));
        QVERIFY(*d.intern("042") >= kFirstNamedAdId); // not canonical: a name
        const AdId named = *d.intern("ad-7");
        QVERIFY(named >= kFirstNamedAdId);
        QCOMPARE(*d.intern("ad-7"), named);
        QCOMPARE(d.format(named), std::string("ad-7"));
        QCOMPARE(d.format(42), std::string("42"));
        QCOMPARE(*d.lookup("ad-7"), named);
        QVERIFY(!d.lookup("ad-8").has_value());
        QVERIFY(!d.intern("").has_value());
        QVERIFY(!d.intern(std::string(200, 'x')).has_value());
        QVERIFY(*d.intern("4294967295") >= kFirstNamedAdId); // beyond the numeric range: a name
    }

    void flatMapAgainstStdMap()
    {
        std::mt19937_64 rng(3);
        FlatU64Map<std::uint32_t> m(4);
        std::map<std::uint64_t, std::uint32_t> ref;
        for (int i = 0; i < 200000; ++i) {
            const std::uint64_t k = 1 + rng() % 5000;
            if (rng() % 5 == 0) {
                QCOMPARE(m.erase(k), ref.erase(k) == 1);
            } else {
                ++m[k];
                ++ref[k];
            }
        }
        QCOMPARE(m.size(), ref.size());
        for (auto [k, v] : ref)
            QCOMPARE(*m.find(k), v);
        std::size_t visited = 0;
        m.forEach([&](std::uint64_t k, std::uint32_t v) {
            ++visited;
            QCOMPARE(ref.at(k), v);
        });
        QCOMPARE(visited, ref.size());
        m.clear();
        QVERIFY(m.empty());
        QVERIFY(!m.find(1));
    }
};

QTEST_APPLESS_MAIN(TestCoreUnits)
#include "tst_core_units.moc"
