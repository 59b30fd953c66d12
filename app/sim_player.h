#pragma once

#include "sim_expect.h"
#include "sim_runner.h"
#include "sim_scenario.h"

#include <QElapsedTimer>
#include <QJsonObject>
#include <QMainWindow>
#include <QStringList>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>

#include <memory>
#include <vector>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineSeries;
class QListWidget;
class QProgressBar;
class QScatterSeries;
class QTableWidget;
class QToolButton;
class QValueAxis;

namespace adclick::app {

class SimWorker;

/// Plays a scenario (simulations/*.json) on the desktop for a class or a demo: the same SimRunner
/// as `adclick simulate`, run on a worker thread and paced to a chosen speed (simulated time per
/// wall second, or as fast as it goes), with each step of its narrative shown as a caption (and
/// optionally a pause there, so the teacher can explain it), live charts of clicks counted per
/// minute, late drops and watermark lag, and at the end the scenario's expectations with their
/// actual values. Same file, same seed: the same captions and figures as `adclick simulate`.
class SimPlayer final : public QMainWindow {
    Q_OBJECT
public:
    /// Speeds offered, in simulated milliseconds per wall second; 0 = as fast as it goes.
    static const std::vector<std::pair<QString, double>>& speeds();

    SimPlayer(Scenario scenario, bool ci, QWidget* parent = nullptr);
    ~SimPlayer() override; ///< waits for the step in progress, removes the scenario's data

    void play();
    void pause();
    bool playing() const { return m_playing; }
    /// Simulated ms per wall second (0: as fast as it goes).
    void setSpeed(double simulatedMsPerSecond);
    /// Pause after each step of the narrative (a crash, a restart, a batch run…).
    void setPauseAtSteps(bool on);

    const Scenario& scenario() const { return m_scenario; }
    /// Every caption so far, in order (the narrative lines of SimRunner).
    const QStringList& captions() const { return m_captions; }
    QString currentCaption() const;
    bool finished() const { return m_finished; }
    const QString& error() const { return m_error; }
    /// Set when finished: the expectations checked against the run's figures.
    const std::vector<ExpectationResult>& results() const { return m_results; }
    const QJsonObject& figures() const { return m_figures; }
    /// Samples of the variant playing (the charts' data).
    const std::vector<SimSample>& samples() const { return m_samples; }
    QLineSeries* countedSeries() const { return m_counted; }
    QLineSeries* lagSeries() const { return m_lag; }
    QScatterSeries* stepSeries() const { return m_steps; }
    QTableWidget* expectationTable() const { return m_table; }
    int progressPercent() const;

signals:
    /// The scenario ended: every expectation held (passed) or not, or the run failed (error()).
    void done(bool passed);

private:
    void buildUi();
    void tick();
    void onCaption(const QString& line);
    void onStepped(std::vector<SimSample> samples, engine::TimeMs offsetMs, bool more);
    void onFinished(QJsonObject figures, QString error);
    void redrawCharts();
    void updateStatus();

    Scenario m_scenario;
    QTemporaryDir m_workDir;
    QThread m_thread;
    SimWorker* m_worker = nullptr; ///< lives on m_thread
    QTimer m_timer;
    QElapsedTimer m_sinceRequest;
    bool m_playing = false;
    bool m_busy = false; ///< a step is running on the worker
    bool m_finished = false;
    bool m_pauseAtSteps = false;
    double m_speed = 60'000; ///< simulated ms per wall second
    engine::TimeMs m_durationMs = 0; ///< of one variant
    engine::TimeMs m_offsetMs = 0; ///< of the variant playing
    std::size_t m_variant = 0;
    std::vector<SimSample> m_samples;
    QStringList m_captions;
    QJsonObject m_figures;
    std::vector<ExpectationResult> m_results;
    QString m_error;

    QLabel* m_caption = nullptr;
    QListWidget* m_log = nullptr;
    QProgressBar* m_progress = nullptr;
    QToolButton* m_playButton = nullptr;
    QComboBox* m_speedBox = nullptr;
    QCheckBox* m_pauseBox = nullptr;
    QLineSeries* m_counted = nullptr;
    QLineSeries* m_late = nullptr;
    QLineSeries* m_lag = nullptr;
    QScatterSeries* m_steps = nullptr;
    std::vector<double> m_stepTimes; ///< minutes of processing time of the captions (this variant)
    QValueAxis* m_xAxis = nullptr;
    QValueAxis* m_countAxis = nullptr;
    QValueAxis* m_lagAxis = nullptr;
    QTableWidget* m_table = nullptr;
};

} // namespace adclick::app
