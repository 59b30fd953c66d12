#include "ingest/synthetic_source.h"

#include "ingest/generator_model.h"
#include "ingest/user_hash_cache.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstring>
#include <string_view>
#include <thread>

// The source around the GeneratorModel (how a record is made, see generator_model.h): position,
// origin of processing time, pacing to the clock, the user-hash cache, and malformed records
// through the JsonCodec.

namespace adclick::engine {

namespace {

constexpr std::size_t kMaxQuarantineBytes = 4096;
constexpr std::uint32_t kMaxCachedUsers = 2'000'000; // 16 MB of user hashes at most
constexpr std::size_t kProduceChunk = 64; // records planned ahead of their user-hash lookup
constexpr TimeMs kMaxIdleSleepMs = 20;

std::string formatNumber(double v)
{
    std::array<char, 32> buf;
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    return std::string(buf.data(), end);
}

} // namespace

struct SyntheticSource::Impl {
    GeneratorModel model; // first member (at the Impl's address): the produce loop calls into it per record
    const Clock& clock;
    JsonCodec codec;
    UserHashCache userHashes;

    // Position and origin.
    std::uint64_t next = 0;
    std::uint64_t limit = 0;
    bool soughtSincePoll = false;
    mutable bool originFixed = false; ///< model.zeroMs is anchored

    Impl(GeneratorConfig c, const Clock& clk, AdDictionary& ads, UserAgentDictionary& userAgents)
        : model(userAgents)
        , clock(clk)
        , codec(ads, userAgents)
    {
        apply(c);
        if (clock.isVirtual()) {
            model.zeroMs = model.config.startTimeMs;
            originFixed = true;
        }
    }

    void apply(const GeneratorConfig& c)
    {
        const double oldRate = model.ratePerSec;
        model.apply(c);
        if (originFixed && oldRate != model.ratePerSec) {
            // Keep the processing time of the next record where it was.
            const TimeMs nextMs = model.zeroMs + GeneratorModel::offsetMsOf(next, oldRate);
            model.zeroMs = nextMs - GeneratorModel::offsetMsOf(next, model.ratePerSec);
        }
        // Hashes of "u<k>" do not depend on the seed: the cache only changes with its size.
        const std::size_t cached = std::size_t { std::min(model.userCount, kMaxCachedUsers) } + 1;
        if (userHashes.size() != cached)
            userHashes.reset(cached);
    }

    // Real clock: the first poll (or text request) anchors the next record at the wall time.
    void fixOrigin() const
    {
        if (originFixed)
            return;
        model.zeroMs = clock.nowMs() - model.offsetMsOf(next);
        originFixed = true;
    }

    // ---- producing ----------------------------------------------------------------------------

    // Records are made in chunks: the first pass draws each record's kind and content and
    // prefetches its user's cached hash, the second builds the events, by then without waiting
    // on memory.
    void produce(IngestBatch& batch, std::uint64_t first, std::uint64_t count)
    {
        batch.events.reserve(batch.events.size() + count);
        // Positions advance incrementally: no division per event.
        SourcePosition position { static_cast<std::int64_t>(first / model.partitions),
            static_cast<std::uint32_t>(first % model.partitions) };
        std::array<GeneratorModel::Content, kProduceChunk> contents;
        std::array<std::uint64_t, kProduceChunk> hashes;
        std::array<bool, kProduceChunk> malformed;
        const std::uint64_t end = first + count;
        for (std::uint64_t base = first; base < end; base += kProduceChunk) {
            const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(kProduceChunk, end - base));
            for (std::size_t i = 0; i < k; ++i) {
                const std::uint64_t n = base + i;
                const std::uint64_t h = model.recordHash(n);
                std::uint64_t origin = n;
                hashes[i] = h;
                malformed[i] = model.kindOf(n, h, origin) == GeneratorModel::Kind::Malformed;
                if (malformed[i])
                    continue;
                contents[i] = origin == n ? model.contentOf(n, h) : model.contentOf(origin);
                if (contents[i].user < userHashes.size())
                    __builtin_prefetch(userHashes.slot(contents[i].user));
            }
            for (std::size_t i = 0; i < k; ++i, advance(position)) {
                if (malformed[i]) {
                    rejectMalformed(batch, base + i, hashes[i], position);
                    continue;
                }
                // Built in place (a local copied in would stall on store forwarding); zeroed
                // first so that the padding is too and runs compare byte for byte.
                ClickEvent& e = batch.events.emplace_back();
                std::memset(static_cast<void*>(&e), 0, sizeof e);
                const GeneratorModel::Content& c = contents[i];
                model.fillEvent(e, c, model.attributesOf(c.user), userHash(c.user));
                e.setPosition(position);
            }
        }
    }

    std::uint64_t userHash(std::uint32_t user)
    {
        if (user >= userHashes.size())
            return GeneratorModel::computeUserHash(user);
        std::uint64_t& cached = *userHashes.slot(user);
        if (cached == 0)
            cached = GeneratorModel::computeUserHash(user); // a hash of 0 is recomputed each time: harmless
        return cached;
    }

    void advance(SourcePosition& p) const
    {
        if (++p.partition == model.partitions) {
            p.partition = 0;
            ++p.offset;
        }
    }

    void rejectMalformed(IngestBatch& batch, std::uint64_t n, std::uint64_t h, SourcePosition position)
    {
        std::string bytes = model.malformedBytes(n, h, codec.limits().maxMessageBytes);
        ClickEvent decoded;
        RejectReason reason = RejectReason::NotJson;
        if (codec.decode(bytes, decoded, reason) == JsonCodec::Status::Rejected) {
            if (bytes.size() > kMaxQuarantineBytes)
                bytes.resize(kMaxQuarantineBytes);
            batch.rejected.push_back(RejectedRecord { reason, position, std::move(bytes) });
            return;
        }
        // Not reachable with the kinds above; if a codec change ever accepts one, keep it as an
        // event rather than dropping it.
        decoded.setPosition(position);
        batch.events.push_back(decoded);
    }
};

SyntheticSource::SyntheticSource(
    GeneratorConfig config, const Clock& clock, AdDictionary& ads, UserAgentDictionary& userAgents)
    : m_impl(std::make_unique<Impl>(std::move(config), clock, ads, userAgents))
{
}

SyntheticSource::~SyntheticSource() = default;

PollResult SyntheticSource::poll(IngestBatch& batch, std::size_t maxEvents)
{
    Impl& d = *m_impl;
    d.soughtSincePoll = false;
    d.fixOrigin();
    if (d.limit != 0 && d.next >= d.limit) {
        batch.processingTimeMs = std::max(batch.processingTimeMs, processingTimeOf(d.limit - 1));
        return PollResult::EndOfStream;
    }
    std::uint64_t count = maxEvents;
    if (d.limit != 0)
        count = std::min(count, d.limit - d.next);
    if (!d.clock.isVirtual()) {
        const TimeMs now = d.clock.nowMs();
        const std::uint64_t dueEnd = d.model.firstSequenceAfter(now - d.model.zeroMs);
        count = std::min(count, dueEnd > d.next ? dueEnd - d.next : 0);
        if (count == 0) {
            if (maxEvents > 0) {
                const TimeMs waitMs = std::clamp<TimeMs>(processingTimeOf(d.next) - now, 1, kMaxIdleSleepMs);
                std::this_thread::sleep_for(std::chrono::milliseconds(waitMs));
            }
            batch.processingTimeMs = std::max(batch.processingTimeMs, d.clock.nowMs());
            return PollResult::Idle;
        }
    }
    if (count == 0)
        return PollResult::Idle;
    d.produce(batch, d.next, count);
    d.next += count;
    batch.processingTimeMs = std::max(batch.processingTimeMs, processingTimeOf(d.next - 1));
    return d.limit != 0 && d.next >= d.limit ? PollResult::EndOfStream : PollResult::Events;
}

std::uint32_t SyntheticSource::partitionCount() const
{
    return m_impl->model.partitions;
}

std::string SyntheticSource::describe() const
{
    const GeneratorModel& m = m_impl->model;
    const GeneratorConfig& c = m.config;
    std::string s = "generator seed=" + std::to_string(c.seed) + " rate=" + formatNumber(m.ratePerSec)
        + "/s ads=" + std::to_string(m.adCount) + " zipf=" + formatNumber(c.zipfSkew)
        + " users=" + std::to_string(m.userCount) + " partitions=" + std::to_string(m.partitions);
    if (m.burstAd)
        s += " burst=ad " + std::to_string(*m.burstAd);
    if (m_impl->limit != 0)
        s += " limit=" + std::to_string(m_impl->limit);
    return s;
}

bool SyntheticSource::seek(std::uint32_t partition, std::int64_t offset)
{
    Impl& d = *m_impl;
    if (partition >= d.model.partitions || offset < -1)
        return false;
    // The record after `offset` in `partition` is sequence (offset + 1)·P + partition.
    const std::uint64_t implied = static_cast<std::uint64_t>(offset + 1) * d.model.partitions + partition;
    d.next = d.soughtSincePoll ? std::min(d.next, implied) : implied;
    d.soughtSincePoll = true;
    if (!d.clock.isVirtual())
        d.originFixed = false;
    return true;
}

std::uint64_t SyntheticSource::nextSequence() const
{
    return m_impl->next;
}

void SyntheticSource::seekSequence(std::uint64_t sequence)
{
    m_impl->next = sequence;
    m_impl->soughtSincePoll = false;
    if (!m_impl->clock.isVirtual())
        m_impl->originFixed = false;
}

void SyntheticSource::setLimit(std::uint64_t maxRecords)
{
    m_impl->limit = maxRecords;
}

TimeMs SyntheticSource::processingTimeOf(std::uint64_t sequence) const
{
    m_impl->fixOrigin();
    return m_impl->model.zeroMs + m_impl->model.offsetMsOf(sequence);
}

bool SyntheticSource::recordText(std::uint64_t sequence, ClickRecordText& out, std::string& malformedBytes) const
{
    const Impl& d = *m_impl;
    d.fixOrigin();
    const GeneratorModel& m = d.model;
    const std::uint64_t h = m.recordHash(sequence);
    std::uint64_t origin = sequence;
    if (m.kindOf(sequence, h, origin) == GeneratorModel::Kind::Malformed) {
        malformedBytes = m.malformedBytes(sequence, h, d.codec.limits().maxMessageBytes);
        return false;
    }
    const GeneratorModel::Content c = m.contentOf(origin);
    m.fillText(out, c, m.attributesOf(c.user));
    return true;
}

const GeneratorConfig& SyntheticSource::config() const
{
    return m_impl->model.config;
}

void SyntheticSource::setConfig(const GeneratorConfig& config)
{
    m_impl->apply(config);
    if (m_impl->clock.isVirtual() && !m_impl->originFixed) {
        m_impl->model.zeroMs = config.startTimeMs;
        m_impl->originFixed = true;
    }
}

} // namespace adclick::engine
