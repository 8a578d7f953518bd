//! The shared budget in PostgreSQL: clients with their own governors and their own database
//! sessions (as processes on several hosts have) that name one database keep the org's bucket
//! and concurrency limits together; a session that dies gives its slots and requests back at
//! once; a database that stops, or stops answering, leaves every client to govern alone
//! without delay; a password in the URL shows nowhere.
#![cfg(feature = "simulator")]

use crate::common;

use std::time::{Duration, Instant};

use crate::client_shared_budget::{limited_org, reads_at_once};
use common::client_for;
use common::postgres::Postgres;
use okta_lifecycle::config::PostgresUrl;
use okta_lifecycle::http::shared::{SharedBudget, LOCK_PATIENCE, STORE_PATIENCE};
use okta_lifecycle::simulator::{Simulator, SimulatorConfig};
use okta_lifecycle::{BudgetSharing, ClientConfig, Error, OktaClient};

fn sharing(url: &str) -> BudgetSharing {
    BudgetSharing::from_text(url).expect("a PostgreSQL URL")
}

/// A client of `sim` sharing its budget through the database at `url`.
fn client(sim: &Simulator, url: &str, max_concurrency: usize) -> OktaClient {
    client_for(sim, |config| {
        config.budget_sharing = sharing(url);
        config.max_concurrency = max_concurrency;
    })
}

/// Runs one statement on the test's own connection and returns its rows.
async fn sql(server: &Postgres, statement: &str) -> Vec<tokio_postgres::Row> {
    let (client, connection) = tokio_postgres::connect(&server.url(), tokio_postgres::NoTls).await.expect("connects");
    let driver = tokio::spawn(connection);
    let rows = client.query(statement, &[]).await.unwrap_or_else(|error| panic!("{statement}: {error}"));
    drop(client);
    let _ = driver.await;
    rows
}

/// The advisory locks held in the database now (the budget's slots).
async fn advisory_locks(server: &Postgres) -> i64 {
    sql(server, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").await[0].get(0)
}

/// Waits (up to 20 s) until `sessions` budget sessions are connected and idle: each client's
/// store connects in the background, and its first request would otherwise wait for that.
async fn connected(server: &Postgres, sessions: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let idle: i64 = sql(
            server,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'okta-lifecycle budget' AND state = 'idle'",
        )
        .await[0]
            .get(0);
        if idle == sessions {
            return;
        }
        assert!(Instant::now() < deadline, "{idle} budget sessions of {sessions} connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A loopback URL where no server listens.
fn nobody_listens(password: Option<&str>) -> String {
    let port = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port();
    let user = password.map_or("okta".to_owned(), |password| format!("okta:{password}"));
    format!("postgresql://{user}@127.0.0.1:{port}/postgres")
}

/// `clients` clients, each with its own governor and session, each sending `each` reads at once.
async fn burst(
    sim: &Simulator,
    server: Option<&Postgres>,
    clients: usize,
    each: usize,
    max_concurrency: usize,
) -> Vec<OktaClient> {
    let url = server.map_or("off".to_owned(), Postgres::url);
    let clients: Vec<OktaClient> = (0..clients).map(|_| client(sim, &url, max_concurrency)).collect();
    if let Some(server) = server {
        connected(server, clients.len() as i64).await;
    }
    reads_at_once(&clients, each).await;
    clients
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_sharing_a_database_keep_a_burst_past_the_bucket_limit_under_it_together() {
    let server = Postgres::start();
    let sim = Simulator::start(limited_org()).await.unwrap();
    // 60 reads of a bucket of 20 per window: three windows, no 429.
    let clients = burst(&sim, Some(&server), 4, 15, 16).await;
    let shared = sim.counters();
    assert_eq!(shared.requests, 60, "{shared:?}");
    assert_eq!(shared.rate_limited, 0, "four clients sharing one database act as one: {shared:?}");
    for client in &clients {
        assert!(client.governor().shares_budget(), "no client gave the database up");
    }
    // One row for the org, keyed by its origin, holding what was learnt of the bucket.
    let rows =
        sql(&server, "SELECT org, state->'buckets'->'/api/v1/users/{idOrLogin}'->>'limit' FROM okta_lifecycle_budget")
            .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, String>(0), sim.url().trim_end_matches('/'));
    assert_eq!(rows[0].get::<_, Option<String>>(1).as_deref(), Some("20"));
    // An estimate, kept out of the write-ahead log.
    let persistence =
        sql(&server, "SELECT relpersistence::text FROM pg_class WHERE relname = 'okta_lifecycle_budget'").await;
    assert_eq!(persistence[0].get::<_, String>(0), "u");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_sharing_a_database_share_the_concurrency_slots_and_give_every_one_back() {
    let server = Postgres::start();
    let config = || SimulatorConfig { seed_users: 1, concurrency_limit: Some(4), latency_ms: 30, ..Default::default() };
    let sim = Simulator::start(config()).await.unwrap();
    let clients = burst(&sim, Some(&server), 4, 12, 4).await;
    let shared = sim.counters();
    assert!(shared.max_in_flight <= 4, "four clients together never have more than four in flight: {shared:?}");
    assert_eq!(shared.concurrency_limited, 0, "{shared:?}");
    // Every slot taken was given back: the sessions hold no advisory lock once all is answered.
    let deadline = Instant::now() + Duration::from_secs(5);
    while advisory_locks(&server).await > 0 {
        assert!(Instant::now() < deadline, "slots still held: {}", advisory_locks(&server).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(clients);

    let sim = Simulator::start(config()).await.unwrap();
    burst(&sim, None, 4, 12, 4).await;
    assert!(sim.counters().concurrency_limited > 0, "each alone fills its four slots: {:?}", sim.counters());
}

/// A session killed (its process killed, its host lost, or ended by the server) while it holds
/// every slot and the first request to a new bucket holds nobody up: the server gives its slots
/// back at once, and its requests are dropped from the estimate at the next decision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_dies_holding_slots_and_a_probe_holds_no_other_client_up() {
    let server = Postgres::start();
    let sim =
        Simulator::start(SimulatorConfig { seed_users: 1, latency_ms: 1000, ..Default::default() }).await.unwrap();
    let first = client(&sim, &server.url(), 4);
    connected(&server, 1).await;
    let session: i32 =
        sql(&server, "SELECT pid FROM pg_stat_activity WHERE application_name = 'okta-lifecycle budget'").await[0]
            .get(0);
    first.users().get("user1@example.com").await.unwrap();
    // The first request to the groups bucket (a probe the others would wait for) and three reads
    // of a bucket known by now: every one of the four slots.
    let held: Vec<_> = (0..4)
        .map(|index| {
            let first = first.clone();
            tokio::spawn(async move {
                if index == 0 {
                    first.groups().find_by_name("nobody").await.map(|_| ())
                } else {
                    first.users().get("user1@example.com").await.map(|_| ())
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while advisory_locks(&server).await < 4 {
        assert!(Instant::now() < deadline, "the first client never held its four slots");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let ended: bool = sql(&server, &format!("SELECT pg_terminate_backend({session})")).await[0].get(0);
    assert!(ended);
    let gone = format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {session}");
    while sql(&server, &gone).await[0].get::<_, i64>(0) > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(advisory_locks(&server).await, 0, "the server gave the session's slots back");

    let second = client(&sim, &server.url(), 4);
    connected(&server, 1).await;
    let started = Instant::now();
    let probe = {
        let second = second.clone();
        async move { second.groups().find_by_name("somebody").await.unwrap() }
    };
    let reads = (0..8).map(|_| {
        let second = second.clone();
        async move { second.users().get("user1@example.com").await.unwrap() }
    });
    let (_, _) = tokio::join!(probe, futures_util::future::join_all(reads));
    let took = started.elapsed();
    // Nine requests of a second each over four slots: three rounds; held up, the second client
    // would have waited the store's patience before going alone.
    assert!(took < STORE_PATIENCE, "took {took:?}");
    assert!(second.governor().shares_budget(), "the second client still shares its budget");
    // The first client's requests end normally; having lost its session, it governs alone.
    for request in held {
        request.await.unwrap().unwrap();
    }
    let again = Instant::now();
    first.users().get("user1@example.com").await.unwrap();
    assert!(again.elapsed() < Duration::from_secs(2), "{:?}", again.elapsed());
    assert!(!first.governor().shares_budget(), "the client whose session ended governs alone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_stopped_mid_run_leaves_every_request_to_complete_governed_alone() {
    let server = Postgres::start();
    let sim = Simulator::start(SimulatorConfig { seed_users: 1, latency_ms: 20, ..Default::default() }).await.unwrap();
    let client = client(&sim, &server.url(), 4);
    connected(&server, 1).await;
    let started = Instant::now();
    let reads: Vec<_> = (0..80)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let read = Instant::now();
                client.users().get("user1@example.com").await.map(|_| read.elapsed())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(sim.counters().requests > 0, "the run is under way when the server stops");
    // Stopped as a crash would stop it (`pg_ctl stop -m immediate`), and removed.
    drop(server);
    let mut slowest = Duration::ZERO;
    for read in reads {
        slowest = slowest.max(read.await.unwrap().expect("every read completes"));
    }
    let took = started.elapsed();
    assert!(!client.governor().shares_budget(), "the client governs alone");
    assert!(slowest < LOCK_PATIENCE + Duration::from_secs(2), "slowest read {slowest:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    // Later requests go at once.
    let again = Instant::now();
    client.users().get("user1@example.com").await.unwrap();
    assert!(again.elapsed() < Duration::from_millis(500), "{:?}", again.elapsed());
}

/// A process stopped (SIGSTOP) in the middle of its transaction holds the org's row locked. A
/// budget session is ended by the server after a second idle in it, so the others wait that
/// long and go on sharing; a session of anything else that holds the row is given up after the
/// store's patience.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_held_locked_by_a_stopped_process_is_waited_on_for_the_patience_at_most() {
    let server = Postgres::start();
    let sim = Simulator::start(SimulatorConfig { seed_users: 1, ..Default::default() }).await.unwrap();
    let client = client(&sim, &server.url(), 4);
    connected(&server, 1).await;
    client.users().get("user1@example.com").await.unwrap();
    let hold = |settings: &'static str| {
        let url = server.url();
        async move {
            let (holder, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            holder.batch_execute(settings).await.unwrap();
            holder.batch_execute("BEGIN; SELECT state FROM okta_lifecycle_budget FOR UPDATE").await.unwrap();
            holder
        }
    };
    // As a budget session would be: ended by the server after a second.
    let holder = hold("SET idle_in_transaction_session_timeout = 1000").await;
    let started = Instant::now();
    client.users().get("user1@example.com").await.unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(700) && took < LOCK_PATIENCE, "took {took:?}");
    assert!(client.governor().shares_budget(), "the lock was let go within the patience");
    assert!(holder.is_closed() || holder.simple_query("SELECT 1").await.is_err(), "the server ended it");

    // Held by a session the server lets idle: given up after the patience, then alone at once.
    let holder = hold("SET idle_in_transaction_session_timeout = 0").await;
    let started = Instant::now();
    client.users().get("user1@example.com").await.unwrap();
    let took = started.elapsed();
    assert!(took >= LOCK_PATIENCE - Duration::from_millis(600) && took < LOCK_PATIENCE + Duration::from_secs(1));
    let again = Instant::now();
    client.users().get("user1@example.com").await.unwrap();
    assert!(again.elapsed() < Duration::from_millis(500), "{:?}", again.elapsed());
    assert!(!client.governor().shares_budget());
    drop(holder);
}

/// A server that stops answering without closing the connection (its backend stopped; a host
/// cut off): the request waits the store's patience at most, then every one goes alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_stops_answering_is_given_up_after_the_patience() {
    let server = Postgres::start();
    let sim = Simulator::start(SimulatorConfig { seed_users: 1, ..Default::default() }).await.unwrap();
    let client = client(&sim, &server.url(), 4);
    connected(&server, 1).await;
    client.users().get("user1@example.com").await.unwrap();
    let backend: i32 =
        sql(&server, "SELECT pid FROM pg_stat_activity WHERE application_name = 'okta-lifecycle budget'").await[0]
            .get(0);
    let signal = |name: &str| {
        let sent = std::process::Command::new("kill").args([name, &backend.to_string()]).status().unwrap();
        assert!(sent.success(), "kill {name} {backend}");
    };
    signal("-STOP");
    let started = Instant::now();
    let read = tokio::time::timeout(Duration::from_secs(20), client.users().get("user1@example.com")).await;
    let took = started.elapsed();
    let later = Instant::now();
    let second = client.users().get("user1@example.com").await;
    let later = later.elapsed();
    signal("-CONT");
    read.expect("the read must not wait for the server for ever").unwrap();
    second.unwrap();
    assert!(took < LOCK_PATIENCE + Duration::from_secs(1), "took {took:?}");
    assert!(later < Duration::from_millis(500), "later requests go at once: {later:?}");
    assert!(!client.governor().shares_budget());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_cannot_be_reached_leaves_the_client_to_govern_alone() {
    let sim = Simulator::start(SimulatorConfig { seed_users: 1, ..Default::default() }).await.unwrap();
    let url = nobody_listens(None);
    let created = Instant::now();
    let client = client(&sim, &url, 4);
    assert!(created.elapsed() < Duration::from_millis(500), "creating a client does not wait for the database");
    let started = Instant::now();
    client.users().get("user1@example.com").await.unwrap();
    assert!(started.elapsed() < LOCK_PATIENCE + Duration::from_millis(500), "{:?}", started.elapsed());
    assert!(!client.governor().shares_budget());
}

#[test]
fn many_processes_creating_the_table_at_once_all_use_it() {
    let server = Postgres::start();
    let url = PostgresUrl::new(&server.url()).unwrap();
    let stores: Vec<SharedBudget> = std::thread::scope(|scope| {
        let opening: Vec<_> =
            (0..12).map(|_| scope.spawn(|| SharedBudget::connect(&url, "https://acme.okta.com", 8).unwrap())).collect();
        opening.into_iter().map(|store| store.join().unwrap()).collect()
    });
    for store in &stores {
        // Answered once its thread has connected (a few hundred milliseconds with twelve at once).
        let deadline = Instant::now() + Duration::from_secs(20);
        let cap = loop {
            match store.concurrency_cap() {
                Some(cap) => break cap,
                None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                None => panic!("a store never answered"),
            }
        };
        assert_eq!(cap, 8);
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let rows = runtime.block_on(sql(&server, "SELECT count(*) FROM okta_lifecycle_budget"));
    assert_eq!(rows[0].get::<_, i64>(0), 1, "one row for the org");
}

/// Log records of this test binary, as `tracing` hands them to `log` when no subscriber is set.
#[cfg(feature = "python")]
mod captured {
    use std::sync::Mutex;

    static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

    struct Capture;

    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }

        fn log(&self, record: &log::Record<'_>) {
            LINES.lock().unwrap_or_else(|e| e.into_inner()).push(format!("{} {}", record.target(), record.args()));
        }

        fn flush(&self) {}
    }

    /// Starts capturing (once per process).
    pub fn start() {
        static CAPTURE: Capture = Capture;
        if log::set_logger(&CAPTURE).is_ok() {
            log::set_max_level(log::LevelFilter::Trace);
        }
    }

    /// The lines captured so far.
    pub fn lines() -> Vec<String> {
        LINES.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_in_the_url_shows_in_no_error_debug_output_or_log() {
    #[cfg(feature = "python")]
    captured::start();
    const PASSWORD: &str = "hunter2-budget";
    // A URL that cannot be used: the configuration error names it without its password.
    for text in [
        format!("postgresql://okta:{PASSWORD}@127.0.0.1:5432/x?sslmode=require"),
        format!("postgresql://okta:{PASSWORD}@127.0.0.1:notaport/x"),
        format!("postgresql://db.example/x?user=okta&password={PASSWORD}&sslmode=verify-full"),
    ] {
        match BudgetSharing::from_text(&text) {
            Err(Error::Configuration(message)) => {
                assert!(!message.contains(PASSWORD), "{message}");
                assert!(message.contains("shared rate budget"), "{message}");
            }
            other => panic!("{text} is refused, not {other:?}"),
        }
    }
    assert!(matches!(BudgetSharing::from_text("postgresql:/db"), Err(Error::Configuration(_))));

    // A database with a password in its URL that cannot be reached: the client works alone, and
    // neither its configuration's Debug nor the warning logged shows the password.
    let sim = Simulator::start(SimulatorConfig { seed_users: 1, ..Default::default() }).await.unwrap();
    let unreachable = nobody_listens(Some(PASSWORD));
    let sharing = sharing(&unreachable);
    assert!(!format!("{sharing:?}").contains(PASSWORD), "{sharing:?}");
    let mut config = ClientConfig::with_api_token(&sim.url(), sim.api_token()).unwrap();
    config.budget_sharing = sharing;
    assert!(!format!("{config:?}").contains(PASSWORD));
    assert!(format!("{config:?}").contains("okta:***@"), "{config:?}");
    let client = OktaClient::new(config).unwrap();
    client.users().get("user1@example.com").await.unwrap();
    assert!(!client.governor().shares_budget());

    // A database that can be reached (loopback is trusted, so the password is not asked for).
    let server = Postgres::start();
    let reachable = format!("postgresql://okta:{PASSWORD}@127.0.0.1:{}/postgres", server.port());
    let shared = client_for(&sim, |config| config.budget_sharing = BudgetSharing::from_text(&reachable).unwrap());
    connected(&server, 1).await;
    shared.users().get("user1@example.com").await.unwrap();
    drop(server);
    shared.users().get("user1@example.com").await.unwrap();
    assert!(!shared.governor().shares_budget());

    #[cfg(feature = "python")]
    {
        let lines = captured::lines();
        let warnings: Vec<&String> = lines.iter().filter(|line| line.contains("shared rate budget")).collect();
        assert!(warnings.len() >= 2, "both clients logged that they govern alone: {lines:#?}");
        assert!(warnings.iter().any(|line| line.contains("okta:***@")), "{warnings:#?}");
        let leaked: Vec<&String> = lines.iter().filter(|line| line.contains(PASSWORD)).collect();
        assert!(leaked.is_empty(), "{leaked:#?}");
    }
}
