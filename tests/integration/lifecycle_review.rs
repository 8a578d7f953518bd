//! Engine defects a review and a probe of a built wheel found, each as the scenario that showed
//! it: a leaver kept because its key was written differently, a reset sent twice or recorded as
//! sent when it was not, two appliers sending after a take-over, a rehire in the wrong order or
//! restoring an older absence, a locked-out leaver keeping its access, the lookup path and the
//! listing path disagreeing, and a new journal opened by many processes at once.
#![cfg(feature = "simulator")]

use crate::common;

use std::path::PathBuf;
use std::time::Duration;

use okta_lifecycle::lifecycle::journal::{ChangeStatus, SnapshotRole, UserSnapshot};
use okta_lifecycle::lifecycle::record::IdentityRecord;
use okta_lifecycle::lifecycle::{apply, plan, planner, state, ApplyOptions, Journal, Plan, Policy};
use okta_lifecycle::okta::{Assignee, CreateUser};
use okta_lifecycle::simulator::{ScriptedFault, Simulator, SimulatorConfig};
use okta_lifecycle::OktaClient;
use serde_json::{json, Map, Value};

/// A folder of its own under the system's temporary folder, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let unique = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let path = std::env::temp_dir().join(format!("okta-lifecycle-{name}-{}-{unique}", std::process::id()));
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

fn policy(match_on: &str, attributes: Value, workflows: Value) -> Policy {
    let mut all = json!({
        "login": "{email | LOWER}", "email": "{email | LOWER}", "firstName": "{first}", "lastName": "{last}",
    });
    for (name, formatter) in attributes.as_object().unwrap() {
        all[name] = formatter.clone();
    }
    Policy::from_value(&json!({
        "name": "review",
        "source": {"format": "jsonl", "key": "id", "match_on": match_on},
        "attributes": all,
        "workflow": workflows,
    }))
    .unwrap()
}

fn record(fields: Value) -> IdentityRecord {
    IdentityRecord::from_map(fields.as_object().unwrap().clone())
}

fn person(id: &str, email: &str, status: &str) -> IdentityRecord {
    record(json!({"id": id, "email": email, "first": "Ada", "last": "Lovelace", "status": status, "dept": "eng"}))
}

fn joiner_leaver() -> Value {
    json!([
        {"name": "joiner", "when": "status eq \"active\"", "actions": [{"action": "sync_identities"}]},
        {"name": "leaver", "when": "status eq \"terminated\"", "actions": [
            {"action": "deprovision_identity", "mode": "deactivate"}]},
    ])
}

async fn create(client: &OktaClient, login: &str, extra: Value) -> String {
    // With a password, so that the account is ACTIVE (without one Okta makes it PROVISIONED).
    let mut request = CreateUser::new(common::profile(login, "Ada", "Lovelace"));
    request.password = Some(okta_lifecycle::SecretString::new("Correct-Horse-1"));
    for (name, value) in extra.as_object().unwrap() {
        request.profile.insert(name.clone(), value.clone());
    }
    client.users().create(&request).await.unwrap().id().to_owned()
}

fn posts(sim: &Simulator, suffix: &str) -> usize {
    sim.requests().iter().filter(|r| r.method == "POST" && r.path.ends_with(suffix)).count()
}

/// What a deactivate-mode leaver with no groups and no roles is planned as.
const LEAVER: [&str; 3] = ["snapshot_user", "deactivate_user", "clear_sessions"];

fn operations(plan: &Plan) -> Vec<&'static str> {
    plan.changes.iter().map(|c| c.operation.name()).collect()
}

/// Defect 1: the key as HR exports write it (spaces, case, zero padding, a sign) matches the
/// account whose value the policy writes; a leaver whose key matches no one is an issue.
#[tokio::test]
async fn a_leaver_is_matched_on_the_value_as_written_to_okta_never_kept_in_silence() {
    let (_sim, client) = common::org(SimulatorConfig::default()).await;
    let mut properties = Map::new();
    properties.insert("empId".into(), json!({"title": "Employee id", "type": "integer"}));
    client.schema().update_custom(&properties).await.unwrap();
    let journal = Journal::in_memory().unwrap();
    create(&client, "ada@acme.com", json!({"employeeNumber": "E100"})).await;
    create(&client, "bob@acme.com", json!({"empId": 4100})).await;

    // employeeNumber written as the key, upper-cased by the policy or not: " e100" and "e100"
    // are the account holding "E100".
    for formatter in ["{id | UPPER}", "{id}"] {
        let by_number = policy("employeeNumber", json!({"employeeNumber": formatter}), joiner_leaver());
        for key in [" E100", "e100", "E100 "] {
            let leaver = [person(key, "ada@acme.com", "terminated")];
            let planned = plan(&client, &by_number, &leaver, &journal).await.unwrap();
            assert!(planned.issues.is_empty(), "{key:?}: {:?}", planned.issues);
            assert_eq!(operations(&planned), LEAVER, "{key:?} {formatter}");
            // An active row with a new email is the same person, not a second account.
            let mover = [person(key, "ada.lovelace@acme.com", "active")];
            let planned = plan(&client, &by_number, &mover, &journal).await.unwrap();
            assert!(!operations(&planned).contains(&"create_user"), "{key:?}: {}", planned.render());
        }
    }
    // An integer attribute, matched on the key as the schema types it.
    let by_integer = policy("empId", json!({"empId": "{id}"}), joiner_leaver());
    for key in ["04100", "+4100", " 4100"] {
        let leaver = [person(key, "bob@acme.com", "terminated")];
        let planned = plan(&client, &by_integer, &leaver, &journal).await.unwrap();
        assert!(planned.issues.is_empty(), "{key:?}: {:?}", planned.issues);
        assert_eq!(operations(&planned), LEAVER, "{key:?}");
    }
    // A leaver whose key matches no one is named, never counted as unchanged.
    let by_number = policy("employeeNumber", json!({"employeeNumber": "{id}"}), joiner_leaver());
    let planned =
        plan(&client, &by_number, &[person("E999", "nobody@acme.com", "terminated")], &journal).await.unwrap();
    assert_eq!(planned.summary.unchanged, 0);
    assert_eq!(planned.issues.len(), 1, "{}", planned.render());
    assert!(planned.issues[0].message.contains("no Okta user matches employeeNumber E999"), "{:?}", planned.issues);
}

fn reset_policy() -> Policy {
    policy(
        "login",
        json!({}),
        json!([{"name": "reset", "when": "status eq \"reset\"", "actions": [
            {"action": "reset_password", "send_email": false}]}]),
    )
}

/// Defect 3: a reset left in flight whose user is ACTIVE again (it completed the reset
/// meanwhile) is not proven unsent: it stays unknown and is never sent a second time.
#[tokio::test]
async fn a_reset_in_flight_whose_user_is_active_again_is_unknown_not_sent_twice() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    let id = create(&client, "ada@acme.com", json!({})).await;
    let records = [person("1", "ada@acme.com", "reset")];
    let planned = plan(&client, &reset_policy(), &records, &journal).await.unwrap();
    assert_eq!(operations(&planned), ["reset_password"]);
    // An applier journaled the status before the reset, sent it, and died; the user then
    // completed the reset, so Okta shows it ACTIVE again. The row has no send time (as rows
    // journaled before the System Log settled resets): only the log could settle it, and
    // without a send time it cannot be searched.
    let change = &planned.changes[0];
    let before = json!({"user_id": id, "status_before": "ACTIVE"});
    journal.mark(&planned.run_id, change, ChangeStatus::Started, Some(&before), None, None, None).unwrap();
    client.users().reset_password(&id, false, false).await.unwrap();
    assert_eq!(posts(&sim, "/lifecycle/reset_password"), 1);
    // The user sets a new password (RECOVERY -> ACTIVE), as the reset link lets it.
    let set_password = reqwest::Client::new()
        .post(format!("{}/api/v1/users/{id}", sim.url()))
        .header("authorization", format!("SSWS {}", sim.api_token()))
        .header("content-type", "application/json")
        .body(json!({"credentials": {"password": {"value": "Correct-Horse-9"}}}).to_string())
        .send()
        .await
        .unwrap();
    assert!(set_password.status().is_success());
    assert_eq!(sim.user_json(&id).unwrap()["status"], "ACTIVE");

    let report = apply(&client, &planned, &journal, &ApplyOptions::default()).await.unwrap();
    assert_eq!(report.outcomes[0].status, ChangeStatus::Unknown, "{}", report.render());
    assert_eq!(posts(&sim, "/lifecycle/reset_password"), 1, "never sent a second time");
    let again = apply(&client, &planned, &journal, &ApplyOptions::default()).await.unwrap();
    assert_eq!(again.outcomes[0].status, ChangeStatus::Unknown);
    assert_eq!(posts(&sim, "/lifecycle/reset_password"), 1, "nor on the next resume");
}

/// Defect 4: an unreadable answer to the read before a reset is the failure of that read: the
/// reset was not sent, and is not recorded as succeeded.
#[tokio::test]
async fn an_unreadable_answer_before_a_reset_is_a_failed_read_not_a_sent_reset() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    let id = create(&client, "ada@acme.com", json!({})).await;
    let planned = plan(&client, &reset_policy(), &[person("1", "ada@acme.com", "reset")], &journal).await.unwrap();
    sim.script_fault("GET", &format!("/api/v1/users/{id}"), ScriptedFault::GarbleAfter);
    let report = apply(&client, &planned, &journal, &ApplyOptions::default()).await.unwrap();
    assert_eq!(report.outcomes[0].status, ChangeStatus::Failed, "{}", report.render());
    assert_eq!(posts(&sim, "/lifecycle/reset_password"), 0);
    // Never sent, so the resume sends it, once.
    let resumed = apply(&client, &planned, &journal, &ApplyOptions::default()).await.unwrap();
    assert_eq!(resumed.outcomes[0].status, ChangeStatus::Succeeded, "{}", resumed.render());
    assert_eq!(posts(&sim, "/lifecycle/reset_password"), 1);
}

/// Defect 5: an applier that stalls after claiming a reset, and whose run is taken over
/// meanwhile, sends nothing when it resumes: its successor owns the run (the fence).
#[tokio::test]
async fn a_stalled_applier_whose_run_was_taken_over_sends_nothing() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let scratch = Scratch::new("fence");
    let journal = Journal::open(&scratch.journal()).unwrap();
    let id = create(&client, "ada@acme.com", json!({})).await;
    let planned = plan(&client, &reset_policy(), &[person("1", "ada@acme.com", "reset")], &journal).await.unwrap();
    // The first applier claims the reset, then stalls in the read before it.
    sim.script_fault("GET", &format!("/api/v1/users/{id}"), ScriptedFault::DelayMs(1500));
    let (first_client, first_plan, path) = (client.clone(), planned.clone(), scratch.journal());
    let first = tokio::spawn(async move {
        let journal = Journal::open(&path).unwrap();
        apply(&first_client, &first_plan, &journal, &ApplyOptions::default()).await.unwrap()
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Its lease looks expired to the second applier (the first one's clock stood still).
    let raw = rusqlite::Connection::open(scratch.journal()).unwrap();
    raw.execute("UPDATE runs SET lease_expires_ms = 0, lease_expires_uptime_ms = 0", []).unwrap();
    let second = apply(&client, &planned, &journal, &ApplyOptions::default()).await.unwrap();
    assert_eq!(second.outcomes[0].status, ChangeStatus::Succeeded, "{}", second.render());
    let first = first.await.unwrap();
    assert_ne!(first.outcomes[0].status, ChangeStatus::Succeeded, "{}", first.render());
    assert_eq!(posts(&sim, "/lifecycle/reset_password"), 1, "one reset, from the applier that owns the run");
    let (status, _) = journal.change_status(&planned.run_id, 1).unwrap().unwrap();
    assert_eq!(status, ChangeStatus::Succeeded, "the stalled applier recorded nothing over its successor");
}

fn rehire_policy() -> Policy {
    policy(
        "employeeNumber",
        json!({"employeeNumber": "{id}", "department": "{dept}"}),
        json!([
            {"name": "joiner", "when": "status eq \"active\"", "actions": [
                {"action": "sync_identities"},
                {"action": "manage_relationships", "mode": "sync", "groups": ["dept-{dept}", "staff"],
                 "exclusive_prefix": "dept-"}]},
            {"name": "leaver", "when": "status eq \"terminated\"", "actions": [
                {"action": "deprovision_identity", "mode": "deactivate"}]},
            {"name": "rehire", "when": "status eq \"rehired\"", "actions": [
                {"action": "reactivate_identity", "restore_groups": true, "restore_roles": true, "send_email": false},
                {"action": "sync_identities"},
                {"action": "manage_relationships", "mode": "sync", "groups": ["dept-{dept}", "staff"],
                 "exclusive_prefix": "dept-"}]},
        ]),
    )
}

fn staff(id: &str, dept: &str, status: &str) -> IdentityRecord {
    record(
        json!({"id": id, "email": "ada@acme.com", "first": "Ada", "last": "Lovelace", "dept": dept, "status": status}),
    )
}

/// Defect 6: a rehire into another department: the account comes back before its profile is
/// updated (Okta refuses updates to a DEPROVISIONED user), and the old department's group is not
/// restored only to be taken away the next day.
#[tokio::test]
async fn a_rehire_into_another_department_is_applied_in_the_order_okta_needs() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    let mut groups = std::collections::HashMap::new();
    for name in ["dept-eng", "dept-sales", "staff", "wiki"] {
        groups.insert(name, client.groups().create(name, None).await.unwrap().id().to_owned());
    }
    let policy = rehire_policy();
    let day = |records: Vec<IdentityRecord>| {
        let (client, journal, policy) = (&client, &journal, &policy);
        async move {
            let planned = plan(client, policy, &records, journal).await.unwrap();
            assert!(planned.issues.is_empty(), "{:?}", planned.issues);
            let report = apply(client, &planned, journal, &ApplyOptions::default()).await.unwrap();
            assert!(report.is_success(), "{}", report.render());
            planned
        }
    };
    day(vec![staff("7", "eng", "active")]).await;
    let id = sim.user_json("ada@acme.com").unwrap()["id"].as_str().unwrap().to_owned();
    client.groups().add_member(&groups["wiki"], &id).await.unwrap();
    day(vec![staff("7", "eng", "terminated")]).await;
    assert_eq!(sim.user_json(&id).unwrap()["status"], "DEPROVISIONED");

    let rehired = day(vec![staff("7", "sales", "rehired")]).await;
    let position = |name: &str| rehired.changes.iter().position(|c| c.operation.name() == name).unwrap();
    assert!(position("activate_user") < position("update_user"), "{}", rehired.render());
    let user = sim.user_json(&id).unwrap();
    assert_eq!(user["profile"]["department"], "sales");
    let member_of = |group: &str| sim.group_members(&groups[group]).contains(&id);
    assert!(member_of("dept-sales") && member_of("staff") && member_of("wiki"), "restored and synchronised");
    assert!(!member_of("dept-eng"), "the old department's group is not restored");
    // The next day has nothing left to correct.
    let next = plan(&client, &policy, &[staff("7", "sales", "rehired")], &journal).await.unwrap();
    assert!(!operations(&next).contains(&"remove_member"), "{}", next.render());
}

/// Defect 7: a user reactivated by hand (without the admin role it had) and disabled again by
/// hand is not given the role back from the older absence.
#[tokio::test]
async fn a_rehire_restores_nothing_from_an_absence_that_was_ended_by_hand() {
    let (_sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    let policy = rehire_policy();
    for name in ["dept-eng", "staff"] {
        client.groups().create(name, None).await.unwrap();
    }
    let run = |records: Vec<IdentityRecord>| {
        let (client, journal, policy) = (&client, &journal, &policy);
        async move {
            let planned = plan(client, policy, &records, journal).await.unwrap();
            let report = apply(client, &planned, journal, &ApplyOptions::default()).await.unwrap();
            assert!(report.is_success(), "{}", report.render());
            planned
        }
    };
    run(vec![staff("7", "eng", "active")]).await;
    let id = client.users().get("ada@acme.com").await.unwrap().id().to_owned();
    let assignee = Assignee::User(id.clone());
    client.roles().assign(&assignee, "SUPER_ADMIN").await.unwrap();
    run(vec![staff("7", "eng", "terminated")]).await;
    // By hand: back without the role, then disabled again.
    client.users().activate(&id, false).await.unwrap();
    let held: Vec<String> =
        client.roles().list(&assignee).await.unwrap().iter().map(|r| r.role_type().to_owned()).collect();
    assert!(held.is_empty(), "{held:?}");
    tokio::time::sleep(Duration::from_millis(5)).await;
    client.users().deactivate(&id, false).await.unwrap();

    let rehired = plan(&client, &policy, &[staff("7", "eng", "rehired")], &journal).await.unwrap();
    assert!(rehired.issues.is_empty(), "{:?}", rehired.issues);
    assert!(operations(&rehired).contains(&"activate_user"), "{}", rehired.render());
    assert!(!operations(&rehired).contains(&"assign_role"), "{}", rehired.render());
}

/// Defect 12: a custom role in a snapshot is an issue for the reactivation, as a scoped role is,
/// never an assignment Okta always refuses.
#[tokio::test]
async fn a_custom_role_is_not_restored_by_an_assignment_okta_refuses() {
    let (_sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    let id = create(&client, "ada@acme.com", json!({"employeeNumber": "7"})).await;
    client.users().deactivate(&id, false).await.unwrap();
    let user = client.users().get(&id).await.unwrap();
    journal
        .record_snapshot(&UserSnapshot {
            run_id: "r1".into(),
            user_id: id.clone(),
            login: "ada@acme.com".into(),
            taken_at: "2026-01-01T00:00:00Z".into(),
            status: "DEPROVISIONED".into(),
            status_changed: user.raw().get("statusChanged").and_then(Value::as_str).map(str::to_owned),
            profile: Map::new(),
            groups: Vec::new(),
            roles: vec![SnapshotRole {
                role_type: "CUSTOM".into(),
                label: "Help desk (custom)".into(),
                group_targets: Vec::new(),
                app_targets: Vec::new(),
            }],
        })
        .unwrap();
    let planned = plan(&client, &rehire_policy(), &[staff("7", "eng", "rehired")], &journal).await.unwrap();
    assert!(!operations(&planned).contains(&"assign_role"), "{}", planned.render());
    assert_eq!(planned.issues.len(), 1, "{}", planned.render());
    assert!(planned.issues[0].message.contains("CUSTOM"), "{:?}", planned.issues);
}

/// Defect 8: a suspend-mode leaver who is LOCKED_OUT loses its groups, roles and sessions; the
/// status Okta will not suspend is deactivated (by policy option) or named as an issue.
#[tokio::test]
async fn a_locked_out_leaver_loses_its_access_either_way() {
    for refused in ["issue", "deactivate"] {
        let (sim, client) = common::org(SimulatorConfig::default()).await;
        let journal = Journal::in_memory().unwrap();
        let id = create(&client, "ada@acme.com", json!({"employeeNumber": "7"})).await;
        let group = client.groups().create("staff", None).await.unwrap().id().to_owned();
        client.groups().add_member(&group, &id).await.unwrap();
        client.roles().assign(&Assignee::User(id.clone()), "HELP_DESK_ADMIN").await.unwrap();
        assert!(sim.create_session(&id));
        assert!(sim.lock_out(&id));
        let leavers = policy(
            "employeeNumber",
            json!({"employeeNumber": "{id}"}),
            json!([{"name": "leaver", "when": "status eq \"terminated\"", "actions": [
                {"action": "deprovision_identity", "mode": "suspend", "suspend_refused": refused}]}]),
        );
        let planned = plan(&client, &leavers, &[staff("7", "eng", "terminated")], &journal).await.unwrap();
        let report = apply(&client, &planned, &journal, &ApplyOptions::default()).await.unwrap();
        assert!(report.is_success(), "{refused}: {}", report.render());
        assert!(sim.group_members(&group).is_empty(), "{refused}");
        assert!(sim.role_assignments(&id).is_empty(), "{refused}");
        assert_eq!(sim.sessions(&id), 0, "{refused}");
        let status = sim.user_json(&id).unwrap()["status"].as_str().unwrap().to_owned();
        assert_eq!(planned.issues.len(), 1, "{refused}: said either way: {}", planned.render());
        match refused {
            "deactivate" => assert_eq!(status, "DEPROVISIONED"),
            _ => {
                assert_eq!(status, "LOCKED_OUT");
                assert!(planned.issues[0].message.contains("LOCKED_OUT"), "{:?}", planned.issues);
            }
        }
    }
}

/// Defect 9: planning a few records (lookups) and many (the listing) decide the same, for a
/// full-width look-alike email and for a login holding `/`.
#[tokio::test]
async fn the_lookup_path_and_the_listing_path_plan_alike() {
    let (_sim, client) = common::org(SimulatorConfig::default()).await;
    let schema = client.schema().user_schema().await.unwrap();
    create(&client, "ada@acme.com", json!({})).await;
    let joiners = policy("login", json!({}), joiner_leaver());
    let records = vec![
        // A new person whose email imitates Ada's in full-width letters.
        record(json!({"id": "2", "email": "ａｄａ@acme.com", "first": "Eve", "last": "Mallory", "status": "active"})),
        // A login that cannot be a path segment.
        record(json!({"id": "3", "email": "a/b@acme.com", "first": "Al", "last": "Slash", "status": "active"})),
        person("1", "ada@acme.com", "active"),
    ];
    let plans: Vec<Plan> = futures_util::future::join_all([true, false].map(|targeted| {
        let (client, joiners, records, schema) = (&client, &joiners, &records, &schema);
        async move {
            let mut request = planner::read_request(joiners, records, Some(schema));
            assert!(request.lookups.is_some());
            if !targeted {
                request.lookups = None;
            }
            let mut snapshot = state::read(client, &request).await.expect("one record's login fails no plan");
            snapshot.set_schema(schema.clone());
            planner::plan_with_snapshot(joiners, records, &snapshot, "https://acme.okta.com", &|_, _| Ok(None))
        }
    }))
    .await;
    let (targeted, listed) = (&plans[0], &plans[1]);
    assert_eq!(targeted.changes, listed.changes);
    assert_eq!(targeted.issues, listed.issues);
    assert!(
        targeted.issues.iter().any(|issue| issue.row == 1 && issue.message.contains("already used")),
        "the look-alike is a duplicate on both paths: {:?}",
        targeted.issues
    );
}

/// Defect 10: many processes opening a new journal at once all get it, migrated once.
#[test]
fn a_new_journal_opened_by_many_at_once_is_migrated_once() {
    for round in 0..5 {
        let scratch = Scratch::new(&format!("first-open-{round}"));
        let path = scratch.journal();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
        let openers: Vec<_> = (0..8)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    Journal::open(&path).map(|_| ())
                })
            })
            .collect();
        for opener in openers {
            opener.join().unwrap().expect("every opener gets the journal");
        }
    }
}
