#pragma once

// Shared by tst_rest_api.cpp: a data set written by a real IngestSession (generator, virtual
// clock) with a RestServer over it on a port the OS chose, an HTTP client on
// QNetworkAccessManager, and a brute-force oracle over the generator's own record sequence
// (plain maps and sets over the decoded events, none of the engine's counting code).

#include "ingest_session.h"
#include "rest_server.h"
#include "run_options.h"

#include "core/clock.h"
#include "ingest/synthetic_source.h"
#include "query/query_service.h"

#include <QElapsedTimer>
#include <QEventLoop>
#include <QHostAddress>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QTemporaryDir>
#include <QTimer>

#include <array>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace adclick::test {

/// One HTTP answer: status, raw body, the body as a JSON object (empty if it is not one) and the
/// response headers (names lower-case).
struct HttpAnswer {
    int status = 0; ///< 0: no answer within the timeout
    QByteArray body;
    QJsonObject json;
    std::map<QByteArray, QByteArray> headers;

    QByteArray header(const QByteArray& lowerName) const
    {
        const auto it = headers.find(lowerName);
        return it == headers.end() ? QByteArray() : it->second;
    }
};

/// Talks to a server on 127.0.0.1:port, one request at a time, spinning the event loop while it
/// waits (the server answers on this thread's event loop). Test thread only.
class HttpClient {
public:
    explicit HttpClient(quint16 port)
        : m_port(port)
    {
    }

    /// `target` is the path and query ("/v1/ads/top_k?k=3"); an empty token sends no Authorization.
    HttpAnswer send(const QByteArray& method, const QString& target, const QByteArray& body = {},
        const QByteArray& token = {}, int timeoutMs = 30000)
    {
        QNetworkRequest request(QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_port).arg(target)));
        if (!body.isEmpty())
            request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArray("application/json"));
        if (!token.isEmpty())
            request.setRawHeader("Authorization", "Bearer " + token);
        QNetworkReply* reply = m_nam.sendCustomRequest(request, method, body);
        QEventLoop loop;
        QTimer timer;
        timer.setSingleShot(true);
        QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
        QObject::connect(&timer, &QTimer::timeout, &loop, &QEventLoop::quit);
        timer.start(timeoutMs);
        if (!reply->isFinished())
            loop.exec();
        HttpAnswer a;
        if (reply->isFinished()) {
            a.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
            a.body = reply->readAll();
            a.json = QJsonDocument::fromJson(a.body).object();
            for (const auto& [name, value] : reply->rawHeaderPairs())
                a.headers[name.toLower()] = value;
        } else {
            reply->abort();
        }
        reply->deleteLater();
        return a;
    }

    HttpAnswer get(const QString& target, const QByteArray& token = {}) { return send("GET", target, {}, token); }

private:
    quint16 m_port;
    QNetworkAccessManager m_nam;
};

// ── the oracle ───────────────────────────────────────────────────────────────────────────────

/// An address prefix over the 16-byte form of ClickEvent::ip (IPv4 as ::ffff:a.b.c.d).
struct IpNet {
    std::array<std::uint8_t, 16> bytes {};
    int bits = 128;

    /// "a.b.c.d", "a.b.c.d/n", "v6" or "v6/n", parsed with Qt (not the engine's parser).
    static std::optional<IpNet> parse(const QString& text)
    {
        const qsizetype slash = text.indexOf('/');
        QHostAddress address;
        if (!address.setAddress(slash < 0 ? text : text.left(slash)))
            return std::nullopt;
        const bool v4 = address.protocol() == QAbstractSocket::IPv4Protocol;
        IpNet net;
        net.bits = slash < 0 ? 128 : text.mid(slash + 1).toInt() + (v4 ? 96 : 0);
        const Q_IPV6ADDR v6 = address.toIPv6Address(); // IPv4: the mapped form
        for (int i = 0; i < 16; ++i)
            net.bytes[static_cast<std::size_t>(i)] = v6[i];
        return net;
    }

    bool contains(const std::array<std::uint8_t, 16>& ip) const
    {
        for (int bit = 0; bit < bits; ++bit) {
            const std::size_t byte = static_cast<std::size_t>(bit / 8);
            const int mask = 0x80 >> (bit % 8);
            if ((ip[byte] & mask) != (bytes[byte] & mask))
                return false;
        }
        return true;
    }
};

inline bool isMappedV4(const std::array<std::uint8_t, 16>& ip)
{
    for (std::size_t i = 0; i < 10; ++i)
        if (ip[i] != 0)
            return false;
    return ip[10] == 0xff && ip[11] == 0xff;
}

/// The address of an event as text ("a.b.c.d" for IPv4).
inline QString ipText(const engine::ClickEvent& e)
{
    if (isMappedV4(e.ip))
        return QHostAddress((quint32(e.ip[12]) << 24) | (quint32(e.ip[13]) << 16) | (quint32(e.ip[14]) << 8) | e.ip[15])
            .toString();
    Q_IPV6ADDR v6;
    for (int i = 0; i < 16; ++i)
        v6[i] = e.ip[static_cast<std::size_t>(i)];
    return QHostAddress(v6).toString();
}

inline QString countryText(engine::CountryCode c)
{
    return QString(QChar(c >> 8)) + QChar(c & 0xff);
}

/// REST names of the device classes, by DeviceClass value.
inline const char* deviceText(engine::DeviceClass d)
{
    static const char* const kNames[] = { "mobile", "tablet", "desktop", "bot", "other" };
    return kNames[static_cast<int>(d)];
}

/// The filters of a count, as the REST parameters write them (empty = no filter).
struct EventFilter {
    QString region;
    QString device;
    QString ip;

    bool matches(const engine::ClickEvent& e) const
    {
        if (!region.isEmpty() && countryText(e.country).compare(region, Qt::CaseInsensitive) != 0)
            return false;
        if (!device.isEmpty() && device.compare(QLatin1String(deviceText(e.device)), Qt::CaseInsensitive) != 0)
            return false;
        if (!ip.isEmpty()) {
            const auto net = IpNet::parse(ip);
            if (!net || !net->contains(e.ip))
                return false;
        }
        return true;
    }
};

inline engine::TimeMs minuteOf(engine::TimeMs t)
{
    return t - ((t % engine::kMsPerMinute) + engine::kMsPerMinute) % engine::kMsPerMinute;
}

/// Every event of `ad` in [fromMs, toMs) passing `filter`; with `onePerClick` a click id counts once
/// per (ad, minute) (the batch layer's rule), else every record counts.
inline std::uint64_t oracleCount(const std::vector<engine::ClickEvent>& events, engine::AdId ad, engine::TimeMs fromMs,
    engine::TimeMs toMs, const EventFilter& filter, bool onePerClick = false)
{
    const std::optional<IpNet> net = filter.ip.isEmpty() ? std::nullopt : IpNet::parse(filter.ip);
    EventFilter rest = filter;
    rest.ip.clear();
    std::set<std::pair<std::uint64_t, engine::TimeMs>> seen;
    std::uint64_t n = 0;
    for (const engine::ClickEvent& e : events) {
        if (e.adId != ad || e.eventTimeMs < fromMs || e.eventTimeMs >= toMs || !rest.matches(e))
            continue;
        if (net && !net->contains(e.ip))
            continue;
        if (onePerClick && e.clickId != 0 && !seen.insert({ e.clickId, minuteOf(e.eventTimeMs) }).second)
            continue;
        ++n;
    }
    return n;
}

/// Per-ad totals over [fromMs, toMs), ranked as top_k ranks: count desc, then ad id asc.
inline std::vector<std::pair<engine::AdId, std::uint64_t>> oracleRanking(
    const std::vector<engine::ClickEvent>& events, engine::TimeMs fromMs, engine::TimeMs toMs)
{
    std::map<engine::AdId, std::uint64_t> perAd;
    for (const engine::ClickEvent& e : events)
        if (e.eventTimeMs >= fromMs && e.eventTimeMs < toMs)
            ++perAd[e.adId];
    std::vector<std::pair<engine::AdId, std::uint64_t>> ranked(perAd.begin(), perAd.end());
    std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    return ranked;
}

// ── a data set behind a server ───────────────────────────────────────────────────────────────

/// A finished IngestSession over a temporary data directory, a QueryService and a RestServer on
/// it, and the generator's accepted events in arrival order (= raw log order).
struct DataSet {
    QTemporaryDir dir;
    app::RunOptions options;
    std::FILE* log = nullptr; ///< the session's output (kept out of the test log)
    std::unique_ptr<app::IngestSession> session;
    std::unique_ptr<engine::QueryService> queries;
    std::unique_ptr<app::RestServer> server;
    quint16 port = 0;
    std::vector<engine::ClickEvent> events;
    std::uint64_t rejected = 0; ///< malformed records
    engine::TimeMs firstMinuteMs = 0; ///< minute of the earliest event
    engine::TimeMs endMinuteMs = 0; ///< end of the minute of the latest event

    ~DataSet()
    {
        server.reset();
        queries.reset();
        session.reset();
        if (log)
            std::fclose(log);
    }

    /// Runs `adclick run`-style arguments (plus --data-dir) to their end, regenerates the same
    /// records, then serves the directory. Empty on success, else what failed.
    QString start(std::vector<std::string> args)
    {
        if (!dir.isValid())
            return "no temporary directory";
        args.insert(args.end(), { "--data-dir", dir.filePath(QStringLiteral("data")).toStdString() });
        app::ParsedRun parsed = app::parseRunOptions(args);
        if (!parsed.error.empty())
            return QString::fromStdString(parsed.error);
        options = parsed.options;
        log = std::tmpfile();
        session = std::make_unique<app::IngestSession>(options, log, log);
        if (!session->open())
            return "IngestSession::open failed";
        if (const int rc = session->loop(true); rc != 0)
            return QStringLiteral("IngestSession::loop returned %1").arg(rc);
        regenerate();
        engine::QueryServiceOptions qo;
        qo.windowMs = options.pipeline.window.windowMs;
        qo.allowedLatenessMs = options.pipeline.window.allowedLatenessMs;
        queries = std::make_unique<engine::QueryService>(session->dataDirectory(), qo);
        app::IngestSession* s = session.get();
        queries->setLiveSnapshotProvider([s] { return s->snapshot(); });
        server = std::make_unique<app::RestServer>(*queries, session.get(), app::RestServerConfig {});
        port = server->listen(QHostAddress::LocalHost, 0);
        return port == 0 ? QStringLiteral("listen failed") : QString();
    }

private:
    /// The generator's record sequence, exactly as IngestSession::open() bounds it.
    void regenerate()
    {
        const engine::GeneratorConfig& g = options.generator;
        engine::VirtualClock clock(g.startTimeMs);
        engine::AdDictionary ads;
        engine::UserAgentDictionary userAgents;
        engine::SyntheticSource source(g, clock, ads, userAgents);
        source.setLimit(static_cast<std::uint64_t>(static_cast<double>(*options.durationMs) * g.ratePerSec / 1000.0));
        engine::IngestBatch batch;
        while (true) {
            batch.clear();
            const engine::PollResult r = source.poll(batch, 8192);
            events.insert(events.end(), batch.events.begin(), batch.events.end());
            rejected += batch.rejected.size();
            if (r == engine::PollResult::EndOfStream)
                break;
        }
        engine::TimeMs lo = INT64_MAX, hi = INT64_MIN;
        for (const engine::ClickEvent& e : events) {
            lo = std::min(lo, e.eventTimeMs);
            hi = std::max(hi, e.eventTimeMs);
        }
        firstMinuteMs = minuteOf(lo);
        endMinuteMs = minuteOf(hi) + engine::kMsPerMinute;
    }
};

} // namespace adclick::test
