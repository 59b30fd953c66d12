#include "core/ad_dictionary.h"
#include "ingest/user_agent.h"
#include "storage/raw_log.h"
#include "storage/raw_log_format.h"
#include "storage/raw_log_recovery.h"
#include "storage/raw_segment_scanner.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_set>

namespace adclick::engine {

using namespace rawlog;

namespace {

/// pwrite until done; false with errno on failure (a short write followed by an error included).
bool writeAllAt(int fd, const std::uint8_t* data, std::size_t n, std::uint64_t offset, int& err)
{
    while (n > 0) {
        const ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(offset));
        if (w < 0) {
            if (errno == EINTR)
                continue;
            err = errno;
            return false;
        }
        data += w;
        n -= static_cast<std::size_t>(w);
        offset += static_cast<std::uint64_t>(w);
    }
    return true;
}

} // namespace

struct RawLogWriter::Impl {
    struct Seal {
        std::shared_ptr<FileHandle> file;
        std::string fileName;
        std::array<std::uint8_t, kSegmentHeaderBytes> header {};
    };

    Impl(RawLogWriter& owner, const RawLogConfig& config, const UserAgentDictionary& uas, const AdDictionary& ads)
        : owner(owner)
        , config(config)
        , userAgents(uas)
        , ads(ads)
        , blockLimit(std::clamp<std::uint32_t>(config.blockRecords, 1, kMaxBlockRecords))
        , records(static_cast<std::size_t>(blockLimit) * kMaxRecordBytes)
    {
    }

    RawLogWriter& owner;
    RawLogConfig config;
    const UserAgentDictionary& userAgents;
    const AdDictionary& ads;
    std::uint32_t blockLimit;

    // The current segment. Its file is created on the first flush after it begins.
    std::uint64_t segmentId = 0;
    std::string fileName;
    std::shared_ptr<FileHandle> file;
    bool directorySynced = false;
    bool fileInCut = false; ///< file is already in cutFiles
    std::uint64_t segFirstSequence = 0;
    std::uint64_t segRecords = 0; ///< in closed blocks
    std::uint64_t segBytes = 0; ///< header + closed blocks (written or pending)
    TimeMs segMinMs = 0;
    TimeMs segMaxMs = 0;
    bool segStarted = false; ///< segStartMs holds the processing time of its first append
    TimeMs segStartMs = 0;
    std::uint64_t writtenBytes = 0; ///< of this segment, in the file
    std::vector<std::uint8_t> pending; ///< closed, unwritten bytes following writtenBytes

    // Strings already defined in this segment.
    std::array<std::uint64_t, 65536 / 64> uaSeen {};
    std::vector<std::uint64_t> adSeen;
    std::unordered_set<AdId> adSeenBeyond;

    // The open block.
    std::vector<std::uint8_t> records;
    std::uint8_t* cursor = nullptr;
    std::uint32_t blockCount = 0;
    std::uint64_t blockFirstSequence = 0;
    TimeMs blockMinMs = 0;
    TimeMs blockMaxMs = 0;
    RecordContext ctx;
    std::vector<std::uint8_t> uaDict;
    std::uint32_t uaDictCount = 0;
    std::vector<std::uint8_t> adDict;
    std::uint32_t adDictCount = 0;
    std::vector<std::uint8_t> dict;

    std::uint64_t nextSequence = 0;
    std::vector<Seal> seals; ///< headers of rolled segments still to be written
    std::vector<std::shared_ptr<FileHandle>> cutFiles;
    bool failed = false; ///< an I/O error is outstanding: the next append/cut retries first
    bool rollWanted = false;
    bool closed = false;

    std::string pathOf(std::uint64_t id) const { return config.directory + "/" + segmentFileName(id); }

    void fail(const char* what, const std::string& name, int err)
    {
        owner.m_error = std::string("raw log ") + what + " " + name + ": " + systemErrorText(err);
        failed = true;
    }

    void beginSegment(std::uint64_t id, std::uint64_t firstSequence)
    {
        segmentId = id;
        fileName = segmentFileName(id);
        file.reset();
        directorySynced = false;
        fileInCut = false;
        segFirstSequence = firstSequence;
        segRecords = 0;
        segMinMs = segMaxMs = 0;
        segStarted = false;
        uaSeen.fill(0);
        adSeen.clear();
        adSeenBeyond.clear();
        SegmentHeader h;
        h.segmentId = id;
        h.firstSequence = firstSequence;
        pending.resize(kSegmentHeaderBytes);
        encodeSegmentHeader(h, pending.data());
        writtenBytes = 0;
        segBytes = kSegmentHeaderBytes;
    }

    SegmentHeader sealedHeader() const
    {
        SegmentHeader h;
        h.segmentId = segmentId;
        h.firstSequence = segFirstSequence;
        h.records = segRecords;
        h.minEventTimeMs = segMinMs;
        h.maxEventTimeMs = segMaxMs;
        h.dataEndBytes = segBytes;
        h.sealed = true;
        return h;
    }

    void addToCut(const std::shared_ptr<FileHandle>& f)
    {
        if (std::find(cutFiles.begin(), cutFiles.end(), f) == cutFiles.end())
            cutFiles.push_back(f);
    }

    /// Creates the segment file if needed, writes the pending bytes at the tracked offset, then the
    /// headers of rolled segments. On failure the bytes stay pending and any partial write is cut
    /// off again, so a retry rewrites the same bytes at the same offset.
    bool flush()
    {
        if (!file) {
            const std::string path = pathOf(segmentId);
            const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (fd < 0) {
                fail("create", fileName, errno);
                return false;
            }
            file = std::make_shared<FileHandle>(fd, path);
        }
        if (!directorySynced) {
            std::string error;
            if (!syncDirectory(config.directory, error)) {
                owner.m_error = "raw log " + error;
                failed = true;
                return false;
            }
            directorySynced = true;
        }
        if (!pending.empty()) {
            int err = 0;
            if (!writeAllAt(file->fd(), pending.data(), pending.size(), writtenBytes, err)) {
                // Leave no partial block behind (best effort: the checksum guards it anyway).
                (void)!::ftruncate(file->fd(), static_cast<off_t>(writtenBytes));
                fail("write", fileName, err);
                return false;
            }
            writtenBytes += pending.size();
            owner.m_bytesWritten += pending.size();
            pending.clear();
            if (!fileInCut) {
                addToCut(file);
                fileInCut = true;
            }
        }
        while (!seals.empty()) {
            const Seal& s = seals.front();
            int err = 0;
            if (!writeAllAt(s.file->fd(), s.header.data(), s.header.size(), 0, err)) {
                fail("seal", s.fileName, err);
                return false;
            }
            addToCut(s.file);
            seals.erase(seals.begin());
        }
        return true;
    }

    /// Starts the next segment (the open block must be closed and everything flushed). Segments
    /// roll when the block after the one that filled them starts, so none is left empty.
    void roll()
    {
        Seal s;
        s.file = file;
        s.fileName = fileName;
        encodeSegmentHeader(sealedHeader(), s.header.data());
        seals.push_back(std::move(s));
        beginSegment(segmentId + 1, nextSequence);
        rollWanted = false;
    }

    void startBlock()
    {
        blockFirstSequence = nextSequence;
        blockMinMs = INT64_MAX;
        blockMaxMs = INT64_MIN;
        ctx.reset();
        cursor = records.data();
        uaDict.clear();
        uaDictCount = 0;
        adDict.clear();
        adDictCount = 0;
    }

    void defineUserAgent(std::uint16_t uaId)
    {
        const std::string_view name = userAgents.name(uaId);
        std::array<std::uint8_t, 20> tmp;
        std::uint8_t* p = putVarint(tmp.data(), uaId);
        p = putVarint(p, name.size());
        uaDict.insert(uaDict.end(), tmp.data(), p);
        uaDict.insert(uaDict.end(), name.begin(), name.end());
        ++uaDictCount;
    }

    void noteNamedAd(AdId adId)
    {
        const std::uint32_t index = adId - kFirstNamedAdId;
        if (index >= StringDictionary::kMaxEntries) { // no dictionary hands out such an id: no bitset for it
            if (!adSeenBeyond.insert(adId).second)
                return;
            defineAd(adId, index);
            return;
        }
        if ((index >> 6) >= adSeen.size())
            adSeen.resize((index >> 6) + 1, 0);
        std::uint64_t& word = adSeen[index >> 6];
        const std::uint64_t bit = 1ull << (index & 63);
        if (word & bit)
            return;
        word |= bit;
        defineAd(adId, index);
    }

    void defineAd(AdId adId, std::uint32_t index)
    {
        const std::string name = ads.format(adId);
        std::array<std::uint8_t, 20> tmp;
        std::uint8_t* p = putVarint(tmp.data(), index);
        p = putVarint(p, name.size());
        adDict.insert(adDict.end(), tmp.data(), p);
        adDict.insert(adDict.end(), name.begin(), name.end());
        ++adDictCount;
    }

    /// Moves the open block (if any) to the pending bytes.
    void closeBlock()
    {
        if (blockCount == 0)
            return;
        std::array<std::uint8_t, 10> tmp;
        dict.clear();
        dict.insert(dict.end(), tmp.data(), putVarint(tmp.data(), uaDictCount));
        dict.insert(dict.end(), uaDict.begin(), uaDict.end());
        dict.insert(dict.end(), tmp.data(), putVarint(tmp.data(), adDictCount));
        dict.insert(dict.end(), adDict.begin(), adDict.end());
        const auto recordBytes = static_cast<std::size_t>(cursor - records.data());
        BlockHeader h;
        h.payloadBytes = static_cast<std::uint32_t>(dict.size() + recordBytes);
        h.dictBytes = static_cast<std::uint32_t>(dict.size());
        h.records = blockCount;
        h.firstSequence = blockFirstSequence;
        h.minEventTimeMs = blockMinMs;
        h.maxEventTimeMs = blockMaxMs;
        h.dictCrc = crc32c(0, dict.data(), dict.size());
        h.payloadCrc = crc32c(h.dictCrc, records.data(), recordBytes);
        h.flags = kBlockArrivalWatermark;
        const std::size_t at = pending.size();
        pending.resize(at + kBlockHeaderBytes + h.payloadBytes);
        encodeBlockHeader(h, pending.data() + at);
        std::memcpy(pending.data() + at + kBlockHeaderBytes, dict.data(), dict.size());
        std::memcpy(pending.data() + at + kBlockHeaderBytes + dict.size(), records.data(), recordBytes);
        segMinMs = segRecords == 0 ? blockMinMs : std::min(segMinMs, blockMinMs);
        segMaxMs = segRecords == 0 ? blockMaxMs : std::max(segMaxMs, blockMaxMs);
        segRecords += blockCount;
        segBytes += kBlockHeaderBytes + h.payloadBytes;
        blockCount = 0;
        if (segBytes >= config.segmentMaxBytes)
            rollWanted = true;
    }

    bool retryOutstanding()
    {
        if (!failed)
            return true;
        if (!flush())
            return false;
        failed = false;
        return true;
    }

    bool ageRollDue(TimeMs processingTimeMs) const
    {
        return config.segmentMaxAgeMs > 0 && segStarted && (segRecords > 0 || blockCount > 0)
            && processingTimeMs - segStartMs >= config.segmentMaxAgeMs;
    }

    bool append(const ClickEvent* events, std::size_t n, TimeMs processingTimeMs, const TimeMs* watermarks);
};

bool RawLogWriter::Impl::append(
    const ClickEvent* events, std::size_t n, TimeMs processingTimeMs, const TimeMs* watermarks)
{
    if (closed) {
        owner.m_error = "raw log writer is closed";
        return false;
    }
    // Nothing of this call is taken until earlier bytes are safely written and a due roll is done,
    // so a false return always means "not logged".
    if (!retryOutstanding())
        return false;
    if (ageRollDue(processingTimeMs)) {
        closeBlock();
        rollWanted = true;
        if (!flush())
            return false;
    }
    const std::uint64_t firstSequence = nextSequence;
    for (std::size_t i = 0; i < n; ++i) {
        const ClickEvent& e = events[i];
        if (blockCount == 0) {
            // Without an outstanding error everything before this block is written (pending is
            // empty), which roll() needs; with one, the segment grows until the retry succeeds.
            if (rollWanted && !failed) {
                roll();
                flush(); // a failure is reported by the next append/cut, like a block write's
            }
            if (!segStarted) {
                segStarted = true;
                segStartMs = processingTimeMs;
            }
            startBlock();
        }
        std::uint64_t& word = uaSeen[e.uaId >> 6];
        const std::uint64_t bit = 1ull << (e.uaId & 63);
        if (!(word & bit)) [[unlikely]] {
            word |= bit;
            defineUserAgent(e.uaId);
        }
        if (e.adId >= kFirstNamedAdId) [[unlikely]]
            noteNamedAd(e.adId);
        cursor = encodeRecord(cursor, e, ctx);
        cursor = encodeArrivalWatermark(cursor, watermarks ? watermarks[i] : kMinTimeMs, ctx);
        blockMinMs = std::min(blockMinMs, e.eventTimeMs);
        blockMaxMs = std::max(blockMaxMs, e.eventTimeMs);
        ++nextSequence;
        if (++blockCount == blockLimit || uaDict.size() + adDict.size() >= kSoftMaxDictionaryBytes) {
            closeBlock();
            // A write error from here on is reported by the next append/cut: these events are
            // taken (in memory) and will be written by the retry.
            if (!failed)
                flush();
        }
    }
    owner.m_recordsWritten += nextSequence - firstSequence;
    return true;
}

std::unique_ptr<RawLogWriter> RawLogWriter::open(const RawLogConfig& config, const RawLogPosition* recoverTo,
    const UserAgentDictionary& userAgents, const AdDictionary& ads, std::string& error)
{
    std::error_code ec;
    std::filesystem::create_directories(config.directory, ec);
    if (ec) {
        error = "cannot create raw log directory " + config.directory + ": " + ec.message();
        return nullptr;
    }
    std::string listError;
    std::vector<SegmentFile> files = listSegmentFiles(config.directory, &listError);
    if (!listError.empty()) {
        error = listError;
        return nullptr;
    }
    std::unique_ptr<RawLogWriter> w(new RawLogWriter());
    w->m_impl = std::make_unique<Impl>(*w, config, userAgents, ads);
    RecoveredLog recovered;
    if (!recoverRawLog(config.directory, files, recoverTo, recovered, w->m_damage, error))
        return nullptr;
    Impl& impl = *w->m_impl;
    impl.nextSequence = recovered.nextSequence;
    impl.beginSegment(recovered.lastSegmentId + 1, recovered.nextSequence);
    if (!impl.flush()) {
        error = w->m_error;
        return nullptr;
    }
    return w;
}

RawLogWriter::~RawLogWriter()
{
    // Best effort without fsync: write what is buffered and seal, so a clean exit leaves sealed
    // segments. Durability is cut()/close()'s business.
    if (m_impl && !m_impl->closed) {
        m_impl->closeBlock();
        if (m_impl->flush()) {
            std::array<std::uint8_t, kSegmentHeaderBytes> h {};
            encodeSegmentHeader(m_impl->sealedHeader(), h.data());
            int err = 0;
            (void)writeAllAt(m_impl->file->fd(), h.data(), h.size(), 0, err);
        }
    }
}

bool RawLogWriter::append(
    const ClickEvent* events, std::size_t n, TimeMs processingTimeMs, const TimeMs* watermarksAtArrivalMs)
{
    return m_impl->append(events, n, processingTimeMs, watermarksAtArrivalMs);
}

bool RawLogWriter::cut(Cut& out)
{
    Impl& impl = *m_impl;
    if (impl.closed) {
        m_error = "raw log writer is closed";
        return false;
    }
    impl.closeBlock();
    if (!impl.flush())
        return false;
    impl.failed = false;
    out.end = position();
    out.files = std::move(impl.cutFiles);
    impl.cutFiles.clear();
    impl.fileInCut = false;
    return true;
}

bool RawLogWriter::close()
{
    Impl& impl = *m_impl;
    if (impl.closed)
        return true;
    impl.closeBlock();
    if (!impl.flush())
        return false;
    impl.failed = false;
    std::array<std::uint8_t, kSegmentHeaderBytes> h {};
    encodeSegmentHeader(impl.sealedHeader(), h.data());
    int err = 0;
    if (!writeAllAt(impl.file->fd(), h.data(), h.size(), 0, err)) {
        impl.fail("seal", impl.fileName, err);
        return false;
    }
    impl.addToCut(impl.file);
    for (const auto& f : impl.cutFiles)
        if (!f->sync(m_error))
            return false;
    impl.cutFiles.clear();
    impl.fileInCut = false;
    impl.closed = true;
    return true;
}

RawLogPosition RawLogWriter::position() const
{
    return { m_impl->segmentId, m_impl->segBytes, m_impl->nextSequence };
}

bool RawLogWriter::Cut::sync(std::string& error) const
{
    for (const auto& f : files)
        if (f && !f->sync(error))
            return false;
    return true;
}

} // namespace adclick::engine
