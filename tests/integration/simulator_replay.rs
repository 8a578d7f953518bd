#![cfg(feature = "simulator")]
//! Replays every interaction Okta's Python SDK recorded against real Okta orgs (the vcrpy
//! cassettes in `okta-recordings/okta-sdk-python/`, listed in `INDEX.txt`) against the
//! simulator over real HTTP, and checks that the simulator answers like Okta did.
//!
//! The recordings are read from `$OKTA_RECORDINGS_DIR`, else from
//! `$CARGO_MANIFEST_DIR/../shared/okta-recordings`; the test fails if they are missing or if the
//! cassettes on disk differ from `INDEX.txt`.
//!
//! # Replay
//! * Each cassette runs against a fresh [`Simulator`] with Okta's published rate limits (so that
//!   the rate-limit headers Okta always sends are there), authenticated with its `SSWS` token.
//!   The recorded host is replaced by the simulator's URL; the recorded path (doubled slashes
//!   included) and query are kept.
//! * Recorded ids are mapped to the simulator's as they are learnt: from the `id` of a response
//!   object (a created resource, or an element of a list whose content is determined, compared by
//!   position) and from `rel="next"` cursors of `Link` headers. Every recorded id (`00` + 18
//!   characters, or a placeholder of [`PRE_EXISTING`]) in a request must be known by then,
//!   otherwise the interaction fails. Logins and e-mails are used as recorded.
//! * Objects the recordings use without creating them ([`PRE_EXISTING`]) are created first through
//!   the API from the recorded representation.
//! * The 2020 recordings have no request bodies: the body of a create or update of a user or a
//!   group is then rebuilt from the recorded answer (the profile's non-null attributes, and a
//!   password when the answer shows `credentials.password` on a create).
//! * An interaction is not replayed only when [`OUT_OF_SCOPE`] (endpoints the simulator does not
//!   serve) or [`NOT_REPLAYED`] (single interactions whose outcome depends on an out-of-scope step,
//!   or that are not Okta's) lists it; the test prints what it skipped, by reason, and fails on
//!   any interaction that is neither replayed nor listed, and on table entries that match nothing.
//!
//! # Comparison
//! * Status codes are equal. Exception: `POST …/lifecycle/deactivate`, for which Okta answered
//!   both `204` with no body and `200 {}` (in the same org on the same day); the simulator's
//!   `200 {}` is accepted for a recorded `204`.
//! * Headers: `Date`, `X-Okta-Request-Id`, the three `X-Rate-Limit-*` headers and `ETag` must be
//!   present when the recording has them; `Content-Type` must be `application/json` when the
//!   recording has a JSON body and absent when it has none; a recorded `Link rel="self"` must be
//!   there, and a `rel="next"` link must be present in both or in neither (for org-wide listings,
//!   see below, only a simulator `next` without a recorded one is a mismatch).
//! * Bodies are compared by structure, recursively:
//!   * objects have the same set of keys, and each value the same JSON type;
//!   * a recorded `null` accepts any value; a simulator `null` for a recorded non-null value is
//!     accepted only for data-dependent fields ([`DATA_DEPENDENT_NULLS`]: `lastLogin`,
//!     `activated`);
//!   * values of enumerations must be equal ([`EQUAL_VALUES`]: `status`, `type`, `errorCode`,
//!     `objectClass`), and so must every string under a `profile` (profiles come from the
//!     replayed requests) and, in error answers, `errorSummary` and the causes' summaries (with
//!     recorded ids mapped);
//!   * arrays have equal lengths and are compared element by element (error causes, `objectClass`,
//!     logos, e-mails, group members, a user's groups);
//!   * org-wide listings (`GET /api/v1/users`, `GET /api/v1/groups`, any query) reflect objects the
//!     recorded orgs held before the recording: every recorded element whose id is mapped must be
//!     in the simulator's answer (and is compared with it), the simulator must not list an object
//!     of the replay that Okta did not list, and every other simulator element must match some
//!     unmapped recorded element (preferably the one with the same name or login, whose id is then
//!     learnt, e.g. `Everyone`). When the recorded page has a `next` link (a full page), lengths
//!     must be equal instead of the two membership rules.
//! * Org-dependent differences, accepted narrowly ([`allowed_extra`], [`allowed_missing`]):
//!   * orgs recorded before 2022 ran Okta's Classic Engine: users there lack `_links.resetFactors`
//!     (no factor enrolled) and `_links.forgotPassword` (no recovery question), which current
//!     (Identity Engine) orgs, and the simulator, always give active users;
//!   * current orgs give users a `realmId` (spec `User.realmId`), as the simulator does; orgs
//!     recorded without Realms lack it. An org with Realms also omits `credentials.emails`,
//!     which the simulator keeps.
//! * Target groups of an admin role are listed in group-id order (recorded); the ids of the
//!   replay are the simulator's, so recorded target listings are compared in the order of the
//!   simulator ids their groups map to.
//! * The 2020 recordings have no request bodies for role assignments and user types either: the
//!   body of `POST …/roles` is rebuilt from the recorded answer (`{"type": …}`), that of a user
//!   type's create, update or replace from the answer's `name`, `displayName`, `description`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use okta_lifecycle::simulator::{RateLimits, Simulator, SimulatorConfig};
use serde_json::{json, Map, Value};

/// Endpoints the simulator does not serve: `(method or "*", path pattern, reason)`. In a
/// pattern `*` is one path segment and a final `**` one or more.
const OUT_OF_SCOPE: &[(&str, &str, &str)] = &[
    ("*", "/api/v1/apps", "Applications API (apps) is not simulated"),
    ("*", "/api/v1/apps/**", "Applications API (apps) is not simulated"),
    ("GET", "/api/v1/groups/*/apps", "a group's application assignments are not simulated"),
    ("*", "/api/v1/groups/rules", "group rules are not simulated"),
    ("*", "/api/v1/groups/rules/**", "group rules are not simulated"),
    ("*", "/api/v1/users/*/grants", "OAuth 2.0 consent grants are not simulated"),
    ("GET", "/api/v1/users/*/clients", "a user's OAuth 2.0 clients are not simulated"),
    ("GET", "/api/v1/users/*/appLinks", "app links (Applications API) are not simulated"),
    ("GET", "/api/v1/users/*/blocks", "user blocks are not simulated"),
    ("GET", "/api/v1/users/*/idps", "identity providers are not simulated"),
    (
        "POST",
        "/api/v1/users/*/credentials/**",
        "credential operations (change/forgot password, recovery question) are not simulated",
    ),
];

/// Single interactions not replayed: `(cassette, interaction index, reason)`.
const NOT_REPLAYED: &[(&str, usize, &str)] = &[
    (
        "TestGroupsResource.test_group_rule_operations",
        4,
        "lists the member that the out-of-scope group rule (interactions 2-3) added",
    ),
    (
        "TestUsersResource.test_change_recovery_question",
        3,
        "shows the recovery question set by the out-of-scope change_recovery_question call \
         (credentials.recovery_question, _links.forgotPassword)",
    ),
    ("TestUsersResource.test_forgot_password", 0, "synthetic non-Okta 404 body {status, message} (SOURCE.txt caveat)"),
];

/// Ids the recordings use for objects created outside them: `(cassette, recorded id, how the
/// replay creates the object)`. Only groups occur.
const PRE_EXISTING: &[(&str, &str, &str)] = &[(
    "TestGroupsResource.test_group_profile_custom_attributes",
    "test_group_id",
    "an OKTA_GROUP created before the replay from the profile of the first recorded answer showing it",
)];

/// Fields whose `null`-ness depends on history the replay cannot reproduce.
const DATA_DEPENDENT_NULLS: &[&str] = &["lastLogin", "activated"];

/// Keys whose (string) values must be equal, not only of the same type.
const EQUAL_VALUES: &[&str] = &["status", "type", "errorCode", "objectClass"];

/// Org-wide listings, whose content includes what the recorded org held before.
const ORG_WIDE_LISTINGS: &[&str] = &["/api/v1/users", "/api/v1/groups"];

/// What is known about the org a cassette was recorded in.
#[derive(Debug, Clone, Copy, Default)]
struct OrgFacts {
    /// Recorded before 2022: a Classic Engine org.
    classic_engine: bool,
    /// Users carry a `realmId`: an org with Realms.
    realms: bool,
    /// Profile values must be equal (off only when matching the window of a full page).
    profile_values: bool,
}

/// A key the simulator's object has and the recorded one lacks, accepted for this org.
fn allowed_extra(path: &str, key: &str, facts: OrgFacts) -> bool {
    (facts.classic_engine && path.ends_with("._links") && matches!(key, "forgotPassword" | "resetFactors"))
        || (facts.realms && path.ends_with(".credentials") && key == "emails")
        || (!facts.realms && key == "realmId" && is_user_level(path))
}

/// Whether `path` is a user object: the answer itself or an element of a listing.
fn is_user_level(path: &str) -> bool {
    path == "$" || (path.starts_with("$[") && path.ends_with(']') && !path[1..].contains('.'))
}

/// A key the recorded object has and the simulator's lacks, accepted for this org.
fn allowed_missing(path: &str, key: &str, facts: OrgFacts) -> bool {
    facts.realms && key == "realmId" && !path.contains('.')
}

/// One recorded request and answer.
#[derive(Debug, Clone)]
struct Recorded {
    index: usize,
    method: String,
    path: String,
    query: Option<String>,
    body: Option<String>,
    status: u16,
    headers: BTreeMap<String, Vec<String>>,
    response: String,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|values| values.first()).map(String::as_str)
    }

    fn json(&self) -> Result<Value, String> {
        if self.response.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&self.response).map_err(|error| format!("recorded body is not JSON: {error}"))
    }

    fn year(&self) -> Option<u32> {
        self.header("date")?.split_whitespace().find_map(|token| token.parse().ok().filter(|year| *year > 1999))
    }
}

/// A cassette: its name (file stem) and interactions.
#[derive(Debug)]
struct Cassette {
    name: String,
    interactions: Vec<Recorded>,
}

fn recordings_dir() -> PathBuf {
    match std::env::var_os("OKTA_RECORDINGS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/okta-recordings"),
    }
}

fn yaml_text(value: &serde_yaml::Value) -> Option<String> {
    match value {
        serde_yaml::Value::String(text) => Some(text.clone()),
        serde_yaml::Value::Number(number) => Some(number.to_string()),
        serde_yaml::Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn load_cassette(file: &Path) -> Cassette {
    let text = std::fs::read_to_string(file).unwrap_or_else(|error| panic!("cannot read {}: {error}", file.display()));
    let document: serde_yaml::Value =
        serde_yaml::from_str(&text).unwrap_or_else(|error| panic!("{} is not YAML: {error}", file.display()));
    let name = file.file_stem().and_then(|stem| stem.to_str()).unwrap_or_default().to_owned();
    let list = document["interactions"].as_sequence().unwrap_or_else(|| panic!("{name}: no interactions"));
    let interactions = list
        .iter()
        .enumerate()
        .map(|(index, interaction)| {
            let request = &interaction["request"];
            let response = &interaction["response"];
            let uri = request["uri"].as_str().unwrap_or_else(|| panic!("{name}#{index}: no uri"));
            let url = url::Url::parse(uri).unwrap_or_else(|error| panic!("{name}#{index}: bad uri {uri}: {error}"));
            assert_eq!(url.host_str(), Some("test.okta.com"), "{name}#{index}: unexpected host");
            let mut headers = BTreeMap::new();
            if let Some(mapping) = response["headers"].as_mapping() {
                for (key, value) in mapping {
                    let Some(key) = key.as_str() else { continue };
                    let values = match value {
                        serde_yaml::Value::Sequence(items) => items.iter().filter_map(yaml_text).collect(),
                        other => yaml_text(other).into_iter().collect(),
                    };
                    headers.insert(key.to_ascii_lowercase(), values);
                }
            }
            Recorded {
                index,
                method: request["method"].as_str().unwrap_or_default().to_owned(),
                path: url.path().to_owned(),
                query: url.query().map(str::to_owned),
                body: yaml_text(&request["body"]),
                status: response["status"]["code"].as_u64().unwrap_or_default() as u16,
                headers,
                response: response["body"]["string"].as_str().unwrap_or_default().to_owned(),
            }
        })
        .collect();
    Cassette { name, interactions }
}

/// The cassette files `INDEX.txt` lists, relative to the recordings directory.
fn indexed_cassettes(dir: &Path) -> BTreeSet<String> {
    let index = dir.join("INDEX.txt");
    let text = std::fs::read_to_string(&index).unwrap_or_else(|error| {
        panic!("the Okta recordings are missing ({}: {error}); set OKTA_RECORDINGS_DIR", index.display())
    });
    text.lines()
        .filter(|line| line.starts_with("okta-sdk-python/"))
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn cassettes_on_disk(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let root = dir.join("okta-sdk-python");
    let folders = std::fs::read_dir(&root).unwrap_or_else(|error| panic!("cannot list {}: {error}", root.display()));
    for folder in folders.flatten() {
        let Ok(files) = std::fs::read_dir(folder.path()) else { continue };
        for file in files.flatten() {
            let path = file.path();
            if path.extension().is_some_and(|extension| extension == "yaml") {
                if let Ok(relative) = path.strip_prefix(dir) {
                    found.insert(relative.to_string_lossy().into_owned());
                }
            }
        }
    }
    found
}

/// The path with runs of `/` collapsed (Okta treats `//api/v1/users` as `/api/v1/users`).
fn normalized(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').filter(|segment| !segment.is_empty()).collect();
    format!("/{}", segments.join("/"))
}

fn pattern_matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').filter(|segment| !segment.is_empty()).collect();
    let path: Vec<&str> = path.split('/').filter(|segment| !segment.is_empty()).collect();
    for (position, expected) in pattern.iter().enumerate() {
        if *expected == "**" {
            return path.len() > position;
        }
        match path.get(position) {
            Some(actual) if *expected == "*" || expected == actual => {}
            _ => return false,
        }
    }
    pattern.len() == path.len()
}

/// The `OUT_OF_SCOPE` entry matching a request, by position.
fn out_of_scope(method: &str, path: &str) -> Option<usize> {
    let path = normalized(path);
    OUT_OF_SCOPE
        .iter()
        .position(|(wanted, pattern, _)| (*wanted == "*" || *wanted == method) && pattern_matches(pattern, &path))
}

/// Recorded ids in a text: runs of 20 letters and digits starting with `00`, and placeholders.
fn recorded_ids(text: &str, placeholders: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = text
        .split(|character: char| !character.is_ascii_alphanumeric())
        .filter(|token| token.len() == 20 && token.starts_with("00"))
        .map(str::to_owned)
        .collect();
    ids.extend(placeholders.iter().filter(|placeholder| text.contains(**placeholder)).map(|id| (*id).to_owned()));
    ids
}

/// Recorded id (or cursor) → the simulator's.
#[derive(Debug, Default)]
struct IdMap {
    map: HashMap<String, String>,
}

impl IdMap {
    fn learn(&mut self, recorded: &str, simulated: &str) {
        if !recorded.is_empty() && !simulated.is_empty() {
            self.map.entry(recorded.to_owned()).or_insert_with(|| simulated.to_owned());
        }
    }

    fn get(&self, recorded: &str) -> Option<&str> {
        self.map.get(recorded).map(String::as_str)
    }

    fn images(&self) -> HashSet<&str> {
        self.map.values().map(String::as_str).collect()
    }

    fn substitute(&self, text: &str) -> String {
        let mut keys: Vec<&String> = self.map.keys().collect();
        keys.sort_by_key(|key| std::cmp::Reverse(key.len()));
        let mut result = text.to_owned();
        for key in keys {
            result = result.replace(key.as_str(), &self.map[key]);
        }
        result
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn last_key(path: &str) -> &str {
    let tail = path.rsplit('.').next().unwrap_or(path);
    tail.split('[').next().unwrap_or(tail)
}

/// Compares the structure of a recorded value and the simulator's (see the module doc).
fn compare(recorded: &Value, simulated: &Value, path: &str, facts: OrgFacts, errors: &mut Vec<String>) {
    let key = last_key(path);
    match (recorded, simulated) {
        (Value::Null, _) => {}
        (_, Value::Null) if DATA_DEPENDENT_NULLS.contains(&key) => {}
        (Value::Object(recorded), Value::Object(simulated)) => {
            compare_objects(recorded, simulated, path, facts, errors)
        }
        (Value::Array(recorded), Value::Array(simulated)) => {
            if recorded.len() != simulated.len() {
                errors.push(format!("{path}: {} elements recorded, {} simulated", recorded.len(), simulated.len()));
                return;
            }
            for (position, (recorded, simulated)) in recorded.iter().zip(simulated).enumerate() {
                compare(recorded, simulated, &format!("{path}[{position}]"), facts, errors);
            }
        }
        (Value::String(expected), Value::String(actual))
            if EQUAL_VALUES.contains(&key) || (facts.profile_values && path.contains(".profile.")) =>
        {
            if expected != actual {
                errors.push(format!("{path}: recorded {expected:?}, simulated {actual:?}"));
            }
        }
        _ if type_name(recorded) == type_name(simulated) => {}
        _ => errors.push(format!(
            "{path}: recorded {} {recorded}, simulated {} {simulated}",
            type_name(recorded),
            type_name(simulated)
        )),
    }
}

fn compare_objects(
    recorded: &Map<String, Value>,
    simulated: &Map<String, Value>,
    path: &str,
    facts: OrgFacts,
    errors: &mut Vec<String>,
) {
    for key in recorded.keys().filter(|key| !simulated.contains_key(*key)) {
        if !allowed_missing(path, key, facts) {
            errors.push(format!("{path}: key {key:?} missing from the simulator's answer"));
        }
    }
    for key in simulated.keys().filter(|key| !recorded.contains_key(*key)) {
        if !allowed_extra(path, key, facts) {
            errors.push(format!("{path}: key {key:?} not in Okta's answer"));
        }
    }
    for (key, value) in recorded {
        if let Some(other) = simulated.get(key) {
            compare(value, other, &format!("{path}.{key}"), facts, errors);
        }
    }
}

fn id_of(value: &Value) -> Option<&str> {
    value.get("id").and_then(Value::as_str)
}

/// The name a listed object is known by: a group's name or a user's login.
fn identity(value: &Value) -> Option<&str> {
    let profile = value.get("profile")?;
    profile.get("login").or_else(|| profile.get("name")).and_then(Value::as_str)
}

/// Compares an org-wide listing (see the module doc) and learns ids of pre-existing objects.
fn compare_org_listing(
    recorded: &[Value],
    simulated: &[Value],
    full_page: bool,
    ids: &mut IdMap,
    facts: OrgFacts,
    errors: &mut Vec<String>,
) {
    let positions: HashMap<&str, usize> =
        simulated.iter().enumerate().filter_map(|(position, item)| Some((id_of(item)?, position))).collect();
    let mut matched = HashSet::new();
    let mut unmapped = Vec::new();
    for item in recorded {
        let Some(sim_id) = id_of(item).and_then(|id| ids.get(id)) else {
            unmapped.push(item);
            continue;
        };
        match positions.get(sim_id) {
            Some(&position) => {
                matched.insert(position);
                compare(item, &simulated[position], &format!("$[{sim_id}]"), facts, errors);
            }
            None if full_page => {}
            None => errors.push(format!("$: Okta listed {sim_id} (mapped), the simulator did not")),
        }
    }
    let images: HashSet<String> = ids.images().into_iter().map(str::to_owned).collect();
    let mut learnt = Vec::new();
    for (position, item) in simulated.iter().enumerate().filter(|(position, _)| !matched.contains(position)) {
        let sim_id = id_of(item).unwrap_or_default();
        if images.contains(sim_id) && !full_page {
            errors.push(format!("$: the simulator listed {sim_id}, which Okta's answer did not include"));
            continue;
        }
        // A full page is a window of the listing: any recorded element can stand for it, by
        // structure.
        let mut candidates: Vec<&Value> = if full_page { recorded.iter().collect() } else { unmapped.clone() };
        let candidate_facts = OrgFacts { profile_values: !full_page, ..facts };
        candidates.sort_by_key(|candidate| identity(candidate) != identity(item) || identity(item).is_none());
        let mut first_errors = None;
        let mut found = false;
        for candidate in candidates {
            let mut attempt = Vec::new();
            compare(candidate, item, &format!("$[{position}]"), candidate_facts, &mut attempt);
            if attempt.is_empty() {
                if identity(candidate).is_some() && identity(candidate) == identity(item) {
                    if let Some(recorded_id) = id_of(candidate) {
                        learnt.push((recorded_id.to_owned(), sim_id.to_owned()));
                    }
                }
                found = true;
                break;
            }
            first_errors.get_or_insert(attempt);
        }
        if !found {
            match first_errors {
                Some(attempt) => errors.extend(attempt),
                None => errors.push(format!("$[{position}]: simulator element {sim_id} has no recorded counterpart")),
            }
        }
    }
    for (recorded_id, sim_id) in learnt {
        ids.learn(&recorded_id, &sim_id);
    }
    if full_page && recorded.len() != simulated.len() {
        errors.push(format!("$: full page of {} recorded, {} simulated", recorded.len(), simulated.len()));
    }
}

/// The `rel` values of the `Link` headers, with their targets.
fn links(values: &[String]) -> Vec<(String, String)> {
    values
        .iter()
        .flat_map(|value| value.split(','))
        .filter_map(|part| {
            let (target, params) = part.trim().split_once(';')?;
            let target = target.trim().trim_start_matches('<').trim_end_matches('>').to_owned();
            let relation = params.split(';').find_map(|param| {
                let (name, value) = param.trim().split_once('=')?;
                (name.trim() == "rel").then(|| value.trim().trim_matches('"').to_owned())
            })?;
            Some((relation, target))
        })
        .collect()
}

fn after_cursor(target: &str) -> Option<String> {
    let url = url::Url::parse(target).ok()?;
    let cursor = url.query_pairs().find(|(name, _)| name == "after").map(|(_, value)| value.into_owned());
    cursor
}

/// The body to send: the recorded one, or (2020 recordings have none) one rebuilt from the
/// recorded answer for creates and updates of users and groups.
fn request_body(recorded: &Recorded, path: &str) -> Option<Value> {
    if let Some(text) = &recorded.body {
        return Some(serde_json::from_str(text).unwrap_or(Value::String(text.clone())));
    }
    let answer = recorded.json().ok()?;
    if recorded.method == "POST" && pattern_matches("/api/v1/*/*/roles", path) {
        return answer.get("type").map(|kind| json!({ "type": kind }));
    }
    let user_type = path == "/api/v1/meta/types/user" || pattern_matches("/api/v1/meta/types/user/*", path);
    if user_type && matches!(recorded.method.as_str(), "POST" | "PUT") {
        let fields = ["name", "displayName", "description"];
        return Some(Value::Object(
            fields.iter().filter_map(|field| Some(((*field).to_owned(), answer.get(*field)?.clone()))).collect(),
        ));
    }
    let profile: Map<String, Value> = answer
        .get("profile")?
        .as_object()?
        .iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    let method = recorded.method.as_str();
    let creates_user = method == "POST" && path == "/api/v1/users";
    let updates = (method == "POST" && (pattern_matches("/api/v1/users/*", path) || path == "/api/v1/groups"))
        || (method == "PUT" && pattern_matches("/api/v1/groups/*", path));
    if creates_user {
        let mut body = json!({ "profile": profile });
        if answer.pointer("/credentials/password").is_some() {
            body["credentials"] = json!({ "password": { "value": "Replay-Passw0rd-150kta" } });
        }
        Some(body)
    } else if updates {
        Some(json!({ "profile": profile }))
    } else {
        None
    }
}

/// Replay counters.
#[derive(Debug, Default)]
struct Tally {
    cassettes: usize,
    interactions: usize,
    replayed: usize,
    skipped: BTreeMap<String, usize>,
    out_of_scope_used: BTreeSet<usize>,
    not_replayed_used: BTreeSet<usize>,
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn send(
    http: &reqwest::Client,
    simulator: &Simulator,
    method: &str,
    path_and_query: &str,
    body: Option<&Value>,
) -> Result<Answer, String> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|error| error.to_string())?;
    let mut request = http
        .request(method, format!("{}{path_and_query}", simulator.url()))
        .header("Authorization", format!("SSWS {}", simulator.api_token()))
        .header("Accept", "application/json");
    if let Some(body) = body {
        request = request.header("Content-Type", "application/json").body(body.to_string());
    }
    let response = request.send().await.map_err(|error| format!("request failed: {error}"))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.map_err(|error| format!("body failed: {error}"))?;
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).map_err(|error| format!("simulator body is not JSON: {error}"))?
    };
    Ok(Answer { status, headers, body })
}

fn header_values(headers: &reqwest::header::HeaderMap, name: &str) -> Vec<String> {
    headers.get_all(name).iter().filter_map(|value| value.to_str().ok()).map(str::to_owned).collect()
}

/// Creates the objects of [`PRE_EXISTING`] for this cassette and maps their placeholder ids.
async fn create_pre_existing(
    cassette: &Cassette,
    http: &reqwest::Client,
    simulator: &Simulator,
    ids: &mut IdMap,
) -> Result<(), String> {
    for (_, placeholder, _) in PRE_EXISTING.iter().filter(|(name, _, _)| *name == cassette.name) {
        let shown = cassette
            .interactions
            .iter()
            .filter_map(|interaction| interaction.json().ok())
            .find(|body| id_of(body) == Some(placeholder))
            .ok_or_else(|| format!("no recorded answer shows {placeholder}"))?;
        let profile: Map<String, Value> = shown["profile"]
            .as_object()
            .ok_or_else(|| format!("{placeholder} has no profile"))?
            .iter()
            .filter(|(_, value)| !value.is_null())
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let answer = send(http, simulator, "POST", "/api/v1/groups", Some(&json!({ "profile": profile }))).await?;
        let sim_id = id_of(&answer.body).ok_or_else(|| format!("creating {placeholder}: {}", answer.body))?;
        ids.learn(placeholder, sim_id);
    }
    Ok(())
}

/// Replays one cassette on a fresh simulator; returns the mismatches.
async fn replay(cassette: &Cassette, http: &reqwest::Client, tally: &mut Tally) -> Vec<String> {
    let config = SimulatorConfig { rate_limits: Some(RateLimits::okta_defaults()), ..SimulatorConfig::default() };
    let simulator = Simulator::start(config).await.expect("the simulator starts");
    let first_year = cassette.interactions.iter().find_map(Recorded::year).unwrap_or(9999);
    let facts = OrgFacts {
        classic_engine: first_year < 2022,
        realms: cassette.interactions.iter().any(|interaction| interaction.response.contains("\"realmId\"")),
        profile_values: true,
    };
    let placeholders: Vec<&str> = PRE_EXISTING.iter().map(|(_, id, _)| *id).collect();
    let mut ids = IdMap::default();
    let mut mismatches = Vec::new();
    if let Err(error) = create_pre_existing(cassette, http, &simulator, &mut ids).await {
        mismatches.push(format!("{}: setup: {error}", cassette.name));
    }
    tally.cassettes += 1;
    for recorded in &cassette.interactions {
        tally.interactions += 1;
        let label = format!("{}#{} {} {}", cassette.name, recorded.index, recorded.method, recorded.path);
        if let Some(entry) =
            NOT_REPLAYED.iter().position(|(name, index, _)| *name == cassette.name && *index == recorded.index)
        {
            tally.not_replayed_used.insert(entry);
            *tally.skipped.entry(NOT_REPLAYED[entry].2.to_owned()).or_default() += 1;
            continue;
        }
        if let Some(entry) = out_of_scope(&recorded.method, &recorded.path) {
            tally.out_of_scope_used.insert(entry);
            *tally.skipped.entry(OUT_OF_SCOPE[entry].2.to_owned()).or_default() += 1;
            continue;
        }
        tally.replayed += 1;
        let path = normalized(&recorded.path);
        let body = request_body(recorded, &path);
        let request_text = format!(
            "{}?{} {}",
            recorded.path,
            recorded.query.as_deref().unwrap_or_default(),
            body.as_ref().map(Value::to_string).unwrap_or_default()
        );
        let unknown: Vec<String> =
            recorded_ids(&request_text, &placeholders).into_iter().filter(|id| ids.get(id).is_none()).collect();
        if !unknown.is_empty() {
            mismatches.push(format!("{label}: the request uses recorded ids never learnt: {unknown:?}"));
            continue;
        }
        let mut target = ids.substitute(&recorded.path);
        if let Some(query) = &recorded.query {
            target = format!("{target}?{}", ids.substitute(query));
        }
        let body = body.map(|body| serde_json::from_str(&ids.substitute(&body.to_string())).unwrap_or(body));
        let answer = match send(http, &simulator, &recorded.method, &target, body.as_ref()).await {
            Ok(answer) => answer,
            Err(error) => {
                mismatches.push(format!("{label}: {error}"));
                continue;
            }
        };
        let mut errors = Vec::new();
        compare_interaction(recorded, &path, &answer, &mut ids, facts, &mut errors);
        mismatches.extend(errors.into_iter().map(|error| format!("{label}: {error}")));
    }
    simulator.shutdown().await;
    mismatches
}

/// Compares one answer with the recorded one and learns ids and cursors from it.
fn compare_interaction(
    recorded: &Recorded,
    path: &str,
    answer: &Answer,
    ids: &mut IdMap,
    facts: OrgFacts,
    errors: &mut Vec<String>,
) {
    // Okta answered deactivation both with `204` and no body and with `200 {}`.
    let deactivation_variant = recorded.method == "POST"
        && path.ends_with("/lifecycle/deactivate")
        && recorded.status == 204
        && answer.status == 200
        && answer.body == json!({});
    if answer.status != recorded.status && !deactivation_variant {
        errors.push(format!("status: recorded {}, simulated {} {}", recorded.status, answer.status, answer.body));
        return;
    }

    for name in
        ["date", "x-okta-request-id", "x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset", "etag"]
    {
        if recorded.header(name).is_some() && answer.headers.get(name).is_none() {
            errors.push(format!("header {name} missing"));
        }
    }
    let content_type = header_values(&answer.headers, "content-type");
    if !deactivation_variant {
        match recorded.header("content-type") {
            Some(_) if !content_type.first().is_some_and(|value| value.starts_with("application/json")) => {
                errors.push(format!("content-type {content_type:?}, expected application/json"))
            }
            None if !content_type.is_empty() => {
                errors.push(format!("content-type {content_type:?} on an empty answer"))
            }
            _ => {}
        }
    }
    let recorded_links = links(recorded.headers.get("link").map(Vec::as_slice).unwrap_or_default());
    let simulated_links = links(&header_values(&answer.headers, "link"));
    let has = |links: &[(String, String)], relation: &str| links.iter().any(|(rel, _)| rel == relation);
    if has(&recorded_links, "self") && !has(&simulated_links, "self") {
        errors.push("Link rel=\"self\" missing".into());
    }
    let org_wide = recorded.method == "GET" && ORG_WIDE_LISTINGS.contains(&path);
    let recorded_next = recorded_links.iter().find(|(rel, _)| rel == "next").map(|(_, target)| target.clone());
    let simulated_next = simulated_links.iter().find(|(rel, _)| rel == "next").map(|(_, target)| target.clone());
    match (&recorded_next, &simulated_next) {
        (Some(recorded), Some(simulated)) => {
            if let (Some(recorded), Some(simulated)) = (after_cursor(recorded), after_cursor(simulated)) {
                ids.learn(&recorded, &simulated);
            }
        }
        (Some(_), None) if org_wide => {}
        (None, None) => {}
        _ => errors.push(format!("Link rel=\"next\": recorded {recorded_next:?}, simulated {simulated_next:?}")),
    }

    let expected = match recorded.json() {
        Ok(value) => value,
        Err(error) => {
            errors.push(error);
            return;
        }
    };
    if deactivation_variant {
        return;
    }
    // Error texts are what callers show: they must read the same (recorded ids mapped).
    if recorded.status >= 400 {
        let summaries = |body: &Value| -> Vec<String> {
            std::iter::once(&body["errorSummary"])
                .chain(body["errorCauses"].as_array().into_iter().flatten().map(|cause| &cause["errorSummary"]))
                .map(|summary| summary.as_str().unwrap_or_default().to_owned())
                .collect()
        };
        let wanted: Vec<String> = summaries(&expected).iter().map(|summary| ids.substitute(summary)).collect();
        if wanted != summaries(&answer.body) {
            errors.push(format!("error summaries: recorded {wanted:?}, simulated {:?}", summaries(&answer.body)));
        }
    }
    let expected = if recorded.method == "GET" && pattern_matches("/api/v1/*/*/roles/*/targets/groups", path) {
        in_simulated_id_order(expected, ids)
    } else {
        expected
    };
    match (&expected, &answer.body) {
        (Value::Array(listed), Value::Array(simulated)) if org_wide => {
            compare_org_listing(listed, simulated, recorded_next.is_some(), ids, facts, errors)
        }
        (Value::Null, Value::Null) => {}
        (Value::Null, other) => errors.push(format!("body: recorded none, simulated {other}")),
        _ => {
            compare(&expected, &answer.body, "$", facts, errors);
            if recorded.status < 300 {
                learn_ids(&expected, &answer.body, ids);
            }
        }
    }
}

/// A recorded listing ordered by the simulator ids its elements map to (unmapped ones last, in
/// recorded order): Okta orders role target groups by id, and the replay's ids are the
/// simulator's.
fn in_simulated_id_order(listing: Value, ids: &IdMap) -> Value {
    match listing {
        Value::Array(mut items) => {
            items.sort_by_key(|item| {
                let mapped = id_of(item).and_then(|id| ids.get(id)).map(str::to_owned);
                (mapped.is_none(), mapped)
            });
            Value::Array(items)
        }
        other => other,
    }
}

/// Learns ids from a created or listed object (or the elements of a list, by position).
fn learn_ids(recorded: &Value, simulated: &Value, ids: &mut IdMap) {
    match (recorded, simulated) {
        (Value::Array(recorded), Value::Array(simulated)) if recorded.len() == simulated.len() => {
            for (recorded, simulated) in recorded.iter().zip(simulated) {
                learn_ids(recorded, simulated, ids);
            }
        }
        (Value::Object(_), Value::Object(_)) => {
            if let (Some(recorded), Some(simulated)) = (id_of(recorded), id_of(simulated)) {
                ids.learn(recorded, simulated);
            }
        }
        _ => {}
    }
}

#[test]
fn every_recorded_interaction_is_answered_like_okta() {
    let started = Instant::now();
    let dir = recordings_dir();
    let indexed = indexed_cassettes(&dir);
    let on_disk = cassettes_on_disk(&dir);
    assert!(!indexed.is_empty(), "INDEX.txt in {} lists no cassette", dir.display());
    assert_eq!(indexed, on_disk, "the cassettes on disk differ from INDEX.txt");
    let cassettes: Vec<Cassette> = indexed.iter().map(|relative| load_cassette(&dir.join(relative))).collect();

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let (tally, mismatches) = runtime.block_on(async {
        let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(20)).build().expect("client");
        let mut tally = Tally::default();
        let mut mismatches = Vec::new();
        for cassette in &cassettes {
            mismatches.extend(replay(cassette, &http, &mut tally).await);
        }
        (tally, mismatches)
    });

    let skipped: usize = tally.skipped.values().sum();
    println!(
        "replayed {} of {} interactions from {} cassettes in {:.2?}; skipped {skipped}:",
        tally.replayed,
        tally.interactions,
        tally.cassettes,
        started.elapsed()
    );
    for (reason, count) in &tally.skipped {
        println!("  {count:>3}  {reason}");
    }
    assert_eq!(tally.cassettes, indexed.len());
    assert_eq!(tally.replayed + skipped, tally.interactions, "every interaction is replayed or listed");
    assert!(tally.replayed > 0, "nothing was replayed");
    let unused_out_of_scope: Vec<&str> = OUT_OF_SCOPE
        .iter()
        .enumerate()
        .filter(|(position, _)| !tally.out_of_scope_used.contains(position))
        .map(|(_, (_, pattern, _))| *pattern)
        .collect();
    assert!(unused_out_of_scope.is_empty(), "OUT_OF_SCOPE entries matching nothing: {unused_out_of_scope:?}");
    let unused_not_replayed: Vec<String> = NOT_REPLAYED
        .iter()
        .enumerate()
        .filter(|(position, _)| !tally.not_replayed_used.contains(position))
        .map(|(_, (name, index, _))| format!("{name}#{index}"))
        .collect();
    assert!(unused_not_replayed.is_empty(), "NOT_REPLAYED entries matching nothing: {unused_not_replayed:?}");
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}

#[test]
fn comparison_rules_detect_differences() {
    let facts = OrgFacts::default();
    let check = |recorded: Value, simulated: Value| {
        let mut errors = Vec::new();
        compare(&recorded, &simulated, "$", facts, &mut errors);
        errors
    };
    assert!(check(json!({"a": 1, "b": "x"}), json!({"a": 2, "b": "y"})).is_empty());
    assert_eq!(check(json!({"a": 1}), json!({"b": 1})).len(), 2);
    assert_eq!(check(json!({"a": 1}), json!({"a": "1"})).len(), 1);
    assert!(check(json!({"a": null}), json!({"a": {"b": 1}})).is_empty());
    assert_eq!(check(json!({"a": "x"}), json!({"a": null})).len(), 1);
    assert!(check(json!({"lastLogin": "2020-01-01"}), json!({"lastLogin": null})).is_empty());
    assert_eq!(check(json!({"status": "ACTIVE"}), json!({"status": "STAGED"})).len(), 1);
    assert_eq!(check(json!({"errorCauses": []}), json!({"errorCauses": [{"errorSummary": "x"}]})).len(), 1);
    assert_eq!(check(json!([{"a": 1}]), json!([{"a": 1, "b": 2}])).len(), 1);
    let profiles = OrgFacts { profile_values: true, ..OrgFacts::default() };
    let mut errors = Vec::new();
    compare(&json!({"profile": {"name": "a"}}), &json!({"profile": {"name": "b"}}), "$", profiles, &mut errors);
    assert_eq!(errors.len(), 1);
    let classic = OrgFacts { classic_engine: true, ..OrgFacts::default() };
    let mut errors = Vec::new();
    compare(
        &json!({"_links": {"self": {}}}),
        &json!({"_links": {"self": {}, "resetFactors": {}}}),
        "$",
        classic,
        &mut errors,
    );
    assert!(errors.is_empty(), "{errors:?}");
    compare(
        &json!({"_links": {"self": {}}}),
        &json!({"_links": {"self": {}, "resetFactors": {}}}),
        "$",
        facts,
        &mut errors,
    );
    assert_eq!(errors.len(), 1);
}

#[test]
fn org_wide_listings_need_the_replayed_objects() {
    let facts = OrgFacts::default();
    let mut ids = IdMap::default();
    ids.learn("00urecorded000000001", "00usimulated00000001");
    let ours = |id: &str| json!({"id": id, "status": "ACTIVE", "profile": {"login": "a@example.com"}});
    let theirs = json!({"id": "00uother0000000000001", "status": "ACTIVE", "profile": {"login": "b@example.com"}});
    let mut errors = Vec::new();
    compare_org_listing(
        &[theirs.clone(), ours("00urecorded000000001")],
        &[ours("00usimulated00000001")],
        false,
        &mut ids,
        facts,
        &mut errors,
    );
    assert!(errors.is_empty(), "{errors:?}");
    compare_org_listing(
        std::slice::from_ref(&theirs),
        &[ours("00usimulated00000001")],
        false,
        &mut ids,
        facts,
        &mut errors,
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.clear();
    compare_org_listing(&[ours("00urecorded000000001")], &[], false, &mut ids, facts, &mut errors);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(out_of_scope("POST", "//api/v1/users/00u1/credentials/forgot_password").is_some());
    assert!(out_of_scope("POST", "/api/v1/users/00u1/roles").is_none());
    // Target groups are compared in the order of the simulator ids they map to.
    let mut target_ids = IdMap::default();
    target_ids.learn("00grecorded000000002", "00gsimulated00000001");
    target_ids.learn("00grecorded000000001", "00gsimulated00000002");
    let ordered = in_simulated_id_order(
        json!([{"id": "00grecorded000000001"}, {"id": "00gunknown0000000001"}, {"id": "00grecorded000000002"}]),
        &target_ids,
    );
    assert_eq!(
        ordered,
        json!([{"id": "00grecorded000000002"}, {"id": "00grecorded000000001"}, {"id": "00gunknown0000000001"}])
    );
    // A `realmId` the recorded org did not send is accepted on users only.
    let mut errors = Vec::new();
    compare(&json!({"id": "00u1"}), &json!({"id": "00u1", "realmId": "guo1"}), "$", facts, &mut errors);
    compare(&json!([{"id": "00u1"}]), &json!([{"id": "00u1", "realmId": "guo1"}]), "$", facts, &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    compare(&json!({"a": {}}), &json!({"a": {"realmId": "guo1"}}), "$", facts, &mut errors);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(out_of_scope("GET", "/api/v1/users/00u1/groups").is_none());
    assert_eq!(recorded_ids("/api/v1/groups/00gsfck5wNqOPYMfS4x6/users", &[]), ["00gsfck5wNqOPYMfS4x6"]);
}
