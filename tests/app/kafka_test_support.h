#pragma once

// Helpers of the Kafka tests: a real `adclick broker` process on a free port, a brute-force oracle
// over the exact records produced (an NDJSON file), and the comparison of a data directory (or
// several, one per group member) with it: minute rows by count, raw log records as a multiset of
// events with unique (partition, offset) positions, quarantine counts.

#include "core/ad_dictionary.h"
#include "engine/support/oracle.h"
#include "ingest/json_codec.h"
#include "storage/raw_log.h"
#include "storage/sqlite_store.h"

#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QTcpServer>
#include <QtTest>

#include <map>
#include <memory>
#include <set>
#include <tuple>

namespace adclick::test {

inline QString adclickBinary()
{
    return qEnvironmentVariable("ADCLICK_BINARY_DIR") + QStringLiteral("/app/adclick");
}

inline quint16 freePort()
{
    QTcpServer s;
    s.listen(QHostAddress::LocalHost, 0);
    return s.serverPort();
}

/// `adclick broker` on a free loopback port; stopped (SIGTERM) when destroyed.
class BrokerProcess {
public:
    bool start(int partitions, const QString& topics, int brokers = 3)
    {
        m_port = freePort();
        m_process.setProgram(adclickBinary());
        m_process.setArguments({ "broker", "--port", QString::number(m_port), "--partitions",
            QString::number(partitions), "--topic", topics, "--brokers", QString::number(brokers) });
        m_process.setProcessChannelMode(QProcess::MergedChannels);
        m_process.start();
        if (!m_process.waitForStarted(5000))
            return false;
        QByteArray out;
        for (int i = 0; i < 100 && !out.contains("topics:"); ++i) {
            m_process.waitForReadyRead(100);
            out += m_process.readAll();
        }
        return out.contains("bootstrap: 127.0.0.1:" + QByteArray::number(m_port));
    }
    ~BrokerProcess()
    {
        if (m_process.state() != QProcess::NotRunning) {
            m_process.terminate();
            if (!m_process.waitForFinished(5000))
                m_process.kill();
            m_process.waitForFinished(2000);
        }
    }
    QString bootstrap() const { return QStringLiteral("127.0.0.1:%1").arg(m_port); }
    /// "down N" / "up N" on the broker's standard input; true once it confirmed.
    bool command(const QString& line)
    {
        m_process.readAll();
        m_process.write((line + "\n").toUtf8());
        QByteArray out;
        for (int i = 0; i < 50; ++i) {
            m_process.waitForReadyRead(100);
            out += m_process.readAll();
            if (out.contains(("broker " + line.section(' ', 1) + " " + line.section(' ', 0, 0)).toUtf8()))
                return true;
        }
        return false;
    }

private:
    QProcess m_process;
    quint16 m_port = 0;
};

/// What the produced records must yield.
struct KafkaOracle {
    std::vector<ClickEvent> events; ///< accepted, in produce order
    std::vector<std::string> rejectedBytes; ///< malformed records, whole
    RejectCounters rejected;
    OracleResult result; ///< one partition, no lateness (bound 30 min), every click id remembered
};

/// Decodes every line of an NDJSON file as the engine would (numeric ad ids map to themselves).
inline KafkaOracle oracleOfFile(const QString& path)
{
    KafkaOracle o;
    AdDictionary ads;
    UserAgentDictionary uas;
    JsonCodec codec(ads, uas);
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return o;
    const QByteArray all = f.readAll();
    std::size_t begin = 0;
    while (begin < static_cast<std::size_t>(all.size())) {
        std::size_t end = static_cast<std::size_t>(all.indexOf('\n', static_cast<qsizetype>(begin)));
        if (end == std::string::npos || end == static_cast<std::size_t>(-1))
            end = static_cast<std::size_t>(all.size());
        const std::string_view line(all.constData() + begin, end - begin);
        begin = end + 1;
        ClickEvent e;
        RejectReason reason;
        if (codec.decode(line, e, reason) == JsonCodec::Status::Accepted)
            o.events.push_back(e);
        else
            o.rejectedBytes.emplace_back(line);
    }
    o.rejected = codec.counters();
    PipelineConfig cfg;
    cfg.watermark.boundMs = 30 * kMsPerMinute;
    cfg.watermark.idleTimeoutMs = 0;
    o.result = runOracle(o.events, cfg, 1);
    return o;
}

/// The options every Kafka test run shares: nothing is late (bound 30 min over data spanning
/// seconds), every click id is remembered, frequent checkpoints.
inline QStringList kafkaRunOptions(
    const QString& brokers, const QString& topic, const QString& group, const QString& dataDir)
{
    return { "--source", "kafka", "--brokers", brokers, "--topic", topic, "--group", group, "--session-timeout", "3s",
        "--watermark-bound", "30m", "--dedup-horizon", "1d", "--max-future", "0s", "--checkpoint-interval", "200ms",
        "--data-dir", dataDir, "--json" };
}

struct KafkaComparison {
    std::uint64_t cells = 0;
    std::uint64_t cellsWrong = 0;
    std::uint64_t lost = 0;
    std::uint64_t doubled = 0;
    std::uint64_t rawRecords = 0;
    std::uint64_t rawPositionsRepeated = 0; ///< the same (partition, offset) logged twice
    std::uint64_t rawMissing = 0; ///< oracle events not in any raw log
    std::uint64_t rawExtra = 0; ///< raw records matching no oracle event
    std::uint64_t duplicatesLogged = 0; ///< raw records with disposition Duplicate
    std::uint64_t quarantined = 0;
    /// Clicks counted by two group members: a resend (same click id) read after its partition moved
    /// to another member, whose de-duplication never saw the original (it is per process).
    std::uint64_t crossMemberDuplicates = 0;
    std::vector<std::uint64_t> rawPerDir;
};

/// The identity of an event independent of interning order (user agents are interned per process).
inline auto fingerprint(const ClickEvent& e)
{
    return std::make_tuple(e.adId, e.eventTimeMs, e.userHash, e.clickId, e.ip, e.country, static_cast<int>(e.device));
}

/// Sums the speed rows of every data directory and joins their raw logs, against the oracle.
inline KafkaComparison compareKafka(const KafkaOracle& o, const QStringList& dataDirs)
{
    KafkaComparison c;
    std::map<WindowKey, std::uint64_t> stored;
    std::set<std::pair<std::uint32_t, std::int64_t>> positions;
    std::map<decltype(fingerprint(ClickEvent {})), std::int64_t> events;
    for (const ClickEvent& e : o.events)
        ++events[fingerprint(e)];
    std::map<std::uint64_t, std::pair<std::set<int>, WindowKey>> countedClickIds;
    const TimeMs windowMs = kMsPerMinute;
    int dirIndex = -1;
    for (const QString& dir : dataDirs) {
        ++dirIndex;
        std::string error;
        auto store = SqliteStore::open((dir + "/adclick.db").toStdString(), { true, 5000 }, error);
        if (!store) {
            qWarning() << "cannot open store" << dir << error.c_str();
            ++c.cellsWrong;
            continue;
        }
        store->forEachSpeedMinute(
            kMinTimeMs, INT64_MAX / 4, [&](const StoredRow& row) { stored[row.key] += row.count; });
        for (std::uint64_t n : store->quarantined())
            c.quarantined += n;
        RawLogReader reader((dir + "/raw").toStdString());
        std::uint64_t here = 0;
        reader.scanFromSequence(0, [&](const RawRecord& r) {
            ++here;
            if (!positions.insert({ r.event.partition, r.event.offset }).second)
                ++c.rawPositionsRepeated;
            if (r.event.disposition() == ClickEvent::Disposition::Duplicate)
                ++c.duplicatesLogged;
            --events[fingerprint(r.event)];
            if (r.event.hasClickId() && r.event.disposition() == ClickEvent::Disposition::Counted) {
                const TimeMs t = r.event.eventTimeMs;
                auto& entry = countedClickIds[r.event.clickId];
                entry.first.insert(dirIndex);
                entry.second = WindowKey { r.event.adId, t - ((t % windowMs) + windowMs) % windowMs, r.event.country,
                    r.event.device };
            }
            return true;
        });
        c.rawRecords += here;
        c.rawPerDir.push_back(here);
    }
    for (const auto& [key, n] : events) {
        if (n > 0)
            c.rawMissing += static_cast<std::uint64_t>(n);
        else if (n < 0)
            c.rawExtra += static_cast<std::uint64_t>(-n);
    }
    std::map<WindowKey, std::uint64_t> extra;
    for (const auto& [id, entry] : countedClickIds)
        if (entry.first.size() > 1) {
            extra[entry.second] += entry.first.size() - 1;
            c.crossMemberDuplicates += entry.first.size() - 1;
        }
    for (const auto& [key, cell] : o.result.cells) {
        ++c.cells;
        const std::uint64_t got = stored.count(key) ? stored[key] : 0;
        const std::uint64_t want = cell.count + (extra.count(key) ? extra[key] : 0);
        c.cellsWrong += got != want;
        if (got < want)
            c.lost += want - got;
        else
            c.doubled += got - want;
    }
    for (const auto& [key, got] : stored)
        if (!o.result.cells.count(key)) {
            ++c.cellsWrong;
            c.doubled += got;
        }
    return c;
}

inline void verifyKafkaExact(const KafkaOracle& o, const KafkaComparison& c, const char* what)
{
    qInfo(
        "%s: %llu cells, %llu wrong, %llu clicks lost, %llu doubled; raw %llu records (%zu expected), %llu "
        "positions repeated, %llu missing, %llu extra, %llu duplicates logged (%llu expected, %llu of them counted by "
        "two members); %llu quarantined (%llu expected)",
        what, static_cast<unsigned long long>(c.cells), static_cast<unsigned long long>(c.cellsWrong),
        static_cast<unsigned long long>(c.lost), static_cast<unsigned long long>(c.doubled),
        static_cast<unsigned long long>(c.rawRecords), o.events.size(),
        static_cast<unsigned long long>(c.rawPositionsRepeated), static_cast<unsigned long long>(c.rawMissing),
        static_cast<unsigned long long>(c.rawExtra), static_cast<unsigned long long>(c.duplicatesLogged),
        static_cast<unsigned long long>(o.result.duplicates), static_cast<unsigned long long>(c.crossMemberDuplicates),
        static_cast<unsigned long long>(c.quarantined), static_cast<unsigned long long>(o.rejected.total()));
    QVERIFY(c.cells > 1000);
    QCOMPARE(c.lost, 0ull);
    QCOMPARE(c.doubled, 0ull);
    QCOMPARE(c.cellsWrong, 0ull);
    QCOMPARE(c.rawRecords, static_cast<unsigned long long>(o.events.size()));
    QCOMPARE(c.rawPositionsRepeated, 0ull);
    QCOMPARE(c.rawMissing, 0ull);
    QCOMPARE(c.rawExtra, 0ull);
    QCOMPARE(c.duplicatesLogged + c.crossMemberDuplicates, static_cast<unsigned long long>(o.result.duplicates));
    QCOMPARE(c.quarantined, static_cast<unsigned long long>(o.rejected.total()));
}

/// Waits for a started process to end (true also when it had ended already: QProcess's
/// waitForFinished() answers false then).
inline bool waitEnded(QProcess& p, int timeoutMs)
{
    if (p.state() != QProcess::NotRunning)
        p.waitForFinished(timeoutMs);
    return p.state() == QProcess::NotRunning;
}

/// Runs a command to its end; returns its exit code (-1 if it did not finish in time) and output.
inline int runProcess(const QStringList& args, int timeoutMs, QByteArray* output = nullptr)
{
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(args.front(), args.mid(1));
    if (!p.waitForStarted(5000))
        return -1;
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished(2000);
        if (output)
            *output = p.readAll();
        return -1;
    }
    if (output)
        *output = p.readAll();
    return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
}

} // namespace adclick::test
