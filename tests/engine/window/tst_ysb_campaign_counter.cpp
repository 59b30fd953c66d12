// The Yahoo Streaming Benchmark query (YsbCodec + YsbCampaignCounter): decoding, the view filter,
// the ad → campaign join and the 10 s windows, checked against a brute-force oracle built from
// what the generator says it encoded — under random batch splits, shard counts and line orders.

#include "ingest/ysb_codec.h"
#include "ingest/ysb_generator.h"
#include "window/ysb_campaign_counter.h"

#include <QtTest>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace adclick::engine;

namespace {

using Oracle = std::map<std::pair<std::uint32_t, TimeMs>, std::uint64_t>;

struct Stream {
    std::vector<std::string> lines;
    Oracle expected;
    std::uint64_t views = 0, others = 0, unknown = 0;
    std::vector<std::pair<YsbUuid, std::uint32_t>> campaigns;
};

Stream makeStream(std::size_t events, double unknownFraction, std::uint64_t seed)
{
    YsbGeneratorConfig c;
    c.seed = seed;
    c.eventsPerSecond = 2000; // ~ 20 000 events per 10 s window: several windows
    c.unknownAdFraction = unknownFraction;
    YsbGenerator gen(c);
    Stream s;
    s.campaigns = gen.adCampaigns();
    std::map<YsbUuid, std::uint32_t> table(s.campaigns.begin(), s.campaigns.end());
    for (std::size_t i = 0; i < events; ++i) {
        std::string line;
        const YsbEvent e = gen.next(line);
        line.pop_back(); // the newline
        s.lines.push_back(std::move(line));
        if (e.type != YsbEventType::View) {
            ++s.others;
            continue;
        }
        const auto it = table.find(e.adId);
        if (it == table.end()) {
            ++s.unknown;
            continue;
        }
        ++s.views;
        ++s.expected[{ it->second, e.eventTimeMs - e.eventTimeMs % 10000 }];
    }
    return s;
}

/// JSON text written with single quotes (keeps moc's lexer away from raw strings): ' → ".
QByteArray j(const char* text)
{
    QByteArray b(text);
    b.replace('\'', '"');
    return b;
}

Oracle toMap(const std::vector<YsbWindowCount>& rows)
{
    Oracle m;
    for (const YsbWindowCount& r : rows)
        m[{ r.campaign, r.windowStartMs }] += r.views;
    return m;
}

} // namespace

class TestYsbCampaignCounter : public QObject {
    Q_OBJECT

private slots:
    void parse_data()
    {
        QTest::addColumn<QByteArray>("line");
        QTest::addColumn<int>("result");
        QTest::addColumn<int>("type");
        QTest::addColumn<qint64>("timeMs");
        const QByteArray ad = j("'ad_id': '0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d'");
        QTest::newRow("ysb shape") << (j("{'user_id': 'u', 'page_id': 'p', ") + ad
            + j(", 'ad_type': 'banner', 'event_type': 'view', 'event_time': '1453212235000', 'ip_address': '1.2.3.4'}"))
                                   << int(YsbParseResult::Ok) << int(YsbEventType::View) << qint64(1453212235000);
        QTest::newRow("reordered, no spaces, number time")
            << (j("{'event_time':42,'event_type':'purchase',") + ad.simplified().replace(": ", ":") + "}")
            << int(YsbParseResult::Ok) << int(YsbEventType::Purchase) << qint64(42);
        QTest::newRow("whitespace everywhere") << ("  {\t\"event_type\" : \"click\" ,\r\n " + ad
            + " , \"event_time\" : \"7\" }\r\n")
                                               << int(YsbParseResult::Ok) << int(YsbEventType::Click) << qint64(7);
        // Flat objects only: YSB's events have no nested values.
        QTest::newRow("nested value") << (j("{'event_type': 'view', 'event_time': '1', 'x': [1], ") + ad + "}")
                                      << int(YsbParseResult::NotJson) << 0 << qint64(0);
        QTest::newRow("escaped quote in other field") << (j("{'user_id': 'a\\\"b\\\\', 'event_type': 'view', ") + ad
            + j(", 'event_time': '10', 'n': null, 'f': -1.5e3, 't': true}"))
                                                      << int(YsbParseResult::Ok) << int(YsbEventType::View)
                                                      << qint64(10);
        QTest::newRow("unknown type") << (j("{'event_type': 'hover', 'event_time': '1', ") + ad + "}")
                                      << int(YsbParseResult::Ok) << int(YsbEventType::Other) << qint64(1);
        QTest::newRow("missing time") << (j("{'event_type': 'view', ") + ad + "}") << int(YsbParseResult::MissingField)
                                      << 0 << qint64(0);
        QTest::newRow("missing ad") << QByteArray(j("{'event_type': 'view', 'event_time': '1'}"))
                                    << int(YsbParseResult::MissingField) << 0 << qint64(0);
        QTest::newRow("bad uuid") << QByteArray(
            j("{'event_type': 'view', 'event_time': '1', 'ad_id': '0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3g'}"))
                                  << int(YsbParseResult::BadAdId) << 0 << qint64(0);
        QTest::newRow("uuid as number") << QByteArray(j("{'event_type': 'view', 'event_time': '1', 'ad_id': 5}"))
                                        << int(YsbParseResult::BadAdId) << 0 << qint64(0);
        QTest::newRow("negative time") << (j("{'event_type': 'view', 'event_time': '-5', ") + ad + "}")
                                       << int(YsbParseResult::BadEventTime) << 0 << qint64(0);
        QTest::newRow("fraction time") << (j("{'event_type': 'view', 'event_time': 1.5, ") + ad + "}")
                                       << int(YsbParseResult::BadEventTime) << 0 << qint64(0);
        QTest::newRow("truncated") << (j("{'event_type': 'view', 'event_time': '1', ") + ad)
                                   << int(YsbParseResult::NotJson) << 0 << qint64(0);
        QTest::newRow("unterminated string") << QByteArray(j("{'event_type': 'view")) << int(YsbParseResult::NotJson)
                                             << 0 << qint64(0);
        QTest::newRow("trailing garbage") << (j("{'event_type': 'view', 'event_time': '1', ") + ad + "} x")
                                          << int(YsbParseResult::NotJson) << 0 << qint64(0);
        QTest::newRow("bare word value") << (j("{'event_type': view, 'event_time': '1', ") + ad + "}")
                                         << int(YsbParseResult::NotJson) << 0 << qint64(0);
        QTest::newRow("not an object") << QByteArray("[1,2]") << int(YsbParseResult::NotJson) << 0 << qint64(0);
        QTest::newRow("empty object") << QByteArray("{}") << int(YsbParseResult::MissingField) << 0 << qint64(0);
    }
    void parse()
    {
        QFETCH(QByteArray, line);
        QFETCH(int, result);
        YsbEvent e;
        const YsbParseResult r = YsbCodec::parse({ line.constData(), static_cast<std::size_t>(line.size()) }, e);
        QCOMPARE(int(r), result);
        if (r == YsbParseResult::Ok) {
            QFETCH(int, type);
            QFETCH(qint64, timeMs);
            QCOMPARE(int(e.type), type);
            QCOMPARE(qint64(e.eventTimeMs), timeMs);
            QCOMPARE(YsbCodec::formatUuid(e.adId), std::string("0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d"));
        }
    }

    void uuidRoundTrip()
    {
        std::mt19937_64 rng(3);
        for (int i = 0; i < 1000; ++i) {
            const YsbUuid id { rng(), rng() };
            YsbUuid back;
            const std::string text = YsbCodec::formatUuid(id);
            QVERIFY(YsbCodec::parseUuid(text, back));
            QCOMPARE(back, id);
            std::string upper = text;
            std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
            QVERIFY(YsbCodec::parseUuid(upper, back));
            QCOMPARE(back, id);
        }
        YsbUuid out;
        QVERIFY(!YsbCodec::parseUuid("0a1b2c3d4e5f-4a6b-8c7d-8e9f0a1b2c3d0", out));
        QVERIFY(!YsbCodec::parseUuid("0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3", out));
    }

    void countsMatchOracle_data()
    {
        QTest::addColumn<int>("events");
        QTest::addColumn<double>("unknownFraction");
        QTest::addColumn<int>("shards");
        QTest::newRow("1 shard") << 60000 << 0.0 << 1;
        QTest::newRow("unknown ads, 3 shards") << 60000 << 0.05 << 3;
        QTest::newRow("7 shards") << 30000 << 0.01 << 7;
    }
    void countsMatchOracle()
    {
        QFETCH(int, events);
        QFETCH(double, unknownFraction);
        QFETCH(int, shards);
        Stream s = makeStream(static_cast<std::size_t>(events), unknownFraction, 11);
        QVERIFY(s.expected.size() > 100); // many campaigns × several windows
        QVERIFY(s.views > 0 && s.others > 0);
        QCOMPARE(s.unknown > 0, unknownFraction > 0);

        // Plus malformed lines and an empty line, which are counted and never join.
        s.lines.push_back("{\"event_type\": \"view\"");
        s.lines.push_back("not json");
        s.lines.push_back("");

        std::mt19937_64 rng(static_cast<std::uint64_t>(shards) * 7919);
        std::shuffle(s.lines.begin(), s.lines.end(), rng);
        std::vector<YsbCampaignCounter> parts;
        for (int i = 0; i < shards; ++i)
            parts.emplace_back(s.campaigns);
        // Random batch sizes, each batch to a random shard, lines joined by '\n' (sometimes without the last one).
        std::size_t i = 0;
        while (i < s.lines.size()) {
            const std::size_t n = std::min<std::size_t>(s.lines.size() - i, 1 + rng() % 500);
            std::string text;
            for (std::size_t k = 0; k < n; ++k)
                text += s.lines[i + k] + (k + 1 < n || rng() % 2 ? "\n" : "");
            parts[rng() % static_cast<std::size_t>(shards)].addLines(text);
            i += n;
        }
        for (int k = 1; k < shards; ++k)
            parts[0].merge(parts[static_cast<std::size_t>(k)]);
        const YsbCampaignCounter& total = parts[0];

        QCOMPARE(total.counters().counted, s.views);
        QCOMPARE(total.counters().filtered, s.others);
        QCOMPARE(total.counters().unknownAd, s.unknown);
        QCOMPARE(total.counters().rejected, std::uint64_t(2));
        QCOMPARE(total.counters().lines, std::uint64_t(events) + 2);
        const std::vector<YsbWindowCount> rows = total.results();
        QVERIFY(std::is_sorted(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
            return a.campaign != b.campaign ? a.campaign < b.campaign : a.windowStartMs < b.windowStartMs;
        }));
        QCOMPARE(toMap(rows), s.expected);
        for (const auto& [key, views] : s.expected)
            QCOMPARE(total.views(key.first, key.second), views);
        QCOMPARE(total.views(0, 5), std::uint64_t(0)); // not a window start
    }

    void campaignTableIsYsbShaped()
    {
        YsbGenerator gen(YsbGeneratorConfig {});
        const auto& table = gen.adCampaigns();
        QCOMPARE(table.size(), std::size_t(1000));
        std::map<std::uint32_t, int> perCampaign;
        for (const auto& [ad, c] : table)
            ++perCampaign[c];
        QCOMPARE(perCampaign.size(), std::size_t(100));
        for (const auto& [c, n] : perCampaign)
            QCOMPARE(n, 10);
        // Every generated line is decodable and names one of the table's ads.
        std::string line;
        for (int i = 0; i < 1000; ++i) {
            line.clear();
            const YsbEvent truth = gen.next(line);
            YsbEvent e;
            QCOMPARE(int(YsbCodec::parse(std::string_view(line).substr(0, line.size() - 1), e)), int(YsbParseResult::Ok));
            QCOMPARE(e.adId, truth.adId);
            QCOMPARE(e.eventTimeMs, truth.eventTimeMs);
            QCOMPARE(int(e.type), int(truth.type));
        }
    }
};

QTEST_GUILESS_MAIN(TestYsbCampaignCounter)
#include "tst_ysb_campaign_counter.moc"
