#pragma once

#include "query/query_service.h"

#include <QWidget>

class QComboBox;
class QLineEdit;

namespace adclick::ui {

/// Region / device class / IP (exact or CIDR) / user-agent text filters of a count or series,
/// as QueryService takes them. Region and device are answered from the minute rows; IP and
/// user-agent text by an exact recount of the raw log.
class SeriesFilters final : public QWidget {
    Q_OBJECT
public:
    explicit SeriesFilters(bool withUserAgentText, QWidget* parent = nullptr);
    engine::CountFilters filters() const;
    void setRegion(const QString& code);
    void setDevice(const QString& name);
    void setIp(const QString& ip);

signals:
    void changed();

private:
    QComboBox* m_region = nullptr;
    QComboBox* m_device = nullptr;
    QLineEdit* m_ip = nullptr;
    QLineEdit* m_userAgent = nullptr;
};

/// Ad-id completion: the live top ads plus the ids that extend what was typed (1 … adCount),
/// so completion works over a million ads without listing them.
QStringList adCompletions(const QString& prefix, std::uint32_t adCount, const QStringList& topAds, int limit = 40);

} // namespace adclick::ui
