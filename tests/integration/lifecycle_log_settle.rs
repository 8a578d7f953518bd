//! Password resets whose answer was lost, settled from Okta's System Log: made (its event is in
//! the log, with its uuid journaled), not made (no event once the log has caught up: sent once
//! more), or not knowable (no okta.logs.read scope: unknown, naming the scope). A reset the user
//! completed before the resume is never sent again.
#![cfg(feature = "simulator")]

use crate::common;

use std::time::Duration;

use okta_lifecycle::lifecycle::journal::ChangeStatus;
use okta_lifecycle::lifecycle::record::IdentityRecord;
use okta_lifecycle::lifecycle::{apply, plan, ApplyOptions, Journal, Plan, Policy, Report};
use okta_lifecycle::okta::CreateUser;
use okta_lifecycle::simulator::{Simulator, SimulatorConfig};
use okta_lifecycle::OktaClient;
use serde_json::json;

fn reset_policy() -> Policy {
    Policy::from_value(&json!({
        "name": "resets",
        "source": {"format": "jsonl", "key": "id"},
        "attributes": {"login": "{email}", "email": "{email}", "firstName": "Ada", "lastName": "Lovelace"},
        "workflow": [{"name": "reset", "when": "status eq \"reset\"", "actions": [
            {"action": "reset_password", "send_email": false}]}],
    }))
    .unwrap()
}

async fn active_user(client: &OktaClient, login: &str) -> String {
    let mut request = CreateUser::new(common::profile(login, "Ada", "Lovelace"));
    request.password = Some(okta_lifecycle::SecretString::new("Correct-Horse-1"));
    client.users().create(&request).await.unwrap().id().to_owned()
}

fn reset_record(login: &str) -> Vec<IdentityRecord> {
    let fields = json!({"id": "1", "email": login, "status": "reset"});
    vec![IdentityRecord::from_map(fields.as_object().cloned().unwrap())]
}

fn resets(sim: &Simulator, id: &str) -> u64 {
    sim.counters().reset_password.get(id).copied().unwrap_or(0)
}

/// Applies `planned` until Okta has the reset's request, then drops the applier (a kill) while
/// it waits for the answer: the reset is journaled as sent, its outcome unknown.
async fn kill_at_the_reset(sim: &Simulator, client: &OktaClient, planned: &Plan, journal: &Journal, processed: bool) {
    sim.hold_write(0, processed);
    let options = ApplyOptions::default();
    let applier = apply(client, planned, journal, &options);
    if let Some(report) = common::kill_at_held_write(sim, applier).await {
        panic!("the apply ended before the kill: {}", report.unwrap().render());
    }
    let (status, result) = journal.change_status(&planned.run_id, 1).unwrap().unwrap();
    assert_eq!(status, ChangeStatus::Started, "the reset is in flight in the journal");
    assert!(result.unwrap()["sent_at"].is_string(), "its send time is journaled before it is sent");
}

fn settle_quickly() -> ApplyOptions {
    ApplyOptions { log_settle: Duration::from_secs(3), ..ApplyOptions::default() }
}

fn only_outcome(report: &Report) -> &okta_lifecycle::lifecycle::apply::ChangeOutcome {
    assert_eq!(report.outcomes.len(), 1, "{}", report.render());
    &report.outcomes[0]
}

#[tokio::test]
async fn a_reset_okta_made_and_the_user_completed_is_found_in_the_log_and_never_resent() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    let id = active_user(&client, "ada@acme.com").await;
    let planned = plan(&client, &reset_policy(), &reset_record("ada@acme.com"), &journal).await.unwrap();
    kill_at_the_reset(&sim, &client, &planned, &journal, true).await;
    assert_eq!(resets(&sim, &id), 1);
    // The user follows the link before the resume: ACTIVE again, as if nothing had happened.
    assert!(sim.follow_link(&id));

    let resumed = apply(&client, &planned, &journal, &settle_quickly()).await.unwrap();
    let outcome = only_outcome(&resumed);
    assert_eq!(outcome.status, ChangeStatus::Succeeded, "{}", resumed.render());
    assert!(outcome.already_done);
    assert_eq!(resets(&sim, &id), 1, "the reset is not sent a second time");
    let (_, result) = journal.change_status(&planned.run_id, 1).unwrap().unwrap();
    let uuid = result.unwrap()["log_event"].as_str().map(str::to_owned).expect("the event's uuid is journaled");
    let events = sim.log_events();
    let event = events.iter().find(|e| e["uuid"] == uuid.as_str()).expect("the journaled uuid is Okta's event");
    assert_eq!(event["eventType"], "user.account.reset_password");
    assert_eq!(event["target"][0]["id"], id.as_str());
}

#[tokio::test]
async fn a_reset_okta_never_received_is_sent_once_the_log_has_caught_up() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    let id = active_user(&client, "ada@acme.com").await;
    let planned = plan(&client, &reset_policy(), &reset_record("ada@acme.com"), &journal).await.unwrap();
    kill_at_the_reset(&sim, &client, &planned, &journal, false).await;
    assert_eq!(resets(&sim, &id), 0);

    let started = std::time::Instant::now();
    let resumed = apply(&client, &planned, &journal, &settle_quickly()).await.unwrap();
    let outcome = only_outcome(&resumed);
    assert_eq!(outcome.status, ChangeStatus::Succeeded, "{}", resumed.render());
    assert!(!outcome.already_done, "it was sent by the resume");
    assert_eq!(resets(&sim, &id), 1, "sent exactly once");
    // The log had no later event: the resume waited for the settle time since the send.
    assert!(started.elapsed() >= Duration::from_secs(2), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_later_event_in_the_log_settles_an_absent_reset_without_waiting_the_settle_time() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    let id = active_user(&client, "ada@acme.com").await;
    let planned = plan(&client, &reset_policy(), &reset_record("ada@acme.com"), &journal).await.unwrap();
    kill_at_the_reset(&sim, &client, &planned, &journal, false).await;
    // Something else happens in the org a little later, and shows in the log.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    active_user(&client, "grace@acme.com").await;

    let patient = ApplyOptions { log_settle: Duration::from_secs(600), ..ApplyOptions::default() };
    let resumed = tokio::time::timeout(Duration::from_secs(60), apply(&client, &planned, &journal, &patient))
        .await
        .expect("a later event settles it long before the settle time")
        .unwrap();
    assert_eq!(only_outcome(&resumed).status, ChangeStatus::Succeeded, "{}", resumed.render());
    assert_eq!(resets(&sim, &id), 1);
}

#[tokio::test]
async fn without_the_log_scope_a_reset_in_doubt_stays_unknown_and_names_the_scope() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    let id = active_user(&client, "ada@acme.com").await;
    let scopes = ["okta.users.read", "okta.users.manage", "okta.groups.read", "okta.schemas.read"];
    sim.add_api_token("no-logs-token", Some(scopes.iter().map(|s| s.to_string()).collect()));
    let limited = {
        let mut config = okta_lifecycle::ClientConfig::with_api_token(&sim.url(), "no-logs-token").unwrap();
        config.backoff =
            okta_lifecycle::http::retry::Backoff { base: Duration::from_millis(20), cap: Duration::from_millis(200) };
        OktaClient::new(config).unwrap()
    };
    let planned = plan(&limited, &reset_policy(), &reset_record("ada@acme.com"), &journal).await.unwrap();
    kill_at_the_reset(&sim, &limited, &planned, &journal, true).await;
    assert!(sim.follow_link(&id));

    let resumed = apply(&limited, &planned, &journal, &settle_quickly()).await.unwrap();
    let outcome = only_outcome(&resumed);
    assert_eq!(outcome.status, ChangeStatus::Unknown, "{}", resumed.render());
    assert!(outcome.message.as_deref().unwrap_or_default().contains("okta.logs.read"), "{:?}", outcome.message);
    assert_eq!(resets(&sim, &id), 1, "never sent again without proof");
}

#[tokio::test]
async fn within_a_run_each_lost_send_is_settled_from_its_own_send_time() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Journal::in_memory().unwrap();
    let id = active_user(&client, "ada@acme.com").await;
    let planned = plan(&client, &reset_policy(), &reset_record("ada@acme.com"), &journal).await.unwrap();
    // The first two sends never reach Okta; their answers are lost all the same.
    let path = format!("/api/v1/users/{id}/lifecycle/reset_password");
    sim.script_fault("POST", &path, okta_lifecycle::simulator::ScriptedFault::DropBefore);
    sim.script_fault("POST", &path, okta_lifecycle::simulator::ScriptedFault::DropBefore);

    let started = std::time::Instant::now();
    let report = apply(&client, &planned, &journal, &settle_quickly()).await.unwrap();
    assert_eq!(only_outcome(&report).status, ChangeStatus::Succeeded, "{}", report.render());
    assert_eq!(resets(&sim, &id), 1, "sent until made, and made once");
    let posts = sim.requests().iter().filter(|r| r.method == "POST" && r.path == path).count();
    assert_eq!(posts, 3);
    // Each lost send waited for the log to settle from its own send time (3 s each): measured
    // from the first send, the second would have been judged at once.
    assert!(started.elapsed() >= Duration::from_millis(5_500), "{:?}", started.elapsed());
}
