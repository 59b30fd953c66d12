#include "ingest/file_source.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>

namespace adclick::engine {

namespace {
    constexpr std::size_t kStoredBytes = 4096;

    bool isBlank(const std::string& s)
    {
        for (char c : s)
            if (c != ' ' && c != '\t' && c != '\r')
                return false;
        return true;
    }
} // namespace

FileSource::FileSource(std::string path, const Clock& clock, AdDictionary& ads, UserAgentDictionary& userAgents,
    double speedup, CodecLimits limits)
    : m_path(std::move(path))
    , m_clock(clock)
    , m_codec(ads, userAgents, limits)
    , m_speedup(speedup > 0 ? speedup : 0)
{
    open();
}

FileSource::~FileSource()
{
    if (m_file && m_ownsFile)
        std::fclose(m_file);
}

bool FileSource::open()
{
    if (m_file && m_ownsFile)
        std::fclose(m_file);
    m_file = nullptr;
    m_eof = false;
    m_lineNumber = -1;
    if (m_path == "-") {
        m_file = stdin;
        m_ownsFile = false;
        return true;
    }
    m_file = std::fopen(m_path.c_str(), "rb");
    m_ownsFile = true;
    if (!m_file) {
        m_error = m_path + ": " + std::strerror(errno);
        return false;
    }
    return true;
}

FileSource::LineStatus FileSource::readLine()
{
    m_line.clear();
    if (m_eof || !m_file)
        return LineStatus::End;
    const std::size_t maxBytes = m_codec.limits().maxMessageBytes;
    bool oversized = false;
    bool any = false;
    char buf[8192];
    while (std::fgets(buf, sizeof buf, m_file)) {
        any = true;
        std::size_t n = std::strlen(buf);
        const bool newline = n > 0 && buf[n - 1] == '\n';
        if (newline)
            --n;
        if (!oversized) {
            m_line.append(buf, n);
            if (m_line.size() > maxBytes) {
                oversized = true;
                m_line.resize(kStoredBytes);
            }
        }
        if (newline)
            break;
    }
    if (!any) {
        m_eof = true;
        return LineStatus::End;
    }
    ++m_lineNumber;
    return oversized ? LineStatus::Oversized : LineStatus::Line;
}

PollResult FileSource::poll(IngestBatch& batch, std::size_t maxEvents)
{
    if (!m_file)
        return PollResult::EndOfStream;
    std::size_t produced = 0;
    batch.processingTimeMs = std::max(batch.processingTimeMs, m_clock.nowMs());
    while (produced < maxEvents) {
        if (!m_hasPending) {
            const LineStatus st = readLine();
            if (st == LineStatus::End)
                break;
            const SourcePosition pos { m_lineNumber, 0 };
            if (st == LineStatus::Oversized) {
                batch.rejected.push_back({ RejectReason::TooLarge, pos, m_line });
                ++produced;
                continue;
            }
            if (isBlank(m_line))
                continue;
            ClickEvent e;
            RejectReason reason = RejectReason::NotJson;
            if (m_codec.decode(m_line, e, reason) == JsonCodec::Status::Rejected) {
                if (m_line.size() > kStoredBytes)
                    m_line.resize(kStoredBytes);
                batch.rejected.push_back({ reason, pos, m_line });
                ++produced;
                continue;
            }
            e.setPosition(pos);
            m_pending = e;
            m_hasPending = true;
        }
        if (m_speedup > 0) {
            if (!m_originSet) {
                m_originSet = true;
                m_originEventMs = m_pending.eventTimeMs;
                m_originClockMs = m_clock.nowMs();
            }
            const double offset = static_cast<double>(m_pending.eventTimeMs - m_originEventMs) / m_speedup;
            const TimeMs dueMs = m_originClockMs + static_cast<TimeMs>(std::max(0.0, offset));
            if (m_clock.isVirtual()) {
                batch.processingTimeMs = std::max(batch.processingTimeMs, dueMs); // time jumps to the release
            } else if (dueMs > m_clock.nowMs()) {
                if (produced == 0) {
                    const TimeMs wait = std::min<TimeMs>(20, dueMs - m_clock.nowMs());
                    std::this_thread::sleep_for(std::chrono::milliseconds(wait));
                    batch.processingTimeMs = m_clock.nowMs();
                    return PollResult::Idle;
                }
                break;
            }
        }
        batch.events.push_back(m_pending);
        m_hasPending = false;
        ++produced;
    }
    if (m_eof && !m_hasPending)
        return PollResult::EndOfStream;
    return produced > 0 ? PollResult::Events : PollResult::Idle;
}

std::string FileSource::describe() const
{
    std::string d = "file " + (m_path == "-" ? std::string("(standard input)") : m_path);
    if (m_speedup > 0) {
        char buf[40];
        std::snprintf(buf, sizeof buf, " (paced x%g)", m_speedup);
        d += buf;
    }
    return d;
}

bool FileSource::seek(std::uint32_t partition, std::int64_t offset)
{
    if (partition != 0 || m_path == "-")
        return false;
    if (!open())
        return false;
    m_hasPending = false;
    while (m_lineNumber < offset)
        if (readLine() == LineStatus::End)
            return false;
    return true;
}

} // namespace adclick::engine
