#include "reconciliation_panel.h"

#include "off_thread.h"

#include "ingest/country_codes.h"
#include "ingest/ip_address.h"
#include "storage/raw_log.h"

#include <QComboBox>
#include <QDateTime>
#include <QGridLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSplitter>
#include <QTableView>

#include <filesystem>

namespace adclick::ui {

using namespace adclick::engine;

namespace {
struct RawDrill {
    AdId ad = 0;
    TimeMs minuteMs = 0;
    std::vector<TableModel::Row> rows;
    std::vector<QVariant> backgrounds; ///< late rows tinted
    TimeMs maxLateLatenessMs = kMinTimeMs; ///< over the late events (dropped or updated)
    std::uint64_t withoutWatermark = 0; ///< logged before the watermark existed, or format 1
    std::uint64_t counted = 0, lateDropped = 0, lateUpdated = 0, duplicates = 0;
    bool truncated = false;
    std::string damage;
};

QString dispositionName(ClickEvent::Disposition d)
{
    switch (d) {
    case ClickEvent::Disposition::Counted:
        return QStringLiteral("counted");
    case ClickEvent::Disposition::LateDropped:
        return QStringLiteral("late, dropped by speed");
    case ClickEvent::Disposition::LateUpdated:
        return QStringLiteral("late, window updated");
    case ClickEvent::Disposition::Duplicate:
        return QStringLiteral("duplicate, removed");
    }
    return {};
}
} // namespace

ReconciliationPanel::ReconciliationPanel(PanelContext context, QWidget* parent)
    : Panel(context, parent)
{
    m_range = new QComboBox(this);
    m_range->addItem(tr("last 15 minutes"), 15);
    m_range->addItem(tr("last hour"), 60);
    m_range->addItem(tr("last 3 hours"), 180);
    m_range->addItem(tr("last 24 hours"), 1440);
    m_range->setCurrentIndex(1);
    m_refresh = new QPushButton(tr("Refresh"), this);
    m_summary = new QLabel(this);
    m_summary->setWordWrap(true);
    m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    connect(m_refresh, &QPushButton::clicked, this, &ReconciliationPanel::refresh);
    connect(m_range, &QComboBox::currentIndexChanged, this, &ReconciliationPanel::refresh);

    auto* chart = new QChart;
    auto* view = makeChartView(chart, tr("Speed vs batch per minute (covered minutes) and the gap"));
    m_x = addTimeAxis(chart, QStringLiteral("HH:mm"));
    m_y = addValueAxis(chart, tr("clicks per minute"));
    m_gapY = addValueAxis(chart, tr("gap (batch − speed)"), Qt::AlignRight);
    m_speed = std::make_unique<RingSeries>(addLine(chart, tr("speed"), m_x, m_y, QColor(0x1f, 0x77, 0xb4)));
    m_batch = std::make_unique<RingSeries>(addLine(chart, tr("batch"), m_x, m_y, QColor(0x2c, 0xa0, 0x2c)));
    m_explained = std::make_unique<RingSeries>(
        addLine(chart, tr("gap explained (late, duplicates, after run)"), m_x, m_gapY, QColor(0xff, 0x7f, 0x0e)));
    m_unexplained
        = std::make_unique<RingSeries>(addLine(chart, tr("gap unexplained"), m_x, m_gapY, QColor(0xd6, 0x27, 0x28)));

    m_worst = new TableModel({ tr("ad"), tr("minute"), tr("speed"), tr("batch"), tr("gap"), tr("late"),
                                 tr("duplicates"), tr("after run"), tr("unexplained"), tr("note") },
        this);
    m_worstView = new QTableView(this);
    m_worstView->setModel(m_worst);
    m_worstView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_worstView->setSelectionMode(QAbstractItemView::SingleSelection);
    m_worstView->verticalHeader()->hide();
    m_worstView->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_worstView->setToolTip(tr("Double-click a window to list its raw events"));
    connect(m_worstView, &QTableView::activated, this, [this](const QModelIndex& index) {
        if (!m_report || index.row() >= static_cast<int>(m_report->worstCells.size()))
            return;
        const auto& cell = m_report->worstCells[static_cast<std::size_t>(index.row())];
        drillDown(cell.adId, cell.minuteMs);
    });

    m_raw
        = new TableModel({ tr("sequence"), tr("event time"), tr("second"), tr("partition"), tr("offset"), tr("country"),
                             tr("device"), tr("IP"), tr("lateness (s)"), tr("speed layer"), tr("click id") },
            this);
    m_raw->setHeaderToolTip(kRawLatenessColumn,
        tr("Watermark at arrival − event time, in seconds: the watermark the speed layer judged the event against "
           "(logged with it in the raw log). Negative: the event was ahead of the watermark. A window is final once "
           "the watermark passes its end + the allowed lateness; events arriving after that are late. "
           "\"—\": not recorded (before the first watermark, or a raw log written by an older version). Rows: "
           "orange = late and dropped by the speed layer, yellow = late and its window updated."));
    auto* rawView = new QTableView(this);
    rawView->setModel(m_raw);
    rawView->verticalHeader()->hide();
    rawView->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_rawSummary = new QLabel(tr("Drill-down: double-click a window in the table above."), this);
    m_rawSummary->setWordWrap(true);

    auto* grid = new QGridLayout(this);
    auto* top = new QHBoxLayout;
    top->addWidget(new QLabel(tr("Range:"), this));
    top->addWidget(m_range);
    top->addWidget(m_refresh);
    top->addStretch(1);
    grid->addLayout(top, 0, 0, 1, 2);
    grid->addWidget(m_summary, 1, 0, 1, 2);
    auto* split = new QSplitter(Qt::Vertical, this);
    auto* upper = new QSplitter(Qt::Horizontal, split);
    upper->addWidget(view);
    upper->addWidget(m_worstView);
    auto* lower = new QWidget(split);
    auto* lowerLayout = new QVBoxLayout(lower);
    lowerLayout->setContentsMargins(0, 0, 0, 0);
    lowerLayout->addWidget(m_rawSummary);
    lowerLayout->addWidget(rawView, 1);
    split->addWidget(upper);
    split->addWidget(lower);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    grid->addWidget(split, 2, 0, 1, 2);
}

void ReconciliationPanel::updateStatus(const EngineStatus& status)
{
    if (status.snapshot)
        m_watermarkMs = status.snapshot->watermarkMs;
    m_clockMs = status.clockMs;
    const std::uint64_t runs = status.batch ? status.batch->runsCompleted : 0;
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    // A finished batch run, or every 10 s while shown.
    if (runs != m_lastBatchRuns || (isVisible() && now - m_lastRefreshMs > 10000)) {
        m_lastBatchRuns = runs;
        refresh();
    }
}

void ReconciliationPanel::refresh()
{
    if (m_busy)
        return;
    m_busy = true;
    m_lastRefreshMs = QDateTime::currentMSecsSinceEpoch();
    const TimeMs to = (m_watermarkMs > kMinTimeMs ? m_watermarkMs : m_clockMs) + kMsPerMinute;
    const TimeMs from = to - m_range->currentData().toLongLong() * kMsPerMinute;
    const std::string dir = m_context.engine->dataDirectory();
    runOffThread(
        *m_context.pool, this,
        [dir, from, to] {
            ReconcileOptions o;
            o.limit = 50;
            return std::make_shared<const ReconcileReport>(reconcile(dir, from, to, o));
        },
        [this](std::shared_ptr<const ReconcileReport> r) {
            m_busy = false;
            show(std::move(r));
        });
}

void ReconciliationPanel::show(std::shared_ptr<const ReconcileReport> report)
{
    ++m_reports;
    m_report = std::move(report);
    const ReconcileReport& r = *m_report;
    if (!r.ok) {
        m_summary->setText(tr("No reconciliation yet: %1").arg(QString::fromStdString(r.error)));
        emit reportUpdated();
        return;
    }
    const GapParts& t = r.totals;
    m_summary->setText(tr(
        "<b>Unexplained gap: %1</b> over %2 covered (ad, minute) cells (%3 with an unexplained gap). Speed %4, batch "
        "%5, gap %6 = late %7 + duplicates %8 + arrived after the run %9 + unexplained %1. %10 minutes covered by "
        "%11 batch run(s); %12 clicks in minutes no batch run covers yet (run a batch).")
                           .arg(t.unexplained)
                           .arg(r.cellCount)
                           .arg(r.cellsUnexplained)
                           .arg(formatCount(static_cast<double>(t.speed)), formatCount(static_cast<double>(t.batch)))
                           .arg(t.gap)
                           .arg(t.late)
                           .arg(t.duplicates)
                           .arg(t.afterRun)
                           .arg(r.coveredMinutes)
                           .arg(r.runs.size())
                           .arg(formatCount(static_cast<double>(r.uncoveredSpeed))));
    for (auto* ring : { m_speed.get(), m_batch.get(), m_explained.get(), m_unexplained.get() })
        ring->clear();
    double gapLo = 0, gapHi = 1;
    for (const ReconcileMinute& m : r.minutes) {
        if (!m.covered)
            continue;
        const auto x = static_cast<double>(m.minuteMs);
        m_speed->add(x, static_cast<double>(m.parts.speed));
        m_batch->add(x, static_cast<double>(m.parts.batch));
        m_explained->add(x, static_cast<double>(m.parts.explained()));
        m_unexplained->add(x, static_cast<double>(m.parts.unexplained));
        gapLo = std::min({ gapLo, static_cast<double>(m.parts.explained()), static_cast<double>(m.parts.unexplained) });
        gapHi = std::max({ gapHi, static_cast<double>(m.parts.explained()), static_cast<double>(m.parts.unexplained) });
    }
    for (auto* ring : { m_speed.get(), m_batch.get(), m_explained.get(), m_unexplained.get() })
        ring->flush();
    if (!m_speed->points().empty()) {
        m_x->setRange(QDateTime::fromMSecsSinceEpoch(static_cast<qint64>(m_speed->points().front().x())),
            QDateTime::fromMSecsSinceEpoch(static_cast<qint64>(m_speed->points().back().x() + kMsPerMinute)));
        fitValueAxis(m_y, { m_speed.get(), m_batch.get() });
        m_gapY->setRange(gapLo * 1.1, gapHi * 1.1);
    }
    std::vector<TableModel::Row> rows;
    std::vector<QVariant> backgrounds;
    for (const ReconcileCell& c : r.worstCells) {
        QString note;
        if (c.speedOpen)
            note = tr("speed window still open");
        if (c.rawDamage)
            note += (note.isEmpty() ? QString() : QStringLiteral("; ")) + tr("raw log damage");
        rows.push_back(
            { QString::fromStdString(c.adName), formatTime(c.minuteMs, true), static_cast<qlonglong>(c.parts.speed),
                static_cast<qlonglong>(c.parts.batch), static_cast<qlonglong>(c.parts.gap),
                static_cast<qlonglong>(c.parts.late), static_cast<qlonglong>(c.parts.duplicates),
                static_cast<qlonglong>(c.parts.afterRun), static_cast<qlonglong>(c.parts.unexplained), note });
        backgrounds.push_back(c.parts.unexplained != 0 ? QVariant(QColor(255, 220, 220)) : QVariant());
    }
    m_worst->setRows(std::move(rows));
    m_worst->setRowHints({}, std::move(backgrounds));
    emit reportUpdated();
}

void ReconciliationPanel::drillDown(AdId ad, TimeMs minuteMs)
{
    if (m_drillBusy || !m_report)
        return;
    m_drillBusy = true;
    m_rawSummary->setText(tr("Reading the raw log for ad %1, minute %2 …").arg(ad).arg(formatTime(minuteMs, true)));
    const std::string rawDir = (std::filesystem::path(m_context.engine->dataDirectory()) / "raw").string();
    const RawLogPosition end = m_report->rawEnd;
    const bool bounded = m_report->hasCheckpoint;
    runOffThread(
        *m_context.pool, this,
        [rawDir, end, bounded, ad, minuteMs] {
            RawDrill d;
            d.ad = ad;
            d.minuteMs = minuteMs;
            RawLogReader reader(rawDir);
            if (bounded)
                reader.setEnd(end);
            reader.scan(minuteMs, minuteMs + kMsPerMinute, [&](const RawRecord& rec) {
                const ClickEvent& e = rec.event;
                if (e.adId != ad)
                    return true;
                switch (e.disposition()) {
                case ClickEvent::Disposition::Counted:
                    ++d.counted;
                    break;
                case ClickEvent::Disposition::LateDropped:
                    ++d.lateDropped;
                    break;
                case ClickEvent::Disposition::LateUpdated:
                    ++d.lateUpdated;
                    break;
                case ClickEvent::Disposition::Duplicate:
                    ++d.duplicates;
                    break;
                }
                const bool late = e.disposition() == ClickEvent::Disposition::LateDropped
                    || e.disposition() == ClickEvent::Disposition::LateUpdated;
                const bool known = rec.watermarkAtArrivalMs > kMinTimeMs;
                const TimeMs latenessMs = rec.watermarkAtArrivalMs - e.eventTimeMs;
                d.withoutWatermark += known ? 0 : 1;
                if (late && known)
                    d.maxLateLatenessMs = std::max(d.maxLateLatenessMs, latenessMs);
                if (d.rows.size() >= 5000) {
                    d.truncated = true;
                    return true;
                }
                d.rows.push_back({ static_cast<qlonglong>(rec.sequence),
                    QDateTime::fromMSecsSinceEpoch(e.eventTimeMs).toString(QStringLiteral("HH:mm:ss.zzz")),
                    static_cast<double>(e.eventTimeMs - minuteMs) / 1000.0, static_cast<qlonglong>(e.partition),
                    static_cast<qlonglong>(e.offset), QString::fromStdString(formatCountry(e.country)),
                    QString::fromLatin1(deviceClassName(e.device).data()), QString::fromStdString(formatIp(e.ip)),
                    known ? QVariant(static_cast<double>(latenessMs) / 1000.0) : QVariant(QStringLiteral("—")),
                    dispositionName(e.disposition()),
                    e.hasClickId() ? QString::number(e.clickId, 16) : QStringLiteral("—") });
                d.backgrounds.push_back(e.disposition() == ClickEvent::Disposition::LateDropped
                        ? QVariant(QColor(255, 220, 190))
                        : (late ? QVariant(QColor(255, 243, 205)) : QVariant()));
                return true;
            });
            if (!reader.damage().empty())
                d.damage = reader.damage().front().reason;
            return d;
        },
        [this](const RawDrill& d) {
            m_drillBusy = false;
            ++m_drills;
            m_raw->setRows(d.rows);
            m_raw->setRowHints({}, d.backgrounds);
            QString lateness;
            if (d.maxLateLatenessMs > kMinTimeMs)
                lateness = tr("; the late ones arrived up to %1 behind the watermark")
                               .arg(formatDuration(static_cast<double>(d.maxLateLatenessMs)));
            if (d.withoutWatermark > 0)
                lateness += tr("; %1 without a recorded watermark").arg(d.withoutWatermark);
            m_rawSummary->setText(
                tr("Ad %1, minute %2: %3 raw events — %4 counted by the speed layer, %5 late and dropped (counted "
                   "by batch: the 'late' part of the gap), %6 late and updated, %7 duplicates (removed by both)%8%9%10")
                    .arg(d.ad)
                    .arg(formatTime(d.minuteMs, true))
                    .arg(d.counted + d.lateDropped + d.lateUpdated + d.duplicates)
                    .arg(d.counted)
                    .arg(d.lateDropped)
                    .arg(d.lateUpdated)
                    .arg(d.duplicates)
                    .arg(lateness)
                    .arg(d.truncated ? tr("; first 5,000 listed") : QString())
                    .arg(d.damage.empty() ? QString() : tr("; raw log damage: ") + QString::fromStdString(d.damage)));
            emit drillDownUpdated();
        });
}

} // namespace adclick::ui
