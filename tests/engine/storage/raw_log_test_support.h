#pragma once

// Shared by the raw click log tests: event streams, readers, writers and file surgery.

#include "core/ad_dictionary.h"
#include "core/clock.h"
#include "ingest/synthetic_source.h"
#include "ingest/user_agent.h"
#include "storage/raw_log.h"
#include "storage/raw_log_format.h"

#include <QTemporaryDir>
#include <QtTest>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sys/resource.h>
#include <system_error>
#include <thread>
#include <unistd.h>

namespace adclick::test {

using namespace adclick::engine;
namespace fs = std::filesystem;

constexpr TimeMs kStartMs = 1795845600000LL; // 2026-11-28T06:00:00Z

struct Dicts {
    UserAgentDictionary uas;
    AdDictionary ads;
    std::vector<std::uint16_t> uaIds;
    std::vector<AdId> namedAds;

    Dicts()
    {
        for (int i = 0; i < 400; ++i)
            uaIds.push_back(
                uas.intern("Mozilla/5.0 (test agent " + std::to_string(i) + ") " + std::string(i % 97, 'x')));
        uaIds.push_back(uas.intern(""));
        for (int i = 0; i < 60; ++i)
            namedAds.push_back(*ads.intern("campaign-" + std::to_string(i) + "-ü"));
    }
};

struct StreamSpec {
    std::size_t events = 10000;
    std::uint64_t seed = 1;
    TimeMs stepMs = 20;
    TimeMs jitterMs = 3000;
    bool oddValues = true; ///< extreme times, escaped flag/device bytes, huge partitions, zero click ids
    std::size_t variety = 0; ///< > 0: only this many user agents / named ads, all used by the first records
};

std::vector<ClickEvent> makeEvents(Dicts& d, const StreamSpec& spec)
{
    std::mt19937_64 rng(spec.seed);
    std::vector<ClickEvent> out(spec.events);
    std::vector<std::int64_t> offsets(5, 1000);
    for (std::size_t i = 0; i < spec.events; ++i) {
        ClickEvent& e = out[i];
        e.eventTimeMs
            = kStartMs + static_cast<TimeMs>(i) * spec.stepMs - static_cast<TimeMs>(rng() % (spec.jitterMs + 1));
        e.userHash = rng();
        e.clickId = (rng() % 10 == 0 && spec.oddValues) ? 0 : rng() | 1;
        const auto p = static_cast<std::uint32_t>(rng() % 5);
        e.partition = p == 4 && spec.oddValues ? (rng() % 2 ? 100u : 0xFFFFFFFFu) : p;
        e.offset = offsets[p]++;
        if (spec.oddValues && rng() % 50 == 0)
            e.offset = static_cast<std::int64_t>(rng()); // any value, negative included
        const auto kind = rng() % 20;
        if (kind < 14) { // IPv4-mapped
            e.ip[10] = e.ip[11] = 0xff;
            for (int b = 12; b < 16; ++b)
                e.ip[b] = static_cast<std::uint8_t>(rng());
        } else if (kind < 19) {
            for (auto& b : e.ip)
                b = static_cast<std::uint8_t>(rng());
            e.flags = ClickEvent::kFlagIpv6;
        } else {
            e.ip[15] = 1; // ::1, not IPv4-mapped
            e.flags = ClickEvent::kFlagIpv6;
        }
        e.setDisposition(static_cast<ClickEvent::Disposition>(rng() % 4));
        const auto ad = rng() % 10;
        const std::size_t uaCount = spec.variety ? spec.variety : d.uaIds.size();
        const std::size_t adCount = spec.variety ? std::min(spec.variety, d.namedAds.size()) : d.namedAds.size();
        e.adId = ad < 7 ? 1 + static_cast<AdId>(rng() % 1000)
            : ad < 9    ? d.namedAds[rng() % adCount]
                        : static_cast<AdId>(rng() % kFirstNamedAdId);
        e.uaId = rng() % 200 == 0 && !spec.variety ? UserAgentDictionary::kOverflowId : d.uaIds[rng() % uaCount];
        if (i < spec.variety) {
            e.uaId = d.uaIds[i];
            e.adId = d.namedAds[i % adCount];
        }
        e.country = packCountry(static_cast<char>('A' + rng() % 26), static_cast<char>('A' + rng() % 26));
        e.device = static_cast<DeviceClass>(rng() % kDeviceClassCount);
        if (spec.oddValues && rng() % 100 == 0) { // bytes outside the known ranges still round-trip
            e.flags = static_cast<std::uint8_t>(rng());
            e.device = static_cast<DeviceClass>(rng());
        }
        if (spec.oddValues && i % 997 == 3)
            e.eventTimeMs = (rng() % 2) ? INT64_MIN + static_cast<TimeMs>(rng() % 10) : INT64_MAX - 5;
    }
    return out;
}

QString describeDifference(const ClickEvent& a, const ClickEvent& b)
{
    QStringList d;
    if (a.eventTimeMs != b.eventTimeMs)
        d << QStringLiteral("eventTimeMs %1 != %2").arg(a.eventTimeMs).arg(b.eventTimeMs);
    if (a.userHash != b.userHash)
        d << QStringLiteral("userHash");
    if (a.clickId != b.clickId)
        d << QStringLiteral("clickId");
    if (a.offset != b.offset)
        d << QStringLiteral("offset %1 != %2").arg(a.offset).arg(b.offset);
    if (a.partition != b.partition)
        d << QStringLiteral("partition");
    if (a.ip != b.ip)
        d << QStringLiteral("ip");
    if (a.adId != b.adId)
        d << QStringLiteral("adId");
    if (a.uaId != b.uaId)
        d << QStringLiteral("uaId");
    if (a.country != b.country)
        d << QStringLiteral("country");
    if (a.device != b.device)
        d << QStringLiteral("device");
    if (a.flags != b.flags)
        d << QStringLiteral("flags %1 != %2").arg(a.flags).arg(b.flags);
    return d.join(QStringLiteral(", "));
}

struct ReadRecord {
    ClickEvent event;
    std::uint64_t sequence = 0;
    std::string userAgent;
    std::string adName;
};

std::function<bool(const RawRecord&)> collector(std::vector<ReadRecord>& out)
{
    return [&out](const RawRecord& r) {
        out.push_back({ r.event, r.sequence, std::string(r.userAgent), std::string(r.adName) });
        return true;
    };
}

std::vector<ReadRecord> readAll(const std::string& dir, std::vector<RawLogDamage>* damage = nullptr)
{
    std::vector<ReadRecord> out;
    RawLogReader reader(dir);
    reader.scanFromSequence(0, collector(out));
    if (damage)
        *damage = reader.damage();
    return out;
}

QString damageText(const std::vector<RawLogDamage>& damage)
{
    QStringList l;
    for (const auto& d : damage)
        l << QString::fromStdString(d.path + " @" + std::to_string(d.byteOffset) + ": " + d.reason);
    return l.join(QStringLiteral("\n"));
}

/// Checks records against the appended events: record k must be events[expected[k]] with
/// sequence firstSequence + expected[k], and carry its strings.
void checkRecords(const std::vector<ReadRecord>& got, const std::vector<ClickEvent>& events,
    const std::vector<std::size_t>& expected, std::uint64_t firstSequence, const Dicts& d)
{
    QCOMPARE(got.size(), expected.size());
    for (std::size_t k = 0; k < got.size(); ++k) {
        const ClickEvent& want = events[expected[k]];
        const QString diff = describeDifference(got[k].event, want);
        QVERIFY2(diff.isEmpty(), qPrintable(QStringLiteral("record %1: %2").arg(k).arg(diff)));
        QCOMPARE(got[k].sequence, firstSequence + expected[k]);
        QCOMPARE(got[k].userAgent, std::string(d.uas.name(want.uaId)));
        QCOMPARE(got[k].adName, want.adId >= kFirstNamedAdId ? d.ads.format(want.adId) : std::string());
    }
}

std::vector<std::size_t> iota(std::size_t from, std::size_t to)
{
    std::vector<std::size_t> v;
    for (std::size_t i = from; i < to; ++i)
        v.push_back(i);
    return v;
}

std::unique_ptr<RawLogWriter> openWriter(
    const RawLogConfig& config, const Dicts& d, const RawLogPosition* recoverTo = nullptr)
{
    std::string error;
    auto w = RawLogWriter::open(config, recoverTo, d.uas, d.ads, error);
    if (!w)
        qWarning("open: %s", error.c_str());
    return w;
}

bool appendAll(RawLogWriter& w, const std::vector<ClickEvent>& events, std::size_t from, std::size_t to,
    std::size_t batch, TimeMs processingMs = kStartMs)
{
    for (std::size_t i = from; i < to; i += batch)
        if (!w.append(events.data() + i, std::min(batch, to - i), processingMs))
            return false;
    return true;
}

/// Byte offsets of the blocks of a segment file (walking valid headers from the segment header).
std::vector<std::uint64_t> blockOffsets(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::uint64_t> out;
    std::uint64_t off = rawlog::kSegmentHeaderBytes;
    while (off + rawlog::kBlockHeaderBytes <= bytes.size()) {
        rawlog::BlockHeader h;
        const char* why = nullptr;
        if (!rawlog::decodeBlockHeader(reinterpret_cast<const std::uint8_t*>(bytes.data() + off), h, why))
            break;
        out.push_back(off);
        off += rawlog::kBlockHeaderBytes + h.payloadBytes;
    }
    return out;
}

void flipByte(const std::string& path, std::uint64_t offset)
{
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x5a);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(&c, 1);
}

std::string fileBytes(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    return { std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>() };
}

} // namespace adclick::test
