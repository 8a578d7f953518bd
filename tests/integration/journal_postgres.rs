//! The journal in PostgreSQL, against a real server the test starts: the same contract as the
//! SQLite journal (the same runs, histories, snapshots and mirror after the same work), the
//! lease and its fencing on the database's clock, and what happens when the database is
//! unreachable at the start, lost in the middle of an apply, or held by a host that died.
#![cfg(feature = "simulator")]

use crate::common;
use crate::common::postgres::Postgres;

use std::sync::Arc;
use std::time::{Duration, Instant};

use okta_lifecycle::lifecycle::journal::{
    ChangeStatus, Fence, LeaseOutcome, Location, MirrorHead, MirrorUpdate, UserSnapshot,
};
use okta_lifecycle::lifecycle::record::IdentityRecord;
use okta_lifecycle::lifecycle::{apply, plan, ApplyOptions, Journal, Policy};
use okta_lifecycle::simulator::{Simulator, SimulatorConfig};
use okta_lifecycle::Error;
use serde_json::json;

fn policy() -> Policy {
    Policy::from_value(&json!({
        "name": "hosts",
        "source": {"format": "jsonl", "key": "id", "match_on": "employeeNumber"},
        "attributes": {
            "login": "{email | LOWER}", "email": "{email | LOWER}", "firstName": "First", "lastName": "{id}",
            "employeeNumber": "{id}",
        },
        "workflow": [
            {"name": "joiner", "when": "status eq \"active\"", "actions": [
                {"action": "sync_identities"},
                {"action": "create_entitlement", "name": "staff"},
                {"action": "manage_relationships", "groups": ["staff"]}]},
            {"name": "leaver", "when": "status eq \"terminated\"", "actions": [
                {"action": "deprovision_identity", "mode": "deactivate", "remove_groups": true}]},
        ],
    }))
    .unwrap()
}

fn records(count: usize, leavers: usize) -> Vec<IdentityRecord> {
    (1..=count)
        .map(|n| {
            let status = if n <= leavers { "terminated" } else { "active" };
            let fields = json!({"id": n.to_string(), "email": format!("h{n}@acme.com"), "status": status});
            IdentityRecord::from_map(fields.as_object().cloned().unwrap())
        })
        .collect()
}

fn creates(sim: &Simulator) -> usize {
    sim.requests().iter().filter(|r| r.method == "POST" && r.path == "/api/v1/users").count()
}

/// Opens the journal in the database, off the async runtime (as the Python client does).
fn open(url: &str) -> impl std::future::Future<Output = Result<Journal, Error>> {
    let url = url.to_owned();
    async move { tokio::task::spawn_blocking(move || Journal::open_target(&url)).await.unwrap() }
}

/// The same work against a fresh org, with the journal given: two applies (joiners, then the
/// first of them leaving), then what the journal says of it, without its times and ids.
async fn observed(journal: Journal) -> Vec<String> {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Arc::new(journal);
    let options = ApplyOptions { concurrency: 4, ..Default::default() };
    let first = plan(&client, &policy(), &records(6, 0), &journal).await.unwrap();
    assert!(apply(&client, &first, &journal, &options).await.unwrap().is_success());
    let second = plan(&client, &policy(), &records(6, 1), &journal).await.unwrap();
    assert!(apply(&client, &second, &journal, &options).await.unwrap().is_success());
    assert_eq!(creates(&sim), 6);

    let mut seen = Vec::new();
    for run in journal.runs().unwrap() {
        seen.push(format!("run {} {} {:?}", run.policy, run.status, run.changes));
    }
    seen.push(format!("progress {:?}", journal.run_progress(&second.run_id).unwrap()));
    let recorded = journal.recorded_run(&second.run_id).unwrap().unwrap();
    assert_eq!(recorded.plan.as_ref().map(|p| p.run_id.as_str()), Some(second.run_id.as_str()));
    seen.push(format!("recorded {} {}", recorded.records, recorded.digest.is_some()));
    for entry in journal.history("h1@acme.com", &sim.url()).unwrap() {
        seen.push(format!("history {} {:?} {:?}", entry.operation, entry.status, entry.login));
    }
    let leaver = journal.history("H1@ACME.COM", &sim.url()).unwrap();
    let leaver_id = leaver.iter().find_map(|entry| entry.user_id.clone()).expect("the leaver's id is recorded");
    for snapshot in journal.snapshots(&leaver_id, &sim.url()).unwrap() {
        seen.push(format!("snapshot {} {} {:?}", snapshot.login, snapshot.status, snapshot.groups.len()));
    }
    let snapshot = journal.latest_snapshot(&leaver_id).unwrap().unwrap();
    let restorable = journal.restorable(&leaver_id, None).unwrap();
    seen.push(format!("restorable {:?}", restorable.map(|r| r.groups.len())));
    seen.push(format!("journal of another org {:?}", journal.history("h1@acme.com", "https://other.example").unwrap()));
    let sent = journal.sent_since("2000-01-01T00:00:00Z").unwrap();
    seen.push(format!(
        "sent {} answered, {} unanswered, {} unrecorded, {} users, {} groups",
        sent.request_ids.len(),
        sent.unanswered.len(),
        sent.unrecorded.len(),
        sent.users.len(),
        sent.groups.len()
    ));

    // Snapshots, identities, watermarks and the mirror, written and read back.
    let copy = UserSnapshot { run_id: second.run_id.clone(), taken_at: "2026-01-01T00:00:00.000Z".into(), ..snapshot };
    journal.record_snapshot(&copy).unwrap();
    seen.push(format!("latest {}", journal.latest_snapshot(&leaver_id).unwrap().unwrap().taken_at));
    let attributes = json!({"department": "Eng", "title": "Lead"}).as_object().cloned().unwrap();
    journal.remember_identity("00u1", &attributes).unwrap();
    journal.remember_identity("00u1", &attributes).unwrap();
    seen.push(format!("identity {:?}", journal.identity_attributes("00u1").unwrap()));
    journal.set_watermark("users", "2026-01-01").unwrap();
    journal.set_watermark("users", "2026-01-02").unwrap();
    seen.push(format!("watermark {:?} {:?}", journal.watermark("users").unwrap(), journal.watermark("x").unwrap()));
    let head = MirrorHead { read_from: "2026-01-01T00:00:00Z".into(), reads: "r".into(), schema: "s".into() };
    let members = vec![("00g1".to_owned(), "2026-01-01".to_owned(), vec!["00u1".to_owned(), "00u2".to_owned()])];
    journal.save_mirror(&sim.url(), &head, &MirrorUpdate { replace: true, members, ..Default::default() }).unwrap();
    seen.push(format!("mirror {:?}", journal.mirror_head(&sim.url()).unwrap()));
    seen.push(format!("members {:?}", journal.mirror_members(&sim.url()).unwrap()));
    seen.push(format!("users {}", journal.mirror_users(&sim.url()).unwrap().len()));

    // The lease: held, refused to another, taken over after it expires with a new generation,
    // and the old holder's claims and outcomes refused from then on.
    let third = plan(&client, &policy(), &records(8, 1), &journal).await.unwrap();
    let lease = |owner: &str, ttl: Duration| journal.acquire_lease(&third.run_id, owner, ttl).unwrap();
    let LeaseOutcome::Acquired(first_fence) = lease("east:1:a", Duration::from_millis(300)) else { panic!() };
    assert_eq!(lease("west:2:b", Duration::from_secs(60)), LeaseOutcome::Held { owner: "east:1:a".into() });
    let change = &third.changes[0];
    assert!(journal.claim(&third.run_id, change, ChangeStatus::Planned, &first_fence).unwrap());
    assert!(!journal.claim(&third.run_id, change, ChangeStatus::Planned, &first_fence).unwrap(), "a compare-and-set");
    std::thread::sleep(Duration::from_millis(400));
    let LeaseOutcome::Acquired(second_fence) = lease("west:2:b", Duration::from_secs(60)) else {
        panic!("an expired lease is taken over")
    };
    assert_eq!(second_fence.generation, first_fence.generation + 1);
    assert!(!journal.holds_lease(&third.run_id, &first_fence).unwrap());
    assert!(!journal.renew_lease(&third.run_id, &first_fence, Duration::from_secs(60)).unwrap());
    assert!(!journal.claim(&third.run_id, &third.changes[1], ChangeStatus::Planned, &first_fence).unwrap());
    let refused = journal.mark(&third.run_id, change, ChangeStatus::Succeeded, None, None, None, Some(&first_fence));
    assert!(matches!(refused, Err(Error::Journal(_))), "{refused:?}");
    assert_eq!(journal.change_status(&third.run_id, change.seq).unwrap().map(|s| s.0), Some(ChangeStatus::Started));
    assert!(journal.claim(&third.run_id, change, ChangeStatus::Started, &second_fence).unwrap());
    let stranger = Fence { owner: "east:1:a".into(), generation: second_fence.generation };
    assert!(!journal.claim(&third.run_id, &third.changes[1], ChangeStatus::Planned, &stranger).unwrap());
    journal.release_lease(&third.run_id, &second_fence).unwrap();
    seen.push(format!("after the take-over {:?}", journal.run_changes(&third.run_id).unwrap()[..2].to_vec()));
    seen.push(format!("unfinished {}", journal.unfinished_runs().unwrap().len()));
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_contract_holds_alike_on_sqlite_and_postgresql() {
    let server = Postgres::start();
    let on_sqlite = observed(Journal::in_memory().unwrap()).await;
    let journal = open(&server.url()).await.unwrap();
    assert!(matches!(journal.location(), Location::Database(url) if url.starts_with("postgresql://")));
    let on_postgres = observed(journal).await;
    assert_eq!(on_sqlite, on_postgres);
    assert!(on_sqlite.iter().any(|line| line.starts_with("history deactivate_user Succeeded")), "{on_sqlite:#?}");

    // Opened again (another host, or a later run), the journal is there, migrated once.
    let again = open(&server.url()).await.unwrap();
    assert_eq!(again.runs().unwrap().len(), 3);
}

#[tokio::test]
async fn an_unreachable_database_is_a_clear_error_that_never_shows_the_password() {
    let port = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port();
    let started = Instant::now();
    let error = open(&format!("postgresql://okta:hunter2@127.0.0.1:{port}/journal")).await.unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, Error::Journal(_)), "{error:?}");
    assert!(text.contains("cannot connect") && text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("hunter2") && !format!("{error:?}").contains("hunter2"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(15), "it gives up instead of hanging");
    let refused = open("postgresql://okta@127.0.0.1:1/x?sslmode=verify-full").await.unwrap_err();
    assert!(refused.to_string().contains("TLS"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_a_newer_release_is_refused_and_left_as_it_is() {
    let server = Postgres::start();
    drop(open(&server.url()).await.unwrap());
    let (client, connection) = tokio_postgres::connect(&server.url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client.execute("UPDATE okta_lifecycle.meta SET value = 99 WHERE name = 'schema_version'", &[]).await.unwrap();
    let error = open(&server.url()).await.unwrap_err();
    assert!(error.to_string().contains("newer than this release"), "{error}");
    let version: i64 = client
        .query_one("SELECT value FROM okta_lifecycle.meta WHERE name = 'schema_version'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, 99);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_hosts_opening_a_new_database_at_once_create_the_journal_once() {
    let server = Postgres::start();
    let opened: Vec<_> = (0..8).map(|_| open(&server.url())).collect();
    for journal in futures_util::future::join_all(opened).await {
        journal.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_database_lost_mid_apply_stops_it_safely_and_a_resume_sends_nothing_twice() {
    let server = Postgres::start();
    let (sim, client) = common::org(SimulatorConfig { latency_ms: 40, ..Default::default() }).await;
    let journal = Arc::new(open(&server.url()).await.unwrap());
    let planned = plan(&client, &policy(), &records(30, 0), &journal).await.unwrap();
    let options = ApplyOptions { concurrency: 4, ..Default::default() };
    let running = {
        let (client, planned, journal, options) =
            (client.clone(), planned.clone(), Arc::clone(&journal), options.clone());
        tokio::spawn(async move { apply(&client, &planned, &journal, &options).await })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while creates(&sim) < 6 {
        assert!(Instant::now() < deadline, "the apply never started creating");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.stop();
    let outcome = tokio::time::timeout(Duration::from_secs(120), running).await.expect("the apply ends").unwrap();
    let sent_while_lost = creates(&sim);
    match &outcome {
        Ok(report) => assert!(!report.is_success(), "an apply that lost its journal is not a success"),
        Err(error) => assert!(matches!(error, Error::Journal(_) | Error::RunInProgress { .. }), "{error:?}"),
    }
    assert!(sent_while_lost < 30, "the apply stopped when the journal was lost ({sent_while_lost} creates)");

    server.serve();
    // The lease of the stopped apply is still its own until it expires or is released; a resume
    // waits for it.
    let resume = ApplyOptions { wait_for_lease: Some(Duration::from_secs(120)), ..options };
    let report = apply(&client, &planned, &journal, &resume).await.unwrap();
    assert!(report.is_success(), "{:?}", report.outcomes.iter().filter(|o| !o.already_done).collect::<Vec<_>>());
    assert_eq!(creates(&sim), 30, "every joiner created once, across the loss");
    let logins: std::collections::HashSet<String> =
        sim.users().iter().map(|user| user["profile"]["login"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(logins.len(), sim.users().len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_held_by_a_host_that_died_is_taken_over_after_the_lease_and_nothing_is_sent_twice() {
    let server = Postgres::start();
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Arc::new(open(&server.url()).await.unwrap());
    let planned = plan(&client, &policy(), &records(10, 0), &journal).await.unwrap();
    // Another host claimed the first change under its lease and died before sending it.
    let LeaseOutcome::Acquired(dead) =
        journal.acquire_lease(&planned.run_id, "far-host:4242:dead", Duration::from_secs(3)).unwrap()
    else {
        panic!("the run is free")
    };
    journal.begin_run(&planned.run_id).unwrap();
    assert!(journal.claim(&planned.run_id, &planned.changes[0], ChangeStatus::Planned, &dead).unwrap());
    let refused = apply(&client, &planned, &journal, &ApplyOptions::default()).await;
    assert!(
        matches!(&refused, Err(Error::RunInProgress { owner, .. }) if owner == "far-host:4242:dead"),
        "{refused:?}"
    );
    let started = Instant::now();
    let waiting = ApplyOptions { wait_for_lease: Some(Duration::from_secs(60)), ..Default::default() };
    let report = apply(&client, &planned, &journal, &waiting).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "it waited for the lease to expire");
    assert!(report.is_success());
    assert_eq!(creates(&sim), 10);
    // The dead host, should it wake, can record nothing more.
    assert!(!journal.claim(&planned.run_id, &planned.changes[1], ChangeStatus::Planned, &dead).unwrap());
}

/// Two hosts that planned the same policy over the same records at the same moment: the runs
/// take turns, the one that waited finds its plan superseded (planned again, it has nothing
/// left to do), and every user is created once.
async fn the_same_job_planned_twice_at_once_is_applied_once(journal: Journal) {
    let (sim, client) = common::org(SimulatorConfig { latency_ms: 10, ..Default::default() }).await;
    let journal = Arc::new(journal);
    let first = plan(&client, &policy(), &records(12, 0), &journal).await.unwrap();
    let second = plan(&client, &policy(), &records(12, 0), &journal).await.unwrap();
    assert_ne!(first.run_id, second.run_id);
    let options = ApplyOptions { concurrency: 4, wait_for_lease: Some(Duration::from_secs(60)), ..Default::default() };
    let applies: Vec<_> = [first.clone(), second.clone()]
        .into_iter()
        .map(|planned| {
            let (client, journal, options) = (client.clone(), Arc::clone(&journal), options.clone());
            tokio::spawn(async move { apply(&client, &planned, &journal, &options).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in applies {
        results.push(task.await.unwrap());
    }
    let applied: Vec<_> = results.iter().filter_map(|result| result.as_ref().ok()).collect();
    assert_eq!(applied.len(), 1, "{results:?}");
    assert!(applied[0].is_success());
    let superseded = results.iter().find_map(|result| match result {
        Err(Error::PlanRejected { superseded_by: Some(by), run_id, .. }) => Some((run_id.clone(), by.clone())),
        _ => None,
    });
    let (loser, winner) = superseded.unwrap_or_else(|| panic!("the other plan is superseded: {results:?}"));
    assert_eq!(winner, applied[0].run_id);
    assert_ne!(loser, winner);
    assert_eq!(creates(&sim), 12, "every joiner created once");
    let again = plan(&client, &policy(), &records(12, 0), &journal).await.unwrap();
    assert!(again.changes.is_empty(), "planned again, nothing is left to do");

    // A plan made while a run of the same job was applying read an org in the middle of
    // changing: superseded too, though that run began before it.
    let third = plan(&client, &policy(), &records(20, 0), &journal).await.unwrap();
    let running = {
        let (client, planned, journal, options) =
            (client.clone(), third.clone(), Arc::clone(&journal), options.clone());
        tokio::spawn(async move { apply(&client, &planned, &journal, &options).await })
    };
    while creates(&sim) < 14 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let during = plan(&client, &policy(), &records(20, 0), &journal).await.unwrap();
    assert!(running.await.unwrap().unwrap().is_success());
    match apply(&client, &during, &journal, &options).await {
        Err(Error::PlanRejected { superseded_by: Some(by), .. }) => assert_eq!(by, third.run_id),
        other => panic!("a plan made during a run of the same job is superseded, got {other:?}"),
    }
    assert_eq!(creates(&sim), 20);

    // A plan of other records, or one made after the last run of the same job ended, is not.
    let other = plan(&client, &policy(), &records(21, 0), &journal).await.unwrap();
    assert!(apply(&client, &other, &journal, &options).await.unwrap().is_success());
    let after = plan(&client, &policy(), &records(21, 0), &journal).await.unwrap();
    assert!(apply(&client, &after, &journal, &options).await.unwrap().is_success());
    assert_eq!(creates(&sim), 21);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_job_planned_by_two_hosts_at_once_is_applied_once_on_sqlite_and_postgresql() {
    the_same_job_planned_twice_at_once_is_applied_once(Journal::in_memory().unwrap()).await;
    let server = Postgres::start();
    the_same_job_planned_twice_at_once_is_applied_once(open(&server.url()).await.unwrap()).await;
}
