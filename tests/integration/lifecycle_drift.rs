//! Drift made by hand: Okta's System Log joined with the journal by request id and target. A
//! role granted and a leaver reactivated by another admin are reported with who did it; every
//! change a run made (answered, unanswered, or in flight when its applier was killed) is not.
#![cfg(feature = "simulator")]

use crate::common;

use std::time::Duration;

use chrono::Utc;
use okta_lifecycle::lifecycle::direct;
use okta_lifecycle::lifecycle::drift::{drift, DriftOptions};
use okta_lifecycle::lifecycle::journal::ChangeStatus;
use okta_lifecycle::lifecycle::record::IdentityRecord;
use okta_lifecycle::lifecycle::{apply, plan, ApplyOptions, Journal, Policy};
use okta_lifecycle::okta::{Assignee, CreateUser};
use okta_lifecycle::simulator::{Faults, Simulator, SimulatorConfig};
use okta_lifecycle::{Error, OktaClient};
use serde_json::{json, Map, Value};

fn quick_log() -> SimulatorConfig {
    SimulatorConfig { log_delay: Duration::ZERO, ..SimulatorConfig::default() }
}

fn since_a_minute_ago() -> DriftOptions {
    DriftOptions { since: Utc::now() - chrono::TimeDelta::minutes(1), until: None, everything: false }
}

fn profile(login: &str) -> Map<String, Value> {
    common::profile(login, "Ada", login.split('@').next().unwrap())
}

/// A client acting as another admin of the org, `jane@acme.com`, working by hand.
async fn by_hand(sim: &Simulator, client: &OktaClient) -> (OktaClient, String) {
    let jane = client.users().create(&CreateUser::new(profile("jane@acme.com"))).await.unwrap();
    assert!(sim.add_admin_token("jane-console-token", "JANE@acme.com"));
    assert!(!sim.add_admin_token("nobody-token", "nobody@acme.com"), "no token for a user the org lacks");
    let mut config = okta_lifecycle::ClientConfig::with_api_token(&sim.url(), "jane-console-token").unwrap();
    config.rate_limit_share = 1.0;
    (OktaClient::new(config).unwrap(), jane.id().to_owned())
}

#[tokio::test]
async fn a_role_granted_and_a_leaver_reactivated_by_hand_are_drift_and_the_runs_own_changes_are_not() {
    let (sim, client) = common::org(quick_log()).await;
    let journal = Journal::in_memory().unwrap();
    // The process: two joiners, a group, a membership, one of them deprovisioned.
    for login in ["ada@acme.com", "bob@acme.com"] {
        let outcome = direct::sync_identity(&client, &journal, &profile(login), true, true).await.unwrap();
        assert!(outcome.report.is_success(), "{}", outcome.report.render());
    }
    let group = direct::create_entitlement(&client, &journal, "Engineering", None).await.unwrap();
    assert!(group.report.is_success());
    let joined = direct::manage_relationships(&client, &journal, "ada@acme.com", &["Engineering".into()], "add", None)
        .await
        .unwrap();
    assert!(joined.report.is_success(), "{}", joined.report.render());
    let left =
        direct::deprovision_identity(&client, &journal, "bob@acme.com", "deactivate", true, true, true).await.unwrap();
    assert!(left.report.is_success(), "{}", left.report.render());
    assert!(drift(&client, &journal, &since_a_minute_ago()).await.unwrap().is_empty(), "the runs' changes are theirs");

    // By hand: Jane grants Ada an admin role and brings Bob back; someone else's user joins
    // Engineering; an unmanaged user is changed.
    let (jane, jane_id) = by_hand(&sim, &client).await;
    let ada = client.users().get("ada@acme.com").await.unwrap();
    let bob = client.users().get("bob@acme.com").await.unwrap();
    jane.roles().assign(&Assignee::User(ada.id().to_owned()), "USER_ADMIN").await.unwrap();
    jane.users().activate(bob.id(), false).await.unwrap();
    let carol = jane.users().create(&CreateUser::new(profile("carol@acme.com"))).await.unwrap();
    let engineering = client.groups().find_by_name("Engineering").await.unwrap().unwrap();
    jane.groups().add_member(engineering.id(), carol.id()).await.unwrap();
    // Okta's log is near real time: what was just done is read a moment later.
    tokio::time::sleep(Duration::from_millis(20)).await;

    let found = drift(&client, &journal, &since_a_minute_ago()).await.unwrap();
    let summary: Vec<(String, Vec<String>)> = found
        .iter()
        .map(|event| (event.event_type.clone(), event.targets.iter().filter_map(|t| t.alternate_id.clone()).collect()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("user.account.privilege.grant".to_owned(), vec!["ada@acme.com".to_owned()]),
            ("user.lifecycle.activate".to_owned(), vec!["bob@acme.com".to_owned()]),
            ("group.user_membership.add".to_owned(), vec!["carol@acme.com".to_owned(), "Engineering".to_owned()]),
        ],
        "{found:#?}"
    );
    for event in &found {
        let actor = event.actor.as_ref().unwrap();
        assert_eq!((actor.id.as_str(), actor.alternate_id.as_deref()), (jane_id.as_str(), Some("jane@acme.com")));
        assert!(event.managed && event.request_id.is_some());
    }
    assert!(found[0].render().contains("by jane@acme.com (User)"), "{}", found[0].render());

    // Everything: the unmanaged user's creation too (Jane's own account was made by the
    // process's client outside any run, which is drift as well).
    let everything = DriftOptions { everything: true, ..since_a_minute_ago() };
    let all = drift(&client, &journal, &everything).await.unwrap();
    let creations: Vec<&str> = all
        .iter()
        .filter(|e| e.event_type == "user.lifecycle.create")
        .filter_map(|e| e.targets[0].alternate_id.as_deref())
        .collect();
    assert_eq!(creations, vec!["jane@acme.com", "carol@acme.com"]);
    assert!(all.iter().all(|e| !e.targets.iter().any(|t| t.alternate_id.as_deref() == Some("ada@acme.com"))
        || e.event_type == "user.account.privilege.grant"));
}

fn leavers_policy() -> Policy {
    Policy::from_value(&json!({
        "name": "leavers",
        "source": {"format": "jsonl", "key": "email"},
        "attributes": {"login": "{email}", "email": "{email}", "firstName": "Lee", "lastName": "Vers"},
        "workflow": [
            {"name": "joiner", "when": "status eq \"active\"", "actions": [
                {"action": "sync_identities"},
                {"action": "manage_relationships", "groups": ["Staff"]}]},
            {"name": "leaver", "when": "status eq \"terminated\"", "actions": [{"action": "deprovision_identity"}]},
        ],
    }))
    .unwrap()
}

fn records(status: &str, count: usize) -> Vec<IdentityRecord> {
    (0..count)
        .map(|n| {
            let fields = json!({"email": format!("lee{n}@acme.com"), "status": status});
            IdentityRecord::from_map(fields.as_object().cloned().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn answers_lost_and_an_applier_killed_mid_send_leave_no_false_drift() {
    let (sim, client) = common::org(quick_log()).await;
    let journal = Journal::in_memory().unwrap();
    client.groups().create("Staff", None).await.unwrap();
    // Joiners while half the writes lose their answer after Okta made them (no request id
    // comes back for those) and some get a 500 (answered: its request id does).
    sim.set_faults(Faults { seed: 7, drop_after: 0.3, error_500: 0.1, ..Faults::default() });
    let joiners = plan(&client, &leavers_policy(), &records("active", 12), &journal).await.unwrap();
    let options = ApplyOptions { log_settle: Duration::from_secs(2), ..ApplyOptions::default() };
    let report = apply(&client, &joiners, &journal, &options).await.unwrap();
    sim.set_faults(Faults::default());
    assert!(report.is_success(), "{}", report.render());
    let unanswered: usize = (1..=joiners.changes.len() as u32)
        .flat_map(|seq| journal.change_requests(&joiners.run_id, seq).unwrap())
        .filter(|write| write.request_id.is_none())
        .count();
    assert!(unanswered > 0, "the faults lost some answers");

    // Leavers, the applier killed while Okta holds one of its writes.
    let leavers = plan(&client, &leavers_policy(), &records("terminated", 3), &journal).await.unwrap();
    sim.hold_write(1, true);
    let applier = apply(&client, &leavers, &journal, &options);
    if let Some(report) = common::kill_at_held_write(&sim, applier).await {
        panic!("the apply ended before the kill: {}", report.unwrap().render());
    }
    let in_flight = journal.run_changes(&leavers.run_id).unwrap();
    assert!(in_flight.iter().any(|(_, status)| *status == ChangeStatus::Started), "{in_flight:?}");
    let resumed = apply(&client, &leavers, &journal, &options).await.unwrap();
    assert!(resumed.is_success(), "{}", resumed.render());

    let found = drift(&client, &journal, &since_a_minute_ago()).await.unwrap();
    assert!(found.is_empty(), "every change was a run's: {found:#?}");
    // The log does hold them: a change by hand now is found among them.
    let lee = client.users().get("lee5@acme.com").await.unwrap();
    client.users().update_profile(lee.id(), &profile("lee5@acme.com")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let found = drift(&client, &journal, &since_a_minute_ago()).await.unwrap();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].event_type, "user.account.update_profile");
}

#[tokio::test]
async fn drift_needs_the_logs_scope_and_a_window_okta_still_keeps() {
    let (sim, _) = common::org(quick_log()).await;
    let journal = Journal::in_memory().unwrap();
    sim.add_api_token("no-logs", Some(vec!["okta.users.read".into(), "okta.groups.read".into()]));
    let config = okta_lifecycle::ClientConfig::with_api_token(&sim.url(), "no-logs").unwrap();
    let client = OktaClient::new(config).unwrap();
    match drift(&client, &journal, &since_a_minute_ago()).await {
        Err(Error::Configuration(message)) => assert!(message.contains("okta.logs.read"), "{message}"),
        other => panic!("expected a configuration error naming the scope, got {other:?}"),
    }
    let too_old = DriftOptions { since: Utc::now() - chrono::TimeDelta::days(91), until: None, everything: false };
    assert!(matches!(drift(&client, &journal, &too_old).await, Err(Error::InvalidInput(_))));
    let backwards = DriftOptions { until: Some(Utc::now() - chrono::TimeDelta::hours(1)), ..since_a_minute_ago() };
    assert!(matches!(drift(&client, &journal, &backwards).await, Err(Error::InvalidInput(_))));
}

#[tokio::test]
async fn the_journal_keeps_the_request_id_of_every_write_a_change_sent() {
    let (sim, client) = common::org(quick_log()).await;
    let journal = Journal::in_memory().unwrap();
    let outcome = direct::sync_identity(&client, &journal, &profile("ada@acme.com"), true, true).await.unwrap();
    let writes = journal.change_requests(&outcome.plan.run_id, 1).unwrap();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(
        (writes[0].method.as_str(), writes[0].path.as_str(), writes[0].status),
        ("POST", "/api/v1/users", Some(200))
    );
    let created = sim
        .log_events()
        .into_iter()
        .find(|event| event["eventType"] == "user.lifecycle.create")
        .expect("the create is logged");
    assert_eq!(created["debugContext"]["debugData"]["requestId"].as_str(), writes[0].request_id.as_deref());
}

#[tokio::test]
async fn a_write_whose_answer_died_with_its_applier_is_the_runs_even_when_the_resume_sends_it_again() {
    // A leaver's two writes (its sessions cleared, its deactivation), each in turn held by Okta
    // after it acted while the applier is killed:
    // the killed applier never records that attempt. The resume then either finds the change
    // made (a deactivation, a removed membership) or, where Okta cannot show it (a session
    // cleared), sends it again and records that second attempt. Neither event is drift.
    for held in 1..=2 {
        let (sim, client) = common::org(quick_log()).await;
        let journal = Journal::in_memory().unwrap();
        client.groups().create("Staff", None).await.unwrap();
        let options = ApplyOptions { log_settle: Duration::from_secs(2), ..ApplyOptions::default() };
        let joiner = plan(&client, &leavers_policy(), &records("active", 1), &journal).await.unwrap();
        assert!(apply(&client, &joiner, &journal, &options).await.unwrap().is_success());
        let leaver = plan(&client, &leavers_policy(), &records("terminated", 1), &journal).await.unwrap();
        sim.hold_write(held, true);
        let applier = apply(&client, &leaver, &journal, &options);
        if let Some(report) = common::kill_at_held_write(&sim, applier).await {
            panic!("write {held}: the apply ended before the kill: {}", report.unwrap().render());
        }
        let resumed = apply(&client, &leaver, &journal, &options).await.unwrap();
        assert!(resumed.is_success(), "write {held}: {}", resumed.render());
        let found = drift(&client, &journal, &since_a_minute_ago()).await.unwrap();
        let kinds: Vec<&str> = found.iter().map(|event| event.event_type.as_str()).collect();
        assert!(found.is_empty(), "write {held} held: every change was the run's, not {kinds:?}");
    }
}
