#pragma once

#include "dashboard_engine.h"

#include <QWidget>

class QThreadPool;

namespace adclick::ui {

/// What every panel gets: the engine (controls, QueryService) and the pool its queries run on.
struct PanelContext {
    DashboardEngine* engine = nullptr;
    QThreadPool* pool = nullptr;
};

/// One dashboard panel. updateStatus() is called on the GUI thread with each new immutable
/// status (≥ 4 Hz) and must only copy figures into fixed-size buffers and charts: anything that
/// reads SQLite or the raw log goes to the pool.
class Panel : public QWidget {
    Q_OBJECT
public:
    Panel(PanelContext context, QWidget* parent = nullptr)
        : QWidget(parent)
        , m_context(context)
    {
    }
    virtual void updateStatus(const EngineStatus& status) = 0;

protected:
    PanelContext m_context;
};

} // namespace adclick::ui
