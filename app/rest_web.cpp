// The web dashboard's files (web/, built by CMake and compiled into the binary under :/web):
// GET / (the page; the JSON index for clients that ask for JSON) and GET /assets/<name>. Both are
// open without the API token, like /healthz: the page holds no data, it asks the user for the
// token and sends it with every API call.

#include "rest_server.h"
#include "rest_support.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QHash>
#include <QJsonArray>

namespace adclick::app {

namespace {

/// One file of the page, as served.
struct WebFile {
    QByteArray body;
    QByteArray contentType;
    QByteArray etag; ///< a strong validator: a digest of the content, quoted
};

QByteArray contentTypeOf(const QString& name)
{
    static const QHash<QString, QByteArray> types {
        { "html", "text/html; charset=utf-8" },
        { "js", "text/javascript; charset=utf-8" },
        { "css", "text/css; charset=utf-8" },
        { "svg", "image/svg+xml" },
        { "png", "image/png" },
        { "ico", "image/x-icon" },
        { "json", "application/json" },
        { "txt", "text/plain; charset=utf-8" },
    };
    return types.value(name.section('.', -1).toLower(), "application/octet-stream");
}

/// Every file under :/web, read once (the resources never change while the binary runs). Only
/// these names are served: a request names a file of this table or gets 404, so no path reaches
/// the file system.
const QHash<QString, WebFile>& webFiles()
{
    static const QHash<QString, WebFile> files = [] {
        QHash<QString, WebFile> out;
        for (const QString& name : QDir(":/web").entryList(QDir::Files)) {
            QFile f(":/web/" + name);
            if (!f.open(QIODevice::ReadOnly))
                continue;
            WebFile w;
            w.body = f.readAll();
            w.contentType = contentTypeOf(name);
            w.etag = '"' + QCryptographicHash::hash(w.body, QCryptographicHash::Sha256).toHex().left(32) + '"';
            out.insert(name, std::move(w));
        }
        return out;
    }();
    return files;
}

/// A file's reply: revalidated on every use (Cache-Control: no-cache; the names carry no version,
/// so a new binary's files must not be mixed with cached old ones), 304 when the ETag matches.
RestServer::Reply fileReply(const QHttpServerRequest& request, const WebFile& file, bool page)
{
    RestServer::Reply r;
    r.contentType = file.contentType;
    r.headers.emplace_back("Cache-Control", "no-cache");
    r.headers.emplace_back("ETag", file.etag);
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    if (page) {
        // Everything the page loads comes from this server; no framing (the page holds a token).
        r.headers.emplace_back("Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
        r.headers.emplace_back("Referrer-Policy", "no-referrer");
    }
    bool matches = false;
    for (const QByteArray& tag : request.value("if-none-match").split(','))
        matches = matches || tag.trimmed() == file.etag || tag.trimmed() == "*";
    if (matches)
        r.status = 304;
    else
        r.body = file.body;
    return r;
}

} // namespace

RestServer::Reply RestServer::index(const QHttpServerRequest& request, Params& p)
{
    if (!p.only({}))
        return {};
    const QByteArray accept = request.value("accept").toLower();
    const bool wantsJson = accept.contains("application/json") && !accept.contains("text/html");
    const auto page = webFiles().constFind("index.html");
    if (!wantsJson && page != webFiles().constEnd())
        return fileReply(request, *page, true);
    if (!wantsJson)
        return errorReply(500, "the web dashboard is missing from the binary's resources (built without web/)");
    QJsonArray routes;
    for (const Route& r : RestServer::routes())
        routes.append(QString("%1 %2").arg(r.method, r.path));
    return jsonReply(200,
        QJsonObject { { "name", "adclick" }, { "version", "0.1.0" },
            { "description", "ad click counts per ad and minute of event time, exactly once" },
            { "openapi", "/v1/openapi.json" }, { "dashboard", "/" }, { "routes", routes } });
}

RestServer::Reply RestServer::asset(const QHttpServerRequest& request, const QString& name, Params& p)
{
    if (!p.only({}))
        return {};
    const auto file = webFiles().constFind(name);
    if (name == "index.html" || file == webFiles().constEnd())
        return errorReply(404,
            QString("no such asset: %1 (the dashboard's files are listed by its page at /)").arg(name.left(100)),
            "name");
    return fileReply(request, *file, false);
}

} // namespace adclick::app
