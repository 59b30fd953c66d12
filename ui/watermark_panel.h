#pragma once

#include "chart_util.h"
#include "panel.h"
#include "table_model.h"

#include <array>
#include <memory>

class QBarSet;
class QBarCategoryAxis;
class QLabel;
class QListWidget;
class QTableView;

namespace adclick::ui {

/// Event time, processing time and the watermark over (processing) time; per-partition
/// watermarks and the lag; late events per minute; the lateness histogram; and for a selected
/// open window, why it has not fired yet (which partition holds the watermark back, or idleness).
class WatermarkPanel final : public Panel {
    Q_OBJECT
public:
    explicit WatermarkPanel(PanelContext context, QWidget* parent = nullptr);
    /// Records the series always; draws the charts, the partition table, the labels and the open
    /// windows only while shown (and when shown again).
    void updateStatus(const EngineStatus& status) override;
    TableModel* partitionModel() const { return m_partitions; }
    /// Why window `windowStartMs` has not fired, from the last status (text shown under the list).
    QString explainWindow(engine::TimeMs windowStartMs) const;
    QListWidget* openWindows() const { return m_openWindows; }

    /// The lateness histogram as shown: the engine's power-of-two second buckets joined in pairs
    /// (powers of four), so every bucket name fits on one line.
    static constexpr int kLatenessBuckets = 8;
    static QStringList latenessBucketLabels();
    static std::array<std::uint64_t, kLatenessBuckets> latenessBuckets(const engine::LatenessHistogram& h);
    QBarSet* latenessBars() const { return m_histogram; }

protected:
    void showEvent(QShowEvent* event) override;

private:
    void redraw();
    void updatePartitions(const engine::PipelineSnapshot& snap);
    void updateOpenWindows(const engine::PipelineSnapshot& snap);
    void refreshExplanation();

    RingSeries* m_eventTime = nullptr;
    RingSeries* m_processing = nullptr;
    RingSeries* m_watermark = nullptr;
    std::vector<std::unique_ptr<RingSeries>> m_rings;
    QDateTimeAxis* m_x = nullptr;
    QDateTimeAxis* m_y = nullptr;
    std::unique_ptr<RingSeries> m_lateRing;
    QDateTimeAxis* m_lateX = nullptr;
    QValueAxis* m_lateY = nullptr;
    QBarSet* m_histogram = nullptr;
    QValueAxis* m_histY = nullptr;
    QLabel* m_lag = nullptr;
    TableModel* m_partitions = nullptr;
    QListWidget* m_openWindows = nullptr;
    QLabel* m_why = nullptr;
    std::shared_ptr<const engine::PipelineSnapshot> m_snapshot;
    DashboardSettings m_settings;
    std::uint64_t m_lastSequence = 0;
    engine::TimeMs m_lastLateMinute = 0;
    std::uint64_t m_lateAtMinuteStart = 0;
    bool m_stale = false; ///< recorded points not drawn yet
};

} // namespace adclick::ui
