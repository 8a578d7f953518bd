//! Okta's System Log: an event for every change the simulator makes, and `GET /api/v1/logs`.
//!
//! Sources:
//! * Event shape: Okta's OpenAPI spec, schemas `LogEvent`, `LogActor`, `LogClient`,
//!   `LogUserAgent`, `LogOutcome`, `LogTarget`, `LogTransaction`, `LogDebugContext`,
//!   `LogAuthenticationContext`, `LogSecurityContext`, `LogRequest`, `LogIpAddress`
//!   (`legacy-v1-swagger-spec.json` and `management-minimal.yaml` in `../shared/okta-openapi/`),
//!   and the event Okta's docs show for `user.lifecycle.deactivate`
//!   (okta/okta-developer-docs @ 468de9c5, `docs/guides/event-hook-implementation/main/nodejs/event-object.md`):
//!   `version` is the string `"0"`, `transaction.id` equals `debugContext.debugData.requestId`,
//!   `debugData.url` is the path and query (with a `?` even when the query is empty), targets are
//!   `{id, type, alternateId, displayName, detailEntry}`.
//! * Event types: Okta's Event Types catalog (developer.okta.com/docs/reference/api/event-types,
//!   generated from okta/okta-developer-docs @ 468de9c5, `data/event-types.json`, release
//!   2026.08.1). Each [`EventKind`] names the catalog entry it uses; display messages are the
//!   catalog's descriptions (first sentence) where those read as messages, otherwise chosen.
//! * Queries: Okta's System Log query guide (same commit, `docs/reference/system-log-query/index.md`)
//!   and the spec's `listLogEvents`: `since` defaults to 7 days before `until` (or now); `limit`
//!   defaults to 100, at most 1000; `sortOrder` `ASCENDING` (default) or `DESCENDING` by
//!   `published`; a *polling* request (no `until`, ascending) always has a `next` link, even on an
//!   empty page; a *bounded* request has one only while more events remain; `self` always; `q`
//!   keywords (at most 10, each at most 40 characters) must all match, case-insensitively and
//!   exactly, a word of some text value, where hyphenated words also match by their parts; an
//!   invalid date is `400 E0000001` with the documented summary and causes; an invalid filter is
//!   `400 E0000053`; `co` on `debugContext.debugData.url`/`requestUri` is `400 E0000031`; a `since`
//!   more than 180 days back is `400 E0000053`.
//! * Rate limit: `/api/v1/logs` has its own bucket, 120 requests a minute for Workforce orgs
//!   (okta/okta-developer-docs @ 69fe2395, `docs/reference/rl-global-mgmt/index.md`).
//! * Scope: `okta.logs.read` (spec `listLogEvents` security).
//!
//! Chosen where Okta's behaviour is not documented:
//! * `since` is inclusive, `until` exclusive; a request with `after` also applies `since`/`until`
//!   (Okta's own `next` links carry `since` beside `after`); a descending request without `until`
//!   is not a polling request (the guide requires ascending order) and pages like a bounded one.
//! * `limit` outside 1–1000 and an unknown `sortOrder` are `400 E0000001`; a `filter` naming a
//!   field a `LogEvent` does not have, or `published`, is `400 E0000053 "field is not valid: …"`;
//!   a cursor the simulator did not hand out is `400 E0000029`.
//! * Filter values compare exactly (as the `filter` parameter of users and groups does).
//! * Only changes that succeed are logged (no `FAILURE` events); idempotent calls that change
//!   nothing (adding a member twice) log nothing; seed users and the test helpers of
//!   [`super::Simulator`] log nothing; user-type updates and deletions log nothing (the catalog
//!   has no event for them).
//! * The actor of an API-token call is the org's admin (`org.admin_id`, login
//!   [`ADMIN_LOGIN`]); the actor of a call with an OAuth token issued by the token endpoint is
//!   the service app (`PublicClientApp`, its client id).
//! * `user.account.privilege.revoke` / `group.privilege.revoke` follow the catalog: they mean
//!   "no admin privileges left", so removing one of several roles logs a `…privilege.grant`
//!   ("admin privileges changed"), as do changes to a role's targets.
//! * The log keeps the latest [`MAX_EVENTS`](super::events::MAX_EVENTS) events.

use std::collections::HashSet;
use std::net::IpAddr;

use axum::http::StatusCode;
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::DateTime;
use serde_json::{json, Map, Value};

use super::errors::ApiError;
use super::events::{
    now_millis, timestamp, Actor, EventKind, RequestContext, StoredEvent, ADMIN_DISPLAY_NAME, ADMIN_LOGIN,
};
use super::ids::uuid_v4;
use super::responses::{json_response, link, with_links, Call};
use super::state::{schema_id_of, Group, Org, User, UserType};
use crate::scim::{CompareOp, EvalOptions, Filter};

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;
const MILLIS_PER_DAY: i64 = 24 * 60 * 60 * 1000;
const MAX_KEYWORDS: usize = 10;
const MAX_KEYWORD_CHARS: usize = 40;
const CURSOR_TAG: &str = "okta-sim-log:";

/// The top-level properties of a `LogEvent` (spec), the fields a `filter` may start with.
const EVENT_FIELDS: &[&str] = &[
    "actor",
    "authenticationContext",
    "client",
    "debugContext",
    "device",
    "displayMessage",
    "eventType",
    "legacyEventType",
    "outcome",
    "request",
    "securityContext",
    "severity",
    "target",
    "transaction",
    "uuid",
    "version",
];

/// A user as an event target: login as `alternateId`, first and last name as `displayName`.
pub(crate) fn user_target(user: &User) -> Value {
    let name = |key: &str| user.profile.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    let display_name = format!("{} {}", name("firstName"), name("lastName")).trim().to_owned();
    json!({
        "id": user.id,
        "type": "User",
        "alternateId": user.login(),
        "displayName": display_name,
        "detailEntry": null,
    })
}

/// A group as an event target (`UserGroup`, its name as `alternateId` and `displayName`).
pub(crate) fn group_target(group: &Group) -> Value {
    json!({
        "id": group.id,
        "type": "UserGroup",
        "alternateId": group.name(),
        "displayName": group.name(),
        "detailEntry": null,
    })
}

/// A user type's profile schema as an event target.
pub(crate) fn schema_target(user_type: &UserType) -> Value {
    json!({
        "id": schema_id_of(&user_type.id),
        "type": "UserSchema",
        "alternateId": user_type.name,
        "displayName": user_type.display_name,
        "detailEntry": null,
    })
}

/// A user type as an event target.
pub(crate) fn user_type_target(user_type: &UserType) -> Value {
    json!({
        "id": user_type.id,
        "type": "UserType",
        "alternateId": user_type.name,
        "displayName": user_type.display_name,
        "detailEntry": null,
    })
}

impl Org {
    /// Logs a successful change made by the request `context`.
    pub(crate) fn record(&mut self, context: &RequestContext, kind: EventKind, targets: Vec<Value>) {
        self.record_with(context, kind, targets, Vec::new());
    }

    /// Like [`Org::record`], with extra `debugContext.debugData` members.
    pub(crate) fn record_with(
        &mut self,
        context: &RequestContext,
        kind: EventKind,
        targets: Vec<Value>,
        debug: Vec<(&str, Value)>,
    ) {
        let admin_id = self.admin_id.clone();
        let person = match &context.actor {
            Actor::User(id) => Some(self.users.get(id).map(user_target).unwrap_or_else(
                || json!({"id": id, "type": "User", "alternateId": null, "displayName": null, "detailEntry": null}),
            )),
            _ => None,
        };
        self.log.append(|published_ms| event_json(context, kind, targets, debug, &admin_id, person, published_ms));
    }
}

fn event_json(
    context: &RequestContext,
    kind: EventKind,
    targets: Vec<Value>,
    debug: Vec<(&str, Value)>,
    admin_id: &str,
    person: Option<Value>,
    published_ms: i64,
) -> Value {
    let (actor, client_id) = match &context.actor {
        Actor::User(_) => (person.unwrap_or(Value::Null), Value::Null),
        Actor::Admin => (
            json!({
                "id": admin_id,
                "type": "User",
                "alternateId": ADMIN_LOGIN,
                "displayName": ADMIN_DISPLAY_NAME,
                "detailEntry": null,
            }),
            Value::Null,
        ),
        Actor::App(client_id) => (
            json!({
                "id": client_id,
                "type": "PublicClientApp",
                "alternateId": client_id,
                "displayName": client_id,
                "detailEntry": null,
            }),
            json!(client_id),
        ),
    };
    let ip = context.ip.map(|ip| ip.to_string());
    let ip_version = match context.ip {
        Some(IpAddr::V6(_)) => "V6",
        _ => "V4",
    };
    let mut debug_data = Map::new();
    debug_data.insert("requestId".into(), json!(context.request_id));
    debug_data.insert("requestUri".into(), json!(context.path));
    debug_data
        .insert("url".into(), json!(format!("{}?{}", context.path, context.query.as_deref().unwrap_or_default())));
    for (key, value) in debug {
        debug_data.insert(key.to_owned(), value);
    }
    json!({
        "actor": actor,
        "client": {
            "userAgent": {
                "rawUserAgent": context.user_agent.as_deref().unwrap_or("UNKNOWN"),
                "os": "Unknown",
                "browser": "UNKNOWN",
            },
            "zone": "null",
            "device": "Unknown",
            "id": client_id,
            "ipAddress": ip,
            "geographicalContext": null,
        },
        "authenticationContext": {
            "authenticationProvider": null,
            "credentialProvider": null,
            "credentialType": null,
            "issuer": null,
            "interface": null,
            "authenticationStep": 0,
            "externalSessionId": null,
        },
        "displayMessage": kind.display_message(),
        "eventType": kind.event_type(),
        "outcome": { "result": "SUCCESS", "reason": null },
        "published": timestamp(published_ms),
        "securityContext": {},
        "severity": "INFO",
        "debugContext": { "debugData": debug_data },
        "transaction": { "type": "WEB", "id": context.request_id, "detail": {} },
        "uuid": uuid_v4(),
        "version": "0",
        "request": {
            "ipChain": ip.iter().map(|ip| json!({
                "ip": ip,
                "geographicalContext": null,
                "version": ip_version,
                "source": null,
            })).collect::<Vec<_>>(),
        },
        "target": targets,
    })
}

/// A System Log parameter error: `400 E0000001 "Api validation failed: '{name}': {problem} …"`
/// with a cause `"{name}: {problem}"` per problem (the documented shape for an invalid `until`).
fn invalid_parameter(name: &str, problems: &[&str]) -> ApiError {
    let summary: Vec<String> = problems.iter().map(|problem| format!("'{name}': {problem}")).collect();
    let mut error = ApiError::new(400, "E0000001", format!("Api validation failed: {}", summary.join(" ")));
    for problem in problems {
        error = error.with_cause(format!("{name}: {problem}"));
    }
    error
}

fn invalid_date(name: &str) -> ApiError {
    invalid_parameter(
        name,
        &[
            "The date format in your query is not recognized. Please enter dates using ISO8601 string format.",
            "must be a valid date-time or empty.",
        ],
    )
}

/// Parses an ISO 8601 instant (`2017-09-17T23:59:59Z`, `…+00:00`, `…+0000`, with or without a
/// fraction) into epoch milliseconds. A `+` that a client forgot to encode arrives as a space and
/// is read back as `+`.
fn parse_instant(text: &str) -> Option<i64> {
    let text = text.trim();
    [text.to_owned(), text.replace(' ', "+")].iter().find_map(|candidate| {
        DateTime::parse_from_rfc3339(candidate)
            .or_else(|_| DateTime::parse_from_str(candidate, "%Y-%m-%dT%H:%M:%S%.f%z"))
            .ok()
            .map(|instant| instant.timestamp_millis())
    })
}

fn date_parameter(call: &Call, name: &str) -> Result<Option<i64>, ApiError> {
    match call.query.get(name) {
        None => Ok(None),
        Some(text) if text.trim().is_empty() => Ok(None),
        Some(text) => parse_instant(text).map(Some).ok_or_else(|| invalid_date(name)),
    }
}

/// Where the next page starts: after the event with this `seq` (0: from the start).
fn encode_cursor(seq: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_TAG}{seq}"))
}

fn decode_cursor(text: &str) -> Option<u64> {
    let bytes = URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()?;
    String::from_utf8(bytes).ok()?.strip_prefix(CURSOR_TAG)?.parse().ok()
}

/// Parses and checks a `filter`: valid SCIM, fields of a `LogEvent` other than `published`, no
/// `co` on the request URL fields.
fn parse_filter(text: &str) -> Result<Filter, ApiError> {
    let filter = crate::scim::parse(text).map_err(|error| {
        ApiError::new(
            400,
            "E0000053",
            format!("Invalid filter '{text}': {} at position {}", error.message, error.position),
        )
    })?;
    for attribute in filter.attributes() {
        let field = attribute.split('.').next().unwrap_or_default();
        if !EVENT_FIELDS.contains(&field) {
            return Err(ApiError::new(400, "E0000053", format!("field is not valid: {attribute}")));
        }
    }
    let mut pending = vec![&filter];
    while let Some(node) = pending.pop() {
        match node {
            Filter::Compare { attribute, op: CompareOp::Co, .. }
                if attribute == "debugContext.debugData.url" || attribute == "debugContext.debugData.requestUri" =>
            {
                return Err(ApiError::new(
                    400,
                    "E0000031",
                    format!(
                        "The supplied combination of operator and field is not currently supported. Operator: co, Field: {attribute}"
                    ),
                ));
            }
            Filter::And(left, right) | Filter::Or(left, right) => {
                pending.push(left);
                pending.push(right);
            }
            Filter::Not(inner) => pending.push(inner),
            _ => {}
        }
    }
    Ok(filter)
}

/// The `q` keywords, lower-cased.
fn parse_keywords(text: &str) -> Result<Vec<String>, ApiError> {
    let keywords: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    if keywords.iter().any(|keyword| keyword.chars().count() > MAX_KEYWORD_CHARS) {
        return Err(invalid_parameter(
            "q",
            &["Freeform search cannot contain items longer than 40 characters. Please shorten the items in your search or use an advanced filter to query by specific fields."],
        ));
    }
    if keywords.len() > MAX_KEYWORDS {
        return Err(invalid_parameter("q", &["Freeform search cannot contain more than 10 items."]));
    }
    Ok(keywords)
}

/// The words of every text value of `value`, lower-cased: each whole value, its
/// whitespace-separated words and the hyphen-separated parts of those words.
fn collect_words(value: &Value, words: &mut HashSet<String>) {
    match value {
        Value::String(text) => {
            let lower = text.to_lowercase();
            for word in lower.split_whitespace() {
                for part in word.split('-').filter(|part| !part.is_empty()) {
                    words.insert(part.to_owned());
                }
                words.insert(word.to_owned());
            }
            words.insert(lower);
        }
        Value::Array(items) => items.iter().for_each(|item| collect_words(item, words)),
        Value::Object(members) => members.values().for_each(|member| collect_words(member, words)),
        _ => {}
    }
}

/// Whether every keyword is a word of the event.
fn keywords_match(event: &Value, keywords: &[String]) -> bool {
    if keywords.is_empty() {
        return true;
    }
    let mut words = HashSet::new();
    collect_words(event, &mut words);
    keywords.iter().all(|keyword| words.contains(keyword))
}

/// `GET /api/v1/logs`.
pub(crate) fn list_logs(call: &Call) -> Result<Response, ApiError> {
    let path = "/api/v1/logs";
    let limit = match call.query.get("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => match text.trim().parse::<i64>() {
            Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => limit,
            _ => return Err(invalid_parameter("limit", &["must be a whole number between 1 and 1000."])),
        },
    } as usize;
    let descending = match call.query.get("sortOrder") {
        None => false,
        Some(order) if order.eq_ignore_ascii_case("ASCENDING") => false,
        Some(order) if order.eq_ignore_ascii_case("DESCENDING") => true,
        Some(_) => return Err(invalid_parameter("sortOrder", &["must be ASCENDING or DESCENDING."])),
    };
    let now = now_millis();
    let until = date_parameter(call, "until")?;
    let since = match date_parameter(call, "since")? {
        Some(since) if since < now - 180 * MILLIS_PER_DAY => {
            return Err(ApiError::new(
                400,
                "E0000053",
                "Invalid parameter: The since parameter is over 180 days prior to the current day.",
            ))
        }
        Some(since) => since,
        None => until.unwrap_or(now) - 7 * MILLIS_PER_DAY,
    };
    let filter = call.query.get("filter").filter(|text| !text.trim().is_empty()).map(parse_filter).transpose()?;
    let keywords = parse_keywords(call.query.get("q").unwrap_or_default())?;
    let after = match call.query.get("after") {
        None => None,
        Some(text) => Some(decode_cursor(text).ok_or_else(ApiError::invalid_cursor)?),
    };
    let polling = until.is_none() && !descending;
    let delay = i64::try_from(call.shared.log_delay().as_millis()).unwrap_or(i64::MAX);
    let visible_until = now.saturating_sub(delay);

    let org = call.shared.read_org();
    let events = &org.log.events;
    let matches = |event: &StoredEvent| {
        event.published_ms >= since
            && until.is_none_or(|until| event.published_ms < until)
            && filter.as_ref().is_none_or(|filter| filter.matches(&event.event, &EvalOptions::FILTER))
            && keywords_match(&event.event, &keywords)
    };
    let mut page: Vec<&StoredEvent> = Vec::new();
    let mut more = false;
    // The last event looked at: everything up to it was returned or does not match.
    let mut scanned: Option<u64> = None;
    if descending {
        let candidates = events
            .iter()
            .rev()
            .filter(|event| after.is_none_or(|after| event.seq < after) && event.published_ms <= visible_until);
        for event in candidates {
            if !matches(event) {
                continue;
            }
            if page.len() == limit {
                more = true;
                break;
            }
            page.push(event);
        }
    } else {
        let start = after.map_or(0, |after| events.partition_point(|event| event.seq <= after));
        for event in events.range(start..) {
            // Visible events are a prefix of the log: stop at the first one still delayed, so
            // that a polling cursor never passes an event before it can be returned.
            if event.published_ms > visible_until || until.is_some_and(|until| event.published_ms >= until) {
                break;
            }
            if matches(event) {
                if page.len() == limit {
                    more = true;
                    break;
                }
                page.push(event);
            }
            scanned = Some(event.seq);
        }
    }
    let body: Vec<&Value> = page.iter().map(|event| &event.event).collect();
    let next_cursor = if polling {
        Some(scanned.or(after).unwrap_or(0))
    } else if more {
        page.last().map(|event| event.seq)
    } else {
        None
    };
    let response = json_response(StatusCode::OK, &body);
    drop(body);
    drop(org);

    let params: Vec<(&str, &str)> =
        call.query.pairs().iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    let mut links = vec![link(call.base(), path, &params, "self")];
    if let Some(cursor) = next_cursor {
        let encoded = encode_cursor(cursor);
        let mut next: Vec<(&str, &str)> = params.iter().filter(|(name, _)| *name != "after").copied().collect();
        next.push(("after", &encoded));
        links.push(link(call.base(), path, &next, "next"));
    }
    Ok(with_links(response, &links))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_parse_in_the_iso_8601_forms_clients_send() {
        let expected = Some(1_505_692_799_000);
        assert_eq!(parse_instant("2017-09-17T23:59:59Z"), expected);
        assert_eq!(parse_instant("2017-09-17T23:59:59.000Z"), expected);
        assert_eq!(parse_instant("2017-09-17T23:59:59+00:00"), expected);
        assert_eq!(parse_instant("2017-09-17T23:59:59+0000"), expected);
        assert_eq!(parse_instant("2017-09-17T23:59:59 00:00"), expected);
        assert_eq!(parse_instant("2017-09-17T16:59:59.000-07:00"), expected);
        assert_eq!(parse_instant("yesterday"), None);
        assert_eq!(parse_instant("2017-13-40T00:00:00Z"), None);
    }

    #[test]
    fn cursors_round_trip_and_reject_others() {
        assert_eq!(decode_cursor(&encode_cursor(0)), Some(0));
        assert_eq!(decode_cursor(&encode_cursor(12_345)), Some(12_345));
        assert_eq!(decode_cursor("12345"), None);
        assert_eq!(decode_cursor(&URL_SAFE_NO_PAD.encode("okta-sim-cursor:id:00u1")), None);
    }

    #[test]
    fn keywords_match_whole_words_and_hyphen_parts_ignoring_case() {
        let event = json!({
            "displayMessage": "Deactivate Okta user",
            "transaction": { "id": "XOxBw-2JIRnCFd0gG0GjHAAABjY" },
            "target": [{ "alternateId": "ada@example.com", "displayName": "Ada Lovelace" }],
            "version": 0,
        });
        let check = |q: &str| keywords_match(&event, &parse_keywords(q).unwrap());
        assert!(check("deactivate"));
        assert!(check("ADA lovelace"));
        assert!(check("ada@example.com"));
        assert!(check("XOxBw"));
        assert!(check("2jirncfd0gg0gjhaaabjy"));
        assert!(check("xoxbw-2jirncfd0gg0gjhaaabjy"));
        assert!(check(""));
        assert!(!check("deact"));
        assert!(!check("ada grace"));
        assert!(!check("0"));
    }

    #[test]
    fn keywords_are_limited_in_number_and_length() {
        assert!(parse_keywords(&"a ".repeat(10)).is_ok());
        assert_eq!(parse_keywords(&"a ".repeat(11)).unwrap_err().code, "E0000001");
        assert!(parse_keywords(&"x".repeat(40)).is_ok());
        let error = parse_keywords(&"x".repeat(41)).unwrap_err();
        assert!(error.summary.contains("longer than 40 characters"), "{}", error.summary);
    }

    #[test]
    fn filters_must_name_event_fields_and_avoid_published() {
        assert!(parse_filter(r#"eventType eq "user.lifecycle.create" and target.id eq "00u1""#).is_ok());
        assert_eq!(parse_filter(r#"published gt "2024-01-01T00:00:00Z""#).unwrap_err().code, "E0000053");
        assert_eq!(parse_filter(r#"nonsense eq "x""#).unwrap_err().summary, "field is not valid: nonsense");
        assert_eq!(parse_filter(r#"eventType eqq "x""#).unwrap_err().code, "E0000053");
        assert_eq!(parse_filter(r#"debugContext.debugData.url co "/api""#).unwrap_err().code, "E0000031");
        assert!(parse_filter(r#"debugContext.debugData.url sw "/api""#).is_ok());
    }
}
