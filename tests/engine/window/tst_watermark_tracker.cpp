// Per-partition watermarks, idleness and the edge cases of DESIGN.md "Time, windows, watermarks".

#include "window/watermark_tracker.h"

#include <QtTest>

using namespace adclick::engine;

class TestWatermarkTracker : public QObject {
    Q_OBJECT

private slots:
    void minimumOverPartitions()
    {
        WatermarkTracker t({ 1000, 0 }, 2, 0);
        QCOMPARE(t.observe(0, 10000), kMinTimeMs); // partition 1 has not spoken yet
        QCOMPARE(t.observe(1, 5000), TimeMs(4000));
        QCOMPARE(t.observe(1, 20000), TimeMs(9000)); // now partition 0 holds the minimum
        QCOMPARE(t.observe(0, 30000), TimeMs(19000));
        QCOMPARE(t.observe(0, 100), TimeMs(19000)); // an old event never moves it back
    }

    void onePartitionIdle()
    {
        WatermarkTracker t({ 1000, 5000 }, 2, 0);
        t.observe(0, 10000);
        t.observe(1, 2000);
        QCOMPARE(t.watermark(), TimeMs(1000));
        t.advanceProcessingTime(3000);
        t.observe(0, 20000); // partition 0 keeps talking, 1 goes quiet
        QCOMPARE(t.watermark(), TimeMs(1000));
        QCOMPARE(t.advanceProcessingTime(5000), TimeMs(19000)); // partition 1 idle since t=0 + 5 s
        QCOMPARE(t.idlePartitions(), 1u);
        QVERIFY(t.partitions()[1].idle);
        // It comes back with an old event: active again, but the watermark does not regress.
        QCOMPARE(t.observe(1, 3000), TimeMs(19000));
        QCOMPARE(t.idlePartitions(), 0u);
        QCOMPARE(t.observe(0, 25000), TimeMs(19000)); // held by partition 1 (2000) — but never backwards
        QCOMPARE(t.observe(1, 30000), TimeMs(24000));
    }

    void allPartitionsIdleHoldsWatermark()
    {
        WatermarkTracker t({ 1000, 5000 }, 3, 0);
        t.observe(0, 10000);
        t.observe(1, 12000);
        t.observe(2, 14000);
        QCOMPARE(t.watermark(), TimeMs(9000));
        QCOMPARE(t.advanceProcessingTime(60000), TimeMs(9000));
        QCOMPARE(t.idlePartitions(), 3u);
        QCOMPARE(t.advanceProcessingTime(120000), TimeMs(9000));
        QCOMPARE(t.observe(2, 50000), TimeMs(49000)); // the only active partition decides
    }

    void neverIdleWhenTimeoutZero()
    {
        WatermarkTracker t({ 0, 0 }, 2, 0);
        t.observe(0, 10000);
        QCOMPARE(t.advanceProcessingTime(1000000000), kMinTimeMs);
        QCOMPARE(t.idlePartitions(), 0u);
    }

    // A partition another consumer-group member reads does not hold the watermark, with or without
    // an idle timeout; back in our hands it holds it again until it has spoken.
    void releasedPartitionDoesNotHold_data()
    {
        QTest::addColumn<TimeMs>("idleTimeoutMs");
        QTest::newRow("no idle timeout") << TimeMs(0);
        QTest::newRow("idle timeout") << TimeMs(60000);
    }
    void releasedPartitionDoesNotHold()
    {
        QFETCH(TimeMs, idleTimeoutMs);
        WatermarkTracker t({ 1000, idleTimeoutMs }, 2, 0);
        QCOMPARE(t.observe(0, 10000), kMinTimeMs); // partition 1 has not spoken: it holds
        t.setReleased(1, true);
        QVERIFY(t.released(1));
        QCOMPARE(t.watermark(), TimeMs(9000));
        QCOMPARE(t.advanceProcessingTime(100), TimeMs(9000)); // stays idle while released
        QCOMPARE(t.observe(0, 20000), TimeMs(19000));
        QCOMPARE(t.idlePartitions(), 1u);
        t.setReleased(1, false);
        QCOMPARE(t.idlePartitions(), 0u);
        QCOMPARE(t.observe(0, 30000), TimeMs(19000)); // held: partition 1 is ours again, silent
        QCOMPARE(t.observe(1, 40000), TimeMs(29000));
    }

    void forceAndResize()
    {
        WatermarkTracker t({ 1000, 0 }, 1, 0);
        t.observe(0, 5000);
        t.resize(3);
        QCOMPARE(t.partitions().size(), std::size_t(3));
        QCOMPARE(t.watermark(), TimeMs(4000)); // already reached; new partitions only hold it
        t.forceWatermark(INT64_MAX / 4);
        QCOMPARE(t.watermark(), INT64_MAX / 4);
    }
};

QTEST_APPLESS_MAIN(TestWatermarkTracker)
#include "tst_watermark_tracker.moc"
