#include "pipeline_panel.h"

#include "chart_util.h"

#include <QDateTime>

#include <QPainter>
#include <QPainterPath>
#include <algorithm>

namespace adclick::ui {

using engine::kMinTimeMs;

PipelinePanel::PipelinePanel(PanelContext context, QWidget* parent)
    : Panel(context, parent)
    , m_lastWall(std::chrono::steady_clock::now())
{
    setMinimumSize(760, 320);
    m_stages = { { { tr("Source"), {} }, { tr("Raw log"), {} }, { tr("Windows"), {} }, { tr("Store (SQLite)"), {} },
        { tr("Serving"), {} } } };
}

void PipelinePanel::updateStatus(const EngineStatus& status)
{
    const auto now = std::chrono::steady_clock::now();
    const double dt = std::chrono::duration<double>(now - m_lastWall).count();
    const auto& cs = status.checkpoint;
    if (cs && dt >= 5.0) { // checkpoints land every second or so: rates over ≥ 5 s
        if (status.sessions == m_lastSessions && cs->rawRecords >= m_lastRawRecords) {
            m_rawRate = static_cast<double>(cs->rawRecords - m_lastRawRecords) / dt;
            m_byteRate = static_cast<double>(cs->rawBytes - m_lastRawBytes) / dt;
            m_rowRate = static_cast<double>(cs->rowsWritten - m_lastRows) / dt;
        }
        m_lastRawRecords = cs->rawRecords;
        m_lastRawBytes = cs->rawBytes;
        m_lastRows = cs->rowsWritten;
        m_lastSessions = status.sessions;
        m_lastWall = now;
    }
    for (auto& s : m_stages) {
        s.lines.clear();
        s.alarm = false;
    }
    const auto& snap = status.snapshot;
    auto& src = m_stages[0];
    src.lines << QString::fromStdString(status.sourceDescription).left(48);
    if (snap) {
        src.lines << tr("%1 events/s received").arg(formatCount(snap->eventsPerWallSecond));
        src.lines << tr("%1 quarantined").arg(formatCount(static_cast<double>(snap->counters.rejected.total())));
        if (snap->sourceStatus.external) {
            std::int64_t lag = 0;
            for (const auto& p : snap->sourceStatus.partitions)
                lag += std::max<std::int64_t>(0, p.lag);
            src.lines << tr("queue: %1 records of consumer lag").arg(formatCount(static_cast<double>(lag)));
            src.lines << QString::fromStdString(snap->sourceStatus.state);
            src.alarm = !snap->sourceStatus.connected;
        } else if (status.settings.source == DashboardSource::Generator) {
            const double behindMs = static_cast<double>(status.clockMs - snap->processingTimeMs);
            const double backlog = std::max(0.0, behindMs) * status.settings.generator.ratePerSec / 1000.0;
            src.lines << tr("queue: %1 events due, not yet read").arg(formatCount(backlog));
        }
        src.lines << (status.state == EngineState::Paused
                ? tr("clock paused")
                : tr("clock ×%1 (achieved ×%2)").arg(status.speed, 0, 'g', 4).arg(status.effectiveSpeed, 0, 'f', 1));
    }
    auto& raw = m_stages[1];
    if (cs) {
        raw.lines << tr("%1 records/s appended").arg(formatCount(m_rawRate));
        raw.lines << tr("%1 KiB/s").arg(m_byteRate / 1024.0, 0, 'f', 0);
        raw.lines << tr("%1 records this run").arg(formatCount(static_cast<double>(cs->rawRecords)));
        if (cs->rawRecords)
            raw.lines << tr("%1 bytes/event")
                             .arg(static_cast<double>(cs->rawBytes) / static_cast<double>(cs->rawRecords), 0, 'f', 1);
    }
    auto& win = m_stages[2];
    if (snap) {
        win.lines << tr("%1 open windows, %2 cells")
                         .arg(snap->openWindows)
                         .arg(formatCount(static_cast<double>(snap->openCells)));
        win.lines << tr("state %1 MiB").arg(static_cast<double>(snap->stateBytes) / 1048576.0, 0, 'f', 1);
        win.lines << tr("watermark lag %1")
                         .arg(snap->watermarkMs > kMinTimeMs
                                 ? formatDuration(static_cast<double>(snap->processingTimeMs - snap->watermarkMs))
                                 : tr("—"));
        win.lines << tr("%1 windows final, %2 late")
                         .arg(formatCount(static_cast<double>(snap->counters.windowsFinalised)),
                             formatCount(static_cast<double>(snap->counters.lateDropped + snap->counters.lateUpdated)));
        win.lines << tr("%1 shard(s)").arg(snap->shards);
    }
    auto& store = m_stages[3];
    if (cs) {
        const double ageMs = cs->lastCommitWallMs > 0
            ? static_cast<double>(QDateTime::currentMSecsSinceEpoch() - cs->lastCommitWallMs)
            : std::numeric_limits<double>::quiet_NaN();
        store.lines << tr("checkpoint #%1, age %2").arg(cs->lastSequence).arg(formatDuration(ageMs));
        store.lines << tr("commit %1 ms (max %2)").arg(cs->lastCommitMs, 0, 'f', 1).arg(cs->maxCommitMs, 0, 'f', 1);
        store.lines << tr("%1 rows/s upserted").arg(formatCount(m_rowRate));
        store.lines << tr("ingest stall %1 ms").arg(cs->lastCaptureMs, 0, 'f', 2);
        if (cs->paused || cs->failed) {
            store.lines << QString::fromStdString(cs->pauseReason).left(48);
            store.alarm = true;
        }
        store.alarm = store.alarm || (ageMs > 10000 && status.state == EngineState::Running);
    }
    auto& serving = m_stages[4];
    if (status.batch) {
        const auto& b = *status.batch;
        if (b.running)
            serving.lines
                << tr("batch #%1 running: %2%").arg(b.runningId).arg(b.progress.fraction() * 100.0, 0, 'f', 0);
        else if (b.lastRun)
            serving.lines << tr("batch covers to %1").arg(formatTime(b.lastRun->toMs));
        else
            serving.lines << tr("no batch run yet");
        serving.lines << tr("%1 batch runs done").arg(b.runsCompleted);
    }
    if (!m_serving.isEmpty())
        serving.lines << m_serving.split(QLatin1Char('\n'));
    m_footer = tr("State: %1. Data directory: %2")
                   .arg(engineStateName(status.state), QString::fromStdString(status.dataDirectory));
    if (!status.message.empty())
        m_footer += QStringLiteral(" — ") + QString::fromStdString(status.message);
    update();
}

void PipelinePanel::paintEvent(QPaintEvent*)
{
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    p.fillRect(rect(), palette().window());
    const int n = static_cast<int>(m_stages.size());
    const int margin = 16;
    const int gap = 34;
    const int boxW = (width() - 2 * margin - (n - 1) * gap) / n;
    const int boxH = std::clamp(height() / 2, 200, 300);
    const int top = 40;
    QFont titleFont = font();
    titleFont.setBold(true);
    titleFont.setPointSizeF(titleFont.pointSizeF() * 1.15);
    p.setFont(titleFont);
    p.drawText(QRect(margin, 6, width() - 2 * margin, 28), Qt::AlignLeft | Qt::AlignVCenter,
        tr("source → raw log → windows → store → serving"));
    for (int i = 0; i < n; ++i) {
        const QRect box(margin + i * (boxW + gap), top, boxW, boxH);
        const auto& stage = m_stages[static_cast<std::size_t>(i)];
        p.setPen(QPen(stage.alarm ? QColor(0xd6, 0x27, 0x28) : QColor(0x1f, 0x77, 0xb4), 2));
        p.setBrush(stage.alarm ? QColor(255, 230, 230) : QColor(232, 242, 252));
        p.drawRoundedRect(box, 10, 10);
        p.setPen(palette().windowText().color());
        p.setFont(titleFont);
        p.drawText(box.adjusted(8, 6, -8, 0), Qt::AlignTop | Qt::AlignHCenter, stage.title);
        p.setFont(font());
        const QRect body = box.adjusted(8, 36, -8, -6);
        p.drawText(body, Qt::AlignTop | Qt::AlignLeft | Qt::TextWordWrap, stage.lines.join(QLatin1Char('\n')));
        if (i + 1 < n) {
            const int y = top + boxH / 2;
            const int x0 = box.right() + 4;
            const int x1 = box.right() + gap - 4;
            p.setPen(QPen(QColor(0x55, 0x55, 0x55), 2));
            p.drawLine(x0, y, x1, y);
            QPainterPath head;
            head.moveTo(x1, y);
            head.lineTo(x1 - 8, y - 5);
            head.lineTo(x1 - 8, y + 5);
            head.closeSubpath();
            p.fillPath(head, QColor(0x55, 0x55, 0x55));
        }
    }
    p.setPen(palette().windowText().color());
    p.drawText(QRect(margin, top + boxH + 10, width() - 2 * margin, 40), Qt::AlignLeft | Qt::TextWordWrap, m_footer);
    p.setPen(palette().placeholderText().color());
    p.drawText(QRect(margin, top + boxH + 54, width() - 2 * margin, height() - top - boxH - 60),
        Qt::AlignLeft | Qt::TextWordWrap,
        tr("Source: clicks are read in batches of a few thousand; bad records go to the quarantine.\n"
           "Raw log: every accepted click is appended once (the batch layer's input, the truth).\n"
           "Windows: per (ad, minute, country, device) counts; a window is final when the watermark passes its end "
           "+ allowed lateness; later clicks are late.\n"
           "Store: one SQLite transaction per checkpoint holds the rows, the open windows, the source offsets and the "
           "raw log's end — so a crash loses nothing and counts nothing twice.\n"
           "Serving: batch rows where a batch run covers a minute, else speed rows (final, then open)."));
}

} // namespace adclick::ui
