#pragma once

#include "dashboard_engine.h"

#include <QWidget>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSettings;
class QSpinBox;
class QStackedWidget;

namespace adclick::ui {

/// The control area: source, start/pause/stop, clock speed, generator knobs (live), watermark
/// and lateness settings (on restart, and the UI says so), run batch now with progress and
/// cancel, crash injection and the speed-layer fault. GUI thread; drives the DashboardEngine.
class ControlPanel final : public QWidget {
    Q_OBJECT
public:
    explicit ControlPanel(DashboardEngine& engine, QWidget* parent = nullptr);

    /// The settings the controls describe now.
    DashboardSettings settings() const;
    void updateStatus(const EngineStatus& status);
    void saveSettings(QSettings& s) const;
    void loadSettings(const QSettings& s);

    QPushButton* startButton() const { return m_start; }
    QPushButton* pauseButton() const { return m_pause; }
    QPushButton* stopButton() const { return m_stop; }
    QPushButton* batchButton() const { return m_batch; }
    QPushButton* cancelBatchButton() const { return m_cancelBatch; }
    QPushButton* crashButton() const { return m_crash; }
    QCheckBox* faultBox() const { return m_fault; }
    QComboBox* speedBox() const { return m_speed; }
    QSpinBox* rateBox() const { return m_rate; }
    QProgressBar* batchProgress() const { return m_progress; }
    QLabel* crashLabel() const { return m_crashText; }

public slots:
    void startOrRestart();
    void togglePause();
    void stopPipeline();
    void runBatchNow();
    void injectCrash();

private:
    void pushGenerator();
    void setFromSettings(const DashboardSettings& s);

    DashboardEngine& m_engine;
    DashboardSettings m_base; ///< what the command line gave: everything the controls do not show
    QComboBox* m_source = nullptr;
    QStackedWidget* m_sourcePages = nullptr;
    QLineEdit* m_file = nullptr;
    QDoubleSpinBox* m_fileSpeed = nullptr;
    QLineEdit* m_brokers = nullptr;
    QLineEdit* m_topic = nullptr;
    QLineEdit* m_group = nullptr;
    QPushButton* m_start = nullptr;
    QPushButton* m_pause = nullptr;
    QPushButton* m_stop = nullptr;
    QComboBox* m_speed = nullptr;
    QSpinBox* m_rate = nullptr;
    QSpinBox* m_ads = nullptr;
    QDoubleSpinBox* m_skew = nullptr;
    QDoubleSpinBox* m_lateFraction = nullptr;
    QDoubleSpinBox* m_lateDelay = nullptr;
    QDoubleSpinBox* m_duplicates = nullptr;
    QDoubleSpinBox* m_malformed = nullptr;
    QSpinBox* m_burstAd = nullptr;
    QDoubleSpinBox* m_burstShare = nullptr;
    QPushButton* m_burst = nullptr;
    QDoubleSpinBox* m_bound = nullptr;
    QDoubleSpinBox* m_lateness = nullptr;
    QComboBox* m_policy = nullptr;
    QLabel* m_restartNote = nullptr;
    QPushButton* m_batch = nullptr;
    QPushButton* m_cancelBatch = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_batchText = nullptr;
    QPushButton* m_crash = nullptr;
    QLabel* m_crashText = nullptr;
    QCheckBox* m_fault = nullptr;
    std::shared_ptr<const EngineStatus> m_status;
    engine::TimeMs m_burstUntilMs = 0;
};

} // namespace adclick::ui
