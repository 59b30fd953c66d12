#pragma once

#include "dashboard_engine.h"
#include "panel.h"

#include <QMainWindow>
#include <QThreadPool>

#include <vector>

class QLabel;
class QTabWidget;
class QTimer;

namespace adclick::ui {

class ControlPanel;
class PipelinePanel;
class ThroughputPanel;
class TopKPanel;
class WatermarkPanel;
class ReconciliationPanel;
class ClicksPanel;
class ExplorePanel;

/// The desktop dashboard: the control dock, the panels as tabs and a status bar (rate, watermark
/// lag, checkpoint age). A QTimer polls the engine's immutable status at 5 Hz; the GUI thread
/// never queries SQLite or the raw log (panels use the pool). Settings and layout persist
/// through QSettings; closing the window stops ingestion with a final checkpoint.
class MainWindow final : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(DashboardEngine& engine, QWidget* parent = nullptr);
    ~MainWindow() override;

    static constexpr int kPollIntervalMs = 200;

    ControlPanel* controls() const { return m_controls; }
    QTabWidget* tabs() const { return m_tabs; }
    ThroughputPanel* throughput() const { return m_throughput; }
    TopKPanel* topK() const { return m_topK; }
    WatermarkPanel* watermark() const { return m_watermark; }
    ReconciliationPanel* reconciliation() const { return m_reconciliation; }
    PipelinePanel* pipeline() const { return m_pipeline; }
    ClicksPanel* clicks() const { return m_clicks; }
    ExplorePanel* explore() const { return m_explore; }
    const std::vector<Panel*>& panels() const { return m_panels; }
    /// Adds a panel as a tab.
    void addPanel(Panel* panel, const QString& title);
    /// The REST server line the pipeline picture and status bar show.
    void setServingInfo(const QString& text);
    QThreadPool& pool() { return m_pool; }
    /// Polls the engine now (the timer does this every kPollIntervalMs).
    void poll();
    std::uint64_t polls() const { return m_polls; }
    /// File → Play a scenario…: asks for a scenario file (simulations/*.json) unless `path` is
    /// given, then emits playScenarioRequested (the app opens its player window).
    void requestPlayScenario(QString path = {});

signals:
    void playScenarioRequested(const QString& path);

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void buildActions();
    void saveLayout();
    void restoreLayout();

    DashboardEngine& m_engine;
    QThreadPool m_pool;
    ControlPanel* m_controls = nullptr;
    QTabWidget* m_tabs = nullptr;
    ThroughputPanel* m_throughput = nullptr;
    TopKPanel* m_topK = nullptr;
    WatermarkPanel* m_watermark = nullptr;
    ReconciliationPanel* m_reconciliation = nullptr;
    PipelinePanel* m_pipeline = nullptr;
    ClicksPanel* m_clicks = nullptr;
    ExplorePanel* m_explore = nullptr;
    std::vector<Panel*> m_panels;
    QLabel* m_stateLabel = nullptr;
    QLabel* m_rateLabel = nullptr;
    QLabel* m_lagLabel = nullptr;
    QLabel* m_checkpointLabel = nullptr;
    QLabel* m_servingLabel = nullptr;
    QTimer* m_timer = nullptr;
    std::uint64_t m_lastSequence = 0;
    std::uint64_t m_polls = 0;
    bool m_closed = false;
};

} // namespace adclick::ui
