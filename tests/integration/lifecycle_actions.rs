//! Each lifecycle action against the simulator: what it decides, what it refuses, and that a
//! second run changes nothing.
#![cfg(feature = "simulator")]

use crate::common;

use std::time::Duration;

use okta_lifecycle::lifecycle::journal::{ChangeStatus, LeaseOutcome};
use okta_lifecycle::lifecycle::plan::Operation;
use okta_lifecycle::lifecycle::record::IdentityRecord;
use okta_lifecycle::lifecycle::{apply, plan, ApplyOptions, Journal, Plan, Policy};
use okta_lifecycle::okta::CreateUser;
use okta_lifecycle::simulator::{ScriptedFault, Simulator, SimulatorConfig};
use okta_lifecycle::{Error, OktaClient};
use serde_json::{json, Value};

fn policy(workflows: Value) -> Policy {
    let mut value = json!({
        "name": "test",
        "source": {"format": "jsonl", "key": "id", "match_on": "employeeNumber"},
        "attributes": {
            "login": "{email | LOWER}", "email": "{email | LOWER}", "firstName": "{first}", "lastName": "{last}",
            "employeeNumber": "{id}", "department": "{department | DEFAULT('')}",
        },
    });
    value["workflow"] = workflows;
    Policy::from_value(&value).unwrap()
}

fn record(id: &str, email: &str, extra: Value) -> IdentityRecord {
    let mut fields =
        json!({"id": id, "email": email, "first": "First", "last": format!("Last{id}"), "status": "active"});
    for (key, value) in extra.as_object().unwrap() {
        fields[key] = value.clone();
    }
    IdentityRecord::from_map(fields.as_object().cloned().unwrap())
}

async fn plan_for(client: &OktaClient, policy: &Policy, records: &[IdentityRecord], journal: &Journal) -> Plan {
    plan(client, policy, records, journal).await.unwrap()
}

fn writes(sim: &Simulator) -> Vec<String> {
    sim.requests().iter().filter(|r| r.method != "GET").map(|r| format!("{} {}", r.method, r.path)).collect()
}

fn joiner(extra_actions: Value) -> Value {
    let mut actions = vec![json!({"action": "sync_identities"})];
    actions.extend(extra_actions.as_array().cloned().unwrap_or_default());
    json!([{"name": "joiner", "when": "status eq \"active\"", "actions": actions}])
}

#[tokio::test]
async fn sync_creates_updates_only_what_changed_and_validates_first() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    let policy = policy(joiner(json!([])));
    let records = vec![
        record("1", "Ada@Acme.com", json!({"department": "Eng"})),
        record("2", "grace@acme.com", json!({})),
        record("3", "", json!({})),
        record("4", "ada@acme.com", json!({})),
        record("5", "not-an-email", json!({})),
    ];
    let planned = plan_for(&client, &policy, &records, &journal).await;
    assert_eq!(planned.summary.joiners, 2, "{}", planned.render());
    let problems: Vec<_> = planned.issues.iter().map(|i| (i.identity.clone().unwrap(), i.message.clone())).collect();
    assert!(problems.iter().any(|(id, m)| id == "3" && m.contains("login is empty")), "{problems:?}");
    assert!(problems.iter().any(|(id, m)| id == "4" && m.contains("already used")), "{problems:?}");
    assert!(problems.iter().any(|(id, m)| id == "5" && m.contains("not an email")), "{problems:?}");
    assert!(writes(&sim).is_empty(), "planning writes nothing");
    assert!(apply(&client, &planned, &journal, &ApplyOptions::default()).await.unwrap().is_success());

    // One attribute changes: exactly that attribute is sent.
    sim.clear_requests();
    let moved =
        vec![record("1", "ada@acme.com", json!({"department": "Research"})), record("2", "grace@acme.com", json!({}))];
    let planned = plan_for(&client, &policy, &moved, &journal).await;
    assert_eq!(planned.changes.len(), 1, "{}", planned.render());
    match &planned.changes[0].operation {
        Operation::UpdateUser { changes, .. } => {
            assert_eq!(changes.len(), 1);
            assert_eq!(
                (changes[0].attribute.as_str(), &changes[0].before, &changes[0].after),
                ("department", &json!("Eng"), &json!("Research"))
            );
        }
        other => panic!("{other:?}"),
    }
    apply(&client, &planned, &journal, &ApplyOptions::default()).await.unwrap();
    assert_eq!(writes(&sim).len(), 1, "{:?}", writes(&sim));
    assert_eq!(sim.user_json("ada@acme.com").unwrap()["profile"]["department"], "Research");

    // Unchanged: no change, no write.
    sim.clear_requests();
    assert!(plan_for(&client, &policy, &moved, &journal).await.is_empty());
    assert!(writes(&sim).is_empty());

    // The login cannot change; the identity is reported and nothing is planned for it.
    let renamed = vec![record("1", "ada.king@acme.com", json!({"department": "Research"}))];
    let planned = plan_for(&client, &policy, &renamed, &journal).await;
    assert!(planned.changes.is_empty());
    assert!(planned.issues[0].message.contains("login cannot change"), "{:?}", planned.issues);

    // create = false: no user is made for an unknown identity.
    let no_create = self::policy(json!([{"name": "j", "actions": [{"action": "sync_identities", "create": false}]}]));
    let planned = plan_for(&client, &no_create, &[record("9", "new@acme.com", json!({}))], &journal).await;
    assert!(
        planned.changes.is_empty() && planned.issues[0].message.contains("does not create"),
        "{:?}",
        planned.issues
    );
}

#[tokio::test]
async fn relationships_sync_within_their_scope_and_refuse_app_groups() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    let groups = client.groups();
    let dept_a = groups.create("dept-a", None).await.unwrap();
    let dept_b = groups.create("dept-b", None).await.unwrap();
    let project = groups.create("project-x", None).await.unwrap();
    let mut create = CreateUser::new(common::profile("ada@acme.com", "First", "Last1"));
    create.profile.insert("employeeNumber".into(), json!("1"));
    let user = client.users().create(&create).await.unwrap();
    groups.add_member(dept_a.id(), user.id()).await.unwrap();
    groups.add_member(project.id(), user.id()).await.unwrap();

    let policy = policy(joiner(
        json!([{"action": "manage_relationships", "groups": ["dept-{department}"], "exclusive_prefix": "dept-"}]),
    ));
    let records = vec![record("1", "ada@acme.com", json!({"department": "b"}))];
    let planned = plan_for(&client, &policy, &records, &journal).await;
    let operations: Vec<String> = planned.changes.iter().map(|c| c.operation.describe()).collect();
    assert_eq!(operations.len(), 3, "{operations:?}");
    apply(&client, &planned, &journal, &ApplyOptions::default()).await.unwrap();
    assert!(sim.group_members(dept_b.id()).contains(&user.id().to_owned()));
    assert!(!sim.group_members(dept_a.id()).contains(&user.id().to_owned()), "left the managed group");
    assert!(sim.group_members(project.id()).contains(&user.id().to_owned()), "an unmanaged group is never touched");
    assert!(plan_for(&client, &policy, &records, &journal).await.is_empty(), "already a member: nothing to do");

    sim.seed_app_group("ad-staff");
    let app = self::policy(joiner(json!([{"action": "manage_relationships", "groups": ["ad-staff"]}])));
    let planned = plan_for(&client, &app, &records, &journal).await;
    assert!(planned.changes.is_empty());
    assert!(planned.issues[0].message.contains("APP_GROUP"), "{:?}", planned.issues);
    let everyone = self::policy(joiner(json!([{"action": "manage_relationships", "groups": ["Everyone"]}])));
    assert!(plan_for(&client, &everyone, &records, &journal).await.issues[0].message.contains("BUILT_IN"));
    let missing = self::policy(joiner(json!([{"action": "manage_relationships", "groups": ["nope"]}])));
    assert!(plan_for(&client, &missing, &records, &journal).await.issues[0].message.contains("create_entitlement"));
}

#[tokio::test]
async fn entitlements_are_idempotent_on_the_name() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    client.groups().create("Dept-Eng", None).await.unwrap();
    let policy = policy(joiner(json!([
        {"action": "create_entitlement", "name": "dept-{department | LOWER}", "description": "The {department} team"},
        {"action": "manage_relationships", "groups": ["dept-{department | LOWER}"]},
    ])));
    let records = vec![
        record("1", "a@acme.com", json!({"department": "Eng"})),
        record("2", "b@acme.com", json!({"department": "Ops"})),
        record("3", "c@acme.com", json!({"department": "ops"})),
    ];
    let planned = plan_for(&client, &policy, &records, &journal).await;
    let creates: Vec<_> = planned.changes.iter().filter(|c| c.operation.name() == "create_group").collect();
    assert_eq!(creates.len(), 1, "one create for dept-ops, none for the existing Dept-Eng: {}", planned.render());
    let report = apply(&client, &planned, &journal, &ApplyOptions::default()).await.unwrap();
    assert!(report.is_success(), "{}", report.render());
    let ops = client.groups().find_by_name("dept-ops").await.unwrap().unwrap();
    assert_eq!(ops.description(), Some("The Ops team"));
    assert_eq!(sim.group_members(ops.id()).len(), 2, "members of a group created in the same run");
    assert!(plan_for(&client, &policy, &records, &journal).await.is_empty());
}

fn leaver_policy(mode: &str) -> Policy {
    policy(json!([
        {"name": "joiner", "when": "status eq \"active\"", "actions": [
            {"action": "sync_identities"},
            {"action": "create_entitlement", "name": "staff"},
            {"action": "manage_relationships", "groups": ["staff"]}]},
        {"name": "leaver", "when": "status eq \"terminated\"", "actions": [
            {"action": "deprovision_identity", "mode": mode, "remove_groups": true, "logout": true}]},
        {"name": "returner", "when": "status eq \"rehired\"", "actions": [
            {"action": "reactivate_identity", "restore_groups": true}, {"action": "sync_identities"}]},
    ]))
}

#[tokio::test]
async fn deprovision_keeps_history_disables_removes_groups_and_logs_out_then_reactivation_restores() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    let policy = leaver_policy("deactivate");
    let hired = vec![record("1", "ada@acme.com", json!({}))];
    apply(&client, &plan_for(&client, &policy, &hired, &journal).await, &journal, &ApplyOptions::default())
        .await
        .unwrap();
    let user = sim.user_json("ada@acme.com").unwrap();
    let id = user["id"].as_str().unwrap().to_owned();
    let staff = client.groups().find_by_name("staff").await.unwrap().unwrap();
    sim.create_session(&id);
    sim.create_oauth_token(&id);

    let left = vec![record("1", "ada@acme.com", json!({"status": "terminated"}))];
    let planned = plan_for(&client, &policy, &left, &journal).await;
    let operations: Vec<&str> = planned.changes.iter().map(|c| c.operation.name()).collect();
    assert_eq!(operations, ["snapshot_user", "deactivate_user", "clear_sessions", "remove_member"]);
    let report = apply(&client, &planned, &journal, &ApplyOptions::default()).await.unwrap();
    assert!(report.is_success(), "{}", report.render());
    assert_eq!(sim.user_json(&id).unwrap()["status"], "DEPROVISIONED");
    assert!(sim.group_members(staff.id()).is_empty());
    assert_eq!((sim.sessions(&id), sim.oauth_tokens(&id)), (0, 0));
    let snapshot = journal.latest_snapshot(&id).unwrap().unwrap();
    assert_eq!(snapshot.status, "PROVISIONED");
    assert!(snapshot.groups.iter().any(|(group, _)| group == staff.id()));
    assert!(plan_for(&client, &policy, &left, &journal).await.is_empty(), "an already deprovisioned user is a no-op");

    let back = vec![record("1", "ada@acme.com", json!({"status": "rehired"}))];
    let planned = plan_for(&client, &policy, &back, &journal).await;
    let operations: Vec<&str> = planned.changes.iter().map(|c| c.operation.name()).collect();
    assert_eq!(operations, ["activate_user", "add_member"], "{}", planned.render());
    assert!(apply(&client, &planned, &journal, &ApplyOptions::default()).await.unwrap().is_success());
    assert_ne!(sim.user_json(&id).unwrap()["status"], "DEPROVISIONED");
    assert_eq!(sim.group_members(staff.id()), vec![id.clone()]);
}

#[tokio::test]
async fn suspend_mode_is_reversible_and_the_safety_limit_blocks_mass_deprovisioning() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    let mut policy = leaver_policy("suspend");
    // Suspending needs ACTIVE users: these have passwords.
    for n in 1..=4 {
        let mut create = CreateUser::new(common::profile(&format!("u{n}@acme.com"), "First", &format!("Last{n}")));
        create.profile.insert("employeeNumber".into(), json!(n.to_string()));
        create.password = Some("Sup3r-secret-pw!".into());
        client.users().create(&create).await.unwrap();
    }
    let mut provisioned = CreateUser::new(common::profile("p@acme.com", "First", "Last5"));
    provisioned.profile.insert("employeeNumber".into(), json!("5"));
    client.users().create(&provisioned).await.unwrap();
    let never_active =
        plan_for(&client, &policy, &[record("5", "p@acme.com", json!({"status": "terminated"}))], &journal).await;
    // Okta will not suspend it: its access goes (a snapshot and the logout), its status stays,
    // and it is named.
    assert!(
        never_active.issues[0].message.contains("PROVISIONED, which Okta does not suspend"),
        "{:?}",
        never_active.issues
    );
    let kept: Vec<_> = never_active.changes.iter().map(|c| c.operation.name()).collect();
    assert_eq!(kept, ["snapshot_user", "clear_sessions"], "{}", never_active.render());
    let everyone_left: Vec<_> =
        (1..=4).map(|n| record(&n.to_string(), &format!("u{n}@acme.com"), json!({"status": "terminated"}))).collect();
    policy.safety.max_deprovisions = Some(2);
    let planned = plan_for(&client, &policy, &everyone_left, &journal).await;
    assert_eq!(planned.summary.leavers, 4);
    assert!(planned.blocked[0].contains("at most 2"), "{:?}", planned.blocked);
    sim.clear_requests();
    match apply(&client, &planned, &journal, &ApplyOptions::default()).await {
        Err(Error::PlanBlocked { reasons }) => assert_eq!(reasons.len(), 1),
        other => panic!("expected a blocked plan, got {other:?}"),
    }
    assert!(writes(&sim).is_empty(), "a blocked plan writes nothing");
    let report = apply(&client, &planned, &journal, &ApplyOptions { override_safety: true, ..Default::default() })
        .await
        .unwrap();
    assert!(report.is_success(), "{}", report.render());
    assert_eq!(sim.user_json("u1@acme.com").unwrap()["status"], "SUSPENDED");
}

#[tokio::test]
async fn reset_password_counts_once_per_requested_reset_and_is_never_repeated() {
    let (sim, client) = common::org(SimulatorConfig { seed_users: 2, ..Default::default() }).await;
    let journal = Journal::in_memory().unwrap();
    let mut value = json!({
        "name": "resets", "source": {"format": "jsonl", "key": "login"},
        "workflow": [{"name": "reset", "actions": [{"action": "reset_password", "send_email": false}]}],
    });
    value["attributes"] = json!({"login": "{login}"});
    let policy = Policy::from_value(&value).unwrap();
    let records: Vec<_> = (1..=2)
        .map(|n| {
            IdentityRecord::from_map(json!({"login": format!("user{n}@example.com")}).as_object().cloned().unwrap())
        })
        .collect();
    let id = |n: u32| sim.user_json(&format!("user{n}@example.com")).unwrap()["id"].as_str().unwrap().to_owned();

    let planned = plan_for(&client, &policy, &records, &journal).await;
    sim.script_fault("POST", &format!("/api/v1/users/{}/lifecycle/reset_password", id(2)), ScriptedFault::DropAfter);
    let report = apply(&client, &planned, &journal, &ApplyOptions::default()).await.unwrap();
    assert_eq!(report.reset_links.len(), 1, "the link comes back, as a secret (the dropped answer's is lost)");
    assert!(!format!("{:?}", report.reset_links).contains("reset_password/"), "links never print");
    // The dropped answer's reset did happen: the user went ACTIVE -> RECOVERY, so it is done.
    let verified: Vec<_> = report
        .outcomes
        .iter()
        .filter(|o| o.message.as_deref().is_some_and(|m| m.contains("answer was lost")))
        .collect();
    assert_eq!(verified.len(), 1, "{}", report.render());
    assert!(report.is_success(), "{}", report.render());
    assert_eq!(sim.counters().reset_password.get(&id(1)), Some(&1));
    assert_eq!(sim.counters().reset_password.get(&id(2)), Some(&1), "sent once");

    // Resuming the same run repeats nothing.
    let resumed = apply(&client, &planned, &journal, &ApplyOptions::default()).await.unwrap();
    assert!(resumed.outcomes.iter().all(|o| o.already_done));
    assert_eq!(sim.counters().reset_password.get(&id(1)), Some(&1));
    assert_eq!(sim.counters().reset_password.get(&id(2)), Some(&1));

    // An applier that died mid-reset. For user1 it had journaled the status before the reset
    // (RECOVERY, from the first run), so the reset may have been sent and Okta cannot tell: it is
    // reported as unknown and never sent. For user2 it had only claimed the change: a reset is
    // sent only after its status is journaled, so it was never sent, and is sent now.
    let crashed = plan_for(&client, &policy, &records, &journal).await;
    let LeaseOutcome::Acquired(fence) =
        journal.acquire_lease(&crashed.run_id, "gone:1:dead", Duration::from_millis(1)).unwrap()
    else {
        panic!("a new run's lease is free")
    };
    for change in &crashed.changes {
        assert!(journal.claim(&crashed.run_id, change, ChangeStatus::Planned, &fence).unwrap());
        if change.operation.login() == Some("user1@example.com") {
            let before = json!({"user_id": id(1), "status_before": "RECOVERY"});
            journal.mark(&crashed.run_id, change, ChangeStatus::Started, Some(&before), None, None, None).unwrap();
        }
    }
    std::thread::sleep(Duration::from_millis(50));
    let report = apply(&client, &crashed, &journal, &ApplyOptions::default()).await.unwrap();
    let unknown: Vec<_> = report.outcomes.iter().filter(|o| o.status == ChangeStatus::Unknown).collect();
    assert_eq!(unknown.len(), 1, "{}", report.render());
    assert_eq!(unknown[0].login.as_deref(), Some("user1@example.com"));
    let (_, kept) = journal.change_status(&crashed.run_id, unknown[0].seq).unwrap().unwrap();
    assert_eq!(kept.unwrap()["status_before"], "RECOVERY", "marking it unknown keeps what a later resume needs");
    assert_eq!(sim.counters().reset_password.get(&id(1)), Some(&1), "never resent");
    assert_eq!(sim.counters().reset_password.get(&id(2)), Some(&2), "sent for the first time");

    // A new run is a new request: a new event each.
    let again = plan_for(&client, &policy, &records, &journal).await;
    apply(&client, &again, &journal, &ApplyOptions::default()).await.unwrap();
    assert_eq!(sim.counters().reset_password.get(&id(1)), Some(&2));
    assert_eq!(sim.counters().reset_password.get(&id(2)), Some(&3));
}

#[tokio::test]
async fn an_interrupted_apply_resumes_without_repeating_anything() {
    let (sim, client) = common::org(SimulatorConfig { latency_ms: 15, ..Default::default() }).await;
    let directory = std::env::temp_dir().join(format!("okta-lifecycle-resume-{}", std::process::id()));
    let journal_path = directory.join("journal.sqlite");
    let _ = std::fs::remove_file(&journal_path);
    let policy = policy(joiner(json!([
        {"action": "create_entitlement", "name": "team-{department}"},
        {"action": "manage_relationships", "groups": ["team-{department}"]},
    ])));
    let records: Vec<_> = (1..=40)
        .map(|n| record(&n.to_string(), &format!("p{n}@acme.com"), json!({"department": format!("d{}", n % 4)})))
        .collect();
    let journal = Journal::open(&journal_path).unwrap();
    let planned = plan_for(&client, &policy, &records, &journal).await;
    let creates = planned.changes.iter().filter(|c| c.operation.name() == "create_user").count();
    assert_eq!(creates, 40);

    // One create's answer is lost on the way back: its outcome must be checked, not repeated.
    sim.script_fault("POST", "/api/v1/users", ScriptedFault::DropAfter);
    let options = ApplyOptions { concurrency: 4, ..Default::default() };
    // Cut off midway: once ten users have been created (not after a fixed time, which a busy
    // machine may spend before the first create).
    let created = || sim.requests().iter().filter(|r| r.method == "POST" && r.path == "/api/v1/users").count();
    let midway = async {
        while created() < 10 {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    };
    let interrupted = tokio::select! {
        report = apply(&client, &planned, &journal, &options) => Some(report),
        () = midway => None,
    };
    assert!(interrupted.is_none(), "the apply was cut off midway");
    assert!(created() < 40, "cut off before every user was created");
    drop(journal);

    // A new process: the journal on disk is all that is left.
    let journal = Journal::open(&journal_path).unwrap();
    let report = apply(&client, &planned, &journal, &options).await.unwrap();
    assert!(report.is_success(), "{}", report.render());
    assert!(report.outcomes.iter().any(|o| o.already_done), "the resume skipped finished work");
    let posts = sim.requests().iter().filter(|r| r.method == "POST" && r.path == "/api/v1/users").count();
    assert_eq!(posts, 40, "every user created exactly once");
    let group_posts = sim.requests().iter().filter(|r| r.method == "POST" && r.path == "/api/v1/groups").count();
    assert_eq!(group_posts, 4);
    for n in 1..=40 {
        assert!(sim.user_json(&format!("p{n}@acme.com")).is_some());
    }
    assert!(plan_for(&client, &policy, &records, &journal).await.is_empty());
    let _ = std::fs::remove_dir_all(&directory);
}

#[tokio::test]
async fn a_joiner_joins_existing_groups_in_the_create_request() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    let staff = client.groups().create("staff", None).await.unwrap();
    let eng = client.groups().create("eng", None).await.unwrap();
    let policy =
        policy(joiner(json!([{"action": "manage_relationships", "groups": ["staff", "eng", "new-{department}"]},
        {"action": "create_entitlement", "name": "new-{department}"}])));
    // The group created in the run has no id when planning: that membership stays a separate change.
    let policy = {
        let mut value = policy;
        let actions = &mut value.workflows[0].actions;
        actions.swap(1, 2);
        value
    };
    let planned =
        plan_for(&client, &policy, &[record("1", "ada@acme.com", json!({"department": "x"}))], &journal).await;
    let operations: Vec<&str> = planned.changes.iter().map(|c| c.operation.name()).collect();
    assert_eq!(operations, ["create_group", "create_user", "add_member"], "{}", planned.render());
    assert!(planned.changes[1].operation.describe().contains("\"staff\", \"eng\""));
    sim.clear_requests();
    assert!(apply(&client, &planned, &journal, &ApplyOptions::default()).await.unwrap().is_success());
    let id = sim.user_json("ada@acme.com").unwrap()["id"].as_str().unwrap().to_owned();
    assert!(sim.group_members(staff.id()).contains(&id) && sim.group_members(eng.id()).contains(&id));
    let membership_writes = sim.requests().iter().filter(|r| r.method == "PUT").count();
    assert_eq!(membership_writes, 1, "only the membership of the group created in the same run");
    assert!(plan_for(&client, &policy, &[record("1", "ada@acme.com", json!({"department": "x"}))], &journal)
        .await
        .is_empty());
}
