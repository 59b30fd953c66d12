#pragma once

#include "core/clock.h"
#include "ingest/event_source.h"
#include "ingest/json_codec.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace adclick::engine {

/// Settings of the synthetic click generator. Every random choice derives from `seed` and
/// the event's global sequence number, so the same settings give the same events.
struct GeneratorConfig {
    std::uint64_t seed = 1;
    double ratePerSec = 50000;        ///< events per second of processing time
    std::uint32_t adCount = 100000;   ///< ads 1 … adCount (≤ 10 M)
    double zipfSkew = 1.1;            ///< Zipf exponent s over ad popularity ranks (0 = uniform)
    std::uint32_t userCount = 1000000;
    std::uint32_t partitions = 4;     ///< event n goes to partition n % partitions, offset n / partitions
    TimeMs startTimeMs = 1767225600000LL; ///< processing time of event 0 (2026-01-01) for the virtual clock
    TimeMs jitterMaxMs = 2000;        ///< ordinary out-of-orderness: event time = proc time − U[0, jitterMax]
    double lateFraction = 0.01;       ///< share of events additionally delayed
    TimeMs lateDelayMeanMs = 90000;   ///< exponential delay mean for late events
    TimeMs lateDelayMaxMs = 600000;   ///< cap on the delay
    double duplicateFraction = 0.005; ///< share of records that resend an earlier click (same click id)
    double malformedFraction = 0.001; ///< share of records emitted as bad bytes through the codec
    double ipv6Fraction = 0.2;
    bool clickIds = true;             ///< attach a click_id to every event (needed for de-duplication)
    // Hot-ad burst: during [burstStartMs, burstStartMs + burstDurationMs) of processing time
    // (relative to startTimeMs), burstShare of the events go to burstAdId.
    std::uint32_t burstAdId = 0;      ///< 0 = no burst
    TimeMs burstStartMs = 0;
    TimeMs burstDurationMs = 0;
    double burstShare = 0.3;
};

/// Deterministic synthetic click source (seeded; resumable at any sequence number).
/// Virtual clock: events are produced as fast as poll() is called and the batch's
/// processingTimeMs is startTimeMs + n / rate. Real clock: paced to ratePerSec of wall time.
/// Accepted events are produced directly as ClickEvent (fast path); malformed records are
/// produced as bytes and go through the JsonCodec like any other input. Not thread-safe.
class SyntheticSource final : public EventSource {
public:
    SyntheticSource(GeneratorConfig config, const Clock& clock, AdDictionary& ads, UserAgentDictionary& userAgents);
    ~SyntheticSource() override;

    PollResult poll(IngestBatch& batch, std::size_t maxEvents) override;
    std::uint32_t partitionCount() const override;
    std::string describe() const override;
    /// Seeks so that `partition` continues after `offset`. When several partitions are
    /// sought between two polls, the generator resumes at the smallest implied sequence.
    bool seek(std::uint32_t partition, std::int64_t offset) override;

    /// Next global sequence number to be produced.
    std::uint64_t nextSequence() const;
    void seekSequence(std::uint64_t sequence);
    /// Stop after this many records (accepted + rejected); EndOfStream afterwards. 0 = unbounded.
    void setLimit(std::uint64_t maxRecords);

    /// Processing time (epoch ms) at which record `sequence` is produced.
    TimeMs processingTimeOf(std::uint64_t sequence) const;
    /// The record `sequence` in its external text form (what `adclick produce` sends).
    /// For a malformed record, `malformedBytes` receives the bad bytes and false is returned.
    /// Decoding encode(recordText) yields exactly the event the fast path produces.
    bool recordText(std::uint64_t sequence, ClickRecordText& out, std::string& malformedBytes) const;

    const GeneratorConfig& config() const;
    /// Live changes (dashboard knobs): apply from the next poll; determinism is only
    /// guaranteed for runs without live changes.
    void setConfig(const GeneratorConfig& config);

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace adclick::engine
