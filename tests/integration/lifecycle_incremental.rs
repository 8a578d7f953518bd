//! Incremental planning: a daily plan from the journal's mirror and what changed in Okta since
//! the last read plans exactly what a plan from a full read does, with far fewer requests, and
//! falls back to a full read (saying why) whenever the mirror cannot serve.
#![cfg(feature = "simulator")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use okta_lifecycle::lifecycle::planner::{plan_with, PlanOptions};
use okta_lifecycle::lifecycle::record::{read_records, IdentityRecord, SourceFormat};
use okta_lifecycle::lifecycle::{apply, ApplyOptions, Journal, Plan, Policy};
use okta_lifecycle::okta::CreateUser;
use okta_lifecycle::simulator::{Simulator, SimulatorConfig};
use okta_lifecycle::OktaClient;
use serde_json::json;

use crate::common::{client_for, profile};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn day(number: u32) -> Vec<IdentityRecord> {
    read_records(&examples().join(format!("hr/day{number}.csv")), SourceFormat::Csv).unwrap()
}

/// Plans `records` both ways against the same org and journal; returns (incremental, full) and
/// the requests each sent.
async fn plan_both_ways(
    sim: &Simulator,
    client: &OktaClient,
    policy: &Policy,
    records: &[IdentityRecord],
    journal: &Journal,
) -> ((Plan, usize), (Plan, usize)) {
    let mut plans = Vec::new();
    for incremental in [true, false] {
        sim.clear_requests();
        let plan = plan_with(client, policy, records, journal, &PlanOptions { incremental, log_settle: LOG_SETTLE })
            .await
            .unwrap();
        plans.push((plan, sim.requests().len()));
    }
    let full = plans.pop().unwrap();
    let incremental = plans.pop().unwrap();
    (incremental, full)
}

fn assert_same_plan(incremental: &Plan, full: &Plan) {
    assert_eq!(
        (&incremental.changes, &incremental.issues, &incremental.events),
        (&full.changes, &full.issues, &full.events),
        "the incremental plan differs from the full one\n--- incremental ---\n{}\n--- full ---\n{}",
        incremental.render(),
        full.render()
    );
}

/// An OKTA_GROUP group made by hand; its id.
async fn by_hand_group(client: &OktaClient, name: &str) -> String {
    client.groups().create(name, None).await.unwrap().id().to_owned()
}

/// How long the simulator's System Log takes to show an event, with a margin (it takes 300 ms).
const LOG_SETTLE: Duration = Duration::from_secs(1);

/// Long enough for Okta's search index and System Log to show every change made before it.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(2_600)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_planned_from_the_mirror_and_the_changes_equals_a_day_planned_from_a_full_read() {
    let sim = Simulator::start(SimulatorConfig {
        seed_users: 4_000,
        search_delay: Duration::from_millis(300),
        ..Default::default()
    })
    .await
    .unwrap();
    let client = client_for(&sim, |_| {});
    let by_hand = client_for(&sim, |_| {});
    let policy = Policy::from_file(&examples().join("policy.toml")).unwrap();
    let journal = Journal::in_memory().unwrap();

    // Day 1: no mirror yet, so the whole org is read.
    let first =
        plan_with(&client, &policy, &day(1), &journal, &PlanOptions { incremental: true, log_settle: LOG_SETTLE })
            .await
            .unwrap();
    let read = first.read.clone().expect("an incremental plan says how it read");
    assert_eq!(read.mode, "full");
    assert!(read.reason.as_deref().unwrap().contains("no earlier read"), "{read:?}");
    assert!(first.render().contains("read the whole org"), "{}", first.render());
    let report = apply(&client, &first, &journal, &ApplyOptions::default()).await.unwrap();
    assert!(report.is_success(), "{}", report.render());

    // A group the policy does not manage, which the mirror holds too (reading its members costs
    // less than reading the users): a leaver's memberships are found there on day 3.
    let project = by_hand_group(&client, "project-apollo").await;

    // Day 1 again, from the mirror: nothing to do, and the mirror now holds day 1's joiners.
    // The watermark is Okta's clock at the read less 2 s, and Okta's `Date` is to the second:
    // after 3.7 s, day 1's writes are behind it, so that day 2 reads only the changes by hand.
    tokio::time::sleep(Duration::from_millis(3_700)).await;
    let again =
        plan_with(&client, &policy, &day(1), &journal, &PlanOptions { incremental: true, log_settle: LOG_SETTLE })
            .await
            .unwrap();
    assert!(again.is_empty(), "{}", again.render());
    assert_eq!(again.read.clone().unwrap().mode, "incremental");

    // Changes by hand between the runs: a managed user's title, a managed user deactivated,
    // another deleted, a membership added and one removed, and a new user who takes an employee
    // number from the HR file (an ambiguity both plans must report alike).
    let users = by_hand.users();
    let find = |number: &str| {
        sim.users()
            .into_iter()
            .find(|user| user["profile"]["employeeNumber"] == json!(number))
            .unwrap_or_else(|| panic!("no user {number}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let ada = find("E1000");
    users.update_profile(&ada, &json!({"title": "retitled by hand"}).as_object().cloned().unwrap()).await.unwrap();
    users.deactivate(&find("E1001"), false).await.unwrap();
    // Deleted for good: only the System Log shows it; a mirror that kept the user would plan
    // a reactivation where the full read plans a joiner.
    let deleted = find("E1003");
    users.deactivate(&deleted, false).await.unwrap();
    users.delete(&deleted, false).await.unwrap();
    let groups = by_hand.groups();
    let engineering = sim.group_id("dept-engineering").unwrap();
    let sales = sim.group_id("dept-sales").unwrap();
    groups.add_member(&engineering, &find("E1002")).await.unwrap();
    let sales_member = sim.group_members(&sales)[0].clone();
    groups.remove_member(&sales, &sales_member).await.unwrap();
    let mut twin = profile("twin@example.com", "Twin", "Hand");
    twin.insert("employeeNumber".into(), json!("E1040"));
    users.create(&CreateUser::new(twin)).await.unwrap();
    settle().await;

    // Day 2 both ways: the same plan; the incremental one from a few requests.
    let ((incremental, sent_incremental), (full, sent_full)) =
        plan_both_ways(&sim, &client, &policy, &day(2), &journal).await;
    assert_same_plan(&incremental, &full);
    assert!(!incremental.changes.is_empty(), "day 2 changes something");
    let read = incremental.read.clone().unwrap();
    assert_eq!(read.mode, "incremental", "{read:?}");
    assert_eq!(read.reason, None);
    assert_eq!(read.users_deleted, 1, "{read:?}");
    // The groups whose members moved by hand or with the deletion (all-staff, sales,
    // engineering) are brought up to date from the System Log, not read again.
    assert!(read.groups_patched >= 3, "{read:?}");
    assert_eq!(read.groups_read, 0, "{read:?}");
    // Retitled, deactivated and created by hand (and, on a slow machine, writes of day 1 that the
    // watermark's margin takes in again).
    assert!((3..60).contains(&read.users_read), "{read:?}");
    assert!(
        sent_incremental * 2 < sent_full,
        "incremental: {sent_incremental} requests, full: {sent_full}\n{}",
        incremental.render()
    );
    assert!(incremental.render().contains("read what changed since"), "{}", incremental.render());

    // Apply day 2; day 3 plans alike both ways too. Day 3's leaver Donald Knuth was put in the
    // unmanaged group by hand: both plans remove him from it, and the incremental one finds his
    // memberships in the mirror, with no request for any leaver's groups.
    let report = apply(&client, &incremental, &journal, &ApplyOptions::default()).await.unwrap();
    assert!(report.is_success(), "{}", report.render());
    by_hand.groups().add_member(&project, &find("E1005")).await.unwrap();
    settle().await;
    let leavers_groups = |sim: &Simulator| {
        sim.requests().iter().filter(|r| r.path.starts_with("/api/v1/users/") && r.path.ends_with("/groups")).count()
    };
    sim.clear_requests();
    let incremental =
        plan_with(&client, &policy, &day(3), &journal, &PlanOptions { incremental: true, log_settle: LOG_SETTLE })
            .await
            .unwrap();
    assert_eq!(leavers_groups(&sim), 0, "the leavers' memberships come from the mirror");
    sim.clear_requests();
    let full =
        plan_with(&client, &policy, &day(3), &journal, &PlanOptions { incremental: false, log_settle: LOG_SETTLE })
            .await
            .unwrap();
    assert!(leavers_groups(&sim) >= 3, "a full read asks each leaver for its groups");
    assert_same_plan(&incremental, &full);
    assert!(incremental.render().contains("project-apollo"), "{}", incremental.render());
    assert_eq!(incremental.read.unwrap().mode, "incremental");

    // A membership changed a moment ago may not be in the System Log yet: with Okta's 30-s
    // settle time, that group is read again rather than brought up to date from the log.
    let engineering_member = sim.group_members(&engineering)[0].clone();
    by_hand.groups().remove_member(&engineering, &engineering_member).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await; // the search index's delay
    let options = PlanOptions { incremental: true, ..Default::default() };
    let recent = plan_with(&client, &policy, &day(3), &journal, &options).await.unwrap();
    let read = recent.read.clone().unwrap();
    assert!(read.groups_read >= 1 && read.groups_patched == 0, "{read:?}");
    let full = plan_with(&client, &policy, &day(3), &journal, &PlanOptions::default()).await.unwrap();
    assert_same_plan(&recent, &full);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_org_is_read_whole_when_the_mirror_cannot_serve_and_the_plan_says_why() {
    let sim = Simulator::start(SimulatorConfig { seed_users: 30, ..Default::default() }).await.unwrap();
    let client = client_for(&sim, |_| {});
    let policy = Policy::from_file(&examples().join("policy.toml")).unwrap();
    let journal = Journal::in_memory().unwrap();
    let incremental = PlanOptions { incremental: true, log_settle: LOG_SETTLE };
    let records = day(1);
    let reason = |plan: &Plan| plan.read.clone().unwrap().reason.unwrap_or_default();

    plan_with(&client, &policy, &records, &journal, &incremental).await.unwrap();
    // Another policy reads other attributes.
    let mut other = policy.clone();
    other.movers.push("costCenter".into());
    let plan = plan_with(&client, &other, &records, &journal, &incremental).await.unwrap();
    assert!(reason(&plan).contains("other user attributes"), "{}", reason(&plan));
    // The org's schema changed.
    let badge = json!({"badgeNumber": {"title": "Badge number", "type": "string"}});
    client.schema().update_custom(badge.as_object().unwrap()).await.unwrap();
    let plan = plan_with(&client, &other, &records, &journal, &incremental).await.unwrap();
    assert!(reason(&plan).contains("schema changed"), "{}", reason(&plan));
    // The same, again: now it serves.
    let plan = plan_with(&client, &other, &records, &journal, &incremental).await.unwrap();
    assert_eq!(plan.read.clone().unwrap().mode, "incremental", "{}", plan.render());

    // A token that cannot read the System Log cannot see deletions.
    let scopes =
        ["okta.users.read", "okta.users.manage", "okta.groups.read", "okta.groups.manage", "okta.schemas.read"];
    sim.add_api_token("no-logs", Some(scopes.iter().map(|s| s.to_string()).collect()));
    let mut config = okta_lifecycle::ClientConfig::with_api_token(&sim.url(), "no-logs").unwrap();
    config.schema_max_age = Duration::ZERO;
    let limited = OktaClient::new(config).unwrap();
    let plan = plan_with(&limited, &other, &records, &journal, &incremental).await.unwrap();
    assert!(reason(&plan).contains("okta.logs.read"), "{}", reason(&plan));
    assert_eq!(plan.read.unwrap().mode, "full");
}
