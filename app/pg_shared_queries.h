#pragma once

#include "core/click_event.h"
#include "storage/pg_connection.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace adclick::app {

/// The queries of the REST API over the shared PostgreSQL store of a scale-out deployment
/// (PgRestServer): sums of every partition's speed minute rows, the partition checkpoints and the
/// instance list. Statements take their values as parameters only (never SQL built from user
/// text). One connection, opened on first use and reopened after it broke.
/// Not thread-safe: the server's event loop owns it.
class PgSharedQueries {
public:
    /// `sourceKey`: the topic, as the partition checkpoints are keyed.
    PgSharedQueries(std::string conninfo, std::string sourceKey);
    ~PgSharedQueries();
    PgSharedQueries(const PgSharedQueries&) = delete;
    PgSharedQueries& operator=(const PgSharedQueries&) = delete;

    /// The last failure (connection or statement); methods returning false / nullopt set it.
    const std::string& error() const { return m_error; }

    /// An ad id as clients write it: a canonical decimal number below kFirstNamedAdId is itself;
    /// any other text is looked up in the ads table. nullopt: unknown (or the store failed: error()).
    std::optional<engine::AdId> resolveAd(const std::string& text);
    /// The name of a named ad (ids ≥ kFirstNamedAdId), else its number as text.
    std::string adName(engine::AdId ad);

    /// Clicks of `ad` with window start in [fromMs, toMs), summed over every partition's rows.
    /// country/device: nullopt = every one. nullopt on a store failure.
    std::optional<std::uint64_t> count(engine::AdId ad, engine::TimeMs fromMs, engine::TimeMs toMs,
        std::optional<engine::CountryCode> country, std::optional<engine::DeviceClass> device);

    struct AdCount {
        engine::AdId ad = 0;
        std::string name; ///< as clients write it
        std::uint64_t count = 0;
    };
    /// The k ads with the most clicks with window start in [fromMs, toMs), summed over every
    /// partition's rows: exact whatever the keying of the topic. Ties by ad id.
    std::optional<std::vector<AdCount>> topK(engine::TimeMs fromMs, engine::TimeMs toMs, std::uint32_t k);

    struct Partition {
        std::uint32_t partition = 0;
        std::string owner;
        std::int64_t epoch = 0;
        std::int64_t sequence = 0;
        std::int64_t lastOffset = -1;
        engine::TimeMs watermarkMs = engine::kMinTimeMs;
        std::int64_t checkpointWallMs = 0;
        std::int64_t ownerHeartbeatWallMs = 0; ///< 0: the owner has no instance row
        std::uint64_t clicks = 0; ///< sum of this partition's speed minute rows, all time (withClicks)
    };
    /// Every partition of the source with its checkpoint and owner, by partition. withClicks: also
    /// the clicks of each (reads every minute row).
    std::optional<std::vector<Partition>> partitions(bool withClicks);

    struct Instance {
        std::string id;
        std::string host;
        std::int64_t startedWallMs = 0;
        std::int64_t heartbeatWallMs = 0;
        std::string statusJson;
    };
    std::optional<std::vector<Instance>> instances();

    /// How old the shared rows may be, in ms at wallNowMs: now − the oldest of each partition's
    /// freshest sign of its owner (its last checkpoint, or the owner's heartbeat, which follows
    /// every checkpoint round). nullopt: no partition claimed yet or a store failure.
    std::optional<std::int64_t> stalenessMs(std::int64_t wallNowMs);

private:
    engine::PgConnection* connection();
    bool failed(const engine::PgResult& r);

    std::string m_conninfo;
    std::string m_sourceKey;
    std::unique_ptr<engine::PgConnection> m_conn;
    std::string m_error;
};

} // namespace adclick::app
