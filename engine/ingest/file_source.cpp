#include "ingest/file_source.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

namespace adclick::engine {

namespace {
constexpr std::size_t kInitialBufferBytes = std::size_t { 1 } << 20;
constexpr std::size_t kMaxQuarantineBytes = 4096;
constexpr int kStdinWaitMs = 50;
constexpr TimeMs kMaxPacingSleepMs = 20;

bool isBlank(std::string_view line)
{
    return std::all_of(line.begin(), line.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

std::string formatSpeedup(double x)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", x);
    return buf;
}
} // namespace

struct FileSource::Impl {
    enum class Read : std::uint8_t { Line, Oversized, WouldBlock, End };

    std::string path;
    const Clock& clock;
    JsonCodec codec;
    double speedup;
    bool isStdin;

    int fd = -1;
    bool waitForInput = false; ///< not a regular file: wait with poll(2) so reads never block long
    std::string error;

    // Read buffer: bytes [begin, end) are read but not consumed.
    std::vector<char> buffer;
    std::size_t begin = 0;
    std::size_t end = 0;
    std::size_t scanned = 0; ///< [begin, scanned) holds no newline
    bool eof = false;
    bool discarding = false; ///< inside an oversized line: drop bytes up to its newline
    std::string oversizedHead; ///< first bytes of the oversized line being discarded
    std::uint64_t oversizedLines = 0;

    std::int64_t nextLine = 0;

    // Pacing: an accepted event not yet due.
    bool hasPending = false;
    ClickEvent pending;
    bool originSet = false;
    TimeMs originEventMs = 0;
    TimeMs originClockMs = 0;

    Impl(
        std::string p, const Clock& c, AdDictionary& ads, UserAgentDictionary& userAgents, double x, CodecLimits limits)
        : path(std::move(p))
        , clock(c)
        , codec(ads, userAgents, limits)
        , speedup(std::isfinite(x) && x > 0 ? x : 0)
        , isStdin(path == "-")
    {
        open();
    }

    ~Impl() { closeFile(); }

    void closeFile()
    {
        if (fd >= 0 && !isStdin)
            ::close(fd);
        fd = -1;
    }

    bool open()
    {
        closeFile();
        resetReader();
        if (isStdin) {
            fd = STDIN_FILENO;
        } else {
            fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                error = "cannot open " + path + ": " + std::strerror(errno);
                return false;
            }
        }
        struct stat st { };
        if (::fstat(fd, &st) != 0) {
            error = "cannot read " + describePath() + ": " + std::strerror(errno);
            closeFile();
            return false;
        }
        if (S_ISDIR(st.st_mode)) {
            error = "cannot read " + describePath() + ": " + std::strerror(EISDIR);
            closeFile();
            return false;
        }
        waitForInput = !S_ISREG(st.st_mode);
        error.clear();
        return true;
    }

    void resetReader()
    {
        if (buffer.empty())
            buffer.resize(
                std::max(kInitialBufferBytes, std::min(codec.limits().maxMessageBytes + 2, 16 * kInitialBufferBytes)));
        begin = end = scanned = 0;
        eof = false;
        discarding = false;
        oversizedHead.clear();
        nextLine = 0;
        hasPending = false;
        originSet = false;
    }

    std::string describePath() const { return isStdin ? std::string("- (standard input)") : path; }

    // Reads more bytes after `end`, compacting or growing the buffer as needed.
    Read fill()
    {
        if (begin > 0 && begin == end) {
            begin = end = scanned = 0;
        } else if (begin > 0 && end == buffer.size()) {
            std::memmove(buffer.data(), buffer.data() + begin, end - begin);
            end -= begin;
            scanned -= begin;
            begin = 0;
        }
        if (end == buffer.size())
            buffer.resize(buffer.size() * 2); // a partial line within the size limit: keep it whole
        if (waitForInput) {
            pollfd p { fd, POLLIN, 0 };
            const int ready = ::poll(&p, 1, kStdinWaitMs);
            if (ready == 0 || (ready < 0 && errno == EINTR))
                return Read::WouldBlock;
        }
        for (;;) {
            const ssize_t n = ::read(fd, buffer.data() + end, buffer.size() - end);
            if (n > 0) {
                end += static_cast<std::size_t>(n);
                return Read::Line;
            }
            if (n == 0) {
                eof = true;
                return Read::End;
            }
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return Read::WouldBlock;
            error = "cannot read " + describePath() + ": " + std::strerror(errno);
            eof = true;
            return Read::End;
        }
    }

    // The next line (without its newline and a trailing "\r") in `line`, or the head of an
    // oversized line in oversizedHead. Line / Oversized consume one line number.
    Read readLine(std::string_view& line)
    {
        const std::size_t maxBytes = codec.limits().maxMessageBytes;
        for (;;) {
            if (discarding) {
                const char* nl = static_cast<const char*>(std::memchr(buffer.data() + begin, '\n', end - begin));
                if (nl) {
                    begin = static_cast<std::size_t>(nl - buffer.data()) + 1;
                    scanned = begin;
                    discarding = false;
                    return Read::Oversized;
                }
                begin = end = scanned = 0;
                if (eof) {
                    discarding = false;
                    return Read::Oversized;
                }
                if (const Read r = fill(); r == Read::WouldBlock)
                    return r;
                continue;
            }
            const char* nl = static_cast<const char*>(std::memchr(buffer.data() + scanned, '\n', end - scanned));
            if (nl) {
                const auto pos = static_cast<std::size_t>(nl - buffer.data());
                line = std::string_view(buffer.data() + begin, pos - begin);
                begin = scanned = pos + 1;
                return finishLine(line, maxBytes);
            }
            scanned = end;
            // Longer than the limit even without a "\r": refuse it now, keep only its head.
            if (end - begin > maxBytes + 1) {
                oversizedHead.assign(buffer.data() + begin, std::min(end - begin, kMaxQuarantineBytes));
                discarding = true;
                begin = end = scanned = 0;
                continue;
            }
            if (eof) {
                if (begin == end)
                    return Read::End;
                line = std::string_view(buffer.data() + begin, end - begin); // final line, no newline
                begin = scanned = end;
                return finishLine(line, maxBytes);
            }
            if (const Read r = fill(); r == Read::WouldBlock)
                return r;
        }
    }

    Read finishLine(std::string_view& line, std::size_t maxBytes)
    {
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        if (line.size() > maxBytes) {
            oversizedHead.assign(line.data(), std::min(line.size(), kMaxQuarantineBytes));
            return Read::Oversized;
        }
        return Read::Line;
    }

    TimeMs releaseTimeOf(const ClickEvent& e) const
    {
        const double deltaMs = static_cast<double>(e.eventTimeMs - originEventMs) / speedup;
        return originClockMs + static_cast<TimeMs>(std::floor(deltaMs));
    }

    void reject(IngestBatch& batch, RejectReason reason, SourcePosition position, std::string_view bytes)
    {
        batch.rejected.push_back(RejectedRecord {
            reason, position, std::string(bytes.substr(0, std::min(bytes.size(), kMaxQuarantineBytes))) });
    }
};

FileSource::FileSource(std::string path, const Clock& clock, AdDictionary& ads, UserAgentDictionary& userAgents,
    double speedup, CodecLimits limits)
    : m_impl(std::make_unique<Impl>(std::move(path), clock, ads, userAgents, speedup, limits))
{
}

FileSource::~FileSource() = default;

bool FileSource::isOpen() const
{
    return m_impl->fd >= 0 && m_impl->error.empty();
}

std::string FileSource::error() const
{
    return m_impl->error;
}

PollResult FileSource::poll(IngestBatch& batch, std::size_t maxEvents)
{
    Impl& d = *m_impl;
    if (d.fd < 0)
        return PollResult::EndOfStream;
    TimeMs now = d.clock.nowMs();
    batch.processingTimeMs = std::max(batch.processingTimeMs, now);
    std::size_t produced = 0;
    bool ended = false;
    while (produced < maxEvents) {
        if (d.hasPending) {
            const TimeMs releaseMs = d.releaseTimeOf(d.pending);
            if (releaseMs > now) {
                if (produced > 0)
                    break;
                if (d.clock.isVirtual()) {
                    batch.processingTimeMs = std::max(batch.processingTimeMs, releaseMs);
                    return PollResult::Idle;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(std::min(releaseMs - now, kMaxPacingSleepMs)));
                now = d.clock.nowMs();
                batch.processingTimeMs = std::max(batch.processingTimeMs, now);
                if (releaseMs > now)
                    return PollResult::Idle;
            }
            batch.events.push_back(d.pending);
            d.hasPending = false;
            ++produced;
            continue;
        }
        std::string_view line;
        const Impl::Read r = d.readLine(line);
        if (r == Impl::Read::WouldBlock)
            break;
        if (r == Impl::Read::End) {
            ended = true;
            break;
        }
        const SourcePosition position { d.nextLine++, 0 };
        if (r == Impl::Read::Oversized) {
            ++d.oversizedLines;
            d.reject(batch, RejectReason::TooLarge, position, d.oversizedHead);
            ++produced;
            continue;
        }
        if (isBlank(line))
            continue;
        ClickEvent e;
        RejectReason reason = RejectReason::NotJson;
        if (d.codec.decode(line, e, reason) == JsonCodec::Status::Rejected) {
            d.reject(batch, reason, position, line);
            ++produced;
            continue;
        }
        e.setPosition(position);
        if (d.speedup > 0) {
            if (!d.originSet) {
                d.originSet = true;
                d.originEventMs = e.eventTimeMs;
                d.originClockMs = now;
            }
            d.pending = e;
            d.hasPending = true; // released (or held) at the top of the loop
            continue;
        }
        batch.events.push_back(e);
        ++produced;
    }
    if (ended && !d.hasPending)
        return PollResult::EndOfStream;
    return produced > 0 ? PollResult::Events : PollResult::Idle;
}

std::string FileSource::describe() const
{
    std::string s = "file " + m_impl->describePath();
    if (m_impl->speedup > 0)
        s += " (paced x" + formatSpeedup(m_impl->speedup) + ")";
    return s;
}

bool FileSource::seek(std::uint32_t partition, std::int64_t offset)
{
    Impl& d = *m_impl;
    if (partition != 0 || offset < -1)
        return false;
    if (offset + 1 == d.nextLine && !d.hasPending)
        return true; // already there
    if (d.isStdin || d.fd < 0)
        return false;
    if (::lseek(d.fd, 0, SEEK_SET) != 0)
        return false;
    d.resetReader();
    while (d.nextLine <= offset) {
        std::string_view line;
        const Impl::Read r = d.readLine(line);
        if (r == Impl::Read::End || r == Impl::Read::WouldBlock)
            return false;
        ++d.nextLine;
    }
    return true;
}

std::int64_t FileSource::nextLine() const
{
    return m_impl->nextLine;
}

RejectCounters FileSource::rejectCounters() const
{
    RejectCounters c = m_impl->codec.counters();
    c.add(RejectReason::TooLarge, m_impl->oversizedLines);
    return c;
}

std::uint64_t FileSource::acceptedCount() const
{
    return m_impl->codec.acceptedCount();
}

} // namespace adclick::engine
