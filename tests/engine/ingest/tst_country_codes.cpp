// ISO-3166-1 alpha-2 lookup.

#include "ingest/country_codes.h"

#include <QtTest>

using namespace adclick::engine;

class TestCountryCodes : public QObject {
    Q_OBJECT

private slots:
    void parse_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<bool>("known");
        QTest::addColumn<QByteArray>("canonical");

        QTest::newRow("US") << QByteArray("US") << true << QByteArray("US");
        QTest::newRow("lower de") << QByteArray("de") << true << QByteArray("DE");
        QTest::newRow("mixed Fr") << QByteArray("Fr") << true << QByteArray("FR");
        QTest::newRow("GB") << QByteArray("GB") << true << QByteArray("GB");
        QTest::newRow("first AD") << QByteArray("AD") << true << QByteArray("AD");
        QTest::newRow("last ZW") << QByteArray("ZW") << true << QByteArray("ZW");
        QTest::newRow("Aland AX") << QByteArray("AX") << true << QByteArray("AX");
        QTest::newRow("South Sudan SS") << QByteArray("SS") << true << QByteArray("SS");
        QTest::newRow("unknown XX") << QByteArray("XX") << true << QByteArray("XX");
        QTest::newRow("UK not assigned") << QByteArray("UK") << false << QByteArray();
        QTest::newRow("EU reserved") << QByteArray("EU") << false << QByteArray();
        QTest::newRow("AA user-assigned") << QByteArray("AA") << false << QByteArray();
        QTest::newRow("YU withdrawn") << QByteArray("YU") << false << QByteArray();
        QTest::newRow("ZZ") << QByteArray("ZZ") << false << QByteArray();
        QTest::newRow("alpha-3") << QByteArray("USA") << false << QByteArray();
        QTest::newRow("one letter") << QByteArray("U") << false << QByteArray();
        QTest::newRow("empty") << QByteArray() << false << QByteArray();
        QTest::newRow("digits") << QByteArray("12") << false << QByteArray();
        QTest::newRow("space") << QByteArray("U ") << false << QByteArray();
        QTest::newRow("high bytes") << QByteArray("\xc3\x9c") << false << QByteArray();
    }
    void parse()
    {
        QFETCH(QByteArray, text);
        QFETCH(bool, known);
        QFETCH(QByteArray, canonical);
        CountryCode code = 0;
        QCOMPARE(parseCountry(std::string_view(text.constData(), static_cast<std::size_t>(text.size())), code), known);
        if (!known)
            return;
        QVERIFY(isKnownCountry(code));
        QCOMPARE(QByteArray::fromStdString(formatCountry(code)), canonical);
    }

    void tableHas250Entries()
    {
        int known = 0;
        for (char a = 'A'; a <= 'Z'; ++a)
            for (char b = 'A'; b <= 'Z'; ++b)
                known += isKnownCountry(packCountry(a, b)) ? 1 : 0;
        QCOMPARE(known, 249 + 1); // assigned codes + XX
        QVERIFY(!isKnownCountry(packCountry('u', 's'))); // codes are stored upper case
        QVERIFY(!isKnownCountry(0));
        QVERIFY(isKnownCountry(packCountry('U', 'S')));
    }
};

QTEST_APPLESS_MAIN(TestCountryCodes)
#include "tst_country_codes.moc"
