#pragma once

// Internal to the REST server (rest_server.cpp, rest_routes.cpp): the per-request parameter
// reader and reply helpers.

#include "rest_server.h"

#include <QJsonDocument>
#include <QUrlQuery>

#include <optional>

namespace adclick::app {

/// An ad id as the client wrote it: printable, at most 128 bytes.
inline bool plausibleAdId(const QString& s)
{
    if (s.isEmpty() || s.toUtf8().size() > 128)
        return false;
    for (QChar c : s)
        if (c.unicode() < 0x20 || c.unicode() == 0x7f)
            return false;
    return true;
}

/// Builds a JSON reply.
inline RestServer::Reply jsonReply(int status, const QJsonObject& body)
{
    RestServer::Reply r;
    r.status = status;
    r.body = QJsonDocument(body).toJson(QJsonDocument::Compact);
    r.body += '\n';
    return r;
}

inline RestServer::Reply errorReply(int status, const QString& message, const QString& parameter = {})
{
    return jsonReply(status, api::error(status, message, parameter));
}

/// The query parameters of one request, decoded, with the checks every route makes: only known
/// names, none twice. An empty value counts as absent ("filter_region=" = no filter).
struct RestServer::Params {
    QList<QPair<QString, QString>> items;
    std::optional<Reply> error; ///< set by the first failed check

    explicit Params(const QHttpServerRequest& request)
    {
        items = request.query().queryItems(QUrl::FullyDecoded);
    }

    /// False (and error set) when a parameter is not in `allowed` or appears twice.
    bool only(std::initializer_list<const char*> allowed)
    {
        QStringList seen;
        for (const auto& [name, value] : items) {
            bool known = false;
            for (const char* a : allowed)
                known = known || name == QLatin1String(a);
            if (!known) {
                QStringList names;
                for (const char* a : allowed)
                    names << QString::fromLatin1(a);
                fail(name.left(64), names.isEmpty()
                        ? QString("unknown parameter '%1': this route takes no parameters").arg(name.left(64))
                        : QString("unknown parameter '%1' (allowed: %2)").arg(name.left(64), names.join(", ")));
                return false;
            }
            if (seen.contains(name)) {
                fail(name, QString("parameter '%1' is given more than once").arg(name));
                return false;
            }
            seen << name;
        }
        return true;
    }

    /// The value, or nullopt when absent or empty.
    std::optional<QString> get(const char* name) const
    {
        for (const auto& [n, v] : items)
            if (n == QLatin1String(name))
                return v.isEmpty() ? std::nullopt : std::optional<QString>(v);
        return std::nullopt;
    }

    void fail(const QString& parameter, const QString& message)
    {
        if (!error)
            error = errorReply(400, message, parameter);
    }

    /// An integer in [lo, hi] (decimal, optional sign); nullopt when absent; error set when bad.
    std::optional<std::int64_t> integer(const char* name, std::int64_t lo, std::int64_t hi, const char* what)
    {
        const auto v = get(name);
        if (!v)
            return std::nullopt;
        bool ok = false;
        const qlonglong n = v->size() <= 20 ? v->toLongLong(&ok, 10) : 0;
        if (!ok || v->trimmed() != *v || n < lo || n > hi) {
            fail(QString::fromLatin1(name),
                QString("%1: expected %2 from %3 to %4, got '%5'")
                    .arg(QString::fromLatin1(name), QString::fromLatin1(what))
                    .arg(lo)
                    .arg(hi)
                    .arg(v->left(64)));
            return std::nullopt;
        }
        return n;
    }

    /// true/false/1/0; `fallback` when absent; error set when bad.
    bool flag(const char* name, bool fallback)
    {
        const auto v = get(name);
        if (!v)
            return fallback;
        if (*v == "true" || *v == "1")
            return true;
        if (*v == "false" || *v == "0")
            return false;
        fail(QString::fromLatin1(name),
            QString("%1: expected true or false, got '%2'").arg(QString::fromLatin1(name), v->left(64)));
        return fallback;
    }
};

} // namespace adclick::app
