#include "ui_version.h"

#include <QtGlobal>

namespace adclick::ui {

QString versionString()
{
    return QStringLiteral("adclick 0.1.0 (Qt %1)").arg(QString::fromLatin1(qVersion()));
}

} // namespace adclick::ui
