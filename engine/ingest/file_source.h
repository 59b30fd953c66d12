#pragma once

#include "core/clock.h"
#include "ingest/event_source.h"
#include "ingest/json_codec.h"

#include <cstdio>
#include <memory>
#include <string>

namespace adclick::engine {

/// Reads NDJSON of the seed schema from a file or standard input ("-"): one partition,
/// offset = 0-based line number, arrival order = file order. Blank lines are skipped;
/// malformed and oversized lines go through the codec's rejection path (an oversized line is
/// never held in memory whole: its first 4 KiB are kept for quarantine). As fast as possible
/// by default, or paced by event time at `speedup` × (the first event sets the origin).
/// Not thread-safe.
class FileSource final : public EventSource {
public:
    FileSource(std::string path, const Clock& clock, AdDictionary& ads, UserAgentDictionary& userAgents,
        double speedup = 0, CodecLimits limits = {});
    ~FileSource() override;

    bool isOpen() const { return m_file != nullptr; }
    std::string error() const { return m_error; }

    PollResult poll(IngestBatch& batch, std::size_t maxEvents) override;
    std::uint32_t partitionCount() const override { return 1; }
    std::string describe() const override;
    /// Resumes after line `offset` (re-reads the file from the start; false for standard input).
    bool seek(std::uint32_t partition, std::int64_t offset) override;

    const JsonCodec& codec() const { return m_codec; }

private:
    enum class LineStatus { Line, Oversized, End };
    LineStatus readLine();
    bool open();

    std::string m_path;
    const Clock& m_clock;
    JsonCodec m_codec;
    double m_speedup;
    std::FILE* m_file = nullptr;
    bool m_ownsFile = false;
    std::string m_error;
    std::string m_line;
    std::int64_t m_lineNumber = -1; ///< of the line in m_line
    bool m_eof = false;
    // Pacing: an event decoded but not yet due.
    bool m_hasPending = false;
    ClickEvent m_pending;
    bool m_originSet = false;
    TimeMs m_originEventMs = 0;
    TimeMs m_originClockMs = 0;
};

} // namespace adclick::engine
