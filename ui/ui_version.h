#pragma once

#include <QString>

namespace adclick::ui {

/// Human-readable build description shown in the About box and window titles.
QString versionString();

} // namespace adclick::ui
