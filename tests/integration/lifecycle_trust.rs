//! The engine's guarantees, each tried the way an identity engineer would try them before
//! trusting the tool with real leavers: ambiguous identities, edited plans, two appliers, lying
//! servers, a journal that cannot write, partial deprovisions, and an old journal.
#![cfg(feature = "simulator")]

use crate::common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use okta_lifecycle::lifecycle::journal::{ChangeStatus, Fence, LeaseOutcome, SCHEMA_VERSION};
use okta_lifecycle::lifecycle::plan::Operation;
use okta_lifecycle::lifecycle::record::IdentityRecord;
use okta_lifecycle::lifecycle::{apply, direct, plan, ApplyOptions, Journal, Plan, Policy};
use okta_lifecycle::okta::CreateUser;
use okta_lifecycle::simulator::{ScriptedFault, Simulator, SimulatorConfig};
use okta_lifecycle::{Error, OktaClient};
use serde_json::{json, Value};

/// A folder of its own under the system's temporary folder, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let path = std::env::temp_dir().join(format!("okta-lifecycle-{name}-{}-{}", std::process::id(), fastrand()));
        std::fs::create_dir_all(&path).unwrap();
        Scratch(path)
    }

    fn journal(&self) -> PathBuf {
        self.0.join("journal.sqlite")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fastrand() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}

fn policy(match_on: &str, extra_source: Value, workflows: Value) -> Policy {
    let mut value = json!({
        "name": "trust",
        "source": {"format": "jsonl", "key": "id", "match_on": match_on},
        "attributes": {
            "login": "{email | LOWER}", "email": "{email | LOWER}", "firstName": "{first}", "lastName": "{last}",
            "employeeNumber": "{id}",
        },
        "workflow": workflows,
    });
    for (key, field) in extra_source.as_object().unwrap() {
        value["source"][key] = field.clone();
    }
    Policy::from_value(&value).unwrap()
}

fn joiner_leaver() -> Value {
    json!([
        {"name": "joiner", "when": "status eq \"active\"", "actions": [
            {"action": "sync_identities"},
            {"action": "create_entitlement", "name": "staff"},
            {"action": "manage_relationships", "groups": ["staff"]}]},
        {"name": "leaver", "when": "status eq \"terminated\"", "actions": [
            {"action": "deprovision_identity", "mode": "deactivate", "remove_groups": true, "logout": true}]},
        {"name": "returner", "when": "status eq \"rehired\"", "actions": [
            {"action": "reactivate_identity", "restore_groups": true, "send_email": false}]},
    ])
}

fn record(id: &str, email: &str, status: &str) -> IdentityRecord {
    let fields = json!({"id": id, "email": email, "first": "First", "last": format!("Last{id}"), "status": status});
    IdentityRecord::from_map(fields.as_object().cloned().unwrap())
}

async fn user_with_number(client: &OktaClient, login: &str, number: &str) -> String {
    let mut create = CreateUser::new(common::profile(login, "First", "Last"));
    create.profile.insert("employeeNumber".into(), json!(number));
    client.users().create(&create).await.unwrap().id().to_owned()
}

fn writes(sim: &Simulator) -> Vec<String> {
    sim.requests().iter().filter(|r| r.method != "GET").map(|r| format!("{} {}", r.method, r.path)).collect()
}

fn count(sim: &Simulator, method: &str, path: &str) -> usize {
    sim.requests().iter().filter(|r| r.method == method && r.path == path).count()
}

#[tokio::test]
async fn a_match_value_shared_by_two_accounts_is_never_guessed() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    // A rehire: the old account is DEPROVISIONED, the new one active, both with number 7.
    let old = user_with_number(&client, "ada.old@acme.com", "7").await;
    client.users().deactivate(&old, false).await.unwrap();
    let new = user_with_number(&client, "ada@acme.com", "7").await;
    let leaver = [record("7", "ada@acme.com", "terminated")];

    let strict = policy("employeeNumber", json!({}), joiner_leaver());
    let planned = plan(&client, &strict, &leaver, &journal).await.unwrap();
    assert!(planned.changes.is_empty(), "{}", planned.render());
    let message = &planned.issues[0].message;
    for expected in ["ada.old@acme.com", "ada@acme.com", &old, &new, "DEPROVISIONED", "matches 2 Okta users"] {
        assert!(message.contains(expected), "{message}");
    }

    // The explicit tie-break takes the one account that is not DEPROVISIONED.
    let tie_break = policy("employeeNumber", json!({"tie_break": "prefer_not_deprovisioned"}), joiner_leaver());
    let planned = plan(&client, &tie_break, &leaver, &journal).await.unwrap();
    assert!(planned.issues.is_empty(), "{:?}", planned.issues);
    let deactivated: Vec<_> = planned
        .changes
        .iter()
        .filter_map(|c| match &c.operation {
            Operation::DeactivateUser { user } => user.id.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(deactivated, vec![new.clone()]);
    assert!(apply(&client, &planned, &journal, &ApplyOptions::default()).await.unwrap().is_success());
    assert_eq!(sim.user_json(&new).unwrap()["status"], "DEPROVISIONED");

    // Two live accounts with one number: even the tie-break refuses to choose.
    let third = user_with_number(&client, "ada.third@acme.com", "8").await;
    user_with_number(&client, "ada.fourth@acme.com", "8").await;
    let planned = plan(&client, &tie_break, &[record("8", "x@acme.com", "terminated")], &journal).await.unwrap();
    assert!(planned.changes.is_empty());
    assert!(planned.issues[0].message.contains("cannot choose"), "{:?}", planned.issues);
    assert_ne!(sim.user_json(&third).unwrap()["status"], "DEPROVISIONED");
    assert!(Policy::from_value(&json!({"name": "x", "source": {"format": "csv", "key": "id", "tie_break": "newest"}}))
        .is_err());
}

#[tokio::test]
async fn two_records_resolving_to_one_account_are_both_issues() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    let id = user_with_number(&client, "ada@acme.com", "1").await;
    sim.clear_requests();
    let records = [record("1", "ada@acme.com", "terminated"), record("2", "Ada@Acme.com", "active")];
    let planned = plan(&client, &policy("login", json!({}), joiner_leaver()), &records, &journal).await.unwrap();
    assert!(planned.changes.is_empty(), "{}", planned.render());
    assert_eq!(planned.issues.len(), 2, "{:?}", planned.issues);
    assert!(planned.issues.iter().all(|issue| issue.message.contains(&id)), "{:?}", planned.issues);
    assert_eq!(planned.issues[0].identity.as_deref(), Some("1"));
    assert!(planned.issues[0].message.contains("id 2 (row 2)"), "{:?}", planned.issues);
    assert!(writes(&sim).is_empty());
}

#[tokio::test]
async fn an_edited_plan_a_plan_from_elsewhere_and_a_plan_for_another_org_are_refused() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let scratch = Scratch::new("edited");
    let journal = Journal::open(&scratch.journal()).unwrap();
    let mut leavers = Vec::new();
    for n in 1..=6 {
        let login = format!("u{n}@acme.com");
        user_with_number(&client, &login, &n.to_string()).await;
        leavers.push(record(&n.to_string(), &login, "terminated"));
    }
    let mut limited = policy("employeeNumber", json!({}), joiner_leaver());
    limited.safety.max_deprovisions = Some(2);
    let planned = plan(&client, &limited, &leavers, &journal).await.unwrap();
    assert!(!planned.blocked.is_empty());
    sim.clear_requests();

    // The saved plan with its blocked list emptied.
    let mut saved: Value = serde_json::to_value(&planned).unwrap();
    saved["blocked"] = json!([]);
    let edited: Plan = serde_json::from_value(saved).unwrap();
    match apply(&client, &edited, &journal, &ApplyOptions::default()).await {
        Err(Error::PlanRejected { reason, .. }) => assert!(reason.contains("differs"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }

    // Even with the journal's digest forged to match, the verdict is derived again from the
    // changes and the limits recorded at planning time.
    let forged = rusqlite::Connection::open(scratch.journal()).unwrap();
    forged
        .execute(
            "UPDATE runs SET digest = ?1 WHERE run_id = ?2",
            rusqlite::params![okta_lifecycle::lifecycle::journal::plan_digest(&edited), edited.run_id],
        )
        .unwrap();
    match apply(&client, &edited, &journal, &ApplyOptions::default()).await {
        Err(Error::PlanBlocked { reasons }) => assert!(reasons[0].contains("6 deprovisions"), "{reasons:?}"),
        other => panic!("expected the limits to hold, got {other:?}"),
    }
    forged
        .execute(
            "UPDATE runs SET digest = ?1 WHERE run_id = ?2",
            rusqlite::params![okta_lifecycle::lifecycle::journal::plan_digest(&planned), planned.run_id],
        )
        .unwrap();

    // A plan that this journal never recorded.
    let elsewhere = Journal::in_memory().unwrap();
    match apply(&client, &planned, &elsewhere, &ApplyOptions { override_safety: true, ..Default::default() }).await {
        Err(Error::PlanRejected { reason, .. }) => assert!(reason.contains("not made with this journal"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }

    // The right plan and journal, but a client of another org.
    let (_other_sim, other_client) = common::org(SimulatorConfig::default()).await;
    match apply(&other_client, &planned, &journal, &ApplyOptions { override_safety: true, ..Default::default() }).await
    {
        Err(Error::PlanRejected { reason, .. }) => assert!(reason.contains("made for"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(writes(&sim).is_empty(), "nothing was sent: {:?}", writes(&sim));

    // Overriding is explicit, and applies exactly the plan recorded.
    let report = apply(&client, &planned, &journal, &ApplyOptions { override_safety: true, ..Default::default() })
        .await
        .unwrap();
    assert!(report.is_success(), "{}", report.render());
}

fn joiners(count: usize) -> Vec<IdentityRecord> {
    (1..=count).map(|n| record(&n.to_string(), &format!("j{n}@acme.com"), "active")).collect()
}

/// Two appliers of one plan on two runtime threads at once.
async fn apply_twice(
    client: &OktaClient,
    plan: &Plan,
    journal: &Arc<Journal>,
    options: &ApplyOptions,
) -> Vec<Result<okta_lifecycle::lifecycle::Report, Error>> {
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let (client, plan, journal, options) = (client.clone(), plan.clone(), Arc::clone(journal), options.clone());
            tokio::spawn(async move { apply(&client, &plan, &journal, &options).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_appliers_of_one_run_send_every_create_once() {
    two_appliers_send_every_create_once(Arc::new(Journal::in_memory().unwrap())).await;
}

/// The same with the journal in PostgreSQL: the lease, its generations and the claims are the
/// database's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_appliers_of_one_run_sharing_a_postgresql_journal_send_every_create_once() {
    let server = common::postgres::Postgres::start();
    let url = server.url();
    let journal = tokio::task::spawn_blocking(move || Journal::open_postgres(&url)).await.unwrap().unwrap();
    two_appliers_send_every_create_once(Arc::new(journal)).await;
}

async fn two_appliers_send_every_create_once(journal: Arc<Journal>) {
    let (sim, client) = common::org(SimulatorConfig { latency_ms: 15, ..Default::default() }).await;
    let policy = policy("employeeNumber", json!({}), joiner_leaver());
    let planned = plan(&client, &policy, &joiners(40), &journal).await.unwrap();
    let options = ApplyOptions { concurrency: 8, ..Default::default() };
    let mut results = apply_twice(&client, &planned, &journal, &options).await;
    results.sort_by_key(|r| r.is_err());
    assert!(results[0].as_ref().unwrap().is_success());
    match &results[1] {
        Err(Error::RunInProgress { run_id, owner }) => {
            assert_eq!(*run_id, planned.run_id);
            assert!(owner.contains(&std::process::id().to_string()), "{owner}");
        }
        other => panic!("the second applier must be refused, got {other:?}"),
    }
    assert_eq!(count(&sim, "POST", "/api/v1/users"), 40);

    // Waiting instead: the second applier runs after the first and finds everything done.
    let again = plan(&client, &policy, &joiners(60), &journal).await.unwrap();
    let waiting = ApplyOptions { concurrency: 8, wait_for_lease: Some(Duration::from_secs(60)), ..Default::default() };
    let results = apply_twice(&client, &again, &journal, &waiting).await;
    let reports: Vec<_> = results.into_iter().map(Result::unwrap).collect();
    assert!(reports.iter().all(|report| report.is_success()));
    let already = |report: &okta_lifecycle::lifecycle::Report| report.outcomes.iter().all(|o| o.already_done);
    assert!(already(&reports[0]) != already(&reports[1]), "exactly one of them did the work");
    assert_eq!(count(&sim, "POST", "/api/v1/users"), 60, "20 more joiners, each created once");

    // The claim itself is a compare-and-set, fenced by the run's lease: a change moves to
    // started once, and only by the applier that holds the lease.
    let third = plan(&client, &policy, &joiners(62), &journal).await.unwrap();
    let change = &third.changes[0];
    let lease = |owner: &str| match journal.acquire_lease(&third.run_id, owner, Duration::from_secs(60)).unwrap() {
        LeaseOutcome::Acquired(fence) => fence,
        held => panic!("{held:?}"),
    };
    let fence = lease("here:1:a");
    let stranger = Fence { owner: "there:2:b".into(), generation: fence.generation };
    assert!(!journal.claim(&third.run_id, change, ChangeStatus::Planned, &stranger).unwrap());
    assert!(journal.claim(&third.run_id, change, ChangeStatus::Planned, &fence).unwrap());
    assert!(!journal.claim(&third.run_id, change, ChangeStatus::Planned, &fence).unwrap());
    // A take-over starts a new generation: the old holder's claims are refused.
    journal.release_lease(&third.run_id, &fence).unwrap();
    let successor = lease("there:2:b");
    assert_eq!(successor.generation, fence.generation + 1);
    assert!(!journal.claim(&third.run_id, &third.changes[1], ChangeStatus::Planned, &fence).unwrap());
    assert!(journal.claim(&third.run_id, &third.changes[1], ChangeStatus::Planned, &successor).unwrap());
}

#[tokio::test]
async fn a_redirect_is_a_failure_and_leaves_the_leaver_recorded_as_not_done() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    let id = user_with_number(&client, "ada@acme.com", "1").await;
    let group = client.groups().create("staff", None).await.unwrap();
    client.groups().add_member(group.id(), &id).await.unwrap();
    sim.create_session(&id);
    for (method, path) in [
        ("POST", format!("/api/v1/users/{id}/lifecycle/deactivate")),
        ("DELETE", format!("/api/v1/users/{id}/sessions")),
        ("DELETE", format!("/api/v1/groups/{}/users/{id}", group.id())),
    ] {
        sim.script_fault(method, &path, ScriptedFault::Status(307));
    }
    let outcome = direct::deprovision_identity(&client, &journal, &id, "deactivate", true, true, true).await.unwrap();
    let report = outcome.report;
    assert!(!report.is_success());
    let failed: Vec<&str> =
        report.outcomes.iter().filter(|o| o.status == ChangeStatus::Failed).map(|o| o.operation.as_str()).collect();
    assert_eq!(failed, ["deactivate_user", "clear_sessions", "remove_member"], "{}", report.render());
    assert!(report.outcomes[1].message.as_deref().unwrap_or("").contains("307"), "{}", report.render());
    assert_ne!(sim.user_json(&id).unwrap()["status"], "DEPROVISIONED");
    assert_eq!(sim.group_members(group.id()), vec![id.clone()]);
    let history = journal.history(&id, &sim.url()).unwrap();
    assert!(history.iter().filter(|c| c.operation != "snapshot_user").all(|c| c.status == ChangeStatus::Failed));

    // The client alone says the same.
    sim.script_fault("POST", &format!("/api/v1/users/{id}/lifecycle/suspend"), ScriptedFault::Status(302));
    let error = client.users().suspend(&id).await.unwrap_err();
    assert_eq!(error.status(), Some(302));
    assert!(error.to_string().contains("not carried out"), "{error}");
}

#[tokio::test]
async fn a_write_whose_answer_cannot_be_read_is_done_and_never_sent_again() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    let policy = policy("employeeNumber", json!({}), joiner_leaver());
    let planned = plan(&client, &policy, &joiners(2), &journal).await.unwrap();
    sim.script_fault("POST", "/api/v1/users", ScriptedFault::GarbleAfter);
    let report = apply(&client, &planned, &journal, &ApplyOptions::default()).await.unwrap();
    assert!(report.outcomes.iter().all(|o| o.status == ChangeStatus::Succeeded), "{}", report.render());
    let noted: Vec<_> = report.outcomes.iter().filter_map(|o| o.message.as_deref()).collect();
    assert!(noted.iter().any(|m| m.contains("could not be read")), "{noted:?}");
    // Its id was learnt from Okta, so its membership went on.
    let staff = client.groups().find_by_name("staff").await.unwrap().unwrap();
    assert_eq!(sim.group_members(staff.id()).len(), 2);

    let resumed = apply(&client, &planned, &journal, &ApplyOptions::default()).await.unwrap();
    assert!(resumed.outcomes.iter().all(|o| o.already_done));
    assert_eq!(count(&sim, "POST", "/api/v1/users"), 2, "each joiner created once");
}

fn sqlite(path: &std::path::Path) -> rusqlite::Connection {
    let connection = rusqlite::Connection::open(path).unwrap();
    connection.busy_timeout(Duration::from_secs(10)).unwrap();
    connection
}

#[tokio::test]
async fn a_deprovision_whose_history_is_not_recorded_stops_and_journal_failures_are_reported() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let scratch = Scratch::new("snapshot");
    let journal = Journal::open(&scratch.journal()).unwrap();
    let policy = policy("employeeNumber", json!({}), joiner_leaver());
    apply(&client, &plan(&client, &policy, &joiners(1), &journal).await.unwrap(), &journal, &ApplyOptions::default())
        .await
        .unwrap();
    let id = sim.user_json("j1@acme.com").unwrap()["id"].as_str().unwrap().to_owned();
    let staff = client.groups().find_by_name("staff").await.unwrap().unwrap();

    // The disk is "full" for snapshots only.
    sqlite(&scratch.journal())
        .execute_batch("CREATE TRIGGER full BEFORE INSERT ON snapshots BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;")
        .unwrap();
    let leaver = [record("1", "j1@acme.com", "terminated")];
    let planned = plan(&client, &policy, &leaver, &journal).await.unwrap();
    sim.clear_requests();
    let report = apply(&client, &planned, &journal, &ApplyOptions::default()).await.unwrap();
    let statuses: Vec<(&str, ChangeStatus)> =
        report.outcomes.iter().map(|o| (o.operation.as_str(), o.status)).collect();
    assert_eq!(
        statuses,
        [
            ("snapshot_user", ChangeStatus::Failed),
            ("deactivate_user", ChangeStatus::Skipped),
            ("clear_sessions", ChangeStatus::Skipped),
            ("remove_member", ChangeStatus::Skipped)
        ],
        "{}",
        report.render()
    );
    assert!(writes(&sim).is_empty(), "nothing was taken away: {:?}", writes(&sim));
    assert_ne!(sim.user_json(&id).unwrap()["status"], "DEPROVISIONED");

    // Snapshots work again, but recording one outcome fails: the report says so.
    let connection = sqlite(&scratch.journal());
    connection
        .execute_batch(
            "DROP TRIGGER full;
             CREATE TRIGGER busy BEFORE UPDATE OF status ON changes
             WHEN NEW.status = 'succeeded' AND NEW.operation = 'clear_sessions'
             BEGIN SELECT RAISE(ABORT, 'database is locked'); END;",
        )
        .unwrap();
    let resumed = apply(&client, &planned, &journal, &ApplyOptions::default()).await.unwrap();
    assert!(!resumed.is_success(), "{}", resumed.render());
    let logout = resumed.outcomes.iter().find(|o| o.operation == "clear_sessions").unwrap();
    assert!(logout.journal_error.as_deref().unwrap_or("").contains("locked"), "{logout:?}");
    assert!(resumed.render().contains("journal not updated"));
    assert_eq!(sim.user_json(&id).unwrap()["status"], "DEPROVISIONED");
    assert!(sim.group_members(staff.id()).is_empty());
    connection.execute_batch("DROP TRIGGER busy;").unwrap();

    // The row still says "started": the next apply checks and completes it, sending nothing.
    sim.clear_requests();
    let last = apply(&client, &planned, &journal, &ApplyOptions::default()).await.unwrap();
    assert!(last.is_success(), "{}", last.render());
    assert!(
        writes(&sim).iter().all(|w| w.ends_with("/sessions")),
        "only the idempotent logout again: {:?}",
        writes(&sim)
    );
}

#[tokio::test]
async fn reactivation_restores_every_membership_the_user_had_and_gives_a_way_in() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    let policy = policy("employeeNumber", json!({}), joiner_leaver());
    apply(&client, &plan(&client, &policy, &joiners(1), &journal).await.unwrap(), &journal, &ApplyOptions::default())
        .await
        .unwrap();
    let id = sim.user_json("j1@acme.com").unwrap()["id"].as_str().unwrap().to_owned();
    let mut groups = vec![client.groups().find_by_name("staff").await.unwrap().unwrap().id().to_owned()];
    for name in ["vpn", "payroll"] {
        let group = client.groups().create(name, None).await.unwrap();
        client.groups().add_member(group.id(), &id).await.unwrap();
        groups.push(group.id().to_owned());
    }

    // The first deprovision removes two of the three groups; "vpn" fails.
    sim.script_fault("DELETE", &format!("/api/v1/groups/{}/users/{id}", groups[1]), ScriptedFault::Status(403));
    let leaver = [record("1", "j1@acme.com", "terminated")];
    let first =
        apply(&client, &plan(&client, &policy, &leaver, &journal).await.unwrap(), &journal, &ApplyOptions::default())
            .await
            .unwrap();
    assert_eq!(first.counts.get("failed"), Some(&1), "{}", first.render());
    // The next run finishes it, with a second snapshot that holds only "vpn".
    let second =
        apply(&client, &plan(&client, &policy, &leaver, &journal).await.unwrap(), &journal, &ApplyOptions::default())
            .await
            .unwrap();
    assert!(second.is_success(), "{}", second.render());
    assert_eq!(journal.snapshots(&id, &sim.url()).unwrap().len(), 2);
    let latest: Vec<String> = journal.latest_snapshot(&id).unwrap().unwrap().groups.into_iter().map(|g| g.0).collect();
    assert!(latest.contains(&groups[1]) && !latest.contains(&groups[0]), "{latest:?}");

    let back = [record("1", "j1@acme.com", "rehired")];
    let planned = plan(&client, &policy, &back, &journal).await.unwrap();
    let report = apply(&client, &planned, &journal, &ApplyOptions::default()).await.unwrap();
    assert!(report.is_success(), "{}", report.render());
    for group in &groups {
        assert_eq!(sim.group_members(group), vec![id.clone()], "every membership is back");
    }
    assert_eq!(sim.user_json(&id).unwrap()["status"], "PROVISIONED");
    assert_eq!(report.activation_links.len(), 1, "a reactivated user gets a way to sign in");
    let (login, link) = &report.activation_links[0];
    assert_eq!(login, "j1@acme.com");
    assert!(link.expose().starts_with("http"));
    assert!(!format!("{report:?}").contains(link.expose()), "the link never prints");
    assert!(!serde_json::to_string(&report).unwrap().contains(link.expose()));
}

#[tokio::test]
async fn an_update_never_empties_a_required_attribute_and_a_password_never_prints() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    user_with_number(&client, "ada@acme.com", "1").await;
    let mut blank = record("1", "ada@acme.com", "active");
    if let Ok(mut fields) = serde_json::to_value(blank.as_json()) {
        fields["first"] = json!("  ");
        blank = IdentityRecord::from_map(fields.as_object().cloned().unwrap());
    }
    sim.clear_requests();
    let planned =
        plan(&client, &policy("employeeNumber", json!({}), joiner_leaver()), &[blank], &journal).await.unwrap();
    assert!(planned.changes.iter().all(|c| c.operation.name() != "update_user"), "{}", planned.render());
    assert!(planned.issues[0].message.contains("firstName would become empty"), "{:?}", planned.issues);
    assert!(writes(&sim).is_empty());

    let mut create = CreateUser::new(common::profile("grace@acme.com", "Grace", "Hopper"));
    create.password = Some("Correct-Horse-Battery-9".into());
    let shown = format!("{create:?}");
    assert!(!shown.contains("Correct-Horse"), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
}

/// The schema of release 0.1, as it created journals.
const SCHEMA_0_1: &str = "
CREATE TABLE runs (run_id TEXT PRIMARY KEY, policy TEXT NOT NULL, org_url TEXT NOT NULL, planned_at TEXT NOT NULL,
    applied_at TEXT, finished_at TEXT, status TEXT NOT NULL, summary TEXT NOT NULL);
CREATE TABLE changes (run_id TEXT NOT NULL REFERENCES runs(run_id), seq INTEGER NOT NULL, action TEXT NOT NULL,
    operation TEXT NOT NULL, identity TEXT, login TEXT, user_id TEXT, status TEXT NOT NULL, detail TEXT NOT NULL,
    error TEXT, request_id TEXT, updated_at TEXT NOT NULL, PRIMARY KEY (run_id, seq));
CREATE INDEX changes_by_login ON changes(login COLLATE NOCASE);
CREATE INDEX changes_by_user ON changes(user_id);
CREATE TABLE snapshots (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, user_id TEXT NOT NULL,
    login TEXT NOT NULL, taken_at TEXT NOT NULL, status TEXT NOT NULL, profile TEXT NOT NULL, groups TEXT NOT NULL);
CREATE INDEX snapshots_by_user ON snapshots(user_id);
CREATE TABLE identities (user_id TEXT PRIMARY KEY, attributes TEXT NOT NULL, seen_at TEXT NOT NULL);
CREATE TABLE watermarks (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO runs VALUES ('20260101T000000Z-old', 'acme', 'https://acme.okta.com', '2026-01-01T00:00:00Z',
    '2026-01-01T00:00:01Z', NULL, 'applying', '{}');
INSERT INTO changes VALUES ('20260101T000000Z-old', 1, 'deprovision_identity', 'deactivate_user', '7', 'ada@acme.com',
    '00u1', 'started', '{\"operation\":\"deactivate_user\"}', NULL, NULL, '2026-01-01T00:00:01Z');
INSERT INTO snapshots (run_id, user_id, login, taken_at, status, profile, groups) VALUES
    ('20260101T000000Z-old', '00u1', 'ada@acme.com', '2026-01-01T00:00:00Z', 'ACTIVE', '{}', '[[\"00g1\",\"staff\"]]');
";

/// The run's lease and fence are checked at every claim and outcome. SQLite reads a row's
/// columns in order, and the lease columns were added after the plan's JSON: with the plan in
/// the row, each check walked every overflow page of the plan (half a megabyte for 1,000
/// joiners, 50 MB for 100,000), which made an apply quadratic in its size. The plan is kept in
/// a table of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_plan_is_kept_apart_from_the_lease_that_every_claim_reads() {
    let (_sim, client) = common::org(SimulatorConfig::default()).await;
    let scratch = Scratch::new("plan-apart");
    let journal = Journal::open(&scratch.journal()).unwrap();
    let policy = policy("employeeNumber", json!({}), joiner_leaver());
    let planned = plan(&client, &policy, &joiners(300), &journal).await.unwrap();
    let database = sqlite(&scratch.journal());
    let in_row: Option<String> =
        database.query_row("SELECT plan FROM runs WHERE run_id = ?1", [&planned.run_id], |row| row.get(0)).unwrap();
    assert!(in_row.is_none(), "the plan's JSON sits in the runs row, before the lease columns");
    let apart: String = database
        .query_row("SELECT plan FROM run_plans WHERE run_id = ?1", [&planned.run_id], |row| row.get(0))
        .unwrap();
    assert!(apart.len() > 100_000, "{}", apart.len());
    let recorded = journal.recorded_run(&planned.run_id).unwrap().unwrap();
    assert_eq!(recorded.plan.unwrap().changes, planned.changes);
    let report = apply(&client, &planned, &journal, &ApplyOptions::default()).await.unwrap();
    assert!(report.is_success(), "{}", report.render());
}

#[tokio::test]
async fn a_journal_written_by_release_0_1_opens_migrated_and_a_newer_one_is_refused() {
    let scratch = Scratch::new("migrate");
    sqlite(&scratch.journal()).execute_batch(SCHEMA_0_1).unwrap();
    let journal = Journal::open(&scratch.journal()).unwrap();
    let version: i64 = sqlite(&scratch.journal()).query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let history = journal.history("ada@acme.com", "https://acme.okta.com").unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].status, ChangeStatus::Started);
    let restorable = journal.restorable("00u1", Some("2026-01-01T00:00:00.000Z")).unwrap().unwrap();
    assert_eq!(restorable.groups, vec![("00g1".to_owned(), "staff".to_owned())]);
    assert!(restorable.roles.is_empty(), "a 0.1 snapshot recorded no roles");
    let runs = journal.unfinished_runs().unwrap();
    assert_eq!(runs[0].run_id, "20260101T000000Z-old");
    let recorded = journal.recorded_run("20260101T000000Z-old").unwrap().unwrap();
    assert_eq!((recorded.digest, recorded.plan), (None, None));
    drop(journal);
    // Opening again changes nothing.
    Journal::open(&scratch.journal()).unwrap();

    let newer = Scratch::new("newer");
    sqlite(&newer.journal()).execute_batch("PRAGMA user_version = 99;").unwrap();
    match Journal::open(&newer.journal()) {
        Err(Error::Journal(message)) => assert!(message.contains("newer"), "{message}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_file_that_is_not_a_journal_is_refused_and_left_exactly_as_it_was() {
    let scratch = Scratch::new("foreign");
    let refused = |path: &std::path::Path, why: &str| match Journal::open(path) {
        Err(Error::Journal(message)) => assert!(message.contains(why), "{message}"),
        other => panic!("{} should be refused, got {other:?}", path.display()),
    };
    // Another application's SQLite database, one with a `runs` table of its own, one marked
    // with another application id, and a file that is not SQLite at all.
    let cases = [
        ("app.sqlite", "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);", "other tables: customers"),
        ("runs.sqlite", "CREATE TABLE runs (id INTEGER PRIMARY KEY, km REAL);", "runs table has no run_id"),
        ("marked.sqlite", "PRAGMA application_id = 42; CREATE TABLE runs (run_id TEXT);", "application_id 0x2a"),
    ];
    for (name, sql, why) in cases {
        let path = scratch.0.join(name);
        let connection = sqlite(&path);
        connection.execute_batch(sql).unwrap();
        drop(connection);
        let before = std::fs::read(&path).unwrap();
        refused(&path, why);
        assert_eq!(std::fs::read(&path).unwrap(), before, "{name} was changed");
        let journal_mode: String = sqlite(&path).query_row("PRAGMA journal_mode", [], |row| row.get(0)).unwrap();
        assert_eq!(journal_mode, "delete", "{name} was switched to WAL");
    }
    let text = scratch.0.join("notes.txt");
    std::fs::write(&text, "not a database at all, but some notes\n".repeat(200)).unwrap();
    let before = std::fs::read(&text).unwrap();
    refused(&text, "cannot be");
    assert_eq!(std::fs::read(&text).unwrap(), before);
    // Not regular files, and an empty path.
    refused(std::path::Path::new("/dev/null"), "not a regular file");
    assert!(!std::path::Path::new("/dev/null-journal").exists() && !std::path::Path::new("/dev/null-wal").exists());
    refused(&scratch.0, "not a regular file");
    refused(std::path::Path::new(""), "empty");
    refused(std::path::Path::new("  "), "empty");
    // An empty file and an empty database become journals, marked as such.
    for name in ["empty.sqlite", "blank.sqlite"] {
        let path = scratch.0.join(name);
        if name == "empty.sqlite" {
            std::fs::write(&path, b"").unwrap();
        } else {
            sqlite(&path).execute_batch("PRAGMA user_version = 0; VACUUM;").unwrap();
        }
        drop(Journal::open(&path).unwrap());
        let id: i64 = sqlite(&path).query_row("PRAGMA application_id", [], |row| row.get(0)).unwrap();
        assert_eq!(id, okta_lifecycle::lifecycle::journal::APPLICATION_ID);
        drop(Journal::open(&path).unwrap());
    }
}

#[tokio::test]
async fn a_reset_link_okta_issued_is_returned_even_when_the_journal_cannot_record_the_runs_end() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let scratch = Scratch::new("link-kept");
    let journal = Journal::open(&scratch.journal()).unwrap();
    user_with_number(&client, "ada@acme.com", "1").await;
    let policy = policy(
        "email",
        json!({}),
        json!([{"name": "reset", "when": "status eq \"reset\"", "actions": [
            {"action": "reset_password", "send_email": false}]}]),
    );
    let planned = plan(&client, &policy, &[record("1", "ada@acme.com", "reset")], &journal).await.unwrap();
    // The disk fills up just as the run's end is recorded.
    sqlite(&scratch.journal())
        .execute_batch(
            "CREATE TRIGGER full BEFORE UPDATE OF status ON runs WHEN NEW.status != 'applying'
             BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
        )
        .unwrap();
    let report = apply(&client, &planned, &journal, &ApplyOptions::default()).await.unwrap();
    assert_eq!(report.reset_links.len(), 1, "Okta's link is handed back: {}", report.render());
    assert!(report.reset_links[0].1.expose().contains("/reset_password/"), "a link, not a placeholder");
    assert!(report.journal_error.as_deref().is_some_and(|e| e.contains("disk is full")), "{:?}", report.journal_error);
    assert!(!report.is_success());
    assert!(report.render().contains("could not record the end of the run"), "{}", report.render());
    assert_eq!(sim.counters().reset_password.values().sum::<u64>(), 1);
}

#[tokio::test]
async fn one_journal_for_two_orgs_keeps_their_runs_and_histories_apart() {
    let (org_a, client_a) = common::org(SimulatorConfig::default()).await;
    let (org_b, client_b) = common::org(SimulatorConfig::default()).await;
    let scratch = Scratch::new("two-orgs");
    let journal = Journal::open(&scratch.journal()).unwrap();
    let policy = policy("email", json!({}), joiner_leaver());
    let records = [record("1", "ada@acme.com", "active")];
    // Org A: applied, and a second plan of the same source left unfinished (as an interrupted
    // apply leaves it).
    let done = plan(&client_a, &policy, &records, &journal).await.unwrap();
    assert!(apply(&client_a, &done, &journal, &ApplyOptions::default()).await.unwrap().is_success());
    let again = plan(&client_a, &policy, &[record("2", "grace@acme.com", "active")], &journal).await.unwrap();
    journal.begin_run(&again.run_id).unwrap();
    let digest = okta_lifecycle::lifecycle::planner::source_digest(&policy, &[record("2", "grace@acme.com", "active")]);
    assert_eq!(journal.unfinished_run_for("trust", &digest, &org_a.url()).unwrap(), Some(again.run_id.clone()));
    // Org B, same journal, same policy and source: nothing of A's to resume, and A's Ada is not
    // B's Ada.
    assert_eq!(journal.unfinished_run_for("trust", &digest, &org_b.url()).unwrap(), None);
    assert!(!journal.history("ada@acme.com", &org_a.url()).unwrap().is_empty());
    assert!(journal.history("ada@acme.com", &org_b.url()).unwrap().is_empty());
    assert!(journal.org_runs(&org_b.url()).unwrap().is_empty());
    assert_eq!(journal.org_runs(&format!("{}/", org_a.url().to_uppercase())).unwrap().len(), 2);
    let in_b = plan(&client_b, &policy, &records, &journal).await.unwrap();
    assert!(apply(&client_b, &in_b, &journal, &ApplyOptions::default()).await.unwrap().is_success());
    let history_b = journal.history("ada@acme.com", &org_b.url()).unwrap();
    assert!(!history_b.is_empty() && history_b.iter().all(|change| change.run_id == in_b.run_id));
}

#[tokio::test]
async fn look_alike_and_invisible_characters_in_emails_are_caught_before_anything_is_written() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    let records = [
        record("1", "ada@acme.com", "active"),
        // Full-width "ａ": looks the same, is another string.
        record("2", "\u{ff41}da@acme.com", "active"),
        record("3", "gr\u{200b}ace@acme.com", "active"),
        record("4", "eve\u{0000}@acme.com", "active"),
    ];
    let planned =
        plan(&client, &policy("employeeNumber", json!({}), joiner_leaver()), &records, &journal).await.unwrap();
    let creates: Vec<&str> = planned.changes.iter().filter_map(|c| c.operation.login()).collect();
    assert_eq!(creates, ["ada@acme.com", "ada@acme.com"], "only identity 1 is created (and joins staff)");
    let issues: Vec<(&str, &str)> =
        planned.issues.iter().map(|i| (i.identity.as_deref().unwrap(), i.message.as_str())).collect();
    assert!(issues.iter().any(|(id, m)| *id == "2" && m.contains("already")), "{issues:?}");
    assert!(issues.iter().any(|(id, m)| *id == "3" && m.contains("invisible character U+200B")), "{issues:?}");
    assert!(issues.iter().any(|(id, m)| *id == "4" && m.contains("control character U+0000")), "{issues:?}");
    assert!(writes(&sim).is_empty());
}

#[tokio::test]
async fn a_fallback_login_is_held_to_the_same_characters_as_the_primary() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    user_with_number(&client, "ada@acme.com", "9").await;
    // The primary login is taken by another user, so the fallback is tried.
    let value = json!({
        "name": "fallbacks",
        "source": {"format": "jsonl", "key": "id", "match_on": "employeeNumber"},
        "attributes": {
            "login": "{email}", "email": "{alt}", "firstName": "{first}", "lastName": "{last}",
            "employeeNumber": "{id}", "fallbacks": {"login": ["{nickname}@acme.com"]},
        },
        "workflow": [{"name": "joiner", "actions": [{"action": "sync_identities"}]}],
    });
    let policy = Policy::from_value(&value).unwrap();
    let fields = json!({"id": "1", "email": "ada@acme.com", "alt": "ada2@acme.com", "first": "A", "last": "L", "nickname": "ada\u{200b}"});
    sim.clear_requests();
    let planned = plan(&client, &policy, &[IdentityRecord::from_map(fields.as_object().cloned().unwrap())], &journal)
        .await
        .unwrap();
    assert!(planned.changes.is_empty(), "{}", planned.render());
    assert!(planned.issues[0].message.contains("invisible character U+200B"), "{:?}", planned.issues);
    assert!(writes(&sim).is_empty());
}

/// What the plan decides for each identity, in a comparable form.
fn decisions(plan: &Plan) -> Vec<String> {
    let mut decisions: Vec<String> =
        plan.changes.iter().map(|change| format!("{:?} {}", change.identity, change.operation.describe())).collect();
    decisions.extend(plan.issues.iter().map(|issue| format!("{:?} issue {}", issue.identity, issue.message)));
    decisions.sort();
    decisions
}

#[tokio::test]
async fn a_plan_over_a_few_records_looks_up_their_users_instead_of_listing_the_org() {
    let (sim, client) = common::org(SimulatorConfig { seed_users: 450, ..Default::default() }).await;
    let journal = Journal::in_memory().unwrap();
    let staff = client.groups().create("staff", None).await.unwrap();
    for number in 1..=250 {
        let user = client.users().get(&format!("user{number}@example.com")).await.unwrap();
        client.groups().add_member(staff.id(), user.id()).await.unwrap();
    }
    let member = user_with_number(&client, "ada@acme.com", "1").await;
    client.groups().add_member(staff.id(), &member).await.unwrap();
    user_with_number(&client, "grace@acme.com", "2").await;
    let leaver = user_with_number(&client, "alan@acme.com", "3").await;
    client.groups().add_member(staff.id(), &leaver).await.unwrap();
    let strict = policy("employeeNumber", json!({}), joiner_leaver());
    let few = [
        record("1", "ada@acme.com", "active"),
        record("2", "grace@acme.com", "active"),
        record("3", "alan@acme.com", "terminated"),
        record("4", "edsger@acme.com", "active"),
        // Claims ada's email: an issue only a lookup by email can find.
        record("5", "ada@acme.com", "active"),
    ];

    sim.clear_requests();
    let targeted = plan(&client, &strict, &few, &journal).await.unwrap();
    let reads = sim.requests();
    let listed_org =
        reads.iter().any(|r| r.path == "/api/v1/users" && !r.query.as_deref().unwrap_or("").contains("search="));
    let listed_members = reads.iter().any(|r| r.path.starts_with("/api/v1/groups/") && r.path.ends_with("/users"));
    assert!(!listed_org && !listed_members, "{:?}", reads.iter().map(|r| &r.path).collect::<Vec<_>>());
    assert!(reads.len() <= 20, "a handful of requests per record, not a listing: {}", reads.len());
    assert!(targeted
        .changes
        .iter()
        .any(|c| c.identity.as_deref() == Some("2") && c.operation.describe().contains("add")));
    assert!(targeted
        .changes
        .iter()
        .any(|c| c.identity.as_deref() == Some("3") && c.operation.describe().contains("deactivate")));
    let ada: Vec<String> = targeted
        .changes
        .iter()
        .filter(|c| c.identity.as_deref() == Some("1"))
        .map(|c| c.operation.describe())
        .collect();
    assert!(ada.iter().all(|change| !change.contains("staff")), "ada is a member already: {ada:?}");
    assert!(targeted.issues.iter().any(|i| i.identity.as_deref() == Some("5")), "{:?}", targeted.issues);

    // The same records among more than the targeted limit: the org is listed, the decisions for
    // these five identities are the same.
    let mut many = few.to_vec();
    many.extend(
        (100..100 + okta_lifecycle::lifecycle::planner::TARGETED_READ_MAX_RECORDS)
            .map(|n| record(&n.to_string(), &format!("user{}@example.com", n + 200), "unknown")),
    );
    sim.clear_requests();
    let listed = plan(&client, &strict, &many, &journal).await.unwrap();
    assert!(sim
        .requests()
        .iter()
        .any(|r| r.path == "/api/v1/users" && r.query.as_deref().is_none_or(|q| !q.contains("search="))));
    assert_eq!(decisions(&targeted), decisions(&listed));
}

#[tokio::test]
async fn a_group_named_by_its_id_is_managed_like_a_group_named_by_its_name() {
    let (_sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    let project = client.groups().create("project-apollo", None).await.unwrap();
    let ada = user_with_number(&client, "ada@acme.com", "1").await;
    client.groups().add_member(project.id(), &ada).await.unwrap();
    let workflows = |mode: &str| {
        json!([{"name": "m", "when": "status eq \"active\"", "actions": [
            {"action": "manage_relationships", "groups": [project.id()], "mode": mode}]}])
    };
    let mut records = vec![record("1", "ada@acme.com", "active")];
    // Once alone (users looked up), once among more records than that (the org listed).
    for padding in [0, okta_lifecycle::lifecycle::planner::TARGETED_READ_MAX_RECORDS] {
        records.extend((0..padding).map(|n| record(&format!("p{n}"), &format!("p{n}@acme.com"), "unknown")));
        let remove =
            plan(&client, &policy("employeeNumber", json!({}), workflows("remove")), &records, &journal).await.unwrap();
        assert!(
            remove.changes.iter().any(|c| matches!(&c.operation, Operation::RemoveMember { group, .. }
                if group.id.as_deref() == Some(project.id()))),
            "{} records: {}",
            records.len(),
            remove.render()
        );
        let add =
            plan(&client, &policy("employeeNumber", json!({}), workflows("add")), &records, &journal).await.unwrap();
        assert!(add.changes.is_empty(), "ada is a member already ({} records): {}", records.len(), add.render());
        let scoped = json!([{"name": "m", "when": "status eq \"active\"", "actions": [
            {"action": "manage_relationships", "groups": [], "scope": [project.id()]}]}]);
        let sync = plan(&client, &policy("employeeNumber", json!({}), scoped), &records, &journal).await.unwrap();
        assert!(
            sync.changes.iter().any(|c| matches!(&c.operation, Operation::RemoveMember { .. })),
            "a scope may name a group by id ({} records): {}",
            records.len(),
            sync.render()
        );
    }
}
