//! Every users and groups endpoint of the client, over real HTTP against the simulator.
#![cfg(feature = "simulator")]

use crate::common;

use common::{org, profile};
use futures_util::StreamExt;
use okta_lifecycle::okta::{CreateUser, ListGroups, ListUsers, NextLogin};
use okta_lifecycle::scim::Filter;
use okta_lifecycle::simulator::SimulatorConfig;
use okta_lifecycle::{Error, GroupType, UserStatus};
use serde_json::{json, Value};

#[tokio::test]
async fn create_variants_give_okta_statuses() {
    let (sim, client) = org(SimulatorConfig::default()).await;
    let users = client.users();

    let mut staged = CreateUser::new(profile("staged@acme.com", "Sta", "Ged"));
    staged.activate = false;
    assert_eq!(users.create(&staged).await.unwrap().status(), UserStatus::Staged);

    let provisioned = users.create(&CreateUser::new(profile("prov@acme.com", "Pro", "Visioned"))).await.unwrap();
    assert_eq!(provisioned.status(), UserStatus::Provisioned);

    let mut active = CreateUser::new(profile("active@acme.com", "Act", "Ive"));
    active.password = Some("Sup3r-secret-pw!".into());
    active.next_login = Some(NextLogin::ChangePassword);
    let active = users.create(&active).await.unwrap();
    assert!(matches!(active.status(), UserStatus::Active | UserStatus::PasswordExpired), "{}", active.status());
    // The password never comes back.
    assert!(!serde_json::to_string(&active).unwrap().contains("Sup3r"));

    let group = client.groups().create("eng", Some("Engineering")).await.unwrap();
    let mut grouped = CreateUser::new(profile("grouped@acme.com", "Gro", "Uped"));
    grouped.group_ids = vec![group.id().to_owned()];
    let grouped = users.create(&grouped).await.unwrap();
    assert_eq!(sim.group_members(group.id()), vec![grouped.id().to_owned()]);

    // Duplicate login, any case: Okta's E0000001 with the cause.
    let error = users.create(&CreateUser::new(profile("STAGED@acme.com", "Dup", "Licate"))).await.unwrap_err();
    let api = error.api().expect("an Okta error");
    assert_eq!((api.status, api.error_code.as_deref()), (400, Some("E0000001")));
    assert!(api.causes.iter().any(|c| c.summary.contains("already exists")), "{api}");

    // An attribute the schema does not define.
    let mut custom = profile("custom@acme.com", "Cus", "Tom");
    custom.insert("favouriteColour".into(), json!("blue"));
    let error = users.create(&CreateUser::new(custom)).await.unwrap_err();
    assert_eq!(error.error_code(), Some("E0000001"));
}

#[tokio::test]
async fn get_update_replace_with_etag() {
    let (_sim, client) = org(SimulatorConfig::default()).await;
    let users = client.users();
    let created = users.create(&CreateUser::new(profile("ada@acme.com", "Ada", "Lovelace"))).await.unwrap();

    assert_eq!(users.get(created.id()).await.unwrap().login(), Some("ada@acme.com"));
    let (by_login, etag) = users.get_with_etag("Ada@Acme.com").await.unwrap();
    assert_eq!(by_login.id(), created.id());
    let etag = etag.expect("Okta sends an ETag on a user");

    let mut change = serde_json::Map::new();
    change.insert("department".into(), json!("Engineering"));
    let updated = users.update_profile(created.id(), &change).await.unwrap();
    assert_eq!(updated.profile()["department"], "Engineering");
    assert_eq!(updated.profile()["firstName"], "Ada", "a partial update keeps other attributes");

    // The ETag read before the update is stale now.
    let stale = users.replace(created.id(), &profile("ada@acme.com", "Ada", "King"), Some(&etag)).await.unwrap_err();
    assert_eq!(stale.status(), Some(412));
    let (_, fresh) = users.get_with_etag(created.id()).await.unwrap();
    let replaced =
        users.replace(created.id(), &profile("ada@acme.com", "Ada", "King"), fresh.as_deref()).await.unwrap();
    assert_eq!(replaced.profile()["lastName"], "King");
    assert!(replaced.profile().get("department").is_none_or(Value::is_null), "PUT removes what it does not name");

    let missing = users.get("nobody@acme.com").await.unwrap_err();
    assert!(missing.is_not_found());
    assert_eq!(missing.error_code(), Some("E0000007"));
    assert!(matches!(users.get("a/b").await, Err(Error::InvalidInput(_))));
}

#[tokio::test]
async fn listing_follows_next_links_across_many_pages() {
    let (sim, client) = org(SimulatorConfig { seed_users: 450, ..Default::default() }).await;
    sim.clear_requests();
    let mut stream = client.users().list(&ListUsers { limit: Some(50), ..Default::default() }).unwrap();
    let mut ids = std::collections::HashSet::new();
    while let Some(user) = stream.next().await {
        assert!(ids.insert(user.unwrap().id().to_owned()), "no user twice");
    }
    assert_eq!(ids.len(), 450);
    let pages = sim.requests().iter().filter(|r| r.path == "/api/v1/users" && r.method == "GET").count();
    assert_eq!(pages, 9, "450 users at 50 a page");
}

#[tokio::test]
async fn search_filter_and_q_select_users() {
    let (_sim, client) = org(SimulatorConfig::default()).await;
    let users = client.users();
    for (login, department) in [("a1@acme.com", "Eng"), ("a2@acme.com", "Eng"), ("b1@acme.com", "Sales")] {
        let mut p = profile(login, "Alan", login);
        p.insert("department".into(), json!(department));
        users.create(&CreateUser::new(p)).await.unwrap();
    }
    let gone = users.create(&CreateUser::new(profile("gone@acme.com", "Gone", "Away"))).await.unwrap();
    users.deactivate(gone.id(), false).await.unwrap();

    let collect = |options: ListUsers| {
        let users = users.clone();
        async move {
            let all = users.list(&options).unwrap().try_collect_all().await.unwrap();
            let mut logins: Vec<String> = all.iter().map(|u| u.login().unwrap().to_owned()).collect();
            logins.sort();
            logins
        }
    };
    let search = Filter::eq("profile.department", "eng").to_string();
    assert_eq!(collect(ListUsers { search: Some(search), ..Default::default() }).await, ["a1@acme.com", "a2@acme.com"]);
    // A hostile value stays a value.
    let hostile = Filter::eq("profile.department", r#"x" or status eq "ACTIVE"#).to_string();
    assert!(collect(ListUsers { search: Some(hostile), ..Default::default() }).await.is_empty());
    // Plain listing hides DEPROVISIONED users; a status filter finds them.
    assert_eq!(collect(ListUsers::default()).await.len(), 3);
    let filter = Filter::eq("status", "DEPROVISIONED").to_string();
    assert_eq!(collect(ListUsers { filter: Some(filter), ..Default::default() }).await, ["gone@acme.com"]);
    assert_eq!(collect(ListUsers { q: Some("b1".into()), ..Default::default() }).await, ["b1@acme.com"]);
    assert!(matches!(
        users.list(&ListUsers { q: Some("a".into()), search: Some("x pr".into()), ..Default::default() }),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(users.list(&ListUsers { limit: Some(201), ..Default::default() }), Err(Error::InvalidInput(_))));
}

#[tokio::test]
async fn lifecycle_operations_and_illegal_transitions() {
    let (sim, client) = org(SimulatorConfig::default()).await;
    let users = client.users();
    let mut staged = CreateUser::new(profile("life@acme.com", "Li", "Fe"));
    staged.activate = false;
    staged.password = Some("Sup3r-secret-pw!".into());
    let user = users.create(&staged).await.unwrap();
    let id = user.id().to_owned();
    let status =
        |users: okta_lifecycle::okta::UsersApi, id: String| async move { users.get(&id).await.unwrap().status() };

    let token = users.activate(&id, false).await.unwrap().expect("sendEmail=false returns the link");
    assert!(!format!("{token:?}").contains(token.token.expose()));
    assert_eq!(status(users.clone(), id.clone()).await, UserStatus::Active);
    assert_eq!(users.activate(&id, false).await.unwrap_err().error_code(), Some("E0000016"));

    users.suspend(&id).await.unwrap();
    assert_eq!(status(users.clone(), id.clone()).await, UserStatus::Suspended);
    assert_eq!(users.suspend(&id).await.unwrap_err().error_code(), Some("E0000001"));
    users.unsuspend(&id).await.unwrap();
    assert_eq!(users.unlock(&id).await.unwrap_err().error_code(), Some("E0000032"));
    assert_eq!(users.reactivate(&id, false).await.unwrap_err().error_code(), Some("E0000038"));

    let expired = users.expire_password(&id).await.unwrap();
    assert_eq!(expired.status(), UserStatus::PasswordExpired);
    let temporary = users.expire_password_with_temp_password(&id, false).await.unwrap();
    assert!(!temporary.expose().is_empty());

    let url = users.reset_password(&id, false, false).await.unwrap().expect("a reset link");
    assert!(url.expose().contains("reset_password"));
    assert_eq!(status(users.clone(), id.clone()).await, UserStatus::Recovery);
    assert!(users.reset_password(&id, true, false).await.unwrap().is_none());
    assert_eq!(sim.counters().reset_password.get(&id), Some(&2));
    users.reset_factors(&id).await.unwrap();

    sim.create_session(&id);
    sim.create_oauth_token(&id);
    users.clear_sessions(&id, false, None).await.unwrap();
    assert_eq!((sim.sessions(&id), sim.oauth_tokens(&id)), (0, 1));
    sim.create_session(&id);
    users.clear_sessions(&id, true, Some(false)).await.unwrap();
    assert_eq!((sim.sessions(&id), sim.oauth_tokens(&id)), (0, 0));

    users.deactivate(&id, false).await.unwrap();
    assert_eq!(status(users.clone(), id.clone()).await, UserStatus::Deprovisioned);
    users.activate(&id, true).await.unwrap();
    assert_ne!(status(users.clone(), id.clone()).await, UserStatus::Deprovisioned);
}

#[tokio::test]
async fn delete_permanently_runs_both_steps_and_tolerates_gone_users() {
    let (sim, client) = org(SimulatorConfig::default()).await;
    let users = client.users();
    let user = users.create(&CreateUser::new(profile("leaver@acme.com", "Lea", "Ver"))).await.unwrap();
    users.delete_permanently(user.id()).await.unwrap();
    assert!(users.get(user.id()).await.unwrap_err().is_not_found());
    assert!(sim.user_json(user.id()).is_none());
    users.delete_permanently(user.id()).await.unwrap();

    // A single DELETE on an active user only deactivates.
    let other = users.create(&CreateUser::new(profile("once@acme.com", "On", "Ce"))).await.unwrap();
    users.delete(other.id(), false).await.unwrap();
    assert_eq!(users.get(other.id()).await.unwrap().status(), UserStatus::Deprovisioned);
}

#[tokio::test]
async fn groups_crud_members_and_a_users_groups() {
    let (sim, client) = org(SimulatorConfig { seed_users: 5, ..Default::default() }).await;
    let groups = client.groups();
    let users = client.users().list(&ListUsers::default()).unwrap().try_collect_all().await.unwrap();

    let group = groups.create("engineering", Some("All engineers")).await.unwrap();
    assert_eq!(group.group_type(), GroupType::OktaGroup);
    assert_eq!(groups.get(group.id()).await.unwrap().description(), Some("All engineers"));
    assert_eq!(groups.create("Engineering", None).await.unwrap_err().error_code(), Some("E0000001"));
    let renamed = groups.replace(group.id(), "engineering-all", None).await.unwrap();
    assert_eq!(renamed.name(), Some("engineering-all"));
    assert_eq!(groups.find_by_name("ENGINEERING-ALL").await.unwrap().unwrap().id(), group.id());
    assert!(groups.find_by_name("nope").await.unwrap().is_none());

    for user in &users {
        groups.add_member(group.id(), user.id()).await.unwrap();
    }
    groups.add_member(group.id(), users[0].id()).await.unwrap();
    let members = groups.members(group.id()).unwrap().try_collect_all().await.unwrap();
    assert_eq!(members.len(), 5);
    groups.remove_member(group.id(), users[0].id()).await.unwrap();
    assert_eq!(sim.group_members(group.id()).len(), 4);

    let of_user = client.users().groups(users[1].id()).unwrap().try_collect_all().await.unwrap();
    let names: Vec<_> = of_user.iter().filter_map(|g| g.name()).collect();
    assert!(names.contains(&"Everyone") && names.contains(&"engineering-all"), "{names:?}");

    let search = Filter::eq("type", "OKTA_GROUP").to_string();
    let listed = groups
        .list(&ListGroups { search: Some(search), ..Default::default() })
        .unwrap()
        .try_collect_all()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let all =
        groups.list(&ListGroups { expand_stats: true, ..Default::default() }).unwrap().try_collect_all().await.unwrap();
    let everyone = all.iter().find(|g| g.group_type() == GroupType::BuiltIn).unwrap();
    assert_eq!(everyone.users_count(), Some(5));

    // Only OKTA_GROUP memberships are writable.
    let app_group = sim.seed_app_group("ad-users");
    assert!(groups.add_member(&app_group, users[0].id()).await.is_err());
    assert!(groups.add_member(everyone.id(), users[0].id()).await.is_err());

    groups.delete(group.id()).await.unwrap();
    assert!(groups.get(group.id()).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn the_next_page_is_fetched_while_the_current_one_is_used_and_dropped_with_the_stream() {
    let (sim, client) = org(SimulatorConfig { seed_users: 12, ..Default::default() }).await;
    sim.clear_requests();
    let listing_requests = |sim: &okta_lifecycle::simulator::Simulator| {
        sim.requests().iter().filter(|r| r.path == "/api/v1/users" && r.method == "GET").count()
    };
    let mut stream = client.users().list(&ListUsers { limit: Some(5), ..Default::default() }).unwrap();
    stream.next().await.unwrap().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(listing_requests(&sim), 2, "page 2 was requested while page 1 was still being read");

    // A stream dropped early takes its request in flight with it.
    sim.clear_requests();
    // Page 1 comes at once, page 2 (the prefetch) only after 1.5 s.
    sim.script_fault("GET", "/api/v1/users", okta_lifecycle::simulator::ScriptedFault::DelayMs(0));
    sim.script_fault("GET", "/api/v1/users", okta_lifecycle::simulator::ScriptedFault::DelayMs(1500));
    let mut stream = client.users().list(&ListUsers { limit: Some(5), ..Default::default() }).unwrap();
    stream.next().await.unwrap().unwrap();
    drop(stream);
    tokio::time::sleep(std::time::Duration::from_millis(1800)).await;
    assert_eq!(listing_requests(&sim), 1, "the prefetch was cancelled before the simulator finished it");
}
