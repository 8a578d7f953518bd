//! The partitioned read of every user (`UsersApi::list_partitioned`) against the simulator over
//! loopback, with a search index that trails writes and another client creating, updating,
//! deactivating and deleting users while the read runs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use okta_lifecycle::okta::{CreateUser, PartitionedListing, User};
use okta_lifecycle::simulator::{Simulator, SimulatorConfig};
use serde_json::{json, Value};

use crate::common::{client_for, profile};

/// When each user was last written by the test's writer, and what it did last.
#[derive(Default)]
struct Writes {
    last: HashMap<String, (SystemTime, &'static str)>,
    created: Vec<String>,
}

fn note(writes: &Mutex<Writes>, id: &str, what: &'static str) {
    writes.lock().unwrap().last.insert(id.to_owned(), (SystemTime::now(), what));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_lasting_user_is_read_once_in_its_newest_form_while_the_org_changes() {
    let search_delay = Duration::from_millis(150);
    let sim =
        Simulator::start(SimulatorConfig { seed_users: 1_500, latency_ms: 4, search_delay, ..Default::default() })
            .await
            .unwrap();
    // Forty users in one millisecond: more than a page of twenty.
    let crowd = sim.import_users("imported", 40, "2021-06-01T12:00:00.000Z");
    let before: BTreeSet<String> = sim.users().iter().map(|user| user["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(before.len(), 1_540);

    // The writer's targets, spread over every range of `created`.
    let ids: Vec<String> = before.iter().cloned().collect();
    let pick = |every: usize, offset: usize| -> Vec<String> {
        ids.iter().skip(offset).step_by(every).cloned().collect::<Vec<_>>()
    };
    let doomed = pick(37, 5); // deactivated, then deleted
    let retitled = pick(11, 3); // updated twice
    let leavers = pick(29, 7); // deactivated
    let doomed_set: BTreeSet<&String> = doomed.iter().collect();
    let leavers: Vec<String> = leavers.into_iter().filter(|id| !doomed_set.contains(id)).collect();
    let retitled: Vec<String> =
        retitled.into_iter().filter(|id| !doomed_set.contains(id) && !leavers.contains(id)).collect();

    let writer_client = client_for(&sim, |_| {});
    let writes = Arc::new(Mutex::new(Writes::default()));
    let writer = {
        let writes = writes.clone();
        let (doomed, retitled, leavers) = (doomed.clone(), retitled.clone(), leavers.clone());
        tokio::spawn(async move {
            let users = writer_client.users();
            let longest = doomed.len().max(retitled.len()).max(leavers.len());
            for index in 0..longest {
                if let Some(id) = retitled.get(index) {
                    let first = json!({"title": "first"}).as_object().cloned().unwrap();
                    users.update_profile(id, &first).await.unwrap();
                    let second = json!({"title": format!("second {index}")}).as_object().cloned().unwrap();
                    users.update_profile(id, &second).await.unwrap();
                    note(&writes, id, "retitled");
                }
                if let Some(id) = leavers.get(index) {
                    users.deactivate(id, false).await.unwrap();
                    note(&writes, id, "deactivated");
                }
                if let Some(id) = doomed.get(index) {
                    users.deactivate(id, false).await.unwrap();
                    users.delete(id, false).await.unwrap();
                    note(&writes, id, "deleted");
                }
                if index % 2 == 0 {
                    let login = format!("joiner{index}@example.com");
                    let mut create = CreateUser::new(profile(&login, "Joiner", &index.to_string()));
                    create.activate = false;
                    let user = users.create(&create).await.unwrap();
                    note(&writes, user.id(), "created");
                    writes.lock().unwrap().created.push(user.id().to_owned());
                }
            }
        })
    };

    tokio::time::sleep(Duration::from_millis(30)).await;
    let reader = client_for(&sim, |_| {});
    let options = PartitionedListing { chains: 6, settle: Duration::from_millis(500), limit: Some(20) };
    let read = reader.users().list_partitioned::<User>(&options).await.unwrap();
    writer.await.unwrap();

    // When the catch-up's search reached the simulator.
    let catch_up = sim
        .requests()
        .into_iter()
        .find(|request| request.query.as_deref().is_some_and(|query| query.contains("lastUpdated")))
        .expect("the read caught up")
        .at;
    let writes = writes.lock().unwrap();
    let indexed_before_catch_up = |id: &str| writes.last.get(id).is_none_or(|(at, _)| *at + search_delay < catch_up);
    let during = writes.last.values().filter(|(at, _)| *at + search_delay < catch_up).count();
    assert!(during >= 40, "only {during} writes landed before the catch-up: the read did not overlap them");

    let read_ids: Vec<&str> = read.users.iter().map(User::id).collect();
    let unique: BTreeSet<&str> = read_ids.iter().copied().collect();
    assert_eq!(unique.len(), read_ids.len(), "a user was read twice");
    let now: BTreeMap<String, Value> =
        sim.users().into_iter().map(|user| (user["id"].as_str().unwrap().to_owned(), user)).collect();
    let read_by_id: HashMap<&str, &User> = read.users.iter().map(|user| (user.id(), user)).collect();

    // Every user that existed throughout appears, in its newest form when its last write was
    // indexed before the catch-up.
    let mut checked = 0;
    for id in before.iter().filter(|id| !doomed_set.contains(id)) {
        let user =
            read_by_id.get(id.as_str()).unwrap_or_else(|| panic!("user {id} existed throughout but was not read"));
        if indexed_before_catch_up(id) {
            let current = &now[id];
            assert_eq!(
                user.raw().get("lastUpdated"),
                current.get("lastUpdated"),
                "user {id} is not in its newest form"
            );
            assert_eq!(user.raw().get("status"), current.get("status"), "user {id}");
            assert_eq!(user.profile().get("title"), current["profile"].get("title"), "user {id}");
            checked += 1;
        }
    }
    assert!(checked > 1_000, "{checked}");
    // Users created during the read, before the catch-up, appear.
    for id in writes.created.iter().filter(|id| indexed_before_catch_up(id)) {
        assert!(read_by_id.contains_key(id.as_str()), "user {id} created during the read was not read");
    }
    // Every user read exists or was deleted during the read.
    for id in &read_ids {
        assert!(now.contains_key(*id) || doomed_set.contains(&id.to_string()), "user {id} was never in the org");
    }
    for id in &crowd {
        assert!(read_by_id.contains_key(id.as_str()), "imported user {id} was not read");
    }
    assert!(read.report.crowded >= 1, "{:?}", read.report);
    assert!(read.report.ranges > options.chains, "the ranges were never split: {:?}", read.report);
    assert!(read.report.caught_up >= during.min(10), "{:?}", read.report);
    // Each page of a range is one request; the catch-up too.
    let listing_requests =
        sim.requests().iter().filter(|request| request.path == "/api/v1/users" && request.method == "GET").count();
    assert_eq!(listing_requests, read.report.pages);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_org_read_whole_matches_the_plain_listing_and_a_server_out_of_range_is_refused() {
    let sim = Simulator::start(SimulatorConfig { seed_users: 450, ..Default::default() }).await.unwrap();
    let client = client_for(&sim, |_| {});
    let users = client.users();
    let options = PartitionedListing { chains: 4, settle: Duration::ZERO, limit: Some(50) };
    let read = users.list_partitioned::<User>(&options).await.unwrap();
    let plain: Vec<User> = users.list(&Default::default()).unwrap().try_collect_all().await.unwrap();
    let ids = |users: &[User]| users.iter().map(|user| user.id().to_owned()).collect::<Vec<_>>();
    assert_eq!(ids(&read.users), ids(&plain));
    // No page read twice: 450 users in pages of 50 take at least 9 pages and the catch-up one
    // more. A page after the first of a range repeats the user at its start (49 new users a
    // page: at most 10 full pages), and each range adds at most one partial page.
    assert!(read.report.pages >= 10 && read.report.pages <= 10 + read.report.ranges + 1, "{:?}", read.report);

    for bad in [
        PartitionedListing { chains: 0, ..Default::default() },
        PartitionedListing { limit: Some(0), ..Default::default() },
    ] {
        let error = users.list_partitioned::<User>(&bad).await.unwrap_err();
        assert_eq!(error.kind(), okta_lifecycle::error::ErrorKind::InvalidInput, "{error}");
    }
}

/// Every user a snapshot holds, comparable.
fn snapshot_users(snapshot: &okta_lifecycle::lifecycle::state::OrgSnapshot) -> Vec<String> {
    let mut users: Vec<String> = snapshot.users().iter().map(|user| format!("{user:?}")).collect();
    users.sort();
    users
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_reads_a_large_slow_org_in_ranges_and_sees_what_the_plain_listing_sees() {
    use okta_lifecycle::lifecycle::state::{self, ReadRequest, UsersRead};

    let sim =
        Simulator::start(SimulatorConfig { seed_users: 2_000, latency_ms: 40, ..Default::default() }).await.unwrap();
    // Users Okta's plain listing leaves out, and one that is staged.
    let writer = client_for(&sim, |_| {});
    for id in sim.users().iter().take(30).map(|user| user["id"].as_str().unwrap().to_owned()) {
        writer.users().deactivate(&id, false).await.unwrap();
    }
    let mut staged = CreateUser::new(profile("staged@example.com", "Staged", "User"));
    staged.activate = false;
    writer.users().create(&staged).await.unwrap();

    // Twenty users a page: 100 pages of 40 ms in one chain, against 2 s of settling in ranges.
    let client = client_for(&sim, |config| config.page_size = 20);
    let request = |users_read| ReadRequest {
        match_on: "login".into(),
        attributes: ["title".to_owned()].into(),
        users_read,
        ..Default::default()
    };
    sim.clear_requests();
    let auto = state::read(&client, &request(UsersRead::Auto)).await.unwrap();
    let catch_ups = |sim: &Simulator| {
        sim.requests().iter().filter(|r| r.query.as_deref().is_some_and(|q| q.contains("lastUpdated"))).count()
    };
    assert!(catch_ups(&sim) >= 1, "the large slow org was not read in ranges");
    let plain = state::read(&client, &request(UsersRead::Plain)).await.unwrap();
    assert_eq!(auto.users().len(), 2_001);
    assert_eq!(snapshot_users(&auto), snapshot_users(&plain));

    // A fast org of the same size is read plainly: ranges would not be sooner.
    let fast = Simulator::start(SimulatorConfig { seed_users: 1_200, ..Default::default() }).await.unwrap();
    let client = client_for(&fast, |config| config.page_size = 20);
    state::read(&client, &request(UsersRead::Auto)).await.unwrap();
    assert_eq!(catch_ups(&fast), 0, "a fast org was read in ranges");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_groups_members_read_while_members_come_and_go_holds_every_lasting_member_once() {
    let sim = Simulator::start(SimulatorConfig { seed_users: 600, latency_ms: 3, ..Default::default() }).await.unwrap();
    let setup = client_for(&sim, |_| {});
    let group = setup.groups().create("Large", None).await.unwrap();
    let ids: Vec<String> = sim.users().iter().map(|user| user["id"].as_str().unwrap().to_owned()).collect();
    let (members, outsiders) = ids.split_at(500);
    futures_util::stream::iter(members)
        .for_each_concurrent(16, |id| {
            let groups = setup.groups();
            let group = group.id().to_owned();
            async move { groups.add_member(&group, id).await.unwrap() }
        })
        .await;
    // Every fifth member leaves and every outsider joins while the members are read.
    let leaving: Vec<String> = members.iter().step_by(5).cloned().collect();
    let joining: Vec<String> = outsiders.to_vec();
    let writer = {
        let groups = setup.groups();
        let group = group.id().to_owned();
        let (leaving, joining) = (leaving.clone(), joining.clone());
        tokio::spawn(async move {
            for (leaver, joiner) in leaving.iter().zip(&joining) {
                groups.remove_member(&group, leaver).await.unwrap();
                groups.add_member(&group, joiner).await.unwrap();
            }
        })
    };
    let reader = client_for(&sim, |config| config.page_size = 10);
    let read: Vec<User> = reader.groups().members(group.id()).unwrap().try_collect_all().await.unwrap();
    writer.await.unwrap();

    let read_ids: Vec<&str> = read.iter().map(User::id).collect();
    let unique: BTreeSet<&str> = read_ids.iter().copied().collect();
    assert_eq!(unique.len(), read_ids.len(), "a member was read twice");
    let leaving: BTreeSet<&String> = leaving.iter().collect();
    for id in members.iter().filter(|id| !leaving.contains(id)) {
        assert!(unique.contains(id.as_str()), "member {id} belonged throughout but was not read");
    }
    for id in &read_ids {
        assert!(members.iter().any(|m| m == id) || joining.iter().any(|j| j == id), "{id} never belonged");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowded_millisecond_is_read_with_fewer_requests_in_flight_than_chains() {
    // Pages of five, eight chains, and a client that lets two requests out at once: the read of
    // a crowded millisecond must not wait on answers the other chains are holding.
    let sim = Simulator::start(SimulatorConfig { seed_users: 120, ..Default::default() }).await.unwrap();
    let crowd = sim.import_users("crowded", 30, "2022-03-01T08:00:00.000Z");
    let client = client_for(&sim, |config| config.max_concurrency = 2);
    let options = PartitionedListing { chains: 8, settle: Duration::ZERO, limit: Some(5) };
    let read = tokio::time::timeout(Duration::from_secs(60), client.users().list_partitioned::<User>(&options))
        .await
        .expect("the read ends")
        .unwrap();
    assert!(read.report.crowded >= 1, "{:?}", read.report);
    let ids: BTreeSet<&str> = read.users.iter().map(User::id).collect();
    assert_eq!(ids.len(), 150);
    assert!(crowd.iter().all(|id| ids.contains(id.as_str())));
}
