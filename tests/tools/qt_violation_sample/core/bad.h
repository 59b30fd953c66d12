#pragma once
// Sample for engine_qt_check_detects_violation: the checker must reject this file.
#include <QString>
