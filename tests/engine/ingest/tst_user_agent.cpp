// User-agent device classification and the bounded user-agent dictionary.

#include "ingest/user_agent.h"

#include <QtTest>

#include <string>

using namespace adclick::engine;

Q_DECLARE_METATYPE(adclick::engine::DeviceClass)

class TestUserAgent : public QObject {
    Q_OBJECT

private slots:
    void classify_data()
    {
        QTest::addColumn<QByteArray>("userAgent");
        QTest::addColumn<DeviceClass>("expected");

        QTest::newRow("iPhone") << QByteArray(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
                                << DeviceClass::Mobile;
        QTest::newRow("iPad") << QByteArray("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
                                            "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
                              << DeviceClass::Tablet;
        QTest::newRow("Android phone") << QByteArray("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
                                                     "(KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36")
                                       << DeviceClass::Mobile;
        QTest::newRow("Android without Mobile") << QByteArray("Mozilla/5.0 (Linux; Android 13; SM-X700) "
                                                              "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 "
                                                              "Safari/537.36")
                                                << DeviceClass::Tablet;
        QTest::newRow("Tablet word") << QByteArray("Mozilla/5.0 (Tablet; rv:26.0) Gecko/26.0 Firefox/26.0")
                                     << DeviceClass::Tablet;
        QTest::newRow("Windows") << QByteArray("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                                               "(KHTML, like Gecko) Chrome/120.0 Safari/537.36")
                                 << DeviceClass::Desktop;
        QTest::newRow("Macintosh") << QByteArray("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 "
                                                 "(KHTML, like Gecko) Version/17.1 Safari/605.1.15")
                                   << DeviceClass::Desktop;
        QTest::newRow("X11") << QByteArray("Mozilla/5.0 (X11; Ubuntu; rv:121.0) Gecko/20100101 Firefox/121.0")
                             << DeviceClass::Desktop;
        QTest::newRow("Linux") << QByteArray("Mozilla/5.0 (Linux x86_64) Gecko Firefox/121.0") << DeviceClass::Desktop;
        QTest::newRow("CrOS") << QByteArray("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 Chrome/120.0")
                              << DeviceClass::Desktop;
        QTest::newRow("Windows Phone") << QByteArray("Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Lumia 950) "
                                                     "AppleWebKit/537.36 Chrome/52.0 Mobile Safari/537.36 Edge/15.0")
                                       << DeviceClass::Mobile;
        QTest::newRow("Googlebot") << QByteArray("Mozilla/5.0 (compatible; Googlebot/2.1; "
                                                 "+http://www.google.com/bot.html)")
                                   << DeviceClass::Bot;
        QTest::newRow("Googlebot smartphone") << QByteArray("Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X) "
                                                            "AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36 "
                                                            "(compatible; Googlebot/2.1)")
                                              << DeviceClass::Bot;
        QTest::newRow("bingbot") << QByteArray("Mozilla/5.0 (compatible; bingbot/2.0)") << DeviceClass::Bot;
        QTest::newRow("crawler") << QByteArray("SomeCrawler/1.0") << DeviceClass::Bot;
        QTest::newRow("spider") << QByteArray("Baiduspider/2.0") << DeviceClass::Bot;
        QTest::newRow("slurp") << QByteArray("Mozilla/5.0 (compatible; Yahoo! Slurp)") << DeviceClass::Bot;
        QTest::newRow("curl") << QByteArray("curl/8.4.0") << DeviceClass::Bot;
        QTest::newRow("wget") << QByteArray("Wget/1.21.4") << DeviceClass::Bot;
        QTest::newRow("python-requests") << QByteArray("python-requests/2.31.0") << DeviceClass::Bot;
        QTest::newRow("headless") << QByteArray("Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0")
                                  << DeviceClass::Bot;
        QTest::newRow("upper case") << QByteArray("MOZILLA/5.0 (IPHONE)") << DeviceClass::Mobile;
        QTest::newRow("empty") << QByteArray() << DeviceClass::Other;
        QTest::newRow("unknown") << QByteArray("Nintendo Switch WebApplet") << DeviceClass::Other;
        QTest::newRow("non-ascii") << QByteArray("\xc3\xa9\xc3\xa8 \x00 PlayStation", 18) << DeviceClass::Other;
    }
    void classify()
    {
        QFETCH(QByteArray, userAgent);
        QFETCH(DeviceClass, expected);
        const std::string_view ua(userAgent.constData(), static_cast<std::size_t>(userAgent.size()));
        QCOMPARE(deviceClassName(classifyUserAgent(ua)), deviceClassName(expected));
    }

    void classifyLongUserAgent()
    {
        // Tokens are found anywhere in a long string, including across the internal window seams.
        for (std::size_t offset = 0; offset < 1200; offset += 7) {
            std::string ua(offset, 'a');
            ua += "python-requests";
            ua.append(700, 'b');
            QVERIFY2(classifyUserAgent(ua) == DeviceClass::Bot, std::to_string(offset).c_str());
        }
        QVERIFY(classifyUserAgent(std::string(5000, 'x')) == DeviceClass::Other);
    }

    void dictionaryIds()
    {
        UserAgentDictionary dict;
        const auto a = dict.intern("ua-a");
        const auto b = dict.intern("ua-b");
        const auto empty = dict.intern("");
        QCOMPARE(a, std::uint16_t(0));
        QCOMPARE(b, std::uint16_t(1));
        QCOMPARE(empty, std::uint16_t(2));
        QCOMPARE(dict.intern("ua-a"), a);
        QCOMPARE(dict.name(a), std::string_view("ua-a"));
        QCOMPARE(dict.name(empty), std::string_view(""));
        QCOMPARE(dict.size(), 3u);
    }

    void dictionaryOverflow()
    {
        UserAgentDictionary dict;
        for (std::uint32_t i = 0; i < UserAgentDictionary::kOverflowId; ++i)
            QCOMPARE(dict.intern("ua-" + std::to_string(i)), static_cast<std::uint16_t>(i));
        QCOMPARE(dict.size(), 65535u);
        // Full: new strings share the overflow id, known ones keep theirs, nothing more is stored.
        QCOMPARE(dict.intern("brand new"), UserAgentDictionary::kOverflowId);
        QCOMPARE(dict.intern("another"), UserAgentDictionary::kOverflowId);
        QCOMPARE(dict.intern("ua-65534"), std::uint16_t(65534));
        QCOMPARE(dict.intern("ua-0"), std::uint16_t(0));
        QCOMPARE(dict.size(), 65535u);
        QCOMPARE(dict.name(UserAgentDictionary::kOverflowId), std::string_view("(other user agents)"));
        QCOMPARE(dict.name(65534), std::string_view("ua-65534"));
    }
};

QTEST_APPLESS_MAIN(TestUserAgent)
#include "tst_user_agent.moc"
