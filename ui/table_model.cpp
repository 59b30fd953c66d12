#include "table_model.h"

#include <QLocale>

namespace adclick::ui {

TableModel::TableModel(QStringList headers, QObject* parent)
    : QAbstractTableModel(parent)
    , m_headers(std::move(headers))
{
}

void TableModel::setRows(std::vector<Row> rows)
{
    if (rows.size() == m_rows.size() && !rows.empty()) {
        // Same shape (a live table refreshed in place): a reset would drop the view's selection
        // and scroll position and make it lay out every row again; changed cells are enough.
        m_rows = std::move(rows);
        m_toolTips.clear();
        m_backgrounds.clear();
        emit dataChanged(index(0, 0), index(rowCount() - 1, columnCount() - 1));
        return;
    }
    beginResetModel();
    m_rows = std::move(rows);
    m_toolTips.clear();
    m_backgrounds.clear();
    endResetModel();
}

void TableModel::setRowHints(std::vector<QString> toolTips, std::vector<QVariant> backgrounds)
{
    m_toolTips = std::move(toolTips);
    m_backgrounds = std::move(backgrounds);
    if (!m_rows.empty())
        emit dataChanged(index(0, 0), index(rowCount() - 1, columnCount() - 1));
}

int TableModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
}

int TableModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_headers.size());
}

QVariant TableModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= columnCount())
        return {};
    const auto r = static_cast<std::size_t>(index.row());
    const auto c = static_cast<std::size_t>(index.column());
    switch (role) {
    case Qt::DisplayRole:
    case Qt::EditRole: {
        if (c >= m_rows[r].size())
            return {};
        const QVariant& v = m_rows[r][c];
        if (role == Qt::DisplayRole && (v.typeId() == QMetaType::LongLong || v.typeId() == QMetaType::ULongLong))
            return QLocale::system().toString(v.toLongLong());
        return v;
    }
    case Qt::TextAlignmentRole:
        if (c < m_rows[r].size() && m_rows[r][c].typeId() != QMetaType::QString)
            return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
        return {};
    case Qt::ToolTipRole:
        return r < m_toolTips.size() ? QVariant(m_toolTips[r]) : QVariant();
    case Qt::BackgroundRole:
        return r < m_backgrounds.size() ? m_backgrounds[r] : QVariant();
    default:
        return {};
    }
}

void TableModel::setHeaderToolTip(int section, const QString& text)
{
    if (section < 0 || section >= m_headers.size())
        return;
    while (m_headerToolTips.size() <= section)
        m_headerToolTips << QString();
    m_headerToolTips[section] = text;
    emit headerDataChanged(Qt::Horizontal, section, section);
}

QVariant TableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (role == Qt::ToolTipRole && orientation == Qt::Horizontal && section >= 0 && section < m_headerToolTips.size()
        && !m_headerToolTips[section].isEmpty())
        return m_headerToolTips[section];
    if (role != Qt::DisplayRole)
        return {};
    if (orientation == Qt::Horizontal)
        return section >= 0 && section < m_headers.size() ? QVariant(m_headers[section]) : QVariant();
    return section + 1;
}

QString TableModel::toCsv() const
{
    auto quote = [](QString s) {
        if (s.contains(QLatin1Char(',')) || s.contains(QLatin1Char('"')) || s.contains(QLatin1Char('\n')))
            s = QLatin1Char('"') + s.replace(QLatin1String("\""), QLatin1String("\"\"")) + QLatin1Char('"');
        return s;
    };
    QString out;
    QStringList header;
    for (const QString& h : m_headers)
        header << quote(h);
    out += header.join(QLatin1Char(',')) + QLatin1Char('\n');
    for (const Row& row : m_rows) {
        QStringList cells;
        for (const QVariant& v : row)
            cells << quote(v.toString());
        out += cells.join(QLatin1Char(',')) + QLatin1Char('\n');
    }
    return out;
}

} // namespace adclick::ui
