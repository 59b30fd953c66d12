#include "topk_panel.h"

#include "chart_util.h"

#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QHeaderView>
#include <QLabel>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

#include <unordered_map>

namespace adclick::ui {

namespace {
constexpr int kBars = 20;

/// Each QBarSet change lays out every bar of the chart again: one remove and one append per
/// refresh (not a replace per bar), none when nothing changed.
void setBarValues(QBarSet* set, const QList<qreal>& values)
{
    bool same = set->count() == values.size();
    for (int i = 0; same && i < values.size(); ++i)
        same = set->at(i) == values[i];
    if (same)
        return;
    set->remove(0, set->count());
    set->append(values);
}
} // namespace

TopKPanel::TopKPanel(PanelContext context, QWidget* parent)
    : Panel(context, parent)
{
    auto* chart = new QChart;
    m_view = makeChartView(chart, tr("Top 20 ads, last minute of event time"));
    auto* bars = new QBarSeries;
    m_exact = new QBarSet(tr("exact"));
    m_approx = new QBarSet(tr("approximate (Count-Min estimate)"));
    m_exact->setColor(QColor(0x1f, 0x77, 0xb4));
    m_approx->setColor(QColor(0xff, 0xbb, 0x78));
    bars->append(m_exact);
    bars->append(m_approx);
    chart->addSeries(bars);
    m_categories = new QBarCategoryAxis;
    m_categories->setLabelsAngle(-60);
    chart->addAxis(m_categories, Qt::AlignBottom);
    bars->attachAxis(m_categories);
    m_y = addValueAxis(chart, tr("clicks"));
    bars->attachAxis(m_y);

    m_summary = new QLabel(this);
    m_summary->setWordWrap(true);
    m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_model = new TableModel({ tr("rank"), tr("ad"), tr("exact count"), tr("approx. rank"), tr("estimate"),
                                 tr("error (estimate − exact)"), tr("within ε·N") },
        this);
    m_table = new QTableView(this);
    m_table->setModel(m_model);
    m_table->verticalHeader()->hide();
    // Sized to the contents when the table first fills, not at every refresh (that measures all rows).
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setAlternatingRowColors(true);

    auto* split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(m_view);
    split->addWidget(m_table);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_summary);
    layout->addWidget(split, 1);
}

void TopKPanel::updateStatus(const EngineStatus& status)
{
    if (!status.snapshot || !isVisible()) // rebuilt when shown: 100 rows and 40 bars are not free
        return;
    const engine::TopKResult& t = status.snapshot->topK;
    if (!t.valid) {
        m_summary->setText(tr("Top-K: no complete window yet (the watermark has not passed the first 10 s slot)."));
        return;
    }
    if (t.windowEndMs == m_shownWindowEnd && t.totalEvents == m_shownTotal)
        return;
    m_shownWindowEnd = t.windowEndMs;
    m_shownTotal = t.totalEvents;
    m_summary->setText(
        tr("Window [%1, %2) of event time: N = %3 clicks. Count-Min ε = %4, δ = %5 → each estimate ≤ exact + ε·N = "
           "%6 with probability ≥ %7. Measured: max error %8, mean %9, precision of the approximate top %10 = %11%, "
           "%12. Memory: sketch %13 KiB, exact maps %14 KiB.")
            .arg(
                formatTime(t.windowStartMs), formatTime(t.windowEndMs), formatCount(static_cast<double>(t.totalEvents)))
            .arg(t.epsilon, 0, 'g', 3)
            .arg(t.delta, 0, 'g', 3)
            .arg(formatCount(static_cast<double>(t.errorBound)))
            .arg(1.0 - t.delta, 0, 'f', 3)
            .arg(formatCount(static_cast<double>(t.maxAbsError)))
            .arg(t.meanAbsError, 0, 'f', 2)
            .arg(t.k)
            .arg(t.precision * 100.0, 0, 'f', 1)
            .arg(t.withinBound ? tr("every estimate within the bound") : tr("SOME ESTIMATE EXCEEDS THE BOUND"))
            .arg(static_cast<double>(t.sketchBytes) / 1024.0, 0, 'f', 0)
            .arg(static_cast<double>(t.exactBytes) / 1024.0, 0, 'f', 0));

    std::unordered_map<engine::AdId, std::pair<int, const engine::TopKApproxEntry*>> approxRank;
    for (std::size_t i = 0; i < t.approx.size(); ++i)
        approxRank.emplace(t.approx[i].adId, std::make_pair(static_cast<int>(i) + 1, &t.approx[i]));

    QStringList categories;
    QList<qreal> exact;
    QList<qreal> approx;
    double max = 1;
    std::vector<TableModel::Row> rows;
    rows.reserve(t.exact.size());
    for (std::size_t i = 0; i < t.exact.size(); ++i) {
        const engine::TopKEntry& e = t.exact[i];
        const auto it = approxRank.find(e.adId);
        TableModel::Row row { static_cast<qlonglong>(i + 1), QString::number(e.adId), static_cast<qlonglong>(e.count) };
        if (it != approxRank.end()) {
            const auto& a = *it->second.second;
            const auto err = static_cast<qlonglong>(a.estimate) - static_cast<qlonglong>(a.exactCount);
            row.insert(row.end(),
                { it->second.first, static_cast<qlonglong>(a.estimate), err,
                    err <= static_cast<qlonglong>(t.errorBound) ? tr("yes") : tr("NO") });
        } else {
            row.insert(row.end(), { tr("not in approx. top %1").arg(t.k), QVariant(), QVariant(), QVariant() });
        }
        rows.push_back(std::move(row));
        if (static_cast<int>(i) < kBars) {
            categories << QString::number(e.adId);
            exact << static_cast<qreal>(e.count);
            const qreal est = it != approxRank.end() ? static_cast<qreal>(it->second.second->estimate) : 0.0;
            approx << est;
            max = std::max({ max, static_cast<double>(e.count), static_cast<double>(est) });
        }
    }
    const bool firstFill = m_model->rowCount() == 0 && !rows.empty();
    m_model->setRows(std::move(rows));
    if (firstFill)
        m_table->resizeColumnsToContents();
    // In place: the axis is relabelled only when the ranking changed, and bars keep their items.
    if (categories != m_categories->categories())
        m_categories->setCategories(categories);
    setBarValues(m_exact, exact);
    setBarValues(m_approx, approx);
    setRangeIfChanged(m_y, 0, niceCeil(max * 1.05));
}

} // namespace adclick::ui
