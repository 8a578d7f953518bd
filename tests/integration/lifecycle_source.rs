//! SOURCE_OF_IDENTITY against the simulator: a full read, an incremental read since a
//! watermark, and joiner / mover / leaver events with movers told apart by the journal.
#![cfg(feature = "simulator")]

use crate::common;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use okta_lifecycle::lifecycle::actions::source_of_identity::{read, SourceEvent, SourceOptions};
use okta_lifecycle::lifecycle::Journal;
use okta_lifecycle::okta::CreateUser;
use okta_lifecycle::simulator::SimulatorConfig;
use serde_json::{json, Map};

#[tokio::test]
async fn full_and_incremental_reads_with_joiner_mover_leaver_events() {
    let (_sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = std::sync::Arc::new(Journal::in_memory().unwrap());
    let users = client.users();
    let mut ids = Vec::new();
    for (n, department) in ["Eng", "Sales", "Eng"].iter().enumerate() {
        let mut create = CreateUser::new(common::profile(&format!("u{n}@acme.com"), "U", &n.to_string()));
        create.profile.insert("department".into(), json!(department));
        ids.push(users.create(&create).await.unwrap().id().to_owned());
    }
    users.deactivate(&ids[2], false).await.unwrap();
    let movers = vec!["department".to_owned()];

    let options = SourceOptions { since: None, mover_attributes: movers.clone(), entitlements: false };
    let full: Vec<_> = read(&client, std::sync::Arc::clone(&journal), options).unwrap().try_collect().await.unwrap();
    assert_eq!(full.len(), 3, "a full read includes DEPROVISIONED users");
    let leaver = full.iter().find(|i| i.user.id() == ids[2]).unwrap();
    assert_eq!(leaver.event, SourceEvent::Leaver);
    assert_eq!(leaver.record.text("status").as_deref(), Some("DEPROVISIONED"));
    assert!(full.iter().filter(|i| i.user.id() != ids[2]).all(|i| i.event == SourceEvent::Joiner));
    let watermark: DateTime<Utc> = full.iter().filter_map(|i| i.user.last_updated()).max().unwrap();
    for identity in &full {
        let seen = journal.identity_attributes(identity.user.id()).unwrap().expect("the read remembered every user");
        assert_eq!(seen.get("department"), identity.user.profile().get("department"));
    }

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let mut moved = Map::new();
    moved.insert("department".into(), json!("Finance"));
    users.update_profile(&ids[0], &moved).await.unwrap();
    let mut renamed = Map::new();
    renamed.insert("firstName".into(), json!("Renamed"));
    users.update_profile(&ids[1], &renamed).await.unwrap();
    let mut late = CreateUser::new(common::profile("late@acme.com", "La", "Te"));
    late.profile.insert("department".into(), json!("Eng"));
    let late_id = users.create(&late).await.unwrap().id().to_owned();

    let since = SourceOptions { since: Some(watermark), mover_attributes: movers, entitlements: false };
    let changes: Vec<_> = read(&client, std::sync::Arc::clone(&journal), since).unwrap().try_collect().await.unwrap();
    let event = |id: &str| changes.iter().find(|i| i.user.id() == id).map(|i| i.event);
    assert_eq!(changes.len(), 3, "only users changed after the watermark");
    assert_eq!(event(&ids[0]), Some(SourceEvent::Mover));
    assert_eq!(event(&ids[1]), Some(SourceEvent::Updated));
    assert_eq!(event(&late_id), Some(SourceEvent::Joiner));
    let mover = changes.iter().find(|i| i.user.id() == ids[0]).unwrap();
    assert_eq!((mover.moved[0].before.clone(), mover.moved[0].after.clone()), (json!("Eng"), json!("Finance")));
    let seen = journal.identity_attributes(&ids[0]).unwrap().unwrap();
    assert_eq!(seen.get("department"), Some(&json!("Finance")), "the read updates what the journal saw");
}
