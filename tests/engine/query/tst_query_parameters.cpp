// QueryService, what it refuses: bad parameters are errors naming the parameter, a missing or
// misconfigured store answers Unavailable / Failed, and ad ids resolve (numeric and named).
// (Counts against the oracle: tst_query_service.cpp.)

#include "engine/query/query_test_support.h"

#include <QTemporaryDir>
#include <QtTest>

using namespace adclick::engine;
using namespace adclick::test;

class TestQueryParameters : public QObject {
    Q_OBJECT

    QTemporaryDir m_finalDir; // finished run: every window final, no lateness
    DataSet m_final;
    TimeMs m_t0 = 0; // the data set's nominal start (an hour boundary)

private slots:
    void initTestCase()
    {
        DataSpec spec;
        spec.stream.seed = 11;
        spec.stream.events = 20000;
        spec.stream.stepMs = 540; // three hours of event time
        QVERIFY(buildDataDirectory(m_finalDir.path(), spec, m_final));
        m_t0 = spec.stream.startMs;
    }

    void badParametersAreErrors_data()
    {
        QTest::addColumn<qint64>("from");
        QTest::addColumn<qint64>("to");
        QTest::addColumn<QString>("region");
        QTest::addColumn<QString>("cls");
        QTest::addColumn<QString>("ip");
        QTest::addColumn<QString>("ua");
        QTest::addColumn<QString>("parameter");
        const qint64 t = 1767225600000LL;
        QTest::newRow("from = to") << t << t << ""
                                   << ""
                                   << ""
                                   << ""
                                   << "from";
        QTest::newRow("from > to") << t + 1 << t << ""
                                   << ""
                                   << ""
                                   << ""
                                   << "from";
        QTest::newRow("negative from") << qint64(-1) << t << ""
                                       << ""
                                       << ""
                                       << ""
                                       << "from";
        QTest::newRow("to past 2100") << t << qint64(5000000000000LL) << ""
                                      << ""
                                      << ""
                                      << ""
                                      << "to";
        QTest::newRow("huge to") << t << qint64(INT64_MAX) << ""
                                 << ""
                                 << ""
                                 << ""
                                 << "to";
        QTest::newRow("unknown region") << t << t + 1 << "ZZ"
                                        << ""
                                        << ""
                                        << ""
                                        << "region";
        QTest::newRow("3-letter region") << t << t + 1 << "USA"
                                         << ""
                                         << ""
                                         << ""
                                         << "region";
        QTest::newRow("unknown class") << t << t + 1 << ""
                                       << "phone"
                                       << ""
                                       << ""
                                       << "userAgentClass";
        QTest::newRow("bad ip") << t << t + 1 << ""
                                << ""
                                << "10.0.0.300"
                                << ""
                                << "ip";
        QTest::newRow("bad v4 prefix") << t << t + 1 << ""
                                       << ""
                                       << "10.0.0.0/33"
                                       << ""
                                       << "ip";
        QTest::newRow("bad v6") << t << t + 1 << ""
                                << ""
                                << "2001:db8:::1"
                                << ""
                                << "ip";
        QTest::newRow("long ua") << t << t + 1 << ""
                                 << ""
                                 << "" << QString(600, 'a') << "userAgentContains";
    }
    void badParametersAreErrors()
    {
        QFETCH(qint64, from);
        QFETCH(qint64, to);
        QFETCH(QString, region);
        QFETCH(QString, cls);
        QFETCH(QString, ip);
        QFETCH(QString, ua);
        QFETCH(QString, parameter);
        QueryService svc(m_finalDir.path().toStdString(), queryOptions(m_final));
        const CountResult r
            = svc.count(1, from, to, { region.toStdString(), cls.toStdString(), ip.toStdString(), ua.toStdString() });
        QCOMPARE(r.status, QueryStatus::BadParameter);
        QCOMPARE(QString::fromStdString(r.errorParameter), parameter);
        QVERIFY2(r.error.find(parameter.toStdString()) != std::string::npos, r.error.c_str());
    }

    void unavailableAndMisconfigured()
    {
        QTemporaryDir empty;
        QueryService svc((empty.path() + "/nothing-here").toStdString(), {});
        const CountResult r = svc.count(1, m_t0, m_t0 + kMsPerHour);
        QCOMPARE(r.status, QueryStatus::Unavailable);
        QVERIFY(!r.error.empty());
        QCOMPARE(svc.topK(5u, 10u).status, QueryStatus::Unavailable);
        QCOMPARE(svc.topK(m_t0, m_t0 + 1, 10).status, QueryStatus::Unavailable);
        QVERIFY(!svc.resolveAd("campaign").has_value());
        QCOMPARE(svc.resolveAd("12").value_or(0), AdId(12)); // numeric ids need no database
        QCOMPARE(svc.count(1, m_t0, m_t0 + 1, { {}, {}, "10.0.0.1", {} }).status, QueryStatus::Unavailable);

        QueryService::Options bad;
        bad.windowMs = 7 * kMsPerSecond; // does not divide an hour
        QueryService misconfigured(m_finalDir.path().toStdString(), bad);
        QCOMPARE(misconfigured.count(1, m_t0, m_t0 + 1).status, QueryStatus::Failed);

        QueryService ok(m_finalDir.path().toStdString(), queryOptions(m_final));
        QCOMPARE(ok.topK(0u, 10u).errorParameter, std::string("windowMinutes"));
        QCOMPARE(ok.topK(QueryService::kMaxWindowMinutes + 1, 10u).errorParameter, std::string("windowMinutes"));
        QCOMPARE(ok.topK(5u, 0u).errorParameter, std::string("k"));
        QCOMPARE(ok.topK(5u, QueryService::kMaxK + 1).errorParameter, std::string("k"));
        QCOMPARE(ok.topK(m_t0, m_t0, 10).errorParameter, std::string("from"));
    }

    void resolvesAds()
    {
        QTemporaryDir dir;
        {
            auto store = openWritable(dir.path());
            QVERIFY(store);
            CheckpointData ck;
            ck.newAds = { { kFirstNamedAdId, "campaign-x" }, { kFirstNamedAdId + 1, "042" } };
            QCOMPARE(store->writeCheckpoint(ck), StoreStatus::Ok);
        }
        QueryService svc(dir.path().toStdString(), {});
        QCOMPARE(svc.resolveAd("42").value_or(0), AdId(42));
        QCOMPARE(svc.resolveAd("0").value_or(1), AdId(0));
        QCOMPARE(svc.resolveAd("2147483647").value_or(0), AdId(2147483647));
        QVERIFY(!svc.resolveAd("2147483648").has_value());
        QCOMPARE(svc.resolveAd("campaign-x").value_or(0), kFirstNamedAdId);
        QCOMPARE(svc.resolveAd("042").value_or(0), kFirstNamedAdId + 1); // not canonical: a name
        QVERIFY(!svc.resolveAd("campaign-y").has_value());
        QVERIFY(!svc.resolveAd("").has_value());
        QCOMPARE(svc.adName(7).value_or(""), std::string("7"));
        QCOMPARE(svc.adName(kFirstNamedAdId).value_or(""), std::string("campaign-x"));
        QVERIFY(!svc.adName(kFirstNamedAdId + 5).has_value());
    }

};

QTEST_GUILESS_MAIN(TestQueryParameters)
#include "tst_query_parameters.moc"
