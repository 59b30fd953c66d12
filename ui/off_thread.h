#pragma once

#include <QMetaObject>
#include <QObject>
#include <QPointer>
#include <QThreadPool>

#include <memory>
#include <utility>

namespace adclick::ui {

/// Runs work() on `pool` (SQLite queries, raw log scans: never on the GUI thread) and then
/// done(result) on receiver's thread, unless the receiver is gone by then. The pool must
/// outlive nothing the work uses: its owner waits for it before tearing the engine down.
template <typename Work, typename Done> void runOffThread(QThreadPool& pool, QObject* receiver, Work work, Done done)
{
    QPointer<QObject> guard(receiver);
    pool.start([guard, work = std::move(work), done = std::move(done)]() mutable {
        auto result = std::make_shared<decltype(work())>(work());
        QObject* target = guard.data();
        if (!target)
            return;
        QMetaObject::invokeMethod(
            target,
            [guard, result, done = std::move(done)]() mutable {
                if (guard)
                    done(*result);
            },
            Qt::QueuedConnection);
    });
}

} // namespace adclick::ui
