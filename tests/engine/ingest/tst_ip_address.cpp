// Strict IPv4 / IPv6 parsing, RFC 5952 formatting and prefix matching.

#include "ingest/ip_address.h"

#include <QtTest>

#include <random>

using namespace adclick::engine;

namespace {
std::string_view view(const QByteArray& b)
{
    return { b.constData(), static_cast<std::size_t>(b.size()) };
}

IpBytes mustParse(std::string_view text)
{
    IpBytes ip {};
    bool v6 = false;
    if (!parseIp(text, ip, v6))
        qFatal("test setup: %.*s does not parse", static_cast<int>(text.size()), text.data());
    return ip;
}
} // namespace

class TestIpAddress : public QObject {
    Q_OBJECT

private slots:
    void parseAndFormat_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<bool>("valid");
        QTest::addColumn<bool>("isV6");
        QTest::addColumn<QByteArray>("canonical");

        QTest::newRow("v4") << QByteArray("192.168.1.20") << true << false << QByteArray("192.168.1.20");
        QTest::newRow("v4 zeros") << QByteArray("0.0.0.0") << true << false << QByteArray("0.0.0.0");
        QTest::newRow("v4 max") << QByteArray("255.255.255.255") << true << false << QByteArray("255.255.255.255");
        QTest::newRow("v4 leading zero") << QByteArray("192.168.01.1") << false << false << QByteArray();
        QTest::newRow("v4 octet 256") << QByteArray("256.1.1.1") << false << false << QByteArray();
        QTest::newRow("v4 four digits") << QByteArray("1000.1.1.1") << false << false << QByteArray();
        QTest::newRow("v4 three octets") << QByteArray("1.2.3") << false << false << QByteArray();
        QTest::newRow("v4 five octets") << QByteArray("1.2.3.4.5") << false << false << QByteArray();
        QTest::newRow("v4 trailing dot") << QByteArray("1.2.3.4.") << false << false << QByteArray();
        QTest::newRow("v4 empty octet") << QByteArray("1..3.4") << false << false << QByteArray();
        QTest::newRow("v4 space") << QByteArray(" 1.2.3.4") << false << false << QByteArray();
        QTest::newRow("v4 trailing space") << QByteArray("1.2.3.4 ") << false << false << QByteArray();
        QTest::newRow("v4 sign") << QByteArray("+1.2.3.4") << false << false << QByteArray();
        QTest::newRow("v4 hex") << QByteArray("0x1.2.3.4") << false << false << QByteArray();
        QTest::newRow("empty") << QByteArray("") << false << false << QByteArray();
        QTest::newRow("word") << QByteArray("localhost") << false << false << QByteArray();

        QTest::newRow("v6 full") << QByteArray("2001:0db8:0000:0000:0000:ff00:0042:8329") << true << true
                                 << QByteArray("2001:db8::ff00:42:8329");
        QTest::newRow("v6 upper") << QByteArray("2001:DB8::1") << true << true << QByteArray("2001:db8::1");
        QTest::newRow("v6 any") << QByteArray("::") << true << true << QByteArray("::");
        QTest::newRow("v6 loopback") << QByteArray("::1") << true << true << QByteArray("::1");
        QTest::newRow("v6 trailing gap") << QByteArray("fe80::") << true << true << QByteArray("fe80::");
        QTest::newRow("v6 one zero group not compressed")
            << QByteArray("2001:db8:0:1:1:1:1:1") << true << true << QByteArray("2001:db8:0:1:1:1:1:1");
        QTest::newRow("v6 gap for one group")
            << QByteArray("2001:db8::1:1:1:1:1") << true << true << QByteArray("2001:db8:0:1:1:1:1:1");
        QTest::newRow("v6 longest run wins")
            << QByteArray("2001:0:0:1:0:0:0:1") << true << true << QByteArray("2001:0:0:1::1");
        QTest::newRow("v6 first of equal runs")
            << QByteArray("2001:db8:0:0:1:0:0:1") << true << true << QByteArray("2001:db8::1:0:0:1");
        QTest::newRow("v6 mapped") << QByteArray("::ffff:10.1.2.3") << true << true << QByteArray("10.1.2.3");
        QTest::newRow("v6 mapped hex") << QByteArray("::FFFF:0a01:0203") << true << true << QByteArray("10.1.2.3");
        QTest::newRow("v6 embedded v4") << QByteArray("64:ff9b::192.0.2.33") << true << true
                                        << QByteArray("64:ff9b::c000:221");
        QTest::newRow("v6 full with v4 tail")
            << QByteArray("1:2:3:4:5:6:1.2.3.4") << true << true << QByteArray("1:2:3:4:5:6:102:304");
        QTest::newRow("v6 seven groups and gap")
            << QByteArray("1:2:3:4:5:6:7::") << true << true << QByteArray("1:2:3:4:5:6:7:0");
        QTest::newRow("v6 zone id") << QByteArray("fe80::1%eth0") << false << false << QByteArray();
        QTest::newRow("v6 two gaps") << QByteArray("1::2::3") << false << false << QByteArray();
        QTest::newRow("v6 triple colon") << QByteArray("1:::2") << false << false << QByteArray();
        QTest::newRow("v6 nine groups") << QByteArray("1:2:3:4:5:6:7:8:9") << false << false << QByteArray();
        QTest::newRow("v6 seven groups") << QByteArray("1:2:3:4:5:6:7") << false << false << QByteArray();
        QTest::newRow("v6 gap with eight groups") << QByteArray("1:2:3:4::5:6:7:8") << false << false << QByteArray();
        QTest::newRow("v6 five hex digits") << QByteArray("12345::1") << false << false << QByteArray();
        QTest::newRow("v6 leading colon") << QByteArray(":1::2") << false << false << QByteArray();
        QTest::newRow("v6 trailing colon") << QByteArray("1::2:") << false << false << QByteArray();
        QTest::newRow("v6 single colon") << QByteArray(":") << false << false << QByteArray();
        QTest::newRow("v6 bad hex") << QByteArray("2001:db8::g") << false << false << QByteArray();
        QTest::newRow("v6 v4 tail not last") << QByteArray("::1.2.3.4:5") << false << false << QByteArray();
        QTest::newRow("v6 v4 tail too many groups")
            << QByteArray("1:2:3:4:5:6:7:1.2.3.4") << false << false << QByteArray();
        QTest::newRow("v6 bad v4 tail") << QByteArray("::1.2.3.256") << false << false << QByteArray();
        QTest::newRow("v6 brackets") << QByteArray("[::1]") << false << false << QByteArray();
        QTest::newRow("v6 inner space") << QByteArray("2001:db8:: 1") << false << false << QByteArray();
    }
    void parseAndFormat()
    {
        QFETCH(QByteArray, text);
        QFETCH(bool, valid);
        QFETCH(bool, isV6);
        QFETCH(QByteArray, canonical);
        IpBytes ip {};
        bool v6 = !isV6;
        QCOMPARE(parseIp(view(text), ip, v6), valid);
        if (!valid)
            return;
        QCOMPARE(v6, isV6);
        const std::string formatted = formatIp(ip);
        QCOMPARE(QByteArray::fromStdString(formatted), canonical);
        // The canonical text parses back to the same address.
        IpBytes again {};
        QVERIFY(parseIp(formatted, again, v6));
        QVERIFY(again == ip);
    }

    void ipv4IsStoredMapped()
    {
        const IpBytes ip = mustParse("10.20.30.40");
        const IpBytes expected = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 10, 20, 30, 40 };
        QVERIFY(ip == expected);
        QVERIFY(mustParse("::ffff:10.20.30.40") == expected);
    }

    void randomRoundTrip()
    {
        std::mt19937_64 rng(7);
        for (int i = 0; i < 20000; ++i) {
            IpBytes ip {};
            // Many zero groups, so the "::" placement rules are exercised.
            for (int g = 0; g < 8; ++g) {
                const auto v = (rng() % 3 == 0) ? 0u : static_cast<unsigned>(rng() & 0xFFFF);
                ip[g * 2] = static_cast<std::uint8_t>(v >> 8);
                ip[g * 2 + 1] = static_cast<std::uint8_t>(v);
            }
            if (i % 5 == 0) {
                ip = {};
                ip[10] = ip[11] = 0xFF;
                for (int k = 12; k < 16; ++k)
                    ip[k] = static_cast<std::uint8_t>(rng());
            }
            const std::string text = formatIp(ip);
            IpBytes back {};
            bool v6 = false;
            QVERIFY2(parseIp(text, back, v6), text.c_str());
            QVERIFY2(back == ip, text.c_str());
            QCOMPARE(formatIp(back), text);
            QVERIFY(text.find("::") == text.rfind("::")); // at most one gap
        }
    }

    void prefix_data()
    {
        QTest::addColumn<QByteArray>("prefix");
        QTest::addColumn<bool>("valid");
        QTest::addColumn<int>("bits");
        QTest::addColumn<QByteArray>("base");

        QTest::newRow("v4 /8") << QByteArray("10.0.0.0/8") << true << 104 << QByteArray("10.0.0.0");
        QTest::newRow("v4 host bits masked") << QByteArray("10.1.2.3/8") << true << 104 << QByteArray("10.0.0.0");
        QTest::newRow("v4 /0") << QByteArray("1.2.3.4/0") << true << 96 << QByteArray("0.0.0.0");
        QTest::newRow("v4 /32") << QByteArray("1.2.3.4/32") << true << 128 << QByteArray("1.2.3.4");
        QTest::newRow("v4 /20") << QByteArray("192.168.31.1/20") << true << 116 << QByteArray("192.168.16.0");
        QTest::newRow("v4 plain") << QByteArray("1.2.3.4") << true << 128 << QByteArray("1.2.3.4");
        QTest::newRow("v6 /32") << QByteArray("2001:db8:ffff::1/32") << true << 32 << QByteArray("2001:db8::");
        QTest::newRow("v6 /0") << QByteArray("2001:db8::/0") << true << 0 << QByteArray("::");
        QTest::newRow("v6 /128") << QByteArray("2001:db8::1/128") << true << 128 << QByteArray("2001:db8::1");
        QTest::newRow("v6 /65") << QByteArray("2001:db8::ffff:ffff:ffff:ffff/65") << true << 65
                                << QByteArray("2001:db8:0:0:8000::");
        QTest::newRow("v6 plain") << QByteArray("::1") << true << 128 << QByteArray("::1");
        QTest::newRow("v4 /33") << QByteArray("1.2.3.4/33") << false << 0 << QByteArray();
        QTest::newRow("v6 /129") << QByteArray("::/129") << false << 0 << QByteArray();
        QTest::newRow("negative") << QByteArray("1.2.3.4/-1") << false << 0 << QByteArray();
        QTest::newRow("empty bits") << QByteArray("1.2.3.4/") << false << 0 << QByteArray();
        QTest::newRow("leading zero bits") << QByteArray("1.2.3.4/08") << false << 0 << QByteArray();
        QTest::newRow("bits with space") << QByteArray("1.2.3.4/ 8") << false << 0 << QByteArray();
        QTest::newRow("two slashes") << QByteArray("1.2.3.4/8/8") << false << 0 << QByteArray();
        QTest::newRow("bad address") << QByteArray("1.2.3/8") << false << 0 << QByteArray();
        QTest::newRow("only bits") << QByteArray("/8") << false << 0 << QByteArray();
    }
    void prefix()
    {
        QFETCH(QByteArray, prefix);
        QFETCH(bool, valid);
        QFETCH(int, bits);
        QFETCH(QByteArray, base);
        const auto p = IpPrefix::parse(view(prefix));
        QCOMPARE(p.has_value(), valid);
        if (!valid)
            return;
        QCOMPARE(p->prefixBits, bits);
        QCOMPARE(QByteArray::fromStdString(formatIp(p->base)), base);
        QVERIFY(p->contains(p->base));
    }

    void contains_data()
    {
        QTest::addColumn<QByteArray>("prefix");
        QTest::addColumn<QByteArray>("address");
        QTest::addColumn<bool>("inside");

        QTest::newRow("v4 in /8") << QByteArray("10.0.0.0/8") << QByteArray("10.255.1.2") << true;
        QTest::newRow("v4 out /8") << QByteArray("10.0.0.0/8") << QByteArray("11.0.0.0") << false;
        QTest::newRow("v4 /20 edge in") << QByteArray("192.168.16.0/20") << QByteArray("192.168.31.255") << true;
        QTest::newRow("v4 /20 edge out") << QByteArray("192.168.16.0/20") << QByteArray("192.168.32.0") << false;
        QTest::newRow("v4 /0 has every v4") << QByteArray("0.0.0.0/0") << QByteArray("203.0.113.9") << true;
        QTest::newRow("v4 /0 has no v6") << QByteArray("0.0.0.0/0") << QByteArray("2001:db8::1") << false;
        QTest::newRow("v4 host") << QByteArray("1.2.3.4") << QByteArray("1.2.3.4") << true;
        QTest::newRow("v4 host other") << QByteArray("1.2.3.4") << QByteArray("1.2.3.5") << false;
        QTest::newRow("v6 /32 in") << QByteArray("2001:db8::/32") << QByteArray("2001:db8:1234::5") << true;
        QTest::newRow("v6 /32 out") << QByteArray("2001:db8::/32") << QByteArray("2001:db9::") << false;
        QTest::newRow("v6 /0 has everything") << QByteArray("::/0") << QByteArray("1.2.3.4") << true;
        QTest::newRow("mapped prefix v4 address")
            << QByteArray("::ffff:10.0.0.0/104") << QByteArray("10.9.9.9") << true;
        QTest::newRow("v6 /65 in") << QByteArray("2001:db8::8000:0:0:0/65") << QByteArray("2001:db8::ffff:1:2:3")
                                   << true;
        QTest::newRow("v6 /65 out") << QByteArray("2001:db8::8000:0:0:0/65") << QByteArray("2001:db8::7fff:1:2:3")
                                    << false;
    }
    void contains()
    {
        QFETCH(QByteArray, prefix);
        QFETCH(QByteArray, address);
        QFETCH(bool, inside);
        const auto p = IpPrefix::parse(view(prefix));
        QVERIFY(p.has_value());
        QCOMPARE(p->contains(mustParse(view(address))), inside);
    }
};

QTEST_APPLESS_MAIN(TestIpAddress)
#include "tst_ip_address.moc"
