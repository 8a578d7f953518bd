//! SOURCE_OF_IDENTITY read from Okta's System Log: joiners, movers, leavers, returners and
//! deletions (which no listing shows), in the order Okta recorded them, each with who made it.
#![cfg(feature = "simulator")]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use okta_lifecycle::lifecycle::actions::source_of_identity::{changes, FeedOptions, LoggedChange, SourceEvent};
use okta_lifecycle::lifecycle::Journal;
use okta_lifecycle::okta::CreateUser;
use okta_lifecycle::simulator::SimulatorConfig;
use okta_lifecycle::{Error, OktaClient};
use serde_json::{json, Map, Value};

fn person(login: &str, department: &str) -> Map<String, Value> {
    let mut profile = common::profile(login, "Feed", login.split('@').next().unwrap());
    profile.insert("department".into(), json!(department));
    profile
}

async fn read(client: &OktaClient, journal: &Arc<Journal>, since: chrono::DateTime<Utc>) -> Vec<LoggedChange> {
    // The log is near real time: what was just done is read a moment later.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let options = FeedOptions { since, until: None, mover_attributes: vec!["department".into()] };
    let stream = changes(client, Arc::clone(journal), options).unwrap();
    stream.map(|change| change.unwrap()).collect().await
}

fn summary(changes: &[LoggedChange]) -> Vec<(SourceEvent, String)> {
    changes.iter().map(|c| (c.event, c.login.clone().unwrap_or_default())).collect()
}

#[tokio::test]
async fn the_log_gives_joiners_movers_leavers_returners_and_deletions_with_who_made_them() {
    let (sim, client) = common::org(SimulatorConfig { log_delay: Duration::ZERO, ..SimulatorConfig::default() }).await;
    let journal = Arc::new(Journal::in_memory().unwrap());
    let users = client.users();
    // Before the window: a staged hire, two employees, and what the journal saw of them.
    let mut staged = CreateUser::new(person("sam@acme.com", "Eng"));
    staged.activate = false;
    let sam = users.create(&staged).await.unwrap();
    let lee = users.create(&CreateUser::new(person("lee@acme.com", "Eng"))).await.unwrap();
    let kim = users.create(&CreateUser::new(person("kim@acme.com", "Eng"))).await.unwrap();
    let pat = users.create(&CreateUser::new(person("pat@acme.com", "Eng"))).await.unwrap();
    let dee = users.create(&CreateUser::new(person("dee@acme.com", "Ops"))).await.unwrap();
    users.deactivate(pat.id(), false).await.unwrap();
    let before = read(&client, &journal, Utc::now() - chrono::TimeDelta::minutes(1)).await;
    assert_eq!(before.len(), 6, "{:?}", summary(&before));
    tokio::time::sleep(Duration::from_millis(5)).await;
    let since = Utc::now();

    // The window, partly by Jane working by hand.
    let jane = users.create(&CreateUser::new(person("jane@acme.com", "IT"))).await.unwrap();
    assert!(sim.add_admin_token("jane-console", jane.id()));
    let by_jane = common::client_for(&sim, |config| {
        *config = okta_lifecycle::ClientConfig::with_api_token(&sim.url(), "jane-console").unwrap()
    });
    by_jane.users().activate(sam.id(), false).await.unwrap(); // a staged hire starts: a joiner
    let mut moved = lee.profile().clone();
    moved.insert("department".into(), json!("Sales"));
    users.update_profile(lee.id(), &moved).await.unwrap(); // a mover
    moved.insert("title".into(), json!("Account Executive"));
    users.update_profile(lee.id(), &moved).await.unwrap(); // moved already: an update
    let mut retitled = kim.profile().clone();
    retitled.insert("title".into(), json!("Lead"));
    users.update_profile(kim.id(), &retitled).await.unwrap(); // an update
    by_jane.users().deactivate(kim.id(), false).await.unwrap(); // a leaver, by Jane
    by_jane.users().activate(pat.id(), false).await.unwrap(); // a returner, by Jane
    users.deactivate(dee.id(), false).await.unwrap();
    users.delete(dee.id(), false).await.unwrap(); // a leaver, then deleted

    let found = read(&client, &journal, since).await;
    let login = |name: &str| format!("{name}@acme.com");
    assert_eq!(
        summary(&found),
        vec![
            (SourceEvent::Joiner, login("jane")),
            (SourceEvent::Joiner, login("sam")),
            (SourceEvent::Mover, login("lee")),
            (SourceEvent::Updated, login("lee")),
            (SourceEvent::Updated, login("kim")),
            (SourceEvent::Leaver, login("kim")),
            (SourceEvent::Returner, login("pat")),
            (SourceEvent::Leaver, login("dee")),
            (SourceEvent::Deleted, login("dee")),
        ]
    );
    let mover = &found[2];
    assert_eq!((mover.moved[0].before.clone(), mover.moved[0].after.clone()), (json!("Eng"), json!("Sales")));
    let deleted = found.last().unwrap();
    assert!(deleted.user.is_none(), "a deleted user is in no listing, and cannot be read");
    assert_eq!(deleted.record.text("status").as_deref(), Some("DELETED"));
    assert_eq!(deleted.record.text("id").as_deref(), Some(dee.id()));
    let jane_acted: Vec<&str> = found
        .iter()
        .filter(|c| c.actor.as_ref().and_then(|a| a.alternate_id.as_deref()) == Some("jane@acme.com"))
        .map(|c| c.login.as_deref().unwrap_or_default())
        .collect();
    assert_eq!(jane_acted, vec!["sam@acme.com", "kim@acme.com", "pat@acme.com"]);
    assert!(found.windows(2).all(|pair| pair[0].published <= pair[1].published), "oldest first");

    // Reading on from the last event's moment gives nothing new.
    let next = found.last().unwrap().published + chrono::TimeDelta::milliseconds(1);
    let again = read(&client, &journal, next).await;
    assert!(
        again.is_empty(),
        "read again from {next}: {:?}",
        again.iter().map(|c| (c.event, &c.login, c.published)).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn the_feed_refuses_a_window_that_ends_before_it_starts() {
    let (_sim, client) = common::org(SimulatorConfig::default()).await;
    let journal = Arc::new(Journal::in_memory().unwrap());
    let options = FeedOptions {
        since: Utc::now(),
        until: Some(Utc::now() - chrono::TimeDelta::hours(1)),
        mover_attributes: Vec::new(),
    };
    assert!(matches!(changes(&client, journal, options).err(), Some(Error::InvalidInput(_))));
}

/// The events Okta logged of `event_type` on `user_id`.
async fn logged(client: &OktaClient, event_type: &str, user_id: &str) -> Vec<okta_lifecycle::okta::LogEvent> {
    let query = okta_lifecycle::okta::LogQuery {
        since: Some(Utc::now() - chrono::TimeDelta::minutes(5)),
        until: Some(Utc::now() + chrono::TimeDelta::seconds(1)),
        filter: Some(format!("eventType eq \"{event_type}\" and target.id eq \"{user_id}\"")),
        ..Default::default()
    };
    client.logs().list(&query).unwrap().map(|event| event.unwrap()).collect().await
}

#[tokio::test]
async fn a_read_that_starts_between_two_events_of_one_request_reports_it_once() {
    let (_sim, client) = common::org(SimulatorConfig { log_delay: Duration::ZERO, ..SimulatorConfig::default() }).await;
    let journal = Arc::new(Journal::in_memory().unwrap());
    let users = client.users();
    // One request logs a create and an activation; one deletion logs its start and its end.
    // The simulator may log the two of a pair in one millisecond; a pair a read can start
    // between is made again until there is one.
    let published = |events: &[okta_lifecycle::okta::LogEvent]| events[0].published().unwrap();
    let mut attempt = 0;
    let (ana, create, activate, started, completed) = loop {
        let ana = users.create(&CreateUser::new(person(&format!("ana{attempt}@acme.com"), "Eng"))).await.unwrap();
        users.deactivate(ana.id(), false).await.unwrap();
        users.delete(ana.id(), false).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let create = published(&logged(&client, "user.lifecycle.create", ana.id()).await);
        let activate = published(&logged(&client, "user.lifecycle.activate", ana.id()).await);
        let started = published(&logged(&client, "user.lifecycle.delete.initiated", ana.id()).await);
        let completed = published(&logged(&client, "user.lifecycle.delete.completed", ana.id()).await);
        attempt += 1;
        if (create < activate && started < completed) || attempt == 200 {
            break (ana, create, activate, started, completed);
        }
    };
    assert!(create < activate && started < completed, "no pair was logged in two milliseconds");
    let login = ana.login().unwrap().to_owned();
    // A read that begins at the activation: its create was in the read before.
    let from_activation = read(&client, &journal, activate).await;
    let joiners = from_activation.iter().filter(|c| c.event == SourceEvent::Joiner).count();
    assert_eq!(joiners, 0, "{:?}", summary(&from_activation));
    // A read that begins at the deletion's end: it was reported with its start.
    let from_completion = read(&client, &journal, completed).await;
    let deletions = from_completion.iter().filter(|c| c.event == SourceEvent::Deleted).count();
    assert_eq!(deletions, 0, "{:?}", summary(&from_completion));
    // Read whole, each is there once.
    let whole: Vec<LoggedChange> = read(&client, &journal, create - chrono::TimeDelta::milliseconds(1))
        .await
        .into_iter()
        .filter(|c| c.user_id == ana.id())
        .collect();
    assert_eq!(
        summary(&whole),
        vec![(SourceEvent::Joiner, login.clone()), (SourceEvent::Leaver, login.clone()), (SourceEvent::Deleted, login)]
    );
}
