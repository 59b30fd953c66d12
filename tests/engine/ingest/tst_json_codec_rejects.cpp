// The seed-schema JSON codec, refused input: one rejection row per reason, counters, oversized
// messages, long user agents (truncated but classified) and random bytes that never crash.

#include "json_codec_test_support.h"

using namespace adclick::engine;
using namespace adclick::test;

class TestJsonCodecRejects : public QObject {
    Q_OBJECT

private slots:
    void rejected_data()
    {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<RejectReason>("reason");

        using R = RejectReason;
        const auto row
            = [](const char* name, const QByteArray& json, R reason) { QTest::newRow(name) << json << reason; };
        row("not json: garbage", QByteArray("ad_id=7&ts=1"), R::NotJson);
        row("not json: empty", QByteArray(), R::NotJson);
        row("not json: whitespace", QByteArray(" \n "), R::NotJson);
        row("not json: null", QByteArray("null"), R::NotJson);
        row("not json: array", QByteArray("[]"), R::NotJson);
        row("not json: array of record", QByteArray("[") + record() + "]", R::NotJson);
        row("not json: number", QByteArray("42"), R::NotJson);
        row("not json: string", QByteArray("\"x\""), R::NotJson);
        row("not json: truncated", record().chopped(1), R::NotJson);
        row("not json: trailing garbage", record() + "x", R::NotJson);
        row("not json: two objects", record() + record(), R::NotJson);
        row("not json: trailing comma", record().chopped(1) + ",}", R::NotJson);
        row("not json: single quotes", QByteArray("{'ad_id':1}"), R::NotJson);
        row("not json: invalid utf-8", record({ { "user_agent", "\"\xff\xfe\"" } }), R::NotJson);
        row("not json: raw control char", record({ { "user_agent", "\"a\x01z\"" } }), R::NotJson);
        row("not json: bad escape", record({ { "user_agent", "\"a\\qz\"" } }), R::NotJson);
        row("not json: bad extra field", record({ { "extra", "[1,,2]" } }), R::NotJson);
        row("not json: leading zero", record({ { "click_timestamp", "01795845600" } }), R::NotJson);
        row("not json: NaN", record({ { "click_timestamp", "NaN" } }), R::NotJson);
        row("not json: NUL byte", QByteArray("{\"ad_id\":1}\0", 12), R::NotJson);
        row("not json: trailing bracket", record() + "}", R::NotJson);
        row("not json: bad nested extra", record({ { "extra", "{\"a\":[1,{\"b\":tru}]}" } }), R::NotJson);
        row("not json: bad number in extra", record({ { "extra", "1.5x" } }), R::NotJson);
        row("not json: lone surrogate", record({ { "extra", "\"\\ud800\"" } }), R::NotJson);
        row("not json: nesting beyond 256",
            record({ { "extra", (std::string(300, '[') + std::string(300, ']')).c_str() } }), R::NotJson);

        row("missing ad_id", record({ { "ad_id", nullptr } }), R::MissingField);
        row("missing click_timestamp", record({ { "click_timestamp", nullptr } }), R::MissingField);
        row("missing user_id", record({ { "user_id", nullptr } }), R::MissingField);
        row("missing ip", record({ { "ip", nullptr } }), R::MissingField);
        row("missing country", record({ { "country", nullptr } }), R::MissingField);
        row("missing user_agent", record({ { "user_agent", nullptr } }), R::MissingField);
        row("empty object", QByteArray("{}"), R::MissingField);
        row("key case matters", record({ { "country", nullptr }, { "Country", "\"US\"" } }), R::MissingField);

        row("wrong type: ad_id bool", record({ { "ad_id", "true" } }), R::WrongType);
        row("wrong type: ad_id null", record({ { "ad_id", "null" } }), R::WrongType);
        row("wrong type: ad_id object", record({ { "ad_id", "{}" } }), R::WrongType);
        row("wrong type: timestamp array", record({ { "click_timestamp", "[1795845600]" } }), R::WrongType);
        row("wrong type: timestamp bool", record({ { "click_timestamp", "false" } }), R::WrongType);
        row("wrong type: user_id float", record({ { "user_id", "4.2" } }), R::WrongType);
        row("wrong type: user_id object", record({ { "user_id", "{\"id\":1}" } }), R::WrongType);
        row("wrong type: ip number", record({ { "ip", "3405803783" } }), R::WrongType);
        row("wrong type: country number", record({ { "country", "1" } }), R::WrongType);
        row("wrong type: user_agent null", record({ { "user_agent", "null" } }), R::WrongType);
        row("wrong type: click_id bool", record({ { "click_id", "true" } }), R::WrongType);
        row("wrong type: click_id float", record({ { "click_id", "1.5" } }), R::WrongType);

        row("1970 seconds", record({ { "click_timestamp", "0" } }), R::TimestampOutOfRange);
        row("1999 seconds", record({ { "click_timestamp", "946684799" } }), R::TimestampOutOfRange);
        row("1973 ms", record({ { "click_timestamp", "100000000000" } }), R::TimestampOutOfRange);
        row("2200 seconds", record({ { "click_timestamp", "7258118400" } }), R::TimestampOutOfRange);
        row("2200 ms", record({ { "click_timestamp", "7258118400000" } }), R::TimestampOutOfRange);
        row("1970 ISO", record({ { "click_timestamp", "\"1970-01-01T00:00:00Z\"" } }), R::TimestampOutOfRange);
        row("2200 ISO", record({ { "click_timestamp", "\"2200-01-01T00:00:00Z\"" } }), R::TimestampOutOfRange);
        row("year 9999 ISO", record({ { "click_timestamp", "\"9999-12-31T23:59:59+23:59\"" } }),
            R::TimestampOutOfRange);
        row("negative seconds", record({ { "click_timestamp", "-1795845600" } }), R::TimestampOutOfRange);
        row("int64 min", record({ { "click_timestamp", "-9223372036854775808" } }), R::TimestampOutOfRange);
        row("uint64 max", record({ { "click_timestamp", "18446744073709551615" } }), R::TimestampOutOfRange);
        row("huge double", record({ { "click_timestamp", "1e300" } }), R::TimestampOutOfRange);
        row("beyond double range", record({ { "click_timestamp", "1e400" } }), R::TimestampOutOfRange);
        row("beyond 64 bits", record({ { "click_timestamp", "123456789012345678901234567890" } }),
            R::TimestampOutOfRange);
        row("huge negative double", record({ { "click_timestamp", "-1e300" } }), R::TimestampOutOfRange);
        row("ms as double is seconds", record({ { "click_timestamp", "1795845600123.5" } }), R::TimestampOutOfRange);

        row("ISO without zone", record({ { "click_timestamp", "\"2026-11-28T06:00:00\"" } }), R::BadTimestamp);
        row("ISO date only", record({ { "click_timestamp", "\"2026-11-28\"" } }), R::BadTimestamp);
        row("ISO words", record({ { "click_timestamp", "\"yesterday\"" } }), R::BadTimestamp);
        row("ISO empty", record({ { "click_timestamp", "\"\"" } }), R::BadTimestamp);
        row("ISO numeric string", record({ { "click_timestamp", "\"1795845600\"" } }), R::BadTimestamp);
        row("ISO month 13", record({ { "click_timestamp", "\"2026-13-01T00:00:00Z\"" } }), R::BadTimestamp);
        row("ISO Feb 29 non-leap", record({ { "click_timestamp", "\"2026-02-29T00:00:00Z\"" } }), R::BadTimestamp);
        row("ISO day 0", record({ { "click_timestamp", "\"2026-11-00T00:00:00Z\"" } }), R::BadTimestamp);
        row("ISO hour 24", record({ { "click_timestamp", "\"2026-11-28T24:00:00Z\"" } }), R::BadTimestamp);
        row("ISO minute 60", record({ { "click_timestamp", "\"2026-11-28T06:60:00Z\"" } }), R::BadTimestamp);
        row("ISO short offset", record({ { "click_timestamp", "\"2026-11-28T06:00:00+2\"" } }), R::BadTimestamp);
        row("ISO offset 24h", record({ { "click_timestamp", "\"2026-11-28T06:00:00+24:00\"" } }), R::BadTimestamp);
        row("ISO empty fraction", record({ { "click_timestamp", "\"2026-11-28T06:00:00.Z\"" } }), R::BadTimestamp);
        row("ISO trailing space", record({ { "click_timestamp", "\"2026-11-28T06:00:00Z \"" } }), R::BadTimestamp);
        row("ISO two-digit year", record({ { "click_timestamp", "\"26-11-28T06:00:00Z\"" } }), R::BadTimestamp);
        row("ISO slash date", record({ { "click_timestamp", "\"2026/11/28T06:00:00Z\"" } }), R::BadTimestamp);

        row("bad ip: octet 256", record({ { "ip", "\"256.1.2.3\"" } }), R::BadIp);
        row("bad ip: empty", record({ { "ip", "\"\"" } }), R::BadIp);
        row("bad ip: zone id", record({ { "ip", "\"fe80::1%eth0\"" } }), R::BadIp);
        row("bad ip: trailing space", record({ { "ip", "\"1.2.3.4 \"" } }), R::BadIp);
        row("bad ip: hostname", record({ { "ip", "\"example.com\"" } }), R::BadIp);

        row("bad country: UK", record({ { "country", "\"UK\"" } }), R::BadCountry);
        row("bad country: alpha-3", record({ { "country", "\"USA\"" } }), R::BadCountry);
        row("bad country: empty", record({ { "country", "\"\"" } }), R::BadCountry);

        row("bad ad_id: empty", record({ { "ad_id", "\"\"" } }), R::BadAdId);
        row("bad ad_id: negative", record({ { "ad_id", "-5" } }), R::BadAdId);
        row("bad ad_id: float", record({ { "ad_id", "7.5" } }), R::BadAdId);
        row("bad ad_id: exponent", record({ { "ad_id", "7e2" } }), R::BadAdId);
        row("bad ad_id: huge negative", record({ { "ad_id", "-98765432109876543210" } }), R::BadAdId);
        row("bad ad_id: beyond double range", record({ { "ad_id", "1e999" } }), R::BadAdId);
        row("bad ad_id: too long", record({ { "ad_id", quoted(std::string(129, 'a')).constData() } }), R::BadAdId);

        row("bad user_id: empty", record({ { "user_id", "\"\"" } }), R::BadUserId);
        row("bad user_id: too long", record({ { "user_id", quoted(std::string(257, 'u')).constData() } }),
            R::BadUserId);

        const std::string huge(64 * 1024, 'x');
        row("too large", record({ { "user_agent", quoted(huge).constData() } }), R::TooLarge);
        row("too large garbage", QByteArray(70000, '\xff'), R::TooLarge);
        // DictionaryFull needs 64 M distinct ad ids (StringDictionary::kMaxEntries): not exercised here.
    }

    void rejected()
    {
        QFETCH(QByteArray, json);
        QFETCH(RejectReason, reason);
        Fixture f;
        ClickEvent e;
        e.eventTimeMs = 5;
        RejectReason got = RejectReason::DictionaryFull;
        QCOMPARE(f.codec.decode(view(json), e, got), JsonCodec::Status::Rejected);
        QCOMPARE(rejectReasonName(got), rejectReasonName(reason));
        QCOMPARE(f.codec.counters()[reason], std::uint64_t(1));
        QCOMPARE(f.codec.counters().total(), std::uint64_t(1));
        QCOMPARE(f.codec.acceptedCount(), std::uint64_t(0));
        // A rejected record leaves no trace in the dictionaries or in the event.
        QVERIFY(!f.ads.lookup("ad-7").has_value());
        QCOMPARE(f.userAgents.size(), 0u);
        QCOMPARE(e.eventTimeMs, TimeMs(5));

        // The codec keeps working after a rejection.
        QCOMPARE(f.codec.decode(view(record()), e, got), JsonCodec::Status::Accepted);
        QCOMPARE(f.codec.acceptedCount(), std::uint64_t(1));
        QCOMPARE(f.codec.counters().total(), std::uint64_t(1));
    }

    void countersAccumulate()
    {
        Fixture f;
        ClickEvent e;
        RejectReason reason {};
        for (int i = 0; i < 3; ++i)
            f.codec.decode("null", e, reason);
        f.codec.decode(view(record({ { "ip", nullptr } })), e, reason);
        f.codec.decode(view(record({ { "country", "\"UK\"" } })), e, reason);
        f.codec.decode(view(record()), e, reason);
        QCOMPARE(f.codec.counters()[RejectReason::NotJson], std::uint64_t(3));
        QCOMPARE(f.codec.counters()[RejectReason::MissingField], std::uint64_t(1));
        QCOMPARE(f.codec.counters()[RejectReason::BadCountry], std::uint64_t(1));
        QCOMPARE(f.codec.counters().total(), std::uint64_t(5));
        QCOMPARE(f.codec.acceptedCount(), std::uint64_t(1));
    }

    void oneMegabyteIsTooLarge()
    {
        Fixture f;
        ClickEvent e;
        RejectReason reason {};
        const QByteArray json = record({ { "user_agent", quoted(std::string(1 << 20, 'm')).constData() } });
        QVERIFY(json.size() > (1 << 20));
        QCOMPARE(f.codec.decode(view(json), e, reason), JsonCodec::Status::Rejected);
        QCOMPARE(reason, RejectReason::TooLarge);
        QCOMPARE(f.codec.counters()[RejectReason::TooLarge], std::uint64_t(1));

        // With a larger limit the same message is accepted (the parser grows on demand).
        CodecLimits limits;
        limits.maxMessageBytes = 2 << 20;
        limits.maxUserAgentBytes = 2 << 20;
        Fixture big(limits);
        QCOMPARE(big.codec.decode(view(json), e, reason), JsonCodec::Status::Accepted);
        QCOMPARE(big.userAgents.name(e.uaId).size(), std::size_t(1 << 20));
    }

    void longUserAgentIsTruncatedButClassified()
    {
        CodecLimits limits;
        limits.maxUserAgentBytes = 16;
        Fixture f(limits);
        ClickEvent e;
        RejectReason reason {};
        // "iPhone" lies beyond the first 16 bytes: the dictionary keeps the prefix, the class
        // comes from the full text.
        QCOMPARE(f.codec.decode(view(record({ { "user_agent", "\"Mozilla/5.0 (X; iPhone) Mobile\"" } })), e, reason),
            JsonCodec::Status::Accepted);
        QCOMPARE(f.userAgents.name(e.uaId), std::string_view("Mozilla/5.0 (X; "));
        QCOMPARE(deviceClassName(e.device), deviceClassName(DeviceClass::Mobile));
        // The same prefix with other continuations shares the id but is classified on its own.
        const auto id = e.uaId;
        QCOMPARE(f.codec.decode(view(record({ { "user_agent", "\"Mozilla/5.0 (X; Googlebot)\"" } })), e, reason),
            JsonCodec::Status::Accepted);
        QCOMPARE(e.uaId, id);
        QCOMPARE(deviceClassName(e.device), deviceClassName(DeviceClass::Bot));
        // Truncation never splits a UTF-8 character: 9 × "é" (2 bytes) → 8 of them.
        QCOMPARE(f.codec.decode(view(record({ { "user_agent",
                                    "\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
                                    "\\u00e9\\u00e9\"" } })),
                     e, reason),
            JsonCodec::Status::Accepted);
        QCOMPARE(f.userAgents.name(e.uaId).size(), std::size_t(16));
        QCOMPARE(f.codec.decode(view(record({ { "user_agent",
                                    "\"a\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
                                    "\\u00e9\\u00e9\"" } })),
                     e, reason),
            JsonCodec::Status::Accepted);
        QCOMPARE(f.userAgents.name(e.uaId).size(), std::size_t(15));
    }

    void randomBytesNeverCrash()
    {
        // Mutated valid records: whatever the outcome, exactly one of accepted/rejected counts moves.
        Fixture f;
        std::mt19937_64 rng(99);
        const QByteArray base = record({ { "click_id", "\"c-1\"" } });
        for (int i = 0; i < 20000; ++i) {
            QByteArray m = base;
            const int edits = 1 + static_cast<int>(rng() % 4);
            for (int k = 0; k < edits; ++k)
                m[static_cast<int>(rng() % m.size())] = static_cast<char>(rng());
            ClickEvent e;
            RejectReason reason {};
            const auto before = f.codec.acceptedCount() + f.codec.counters().total();
            const auto status = f.codec.decode(view(m), e, reason);
            QCOMPARE(f.codec.acceptedCount() + f.codec.counters().total(), before + 1);
            if (status == JsonCodec::Status::Accepted) {
                QVERIFY(e.eventTimeMs >= f.codec.limits().minTimestampMs);
                QVERIFY(e.eventTimeMs <= f.codec.limits().maxTimestampMs);
                QVERIFY(isKnownCountry(e.country));
            }
        }
    }
};

QTEST_APPLESS_MAIN(TestJsonCodecRejects)
#include "tst_json_codec_rejects.moc"
