// Freshness of GET /v1/ads/{ad_id}/aggregated_count on a running `adclick serve --clock real`:
// the time from a click's arrival to the first answer that includes it.
//
// With a real clock a click's processing time is its arrival (wall) time, and a click that
// arrived at processing time p is included in every answer whose checkpoint.processing_time >= p.
// The program polls the route on one keep-alive connection every --period-ms for --seconds and
// records (receive wall time T, checkpoint processing time C) per answer. For successive distinct
// checkpoints C[i-1] < C[i], first seen at wall time V[i], the clicks that arrived in
// (C[i-1], C[i]] became visible at V[i]: their freshness is V[i] - t. Arrivals are uniform (the
// generator's fixed rate), so the distribution is taken over t on a 1 ms grid.
// V[i] is the receive time of the first answer showing C[i]: the figure overstates freshness by
// at most one poll period plus one request's latency (the resolution, printed).
//
// Plain POSIX sockets, no Qt. Usage:
//   bench_rest_freshness --port P --ad AD [--host 127.0.0.1] [--seconds 20] [--period-ms 10] [--label L]
// SIGTERM or SIGINT ends the polling early (after the request in flight) and reports.
// Prints a table and one machine-readable "RESULT key=value ..." line. Exit 0; 1 if an answer was
// not 2xx or the server could not be reached / stopped answering; 2 on bad usage.

#include <arpa/inet.h>
#include <csignal>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

namespace {

constexpr int kIoTimeoutMs = 2000;

/// Set by SIGTERM/SIGINT: finish the request in flight, then report.
volatile std::sig_atomic_t g_stop = 0;

extern "C" void onStopSignal(int)
{
    g_stop = 1;
}

/// Unix time in microseconds (CLOCK_REALTIME: comparable with the server's processing time).
std::int64_t wallNowUs()
{
    timespec ts {};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

/// Monotonic microseconds, for scheduling and request latency.
std::int64_t monoNowUs()
{
    timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

void sleepUntilMonoUs(std::int64_t deadlineUs)
{
    timespec ts {};
    ts.tv_sec = static_cast<time_t>(deadlineUs / 1000000);
    ts.tv_nsec = static_cast<long>(deadlineUs % 1000000) * 1000;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR && !g_stop) { }
}

/// One keep-alive HTTP/1.1 connection (RAII over the descriptor).
class HttpConnection {
public:
    HttpConnection(std::string host, int port)
        : m_host(std::move(host))
        , m_port(port)
    {
    }
    ~HttpConnection() { close(); }
    HttpConnection(const HttpConnection&) = delete;
    HttpConnection& operator=(const HttpConnection&) = delete;

    struct Response {
        int status = 0;
        std::string body;
    };

    /// GET target; reconnects once if the kept-alive connection was closed. nullopt: failed (m_error says why).
    std::optional<Response> get(const std::string& target)
    {
        for (int attempt = 0; attempt < 2; ++attempt) {
            if (m_fd < 0 && !connect())
                return std::nullopt;
            const bool fresh = m_fresh;
            m_fresh = false;
            std::optional<Response> r = exchange(target);
            if (r)
                return r;
            close();
            if (fresh)
                return std::nullopt; // a new connection failed: no point retrying
            ++m_reconnects;
        }
        return std::nullopt;
    }

    const std::string& error() const { return m_error; }
    int reconnects() const { return m_reconnects; }

private:
    bool connect()
    {
        m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (m_fd < 0)
            return fail("socket");
        const int one = 1;
        setsockopt(m_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in a {};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<std::uint16_t>(m_port));
        if (inet_pton(AF_INET, m_host.c_str(), &a.sin_addr) != 1) {
            m_error = "bad IPv4 address " + m_host;
            close();
            return false;
        }
        if (::connect(m_fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
            fail("connect");
            close();
            return false;
        }
        m_buffer.clear();
        m_fresh = true;
        return true;
    }

    void close()
    {
        if (m_fd >= 0)
            ::close(m_fd);
        m_fd = -1;
    }

    bool fail(const char* what)
    {
        char text[256];
        m_error = std::string(what) + ": " + strerror_r(errno, text, sizeof text); // GNU: returns the message
        return false;
    }

    bool waitFor(short events)
    {
        pollfd p { m_fd, events, 0 };
        int n;
        while ((n = ::poll(&p, 1, kIoTimeoutMs)) < 0 && errno == EINTR) { }
        if (n == 0) {
            m_error = "timed out after " + std::to_string(kIoTimeoutMs) + " ms";
            return false;
        }
        return n > 0 || fail("poll");
    }

    std::optional<Response> exchange(const std::string& target)
    {
        const std::string request
            = "GET " + target + " HTTP/1.1\r\nHost: " + m_host + "\r\nConnection: keep-alive\r\n\r\n";
        std::size_t sent = 0;
        while (sent < request.size()) {
            const ssize_t n = ::send(m_fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) {
                fail("send");
                return std::nullopt;
            }
            sent += static_cast<std::size_t>(n);
        }
        std::size_t headerEnd;
        while ((headerEnd = m_buffer.find("\r\n\r\n")) == std::string::npos)
            if (!readMore())
                return std::nullopt;
        Response r;
        if (std::sscanf(m_buffer.c_str(), "HTTP/1.%*d %d", &r.status) != 1) {
            m_error = "malformed status line";
            return std::nullopt;
        }
        std::size_t length = 0;
        std::string headers = m_buffer.substr(0, headerEnd);
        std::transform(
            headers.begin(), headers.end(), headers.begin(), [](unsigned char c) { return std::tolower(c); });
        if (const std::size_t at = headers.find("\r\ncontent-length:"); at != std::string::npos)
            length = std::strtoull(headers.c_str() + at + 17, nullptr, 10);
        const std::size_t bodyStart = headerEnd + 4;
        while (m_buffer.size() < bodyStart + length)
            if (!readMore())
                return std::nullopt;
        r.body = m_buffer.substr(bodyStart, length);
        m_buffer.erase(0, bodyStart + length);
        return r;
    }

    bool readMore()
    {
        if (!waitFor(POLLIN))
            return false;
        char chunk[16384];
        const ssize_t n = ::recv(m_fd, chunk, sizeof chunk, 0);
        if (n == 0) {
            m_error = "connection closed by the server";
            return false;
        }
        if (n < 0)
            return fail("recv");
        m_buffer.append(chunk, static_cast<std::size_t>(n));
        return true;
    }

    std::string m_host;
    int m_port;
    int m_fd = -1;
    bool m_fresh = false;
    int m_reconnects = 0;
    std::string m_buffer;
    std::string m_error;
};

/// The number after "key": at or after `from` in compact JSON; nullopt if absent or null.
std::optional<double> jsonNumber(const std::string& body, const char* key, std::size_t from = 0)
{
    const std::string needle = std::string("\"") + key + "\":";
    const std::size_t at = body.find(needle, from);
    if (at == std::string::npos)
        return std::nullopt;
    const char* start = body.c_str() + at + needle.size();
    char* end = nullptr;
    const double v = std::strtod(start, &end);
    if (end == start)
        return std::nullopt;
    return v;
}

struct Poll {
    std::int64_t receivedWallUs = 0; ///< T
    std::int64_t checkpointUs = 0; ///< C: checkpoint.processing_time
    std::int64_t latencyUs = 0;
    double clickCount = 0;
};

/// p-quantile (0..1) of sorted values, nearest rank.
template <typename T> T quantile(const std::vector<T>& sorted, double p)
{
    if (sorted.empty())
        return T {};
    const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
    return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

double ms(std::int64_t us)
{
    return static_cast<double>(us) / 1000.0;
}

struct Options {
    std::string host = "127.0.0.1";
    int port = 0;
    std::string ad;
    double seconds = 20;
    int periodMs = 10;
    std::string label = "freshness";
};

std::optional<Options> parse(int argc, char** argv)
{
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc)
            return std::nullopt;
        const char* v = argv[++i];
        if (a == "--host")
            o.host = v;
        else if (a == "--port")
            o.port = std::atoi(v);
        else if (a == "--ad")
            o.ad = v;
        else if (a == "--seconds")
            o.seconds = std::atof(v);
        else if (a == "--period-ms")
            o.periodMs = std::atoi(v);
        else if (a == "--label")
            o.label = v;
        else
            return std::nullopt;
    }
    if (o.port <= 0 || o.port > 65535 || o.ad.empty() || o.seconds <= 0 || o.periodMs < 1)
        return std::nullopt;
    return o;
}

} // namespace

int main(int argc, char** argv)
{
    const std::optional<Options> parsed = parse(argc, argv);
    if (!parsed) {
        std::fprintf(stderr,
            "usage: bench_rest_freshness --port P --ad AD [--host 127.0.0.1] [--seconds 20] [--period-ms 10] "
            "[--label L]\n");
        return 2;
    }
    const Options& o = *parsed;
    const std::string target = "/v1/ads/" + o.ad + "/aggregated_count";
    HttpConnection http(o.host, o.port);

    std::vector<Poll> polls;
    polls.reserve(static_cast<std::size_t>(o.seconds * 1000 / o.periodMs) + 16);
    int non2xx = 0;
    int withoutCheckpoint = 0;
    int checkpointWentBack = 0;
    int countWentDown = 0;
    int late = 0; ///< polls sent after their slot (the previous answer took longer than a period)
    std::string failure;
    const std::int64_t periodUs = static_cast<std::int64_t>(o.periodMs) * 1000;
    const std::int64_t startUs = monoNowUs();
    const std::int64_t endUs = startUs + static_cast<std::int64_t>(o.seconds * 1e6);
    struct sigaction stop { };
    stop.sa_handler = onStopSignal;
    sigaction(SIGTERM, &stop, nullptr);
    sigaction(SIGINT, &stop, nullptr);
    for (std::int64_t slot = startUs; slot < endUs && !g_stop; slot += periodUs) {
        const std::int64_t now = monoNowUs();
        if (now > slot + periodUs) {
            ++late;
            slot = now; // skip the missed slots rather than burst
        } else {
            sleepUntilMonoUs(slot);
            if (g_stop)
                break;
        }
        const std::int64_t sentUs = monoNowUs();
        const std::optional<HttpConnection::Response> r = http.get(target);
        const std::int64_t doneUs = monoNowUs();
        const std::int64_t wallUs = wallNowUs();
        if (!r) {
            failure = "GET " + target + ": " + http.error();
            break;
        }
        if (r->status < 200 || r->status > 299) {
            if (++non2xx <= 3)
                std::fprintf(stderr, "%s: GET %s answered %d: %.300s\n", o.label.c_str(), target.c_str(), r->status,
                    r->body.c_str());
            continue;
        }
        const std::size_t checkpointAt = r->body.find("\"checkpoint\":{");
        const std::optional<double> c
            = checkpointAt == std::string::npos ? std::nullopt : jsonNumber(r->body, "processing_time", checkpointAt);
        if (!c) {
            ++withoutCheckpoint;
            continue;
        }
        Poll p;
        p.receivedWallUs = wallUs;
        p.checkpointUs = std::llround(*c * 1e6);
        p.latencyUs = doneUs - sentUs;
        p.clickCount = jsonNumber(r->body, "click_count").value_or(-1);
        if (!polls.empty()) {
            if (p.checkpointUs < polls.back().checkpointUs)
                ++checkpointWentBack;
            if (p.clickCount < polls.back().clickCount)
                ++countWentDown;
        }
        polls.push_back(p);
    }

    // Distinct checkpoints in order of first appearance: (C[i], V[i]).
    struct Seen {
        std::int64_t checkpointUs;
        std::int64_t firstSeenWallUs;
    };
    std::vector<Seen> seen;
    for (const Poll& p : polls)
        if (seen.empty() || p.checkpointUs > seen.back().checkpointUs)
            seen.push_back({ p.checkpointUs, p.receivedWallUs });

    // Freshness of clicks arriving on a 1 ms grid in (C[i-1], C[i]]: V[i] - t. The first checkpoint's
    // interval is unknown (its predecessor was not seen), the clicks after the last are not yet visible.
    std::vector<std::int64_t> freshnessUs;
    std::vector<std::int64_t> visibleAfterUs; ///< V[i] - C[i]: the newest click's wait (the lower bound)
    std::vector<std::int64_t> intervalUs; ///< C[i] - C[i-1]
    for (std::size_t i = 1; i < seen.size(); ++i) {
        const std::int64_t from = seen[i - 1].checkpointUs;
        const std::int64_t to = seen[i].checkpointUs;
        intervalUs.push_back(to - from);
        visibleAfterUs.push_back(seen[i].firstSeenWallUs - to);
        for (std::int64_t t = to; t > from; t -= 1000)
            freshnessUs.push_back(seen[i].firstSeenWallUs - t);
    }
    std::sort(freshnessUs.begin(), freshnessUs.end());
    std::sort(visibleAfterUs.begin(), visibleAfterUs.end());
    std::sort(intervalUs.begin(), intervalUs.end());
    std::vector<std::int64_t> latencies;
    latencies.reserve(polls.size());
    for (const Poll& p : polls)
        latencies.push_back(p.latencyUs);
    std::sort(latencies.begin(), latencies.end());

    const double pollSeconds = static_cast<double>(monoNowUs() - startUs) / 1e6;
    const double p50 = ms(quantile(freshnessUs, 0.50));
    const double p99 = ms(quantile(freshnessUs, 0.99));
    const double max = freshnessUs.empty() ? 0 : ms(freshnessUs.back());
    const double resolutionMs = o.periodMs + ms(quantile(latencies, 0.99));

    std::printf("%s: %zu polls of GET %s in %.1f s (every %d ms, 1 keep-alive connection, %d late, %d reconnects)\n",
        o.label.c_str(), polls.size(), target.c_str(), pollSeconds, o.periodMs, late, http.reconnects());
    std::printf("%s:   poll latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", o.label.c_str(),
        ms(quantile(latencies, 0.5)), ms(quantile(latencies, 0.99)), latencies.empty() ? 0.0 : ms(latencies.back()));
    std::printf("%s:   %zu distinct checkpoints seen; interval between them p50 %.0f ms, max %.0f ms\n",
        o.label.c_str(), seen.size(), ms(quantile(intervalUs, 0.5)), intervalUs.empty() ? 0.0 : ms(intervalUs.back()));
    std::printf("%s:   newest click of a checkpoint visible after p50 %.0f ms, max %.0f ms (commit + publish delay)\n",
        o.label.c_str(), ms(quantile(visibleAfterUs, 0.5)), visibleAfterUs.empty() ? 0.0 : ms(visibleAfterUs.back()));
    std::printf("%s:   freshness (arrival -> first answer including it), over %zu ms of arrivals: p50 %.0f ms, p99 "
                "%.0f ms, max %.0f ms (resolution ~%.0f ms: poll period + p99 poll latency)\n",
        o.label.c_str(), freshnessUs.size(), p50, p99, max, resolutionMs);
    if (checkpointWentBack || countWentDown || withoutCheckpoint)
        std::printf("%s:   ANOMALY: checkpoint went back %d times, click_count went down %d times, %d answers "
                    "without a checkpoint\n",
            o.label.c_str(), checkpointWentBack, countWentDown, withoutCheckpoint);
    std::printf("RESULT label=%s polls=%zu checkpoints=%zu freshness_p50_ms=%.1f freshness_p99_ms=%.1f "
                "freshness_max_ms=%.1f resolution_ms=%.1f interval_p50_ms=%.1f poll_p99_ms=%.2f non2xx=%d "
                "checkpoint_back=%d count_down=%d no_checkpoint=%d failed=%d\n",
        o.label.c_str(), polls.size(), seen.size(), p50, p99, max, resolutionMs, ms(quantile(intervalUs, 0.5)),
        ms(quantile(latencies, 0.99)), non2xx, checkpointWentBack, countWentDown, withoutCheckpoint,
        failure.empty() ? 0 : 1);
    if (!failure.empty())
        std::fprintf(stderr, "%s: FAILED: %s\n", o.label.c_str(), failure.c_str());
    if (seen.size() < 2)
        std::fprintf(stderr, "%s: fewer than two distinct checkpoints seen: no freshness figure\n", o.label.c_str());
    return failure.empty() && non2xx == 0 ? 0 : 1;
}
