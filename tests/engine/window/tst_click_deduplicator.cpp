// De-duplication keeps every id for at least one horizon of watermark progress and bounds memory.

#include "window/click_deduplicator.h"

#include <QtTest>

using namespace adclick::engine;

class TestClickDeduplicator : public QObject {
    Q_OBJECT

private slots:
    void detectsWithinHorizon()
    {
        ClickDeduplicator d(60000);
        QVERIFY(!d.isDuplicate(42, kMinTimeMs)); // before the first watermark
        QVERIFY(!d.isDuplicate(43, 1000000));
        QVERIFY(d.isDuplicate(42, 1000000)); // seen while warming up: still remembered
        QVERIFY(d.isDuplicate(43, 1059999));
        QVERIFY(d.isDuplicate(43, 1060000)); // rotated once: in the previous generation
        QVERIFY(d.isDuplicate(43, 1119999));
    }

    void forgetsAfterTwoHorizons()
    {
        ClickDeduplicator d(60000);
        QVERIFY(!d.isDuplicate(7, 0));
        QVERIFY(!d.isDuplicate(8, 60000)); // rotation 1: 7 moves to previous
        QVERIFY(!d.isDuplicate(9, 120000)); // rotation 2: 7 forgotten
        QVERIFY(!d.isDuplicate(7, 120001));
        QVERIFY(d.isDuplicate(8, 120002));
    }

    void longGapForgetsEverything()
    {
        ClickDeduplicator d(60000);
        QVERIFY(!d.isDuplicate(1, 0));
        QVERIFY(!d.isDuplicate(2, 30000));
        QVERIFY(!d.isDuplicate(3, 10 * 60000)); // jumped 10 horizons
        QVERIFY(!d.isDuplicate(1, 10 * 60000));
        QVERIFY(!d.isDuplicate(2, 10 * 60000));
    }

    void memoryIsBounded()
    {
        ClickDeduplicator d(1000);
        std::size_t maxIds = 0;
        for (std::uint64_t i = 1; i <= 200000; ++i) {
            QVERIFY(!d.isDuplicate(i, static_cast<TimeMs>(i))); // 1 id per ms of watermark
            maxIds = std::max(maxIds, d.rememberedIds());
        }
        QVERIFY(maxIds <= 2000 + 2); // two generations of one horizon each
        QVERIFY(maxIds >= 1000);
    }
};

QTEST_APPLESS_MAIN(TestClickDeduplicator)
#include "tst_click_deduplicator.moc"
