#include "series_filters.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>

namespace adclick::ui {

SeriesFilters::SeriesFilters(bool withUserAgentText, QWidget* parent)
    : QWidget(parent)
{
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_region = new QComboBox(this);
    m_region->setEditable(true);
    m_region->addItem(tr("any region"), QString());
    for (const char* c : { "US", "DE", "GB", "FR", "IN", "BR", "JP", "CA", "AU", "ES", "IT", "MX", "NL", "KR", "CN" })
        m_region->addItem(QString::fromLatin1(c), QString::fromLatin1(c));
    m_region->setToolTip(tr("Country (ISO-3166 alpha-2), from the minute rows"));
    m_device = new QComboBox(this);
    m_device->addItem(tr("any device"), QString());
    for (const char* d : { "mobile", "tablet", "desktop", "bot", "other" })
        m_device->addItem(QString::fromLatin1(d), QString::fromLatin1(d));
    m_ip = new QLineEdit(this);
    m_ip->setPlaceholderText(tr("IP or CIDR (raw log)"));
    m_ip->setClearButtonEnabled(true);
    layout->addWidget(new QLabel(tr("Filters:"), this));
    layout->addWidget(m_region);
    layout->addWidget(m_device);
    layout->addWidget(m_ip);
    if (withUserAgentText) {
        m_userAgent = new QLineEdit(this);
        m_userAgent->setPlaceholderText(tr("user agent contains (raw log)"));
        m_userAgent->setClearButtonEnabled(true);
        layout->addWidget(m_userAgent);
        connect(m_userAgent, &QLineEdit::editingFinished, this, &SeriesFilters::changed);
    }
    connect(m_region, &QComboBox::currentIndexChanged, this, &SeriesFilters::changed);
    connect(m_region->lineEdit(), &QLineEdit::editingFinished, this, &SeriesFilters::changed);
    connect(m_device, &QComboBox::currentIndexChanged, this, &SeriesFilters::changed);
    connect(m_ip, &QLineEdit::editingFinished, this, &SeriesFilters::changed);
}

engine::CountFilters SeriesFilters::filters() const
{
    engine::CountFilters f;
    QString region = m_region->currentText().trimmed();
    if (region == m_region->itemText(0))
        region.clear();
    f.region = region.toStdString();
    f.userAgentClass = m_device->currentData().toString().toStdString();
    f.ip = m_ip->text().trimmed().toStdString();
    if (m_userAgent)
        f.userAgentContains = m_userAgent->text().trimmed().toStdString();
    return f;
}

void SeriesFilters::setRegion(const QString& code)
{
    const int i = m_region->findData(code);
    if (i >= 0)
        m_region->setCurrentIndex(i);
    else
        m_region->setEditText(code);
}

void SeriesFilters::setDevice(const QString& name)
{
    m_device->setCurrentIndex(std::max(0, m_device->findData(name)));
}

void SeriesFilters::setIp(const QString& ip)
{
    m_ip->setText(ip);
    emit changed();
}

QStringList adCompletions(const QString& prefix, std::uint32_t adCount, const QStringList& topAds, int limit)
{
    QStringList out;
    for (const QString& a : topAds)
        if (a.startsWith(prefix) && out.size() < limit / 2)
            out << a;
    bool ok = false;
    const qulonglong base = prefix.toULongLong(&ok);
    if (!ok || prefix.startsWith(QLatin1Char('0')))
        return out;
    // prefix, prefix·10 … prefix·10+9, prefix·100 …: every id with this prefix, shortest first.
    for (qulonglong lo = base, span = 1; lo <= adCount && out.size() < limit; lo *= 10, span *= 10)
        for (qulonglong id = lo; id < lo + span && id <= adCount && out.size() < limit; ++id)
            if (!out.contains(QString::number(id)))
                out << QString::number(id);
    return out;
}

} // namespace adclick::ui
