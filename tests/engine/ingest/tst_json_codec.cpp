// The seed-schema JSON codec, accepted input: every accepted form, field values, duplicate keys,
// timestamp forms and limits, exact encoding and random encode/decode round trips.

#include "json_codec_test_support.h"

using namespace adclick::engine;
using namespace adclick::test;

class TestJsonCodec : public QObject {
    Q_OBJECT

private slots:
    void accepted_data()
    {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<qint64>("eventTimeMs");
        QTest::addColumn<QByteArray>("adId");
        QTest::addColumn<QByteArray>("ip");
        QTest::addColumn<bool>("isV6");
        QTest::addColumn<QByteArray>("country");
        QTest::addColumn<DeviceClass>("device");

        const auto row = [](const char* name, const QByteArray& json, qint64 ms, const char* ad = "ad-7",
                             const char* ip = "203.0.113.7", bool v6 = false, const char* country = "US",
                             DeviceClass device = DeviceClass::Mobile) {
            QTest::newRow(name) << json << ms << QByteArray(ad) << QByteArray(ip) << v6 << QByteArray(country)
                                << device;
        };
        row("seconds", record(), kInstantMs);
        row("milliseconds", record({ { "click_timestamp", "1795845600123" } }), kInstantMs + 123);
        row("fractional seconds", record({ { "click_timestamp", "1795845600.123" } }), kInstantMs + 123);
        row("fraction rounds to nearest ms", record({ { "click_timestamp", "1795845600.0006" } }), kInstantMs + 1);
        row("exponent seconds", record({ { "click_timestamp", "1.7958456e9" } }), kInstantMs);
        row("ISO Z", record({ { "click_timestamp", "\"2026-11-28T06:00:00Z\"" } }), kInstantMs);
        row("ISO lower-case z and t", record({ { "click_timestamp", "\"2026-11-28t06:00:00z\"" } }), kInstantMs);
        row("ISO space separator", record({ { "click_timestamp", "\"2026-11-28 06:00:00Z\"" } }), kInstantMs);
        row("ISO ms Z", record({ { "click_timestamp", "\"2026-11-28T06:00:00.123Z\"" } }), kInstantMs + 123);
        row("ISO offset", record({ { "click_timestamp", "\"2026-11-28T06:00:00.123+02:00\"" } }),
            kInstantMs - 2 * 3600000 + 123);
        row("ISO negative offset", record({ { "click_timestamp", "\"2026-11-28T01:30:00-04:30\"" } }), kInstantMs);
        row("ISO offset without colon", record({ { "click_timestamp", "\"2026-11-28T08:00:00+0200\"" } }), kInstantMs);
        row("ISO one fraction digit", record({ { "click_timestamp", "\"2026-11-28T06:00:00.5Z\"" } }),
            kInstantMs + 500);
        row("ISO nanoseconds truncated", record({ { "click_timestamp", "\"2026-11-28T06:00:00.123999999Z\"" } }),
            kInstantMs + 123);
        row("ISO leap day", record({ { "click_timestamp", "\"2024-02-29T23:59:59Z\"" } }), 1709251199000LL);
        row("ISO leap second rolls over", record({ { "click_timestamp", "\"2026-11-28T05:59:60Z\"" } }), kInstantMs);
        row("integer ad_id", record({ { "ad_id", "42" } }), kInstantMs, "42");
        row("numeric string ad_id", record({ { "ad_id", "\"42\"" } }), kInstantMs, "42");
        row("large integer ad_id", record({ { "ad_id", "3000000000" } }), kInstantMs, "3000000000");
        row("uint64 ad_id", record({ { "ad_id", "18446744073709551615" } }), kInstantMs, "18446744073709551615");
        row("zero-padded string ad_id", record({ { "ad_id", "\"007\"" } }), kInstantMs, "007");
        row("escaped ad_id", record({ { "ad_id", "\"a\\\"d\\u00e9\"" } }), kInstantMs, "a\"d\xc3\xa9");
        row("IPv6", record({ { "ip", "\"2001:DB8:0:0::1\"" } }), kInstantMs, "ad-7", "2001:db8::1", true);
        row("IPv4-mapped IPv6", record({ { "ip", "\"::ffff:198.51.100.1\"" } }), kInstantMs, "ad-7", "198.51.100.1",
            true);
        row("lower-case country", record({ { "country", "\"gb\"" } }), kInstantMs, "ad-7", "203.0.113.7", false, "GB");
        row("XX country", record({ { "country", "\"XX\"" } }), kInstantMs, "ad-7", "203.0.113.7", false, "XX");
        row("integer user_id", record({ { "user_id", "42" } }), kInstantMs);
        row("negative integer user_id", record({ { "user_id", "-42" } }), kInstantMs);
        row("empty user agent", record({ { "user_agent", "\"\"" } }), kInstantMs, "ad-7", "203.0.113.7", false, "US",
            DeviceClass::Other);
        row("bot user agent", record({ { "user_agent", "\"Googlebot/2.1\"" } }), kInstantMs, "ad-7", "203.0.113.7",
            false, "US", DeviceClass::Bot);
        row("click_id string", record({ { "click_id", "\"c-1\"" } }), kInstantMs);
        row("click_id integer", record({ { "click_id", "987654321" } }), kInstantMs);
        row("click_id null", record({ { "click_id", "null" } }), kInstantMs);
        row("deep nesting in extra field",
            record({ { "extra", (std::string(200, '[') + std::string(200, ']')).c_str() } }), kInstantMs);
        row("extra fields ignored",
            record({ { "campaign", "{\"id\":[1,2,{\"x\":null}],\"f\":1.5e3}" }, { "n", "null" }, { "b", "true" } }),
            kInstantMs);
        row("whitespace around", QByteArray(" \n\t") + record() + QByteArray(" \r\n"), kInstantMs);
        row("fields in any order",
            QByteArray("{\"user_agent\":\"Mozilla/5.0 (iPhone) Mobile\",\"country\":\"US\",\"ip\":\"203.0.113.7\","
                       "\"user_id\":\"user-1\",\"click_timestamp\":1795845600,\"ad_id\":\"ad-7\"}"),
            kInstantMs);
    }

    void accepted()
    {
        QFETCH(QByteArray, json);
        QFETCH(qint64, eventTimeMs);
        QFETCH(QByteArray, adId);
        QFETCH(QByteArray, ip);
        QFETCH(bool, isV6);
        QFETCH(QByteArray, country);
        QFETCH(DeviceClass, device);

        Fixture f;
        ClickEvent e;
        e.setPosition({ 77, 3 });
        RejectReason reason {};
        QCOMPARE(f.codec.decode(view(json), e, reason), JsonCodec::Status::Accepted);
        QCOMPARE(f.codec.acceptedCount(), std::uint64_t(1));
        QCOMPARE(f.codec.counters().total(), std::uint64_t(0));
        QCOMPARE(e.eventTimeMs, TimeMs(eventTimeMs));
        QCOMPARE(QByteArray::fromStdString(f.ads.format(e.adId)), adId);
        QCOMPARE(QByteArray::fromStdString(formatIp(e.ip)), ip);
        QCOMPARE(e.isIpv6(), isV6);
        QCOMPARE(QByteArray::fromStdString(formatCountry(e.country)), country);
        QCOMPARE(deviceClassName(e.device), deviceClassName(device));
        QVERIFY(e.userHash != 0);
        // The source position belongs to the caller.
        QCOMPARE(e.offset, std::int64_t(77));
        QCOMPARE(e.partition, 3u);
        QVERIFY(f.userAgents.size() == 1);
        QCOMPARE(e.uaId, std::uint16_t(0));
    }

    void fieldValues()
    {
        Fixture f;
        ClickEvent e;
        RejectReason reason {};

        // user_id: an integer hashes like its decimal text.
        QCOMPARE(f.codec.decode(view(record({ { "user_id", "42" } })), e, reason), JsonCodec::Status::Accepted);
        QCOMPARE(e.userHash, hashUserId("42"));
        const auto intHash = e.userHash;
        QCOMPARE(f.codec.decode(view(record({ { "user_id", "\"42\"" } })), e, reason), JsonCodec::Status::Accepted);
        QCOMPARE(e.userHash, intHash);
        QCOMPARE(f.codec.decode(view(record({ { "user_id", "\"user-\\u0031\"" } })), e, reason),
            JsonCodec::Status::Accepted);
        QCOMPARE(e.userHash, hashUserId("user-1")); // hashed after unescaping

        // click_id: present (string or integer) → its hash; absent / null / "" → 0.
        QCOMPARE(f.codec.decode(view(record({ { "click_id", "\"c-1\"" } })), e, reason), JsonCodec::Status::Accepted);
        QCOMPARE(e.clickId, hashClickId("c-1"));
        QVERIFY(e.hasClickId());
        QCOMPARE(f.codec.decode(view(record({ { "click_id", "987654321" } })), e, reason), JsonCodec::Status::Accepted);
        QCOMPARE(e.clickId, hashClickId("987654321"));
        QCOMPARE(f.codec.decode(view(record()), e, reason), JsonCodec::Status::Accepted);
        QCOMPARE(e.clickId, std::uint64_t(0));
        QVERIFY(!e.hasClickId());
        QCOMPARE(f.codec.decode(view(record({ { "click_id", "null" } })), e, reason), JsonCodec::Status::Accepted);
        QCOMPARE(e.clickId, std::uint64_t(0));
        QCOMPARE(f.codec.decode(view(record({ { "click_id", "\"\"" } })), e, reason), JsonCodec::Status::Accepted);
        QCOMPARE(e.clickId, std::uint64_t(0));

        // Integers beyond 64 bits are valid JSON: hashed / interned as their text.
        QCOMPARE(f.codec.decode(view(record({ { "user_id", "123456789012345678901234567890" },
                                    { "click_id", "-99999999999999999999999" }, { "ad_id", "98765432109876543210" } })),
                     e, reason),
            JsonCodec::Status::Accepted);
        QCOMPARE(e.userHash, hashUserId("123456789012345678901234567890"));
        QCOMPARE(e.clickId, hashClickId("-99999999999999999999999"));
        QCOMPARE(f.ads.format(e.adId), std::string("98765432109876543210"));

        // Distinct seeds: the same text hashes differently as user and as click id.
        QVERIFY(hashUserId("abc") != hashClickId("abc"));
        QVERIFY(hashUserId("abc") != hashUserId("abd"));
        for (int i = 0; i < 10000; ++i)
            QVERIFY(hashClickId(std::to_string(i)) != 0);

        // Named ad ids and user agents are interned once.
        QCOMPARE(f.codec.decode(view(record({ { "ad_id", "\"ad-9\"" } })), e, reason), JsonCodec::Status::Accepted);
        const AdId ad9 = e.adId;
        QVERIFY(ad9 >= kFirstNamedAdId);
        QCOMPARE(f.codec.decode(view(record({ { "ad_id", "\"ad-9\"" }, { "user_agent", "\"curl/8\"" } })), e, reason),
            JsonCodec::Status::Accepted);
        QCOMPARE(e.adId, ad9);
        QCOMPARE(f.userAgents.size(), 2u);
        QCOMPARE(f.userAgents.name(e.uaId), std::string_view("curl/8"));
        QCOMPARE(deviceClassName(e.device), deviceClassName(DeviceClass::Bot));
        QCOMPARE(f.codec.acceptedCount(), std::uint64_t(11));
    }

    void duplicateKeysFirstWins()
    {
        Fixture f;
        ClickEvent e;
        RejectReason reason {};
        const QByteArray json = record({ { "country", "\"DE\"" } }).chopped(1) + ",\"country\":\"FR\",\"ip\":7}";
        QCOMPARE(f.codec.decode(view(json), e, reason), JsonCodec::Status::Accepted);
        QCOMPARE(formatCountry(e.country), std::string("DE"));
        QCOMPARE(formatIp(e.ip), std::string("203.0.113.7"));
    }

    void sameInstantAllForms()
    {
        Fixture f;
        const char* forms[] = { "1795845600", "1795845600000", "1795845600.0", "\"2026-11-28T06:00:00Z\"",
            "\"2026-11-28T06:00:00.000Z\"", "\"2026-11-28T07:00:00+01:00\"", "\"2026-11-27T20:00:00-10:00\"" };
        for (const char* form : forms) {
            ClickEvent e;
            RejectReason reason {};
            QVERIFY2(
                f.codec.decode(view(record({ { "click_timestamp", form } })), e, reason) == JsonCodec::Status::Accepted,
                form);
            QCOMPARE(e.eventTimeMs, kInstantMs);
        }
        const char* withMs[]
            = { "1795845600250", "1795845600.25", "\"2026-11-28T06:00:00.25Z\"", "\"2026-11-28T11:30:00.250+05:30\"" };
        for (const char* form : withMs) {
            ClickEvent e;
            RejectReason reason {};
            QVERIFY2(
                f.codec.decode(view(record({ { "click_timestamp", form } })), e, reason) == JsonCodec::Status::Accepted,
                form);
            QCOMPARE(e.eventTimeMs, kInstantMs + 250);
        }
    }

    void timestampLimits()
    {
        CodecLimits limits;
        limits.minTimestampMs = 0;
        limits.maxTimestampMs = 400000000000000LL;
        Fixture f(limits);
        ClickEvent e;
        RejectReason reason {};
        // Just below 10^11 an integer is seconds, from 10^11 on it is ms.
        QCOMPARE(f.codec.decode(view(record({ { "click_timestamp", "99999999999" } })), e, reason),
            JsonCodec::Status::Accepted);
        QCOMPARE(e.eventTimeMs, TimeMs(99999999999000LL));
        QCOMPARE(f.codec.decode(view(record({ { "click_timestamp", "100000000000" } })), e, reason),
            JsonCodec::Status::Accepted);
        QCOMPARE(e.eventTimeMs, TimeMs(100000000000LL));

        // The default range is inclusive at both ends.
        Fixture d;
        QCOMPARE(d.codec.decode(view(record({ { "click_timestamp", "946684800" } })), e, reason),
            JsonCodec::Status::Accepted);
        QCOMPARE(d.codec.decode(view(record({ { "click_timestamp", "4102444800000" } })), e, reason),
            JsonCodec::Status::Accepted);
        QCOMPARE(d.codec.decode(view(record({ { "click_timestamp", "946684799999" } })), e, reason),
            JsonCodec::Status::Rejected);
        QCOMPARE(reason, RejectReason::TimestampOutOfRange);
        QCOMPARE(d.codec.decode(view(record({ { "click_timestamp", "4102444800001" } })), e, reason),
            JsonCodec::Status::Rejected);
        QCOMPARE(reason, RejectReason::TimestampOutOfRange);
    }

    void encodeExact()
    {
        ClickRecordText r;
        r.adId = "ad-7";
        r.clickTimestampMs = kInstantMs;
        r.userId = "a\"b\\c\nd\x01\x1f/\xc3\xa9";
        r.ip = "203.0.113.7";
        r.country = "US";
        r.userAgent = "UA\t1";
        QCOMPARE(JsonCodec::encode(r),
            std::string("{\"ad_id\":\"ad-7\",\"click_timestamp\":1795845600,\"user_id\":\"a\\\"b\\\\c\\u000ad\\u0001"
                        "\\u001f/\xc3\xa9\",\"ip\":\"203.0.113.7\",\"country\":\"US\",\"user_agent\":\"UA\\u00091\"}"));
        r.clickTimestampMs = kInstantMs + 5;
        r.clickId = "c-1";
        QCOMPARE(JsonCodec::encode(r),
            std::string("{\"ad_id\":\"ad-7\",\"click_timestamp\":1795845600005,\"user_id\":\"a\\\"b\\\\c\\u000ad"
                        "\\u0001\\u001f/\xc3\xa9\",\"ip\":\"203.0.113.7\",\"country\":\"US\",\"user_agent\":"
                        "\"UA\\u00091\",\"click_id\":\"c-1\"}"));
        // Small instants with a ms part are written as fractional seconds so they read back.
        r.clickTimestampMs = 1500;
        QVERIFY(JsonCodec::encode(r).find("\"click_timestamp\":1.500,") != std::string::npos);
        r.clickTimestampMs = -1500;
        QVERIFY(JsonCodec::encode(r).find("\"click_timestamp\":-1.500,") != std::string::npos);
    }

    void encodeInvalidUtf8StaysJson()
    {
        Fixture f;
        ClickRecordText r;
        r.adId = "7";
        r.clickTimestampMs = kInstantMs;
        r.userId = std::string("u\xff\xc3", 3); // a stray byte and a truncated sequence
        r.ip = "::1";
        r.country = "FR";
        r.userAgent = std::string("\xed\xa0\x80 surrogate", 13);
        const std::string json = JsonCodec::encode(r);
        ClickEvent e;
        RejectReason reason {};
        QCOMPARE(f.codec.decode(json, e, reason), JsonCodec::Status::Accepted);
        QCOMPARE(e.userHash, hashUserId("u\xef\xbf\xbd\xef\xbf\xbd"));
        QCOMPARE(f.userAgents.name(e.uaId), std::string_view("\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd surrogate"));
    }

    void randomRoundTrip()
    {
        Fixture f;
        std::mt19937_64 rng(20261128);
        static const char* kCountries[] = { "US", "DE", "FR", "GB", "JP", "BR", "IN", "XX", "ZW", "AX" };
        for (int i = 0; i < 5000; ++i) {
            ClickRecordText r;
            switch (rng() % 3) {
            case 0:
                r.adId = std::to_string(rng() % 5000000000ULL);
                break;
            default:
                r.adId = randomText(rng, 1, 128);
            }
            const TimeMs span = f.codec.limits().maxTimestampMs - f.codec.limits().minTimestampMs;
            r.clickTimestampMs = f.codec.limits().minTimestampMs + static_cast<TimeMs>(rng() % (span + 1));
            if (rng() % 3 == 0)
                r.clickTimestampMs -= r.clickTimestampMs % 1000;
            r.userId = randomText(rng, 1, 256);
            IpBytes ip {};
            for (auto& b : ip)
                b = static_cast<std::uint8_t>(rng());
            if (rng() % 2 == 0) {
                std::fill(ip.begin(), ip.begin() + 10, 0);
                ip[10] = ip[11] = 0xFF;
            }
            r.ip = formatIp(ip);
            r.country = kCountries[rng() % std::size(kCountries)];
            if (rng() % 4 == 0)
                r.country[0] = static_cast<char>(r.country[0] - 'A' + 'a');
            r.userAgent = randomText(rng, 0, 300);
            if (rng() % 2 == 0)
                r.clickId = randomText(rng, 1, 40);

            const std::string json = JsonCodec::encode(r);
            ClickEvent e;
            RejectReason reason {};
            QVERIFY2(f.codec.decode(json, e, reason) == JsonCodec::Status::Accepted, json.c_str());
            QCOMPARE(f.ads.format(e.adId), r.adId);
            QCOMPARE(e.eventTimeMs, r.clickTimestampMs);
            QCOMPARE(e.userHash, hashUserId(r.userId));
            QVERIFY(e.ip == ip);
            const std::string upper = { static_cast<char>(r.country[0] & ~0x20), r.country[1] };
            QCOMPARE(formatCountry(e.country), upper);
            QCOMPARE(f.userAgents.name(e.uaId), std::string_view(r.userAgent));
            QCOMPARE(deviceClassName(e.device), deviceClassName(classifyUserAgent(r.userAgent)));
            QCOMPARE(e.clickId, r.clickId.empty() ? std::uint64_t(0) : hashClickId(r.clickId));
        }
        QCOMPARE(f.codec.acceptedCount(), std::uint64_t(5000));
        QCOMPARE(f.codec.counters().total(), std::uint64_t(0));
    }
};

QTEST_APPLESS_MAIN(TestJsonCodec)
#include "tst_json_codec.moc"
