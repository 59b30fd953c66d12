#pragma once

// The requests of tst_serve.cpp's hostile storm: a seeded generator of valid-but-hostile and broken
// HTTP/1.1 requests, each with what the server must do with it (Probe). The client that sends them
// and checks the answers: serve_storm.h.

#include <QByteArray>

#include <algorithm>
#include <random>

namespace adclick::test {

/// One request of the storm, as bytes on the wire, and what the server must do with it.
struct Probe {
    enum class Expect {
        Answer, ///< valid HTTP/1.1: the server must answer, with an allowed status and a JSON error body
        Maybe, ///< broken HTTP: an answer is optional, but if one comes it must be as below
    };
    QByteArray bytes;
    Expect expect = Expect::Answer;
    int exactStatus = 0; ///< the one status the server must answer (0: any allowed one)
    bool head = false;
    /// The answer must say `Connection: close` and the server close the connection: the request's
    /// framing cannot be trusted (400) or it asked for that. Nothing after it is answered.
    bool closes = false;
};

/// Seeded generator of hostile requests: valid HTTP carrying hostile methods, paths, queries,
/// headers and bodies, or broken HTTP. Deterministic for a seed. One per thread.
class HostileRequests {
public:
    explicit HostileRequests(quint64 seed)
        : m_rng(seed)
    {
    }

    int below(int n) { return static_cast<int>(m_rng() % static_cast<quint64>(n)); }
    bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(m_rng) < p; }
    template <class T, std::size_t N> T oneOf(const T (&items)[N]) { return items[below(static_cast<int>(N))]; }

    /// A syntactically valid request; allowHead: HEAD may be chosen (its answer's framing differs).
    /// A few are framed in a way the server must not trust (400, then it closes the connection) or
    /// ask for Connection: close.
    Probe wellFormed(bool allowHead)
    {
        bool strict = true;
        QByteArray method = methodToken(allowHead);
        const QByteArray target = path(strict) + query(strict);
        QByteArray body;
        if ((method == "POST" || method == "PUT" || method == "PATCH") ? chance(0.8) : chance(0.08))
            body = randomBody();
        const Framing framing = framingOf();
        QByteArray head = method + ' ' + target + " HTTP/1.1\r\n";
        if (framing != Framing::NoHost)
            head += "Host: 127.0.0.1\r\n";
        head += headers(strict);
        const QByteArray wire = frame(framing, body, head);
        const bool closeAsked = framing == Framing::Plain && chance(0.02);
        if (closeAsked)
            head += "Connection: " + QByteArray(oneOf({ "close", "Close", " close " })) + "\r\n";
        else if (chance(0.02))
            head += "Connection: keep-alive\r\n";
        Probe p { head + "\r\n" + wire, strict ? Probe::Expect::Answer : Probe::Expect::Maybe, 0, method == "HEAD",
            closeAsked };
        if (framing != Framing::Plain && framing != Framing::Chunked) {
            // Checked before anything else, even when the request is not strictly valid otherwise.
            p.exactStatus = 400;
            p.closes = true;
        } else if (strict && target.size() > 9000) {
            p.exactStatus = 414;
        } else if (strict && body.size() > 64 * 1024 && target.size() < 7000) {
            p.exactStatus = 413;
        }
        return p;
    }

    /// Broken HTTP: garbage, bad framing, bad request lines (never answered with certainty).
    Probe malformed()
    {
        static const char* const kLines[] = { "GET /healthz\r\n\r\n", "GET / HTTP/9.9\r\n\r\n",
            "GET / HTTX/1.1\r\n\r\n", "GET / HTTP/1.1.1\r\n\r\n", "GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /healthz HTTP/1.1\nHost: x\n\n", "GET http://127.0.0.1/healthz HTTP/1.1\r\nHost: x\r\n\r\n",
            "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", "CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET / HTTP/1.1\r\nHost x\r\n\r\n", "GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
            "G\x01T / HTTP/1.1\r\n\r\n", "GET /\x7f\x05 HTTP/1.1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "\r\n\r\n\r\n", " GET / HTTP/1.1\r\n\r\n",
            "GET /v1/pipeline#frag HTTP/1.1\r\n\r\n", "POST /v1/batch/runs HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n{}",
            "POST /v1/batch/runs HTTP/1.1\r\nContent-Length: abc\r\n\r\n{}",
            "POST /v1/batch/runs HTTP/1.1\r\nContent-Length: -1\r\n\r\n{}",
            "POST /v1/batch/runs HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n{}",
            "POST /v1/batch/runs HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 7\r\n\r\n{}",
            "POST /v1/batch/runs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
            "POST /v1/batch/runs HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: "
            "2\r\n\r\n2\r\n{}\r\n0\r\n\r\n" };
        Probe p;
        p.expect = Probe::Expect::Maybe;
        switch (below(5)) {
        case 0: // binary garbage
            p.bytes = bytes(1 + below(3000));
            break;
        case 1: { // a valid request cut short: the server has to wait
            const QByteArray whole = wellFormed(false).bytes;
            p.bytes = whole.left(1 + below(static_cast<int>(std::max<qsizetype>(1, whole.size() - 1))));
            break;
        }
        case 2: // Content-Length larger than the body
            p.bytes = "POST /v1/batch/runs HTTP/1.1\r\nHost: x\r\nContent-Length: "
                + QByteArray::number(3 + below(100000)) + "\r\n\r\n{}";
            break;
        case 3: { // raw non-ASCII bytes in the target or a header
            p.bytes = QByteArray("GET /v1/ads/") + oneOf({ "\xC3\xA9", "\xF0\x9F\x92\xA5", "\xFF\xFE", "\xE2\x80\xAE" })
                + QByteArray("/aggregated_count HTTP/1.1\r\nHost: x\r\nX-U: \xC3\xA9\xFF\r\n\r\n");
            break;
        }
        default:
            p.bytes = oneOf(kLines);
        }
        return p;
    }

    /// A URL of 100 KB: 414.
    Probe hugeUrl()
    {
        return { "GET /v1/ads/" + QByteArray(100 * 1024, 'x') + "/aggregated_count HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            Probe::Expect::Answer, 414, false };
    }
    /// A body of 1 MB with a correct Content-Length: 413.
    Probe hugeBody()
    {
        const QByteArray body = "{\"from\": \"" + QByteArray(1024 * 1024 - 13, 'x') + "\"}";
        return { "POST /v1/batch/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
                + QByteArray::number(body.size()) + "\r\n\r\n" + body,
            Probe::Expect::Answer, 413, false };
    }

private:
    /// How a request's end is told (RFC 9112 6): Plain and Chunked are trusted, the rest are
    /// answered 400 and the connection closed (request smuggling otherwise).
    enum class Framing {
        Plain, ///< Content-Length when there is a body
        Chunked, ///< Transfer-Encoding: chunked (any case)
        NoHost,
        TwoContentLengths, ///< the same value twice
        SignedContentLength, ///< "+N": not plain decimal digits
        ContentLengthAndChunked,
        OtherTransferEncoding,
        TooManyFields, ///< > 100 header fields: Qt 6.4 drops them all, Content-Length too
        HugeFields, ///< > 128 KiB of header fields: dropped too
    };

    Framing framingOf()
    {
        static const Framing kFaults[]
            = { Framing::TwoContentLengths, Framing::SignedContentLength, Framing::ContentLengthAndChunked,
                  Framing::OtherTransferEncoding, Framing::TooManyFields, Framing::HugeFields };
        const int r = below(1000);
        return r < 30 ? Framing::Chunked : r < 70 ? Framing::NoHost : r < 100 ? oneOf(kFaults) : Framing::Plain;
    }

    /// Appends the framing header fields to `head`; returns the body as sent.
    QByteArray frame(Framing framing, const QByteArray& body, QByteArray& head)
    {
        auto contentLength = [&](qsizetype n) { head += "Content-Length: " + QByteArray::number(n) + "\r\n"; };
        switch (framing) {
        case Framing::Plain:
        case Framing::NoHost:
            if (!body.isEmpty() || chance(0.1))
                contentLength(body.size());
            return body;
        case Framing::Chunked:
            head += "Transfer-Encoding: " + QByteArray(oneOf({ "chunked", "Chunked", "CHUNKED" })) + "\r\n";
            return chunked(body);
        case Framing::TwoContentLengths:
            contentLength(body.size());
            contentLength(body.size());
            return body;
        case Framing::SignedContentLength:
            head += "Content-Length: +" + QByteArray::number(body.size()) + "\r\n";
            return body;
        case Framing::ContentLengthAndChunked: {
            const QByteArray wire = chunked(body);
            head += "Transfer-Encoding: chunked\r\n";
            contentLength(chance(0.5) ? wire.size() : body.size());
            return wire;
        }
        case Framing::OtherTransferEncoding: {
            const QByteArray coding = oneOf({ "gzip", "identity", "gzip, chunked", "chunked, chunked" });
            head += "Transfer-Encoding: " + coding + "\r\n";
            if (coding.contains("chunked"))
                return chunked(body);
            contentLength(body.size());
            return body;
        }
        case Framing::TooManyFields:
            for (int i = 0, n = 101 + below(40); i < n; ++i)
                head += "X-Field-" + QByteArray::number(i) + ": v\r\n";
            break;
        case Framing::HugeFields:
            head += "X-Huge: " + QByteArray(129 * 1024 + below(8192), 'h') + "\r\n";
            break;
        }
        if (!body.isEmpty())
            contentLength(body.size());
        return body;
    }

    /// `body` in chunks of random sizes (hex in either case), then the last chunk.
    QByteArray chunked(const QByteArray& body)
    {
        QByteArray out;
        for (qsizetype at = 0; at < body.size();) {
            const qsizetype n = std::min<qsizetype>(body.size() - at, 1 + below(static_cast<int>(body.size() / 2 + 1)));
            const QByteArray size = QByteArray::number(n, 16);
            out += (chance(0.5) ? size.toUpper() : size) + "\r\n" + body.mid(at, n) + "\r\n";
            at += n;
        }
        return out + "0\r\n\r\n";
    }

    QByteArray bytes(int n)
    {
        QByteArray b(n, '\0');
        for (char& c : b)
            c = static_cast<char>(m_rng() & 0xff);
        return b;
    }

    QByteArray methodToken(bool allowHead)
    {
        static const char* const kOther[] = { "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO", "G3T", "get",
            "PROPFIND", "M-SEARCH", "PURGE", "XYZZY" };
        const int r = below(100);
        if (r < 45)
            return "GET";
        if (r < 65)
            return "POST";
        if (r < 68 && allowHead)
            return "HEAD";
        if (r < 75) {
            QByteArray t;
            for (int i = 0, n = 1 + below(24); i < n; ++i)
                t += static_cast<char>('A' + below(26));
            return t;
        }
        return oneOf(kOther);
    }

    QByteArray segment(bool& strict)
    {
        static const char* const kSegments[]
            = { "1", "42", "0", "-1", "4999", "99999999999999999999999", "%00", "a%2Fb", "%2F", "..", "%2e%2e", ".",
                  "%C3%A9t%C3%A9", "%F0%9F%92%A5", "%FF%FE%FD", "%zz", "%", "%4", "a%20b", "null", "NaN", "1e3", "0x1F",
                  "%E2%80%AE", "~u", "!$&'()*+,;=", "@:", "v1", "ads", "batch", "runs", "healthz", "" };
        const int r = below(100);
        if (r < 5)
            return QByteArray(1 + below(r < 1 ? 9000 : 2000), 'x');
        if (r < 8) {
            strict = false;
            return oneOf({ "\xC3\xA9", "\xF0\x9F\x92\xA5", "\xFF", "a\tb" });
        }
        if (r < 20)
            return QByteArray::number(static_cast<qint64>(m_rng() >> below(64)));
        return oneOf(kSegments);
    }

    QByteArray path(bool& strict)
    {
        static const char* const kRoutes[] = { "/", "/healthz", "/metrics", "/v1/openapi.json", "/v1/pipeline",
            "/v1/ads/top_k", "/v1/ads/@/aggregated_count", "/v1/ads/@/aggregated_count", "/v1/ads/@/aggregated_count",
            "/v1/reconciliation", "/v1/batch/runs", "/v1/batch/runs", "/v1/batch/runs/@", "/v1/batch/runs/@" };
        QByteArray p;
        if (chance(0.7)) {
            p = oneOf(kRoutes);
            if (p.contains('@'))
                p.replace("@", segment(strict));
        } else {
            for (int i = 0, n = 1 + (chance(0.1) ? below(400) : below(8)); i < n; ++i)
                p += '/' + segment(strict);
        }
        if (chance(0.05))
            p += '/';
        if (chance(0.05))
            p = "/v1/.." + p;
        if (chance(0.03))
            p.replace("/", "//");
        return p;
    }

    QByteArray query(bool& strict)
    {
        static const char* const kNames[] = { "from", "to", "k", "window_minutes", "approx", "ad_id", "limit",
            "filter_region", "filter_user_agent", "filter_ip", "filter_user_agent_contains", "x", "FROM", "from[]",
            "%66rom", "filter_region%00", "", "%zz", "k%3Dv" };
        static const char* const kValues[] = { "", "0", "-1", "1", "20", "100", "10001", "1767222000", "1767229200",
            "4102444800", "4102444801", "99999999999999999999999999", "-99999999999999999999", "NaN", "inf", "1.5",
            "1e9", "%201", "0x10", "%zz", "%", "true", "false", "yes", "US", "ZZ", "mobile", "10.0.0.0/8",
            "300.1.1.1/99", "::1/200", "%00", "%C3%A9", "a+b", "%2B1", "9223372036854775807", "-9223372036854775808" };
        if (chance(0.3))
            return {};
        QByteArray q = "?";
        if (chance(0.1))
            q += "from=1767229200&to=1767222000&";
        for (int i = 0, n = 1 + below(6); i < n; ++i) {
            if (i > 0)
                q += chance(0.05) ? "&&" : "&";
            const int shape = below(20);
            const QByteArray name = shape == 0 ? QByteArray(300, 'n') : QByteArray(oneOf(kNames));
            QByteArray value
                = below(10) == 0 ? QByteArray::number(static_cast<qint64>(m_rng())) : QByteArray(oneOf(kValues));
            if (shape == 1)
                value = QByteArray(1 + below(3000), '9');
            if (shape == 2) {
                strict = false;
                value = "a b";
            }
            q += shape == 3 ? name : shape == 4 ? "=" + value : name + "=" + value;
        }
        return q;
    }

    QByteArray headers(bool& strict)
    {
        QByteArray h;
        if (chance(0.1))
            h += "Authorization: " + QByteArray(oneOf({ "Bearer x", "Bearer ", "Basic Zm9vOmJhcg==", "Bearer s3cret" }))
                + "\r\n";
        if (chance(0.08))
            h += "X-Padding: " + QByteArray(1000 + below(30000), 'p') + "\r\n";
        // At most 100 header fields in all here: Qt 6.4 drops every header of a request with more
        // (Framing::TooManyFields).
        if (chance(0.05))
            for (int i = 0; i < 90; ++i)
                h += "X-Many-" + QByteArray::number(i) + ": v\r\n";
        if (chance(0.05))
            h += "Content-Type: " + QByteArray(oneOf({ "text/plain", "application/json; charset=utf-16", "x/\"y\"" }))
                + "\r\n";
        if (chance(0.05))
            h += "Accept-Encoding: gzip, br\r\nCookie: a=b; c=d\r\nUser-Agent: " + QByteArray(500, 'u') + "\r\n";
        if (chance(0.02)) {
            strict = false;
            h += "X-Obs-Text: \xC3\xA9\xFF\r\n";
        }
        return h;
    }

    QByteArray randomBody()
    {
        static const char* const kJson[] = { "{}", "{\"from\":\"abc\"}", "{\"from\":1.5}", "{\"from\":-1,\"to\":2}",
            "{\"to\":1e300}", "{\"from\":null,\"to\":true}", "[1,2,3]", "\"text\"", "42", "null", "{\"x\":1}",
            "{\"from\":1767229200,\"to\":1767222000}", "{\"from\":1767222000,\"to\":1767229200}", "{\"from\":17672",
            "{\"from\":", "{\"from\":1767222000,\"from\":1767229200}", "\xEF\xBB\xBF{}", "{\"from\":NaN}",
            "{\"to\":4102444801}", "{\"from\":0,\"to\":4102444800}", "   ", "{\"from\":{\"$gt\":0}}" };
        const int r = below(100);
        if (r < 15)
            return bytes(1 + below(4096));
        if (r < 17)
            return QByteArray(5000, '[') + QByteArray(5000, ']');
        if (r < 19)
            return "{\"from\":\"" + QByteArray(60000, 's') + "\"}";
        if (r < 20)
            return QByteArray(70000, '{');
        return oneOf(kJson);
    }

    std::mt19937_64 m_rng;
};

} // namespace adclick::test
