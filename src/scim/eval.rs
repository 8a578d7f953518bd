//! Evaluating a filter against a JSON resource (an Okta user or group, an identity record).

use std::borrow::Cow;
use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use super::ast::{CompareOp, Filter, ScimValue};

/// How [`Filter::matches`] compares values.
#[derive(Debug, Clone, Copy, Default)]
pub struct EvalOptions {
    /// Compare string values ignoring case (Unicode lower-casing), as Okta's `search`
    /// parameter does. `false` (the default) compares them exactly, as Okta's `filter` parameter
    /// does. Attribute names are case-sensitive either way.
    pub case_insensitive_values: bool,
}

impl EvalOptions {
    /// The semantics of Okta's `search` parameter: values compared case-insensitively.
    pub const SEARCH: EvalOptions = EvalOptions { case_insensitive_values: true };

    /// The semantics of Okta's `filter` parameter: values compared exactly.
    pub const FILTER: EvalOptions = EvalOptions { case_insensitive_values: false };
}

impl Filter {
    /// Whether `resource` (a JSON object) satisfies the filter.
    ///
    /// * An attribute path is looked up one `.`-separated segment at a time, each a
    ///   case-sensitive object key; where a segment reaches an array of objects, the lookup
    ///   continues in every element.
    /// * If the value found is an array, a comparison matches when any element matches.
    /// * A missing or `null` attribute fails every comparison except `eq null`; `pr` needs a
    ///   value that is not `null`, `""`, `[]` or `{}`.
    /// * Strings: `eq`, `ne`, `co`, `sw`, `ew` compare text (lower-cased first when
    ///   [`EvalOptions::case_insensitive_values`]); `gt`, `ge`, `lt`, `le` compare instants when
    ///   both sides are RFC 3339 timestamps, otherwise text.
    /// * Numbers compare numerically; a string compared with a number is compared by its
    ///   numeric value if it has one. Booleans support only `eq` and `ne`. Any other pairing of
    ///   types does not match (not even with `ne`).
    ///
    /// ```
    /// use okta_lifecycle::scim::{parse, EvalOptions};
    /// use serde_json::json;
    ///
    /// let user = json!({"status": "ACTIVE", "profile": {"department": "Engineering"}});
    /// let filter = parse(r#"status eq "active" and profile.department sw "eng""#).unwrap();
    /// assert!(filter.matches(&user, &EvalOptions::SEARCH));
    /// assert!(!filter.matches(&user, &EvalOptions::FILTER));
    /// ```
    pub fn matches(&self, resource: &Value, options: &EvalOptions) -> bool {
        match self {
            // Chains are walked in a loop so that a long left-nested chain does not recurse.
            Filter::And(..) => self.and_operands().into_iter().all(|operand| operand.matches(resource, options)),
            Filter::Or(..) => self.or_operands().into_iter().any(|operand| operand.matches(resource, options)),
            Filter::Not(inner) => !inner.matches(resource, options),
            Filter::Present { attribute } => lookup(resource, attribute).into_iter().any(is_present),
            Filter::Compare { attribute, op, value } => {
                let candidates: Vec<&Value> =
                    lookup(resource, attribute).into_iter().filter(|found| !found.is_null()).collect();
                if candidates.is_empty() {
                    return *op == CompareOp::Eq && *value == ScimValue::Null;
                }
                candidates.into_iter().any(|actual| compare(actual, *op, value, options))
            }
        }
    }
}

/// The values at `path` in `resource`, with arrays (at the end of the path or along it)
/// opened up into their elements.
fn lookup<'a>(resource: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![resource];
    for segment in path.split('.') {
        let mut next = Vec::new();
        for value in current {
            match value {
                Value::Object(object) => next.extend(object.get(segment)),
                Value::Array(elements) => {
                    next.extend(elements.iter().filter_map(|element| element.as_object()?.get(segment)))
                }
                _ => {}
            }
        }
        current = next;
    }
    let mut leaves = Vec::with_capacity(current.len());
    for value in current {
        match value {
            Value::Array(elements) => leaves.extend(elements),
            other => leaves.push(other),
        }
    }
    leaves
}

fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(text) => !text.is_empty(),
        Value::Array(elements) => !elements.is_empty(),
        Value::Object(object) => !object.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// Compares one non-null attribute value with the filter's literal.
fn compare(actual: &Value, op: CompareOp, expected: &ScimValue, options: &EvalOptions) -> bool {
    match (actual, expected) {
        (_, ScimValue::Null) => op == CompareOp::Ne,
        (Value::String(actual), ScimValue::String(expected)) => {
            compare_strings(actual, op, expected, options.case_insensitive_values)
        }
        (Value::Number(actual), ScimValue::Number(expected)) => compare_numbers(actual.as_f64(), op, expected.as_f64()),
        (Value::String(actual), ScimValue::Number(expected)) => {
            compare_numbers(parse_number(actual), op, expected.as_f64())
        }
        (Value::Number(actual), ScimValue::String(expected)) => {
            compare_numbers(actual.as_f64(), op, parse_number(expected))
        }
        (Value::Bool(actual), ScimValue::Bool(expected)) => match op {
            CompareOp::Eq => actual == expected,
            CompareOp::Ne => actual != expected,
            _ => false,
        },
        _ => false,
    }
}

fn compare_strings(actual: &str, op: CompareOp, expected: &str, case_insensitive: bool) -> bool {
    let (folded_actual, folded_expected) = if case_insensitive {
        (Cow::Owned(actual.to_lowercase()), Cow::Owned(expected.to_lowercase()))
    } else {
        (Cow::Borrowed(actual), Cow::Borrowed(expected))
    };
    match op {
        CompareOp::Eq => folded_actual == folded_expected,
        CompareOp::Ne => folded_actual != folded_expected,
        CompareOp::Co => folded_actual.contains(&*folded_expected),
        CompareOp::Sw => folded_actual.starts_with(&*folded_expected),
        CompareOp::Ew => folded_actual.ends_with(&*folded_expected),
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
            let ordering = match (parse_timestamp(actual), parse_timestamp(expected)) {
                (Some(actual_instant), Some(expected_instant)) => actual_instant.cmp(&expected_instant),
                _ => folded_actual.cmp(&folded_expected),
            };
            ordering_satisfies(ordering, op)
        }
    }
}

fn compare_numbers(actual: Option<f64>, op: CompareOp, expected: Option<f64>) -> bool {
    let (Some(actual), Some(expected)) = (actual, expected) else {
        return false;
    };
    match op {
        CompareOp::Eq => actual == expected,
        CompareOp::Ne => actual != expected,
        CompareOp::Gt => actual > expected,
        CompareOp::Ge => actual >= expected,
        CompareOp::Lt => actual < expected,
        CompareOp::Le => actual <= expected,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn ordering_satisfies(ordering: Ordering, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Ge => ordering != Ordering::Less,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// The numeric value of a string such as `"42"` or `"1.5"`; `None` for anything else,
/// including Rust's own spellings `"inf"` and `"NaN"`.
fn parse_number(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|number| number.is_finite())
}

fn parse_timestamp(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text).ok()
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse;
    use super::*;
    use serde_json::json;

    const EXACT: EvalOptions = EvalOptions::FILTER;
    const FOLDED: EvalOptions = EvalOptions::SEARCH;

    fn user() -> Value {
        json!({
            "id": "00u1",
            "status": "ACTIVE",
            "lastUpdated": "2013-07-02T21:36:25.344Z",
            "type": {"id": "oty1"},
            "profile": {
                "login": "Isaac.Brock@example.com",
                "firstName": "Isaac",
                "nickName": "",
                "manager": null,
                "age": 42,
                "score": 7.5,
                "employeeNumber": "0042",
                "admin": false,
                "roles": ["Reader", "Writer"],
                "tags": [],
                "emails": [
                    {"type": "work", "value": "isaac@work.example"},
                    {"type": "home", "value": "isaac@home.example"}
                ],
                "address": {}
            }
        })
    }

    fn check(text: &str, options: &EvalOptions) -> bool {
        parse(text).expect(text).matches(&user(), options)
    }

    fn assert_both(text: &str, exact: bool, folded: bool) {
        assert_eq!(check(text, &EXACT), exact, "exact: {text}");
        assert_eq!(check(text, &FOLDED), folded, "case-insensitive: {text}");
    }

    #[test]
    fn default_options_are_exact() {
        assert!(!EvalOptions::default().case_insensitive_values);
    }

    #[test]
    fn string_operators_in_both_case_modes() {
        assert_both(r#"status eq "ACTIVE""#, true, true);
        assert_both(r#"status eq "active""#, false, true);
        assert_both(r#"status eq "ACTIV""#, false, false);
        assert_both(r#"status ne "active""#, true, false);
        assert_both(r#"status ne "ACTIVE""#, false, false);
        assert_both(r#"profile.login co "brock@""#, false, true);
        assert_both(r#"profile.login co "Brock@""#, true, true);
        assert_both(r#"profile.login co "nobody""#, false, false);
        assert_both(r#"profile.login sw "isaac""#, false, true);
        assert_both(r#"profile.login sw "Isaac""#, true, true);
        assert_both(r#"profile.login sw "Brock""#, false, false);
        assert_both(r#"profile.login ew "EXAMPLE.COM""#, false, true);
        assert_both(r#"profile.login ew "example.com""#, true, true);
        assert_both(r#"profile.login ew "example""#, false, false);
    }

    #[test]
    fn string_ordering_in_both_case_modes() {
        // "ACTIVE" < "STAGED" either way; "ACTIVE" vs "b" depends on case folding.
        assert_both(r#"status lt "STAGED""#, true, true);
        assert_both(r#"status gt "STAGED""#, false, false);
        assert_both(r#"(status lt "STAGED" or status gt "STAGED")"#, true, true);
        assert_both(r#"status ge "ACTIVE""#, true, true);
        assert_both(r#"status le "ACTIVE""#, true, true);
        assert_both(r#"status gt "ACTIVE""#, false, false);
        assert_both(r#"status lt "b""#, true, true);
        assert_both(r#"status gt "B""#, false, false);
        assert_both(r#"status lt "active""#, true, false);
        assert_both(r#"status ge "active""#, false, true);
    }

    #[test]
    fn timestamps_compare_as_instants() {
        assert_both(r#"lastUpdated gt "2013-06-01T00:00:00.000Z""#, true, true);
        assert_both(r#"lastUpdated lt "2013-06-01T00:00:00.000Z""#, false, false);
        // Same instant written with another offset: text order would say otherwise.
        assert_both(r#"lastUpdated ge "2013-07-02T23:36:25.344+02:00""#, true, true);
        assert_both(r#"lastUpdated le "2013-07-02T23:36:25.344+02:00""#, true, true);
        assert_both(r#"lastUpdated gt "2013-07-02T23:36:25.344+02:00""#, false, false);
        // One millisecond later.
        assert_both(r#"lastUpdated lt "2013-07-02T21:36:25.345Z""#, true, true);
        // Later in text but earlier as an instant (the offset moves it back a day).
        assert_both(r#"lastUpdated gt "2013-07-03T10:00:00+14:00""#, true, true);
    }

    #[test]
    fn numbers_compare_numerically() {
        assert_both("profile.age eq 42", true, true);
        assert_both("profile.age eq 42.0", true, true);
        assert_both("profile.age ne 41", true, true);
        assert_both("profile.age gt 41.5", true, true);
        assert_both("profile.age ge 42", true, true);
        assert_both("profile.age lt 100", true, true);
        assert_both("profile.age le 41", false, false);
        assert_both("profile.age co 4", false, false);
        assert_both("profile.score gt 7", true, true);
        assert_both("profile.score lt 7.25", false, false);
        // A numeric string against a number, and a number against a numeric string.
        assert_both("profile.employeeNumber eq 42", true, true);
        assert_both("profile.employeeNumber gt 100", false, false);
        assert_both(r#"profile.age eq "42""#, true, true);
        assert_both("status eq 1", false, false);
        assert_both("status ne 1", false, false);
    }

    #[test]
    fn booleans_support_only_equality() {
        assert_both("profile.admin eq false", true, true);
        assert_both("profile.admin ne true", true, true);
        assert_both("profile.admin eq true", false, false);
        assert_both("profile.admin gt true", false, false);
        assert_both(r#"profile.admin eq "false""#, false, false);
    }

    #[test]
    fn arrays_match_when_any_element_matches() {
        assert_both(r#"profile.roles eq "Writer""#, true, true);
        assert_both(r#"profile.roles eq "writer""#, false, true);
        assert_both(r#"profile.roles sw "Re""#, true, true);
        assert_both(r#"profile.roles eq "Admin""#, false, false);
        assert_both(r#"profile.emails.value ew "@home.example""#, true, true);
        assert_both(r#"profile.emails.type eq "other""#, false, false);
        assert_both("profile.roles pr", true, true);
        assert_both("profile.tags pr", false, false);
        assert_both(r#"profile.tags eq "x""#, false, false);
        assert_both("profile.tags eq null", true, true);
    }

    #[test]
    fn missing_and_null_attributes() {
        for attribute in ["profile.missing", "profile.manager", "missing.deeper", "status.deeper"] {
            assert_both(&format!("{attribute} pr"), false, false);
            assert_both(&format!("{attribute} eq null"), true, true);
            assert_both(&format!("{attribute} ne null"), false, false);
            assert_both(&format!(r#"{attribute} eq "x""#), false, false);
            assert_both(&format!(r#"{attribute} ne "x""#), false, false);
            assert_both(&format!("{attribute} gt 1"), false, false);
            assert_both(&format!("not ({attribute} pr)"), true, true);
        }
        assert_both("status eq null", false, false);
        assert_both("status ne null", true, true);
        assert_both("profile.nickName pr", false, false);
        assert_both("profile.address pr", false, false);
        assert_both("type pr", true, true);
        assert_both(r#"type eq "oty1""#, false, false);
        assert_both(r#"type.id eq "oty1""#, true, true);
    }

    #[test]
    fn attribute_names_are_case_sensitive_in_both_modes() {
        assert_both(r#"STATUS eq "ACTIVE""#, false, false);
        assert_both(r#"profile.FirstName eq "Isaac""#, false, false);
    }

    #[test]
    fn logical_operators_combine() {
        assert_both(r#"status eq "ACTIVE" and profile.age gt 40"#, true, true);
        assert_both(r#"status eq "ACTIVE" and profile.age gt 50"#, false, false);
        assert_both(r#"status eq "STAGED" or profile.age gt 40"#, true, true);
        assert_both(r#"status eq "STAGED" or profile.age gt 50"#, false, false);
        assert_both(r#"not (status eq "STAGED")"#, true, true);
        assert_both(r#"not (status eq "active")"#, true, false);
        assert!(!Filter::eq("status", "ACTIVE").negate().matches(&user(), &EXACT));
    }

    #[test]
    fn non_object_resources_match_nothing_but_eq_null() {
        for resource in [json!(null), json!("text"), json!([1, 2]), json!(5)] {
            assert!(!Filter::present("a").matches(&resource, &EXACT));
            assert!(!Filter::eq("a", "x").matches(&resource, &EXACT));
            assert!(Filter::eq("a", ScimValue::Null).matches(&resource, &EXACT));
        }
    }

    #[test]
    fn policy_condition_on_identity_record() {
        let record = json!({"status": "Active", "department": "Sales"});
        let condition: Filter = r#"status eq "Active""#.parse().unwrap();
        assert!(condition.matches(&record, &EXACT));
        assert!(!condition.matches(&json!({"status": "Inactive"}), &EXACT));
    }

    #[test]
    fn long_parsed_chains_evaluate() {
        let text = (0..1000).map(|id| format!("id eq \"{id}\"")).collect::<Vec<_>>().join(" or ");
        let filter = parse(&text).unwrap();
        assert!(filter.matches(&json!({"id": "999"}), &EXACT));
        assert!(!filter.matches(&json!({"id": "1000"}), &EXACT));
    }
}
