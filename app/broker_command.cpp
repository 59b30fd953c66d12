#include "broker_command.h"

#include "ingest/kafka_handles.h"

#include <librdkafka/rdkafka_mock.h>

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sstream>
#include <sys/socket.h>
#include <unistd.h>

namespace adclick::app {

using namespace adclick::engine;

namespace {
volatile std::sig_atomic_t g_stop = 0;
void onSignal(int)
{
    g_stop = 1;
}

struct MockClusterDeleter {
    void operator()(rd_kafka_mock_cluster_t* c) const { rd_kafka_mock_cluster_destroy(c); }
};

struct BrokerOptions {
    int port = 9092; ///< 0: no fixed port, only the mock brokers' own
    int brokers = 3;
    int partitions = 6;
    std::vector<std::string> topics { "ad-clicks" };
};

bool parseInt(const std::string& s, int lo, int hi, int& out)
{
    try {
        std::size_t used = 0;
        const long v = std::stol(s, &used);
        if (used != s.size() || v < lo || v > hi)
            return false;
        out = static_cast<int>(v);
        return true;
    } catch (...) {
        return false;
    }
}

std::vector<std::string> splitTopics(const std::string& v)
{
    std::vector<std::string> out;
    std::stringstream ss(v);
    std::string t;
    while (std::getline(ss, t, ','))
        if (!t.empty())
            out.push_back(t);
    return out;
}

/// "127.0.0.1:34567" → sockaddr.
bool parseHostPort(const std::string& hp, sockaddr_in& addr)
{
    const auto colon = hp.rfind(':');
    if (colon == std::string::npos)
        return false;
    int port = 0;
    if (!parseInt(hp.substr(colon + 1), 1, 65535, port))
        return false;
    std::memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    std::string host = hp.substr(0, colon);
    if (host == "localhost")
        host = "127.0.0.1";
    return ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) == 1;
}

/// Relays connections accepted on the fixed port to one mock broker, byte for byte, so clients
/// can bootstrap from a documented address (the mock brokers listen on ephemeral ports only).
/// Single-threaded: poll(2) over every socket pair; half-closes are passed on.
class PortForwarder {
public:
    ~PortForwarder()
    {
        for (auto& p : m_pairs) {
            ::close(p.client);
            ::close(p.broker);
        }
        if (m_listen >= 0)
            ::close(m_listen);
    }
    bool listen(int port, const sockaddr_in& target, std::string& error)
    {
        m_target = target;
        m_listen = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        ::setsockopt(m_listen, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a {};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<std::uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(m_listen, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(m_listen, 64) != 0) {
            error = "cannot listen on 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno);
            return false;
        }
        return true;
    }
    /// One round of poll(2) over the listener, every pair and the extra fd (stdin, -1: none).
    /// Returns the extra fd's revents.
    short step(int timeoutMs, int extraFd)
    {
        std::vector<pollfd> fds;
        fds.push_back({ m_listen, POLLIN, 0 });
        for (auto& p : m_pairs) {
            fds.push_back({ p.client, POLLIN, 0 });
            fds.push_back({ p.broker, POLLIN, 0 });
        }
        fds.push_back({ extraFd, POLLIN, 0 });
        if (::poll(fds.data(), fds.size(), timeoutMs) <= 0)
            return 0;
        const std::size_t polled = m_pairs.size();
        std::vector<bool> dead(polled, false);
        for (std::size_t i = 0; i < polled; ++i) {
            if (fds[1 + 2 * i].revents & (POLLIN | POLLHUP | POLLERR))
                dead[i] = !relay(m_pairs[i].client, m_pairs[i].broker) || dead[i];
            if (fds[2 + 2 * i].revents & (POLLIN | POLLHUP | POLLERR))
                dead[i] = !relay(m_pairs[i].broker, m_pairs[i].client) || dead[i];
        }
        for (std::size_t i = polled; i-- > 0;)
            if (dead[i]) {
                ::close(m_pairs[i].client);
                ::close(m_pairs[i].broker);
                m_pairs.erase(m_pairs.begin() + static_cast<long>(i));
            }
        if (fds[0].revents & POLLIN)
            accept();
        return fds.back().revents;
    }

private:
    struct Pair {
        int client;
        int broker;
    };
    void accept()
    {
        const int c = ::accept4(m_listen, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0)
            return;
        const int b = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (::connect(b, reinterpret_cast<const sockaddr*>(&m_target), sizeof m_target) != 0) {
            ::close(c);
            ::close(b);
            return;
        }
        int one = 1;
        ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ::setsockopt(b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        m_pairs.push_back({ c, b });
    }
    static bool relay(int from, int to)
    {
        char buf[65536];
        const ssize_t n = ::read(from, buf, sizeof buf);
        if (n <= 0)
            return n < 0 && (errno == EINTR || errno == EAGAIN);
        for (ssize_t done = 0; done < n;) {
            const ssize_t w = ::write(to, buf + done, static_cast<std::size_t>(n - done));
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                return false;
            }
            done += w;
        }
        return true;
    }

    int m_listen = -1;
    sockaddr_in m_target {};
    std::vector<Pair> m_pairs;
};
} // namespace

std::string brokerHelpText()
{
    return "Usage: adclick broker [options]\n\n"
           "Runs a local Kafka-protocol broker for demos and tests: librdkafka's in-memory MOCK cluster on\n"
           "127.0.0.1. It is NOT a production Kafka: nothing is persisted, each partition keeps only its\n"
           "last ~5 MB of messages (older ones are silently dropped: give topics many partitions, e.g. 64\n"
           "for ~2 M clicks, or produce at the pace of consumption), transactions are not emulated, and\n"
           "topics exist only as created here. Any real Kafka works the same way through --brokers.\n\n"
           "Options:\n"
           "  --port P          bootstrap port on 127.0.0.1, forwarded to broker 1 (default 9092; 0 = none)\n"
           "  --brokers N       brokers in the cluster, 1 … 16 (default 3)\n"
           "  --partitions N    partitions per topic, 1 … 1024 (default 6)\n"
           "  --topic T[,T2…]   topics to create (default ad-clicks)\n"
           "  --help            this text\n\n"
           "Prints its bootstrap address, then runs until Ctrl-C / SIGTERM. Lines on standard input:\n"
           "\"down N\" takes broker N down (its partitions stall), \"up N\" brings it back.\n";
}

int runBrokerCommand(const std::vector<std::string>& args, std::FILE* out, std::FILE* err)
{
    BrokerOptions o;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") {
            std::fputs(brokerHelpText().c_str(), out);
            return 0;
        }
        if (i + 1 >= args.size()) {
            std::fprintf(err, "adclick broker: unknown option or missing value '%s' (see --help)\n", a.c_str());
            return 2;
        }
        const std::string& v = args[++i];
        bool ok = false;
        if (a == "--port")
            ok = parseInt(v, 0, 65535, o.port);
        else if (a == "--brokers")
            ok = parseInt(v, 1, 16, o.brokers);
        else if (a == "--partitions")
            ok = parseInt(v, 1, 1024, o.partitions);
        else if (a == "--topic")
            ok = !(o.topics = splitTopics(v)).empty();
        else {
            std::fprintf(err, "adclick broker: unknown option '%s' (see --help)\n", a.c_str());
            return 2;
        }
        if (!ok) {
            std::fprintf(err, "adclick broker: invalid value '%s' for %s (see --help)\n", v.c_str(), a.c_str());
            return 2;
        }
    }

    std::string error;
    KafkaConf conf = makeKafkaConf({ { "client.id", "adclick-broker" }, { "log_level", "0" } }, error);
    if (!conf) {
        std::fprintf(err, "adclick broker: %s\n", error.c_str());
        return 1;
    }
    char errstr[512];
    KafkaHandle rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf.release(), errstr, sizeof errstr));
    if (!rk) {
        std::fprintf(err, "adclick broker: %s\n", errstr);
        return 1;
    }
    std::unique_ptr<rd_kafka_mock_cluster_t, MockClusterDeleter> cluster(
        rd_kafka_mock_cluster_new(rk.get(), o.brokers));
    if (!cluster) {
        std::fprintf(err, "adclick broker: cannot create the mock cluster\n");
        return 1;
    }
    for (const std::string& t : o.topics)
        if (rd_kafka_mock_topic_create(cluster.get(), t.c_str(), o.partitions, std::min(o.brokers, 3))
            != RD_KAFKA_RESP_ERR_NO_ERROR) {
            std::fprintf(err, "adclick broker: cannot create topic %s\n", t.c_str());
            return 1;
        }
    const std::string mockBootstraps = rd_kafka_mock_cluster_bootstraps(cluster.get());

    PortForwarder forwarder;
    std::string bootstrap = mockBootstraps;
    if (o.port > 0) {
        sockaddr_in first {};
        if (!parseHostPort(mockBootstraps.substr(0, mockBootstraps.find(',')), first)
            || !forwarder.listen(o.port, first, error)) {
            std::fprintf(err, "adclick broker: %s\n", error.empty() ? "bad mock bootstrap address" : error.c_str());
            return 1;
        }
        bootstrap = "127.0.0.1:" + std::to_string(o.port);
    }

    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    std::signal(SIGPIPE, SIG_IGN);
    std::string topicList;
    for (const auto& t : o.topics)
        topicList += (topicList.empty() ? "" : ",") + t;
    std::fprintf(out,
        "adclick broker: IN-MEMORY TEST BROKER (librdkafka mock cluster), not a production Kafka; each partition "
        "keeps only its last ~5 MB\n"
        "bootstrap: %s\nbrokers: %d (%s)\ntopics: %s with %d partitions each\n",
        bootstrap.c_str(), o.brokers, mockBootstraps.c_str(), topicList.c_str(), o.partitions);
    std::fflush(out);

    std::string pending;
    bool stdinOpen = true;
    while (!g_stop) {
        const short ev = o.port > 0 ? forwarder.step(200, stdinOpen ? STDIN_FILENO : -1) : [&] {
            pollfd p { stdinOpen ? STDIN_FILENO : -1, POLLIN, 0 };
            return ::poll(&p, 1, 200) > 0 ? p.revents : short { 0 };
        }();
        if (!(ev & (POLLIN | POLLHUP)))
            continue;
        char buf[256];
        const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
        if (n <= 0) {
            stdinOpen = false; // no controller: keep running until a signal
            continue;
        }
        pending.append(buf, static_cast<std::size_t>(n));
        for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
            const std::string line = pending.substr(0, nl);
            pending.erase(0, nl + 1);
            std::istringstream in(line);
            std::string verb;
            int id = 0;
            in >> verb >> id;
            rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__INVALID_ARG;
            if (verb == "down" && id >= 1 && id <= o.brokers)
                e = rd_kafka_mock_broker_set_down(cluster.get(), id);
            else if (verb == "up" && id >= 1 && id <= o.brokers)
                e = rd_kafka_mock_broker_set_up(cluster.get(), id);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                std::fprintf(out, "broker %d %s\n", id, verb.c_str());
            else
                std::fprintf(out, "unknown command '%s' (down N | up N, N in 1 … %d)\n", line.c_str(), o.brokers);
            std::fflush(out);
        }
    }
    std::fprintf(out, "adclick broker: stopped\n");
    std::fflush(out);
    return 0;
}

} // namespace adclick::app
