#pragma once

#include "panel.h"

#include <QStringList>

#include <array>
#include <chrono>

namespace adclick::ui {

/// The pipeline drawn as its stages — source → raw log → windows → store → serving — each box
/// with its live rate, queue depth and state (checkpoint age, watermark lag, batch coverage):
/// the picture a teacher points at. Painted from the last status; no queries.
class PipelinePanel final : public Panel {
    Q_OBJECT
public:
    explicit PipelinePanel(PanelContext context, QWidget* parent = nullptr);
    void updateStatus(const EngineStatus& status) override;
    /// What the serving box says about the REST server (address, requests).
    void setServingInfo(const QString& text) { m_serving = text; }
    struct Stage {
        QString title;
        QStringList lines;
        bool alarm = false;
    };
    const std::array<Stage, 5>& stages() const { return m_stages; }

protected:
    void paintEvent(QPaintEvent* event) override;

private:
    std::array<Stage, 5> m_stages;
    QString m_serving;
    QString m_footer;
    std::chrono::steady_clock::time_point m_lastWall;
    std::uint64_t m_lastRawRecords = 0;
    std::uint64_t m_lastRawBytes = 0;
    std::uint64_t m_lastRows = 0;
    std::uint64_t m_lastSessions = 0;
    double m_rawRate = 0;
    double m_byteRate = 0;
    double m_rowRate = 0;
};

} // namespace adclick::ui
