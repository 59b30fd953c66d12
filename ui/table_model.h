#pragma once

#include <QAbstractTableModel>
#include <QStringList>
#include <QVariant>

#include <vector>

namespace adclick::ui {

/// A read-only table of rows that a panel replaces as a whole from an immutable snapshot or a
/// query answer (hotspot's small base model: the panels only supply headers and rows).
/// Display values are what the cell shows; numbers stay numbers so that sorting by a proxy works.
/// GUI thread only.
class TableModel final : public QAbstractTableModel {
    Q_OBJECT
public:
    using Row = std::vector<QVariant>;

    explicit TableModel(QStringList headers, QObject* parent = nullptr);

    /// Replaces every row. Rows with fewer cells than headers show the rest empty. With as many
    /// rows as before the views keep their selection and scroll position (dataChanged, no reset).
    void setRows(std::vector<Row> rows);
    /// A row's tooltip / background hint per row (optional; same length as rows, or empty).
    void setRowHints(std::vector<QString> toolTips, std::vector<QVariant> backgrounds);
    const std::vector<Row>& rows() const { return m_rows; }
    const QStringList& headers() const { return m_headers; }
    /// Tooltip of a column header (what the column means, its unit).
    void setHeaderToolTip(int section, const QString& text);
    /// The table as CSV (RFC 4180 quoting), header line first.
    QString toCsv() const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    QStringList m_headers;
    QStringList m_headerToolTips;
    std::vector<Row> m_rows;
    std::vector<QString> m_toolTips;
    std::vector<QVariant> m_backgrounds;
};

} // namespace adclick::ui
