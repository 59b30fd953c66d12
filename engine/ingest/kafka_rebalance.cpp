#include "ingest/kafka_source_impl.h"

namespace adclick::engine {

void KafkaSource::Impl::onRebalance(
    rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts, void* opaque)
{
    auto& d = *static_cast<Impl*>(opaque);
    const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    ++d.health.rebalances;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        d.assign(parts, cooperative);
    else
        d.revoke(parts, cooperative);
}

/// Commits the positions of partitions released in a rebalance whose commit the group refused.
void KafkaSource::Impl::retryHandOver()
{
    if (pendingHandOver.empty() || !consumer)
        return;
    KafkaPartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(pendingHandOver.size())));
    for (const auto& [p, offset] : pendingHandOver)
        rd_kafka_topic_partition_list_add(list.get(), config.topic.c_str(), static_cast<int32_t>(p))->offset
            = offset;
    const rd_kafka_resp_err_t e = rd_kafka_commit(consumer.get(), list.get(), 0);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR || ++handOverAttempts > kMaxHandOverAttempts) {
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            lastError = std::string("hand-over commit failed: ") + rd_kafka_err2str(e);
        pendingHandOver.clear();
        handOverAttempts = 0;
    }
}

/// The group's committed offsets of `parts` (−1 where none); read twice, a moment apart, when a
/// partition has no position of ours: the member that released it may still be committing.
std::vector<std::int64_t> KafkaSource::Impl::committedOffsets(const rd_kafka_topic_partition_list_t* parts)
{
    std::vector<std::int64_t> out(static_cast<std::size_t>(parts->cnt), kNoOffset);
    bool needsHandOver = false;
    for (int i = 0; i < parts->cnt; ++i) {
        const auto p = static_cast<std::uint32_t>(parts->elems[i].partition);
        needsHandOver = needsHandOver || p >= next.size() || next[p] < 0;
    }
    // Given every partition, no member is handing any over to us right now (a member that
    // leaves commits before it leaves): no need to wait for a late hand-over commit.
    if (parts->cnt >= static_cast<int>(next.size()))
        needsHandOver = false;
    for (int round = 0; round < (needsHandOver ? 2 : 1); ++round) {
        if (round > 0)
            std::this_thread::sleep_for(std::chrono::milliseconds(kHandOverWaitMs));
        KafkaPartitionList committed(rd_kafka_topic_partition_list_copy(parts));
        if (rd_kafka_committed(consumer.get(), committed.get(), kCommittedLookupMs) != RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        for (int i = 0; i < parts->cnt; ++i)
            if (committed->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR && committed->elems[i].offset >= 0)
                out[static_cast<std::size_t>(i)]
                    = std::max(out[static_cast<std::size_t>(i)], committed->elems[i].offset);
    }
    return out;
}

void KafkaSource::Impl::assign(rd_kafka_topic_partition_list_t* parts, bool cooperative)
{
    retryHandOver(); // the group is up again: what we released last time goes to the next owner now
    if (assignHook) { // the app restores these partitions and seeks them (seek() below sets next[p])
        std::vector<std::uint32_t> added;
        for (int i = 0; i < parts->cnt; ++i) {
            grow(static_cast<std::uint32_t>(parts->elems[i].partition) + 1);
            added.push_back(static_cast<std::uint32_t>(parts->elems[i].partition));
        }
        assignHook(added);
    }
    // What the group holds: another member's hand-over (or our own earlier commit).
    const std::vector<std::int64_t> committed = committedOffsets(parts);
    for (int i = 0; i < parts->cnt; ++i) {
        auto& tp = parts->elems[i];
        const auto p = static_cast<std::uint32_t>(tp.partition);
        grow(p + 1);
        const std::int64_t start = std::max(next[p], committed[static_cast<std::size_t>(i)]);
        tp.offset = start >= 0 ? start : (config.startLatest ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING);
        next[p] = start;
        assignStart[p] = start;
        if (!assigned[p])
            ++assignedCount;
        assigned[p] = true;
        atEnd[p] = false;
    }
    rd_kafka_error_t* e = nullptr;
    if (cooperative)
        e = rd_kafka_incremental_assign(consumer.get(), parts);
    else
        (void)rd_kafka_assign(consumer.get(), parts);
    if (e) {
        lastError = std::string("assign failed: ") + rd_kafka_error_string(e);
        rd_kafka_error_destroy(e);
    }
}

void KafkaSource::Impl::revoke(rd_kafka_topic_partition_list_t* parts, bool cooperative)
{
    // Everything handed out so far becomes durable before anyone else may read on.
    // (Also when the assignment was lost: our own checkpoint is always safe to take; only the
    // hand-over commit below is skipped, since another member may own the partitions already.)
    if (revokeHook)
        revokeHook();
    KafkaPartitionList positions(rd_kafka_topic_partition_list_new(parts->cnt));
    for (int i = 0; i < parts->cnt; ++i) {
        const auto p = static_cast<std::uint32_t>(parts->elems[i].partition);
        if (p < next.size() && next[p] >= 0)
            rd_kafka_topic_partition_list_add(positions.get(), config.topic.c_str(), static_cast<int32_t>(p))
                ->offset
                = next[p];
    }
    if (handOver && positions->cnt > 0 && !rd_kafka_assignment_lost(consumer.get())) {
        // A real Kafka takes this commit while the group prepares the rebalance; librdkafka's mock
        // refuses it (REBALANCE_IN_PROGRESS): it is retried in our next assignment callback, when
        // the group is up again, and the new owner reads the group's offsets twice, a second apart.
        if (rd_kafka_commit(consumer.get(), positions.get(), 0) != RD_KAFKA_RESP_ERR_NO_ERROR)
            for (int i = 0; i < positions->cnt; ++i)
                pendingHandOver.emplace_back(
                    static_cast<std::uint32_t>(positions->elems[i].partition), positions->elems[i].offset);
    }
    for (int i = 0; i < parts->cnt; ++i) {
        const auto p = static_cast<std::uint32_t>(parts->elems[i].partition);
        if (p < assigned.size() && assigned[p]) {
            assigned[p] = false;
            --assignedCount;
        }
    }
    if (cooperative) {
        if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(consumer.get(), parts))
            rd_kafka_error_destroy(e);
    } else {
        (void)rd_kafka_assign(consumer.get(), nullptr);
        std::fill(assigned.begin(), assigned.end(), false);
        assignedCount = 0;
    }
}

} // namespace adclick::engine
