#include "clicks_panel.h"

#include "off_thread.h"
#include "series_filters.h"

#include "core/time_units.h"

#include <QComboBox>
#include <QCompleter>
#include <QGridLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QStringListModel>

#include <algorithm>

namespace adclick::ui {

using namespace adclick::engine;

ClicksPanel::ClicksPanel(PanelContext context, QWidget* parent)
    : Panel(context, parent)
    , m_chart(std::make_unique<ProvenanceChart>(tr("Clicks per minute of the chosen ads, shaded by provenance")))
{
    m_search = new QLineEdit(this);
    m_search->setPlaceholderText(tr("ad id (type to search, Enter to add)"));
    m_search->setClearButtonEnabled(true);
    m_completions = new QStringListModel(this);
    m_completer = new QCompleter(m_completions, this);
    m_completer->setCompletionMode(QCompleter::PopupCompletion);
    m_completer->setMaxVisibleItems(15);
    m_search->setCompleter(m_completer);
    connect(m_search, &QLineEdit::textEdited, this, &ClicksPanel::updateCompletions);
    connect(m_search, &QLineEdit::returnPressed, this, &ClicksPanel::addFromSearch);
    connect(m_completer, qOverload<const QString&>(&QCompleter::activated), this, [this](const QString& text) {
        m_search->setText(text);
        addFromSearch();
    });
    auto* add = new QPushButton(tr("Add"), this);
    connect(add, &QPushButton::clicked, this, &ClicksPanel::addFromSearch);

    m_adList = new QListWidget(this);
    m_adList->setMaximumHeight(40);
    m_adList->setFlow(QListView::LeftToRight);
    m_adList->setToolTip(tr("Chosen ads: double-click or Delete to remove"));
    connect(m_adList, &QListWidget::itemDoubleClicked, this,
        [this](QListWidgetItem* item) { removeAd(item->data(Qt::UserRole).toUInt()); });
    auto* remove = new QPushButton(tr("Remove"), this);
    remove->setShortcut(QKeySequence::Delete);
    connect(remove, &QPushButton::clicked, this, [this] {
        if (auto* item = m_adList->currentItem())
            removeAd(item->data(Qt::UserRole).toUInt());
    });

    m_range = new QComboBox(this);
    for (int minutes : { 15, 60, 180, 360 })
        m_range->addItem(
            minutes < 60 ? tr("last %1 minutes").arg(minutes) : tr("last %1 h").arg(minutes / 60), minutes);
    m_range->setCurrentIndex(1);
    connect(m_range, &QComboBox::currentIndexChanged, this, &ClicksPanel::refresh);

    m_filters = new SeriesFilters(false, this);
    connect(m_filters, &SeriesFilters::changed, this, &ClicksPanel::refresh);
    m_summary = new QLabel(tr("Choose an ad: type its id above (the current top ads are offered first)."), this);
    m_summary->setWordWrap(true);
    m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto* grid = new QGridLayout(this);
    grid->addWidget(new QLabel(tr("Ads:"), this), 0, 0);
    grid->addWidget(m_search, 0, 1);
    grid->addWidget(add, 0, 2);
    grid->addWidget(remove, 0, 3);
    grid->addWidget(m_range, 0, 4);
    grid->addWidget(m_adList, 1, 0, 1, 5);
    grid->addWidget(m_filters, 2, 0, 1, 5);
    grid->addWidget(m_summary, 3, 0, 1, 5);
    grid->addWidget(m_chart->view(), 4, 0, 1, 5);
    grid->setRowStretch(4, 1);
    grid->setColumnStretch(1, 1);
}

void ClicksPanel::setRangeMinutes(int minutes)
{
    const int i = m_range->findData(minutes);
    if (i >= 0)
        m_range->setCurrentIndex(i);
}

bool ClicksPanel::addAd(AdId ad)
{
    if (ad == 0)
        return false;
    if (std::find(m_ads.begin(), m_ads.end(), ad) == m_ads.end() && m_ads.size() < ProvenanceChart::kMaxAds) {
        m_ads.push_back(ad);
        rebuildList();
        refresh();
    }
    return true;
}

void ClicksPanel::removeAd(AdId ad)
{
    m_ads.erase(std::remove(m_ads.begin(), m_ads.end(), ad), m_ads.end());
    rebuildList();
    refresh();
}

void ClicksPanel::rebuildList()
{
    m_adList->clear();
    for (AdId ad : m_ads) {
        auto* item = new QListWidgetItem(tr("ad %1").arg(ad), m_adList);
        item->setData(Qt::UserRole, static_cast<uint>(ad));
    }
}

void ClicksPanel::addFromSearch()
{
    bool ok = false;
    const qulonglong id = m_search->text().trimmed().toULongLong(&ok);
    if (!ok || id == 0 || id >= kFirstNamedAdId) {
        m_summary->setText(tr("“%1” is not an ad id (a number from 1).").arg(m_search->text().toHtmlEscaped()));
        return;
    }
    addAd(static_cast<AdId>(id));
    m_search->clear();
}

void ClicksPanel::updateCompletions(const QString& prefix)
{
    m_completions->setStringList(adCompletions(prefix.trimmed(), m_adCount, m_topAds));
}

void ClicksPanel::updateStatus(const EngineStatus& status)
{
    m_clockMs = status.clockMs;
    m_adCount = status.settings.generator.adCount;
    if (status.snapshot && status.snapshot->topK.valid) {
        m_topAds.clear();
        for (const auto& e : status.snapshot->topK.exact)
            m_topAds << QString::number(e.adId);
    }
    if (isVisible())
        refresh();
}

void ClicksPanel::refresh()
{
    if (m_busy) {
        m_dirty = true; // asked again while a query runs: query once more when it answers
        return;
    }
    if (!m_context.pool || m_clockMs <= 0)
        return;
    m_dirty = false;
    if (m_ads.empty()) {
        m_shownResults.clear();
        m_chart->setResults(m_shownResults);
        return;
    }
    Query q;
    q.ads = m_ads;
    q.toMs = (m_clockMs / m_windowMs + 1) * m_windowMs;
    q.fromMs = q.toMs - static_cast<TimeMs>(m_range->currentData().toInt()) * kMsPerMinute;
    q.filters = m_filters->filters();
    m_busy = true;
    QueryService* queries = &m_context.engine->queries();
    runOffThread(
        *m_context.pool, this,
        [queries, q] {
            std::vector<SeriesResult> out;
            out.reserve(q.ads.size());
            for (AdId ad : q.ads)
                out.push_back(queries->series(ad, q.fromMs, q.toMs, q.filters));
            return out;
        },
        [this, q](const std::vector<SeriesResult>& results) {
            m_busy = false;
            ++m_answers;
            // The chosen ads may have changed while this ran: draw only an answer for the current choice.
            if (q.ads != m_ads || m_dirty) {
                refresh();
                if (q.ads != m_ads)
                    return;
            }
            m_shownQuery = q;
            m_shownResults = results;
            m_chart->setResults(results);
            QStringList parts;
            for (const auto& r : results) {
                if (!r.ok()) {
                    parts << tr("ad %1: %2").arg(r.adId).arg(QString::fromStdString(r.error));
                    continue;
                }
                parts << tr("ad %1: %2 clicks (%3 batch, %4 final, %5 open minutes%6)")
                             .arg(r.adId)
                             .arg(formatCount(static_cast<double>(r.total)))
                             .arg(r.provenance.batchWindows)
                             .arg(r.provenance.speedFinalWindows)
                             .arg(r.provenance.openWindows)
                             .arg(r.path == CountPath::RawLog ? tr(", raw-log recount") : QString());
            }
            m_summary->setText(parts.join(QStringLiteral("; ")));
            emit answered();
        });
}

} // namespace adclick::ui
