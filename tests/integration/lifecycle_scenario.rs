//! The joiner / mover / leaver scenario over three days of an HR export (examples/hr), against
//! the simulator: after each day the org is what the policy describes and a second plan is empty.
#![cfg(feature = "simulator")]

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use okta_lifecycle::lifecycle::journal::ChangeStatus;
use okta_lifecycle::lifecycle::plan::IdentityEvent;
use okta_lifecycle::lifecycle::record::{read_records, SourceFormat};
use okta_lifecycle::lifecycle::{apply, plan, ApplyOptions, Journal, Plan, Policy};
use okta_lifecycle::simulator::{Simulator, SimulatorConfig};
use okta_lifecycle::OktaClient;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

async fn plan_day(client: &OktaClient, policy: &Policy, journal: &Journal, day: u32) -> Plan {
    let records = read_records(&examples().join(format!("hr/day{day}.csv")), SourceFormat::Csv).unwrap();
    plan(client, policy, &records, journal).await.unwrap()
}

fn members(sim: &Simulator, group: &str) -> BTreeSet<String> {
    sim.group_members(group)
        .into_iter()
        .map(|id| sim.user_json(&id).unwrap()["profile"]["employeeNumber"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn group_id(client_groups: &[(String, String)], name: &str) -> String {
    client_groups.iter().find(|(_, n)| n == name).map(|(id, _)| id.clone()).unwrap_or_else(|| panic!("no group {name}"))
}

async fn groups(client: &OktaClient) -> Vec<(String, String)> {
    client
        .groups()
        .list(&Default::default())
        .unwrap()
        .try_collect_all()
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.id().to_owned(), g.name().unwrap_or_default().to_owned()))
        .collect()
}

#[tokio::test]
async fn three_days_of_joiners_movers_and_leavers() {
    let (sim, client) = common::org(SimulatorConfig::default()).await;
    let policy = Policy::from_file(&examples().join("policy.toml")).unwrap();
    let journal = Journal::in_memory().unwrap();

    // Day 1: everyone joins, except the record without an email and the second of two people
    // sharing one email, which are reported.
    let day1 = plan_day(&client, &policy, &journal, 1).await;
    assert_eq!(day1.summary.joiners, 46, "{}", day1.render());
    assert_eq!(day1.issues.len(), 2, "{:?}", day1.issues);
    assert!(
        day1.issues.iter().any(|i| i.identity.as_deref() == Some("E1012") && i.message.contains("empty")),
        "{:?}",
        day1.issues
    );
    assert!(
        day1.issues.iter().any(|i| i.identity.as_deref() == Some("E1031") && i.message.contains("already used")),
        "{:?}",
        day1.issues
    );
    let report = apply(&client, &day1, &journal, &ApplyOptions::default()).await.unwrap();
    assert!(report.is_success(), "{}", report.render());
    let again = plan_day(&client, &policy, &journal, 1).await;
    assert!(again.is_empty(), "a second plan changes nothing:\n{}", again.render());

    let all = groups(&client).await;
    let engineering = group_id(&all, "dept-engineering");
    let sales = group_id(&all, "dept-sales");
    assert_eq!(members(&sim, &group_id(&all, "all-staff")).len(), 46);
    assert!(members(&sim, &engineering).contains("E1000"));
    let ada = sim.user_json("ada.lovelace@acme.example").expect("logins are lower-cased");
    assert_eq!(ada["profile"]["firstName"], "Ada", "names are trimmed");
    assert_eq!(ada["profile"]["title"], "Engineer");
    // Activated without a password: Okta leaves the user PROVISIONED until the welcome flow.
    assert_eq!(ada["status"], "PROVISIONED");

    // Day 2: two joiners, four movers; movers leave their old department group.
    let day2 = plan_day(&client, &policy, &journal, 2).await;
    assert_eq!(day2.summary.joiners, 2, "{}", day2.render());
    assert_eq!(day2.summary.movers, 4, "{}", day2.render());
    assert_eq!(day2.events.get("E1003"), Some(&IdentityEvent::Mover));
    let report = apply(&client, &day2, &journal, &ApplyOptions::default()).await.unwrap();
    assert!(report.is_success(), "{}", report.render());
    assert!(plan_day(&client, &policy, &journal, 2).await.is_empty());
    let all = groups(&client).await;
    // E1003 was in Engineering? (3 % 5 = 3: People Operations) and moved to Engineering.
    assert!(members(&sim, &engineering).contains("E1003"));
    assert!(!members(&sim, &group_id(&all, "dept-people-operations")).contains("E1003"));
    // E1021 (21 % 5 = 1: Sales) moved to Engineering as well.
    assert!(!members(&sim, &sales).contains("E1021"));

    // Day 3: three leavers are deprovisioned with their history kept; one more mover.
    let day3 = plan_day(&client, &policy, &journal, 3).await;
    assert_eq!(day3.summary.leavers, 3, "{}", day3.render());
    assert_eq!(day3.summary.movers, 1, "{}", day3.render());
    let report = apply(&client, &day3, &journal, &ApplyOptions::default()).await.unwrap();
    assert!(report.is_success(), "{}", report.render());
    assert!(plan_day(&client, &policy, &journal, 3).await.is_empty());
    for leaver in ["E1005", "E1017", "E1044"] {
        let user = sim.user_json(&format!("{}@acme.example", login_of(leaver))).unwrap();
        assert_eq!(user["status"], "DEPROVISIONED", "{leaver}");
        let id = user["id"].as_str().unwrap();
        // Everyone (BUILT_IN) holds every user; every OKTA_GROUP membership is gone.
        let okta_groups: Vec<_> = all
            .iter()
            .filter(|(g, name)| name != "Everyone" && sim.group_members(g).contains(&id.to_owned()))
            .collect();
        assert!(okta_groups.is_empty(), "{leaver} still in {okta_groups:?}");
        let snapshot = journal.latest_snapshot(id).unwrap().expect("history kept");
        assert!(snapshot.groups.iter().any(|(_, name)| name == "all-staff"), "{snapshot:?}");
        assert_eq!(snapshot.profile["employeeNumber"], leaver);
        let history = journal.history(id, &sim.url()).unwrap();
        assert!(history.iter().any(|h| h.operation == "deactivate_user" && h.status == ChangeStatus::Succeeded));
        assert!(history.iter().any(|h| h.operation == "create_user"), "the history goes back to day 1");
    }
}

fn login_of(employee: &str) -> String {
    match employee {
        "E1005" => "donald.knuth".into(),
        "E1017" => "ångström.ærø".into(),
        "E1044" => "elena.garcía".into(),
        other => panic!("unknown {other}"),
    }
}
