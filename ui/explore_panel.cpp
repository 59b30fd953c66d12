#include "explore_panel.h"

#include "off_thread.h"
#include "series_filters.h"

#include "core/time_units.h"

#include <QCompleter>
#include <QDateTime>
#include <QDateTimeEdit>
#include <QFile>
#include <QFileDialog>
#include <QGridLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSaveFile>
#include <QSplitter>
#include <QStringListModel>
#include <QTableView>

namespace adclick::ui {

using namespace adclick::engine;

ExplorePanel::ExplorePanel(PanelContext context, QWidget* parent)
    : Panel(context, parent)
    , m_chart(std::make_unique<ProvenanceChart>(tr("Clicks per bucket, shaded by provenance")))
{
    m_ad = new QLineEdit(this);
    m_ad->setPlaceholderText(tr("ad id"));
    m_completions = new QStringListModel(this);
    auto* completer = new QCompleter(m_completions, this);
    m_ad->setCompleter(completer);
    connect(m_ad, &QLineEdit::textEdited, this, [this](const QString& prefix) {
        m_completions->setStringList(adCompletions(prefix.trimmed(), m_adCount, m_topAds));
    });
    connect(m_ad, &QLineEdit::returnPressed, this, &ExplorePanel::run);
    m_from = new QDateTimeEdit(this);
    m_to = new QDateTimeEdit(this);
    for (QDateTimeEdit* e : { m_from, m_to }) {
        e->setDisplayFormat(QStringLiteral("yyyy-MM-dd HH:mm"));
        e->setCalendarPopup(true);
    }
    m_filters = new SeriesFilters(true, this);
    m_run = new QPushButton(tr("&Run"), this);
    m_export = new QPushButton(tr("Export CSV…"), this);
    m_export->setEnabled(false);
    connect(m_run, &QPushButton::clicked, this, &ExplorePanel::run);
    connect(m_export, &QPushButton::clicked, this, &ExplorePanel::exportWithDialog);
    m_summary = new QLabel(tr("Choose an ad and a range, then Run."), this);
    m_summary->setWordWrap(true);
    m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);

    m_model = new TableModel(
        { tr("bucket start (UTC)"), tr("start (epoch ms)"), tr("size (s)"), tr("clicks"), tr("provenance") }, this);
    auto* table = new QTableView(this);
    table->setModel(m_model);
    table->verticalHeader()->hide();
    table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);

    auto* grid = new QGridLayout(this);
    auto* top = new QHBoxLayout;
    top->addWidget(new QLabel(tr("Ad:"), this));
    top->addWidget(m_ad);
    top->addWidget(new QLabel(tr("from"), this));
    top->addWidget(m_from);
    top->addWidget(new QLabel(tr("to"), this));
    top->addWidget(m_to);
    top->addWidget(m_run);
    top->addWidget(m_export);
    grid->addLayout(top, 0, 0);
    grid->addWidget(m_filters, 1, 0);
    grid->addWidget(m_summary, 2, 0);
    auto* split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(m_chart->view());
    split->addWidget(table);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    grid->addWidget(split, 3, 0);
    grid->setRowStretch(3, 1);
}

void ExplorePanel::updateStatus(const EngineStatus& status)
{
    m_adCount = status.settings.generator.adCount;
    if (status.snapshot && status.snapshot->topK.valid) {
        m_topAds.clear();
        for (const auto& e : status.snapshot->topK.exact)
            m_topAds << QString::number(e.adId);
    }
    if (!m_rangeSet && status.clockMs > 0) {
        // A first range: the last hour of the processing clock.
        m_rangeSet = true;
        const TimeMs to = (status.clockMs / kMsPerMinute + 1) * kMsPerMinute;
        m_from->setDateTime(QDateTime::fromMSecsSinceEpoch(to - kMsPerHour));
        m_to->setDateTime(QDateTime::fromMSecsSinceEpoch(to));
        if (m_ad->text().isEmpty() && !m_topAds.isEmpty())
            m_ad->setText(m_topAds.front());
    }
}

void ExplorePanel::explore(AdId ad, TimeMs fromMs, TimeMs toMs)
{
    m_rangeSet = true;
    m_ad->setText(QString::number(ad));
    m_from->setDateTime(QDateTime::fromMSecsSinceEpoch(fromMs));
    m_to->setDateTime(QDateTime::fromMSecsSinceEpoch(toMs));
    run();
}

bool ExplorePanel::run()
{
    bool ok = false;
    const qulonglong id = m_ad->text().trimmed().toULongLong(&ok);
    if (!ok || id == 0 || id >= kFirstNamedAdId) {
        m_summary->setText(tr("Enter an ad id (a number from 1)."));
        return false;
    }
    if (m_busy)
        return false;
    const TimeMs fromMs = m_from->dateTime().toMSecsSinceEpoch();
    const TimeMs toMs = m_to->dateTime().toMSecsSinceEpoch();
    const CountFilters filters = m_filters->filters();
    const auto ad = static_cast<AdId>(id);
    m_busy = true;
    m_run->setEnabled(false);
    m_summary->setText(tr("Querying …"));
    QueryService* queries = &m_context.engine->queries();
    runOffThread(
        *m_context.pool, this,
        [queries, ad, fromMs, toMs, filters] { return queries->series(ad, fromMs, toMs, filters); },
        [this](const SeriesResult& r) {
            m_busy = false;
            m_run->setEnabled(true);
            ++m_answers;
            show(r);
            emit answered();
        });
    return true;
}

void ExplorePanel::show(const SeriesResult& r)
{
    m_result = r;
    m_chart->setResults({ r });
    std::vector<TableModel::Row> rows;
    if (!r.ok()) {
        m_summary->setText(
            tr("Error (%1): %2").arg(QString::fromStdString(r.errorParameter), QString::fromStdString(r.error)));
        m_model->setRows({});
        m_export->setEnabled(false);
        return;
    }
    rows.reserve(r.points.size());
    for (const SeriesPoint& p : r.points)
        rows.push_back({ QDateTime::fromMSecsSinceEpoch(p.startMs, Qt::UTC).toString(Qt::ISODate),
            QVariant::fromValue<qint64>(p.startMs), QVariant::fromValue<qint64>(p.sizeMs / kMsPerSecond),
            QVariant::fromValue<qulonglong>(p.count),
            QString::fromUtf8(
                seriesSourceName(p.source).data(), static_cast<qsizetype>(seriesSourceName(p.source).size())) });
    m_model->setRows(std::move(rows));
    m_export->setEnabled(true);
    QString text = tr("ad %1: %2 clicks in %3 buckets, %4 → %5 (%6%7)")
                       .arg(r.adId)
                       .arg(formatCount(static_cast<double>(r.total)))
                       .arg(r.points.size())
                       .arg(formatTime(r.fromMs, true), formatTime(r.toMs, true))
                       .arg(r.exact ? tr("exact") : tr("speed layer where not batch-covered"))
                       .arg(r.partial ? tr(", open minutes are partial") : QString());
    for (const auto& note : r.notes)
        text += QStringLiteral("\n• ") + QString::fromStdString(note);
    m_summary->setText(text);
}

bool ExplorePanel::exportCsv(const QString& path, QString* error) const
{
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Text)) {
        if (error)
            *error = file.errorString();
        return false;
    }
    file.write(m_model->toCsv().toUtf8());
    if (!file.commit()) {
        if (error)
            *error = file.errorString();
        return false;
    }
    return true;
}

void ExplorePanel::exportWithDialog()
{
    const QString suggested = QStringLiteral("adclick-ad%1-series.csv").arg(m_result.adId);
    const QString path = QFileDialog::getSaveFileName(this, tr("Export CSV"), suggested, tr("CSV files (*.csv)"));
    if (path.isEmpty())
        return;
    QString error;
    if (exportCsv(path, &error))
        m_summary->setText(m_summary->text().section(QLatin1Char('\n'), 0, 0) + tr("\nExported to %1").arg(path));
    else
        m_summary->setText(tr("Export failed: %1").arg(error));
}

} // namespace adclick::ui
