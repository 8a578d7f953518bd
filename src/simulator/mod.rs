//! An offline Okta org served over loopback: the simulator.
//!
//! [`Simulator::start`] binds `127.0.0.1` on a free port and serves Okta's Users, Groups,
//! user-lifecycle and session endpoints, the user profile schema and user types
//! (`/api/v1/meta/schemas/user/…`, `/api/v1/meta/types/user…`) and admin role assignments with
//! their targets (`/api/v1/{users|groups}/{id}/roles…`) and the System Log (`/api/v1/logs`, an
//! event for every change made through the API; see `logs`) with Okta's status codes, error codes,
//! JSON shapes, `Link` pagination, `ETag`s and rate-limit headers, plus knobs for what a real org
//! does to a client on a bad day: rate limits per bucket, a concurrency limit, latency, 5xx
//! answers and dropped connections (random with a seed, or scripted per request).
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use okta_lifecycle::simulator::{Simulator, SimulatorConfig};
//! let simulator = Simulator::start(SimulatorConfig { seed_users: 10, ..Default::default() }).await?;
//! let url = simulator.url();           // http://127.0.0.1:PORT
//! let token = simulator.api_token();   // send `Authorization: SSWS <token>`
//! # let _ = (url, token);
//! simulator.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Behaviour chosen where Okta's is not documented:
//! * Deactivating a `DEPROVISIONED` user answers `404 E0000007`, as reported against Okta in
//!   okta/okta-sdk-java#721.
//! * Deactivation also ends the user's sessions and OAuth tokens; group memberships and admin
//!   role assignments are kept (deleting the user removes its role assignments; deleting a group
//!   removes the group's assignments and the group from every role's targets).
//! * Profiles are validated against the org's schema on create and update (types, lengths,
//!   formats, enumerations, required and unique properties); every user type shares the
//!   default type's definitions (see `routes_meta`). Users carry the org's `realmId`.
//! * Membership changes, replacing or deleting a group that Okta does not let the API modify
//!   (`APP_GROUP` memberships and profile, anything on `BUILT_IN`) answer `403 E0000006`.
//! * `filter` accepts `eq` on its attributes and `gt/ge/lt/le` only on `lastUpdated`
//!   (`lastMembershipUpdated` too for groups); `search` accepts every operator except `ne`.
//! * A sorted `search` (`sortBy`) pages by position; every other listing pages by id, so pages
//!   stay stable while users are created.
//! * Users' ids sort in creation order, so unsorted listings come back oldest first.
//! * The state file (if configured) is loaded at start, written at most once a second while the
//!   org changes, and written again on [`Simulator::shutdown`] and on drop.
//! * Faults (scripted or random) apply to every request, before authentication; a request whose
//!   connection is dropped before processing is logged with status 0.
//!
//! Fidelity to real Okta is checked by `tests/integration/simulator_replay.rs`, which replays the HTTP
//! interactions Okta's Python SDK recorded against real orgs (doubled slashes in paths, as in
//! `//api/v1/users`, are served like single ones because Okta does).

mod auth;
mod errors;
mod events;
mod faults;
mod ids;
mod listing;
mod locks;
mod logs;
mod oauth;
mod ratelimit;
mod responses;
mod role_assignments;
mod roles;
mod router;
mod routes_groups;
mod routes_meta;
mod routes_oauth;
mod routes_users;
mod schema;
mod shared;
mod state;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use tokio::sync::watch;

pub use events::{ADMIN_DISPLAY_NAME, ADMIN_LOGIN};
pub use faults::{Faults, ScriptedFault};
pub use oauth::OAuthApp;
pub use ratelimit::{
    bucket_for, GET_USER_BUCKET, GROUPS_BUCKET, GROUP_BUCKET, LOGS_BUCKET, OTHER_API_BUCKET, USERS_BUCKET,
    WRITE_USER_BUCKET,
};

use auth::Credentials;
use faults::{ConnectionHandle, FaultEngine, SimulatorListener};
use locks::lock;
use ratelimit::RateLimiter;
pub use shared::RequestRecord;
use shared::{nanos, CounterCells, Shared};
use state::{GroupType, Org, UserLinks};

/// How a [`Simulator`] behaves.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// Users created up front: `ACTIVE`, with a password, login and email
    /// `user{n}@example.com`, first name `User`, last name `{n}` (n from 1).
    pub seed_users: usize,
    /// Per-minute request limits per bucket; `None` means unlimited.
    pub rate_limits: Option<RateLimits>,
    /// The length of a rate-limit window: Okta's is one minute; tests shorten it.
    pub rate_limit_window: Duration,
    /// Simultaneous in-flight requests allowed; the next one gets a concurrency 429.
    pub concurrency_limit: Option<usize>,
    /// Latency added to every request, in milliseconds.
    pub latency_ms: u64,
    /// Uniform random extra latency, `0..=latency_jitter_ms` milliseconds.
    pub latency_jitter_ms: u64,
    /// Random faults.
    pub faults: Faults,
    /// Profile attributes allowed beyond Okta's base user schema: each name that is not a base
    /// property becomes a custom string property of the profile schema (more can be defined
    /// through `POST /api/v1/meta/schemas/user/default`).
    pub custom_attributes: Vec<String>,
    /// The SSWS API token; `None` generates a random one.
    pub api_token: Option<String>,
    /// JSON file holding the org: loaded at start when present, saved while running (at most
    /// once a second after a change) and on shutdown.
    pub state_file: Option<PathBuf>,
    /// How long after its `published` time a System Log event becomes visible to
    /// `GET /api/v1/logs` (Okta's log is near real time, not immediate), so that code reading the
    /// log right after a change is caught. [`Simulator::log_events`] sees every event at once.
    pub log_delay: Duration,
    /// How far Okta's search index trails writes: `search` and `filter` on
    /// `GET /api/v1/users` answer from the users as they were this long ago (Okta: "typically
    /// less than one second"), so that code reading its own writes through a search is caught.
    /// Zero (the default) answers from the current users.
    pub search_delay: Duration,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            seed_users: 0,
            rate_limits: None,
            rate_limit_window: Duration::from_secs(60),
            concurrency_limit: None,
            latency_ms: 0,
            latency_jitter_ms: 0,
            faults: Faults::default(),
            custom_attributes: [
                "employeeNumber",
                "department",
                "title",
                "manager",
                "costCenter",
                "division",
                "organization",
                "mobilePhone",
                "secondEmail",
                "city",
                "countryCode",
                "startDate",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            api_token: None,
            state_file: None,
            log_delay: Duration::from_millis(300),
            search_delay: Duration::ZERO,
        }
    }
}

/// Per-minute request limits keyed by bucket name (see [`bucket_for`] and the `*_BUCKET`
/// constants). A bucket missing from the map is unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimits {
    /// Requests per minute, per bucket.
    pub per_minute: BTreeMap<String, u32>,
}

impl RateLimits {
    /// The last published Okta Workforce table: `/api/v1/users` 600, `POST|PUT|DELETE
    /// /api/v1/users/{id}` 600, `GET /api/v1/users/{idOrLogin}` 2000, `/api/v1/groups` 500,
    /// `/api/v1/groups/{id}` 1000, `/api/v1/logs` 120, other `/api/v1` 1200.
    pub fn okta_defaults() -> RateLimits {
        let per_minute = [
            (USERS_BUCKET, 600),
            (WRITE_USER_BUCKET, 600),
            (GET_USER_BUCKET, 2000),
            (GROUPS_BUCKET, 500),
            (GROUP_BUCKET, 1000),
            (LOGS_BUCKET, 120),
            (OTHER_API_BUCKET, 1200),
        ]
        .into_iter()
        .map(|(bucket, limit)| (bucket.to_owned(), limit))
        .collect();
        RateLimits { per_minute }
    }

    /// Okta's defaults multiplied by `factor` (each at least 1).
    pub fn scaled(factor: f64) -> RateLimits {
        let mut limits = RateLimits::okta_defaults();
        for limit in limits.per_minute.values_mut() {
            *limit = ((*limit as f64) * factor).round().max(1.0) as u32;
        }
        limits
    }
}

/// Counters since start or the last [`Simulator::reset`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests received.
    pub requests: u64,
    /// 429s because a bucket's per-minute limit was exhausted.
    pub rate_limited: u64,
    /// 429s because too many requests were in flight.
    pub concurrency_limited: u64,
    /// Responses per status (dropped connections under 0).
    pub by_status: BTreeMap<u16, u64>,
    /// Password-reset events per user id.
    pub reset_password: BTreeMap<String, u64>,
    /// Most requests in flight at once.
    pub max_in_flight: usize,
}

/// Creates the configured seed users in a fresh org, one a minute up to now (oldest first), as
/// an org's users come over the years rather than all in the same millisecond.
fn seed_org(org: &mut Org, seed_users: usize) {
    let start = chrono::Utc::now();
    for number in 1..=seed_users {
        let minutes_ago =
            chrono::TimeDelta::try_minutes(i64::try_from(seed_users - number).unwrap_or(i64::MAX)).unwrap_or_default();
        let created = start.checked_sub_signed(minutes_ago).unwrap_or(start);
        let now = created.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        let login = format!("user{number}@example.com");
        let mut profile = serde_json::Map::new();
        profile.insert("firstName".into(), Value::String("User".into()));
        profile.insert("lastName".into(), Value::String(number.to_string()));
        profile.insert("mobilePhone".into(), Value::Null);
        profile.insert("secondEmail".into(), Value::Null);
        profile.insert("login".into(), Value::String(login.clone()));
        profile.insert("email".into(), Value::String(login));
        let type_id = org.user_type_id.clone();
        routes_users::insert_user(org, profile, state::UserStatus::Active, true, "OKTA", &type_id, &now);
    }
}

/// A running simulated Okta org. Dropping it (or [`Simulator::shutdown`]) stops the server.
pub struct Simulator {
    shared: Arc<Shared>,
    address: SocketAddr,
    api_token: String,
    stop: watch::Sender<bool>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Simulator").field("address", &self.address).finish_non_exhaustive()
    }
}

impl Simulator {
    /// Starts a simulator on `127.0.0.1` with a free port.
    pub async fn start(config: SimulatorConfig) -> std::io::Result<Simulator> {
        Simulator::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Starts a simulator on `address` (port 0 picks a free port). Must be called inside a
    /// tokio runtime, which then runs the server.
    pub async fn start_on(address: SocketAddr, config: SimulatorConfig) -> std::io::Result<Simulator> {
        let listener = tokio::net::TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        let base_url = format!("http://{address}");
        let seed = config.faults.seed ^ 0x5eed_0f0c_7a00_0001;
        let org = match &config.state_file {
            Some(path) if path.exists() => {
                let bytes = std::fs::read(path)?;
                Org::from_json(&bytes, seed, &config.custom_attributes)
                    .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error))?
            }
            _ => {
                let mut org = Org::new(seed, &config.custom_attributes);
                seed_org(&mut org, config.seed_users);
                org
            }
        };
        let mut org = org;
        org.set_search_delay(config.search_delay);
        let api_token = config.api_token.clone().unwrap_or_else(|| format!("00{}", ids::random_token(40)));
        let mut credentials = Credentials::default();
        credentials.api_tokens.insert(api_token.clone(), None);
        let shared = Arc::new(Shared {
            base_url,
            org: RwLock::new(org),
            custom_attributes: config.custom_attributes.clone(),
            seed_users: config.seed_users,
            credentials: RwLock::new(credentials),
            limiter: RateLimiter::new(
                config.rate_limits.as_ref().map(|limits| &limits.per_minute),
                config.rate_limit_window,
            ),
            concurrency_limit: config.concurrency_limit,
            faults: FaultEngine::new(config.faults.clone(), config.latency_ms, config.latency_jitter_ms),
            log: Mutex::new(Vec::new()),
            counters: CounterCells::new(),
            in_flight: AtomicUsize::new(0),
            dirty: AtomicBool::new(config.state_file.is_some()),
            state_file: config.state_file.clone(),
            oauth: oauth::OAuthServer::default(),
            log_delay_nanos: AtomicU64::new(nanos(config.log_delay)),
            written_nanos: AtomicU64::new(0),
            started: std::time::Instant::now(),
        });
        let (stop, stopped) = watch::channel(false);
        let app = router::router(shared.clone()).into_make_service_with_connect_info::<ConnectionHandle>();
        let mut server_stopped = stopped.clone();
        let server = axum::serve(SimulatorListener { inner: listener }, app).with_graceful_shutdown(async move {
            let _ = server_stopped.wait_for(|stop| *stop).await;
        });
        let server = tokio::spawn(async move {
            if let Err(error) = server.await {
                tracing::warn!("simulator: server stopped: {error}");
            }
        });
        if shared.state_file.is_some() {
            let saver = Arc::downgrade(&shared);
            let mut saver_stopped = stopped;
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = saver_stopped.wait_for(|stop| *stop) => return,
                    }
                    let Some(shared) = saver.upgrade() else { return };
                    let _ = tokio::task::spawn_blocking(move || shared.save_if_dirty()).await;
                }
            });
        }
        Ok(Simulator { shared, address, api_token, stop, server: Some(server) })
    }

    /// The org's base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The socket address the server listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The SSWS API token with every scope.
    pub fn api_token(&self) -> &str {
        &self.api_token
    }

    /// Stops accepting connections, lets in-flight requests finish (up to 5 seconds) and saves
    /// the state file.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
        }
        let shared = self.shared.clone();
        let _ = tokio::task::spawn_blocking(move || shared.save_if_dirty()).await;
    }

    /// Every System Log event since start (or the last [`Simulator::reset`]), oldest first, as
    /// `GET /api/v1/logs` returns them, whether or not [`SimulatorConfig::log_delay`] has passed.
    pub fn log_events(&self) -> Vec<Value> {
        self.shared.read_org().log.all()
    }

    /// Changes [`SimulatorConfig::log_delay`] from now on (it applies to events already logged
    /// too: visibility is decided when the log is read).
    pub fn set_log_delay(&self, delay: Duration) {
        self.shared.log_delay_nanos.store(nanos(delay), Ordering::Relaxed);
    }

    /// Every request since start or the last [`Simulator::clear_requests`], oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.log).clone()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    /// The request counters.
    pub fn counters(&self) -> Counters {
        let cells = &self.shared.counters;
        let by_status = cells
            .by_status
            .iter()
            .enumerate()
            .filter_map(|(status, cell)| {
                let count = cell.load(Ordering::Relaxed);
                (count > 0).then_some((status as u16, count))
            })
            .collect();
        Counters {
            requests: cells.requests.load(Ordering::Relaxed),
            rate_limited: cells.rate_limited.load(Ordering::Relaxed),
            concurrency_limited: cells.concurrency_limited.load(Ordering::Relaxed),
            by_status,
            reset_password: lock(&cells.reset_password).iter().map(|(user, count)| (user.clone(), *count)).collect(),
            max_in_flight: cells.max_in_flight.load(Ordering::Relaxed),
        }
    }

    /// Empties the org (then seeds it again as configured), the System Log, the request log, the
    /// counters, the rate-limit windows and the scripted faults. Tokens stay valid.
    pub fn reset(&self) {
        let seed = fastrand::u64(..);
        let mut fresh = Org::new(seed, &self.shared.custom_attributes);
        seed_org(&mut fresh, self.shared.seed_users);
        let mut org = self.shared.write_org();
        fresh.set_search_delay(org.search_delay);
        *org = fresh;
        drop(org);
        self.clear_requests();
        self.shared.counters.clear();
        self.shared.limiter.clear();
        self.shared.faults.clear_scripted();
    }

    /// Gives the next request whose method matches `method` (`"*"` or `""` for any) and whose
    /// path starts with `path_prefix` the `fault`; scripted faults are used first-in first-out.
    pub fn script_fault(&self, method: &str, path_prefix: &str, fault: ScriptedFault) {
        self.shared.faults.script(method, path_prefix, fault);
    }

    /// Replaces the random faults from now on (their generator restarts from `faults.seed`);
    /// `Faults::default()` turns them off. Scripted faults are kept.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.faults.set(faults);
    }

    /// Every user, in any status, as `GET /api/v1/users/{id}` would return it, in id order.
    pub fn users(&self) -> Vec<Value> {
        let org = self.shared.read_org();
        org.users
            .values()
            .filter_map(|user| {
                serde_json::to_value(state::user_view(user, &self.shared.base_url, UserLinks::Full)).ok()
            })
            .collect()
    }

    /// The groups the user (by id) belongs to, other than `Everyone`, as `(name, type)` with
    /// Okta's type names (`OKTA_GROUP`, `APP_GROUP`, `BUILT_IN`); empty for an unknown user.
    pub fn user_groups(&self, user_id: &str) -> Vec<(String, String)> {
        let org = self.shared.read_org();
        let Some(user) = org.users.get(user_id) else { return Vec::new() };
        user.groups
            .iter()
            .filter_map(|id| org.groups.get(id))
            .map(|group| (group.name().to_owned(), group.kind.as_str().to_owned()))
            .collect()
    }

    /// The id of the group with this name (names are unique, compared ignoring case).
    pub fn group_id(&self, name: &str) -> Option<String> {
        self.shared.read_org().group_names.get(&name.to_lowercase()).cloned()
    }

    /// Holds a later write (any method but GET and HEAD): the one after `skip` more writes is
    /// processed first when `processed` (else not at all), and then left unanswered, as a client
    /// killed at that moment would leave it, until [`Simulator::release_hold`] (or two minutes).
    /// A test kills its client once [`Simulator::holding`] says the write has arrived.
    pub fn hold_write(&self, skip: usize, processed: bool) {
        self.shared.faults.hold_write(skip, processed);
    }

    /// Whether the write asked for by [`Simulator::hold_write`] has arrived (and been processed,
    /// if asked).
    pub fn holding(&self) -> bool {
        self.shared.faults.holding()
    }

    /// Ends a hold: a held request is answered (its connection closed), a hold not yet reached is
    /// forgotten.
    pub fn release_hold(&self) {
        self.shared.faults.release();
    }

    /// Forgets every scripted fault not yet used.
    pub fn clear_scripted_faults(&self) {
        self.shared.faults.clear_scripted();
    }

    fn with_user_mut(&self, user_id: &str, change: impl FnOnce(&mut state::User)) -> bool {
        let mut org = self.shared.write_org();
        match org.users.get_mut(user_id) {
            Some(user) => {
                change(user);
                user.refresh();
                true
            }
            None => false,
        }
    }

    /// Locks an ACTIVE user out, as too many failed sign-ins would (Okta offers no API call that
    /// does it); `false` if there is no such user or it is not ACTIVE.
    pub fn lock_out(&self, user_id: &str) -> bool {
        let mut locked = false;
        let found = self.with_user_mut(user_id, |user| {
            if user.status == state::UserStatus::Active {
                user.set_status(state::UserStatus::LockedOut, &state::now_timestamp());
                locked = true;
            }
        });
        found && locked
    }

    /// Follows the link Okta sent the user, as the user would: a PROVISIONED user (activation
    /// link), or a RECOVERY or PASSWORD_EXPIRED one (reset link), sets a password and becomes
    /// ACTIVE; `false` otherwise.
    pub fn follow_link(&self, user_id: &str) -> bool {
        let mut completed = false;
        let found = self.with_user_mut(user_id, |user| {
            if matches!(
                user.status,
                state::UserStatus::Provisioned | state::UserStatus::Recovery | state::UserStatus::PasswordExpired
            ) {
                let now = state::now_timestamp();
                if user.activated.is_none() {
                    user.activated = Some(now.clone());
                }
                user.set_status(state::UserStatus::Active, &now);
                user.has_password = true;
                user.password_changed = Some(now);
                completed = true;
            }
        });
        found && completed
    }

    /// Gives the user one more IdP session; `false` if there is no such user.
    pub fn create_session(&self, user_id: &str) -> bool {
        self.with_user_mut(user_id, |user| user.sessions += 1)
    }

    /// Gives the user one more OAuth token grant; `false` if there is no such user.
    pub fn create_oauth_token(&self, user_id: &str) -> bool {
        self.with_user_mut(user_id, |user| user.oauth_tokens += 1)
    }

    /// The user's IdP sessions (0 for an unknown user).
    pub fn sessions(&self, user_id: &str) -> usize {
        self.shared.read_org().users.get(user_id).map_or(0, |user| user.sessions)
    }

    /// The user's OAuth token grants (0 for an unknown user).
    pub fn oauth_tokens(&self, user_id: &str) -> usize {
        self.shared.read_org().users.get(user_id).map_or(0, |user| user.oauth_tokens)
    }

    /// The user (by id or login) as `GET /api/v1/users/{id}` would return it.
    pub fn user_json(&self, id_or_login: &str) -> Option<Value> {
        let org = self.shared.read_org();
        let id = org.resolve_user(id_or_login)?;
        let user = org.users.get(&id)?;
        serde_json::to_value(state::user_view(user, &self.shared.base_url, UserLinks::Full)).ok()
    }

    /// The role types `GET /api/v1/users/{id}/roles` (or `/api/v1/groups/{id}/roles`) lists for a
    /// user (by id or login) or a group, in Okta's order; empty for an unknown id. A user's list
    /// includes the roles of its groups.
    pub fn role_assignments(&self, user_or_group_id: &str) -> Vec<String> {
        roles::role_types(&self.shared.read_org(), user_or_group_id)
    }

    /// Ids of the group's members in id order (every user for `Everyone`); empty for an
    /// unknown group.
    pub fn group_members(&self, group_id: &str) -> Vec<String> {
        let org = self.shared.read_org();
        if group_id == org.everyone_id {
            return org.users.keys().cloned().collect();
        }
        org.groups.get(group_id).map(|group| group.members.iter().cloned().collect()).unwrap_or_default()
    }

    /// Creates an `APP_GROUP` (imported from an app, so not modifiable through the API) and
    /// returns its id; if a group with that name exists, returns the existing group's id.
    pub fn seed_app_group(&self, name: &str) -> String {
        let mut org = self.shared.write_org();
        if let Some(existing) = org.group_names.get(&name.to_lowercase()) {
            return existing.clone();
        }
        org.insert_group(GroupType::AppGroup, name, Value::Null)
    }

    /// Adds `count` `ACTIVE` users (logins `{prefix}{n}@example.com`) all created in the one
    /// millisecond `created` (`2024-01-01T00:00:00.000Z`), as a bulk import can leave them, and
    /// returns their ids. They are in the search index at once.
    pub fn import_users(&self, prefix: &str, count: usize, created: &str) -> Vec<String> {
        let mut org = self.shared.write_org();
        let delay = std::mem::take(&mut org.search_delay);
        let ids = (1..=count)
            .map(|number| {
                let login = format!("{prefix}{number}@example.com");
                let mut profile = serde_json::Map::new();
                profile.insert("firstName".into(), Value::String("Imported".into()));
                profile.insert("lastName".into(), Value::String(number.to_string()));
                profile.insert("login".into(), Value::String(login.clone()));
                profile.insert("email".into(), Value::String(login));
                let type_id = org.user_type_id.clone();
                let status = state::UserStatus::Active;
                routes_users::insert_user(&mut org, profile, status, true, "OKTA", &type_id, created)
            })
            .collect::<Vec<_>>();
        org.set_search_delay(delay);
        ids
    }

    /// Accepts another SSWS token; `Some(scopes)` restricts it to those scopes, `None` allows
    /// everything.
    pub fn add_api_token(&self, token: &str, scopes: Option<Vec<String>>) {
        self.shared.write_credentials().api_tokens.insert(token.to_owned(), scopes);
    }

    /// Accepts another SSWS token, with every scope, that acts as the org's user `user` (by id
    /// or login): an admin working by hand, as in the Admin Console. The System Log names that
    /// user as the actor of what the token changes. False (and no token) when there is no such
    /// user.
    pub fn add_admin_token(&self, token: &str, user: &str) -> bool {
        let Some(user_id) = self.shared.read_org().resolve_user(user) else { return false };
        let mut credentials = self.shared.write_credentials();
        credentials.api_tokens.insert(token.to_owned(), None);
        credentials.token_owners.insert(token.to_owned(), user_id);
        true
    }

    /// Accepts an OAuth 2.0 access token (`Authorization: Bearer` or, when `dpop_jkt` is set,
    /// `Authorization: DPoP` with a `DPoP` proof header) with these scopes until `expires_at`.
    pub fn register_access_token(
        &self,
        token: &str,
        scopes: Vec<String>,
        dpop_jkt: Option<String>,
        expires_at: SystemTime,
    ) {
        self.shared.register_token(token, scopes, dpop_jkt, expires_at, None);
    }

    /// Registers a service app for the OAuth 2.0 token endpoint (`POST /oauth2/v1/token`).
    pub fn register_oauth_app(&self, app: OAuthApp) {
        self.shared.oauth.register(app);
    }

    /// How long access tokens issued from now on live (Okta: one hour).
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.shared.oauth.set_token_lifetime(lifetime);
    }

    /// Token requests received by the token endpoint.
    pub fn token_requests(&self) -> u64 {
        self.shared.oauth.token_requests()
    }

    /// Revokes every OAuth access token issued so far (API tokens stay valid).
    pub fn revoke_access_tokens(&self) {
        self.shared.write_credentials().access_tokens.clear();
    }

    /// Hands out a new DPoP nonce at the token endpoint.
    pub fn rotate_dpop_nonce(&self) {
        self.shared.oauth.rotate_nonce();
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.shared.save_if_dirty();
    }
}
