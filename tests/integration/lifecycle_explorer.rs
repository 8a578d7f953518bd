//! The scenario explorer: random HR timelines driven through the real engine against the
//! simulator, with changes made by hand in Okta between runs and trouble during the applies, and
//! invariants checked after every day from the simulator's own state (never from the report).
//!
//! A scenario is a few people over a few days. Each day HR hires, moves, lets go, rehires, grants
//! or takes away an admin role and asks for password resets, writing the employee number the way
//! exports do (`4100`, `04100`, `+4100`, ` 4100 `) and the email in any case. Before the run
//! someone changes Okta by hand (locks an account out, suspends, unsuspends or reactivates one,
//! adds a group or a role, edits a title, deletes a user, signs in, follows an activation or reset
//! link), and again between a troubled apply and its resume. The day's apply meets trouble: random
//! 5xx, dropped connections before and after the work, answers past the client's timeout, 429s, a
//! kill at a chosen write (done by Okta or not) followed by a resume, two appliers of one plan, or
//! a stalled applier whose run is taken over. Then the run is resumed and the day planned and
//! applied again without trouble, and the invariants must hold:
//!
//! - (a) every leaver has no access (not ACTIVE: SUSPENDED or DEPROVISIONED, in no OKTA_GROUP,
//!   no admin role, no session) or is named as an issue for a reason the scenario allows (no
//!   account; Okta refuses to suspend it); never kept in silence, and no other issue is allowed;
//! - (b) every active person exists exactly once, with the policy's attributes, its department
//!   group and no other `dept-` group, the `staff` group, and HELP_DESK_ADMIN exactly when HR
//!   says so;
//! - (c) no user is created more often than a plan asked, and no one gets more password resets
//!   than HR asked for;
//! - (d) every change an apply reports as succeeded is true in Okta when the apply returns;
//! - (e) every apply returns within a bound derived from its plan;
//! - (f) the records planned through the lookup path and through the listing path give the same
//!   changes and the same issues.
//!
//! Generation and shrinking are proptest's; the runner's seed is `EXPLORER_SEED` (default fixed,
//! so CI explores the same scenarios each run) and the number of scenarios `EXPLORER_CASES`
//! (default 60). A failure prints the seed, the shrunk scenario, and writes it as JSON for
//! `EXPLORER_REPLAY=<file>`, which runs that scenario alone; every scenario it once failed on is
//! kept in `explorer_regressions/` and replayed by the suite. A long run (`EXPLORER_PROGRESS`
//! prints the totals every 500 scenarios): `EXPLORER_CASES=20000 EXPLORER_SEED=7 cargo test
//! --release --all-features --test integration lifecycle_explorer -- --nocapture`.
#![cfg(feature = "simulator")]

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use okta_lifecycle::lifecycle::journal::ChangeStatus;
use okta_lifecycle::lifecycle::plan::Operation;
use okta_lifecycle::lifecycle::record::IdentityRecord;
use okta_lifecycle::lifecycle::state::UsersRead;
use okta_lifecycle::lifecycle::{apply, plan, planner, state, ApplyOptions, Journal, Plan, Policy, Report};
use okta_lifecycle::okta::{Assignee, PartitionedListing};
use okta_lifecycle::simulator::{Faults, ScriptedFault, Simulator, SimulatorConfig};
use okta_lifecycle::OktaClient;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

const DEPARTMENTS: [&str; 3] = ["eng", "sales", "ops"];
const TITLES: [&str; 3] = ["Engineer", "Manager", "Analyst"];
/// The admin role HR decides.
const MANAGED_ROLE: &str = "HELP_DESK_ADMIN";
/// The admin role an admin gives by hand (outside the policy's role scope).
const HAND_ROLE: &str = "USER_ADMIN";
/// People in a scenario, at most.
const PEOPLE: u8 = 5;

// ---------------------------------------------------------------------------------------------
// Scenarios

/// Something HR's export says about a person on a day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Hr {
    /// Starts (ignored for someone already employed).
    Hire { person: u8, department: u8, title: u8, admin: bool },
    /// Changes department and title (an employee only).
    Move { person: u8, department: u8, title: u8 },
    /// Leaves (an employee only).
    Leave { person: u8 },
    /// Comes back (someone who left only), maybe to another department.
    Rehire { person: u8, department: u8 },
    /// Asks for a password reset (an employee only).
    Reset { person: u8 },
    /// Gains or loses the admin role (an employee only).
    Admin { person: u8, admin: bool },
}

/// A change someone makes in Okta by hand before the day's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum ByHand {
    /// Too many failed sign-ins.
    LockOut { person: u8 },
    /// An admin suspends the account.
    Suspend { person: u8 },
    /// An admin unsuspends it.
    Unsuspend { person: u8 },
    /// An admin activates a deactivated account again.
    Reactivate { person: u8 },
    /// An admin adds the account to `vpn` (outside the policy's scope) or to another `dept-`
    /// group (inside it).
    AddGroup { person: u8, in_scope: bool },
    /// An admin grants the account a role the policy does not manage.
    AddRole { person: u8 },
    /// An admin edits the title.
    EditTitle { person: u8 },
    /// An admin deactivates and deletes the account.
    Delete { person: u8 },
    /// The user signs in.
    SignIn { person: u8 },
    /// The user follows the link Okta sent (activation or password reset).
    FollowLink { person: u8 },
}

/// What the day's apply meets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Trouble {
    Calm,
    /// Random 5xx, drops before and after the work and answers past the timeout, `percent` of
    /// requests, from the generator seeded with `seed`.
    Faults {
        seed: u64,
        percent: u8,
    },
    /// The applier is killed while it waits for the answer to its write `1 + after % writes`
    /// (`writes`: the writing changes planned), which Okta did (`processed`) or never received,
    /// with `faults` in effect until then.
    Kill {
        after: u8,
        processed: bool,
        faults: Option<u64>,
    },
    /// Two appliers of one plan on one journal, at once.
    TwoAppliers,
    /// The first applier stalls in its first request; meanwhile its lease is taken to have
    /// lapsed and a second applier takes the run over.
    Takeover,
    /// The first `count` requests get a 429 without rate-limit headers (a concurrency limit).
    Throttled {
        count: u8,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Day {
    hr: Vec<Hr>,
    by_hand: Vec<ByHand>,
    trouble: Trouble,
    /// Changes by hand between the troubled apply and its resume.
    meanwhile: Vec<ByHand>,
    /// Between the troubled apply and its resume, every user with a pending activation or
    /// password reset follows its link.
    links_followed: bool,
    /// Picks how each person's employee number and email are written today.
    spelling: u8,
    /// Changes in flight at once.
    concurrency: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Scenario {
    /// Leavers are suspended (else deactivated).
    suspend_leavers: bool,
    /// In suspend mode, a leaver Okta will not suspend is deactivated (else named as an issue).
    deactivate_when_refused: bool,
    /// Who already works there, hired on a calm first day.
    staff: Vec<Hr>,
    days: Vec<Day>,
}

fn person() -> impl Strategy<Value = u8> {
    0..PEOPLE
}

fn hr() -> impl Strategy<Value = Hr> {
    prop_oneof![
        4 => (person(), 0u8..3, 0u8..3, any::<bool>())
            .prop_map(|(person, department, title, admin)| Hr::Hire { person, department, title, admin }),
        2 => (person(), 0u8..3, 0u8..3).prop_map(|(person, department, title)| Hr::Move { person, department, title }),
        2 => person().prop_map(|person| Hr::Leave { person }),
        2 => (person(), 0u8..3).prop_map(|(person, department)| Hr::Rehire { person, department }),
        2 => person().prop_map(|person| Hr::Reset { person }),
        1 => (person(), any::<bool>()).prop_map(|(person, admin)| Hr::Admin { person, admin }),
    ]
}

fn by_hand() -> impl Strategy<Value = ByHand> {
    prop_oneof![
        person().prop_map(|person| ByHand::LockOut { person }),
        person().prop_map(|person| ByHand::Suspend { person }),
        person().prop_map(|person| ByHand::Unsuspend { person }),
        person().prop_map(|person| ByHand::Reactivate { person }),
        (person(), any::<bool>()).prop_map(|(person, in_scope)| ByHand::AddGroup { person, in_scope }),
        person().prop_map(|person| ByHand::AddRole { person }),
        person().prop_map(|person| ByHand::EditTitle { person }),
        person().prop_map(|person| ByHand::Delete { person }),
        person().prop_map(|person| ByHand::SignIn { person }),
        person().prop_map(|person| ByHand::FollowLink { person }),
    ]
}

fn trouble() -> impl Strategy<Value = Trouble> {
    prop_oneof![
        2 => Just(Trouble::Calm),
        4 => (any::<u64>(), 10u8..40).prop_map(|(seed, percent)| Trouble::Faults { seed, percent }),
        3 => (any::<u8>(), any::<bool>(), proptest::option::of(any::<u64>()))
            .prop_map(|(after, processed, faults)| Trouble::Kill { after, processed, faults }),
        1 => Just(Trouble::TwoAppliers),
        1 => Just(Trouble::Takeover),
        1 => (1u8..6).prop_map(|count| Trouble::Throttled { count }),
    ]
}

fn day() -> impl Strategy<Value = Day> {
    (
        proptest::collection::vec(hr(), 0..7),
        proptest::collection::vec(by_hand(), 0..4),
        trouble(),
        proptest::collection::vec(by_hand(), 0..2),
        any::<bool>(),
        any::<u8>(),
        prop_oneof![Just(1u8), Just(4u8)],
    )
        .prop_map(|(hr, by_hand, trouble, meanwhile, links_followed, spelling, concurrency)| Day {
            hr,
            by_hand,
            trouble,
            meanwhile,
            links_followed,
            spelling,
            concurrency,
        })
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let hire = (0u8..3, 0u8..3, any::<bool>());
    (
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(hire, 0..=usize::from(PEOPLE)),
        proptest::collection::vec(day(), 1..6),
    )
        .prop_map(|(suspend_leavers, deactivate_when_refused, staff, days)| {
            let hired = staff
                .into_iter()
                .zip(0..)
                .map(|((department, title, admin), person)| Hr::Hire { person, department, title, admin })
                .collect();
            Scenario { suspend_leavers, deactivate_when_refused, staff: hired, days }
        })
}

// ---------------------------------------------------------------------------------------------
// The model of what HR says

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Employment {
    Employed,
    Left,
}

#[derive(Debug, Clone)]
struct Person {
    employment: Employment,
    department: u8,
    title: u8,
    admin: bool,
    /// Today's record says `rehired` (the next day's says `active`).
    rehired_today: bool,
    /// Today's record says `reset`.
    reset_today: bool,
    /// Password resets HR asked for so far.
    resets_asked: u64,
}

impl Person {
    fn number(index: u8) -> i64 {
        4100 + i64::from(index)
    }

    fn email(index: u8) -> String {
        format!("p{index}@acme.com")
    }

    fn status(&self) -> &'static str {
        match (self.employment, self.rehired_today, self.reset_today) {
            (Employment::Left, _, _) => "terminated",
            (Employment::Employed, true, _) => "rehired",
            (Employment::Employed, false, true) => "reset",
            (Employment::Employed, false, false) => "active",
        }
    }
}

/// Applies the day's HR events to the people (an event that does not fit someone's state is
/// ignored, so that shrinking can drop any event).
fn hr_day(people: &mut BTreeMap<u8, Person>, events: &[Hr]) {
    for person in people.values_mut() {
        person.rehired_today = false;
        person.reset_today = false;
    }
    for event in events {
        match *event {
            Hr::Hire { person, department, title, admin } => {
                people.entry(person).or_insert(Person {
                    employment: Employment::Employed,
                    department,
                    title,
                    admin,
                    rehired_today: false,
                    reset_today: false,
                    resets_asked: 0,
                });
            }
            Hr::Move { person, department, title } => {
                if let Some(p) = people.get_mut(&person).filter(|p| p.employment == Employment::Employed) {
                    p.department = department;
                    p.title = title;
                }
            }
            Hr::Leave { person } => {
                if let Some(p) = people.get_mut(&person).filter(|p| p.employment == Employment::Employed) {
                    p.employment = Employment::Left;
                    p.rehired_today = false;
                    p.reset_today = false;
                }
            }
            Hr::Rehire { person, department } => {
                if let Some(p) = people.get_mut(&person).filter(|p| p.employment == Employment::Left) {
                    p.employment = Employment::Employed;
                    p.department = department;
                    p.rehired_today = true;
                }
            }
            Hr::Reset { person } => {
                if let Some(p) = people
                    .get_mut(&person)
                    .filter(|p| p.employment == Employment::Employed && !p.rehired_today && !p.reset_today)
                {
                    p.reset_today = true;
                    p.resets_asked += 1;
                }
            }
            Hr::Admin { person, admin } => {
                if let Some(p) = people.get_mut(&person).filter(|p| p.employment == Employment::Employed) {
                    p.admin = admin;
                }
            }
        }
    }
}

/// The employee number as an export writes it.
fn spelled_number(number: i64, spelling: u8) -> String {
    match spelling % 4 {
        0 => number.to_string(),
        1 => format!("0{number}"),
        2 => format!("+{number}"),
        _ => format!(" {number} "),
    }
}

fn spelled_email(email: &str, spelling: u8) -> String {
    if spelling % 3 == 1 {
        email.to_uppercase()
    } else {
        email.to_owned()
    }
}

/// The export for the day, in person order; `steady` writes `active` for today's resets (a
/// reset is asked once, not by every later run of the same day).
fn records(people: &BTreeMap<u8, Person>, spelling: u8, steady: bool) -> Vec<IdentityRecord> {
    people
        .iter()
        .map(|(index, p)| {
            let mix = spelling.wrapping_add(index.wrapping_mul(7));
            let status = if steady && p.status() == "reset" { "active" } else { p.status() };
            let fields = json!({
                "hrid": format!("H{index}"),
                "num": spelled_number(Person::number(*index), mix),
                "email": spelled_email(&Person::email(*index), mix / 4),
                "first": format!("Person{index}"),
                "last": "Explorer",
                "dept": DEPARTMENTS[usize::from(p.department)],
                "title": TITLES[usize::from(p.title)],
                "admin": if p.admin { "yes" } else { "no" },
                "status": status,
            });
            IdentityRecord::from_map(fields.as_object().cloned().unwrap())
        })
        .collect()
}

fn policy(scenario: &Scenario) -> Policy {
    let groups =
        json!({"action": "manage_relationships", "groups": ["dept-{dept}", "staff"], "exclusive_prefix": "dept-"});
    let leaver = if scenario.suspend_leavers {
        let refused = if scenario.deactivate_when_refused { "deactivate" } else { "issue" };
        json!({"action": "deprovision_identity", "mode": "suspend", "suspend_refused": refused})
    } else {
        json!({"action": "deprovision_identity", "mode": "deactivate"})
    };
    Policy::from_value(&json!({
        "name": "explorer",
        "source": {"format": "jsonl", "key": "hrid", "match_on": "empId"},
        "attributes": {
            "login": "{email | LOWER}", "email": "{email | LOWER}", "firstName": "{first}", "lastName": "{last}",
            "empId": "{num}", "department": "{dept}", "title": "{title}",
        },
        "workflow": [
            {"name": "admin", "when": "status eq \"active\" and admin eq \"yes\"", "actions": [
                {"action": "sync_identities"},
                groups.clone(),
                {"action": "manage_relationships", "roles": [MANAGED_ROLE], "role_scope": [MANAGED_ROLE]}]},
            {"name": "joiner", "when": "status eq \"active\"", "actions": [
                {"action": "sync_identities"},
                groups.clone(),
                {"action": "manage_relationships", "mode": "sync", "role_scope": [MANAGED_ROLE]}]},
            {"name": "leaver", "when": "status eq \"terminated\"", "actions": [leaver]},
            {"name": "rehire", "when": "status eq \"rehired\"", "actions": [
                {"action": "reactivate_identity", "restore_groups": true, "restore_roles": true, "send_email": false},
                {"action": "sync_identities"},
                groups]},
            {"name": "reset", "when": "status eq \"reset\"", "actions": [
                {"action": "reset_password", "send_email": false}]},
        ],
    }))
    .expect("the explorer's policy is valid")
}

// ---------------------------------------------------------------------------------------------
// Running a scenario

/// Totals over every scenario explored, printed at the end.
#[derive(Default)]
struct Totals {
    scenarios: AtomicU64,
    days: AtomicU64,
    requests: AtomicU64,
    faulted: AtomicU64,
    applies: AtomicU64,
    kills: AtomicU64,
    changes: AtomicU64,
}

static TOTALS: Totals = Totals {
    scenarios: AtomicU64::new(0),
    days: AtomicU64::new(0),
    requests: AtomicU64::new(0),
    faulted: AtomicU64::new(0),
    applies: AtomicU64::new(0),
    kills: AtomicU64::new(0),
    changes: AtomicU64::new(0),
};

/// A folder of its own under the system's temporary folder, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("okta-lifecycle-explorer-{}-{unique}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Scratch(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What one scenario runs against.
struct World {
    sim: Simulator,
    client: OktaClient,
    journal_path: PathBuf,
    journal: Journal,
    policy: Policy,
    people: BTreeMap<u8, Person>,
    /// `create_user` changes in applied plans.
    creates_planned: usize,
    suspend_leavers: bool,
    deactivate_when_refused: bool,
    /// What happened so far, for the failure message.
    log: Vec<String>,
}

type Checked = Result<(), String>;

fn fail(message: String) -> Checked {
    Err(message)
}

fn faults(seed: u64, percent: u8) -> Faults {
    let share = f64::from(percent) / 100.0;
    Faults {
        seed,
        error_500: share * 0.25,
        error_502: share * 0.1,
        error_503: share * 0.15,
        error_504: share * 0.1,
        drop_before: share * 0.15,
        drop_after: share * 0.15,
        slow: share * 0.1,
        slow_ms: 700,
    }
}

async fn explore(scenario: &Scenario) -> Checked {
    let scratch = Scratch::new();
    let sim = Simulator::start(SimulatorConfig { concurrency_limit: Some(3), ..Default::default() })
        .await
        .map_err(|e| format!("the simulator did not start: {e}"))?;
    let client = common::client_for(&sim, |config| config.request_timeout = Duration::from_millis(500));
    let mut properties = Map::new();
    properties.insert("empId".into(), json!({"title": "Employee id", "type": "integer"}));
    client.schema().update_custom(&properties).await.map_err(|e| e.to_string())?;
    for name in ["dept-eng", "dept-sales", "dept-ops", "staff", "vpn"] {
        client.groups().create(name, None).await.map_err(|e| e.to_string())?;
    }
    let journal_path = scratch.0.join("journal.sqlite");
    let journal = Journal::open(&journal_path).map_err(|e| e.to_string())?;
    let mut world = World {
        sim,
        client,
        journal_path,
        journal,
        policy: policy(scenario),
        people: BTreeMap::new(),
        creates_planned: 0,
        suspend_leavers: scenario.suspend_leavers,
        deactivate_when_refused: scenario.deactivate_when_refused,
        log: Vec::new(),
    };
    let first = Day {
        hr: scenario.staff.clone(),
        by_hand: Vec::new(),
        trouble: Trouble::Calm,
        meanwhile: Vec::new(),
        links_followed: false,
        spelling: 0,
        concurrency: 4,
    };
    let mut outcome = Ok(());
    for (number, day) in std::iter::once(&first).chain(&scenario.days).enumerate() {
        outcome = world.day(number, day).await;
        if number == 0 {
            // The staff have been using their accounts.
            for index in 0..PEOPLE {
                let _ = world.by_hand(&ByHand::FollowLink { person: index }).await;
            }
        }
        TOTALS.days.fetch_add(1, Ordering::Relaxed);
        if outcome.is_err() {
            break;
        }
    }
    let requests = world.sim.requests();
    TOTALS.requests.fetch_add(requests.len() as u64, Ordering::Relaxed);
    let faulted = requests.iter().filter(|r| r.dropped || matches!(r.status, 0 | 429 | 500..=599)).count();
    TOTALS.faulted.fetch_add(faulted as u64, Ordering::Relaxed);
    let explored = TOTALS.scenarios.fetch_add(1, Ordering::Relaxed) + 1;
    if explored.is_multiple_of(500) && std::env::var_os("EXPLORER_PROGRESS").is_some() {
        println!("{}", totals_line(explored));
    }
    if std::env::var_os("EXPLORER_REPLAY").is_some() {
        println!("{}", world.log.join("\n"));
    }
    outcome.map_err(|message| format!("{message}\n--- what happened ---\n{}", world.log.join("\n")))
}

impl World {
    async fn day(&mut self, number: usize, day: &Day) -> Checked {
        self.log.push(format!("day {number}: {day:?}"));
        hr_day(&mut self.people, &day.hr);
        for change in &day.by_hand {
            self.by_hand(change).await?;
        }
        let export = records(&self.people, day.spelling, false);
        self.lookup_and_listing_agree(&export).await?;

        // The day's run, in trouble.
        let planned = plan(&self.client, &self.policy, &export, &self.journal)
            .await
            .map_err(|e| format!("day {number}: planning failed: {e}"))?;
        self.log.push(format!("plan:\n{}", planned.render()));
        self.count_creates(&planned);
        self.apply_in_trouble(&planned, day).await?;
        for change in &day.meanwhile {
            self.by_hand(change).await?;
        }
        if day.links_followed {
            for index in 0..PEOPLE {
                self.by_hand(&ByHand::FollowLink { person: index }).await?;
            }
        }
        // The run resumed, as the next invocation would.
        let resumed = self.apply_checked(&planned, "resume", ApplyOptions::default()).await?;
        // What the troubled apply finished was checked then; since, hands may have undone it.
        let fresh =
            Report { outcomes: resumed.outcomes.iter().filter(|o| !o.already_done).cloned().collect(), ..resumed };
        self.succeeded_is_true(&planned, &fresh)?;

        // The day planned and applied again without trouble: the org must now be as HR says.
        let steady = records(&self.people, day.spelling, true);
        let again = plan(&self.client, &self.policy, &steady, &self.journal)
            .await
            .map_err(|e| format!("day {number}: planning again failed: {e}"))?;
        self.log.push(format!("plan again:\n{}", again.render()));
        self.count_creates(&again);
        let report =
            self.apply_checked(&again, "again", ApplyOptions { override_safety: true, ..Default::default() }).await?;
        self.succeeded_is_true(&again, &report)?;
        if let Some(outcome) = report.outcomes.iter().find(|o| o.status != ChangeStatus::Succeeded) {
            return fail(format!("day {number}: a change failed without trouble: {outcome:?}\n{}", report.render()));
        }
        self.invariants(&again).await
    }

    fn count_creates(&mut self, planned: &Plan) {
        self.creates_planned +=
            planned.changes.iter().filter(|c| matches!(c.operation, Operation::CreateUser { .. })).count();
        TOTALS.changes.fetch_add(planned.changes.len() as u64, Ordering::Relaxed);
    }

    /// The user (any status) that holds the person's employee number.
    fn accounts(&self, index: u8) -> Vec<Value> {
        let number = Person::number(index);
        self.sim.users().into_iter().filter(|user| user["profile"]["empId"].as_i64() == Some(number)).collect()
    }

    fn account_id(&self, index: u8) -> Option<(String, String)> {
        let accounts = self.accounts(index);
        let user = accounts.first()?;
        Some((user["id"].as_str()?.to_owned(), user["status"].as_str()?.to_owned()))
    }

    async fn by_hand(&mut self, change: &ByHand) -> Checked {
        let person = match change {
            ByHand::LockOut { person }
            | ByHand::Suspend { person }
            | ByHand::Unsuspend { person }
            | ByHand::Reactivate { person }
            | ByHand::AddGroup { person, .. }
            | ByHand::AddRole { person }
            | ByHand::EditTitle { person }
            | ByHand::Delete { person }
            | ByHand::SignIn { person }
            | ByHand::FollowLink { person } => *person,
        };
        let Some((id, status)) = self.account_id(person) else { return Ok(()) };
        let users = self.client.users();
        let done = match change {
            ByHand::LockOut { .. } => self.sim.lock_out(&id),
            ByHand::Suspend { .. } if status == "ACTIVE" => users.suspend(&id).await.is_ok(),
            ByHand::Unsuspend { .. } if status == "SUSPENDED" => users.unsuspend(&id).await.is_ok(),
            ByHand::Reactivate { .. } if status == "DEPROVISIONED" => users.activate(&id, false).await.is_ok(),
            ByHand::AddGroup { in_scope, .. } => {
                let department = self.people.get(&person).map_or(0, |p| p.department);
                let name = if *in_scope {
                    format!("dept-{}", DEPARTMENTS[usize::from((department + 1) % 3)])
                } else {
                    "vpn".into()
                };
                let group = self.sim.group_id(&name).expect("the groups exist");
                self.client.groups().add_member(&group, &id).await.is_ok()
            }
            ByHand::AddRole { .. } => self.client.roles().assign(&Assignee::User(id.clone()), HAND_ROLE).await.is_ok(),
            ByHand::EditTitle { .. } if status != "DEPROVISIONED" => {
                let mut profile = Map::new();
                profile.insert("title".into(), json!("Edited by hand"));
                users.update_profile(&id, &profile).await.is_ok()
            }
            ByHand::Delete { .. } => {
                let deactivated = status == "DEPROVISIONED" || users.deactivate(&id, false).await.is_ok();
                deactivated && users.delete(&id, false).await.is_ok()
            }
            // Only a user who can sign in gets a session.
            ByHand::SignIn { .. } if matches!(status.as_str(), "ACTIVE" | "PASSWORD_EXPIRED" | "RECOVERY") => {
                self.sim.create_session(&id)
            }
            ByHand::FollowLink { .. } => self.sim.follow_link(&id),
            _ => false,
        };
        self.log.push(format!(
            "  by hand: {change:?} on {id} ({status}): {}",
            if done { "done" } else { "not applicable" }
        ));
        Ok(())
    }

    /// (f): the lookup path (a few records), the listing path and the read in ranges of
    /// `created` plan alike.
    async fn lookup_and_listing_agree(&self, records: &[IdentityRecord]) -> Checked {
        let schema = self.client.schema().user_schema().await.map_err(|e| e.to_string())?;
        let journal = &self.journal;
        let restorable = |user_id: &str, status_changed: Option<&str>| {
            journal.restorable(user_id, status_changed).map_err(|e| e.to_string())
        };
        let mut plans = Vec::new();
        let ranges = PartitionedListing { chains: 3, settle: Duration::ZERO, limit: Some(2) };
        for read in [None, Some(UsersRead::Plain), Some(UsersRead::Ranges(ranges))] {
            let mut request = planner::read_request(&self.policy, records, Some(&schema));
            if let Some(read) = read {
                request.lookups = None;
                request.users_read = read;
            } else if request.lookups.is_none() {
                return fail("a few records did not take the lookup path".into());
            }
            let mut snapshot = state::read(&self.client, &request).await.map_err(|e| format!("reading Okta: {e}"))?;
            snapshot.set_schema(schema.clone());
            plans.push(planner::plan_with_snapshot(
                &self.policy,
                records,
                &snapshot,
                "https://explorer.okta.com",
                &restorable,
            ));
        }
        for (other, name) in [(&plans[1], "listing"), (&plans[2], "ranges")] {
            if plans[0].changes != other.changes || plans[0].issues != other.issues {
                return fail(format!(
                    "(f) the lookup path and the {name} path disagree\n--- lookups ---\n{}\n--- {name} ---\n{}",
                    plans[0].render(),
                    other.render()
                ));
            }
        }
        Ok(())
    }

    /// An apply, bounded: (e).
    async fn apply_bounded(&self, planned: &Plan, journal: &Journal, options: ApplyOptions) -> Result<Report, String> {
        let bound = bound(planned);
        TOTALS.applies.fetch_add(1, Ordering::Relaxed);
        // The simulator's log shows an event 300 ms after the change: a reset in doubt is
        // settled from it within two seconds.
        let options = ApplyOptions { log_settle: Duration::from_secs(2), ..options };
        match tokio::time::timeout(bound, apply(&self.client, planned, journal, &options)).await {
            Ok(result) => result.map_err(|e| format!("the apply failed: {e}")),
            Err(_) => Err(format!("(e) the apply did not end within {bound:?} for {} changes", planned.changes.len())),
        }
    }

    async fn apply_checked(&mut self, planned: &Plan, what: &str, options: ApplyOptions) -> Result<Report, String> {
        let report = self.apply_bounded(planned, &self.journal, options).await?;
        self.log.push(format!("{what}:\n{}", report.render()));
        Ok(report)
    }

    async fn apply_in_trouble(&mut self, planned: &Plan, day: &Day) -> Checked {
        let concurrency = usize::from(day.concurrency.max(1));
        let options = ApplyOptions { concurrency, ..Default::default() };
        let writes = planned.changes.iter().any(|c| c.operation.writes());
        match day.trouble {
            Trouble::Calm => {
                let report = self.apply_checked(planned, "apply", options).await?;
                self.succeeded_is_true(planned, &report)?;
            }
            Trouble::Faults { seed, percent } => {
                self.sim.set_faults(faults(seed, percent));
                let report = self.apply_bounded(planned, &self.journal, options).await;
                self.sim.set_faults(Faults::default());
                let report = report?;
                self.log.push(format!("apply under {percent}% faults:\n{}", report.render()));
                self.succeeded_is_true(planned, &report)?;
            }
            Trouble::Kill { after, processed, faults: fault_seed } => {
                if let Some(seed) = fault_seed {
                    self.sim.set_faults(faults(seed, 15));
                }
                // Killed at one of the plan's writes (when it has any): the simulator holds that
                // write, done or not, and the applier is dropped while it waits for the answer.
                let planned_writes = planned.changes.iter().filter(|c| c.operation.writes()).count().max(1);
                self.sim.hold_write(usize::from(after) % planned_writes, processed);
                let apply = self.apply_bounded(planned, &self.journal, options);
                let killed = common::kill_at_held_write(&self.sim, apply).await;
                self.sim.set_faults(Faults::default());
                match killed {
                    Some(report) => {
                        let report = report?;
                        self.log.push(format!(
                            "apply (ended before the write it was to be killed at):\n{}",
                            report.render()
                        ));
                        self.succeeded_is_true(planned, &report)?;
                    }
                    None => {
                        TOTALS.kills.fetch_add(1, Ordering::Relaxed);
                        let at = usize::from(after) % planned_writes + 1;
                        let done = if processed { "done" } else { "not done" };
                        self.log.push(format!("apply killed at its write {at} ({done} by Okta)"));
                    }
                }
            }
            Trouble::TwoAppliers => {
                let second = Journal::open(&self.journal_path).map_err(|e| e.to_string())?;
                let waiting = ApplyOptions { wait_for_lease: Some(bound(planned)), ..options.clone() };
                let (one, two) = futures_util::future::join(
                    self.apply_bounded(planned, &self.journal, options),
                    self.apply_bounded(planned, &second, waiting),
                )
                .await;
                self.concurrent_reports(planned, [("first of two appliers", one), ("second of two appliers", two)])?;
            }
            Trouble::Takeover if writes => {
                self.sim.script_fault("*", "/api/v1/", ScriptedFault::DelayMs(1_500));
                let second = Journal::open(&self.journal_path).map_err(|e| e.to_string())?;
                let path = self.journal_path.clone();
                let run_id = planned.run_id.clone();
                let (one, two) =
                    futures_util::future::join(self.apply_bounded(planned, &self.journal, options.clone()), async {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        expire_lease(&path, &run_id);
                        self.apply_bounded(planned, &second, options.clone()).await
                    })
                    .await;
                self.sim.clear_scripted_faults();
                self.concurrent_reports(planned, [("stalled applier", one), ("successor applier", two)])?;
            }
            Trouble::Takeover => {
                let report = self.apply_checked(planned, "apply (nothing to take over)", options).await?;
                self.succeeded_is_true(planned, &report)?;
            }
            Trouble::Throttled { count } => {
                for _ in 0..count {
                    self.sim.script_fault("*", "/api/v1/", ScriptedFault::Status(429));
                }
                let report = self.apply_bounded(planned, &self.journal, options).await;
                self.sim.clear_scripted_faults();
                let report = report?;
                self.log.push(format!("apply with {count} 429s:\n{}", report.render()));
                self.succeeded_is_true(planned, &report)?;
            }
        }
        Ok(())
    }

    /// The reports of two appliers of one plan: each true in Okta, or a refusal because the
    /// other one had the run (that is its answer).
    fn concurrent_reports(&mut self, planned: &Plan, reports: [(&str, Result<Report, String>); 2]) -> Checked {
        for (name, report) in reports {
            match report {
                Ok(report) => {
                    self.log.push(format!("{name}:\n{}", report.render()));
                    self.succeeded_is_true(planned, &report)?;
                }
                Err(error) if error.contains("in progress") || error.contains("another applier") => {
                    self.log.push(format!("{name}: {error}"));
                }
                Err(error) => return fail(format!("{name}: {error}")),
            }
        }
        Ok(())
    }

    /// (d): what a report says succeeded is true in Okta.
    fn succeeded_is_true(&self, planned: &Plan, report: &Report) -> Checked {
        for outcome in report.outcomes.iter().filter(|o| o.status == ChangeStatus::Succeeded) {
            let Some(change) = planned.changes.iter().find(|c| c.seq == outcome.seq) else {
                return fail(format!("(d) the report names change {} that the plan lacks", outcome.seq));
            };
            if let Err(problem) = self.holds(&change.operation) {
                return fail(format!(
                    "(d) change {} ({}) is reported as succeeded but {problem}\n{}",
                    change.seq,
                    change.operation.name(),
                    report.render()
                ));
            }
        }
        Ok(())
    }

    fn user(&self, user: &okta_lifecycle::lifecycle::plan::UserRef) -> Result<Value, String> {
        let key = user.id.as_deref().unwrap_or(&user.login);
        self.sim.user_json(key).ok_or_else(|| format!("user {key} does not exist"))
    }

    fn group(&self, group: &okta_lifecycle::lifecycle::plan::GroupRef) -> Result<String, String> {
        group
            .id
            .clone()
            .or_else(|| self.sim.group_id(&group.name))
            .ok_or_else(|| format!("group {} does not exist", group.name))
    }

    fn holds(&self, operation: &Operation) -> Checked {
        let status_of = |user: &Value| user["status"].as_str().unwrap_or_default().to_owned();
        let id_of = |user: &Value| user["id"].as_str().unwrap_or_default().to_owned();
        match operation {
            Operation::CreateGroup { name, .. } => {
                self.sim.group_id(name).map(|_| ()).ok_or("the group does not exist".into())
            }
            Operation::CreateUser { login, .. } => {
                self.sim.user_json(login).map(|_| ()).ok_or("the user does not exist".into())
            }
            Operation::UpdateUser { user, changes } => {
                let user = self.user(user)?;
                for change in changes {
                    let now = &user["profile"][&change.attribute];
                    let expected = &change.after;
                    let same = now == expected || (expected.is_null() && now.is_null());
                    if !same {
                        return fail(format!("{} is {now}, not {expected}", change.attribute));
                    }
                }
                Ok(())
            }
            Operation::AddMember { user, group } => {
                let (user, group) = (id_of(&self.user(user)?), self.group(group)?);
                if self.sim.group_members(&group).contains(&user) {
                    Ok(())
                } else {
                    fail(format!("{user} is not in {group}"))
                }
            }
            // A user deleted meanwhile (by hand) is in no group and holds no role or session:
            // taking access away from it holds.
            Operation::RemoveMember { user, .. }
            | Operation::UnassignRole { user, .. }
            | Operation::ClearSessions { user, .. }
                if self.user(user).is_err() =>
            {
                Ok(())
            }
            Operation::RemoveMember { user, group } => {
                let (user, group) = (id_of(&self.user(user)?), self.group(group)?);
                if self.sim.group_members(&group).contains(&user) {
                    fail(format!("{user} is still in {group}"))
                } else {
                    Ok(())
                }
            }
            Operation::SnapshotUser { .. } => Ok(()),
            Operation::DeactivateUser { user } => match status_of(&self.user(user)?).as_str() {
                "DEPROVISIONED" => Ok(()),
                other => fail(format!("the user is {other}")),
            },
            Operation::SuspendUser { user } => match status_of(&self.user(user)?).as_str() {
                "SUSPENDED" => Ok(()),
                other => fail(format!("the user is {other}")),
            },
            Operation::ActivateUser { user, .. } | Operation::UnsuspendUser { user } => {
                match status_of(&self.user(user)?).as_str() {
                    "SUSPENDED" | "DEPROVISIONED" => fail(format!("the user is {}", status_of(&self.user(user)?))),
                    _ => Ok(()),
                }
            }
            Operation::ClearSessions { user, .. } => match self.sim.sessions(&id_of(&self.user(user)?)) {
                0 => Ok(()),
                n => fail(format!("the user has {n} sessions")),
            },
            Operation::UnassignRole { user, role } => {
                let roles = self.sim.role_assignments(&id_of(&self.user(user)?));
                if roles.contains(&role.role_type) {
                    fail(format!("the user still holds {}", role.role_type))
                } else {
                    Ok(())
                }
            }
            Operation::AssignRole { user, role_type } => {
                let roles = self.sim.role_assignments(&id_of(&self.user(user)?));
                if roles.contains(role_type) {
                    Ok(())
                } else {
                    fail(format!("the user does not hold {role_type}"))
                }
            }
            Operation::ResetPassword { user, .. } => {
                let id = id_of(&self.user(user)?);
                match self.sim.counters().reset_password.get(&id) {
                    Some(n) if *n > 0 => Ok(()),
                    _ => fail("Okta never received the reset".into()),
                }
            }
        }
    }

    /// (a), (b) and (c), from the simulator's state, after a run without trouble.
    async fn invariants(&self, last: &Plan) -> Checked {
        let named = |index: u8| {
            let key = format!("H{index}");
            last.issues.iter().find(|issue| issue.identity.as_deref() == Some(key.as_str())).map(|i| i.message.clone())
        };
        let counters = self.sim.counters();
        let created = self
            .sim
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/api/v1/users" && r.status == 200)
            .count();
        if created > self.creates_planned {
            return fail(format!("(c) {created} users created, {} planned", self.creates_planned));
        }
        for (index, person) in &self.people {
            let accounts = self.accounts(*index);
            // (c) resets: never more than asked, counted over every account the person had.
            let resets: u64 = accounts
                .iter()
                .filter_map(|a| a["id"].as_str())
                .map(|id| counters.reset_password.get(id).copied().unwrap_or(0))
                .sum();
            if resets > person.resets_asked {
                return fail(format!("(c) person {index} got {resets} resets; HR asked for {}", person.resets_asked));
            }
            // The only issues a run without trouble may raise: a leaver with no account (deleted
            // by hand, or gone before it was ever created), and, in suspend mode, a leaver Okta
            // will not suspend (who still loses every access, and is deactivated instead when
            // the policy says so).
            let issue = named(*index);
            let refused = |message: &str| self.suspend_leavers && message.contains("which Okta does not suspend");
            match (&person.employment, accounts.as_slice(), &issue) {
                (Employment::Left, [], None) => {
                    return fail(format!("(a) leaver {index} has no account and is not named as an issue"));
                }
                (Employment::Left, [], Some(_)) => continue,
                (Employment::Left, [_], Some(message)) if refused(message) => {}
                (_, _, Some(message)) => {
                    return fail(format!("person {index} ({:?}) is named as an issue: {message}", person.employment));
                }
                _ => {}
            }
            match person.employment {
                Employment::Left => {
                    // (a) a leaver has no access.
                    for account in &accounts {
                        let id = account["id"].as_str().unwrap_or_default();
                        let status = account["status"].as_str().unwrap_or_default();
                        let kept = issue.is_some() && !self.deactivate_when_refused;
                        if !matches!(status, "SUSPENDED" | "DEPROVISIONED") && !kept {
                            return fail(format!("(a) leaver {index} ({id}) is {status}, with no issue"));
                        }
                        let groups: Vec<_> =
                            self.sim.user_groups(id).into_iter().filter(|(_, kind)| kind == "OKTA_GROUP").collect();
                        if !groups.is_empty() {
                            return fail(format!("(a) leaver {index} ({id}) is still in {groups:?}"));
                        }
                        let roles = self.sim.role_assignments(id);
                        if !roles.is_empty() {
                            return fail(format!("(a) leaver {index} ({id}) still holds {roles:?}"));
                        }
                        if self.sim.sessions(id) > 0 {
                            return fail(format!("(a) leaver {index} ({id}) still has sessions"));
                        }
                    }
                }
                Employment::Employed => {
                    // (b) an employee exists once, as HR says.
                    let [account] = accounts.as_slice() else {
                        return fail(format!("(b) employee {index} has {} accounts, with no issue", accounts.len()));
                    };
                    if person.reset_today {
                        continue;
                    }
                    let id = account["id"].as_str().unwrap_or_default();
                    let status = account["status"].as_str().unwrap_or_default();
                    if status == "DEPROVISIONED" {
                        return fail(format!("(b) employee {index} ({id}) is DEPROVISIONED, with no issue"));
                    }
                    let profile = &account["profile"];
                    let expected = [
                        ("login", json!(Person::email(*index))),
                        ("email", json!(Person::email(*index))),
                        ("department", json!(DEPARTMENTS[usize::from(person.department)])),
                        ("title", json!(TITLES[usize::from(person.title)])),
                        ("empId", json!(Person::number(*index))),
                    ];
                    for (attribute, value) in expected {
                        if profile[attribute] != value {
                            return fail(format!(
                                "(b) employee {index} ({id}) has {attribute} {}, not {value}",
                                profile[attribute]
                            ));
                        }
                    }
                    let groups: BTreeSet<String> = self
                        .sim
                        .user_groups(id)
                        .into_iter()
                        .filter(|(name, kind)| kind == "OKTA_GROUP" && (name.starts_with("dept-") || name == "staff"))
                        .map(|(name, _)| name)
                        .collect();
                    let wanted: BTreeSet<String> =
                        [format!("dept-{}", DEPARTMENTS[usize::from(person.department)]), "staff".to_owned()].into();
                    if groups != wanted {
                        return fail(format!("(b) employee {index} ({id}) is in {groups:?}, not {wanted:?}"));
                    }
                    if !person.rehired_today {
                        let holds = self.sim.role_assignments(id).iter().any(|role| role == MANAGED_ROLE);
                        if holds != person.admin {
                            return fail(format!(
                                "(b) employee {index} ({id}) {} {MANAGED_ROLE}; HR says admin = {}",
                                if holds { "holds" } else { "lacks" },
                                person.admin
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// How long an apply of `planned` may take: every change's requests, each retried within the
/// client's limits, with room for a slow machine.
fn bound(planned: &Plan) -> Duration {
    Duration::from_secs(30) + Duration::from_secs(4) * planned.changes.len() as u32
}

/// Makes a run's lease look lapsed, as a stalled applier's does to its successor.
fn expire_lease(journal: &Path, run_id: &str) {
    let raw = rusqlite::Connection::open(journal).unwrap();
    raw.busy_timeout(Duration::from_secs(5)).unwrap();
    raw.execute("UPDATE runs SET lease_expires_ms = 0, lease_expires_uptime_ms = 0 WHERE run_id = ?1", [run_id])
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// The test

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// What the explorer has covered so far.
fn totals_line(explored: u64) -> String {
    let totals = &TOTALS;
    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    let progress = if explored > 0 { format!("progress at {explored}: ") } else { String::new() };
    format!(
        "{progress}{} scenarios run (shrinking included), {} days, {} changes planned, {} applies, {} kills, {} requests, {} faulted or throttled",
        load(&totals.scenarios),
        load(&totals.days),
        load(&totals.changes),
        load(&totals.applies),
        load(&totals.kills),
        load(&totals.requests),
        load(&totals.faulted),
    )
}

fn run_one(runtime: &tokio::runtime::Runtime, scenario: &Scenario) -> Result<(), TestCaseError> {
    runtime.block_on(explore(scenario)).map_err(TestCaseError::fail)
}

/// Every scenario the explorer once failed on, shrunk, kept in `explorer_regressions/` and
/// replayed as it was found.
#[test]
fn the_scenarios_the_explorer_failed_on_keep_every_invariant() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/explorer_regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder).unwrap().map(|entry| entry.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 3, "the kept scenarios are in {}", folder.display());
    for file in files {
        let scenario: Scenario = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        if let Err(error) = run_one(&runtime, &scenario) {
            panic!("{}: {error}", file.display());
        }
    }
}

#[test]
fn random_hr_timelines_faults_and_changes_by_hand_keep_every_invariant() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    if let Ok(path) = std::env::var("EXPLORER_REPLAY") {
        let text = std::fs::read_to_string(&path).expect("EXPLORER_REPLAY names a scenario file");
        let scenario: Scenario = serde_json::from_str(&text).expect("a scenario written by the explorer");
        if let Err(error) = run_one(&runtime, &scenario) {
            panic!("the scenario in {path} fails: {error}");
        }
        return;
    }
    let seed = env_number("EXPLORER_SEED").unwrap_or(19);
    let cases = env_number("EXPLORER_CASES").unwrap_or(60) as u32;
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: env_number("EXPLORER_SHRINK").unwrap_or(200) as u32,
        max_global_rejects: 0,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes));
    let started = Instant::now();
    let result = runner.run(&scenario(), |scenario| run_one(&runtime, &scenario));
    println!(
        "explorer seed {seed}: {cases} scenarios asked, {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        totals_line(0)
    );
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, scenario)) => {
            let file = std::env::temp_dir().join(format!("okta-lifecycle-explorer-failure-{seed}.json"));
            let _ = std::fs::write(&file, serde_json::to_string_pretty(&scenario).unwrap());
            panic!(
                "explorer seed {seed}: an invariant failed.\nShrunk scenario: {scenario:#?}\n{reason}\nReplay it alone: EXPLORER_REPLAY={} cargo test --all-features --test integration lifecycle_explorer -- --nocapture",
                file.display()
            );
        }
        Err(TestError::Abort(reason)) => panic!("explorer seed {seed}: aborted: {reason}"),
    }
}
