// `adclick serve`, the real executable, from the outside: the OpenAPI document it serves matches
// RestServer::routes() and what each route answers; --api-token / ADCLICK_API_TOKEN guard every
// route but / and /healthz; SIGTERM stops accepting, writes a final checkpoint and exits 0; and a
// seeded storm of more than 10,000 hostile requests over raw sockets (sequential, pipelined,
// concurrent, broken, cut short) gets only allowed statuses and JSON errors, and leaves the server
// up and answering the same counts. A request body is never answered as a request of its own
// (request smuggling through dropped or invalid framing headers): a request whose framing cannot
// be trusted gets 400 and the connection closes, as it does after Connection: close.

#include "rest_server.h"
#include "serve_storm.h"
#include "serve_test_support.h"

#include <QDateTime>
#include <QDeadlineTimer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QtTest>

#include <thread>

using namespace adclick::test;
using namespace adclick::test::storm;
using adclick::app::RestServer;

namespace {
const QStringList kMethods { "GET", "POST", "PUT", "DELETE", "PATCH" };

/// A whole request, sent as the body of another (requestBodiesAreNeverAnsweredAsRequests).
const QByteArray kInnerRequest = "GET /v1/pipeline HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// A finished virtual-clock data set: the numbers stay put while the server keeps serving.
const QStringList kDataSetArgs { "--clock", "virtual", "--duration", "3m", "--rate", "1000", "--ads", "5000", "--seed",
    "11" };
} // namespace

class TestServe : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void openApiListsExactlyTheRoutes();
    void documentedOperationsAnswerAsDocumented();
    void undocumentedMethodsAnswer405WithAllow();
    void withoutTokenEveryRouteAnswers();
    void apiToken_data();
    void apiToken();
    void hostileRequestStorm();
    void requestBodiesAreNeverAnsweredAsRequests_data();
    void requestBodiesAreNeverAnsweredAsRequests();
    void connectionCloseEndsTheConnection();
    void closingAnswerSurvivesTheBytesAfterIt();
    void sigtermStopsWithAFinalCheckpoint();
    void cleanupTestCase();

private:
    QString newDataDir(const QString& name) { return m_tmp.path() + '/' + name; }
    /// The batch scheduler is idle (polled up to timeoutMs).
    bool waitForBatchIdle(HttpClient& http, int timeoutMs);

    QTemporaryDir m_tmp;
    std::unique_ptr<ServeProcess> m_data; ///< the finished data set, shared by the API checks and the storm
    QJsonObject m_openApi;
};

void TestServe::initTestCase()
{
    std::signal(SIGPIPE, SIG_IGN);
    QVERIFY(m_tmp.isValid());
    QVERIFY2(QFile::exists(adclickBinary()), qPrintable(adclickBinary() + " does not exist (ADCLICK_BINARY_DIR)"));
    m_data = std::make_unique<ServeProcess>();
    QVERIFY2(m_data->start(newDataDir("data"), kDataSetArgs), m_data->errors().constData());
    QVERIFY2(m_data->waitForOutput("the input ended; still serving", 120000), m_data->output().right(2000).constData());
    HttpClient http(m_data->port());
    const HttpResult doc = http.get("/v1/openapi.json");
    QCOMPARE(doc.status, 200);
    QJsonParseError e;
    m_openApi = QJsonDocument::fromJson(doc.body, &e).object();
    QVERIFY2(e.error == QJsonParseError::NoError, qPrintable(e.errorString()));
    QVERIFY(m_openApi.value("paths").isObject());
}

void TestServe::openApiListsExactlyTheRoutes()
{
    QStringList problems;
    QStringList documented;
    for (const Operation& o : documentedOperations(m_openApi, problems))
        documented << o.method + ' ' + o.path;
    QStringList routes;
    for (const RestServer::Route& r : RestServer::routes())
        routes << QString("%1 %2").arg(r.method, r.path);
    documented.sort();
    routes.sort();
    QCOMPARE(documented, routes);
    QVERIFY2(problems.isEmpty(), qPrintable(problems.join('\n')));
}

void TestServe::documentedOperationsAnswerAsDocumented()
{
    HttpClient http(m_data->port());
    QStringList problems;
    const QList<Operation> ops = documentedOperations(m_openApi, problems);
    QVERIFY(!ops.isEmpty());
    for (const Operation& o : ops) {
        const QString target = o.target + (o.query.isEmpty() ? QString() : '?' + o.query);
        const HttpResult r = http.send(o.method.toLatin1(), target, o.body);
        const QString what = QString("%1 %2 (body %3) answered %4: %5")
                                 .arg(o.method, target, QString::fromUtf8(o.body))
                                 .arg(r.status)
                                 .arg(QString::fromUtf8(r.body.left(300)));
        QVERIFY2(r.status != 0, qPrintable(what + r.error));
        QVERIFY2(r.status != 405, qPrintable(what));
        QVERIFY2(
            !(r.status == 404 && r.json().value("error").toString().startsWith("no such route")), qPrintable(what));
        QVERIFY2(o.documents(r.status),
            qPrintable(what + " — not a documented status: " + QStringList(o.responses.values()).join(',')));
        if (r.header("Content-Type").startsWith("application/json"))
            QVERIFY2(!QJsonDocument::fromJson(r.body).isNull(), qPrintable(what));
        if (o.method != "GET")
            continue;
        // HEAD is GET without the body (RFC 9110 9.3.2): the server answers it on every GET route.
        const HttpResult head = http.send("HEAD", target);
        QVERIFY2(head.status == r.status && head.body.isEmpty(),
            qPrintable(
                QString("HEAD %1 answered %2 with %3 body bytes").arg(target).arg(head.status).arg(head.body.size())));
    }
}

void TestServe::undocumentedMethodsAnswer405WithAllow()
{
    HttpClient http(m_data->port());
    QStringList problems;
    QMap<QString, QStringList> allowedByPath;
    QMap<QString, QString> targetByPath;
    for (const Operation& o : documentedOperations(m_openApi, problems)) {
        allowedByPath[o.path] << o.method;
        targetByPath[o.path] = o.target;
    }
    QVERIFY(!allowedByPath.isEmpty());
    for (auto it = allowedByPath.begin(); it != allowedByPath.end(); ++it) {
        QStringList documented = it.value();
        if (documented.contains("GET") && !documented.contains("HEAD"))
            documented << "HEAD"; // implied by GET (see above), whether the document lists it or not
        documented.sort();
        for (const QString& method : kMethods) {
            if (documented.contains(method))
                continue;
            const HttpResult r
                = http.send(method.toLatin1(), targetByPath[it.key()], method == "GET" ? QByteArray() : "{}");
            const QString what = QString("%1 %2 answered %3 (Allow: %4): %5")
                                     .arg(method, targetByPath[it.key()])
                                     .arg(r.status)
                                     .arg(QString::fromLatin1(r.header("Allow")), QString::fromUtf8(r.body.left(200)));
            QVERIFY2(r.status == 405, qPrintable(what));
            QVERIFY2(r.isJsonError(), qPrintable(what));
            QStringList allow;
            for (const QByteArray& m : r.header("Allow").split(','))
                allow << QString::fromLatin1(m.trimmed());
            allow.sort();
            QVERIFY2(allow == documented, qPrintable(what + " — documented: " + documented.join(", ")));
        }
    }
}

bool TestServe::waitForBatchIdle(HttpClient& http, int timeoutMs)
{
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < timeoutMs) {
        const HttpResult r = http.get("/v1/batch/runs");
        if (r.status == 200 && !r.json().value("running").toBool())
            return true;
        QTest::qWait(100);
    }
    return false;
}

void TestServe::withoutTokenEveryRouteAnswers()
{
    HttpClient http(m_data->port());
    QVERIFY(waitForBatchIdle(http, 60000));
    const HttpResult started = http.send("POST", "/v1/batch/runs", "{}");
    QCOMPARE(started.status, 202);
    QVERIFY(started.header("Location").startsWith("/v1/batch/runs/"));
    const QString runId = fromExample(started.json().value("id"));
    const HttpResult top = http.get("/v1/ads/top_k");
    QCOMPARE(top.status, 200);
    const QString adId = top.json().value("top_ads").toArray().first().toObject().value("ad_id").toString();
    QVERIFY(!adId.isEmpty());
    for (const RestServer::Route& route : RestServer::routes()) {
        if (QByteArray(route.method) != "GET")
            continue;
        const QString target
            = QString::fromLatin1(route.path).replace("{ad_id}", adId).replace("{id}", runId).replace("{name}", "app.js");
        for (const Headers& auth : { Headers {}, Headers { { "Authorization", "Bearer whatever" } } }) {
            const HttpResult r = http.get(target, auth);
            QVERIFY2(r.status == 200,
                qPrintable(QString("GET %1 (%2 headers): %3 %4")
                               .arg(target)
                               .arg(auth.size())
                               .arg(r.status)
                               .arg(r.body.left(200))));
        }
    }
    QVERIFY(waitForBatchIdle(http, 60000));
}

void TestServe::apiToken_data()
{
    QTest::addColumn<bool>("viaEnvironment");
    QTest::newRow("--api-token") << false;
    QTest::newRow("ADCLICK_API_TOKEN") << true;
}

void TestServe::apiToken()
{
    QFETCH(bool, viaEnvironment);
    ServeProcess server;
    QStringList args { "--clock", "virtual", "--duration", "20s", "--rate", "500", "--ads", "100" };
    if (!viaEnvironment)
        args << "--api-token"
             << "s3cret";
    QVERIFY2(server.start(newDataDir(viaEnvironment ? "auth-env" : "auth-flag"), args, viaEnvironment ? "s3cret" : ""),
        server.errors().constData());
    QVERIFY2(server.output().contains("API token required"), server.output().constData());
    HttpClient http(server.port());
    const HttpResult none = http.get("/v1/pipeline");
    QCOMPARE(none.status, 401);
    QVERIFY2(none.header("WWW-Authenticate").startsWith("Bearer"), none.header("WWW-Authenticate").constData());
    QVERIFY2(none.isJsonError(), none.body.constData());
    for (const char* wrong :
        { "Bearer wrong", "Bearer s3cretX", "Bearer s3cre", "Bearer ", "Basic s3cret", "s3cret" }) {
        const HttpResult r = http.get("/v1/pipeline", Headers { { "Authorization", wrong } });
        QVERIFY2(
            r.status == 401 && r.isJsonError(), qPrintable(QString("Authorization: %1 → %2").arg(wrong).arg(r.status)));
    }
    const Headers right { { "Authorization", "Bearer s3cret" } };
    QCOMPARE(http.get("/v1/pipeline", right).status, 200);
    QCOMPARE(http.get("/v1/pipeline", Headers { { "Authorization", "bearer s3cret" } }).status, 200); // RFC 9110 11.1
    QCOMPARE(http.get("/v1/no-such-route").status, 401); // without the token no route is revealed
    QCOMPARE(http.get("/healthz").status, 200);
    QCOMPARE(http.get("/").status, 200);
    for (const RestServer::Route& route : RestServer::routes()) {
        const QString path = QString::fromLatin1(route.path).replace("{ad_id}", "1").replace("{id}", "1");
        if (path == "/" || path == "/healthz" || path.startsWith("/assets/")) // open: the web dashboard
            continue;
        const QByteArray body = QByteArray(route.method) == "POST" ? "{\"from\":0}" : "";
        const HttpResult r = http.send(route.method, path, body);
        QVERIFY2(
            r.status == 401, qPrintable(QString("%1 %2 without a token: %3").arg(route.method, path).arg(r.status)));
        const HttpResult ok = http.send(route.method, path, body, right);
        QVERIFY2(ok.status != 401 && kAllowedStatus.contains(ok.status),
            qPrintable(
                QString("%1 %2 with the token: %3 %4").arg(route.method, path).arg(ok.status).arg(ok.body.left(200))));
    }
}

void TestServe::hostileRequestStorm()
{
    HttpClient http(m_data->port());
    // The storm starts batch runs too (valid POSTs): cover the data by one first, so that later runs
    // recount the same raw records into the same rows and the counts below cannot change.
    const double nowSeconds = http.get("/v1/pipeline").json().value("processing_time").toDouble();
    QVERIFY(nowSeconds > 0);
    const qint64 to = static_cast<qint64>(nowSeconds) / 60 * 60 + 600;
    const qint64 from = to - 3 * 3600;
    const QString range = QString("from=%1&to=%2").arg(from).arg(to);
    QVERIFY(waitForBatchIdle(http, 60000));
    const HttpResult batch
        = http.send("POST", "/v1/batch/runs", QString("{\"from\":%1,\"to\":%2}").arg(from).arg(to).toUtf8());
    QCOMPARE(batch.status, 202);
    QVERIFY(waitForBatchIdle(http, 60000));
    const HttpResult top = http.get("/v1/ads/top_k?" + range);
    QCOMPARE(top.status, 200);
    const QString countTarget
        = QString("/v1/ads/%1/aggregated_count?%2")
              .arg(top.json().value("top_ads").toArray().first().toObject().value("ad_id").toString(), range);
    const HttpResult before = http.get(countTarget);
    QCOMPARE(before.status, 200);
    const qint64 clicksBefore = before.json().value("click_count").toInteger();
    QVERIFY(clicksBefore > 0);
    const auto metricsBefore = parseMetrics(http.get("/metrics").body);
    QVERIFY(metricsBefore);

    QElapsedTimer elapsed;
    elapsed.start();
    const QDeadlineTimer deadline(kStormDeadlineMs);
    std::vector<StormTally> tallies(kStormThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kStormThreads; ++i)
        threads.emplace_back([&, i] {
            StormClient(m_data->port(), 0x5eed0000u + static_cast<quint64>(i), tallies[static_cast<std::size_t>(i)])
                .run(kStormRequestsPerThread, i == 0, deadline);
        });
    for (std::thread& t : threads)
        t.join();
    StormTally total;
    for (const StormTally& t : tallies)
        total.merge(t);
    QStringList statuses;
    for (const auto& [status, n] : total.byStatus)
        statuses << QString("%1×%2").arg(status).arg(n);
    qInfo("storm: %lld requests on %lld connections in %.1f s, %lld answers (%s), %lld closed the connection "
          "(%lld pipelined requests after them unanswered), %lld failures",
        total.requests, total.connections, elapsed.elapsed() / 1000.0, total.answered, qPrintable(statuses.join(' ')),
        total.closed, total.unanswered, total.failureCount);

    QVERIFY2(m_data->running(), qPrintable("the server died in the storm:\n" + m_data->errors().right(2000)));
    QVERIFY2(total.failureCount == 0,
        qPrintable(QString("%1 failures, the first ones:\n  ").arg(total.failureCount) + total.failures.join("\n  ")));
    QVERIFY2(total.closed > 0 && total.unanswered > 0, "the storm never had a connection closed after a request");
    QVERIFY2(total.requests >= kStormThreads * kStormRequestsPerThread,
        qPrintable(
            QString("only %1 requests before the %2 s deadline").arg(total.requests).arg(kStormDeadlineMs / 1000)));

    const HttpResult health = http.get("/healthz");
    QCOMPARE(health.status, 200);
    QCOMPARE(health.json().value("status").toString(), QString("ok"));
    QVERIFY(waitForBatchIdle(http, 60000));
    const HttpResult after = http.get(countTarget);
    QCOMPARE(after.status, 200);
    QCOMPARE(after.json().value("click_count").toInteger(), clicksBefore);
    const HttpResult metrics = http.get("/metrics");
    QCOMPARE(metrics.status, 200);
    const auto metricsAfter = parseMetrics(metrics.body);
    QVERIFY2(metricsAfter, metrics.body.left(2000).constData());
    QCOMPARE(metricsAfter->at("adclick_up"), 1.0);
    QVERIFY(metricsAfter->at("adclick_http_requests_total")
        >= metricsBefore->at("adclick_http_requests_total") + total.answered);
    qInfo("server counted 5xx answers: %.0f", metricsAfter->at("adclick_http_errors_total{class=\"5xx\"}"));
}

void TestServe::requestBodiesAreNeverAnsweredAsRequests_data()
{
    // A request refused with 400 (unknown parameter x) whose body holds a whole request of its own
    // (kInnerRequest). Columns: its header fields, its body as sent, whether its framing is broken
    // (then: 400 "bad request: …" and the connection closed) or sound (then the body is read as a
    // body and the connection stays open).
    QTest::addColumn<QByteArray>("headers");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<bool>("broken");
    const QByteArray body = kInnerRequest;
    const QByteArray host = "Host: 127.0.0.1\r\n";
    auto fields = [&](int n) {
        QByteArray h = host + "Content-Length: 46\r\n";
        for (int i = 0; i < n; ++i)
            h += "X-Many-" + QByteArray::number(i) + ": v\r\n";
        return h;
    };
    QTest::newRow("98 header fields (control)") << fields(96) << body << false;
    QTest::newRow("chunked (control)") << host + "Transfer-Encoding: chunked\r\n"
                                       << "2e\r\n" + body + "\r\n0\r\n\r\n"
                                       << false;
    QTest::newRow("102 header fields") << fields(100) << body << true;
    QTest::newRow("129 KiB of header fields") << fields(0) + "X-Padding: " + QByteArray(129 * 1024, 'p') + "\r\n"
                                              << body << true;
    QTest::newRow("no Host") << QByteArray("Content-Length: 46\r\n") << body << true;
    QTest::newRow("Content-Length: 46, 46") << host + "Content-Length: 46, 46\r\n" << body << true;
    QTest::newRow("Content-Length: 0x2e") << host + "Content-Length: 0x2e\r\n" << body << true;
    QTest::newRow("Content-Length: -1") << host + "Content-Length: -1\r\n" << body << true;
    QTest::newRow("Content-Length: +46") << host + "Content-Length: +46\r\n" << body << true;
    QTest::newRow("Content-Length: 0 and 46") << host + "Content-Length: 0\r\nContent-Length: 46\r\n" << body << true;
    QTest::newRow("Content-Length: 46 twice") << host + "Content-Length: 46\r\nContent-Length: 46\r\n" << body << true;
    QTest::newRow("Content-Length and chunked") << host + "Content-Length: 51\r\nTransfer-Encoding: chunked\r\n"
                                                << "0\r\n\r\n" + body << true;
    QTest::newRow("Transfer-Encoding: gzip") << host + "Transfer-Encoding: gzip\r\nContent-Length: 46\r\n"
                                             << body << true;
}

void TestServe::requestBodiesAreNeverAnsweredAsRequests()
{
    // Its body must stay a body, or the connection be closed: never be answered as a request of its
    // own (request smuggling).
    QFETCH(QByteArray, headers);
    QFETCH(QByteArray, body);
    QFETCH(bool, broken);
    QCOMPARE(kInnerRequest.size(), 46);
    const QByteArray outer = "POST /v1/batch/runs?x=1 HTTP/1.1\r\n" + headers + "\r\n" + body;
    QTcpSocket s;
    s.connectToHost(QHostAddress::LocalHost, m_data->port());
    QVERIFY(s.waitForConnected(5000));
    s.write(outer);
    QByteArray buf = readUntilClosed(s, 1000);
    QStringList answers;
    HttpResult first;
    for (HttpResult r; !buf.isEmpty();) {
        const qsizetype used = parseResponse(buf, false, r);
        QVERIFY2(used > 0, qPrintable("not HTTP: " + literal(buf)));
        answers << QString("%1 %2").arg(r.status).arg(QString::fromUtf8(r.body.left(120)).trimmed());
        if (answers.size() == 1)
            first = r;
        buf.remove(0, used);
    }
    const QString what = QString("answers:\n  %1\nrequest: %2").arg(answers.join("\n  "), literal(outer, 160));
    QVERIFY2(answers.size() == 1, qPrintable("not exactly one answer (request smuggling?); " + what));
    QVERIFY2(first.status == 400 && first.isJsonError(), qPrintable(what));
    const QString error = first.json().value("error").toString();
    const bool closed = s.state() != QAbstractSocket::ConnectedState;
    if (broken) {
        QVERIFY2(error.startsWith("bad request: "), qPrintable(what));
        QCOMPARE(first.header("Connection"), QByteArray("close"));
        QVERIFY2(closed, qPrintable("the connection is still open; " + what));
        return;
    }
    QVERIFY2(!error.startsWith("bad request: ") && first.header("Connection").isEmpty(), qPrintable(what));
    QVERIFY2(!closed, qPrintable("the connection was closed; " + what));
    // The body was read as one: the next request on the connection is the next one answered.
    s.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    HttpResult next;
    QElapsedTimer t;
    t.start();
    while (parseResponse(buf, false, next) == 0 && t.elapsed() < 5000) {
        s.waitForReadyRead(100);
        buf += s.readAll();
    }
    QCOMPARE(next.status, 200);
}

/// A request with Connection: close is answered with Connection: close, then the connection is
/// closed: the requests pipelined after it are never answered.
void TestServe::connectionCloseEndsTheConnection()
{
    const QByteArray request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    const QByteArray closing = "GET /v1/pipeline HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    QTcpSocket s;
    s.connectToHost(QHostAddress::LocalHost, m_data->port());
    QVERIFY(s.waitForConnected(5000));
    s.write(request + closing + request + request);
    QByteArray buf = readUntilClosed(s, 5000);
    QVERIFY2(s.state() != QAbstractSocket::ConnectedState, "the connection is still open after 5 s");
    QList<HttpResult> answers;
    for (HttpResult r; !buf.isEmpty(); answers << r) {
        const qsizetype used = parseResponse(buf, false, r);
        QVERIFY2(used > 0, qPrintable("not HTTP: " + literal(buf)));
        buf.remove(0, used);
    }
    QCOMPARE(answers.size(), 2);
    QCOMPARE(answers[0].status, 200);
    QVERIFY(answers[0].header("Connection").isEmpty());
    QCOMPARE(answers[1].status, 200);
    QVERIFY(answers[1].json().contains("counters"));
    QCOMPARE(answers[1].header("Connection"), QByteArray("close"));
}

/// The answer that closes a connection must reach the client even when bytes it sent after the
/// request are still arriving or unread: closing at once makes the kernel reset the connection,
/// which can discard that answer (seen here: 1 in ~10,000 storm requests). The server half-closes
/// and drops what follows (RFC 9112 §9.6).
void TestServe::closingAnswerSurvivesTheBytesAfterIt()
{
    // A large answer first (a small one after it can wait in the kernel for the client's ACK).
    const QByteArray large = "GET /v1/openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    const QByteArray noHost = "GET /healthz HTTP/1.1\r\n\r\n"; // 400, then the connection closes
    QByteArray after;
    for (int i = 0; i < 40; ++i)
        after += "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    // The bytes after it leave up to 3 ms later: some arrive while the server answers and closes.
    // Before the half close, 1-2 % of these rounds lost the 400 to a reset.
    int lost = 0;
    QString firstLoss;
    constexpr int kRounds = 1000;
    QRandomGenerator rng(20261128);
    for (int round = 0; round < kRounds; ++round) {
        QTcpSocket s;
        s.connectToHost(QHostAddress::LocalHost, m_data->port());
        QVERIFY(s.waitForConnected(5000));
        s.setSocketOption(QAbstractSocket::LowDelayOption, 1);
        s.write(large + noHost);
        QVERIFY(s.waitForBytesWritten(5000));
        QElapsedTimer pause;
        pause.start();
        for (const qint64 ns = rng.bounded(3'000'000); pause.nsecsElapsed() < ns;) { }
        if (s.state() == QAbstractSocket::ConnectedState) {
            s.write(after);
            s.waitForBytesWritten(1000);
        }
        QByteArray buf = readUntilClosed(s, 5000);
        QVERIFY2(s.state() != QAbstractSocket::ConnectedState, "the connection is still open after 5 s");
        QList<int> statuses;
        for (HttpResult r; !buf.isEmpty(); statuses << r.status) {
            const qsizetype used = parseResponse(buf, false, r);
            QVERIFY2(used > 0, qPrintable("not HTTP: " + literal(buf)));
            buf.remove(0, used);
        }
        if (statuses != QList<int> { 200, 400 } && ++lost == 1)
            firstLoss = QString("round %1: answers %2").arg(round).arg(QDebug::toString(statuses));
    }
    QVERIFY2(lost == 0,
        qPrintable(QString("%1 of %2 rounds without both answers; %3").arg(lost).arg(kRounds).arg(firstLoss)));

    // A client that goes on sending after the closing answer is cut off; one that sends nothing
    // sees the server's side close at once (it may close its own whenever it likes).
    {
        QTcpSocket s;
        s.connectToHost(QHostAddress::LocalHost, m_data->port());
        QVERIFY(s.waitForConnected(5000));
        s.write(noHost);
        for (int i = 0; i < 64 && s.state() == QAbstractSocket::ConnectedState; ++i) {
            s.write(QByteArray(64 * 1024, 'x'));
            s.waitForBytesWritten(1000);
        }
        readUntilClosed(s, 5000);
        QVERIFY2(s.state() != QAbstractSocket::ConnectedState, "a client sending 4 MiB after the answer was not cut off");
    }
    {
        QTcpSocket s;
        s.connectToHost(QHostAddress::LocalHost, m_data->port());
        QVERIFY(s.waitForConnected(5000));
        s.write(noHost);
        QElapsedTimer t;
        t.start();
        const QByteArray buf = readUntilClosed(s, 5000);
        QVERIFY2(buf.startsWith("HTTP/1.1 400"), qPrintable(literal(buf)));
        QVERIFY2(s.state() != QAbstractSocket::ConnectedState, "no FIN within 5 s of the closing answer");
        qInfo("closing answer, then FIN after %lld ms", static_cast<long long>(t.elapsed()));
    }
    HttpClient http(m_data->port());
    QCOMPARE(http.get("/healthz").status, 200);
}

void TestServe::sigtermStopsWithAFinalCheckpoint()
{
    // Periodic checkpoints every 30 s: within this test only the final one can be recent.
    const QString dir = newDataDir("sigterm");
    ServeProcess server;
    QVERIFY2(
        server.start(dir, { "--clock", "real", "--rate", "20000", "--ads", "5000", "--checkpoint-interval", "30s" }),
        server.errors().constData());
    HttpClient http(server.port());
    auto received
        = [&] { return http.get("/v1/pipeline").json().value("counters").toObject().value("received").toDouble(); };
    QTRY_VERIFY_WITH_TIMEOUT(received() > 0, 20000);
    QTest::qWait(2000);
    const qint64 signalMs = QDateTime::currentMSecsSinceEpoch();
    server.sendSignal(SIGTERM);
    QElapsedTimer sinceSignal;
    sinceSignal.start();
    qint64 lastAcceptedMs = -1;
    int refused = 0;
    while (server.running() && sinceSignal.elapsed() < 30000) {
        QTcpSocket s;
        s.connectToHost(QHostAddress::LocalHost, server.port());
        if (s.waitForConnected(200))
            lastAcceptedMs = sinceSignal.elapsed();
        else
            ++refused;
        s.abort();
        server.waitForExit(25);
    }
    QVERIFY2(!server.running(), "still running 30 s after SIGTERM");
    qInfo("SIGTERM: exit after %lld ms; connections refused %d times, last accepted %lld ms after the signal",
        sinceSignal.elapsed(), refused, lastAcceptedMs);
    QCOMPARE(server.exitStatus(), QProcess::NormalExit);
    QCOMPARE(server.exitCode(), 0);
    QVERIFY2(lastAcceptedMs < 1000,
        qPrintable(QString("a connection was accepted %1 ms after SIGTERM").arg(lastAcceptedMs)));
    const QString out = QString::fromUtf8(server.output());
    const QRegularExpressionMatch summary = QRegularExpression(R"(store: (\d+) checkpoints \(last #(\d+);)").match(out);
    QVERIFY2(summary.hasMatch(), qPrintable(out.right(2000)));
    QVERIFY2(out.contains("adclick serve: stopped"), qPrintable(out.right(2000)));
    const auto checkpoint = newestCheckpoint(dir);
    QVERIFY2(checkpoint, "no checkpoint row in adclick.db");
    qInfo("%s newest checkpoint #%lld at processing time %+lld ms from SIGTERM", qPrintable(summary.captured(0)),
        checkpoint->first, checkpoint->second - signalMs);
    QCOMPARE(checkpoint->first, summary.captured(2).toLongLong());
    QVERIFY2(checkpoint->second >= signalMs - 1000,
        qPrintable(
            QString("the newest checkpoint (#%1) is of processing time %2, %3 ms before SIGTERM: no final checkpoint")
                .arg(checkpoint->first)
                .arg(checkpoint->second)
                .arg(signalMs - checkpoint->second)));
}

void TestServe::cleanupTestCase()
{
    if (!m_data || !m_data->running())
        return;
    m_data->sendSignal(SIGTERM);
    QVERIFY2(m_data->waitForExit(30000), "the data server did not stop within 30 s of SIGTERM");
    QCOMPARE(m_data->exitStatus(), QProcess::NormalExit);
    QCOMPARE(m_data->exitCode(), 0);
}

QTEST_GUILESS_MAIN(TestServe)
#include "tst_serve.moc"
