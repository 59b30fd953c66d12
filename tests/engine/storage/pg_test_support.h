#pragma once

// A real PostgreSQL 15 server for a test: initdb + pg_ctl under a temporary directory, on
// 127.0.0.1 and a port the OS chose free, stopped (and its files removed) by the destructor.
// As root (CI containers) the server runs as the unprivileged user postgres (runuser), the
// only way PostgreSQL agrees to start.

#include "storage/pg_connection.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTcpServer>
#include <QTemporaryDir>

#include <unistd.h>

namespace adclick::test {

class PgTestServer {
public:
    static constexpr const char* kBinDir = "/usr/lib/postgresql/15/bin";

    PgTestServer()
        : m_dir(QDir::tempPath() + "/adclick-pg-XXXXXX")
    {
    }
    ~PgTestServer() { stop(); }

    /// Starts the server; false with error() on failure.
    bool start()
    {
        if (!m_dir.isValid())
            return failed("cannot create a temporary directory");
        if (!QFile::exists(QString(kBinDir) + "/initdb"))
            return failed(QString("PostgreSQL 15 is not installed (%1/initdb missing): scripts/setup installs it")
                              .arg(kBinDir));
        QFile::setPermissions(m_dir.path(), QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner
                | QFileDevice::ReadGroup | QFileDevice::ExeGroup | QFileDevice::ReadOther | QFileDevice::ExeOther);
        if (::geteuid() == 0 && !run("chown", { "postgres", m_dir.path() }, false))
            return false;
        if (!run(QString(kBinDir) + "/initdb",
                { "-D", m_dir.path() + "/data", "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8" }))
            return false;
        QTcpServer probe; // a free port (released just before the server takes it)
        if (!probe.listen(QHostAddress::LocalHost))
            return failed("no free port");
        m_port = probe.serverPort();
        probe.close();
        if (!run(QString(kBinDir) + "/pg_ctl",
                { "-D", m_dir.path() + "/data", "-w", "-t", "60", "-l", m_dir.path() + "/server.log", "-o",
                    QString("-k %1 -h 127.0.0.1 -p %2 -c max_connections=200").arg(m_dir.path()).arg(m_port),
                    "start" }))
            return false;
        m_running = true;
        return true;
    }

    void stop()
    {
        if (!m_running)
            return;
        run(QString(kBinDir) + "/pg_ctl", { "-D", m_dir.path() + "/data", "-m", "fast", "-w", "stop" });
        m_running = false;
    }

    quint16 port() const { return m_port; }
    std::string conninfo(const QString& database = "postgres") const
    {
        return QString("host=127.0.0.1 port=%1 user=postgres dbname=%2 connect_timeout=10")
            .arg(m_port)
            .arg(database)
            .toStdString();
    }
    /// A new empty database (one per test keeps tests apart).
    bool createDatabase(const QString& name)
    {
        std::string error;
        auto c = engine::PgConnection::connect(conninfo(), error);
        if (!c)
            return failed(QString::fromStdString(error));
        // The name is the test's own identifier, checked here: letters, digits and _ only.
        for (const QChar ch : name)
            if (!(ch.isLetterOrNumber() || ch == '_'))
                return failed("bad database name " + name);
        engine::PgResult r = c->exec(("CREATE DATABASE " + name.toStdString()).c_str());
        return r.ok() || failed(QString::fromStdString(r.error()));
    }
    const QString& error() const { return m_error; }
    QString serverLog() const
    {
        QFile f(m_dir.path() + "/server.log");
        return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll().right(4000)) : QString();
    }

private:
    bool failed(const QString& e)
    {
        m_error = e;
        return false;
    }
    /// Runs a PostgreSQL tool (as postgres when root).
    bool run(const QString& program, const QStringList& args, bool asPostgres = true)
    {
        QProcess p;
        p.setProcessChannelMode(QProcess::MergedChannels);
        if (asPostgres && ::geteuid() == 0)
            p.start("runuser", QStringList { "-u", "postgres", "--", program } + args);
        else
            p.start(program, args);
        if (!p.waitForFinished(120000) || p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0)
            return failed(QString("%1 %2 failed: %3").arg(program, args.join(' '), QString::fromUtf8(p.readAll())));
        return true;
    }

    QTemporaryDir m_dir;
    quint16 m_port = 0;
    bool m_running = false;
    QString m_error;
};

} // namespace adclick::test
