#pragma once

// Helpers of tst_serve.cpp: the `adclick serve` child process, a QNetworkAccessManager client for
// well-formed requests, a parser for responses read off raw sockets, the newest checkpoint row of a
// store, the OpenAPI document's operations and a Prometheus text parser. The storm: serve_storm.h.

#include <QByteArray>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QRegularExpression>
#include <QTcpSocket>
#include <QTimer>
#include <QUrl>

#include <sqlite3.h>

#include <cmath>
#include <csignal>
#include <map>
#include <optional>
#include <random>

namespace adclick::test {

inline QString adclickBinary()
{
    return qEnvironmentVariable("ADCLICK_BINARY_DIR") + QStringLiteral("/app/adclick");
}

/// One `adclick serve` child process listening on 127.0.0.1 and a port the OS chose. Its stdout
/// and stderr go to files (a pipe nobody drains could block the server). Stopped with SIGTERM,
/// then SIGKILL, when destroyed while still running. Main thread only.
class ServeProcess {
public:
    ServeProcess() = default;
    ServeProcess(const ServeProcess&) = delete;
    ServeProcess& operator=(const ServeProcess&) = delete;
    ~ServeProcess()
    {
        if (m_process.state() == QProcess::NotRunning)
            return;
        sendSignal(SIGTERM);
        if (!m_process.waitForFinished(15000)) {
            m_process.kill();
            m_process.waitForFinished(5000);
        }
    }

    /// Starts `adclick serve --listen 127.0.0.1:0 --data-dir dataDir runArgs…` with `token` in
    /// ADCLICK_API_TOKEN (unset when empty) and waits up to timeoutMs for its "listening on" line.
    bool start(const QString& dataDir, const QStringList& runArgs, const QByteArray& token = {}, int timeoutMs = 30000)
    {
        m_outPath = dataDir + ".stdout";
        m_errPath = dataDir + ".stderr";
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove("ADCLICK_API_TOKEN");
        if (!token.isEmpty())
            env.insert("ADCLICK_API_TOKEN", QString::fromLatin1(token));
        m_process.setProcessEnvironment(env);
        m_process.setStandardOutputFile(m_outPath, QIODevice::Truncate);
        m_process.setStandardErrorFile(m_errPath, QIODevice::Truncate);
        m_process.start(
            adclickBinary(), QStringList { "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir } + runArgs);
        if (!m_process.waitForStarted(10000))
            return false;
        static const QRegularExpression kListening(R"(listening on http://127\.0\.0\.1:(\d+))");
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < timeoutMs && running()) {
            const QRegularExpressionMatch m = kListening.match(QString::fromUtf8(output()));
            if (m.hasMatch()) {
                m_port = static_cast<quint16>(m.captured(1).toUInt());
                return m_port != 0;
            }
            m_process.waitForFinished(20);
        }
        return false;
    }

    /// Waits until stdout contains `needle` (false: timeout or the process ended without it).
    bool waitForOutput(const QByteArray& needle, int timeoutMs)
    {
        QElapsedTimer t;
        t.start();
        while (!output().contains(needle)) {
            if (t.elapsed() > timeoutMs || !running())
                return output().contains(needle);
            m_process.waitForFinished(20);
        }
        return true;
    }

    bool running() { return m_process.state() != QProcess::NotRunning; }
    /// Polls for the exit for up to timeoutMs (also lets QProcess notice a death).
    bool waitForExit(int timeoutMs)
    {
        return m_process.state() == QProcess::NotRunning || m_process.waitForFinished(timeoutMs);
    }
    /// Signals this child only (never pid 0 or -1: the process group or everyone).
    void sendSignal(int signal)
    {
        if (const qint64 pid = m_process.processId(); pid > 0 && m_process.state() == QProcess::Running)
            ::kill(static_cast<pid_t>(pid), signal);
    }
    quint16 port() const { return m_port; }
    int exitCode() const { return m_process.exitCode(); }
    QProcess::ExitStatus exitStatus() const { return m_process.exitStatus(); }
    QByteArray output() const { return readAll(m_outPath); }
    QByteArray errors() const { return readAll(m_errPath); }

private:
    static QByteArray readAll(const QString& path)
    {
        QFile f(path);
        return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
    }

    QProcess m_process;
    QString m_outPath;
    QString m_errPath;
    quint16 m_port = 0;
};

using Headers = QList<QPair<QByteArray, QByteArray>>;

/// A response: status 0 when none arrived (connection error or timeout).
struct HttpResult {
    int status = 0;
    QByteArray body;
    Headers headers;
    QString error;

    QByteArray header(const QByteArray& name) const
    {
        for (const auto& [n, v] : headers)
            if (n.compare(name, Qt::CaseInsensitive) == 0)
                return v;
        return {};
    }
    QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
    /// A JSON object with an "error" string, as every error of the API must be.
    bool isJsonError() const
    {
        QJsonParseError e;
        const QJsonDocument d = QJsonDocument::fromJson(body, &e);
        return e.error == QJsonParseError::NoError && d.isObject() && d.object().value("error").isString();
    }
};

/// Well-formed requests through QNetworkAccessManager (main thread; spins an event loop).
class HttpClient {
public:
    explicit HttpClient(quint16 port)
        : m_base(QString("http://127.0.0.1:%1").arg(port))
    {
    }

    HttpResult send(const QByteArray& method, const QString& target, const QByteArray& body = {},
        const Headers& headers = {}, int timeoutMs = 20000)
    {
        QNetworkRequest request(QUrl(m_base + target));
        request.setAttribute(QNetworkRequest::Http2AllowedAttribute, false);
        if (!body.isEmpty())
            request.setHeader(QNetworkRequest::ContentTypeHeader, "application/json");
        for (const auto& [name, value] : headers)
            request.setRawHeader(name, value);
        // head(): a custom "HEAD" verb would wait for the body the Content-Length announces.
        QNetworkReply* reply = method == "HEAD" ? m_nam.head(request) : m_nam.sendCustomRequest(request, method, body);
        QEventLoop loop;
        QTimer timer;
        timer.setSingleShot(true);
        QObject::connect(&timer, &QTimer::timeout, &loop, &QEventLoop::quit);
        QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
        timer.start(timeoutMs);
        if (!reply->isFinished())
            loop.exec();
        HttpResult r;
        if (!reply->isFinished()) {
            r.error = "timeout";
            reply->abort();
        } else {
            r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
            r.body = reply->readAll();
            r.headers = reply->rawHeaderPairs();
            r.error = reply->errorString();
        }
        reply->deleteLater();
        return r;
    }
    HttpResult get(const QString& target, const Headers& headers = {}) { return send("GET", target, {}, headers); }

private:
    QString m_base;
    QNetworkAccessManager m_nam;
};

/// Parses the HTTP/1.x response at the start of `buf`: the bytes it takes, 0 when incomplete, -1
/// when they are not an HTTP response with a Content-Length. `head`: answers a HEAD (the body is optional).
inline qsizetype parseResponse(const QByteArray& buf, bool head, HttpResult& out)
{
    const qsizetype end = buf.indexOf("\r\n\r\n");
    if (end < 0)
        return buf.size() >= 8 && !buf.startsWith("HTTP/1.") ? -1 : 0;
    const QList<QByteArray> lines = buf.left(end).split('\n');
    const QByteArray status = lines.first().trimmed();
    bool ok = status.startsWith("HTTP/1.") && status.size() >= 12 && status[8] == ' ';
    out.status = ok ? status.mid(9, 3).toInt(&ok) : 0;
    out.headers.clear();
    for (qsizetype i = 1; ok && i < lines.size(); ++i) {
        const qsizetype colon = lines[i].indexOf(':');
        ok = colon > 0;
        out.headers.append({ lines[i].left(colon).trimmed(), lines[i].mid(colon + 1).trimmed() });
    }
    const qsizetype length = ok ? out.header("Content-Length").toLongLong(&ok) : 0;
    if (!ok)
        return -1;
    const qsizetype bodyStart = end + 4;
    // A HEAD answer has no body; take what is there all the same (this server sends one with a
    // 400 for broken framing), so that it is not read as the next answer.
    const qsizetype take = head ? std::min<qsizetype>(length, buf.size() - bodyStart) : length;
    if (buf.size() - bodyStart < take)
        return 0;
    out.body = buf.mid(bodyStart, take);
    return bodyStart + take;
}

/// The store's checkpoint row (one row, replaced by each commit): {sequence, processing_time_ms}.
inline std::optional<std::pair<qint64, qint64>> newestCheckpoint(const QString& dataDir)
{
    sqlite3* db = nullptr;
    std::optional<std::pair<qint64, qint64>> result;
    const QByteArray path = (dataDir + "/adclick.db").toUtf8();
    if (sqlite3_open_v2(path.constData(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db, "SELECT sequence, processing_time_ms FROM checkpoint ORDER BY sequence DESC LIMIT 1",
                -1, &st, nullptr)
                == SQLITE_OK
            && sqlite3_step(st) == SQLITE_ROW)
            result = std::pair<qint64, qint64> { sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1) };
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return result;
}

/// Bytes as a C string literal (for reproductions), cut at `max`.
/// Everything that arrives on `s` within `ms`, or until the server closes the connection.
inline QByteArray readUntilClosed(QTcpSocket& s, int ms)
{
    QByteArray buf;
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < ms && (s.state() == QAbstractSocket::ConnectedState || s.bytesAvailable() > 0)) {
        s.waitForReadyRead(50);
        buf += s.readAll();
    }
    return buf;
}

inline QString literal(const QByteArray& b, int max = 300)
{
    QString s;
    for (qsizetype i = 0; i < std::min<qsizetype>(b.size(), max); ++i) {
        const auto c = static_cast<unsigned char>(b[i]);
        s += c == '\r'                ? QString("\\r")
            : c == '\n'               ? QString("\\n")
            : c == '"'                ? QString("\\\"")
            : c == '\\'               ? QString("\\\\")
            : (c < 0x20 || c >= 0x7f) ? QString("\\x%1").arg(c, 2, 16, QChar('0'))
                                      : QString(QChar(c));
    }
    return '"' + s + '"' + (b.size() > max ? QString(" …(%1 bytes in all)").arg(b.size()) : QString());
}

inline QString fromExample(const QJsonValue& v)
{
    if (v.isDouble())
        return v.toDouble() == std::floor(v.toDouble()) ? QString::number(static_cast<qint64>(v.toDouble()))
                                                        : QString::number(v.toDouble());
    if (v.isBool())
        return v.toBool() ? "true" : "false";
    return v.toString();
}

/// The object a "$ref": "#/a/b" names, or `o` itself.
inline QJsonObject resolve(const QJsonObject& doc, const QJsonObject& o)
{
    const QString ref = o.value("$ref").toString();
    if (!ref.startsWith("#/"))
        return o;
    QJsonValue v = doc;
    for (const QString& part : ref.mid(2).split('/'))
        v = v.toObject().value(part);
    return v.toObject();
}

/// One documented operation, with a request built from the document's examples.
struct Operation {
    QString method;
    QString path;
    QString target; ///< path parameters from their examples
    QString query; ///< query parameters that have examples
    QByteArray body; ///< the request body's example, if any
    QSet<QString> responses; ///< the keys of its "responses": codes, ranges ("4XX") or "default"

    /// Whether `status` is among the documented responses, exactly, by its range or as "default".
    bool documents(int status) const
    {
        return responses.contains(QString::number(status)) || responses.contains(QString("%1XX").arg(status / 100))
            || responses.contains(QString("%1xx").arg(status / 100)) || responses.contains("default");
    }
};

inline QList<Operation> documentedOperations(const QJsonObject& doc, QStringList& problems)
{
    static const QStringList kVerbs { "get", "put", "post", "delete", "options", "head", "patch", "trace" };
    QList<Operation> ops;
    const QJsonObject paths = doc.value("paths").toObject();
    for (auto p = paths.begin(); p != paths.end(); ++p) {
        const QJsonObject item = p.value().toObject();
        for (const QString& verb : kVerbs) {
            if (!item.contains(verb))
                continue;
            const QJsonObject op = item.value(verb).toObject();
            Operation o { verb.toUpper(), p.key(), p.key(), {}, {}, {} };
            QJsonArray params = item.value("parameters").toArray();
            for (const QJsonValue& v : op.value("parameters").toArray())
                params.append(v);
            QStringList query;
            for (const QJsonValue& v : params) {
                const QJsonObject prm = resolve(doc, v.toObject());
                QJsonValue example = prm.value("example");
                if (example.isUndefined())
                    example = prm.value("schema").toObject().value("example");
                const QString name = prm.value("name").toString();
                if (prm.value("in") == "path") {
                    if (example.isUndefined())
                        problems << QString("%1 %2: path parameter '%3' has no example").arg(o.method, o.path, name);
                    o.target.replace('{' + name + '}', QUrl::toPercentEncoding(fromExample(example)));
                } else if (prm.value("in") == "query" && !example.isUndefined()) {
                    query << name + '=' + QUrl::toPercentEncoding(fromExample(example));
                }
            }
            if (o.target.contains('{'))
                problems << QString("%1 %2: a path parameter is not declared").arg(o.method, o.path);
            o.query = query.join('&');
            const QJsonObject body = resolve(doc, op.value("requestBody").toObject());
            const QJsonValue bodyExample
                = body.value("content").toObject().value("application/json").toObject().value("example");
            if (!bodyExample.isUndefined())
                o.body = QJsonDocument::fromVariant(bodyExample.toVariant()).toJson(QJsonDocument::Compact);
            for (const QString& code : op.value("responses").toObject().keys())
                o.responses << code;
            ops << o;
        }
    }
    return ops;
}

/// Prometheus text format: every line a comment or `name{labels} value`. Returns the samples.
inline std::optional<std::map<QString, double>> parseMetrics(const QByteArray& text)
{
    static const QRegularExpression kSample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})?) (\S+)$)");
    std::map<QString, double> samples;
    for (const QByteArray& line : text.split('\n')) {
        if (line.isEmpty() || line.startsWith("# HELP ") || line.startsWith("# TYPE "))
            continue;
        const QRegularExpressionMatch m = kSample.match(QString::fromUtf8(line));
        bool ok = false;
        const double v = m.hasMatch() ? (m.captured(3) == "NaN" ? NAN : m.captured(3).toDouble(&ok)) : 0;
        if (!m.hasMatch() || (!ok && m.captured(3) != "NaN"))
            return std::nullopt;
        samples[m.captured(1)] = v;
    }
    return samples;
}

} // namespace adclick::test
