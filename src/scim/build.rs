//! Building filters in code and writing them as filter text with safe quoting.

use std::fmt::{self, Write as _};

use super::ast::{CompareOp, Filter, ScimValue};

/// Writes `value` as a SCIM (JSON) string literal, quotes included.
///
/// `"` and `\` are escaped, and so are control characters, so the result is always exactly one
/// string token: user input passed through `quote` cannot end the string early and add
/// conditions of its own.
///
/// ```
/// use okta_lifecycle::scim::quote;
///
/// assert_eq!(quote(r#"x" or status eq "ACTIVE"#), r#""x\" or status eq \"ACTIVE""#);
/// ```
pub fn quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for character in value.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            '\u{8}' => quoted.push_str("\\b"),
            '\u{c}' => quoted.push_str("\\f"),
            control if control.is_control() => {
                // Writing to a String cannot fail.
                let _ = write!(quoted, "\\u{:04x}", u32::from(control));
            }
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    quoted
}

impl fmt::Display for ScimValue {
    /// Writes the value as a filter literal: a quoted, escaped string (see [`quote`]), a JSON
    /// number, `true`, `false` or `null`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScimValue::String(text) => formatter.write_str(&quote(text)),
            ScimValue::Number(number) => write!(formatter, "{number}"),
            ScimValue::Bool(value) => write!(formatter, "{value}"),
            ScimValue::Null => formatter.write_str("null"),
        }
    }
}

impl fmt::Display for Filter {
    /// Writes canonical filter text: lower-case operators and keywords, one space between
    /// tokens, string values quoted and escaped, `not (…)` always parenthesised, and other
    /// parentheses only where precedence or left-to-right grouping requires them, so that
    /// `parse(&filter.to_string()) == Ok(filter)`.
    ///
    /// Attribute paths are written as they are: that round trip needs every path to be well
    /// formed (see [`is_valid_attribute_path`](super::is_valid_attribute_path)).
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { attribute, op, value } => write!(formatter, "{attribute} {op} {value}"),
            Filter::Present { attribute } => write!(formatter, "{attribute} pr"),
            Filter::Not(inner) => write!(formatter, "not ({inner})"),
            // Chains are written in a loop so that a long left-nested chain does not recurse.
            Filter::Or(..) => {
                for (index, operand) in self.or_operands().into_iter().enumerate() {
                    if index > 0 {
                        formatter.write_str(" or ")?;
                    }
                    // Only a right operand that is itself an `or` needs parentheses: without
                    // them it would regroup to the left.
                    let parenthesise = index > 0 && matches!(operand, Filter::Or(..));
                    write_operand(formatter, operand, parenthesise)?;
                }
                Ok(())
            }
            Filter::And(..) => {
                for (index, operand) in self.and_operands().into_iter().enumerate() {
                    if index > 0 {
                        formatter.write_str(" and ")?;
                    }
                    let parenthesise =
                        matches!(operand, Filter::Or(..)) || (index > 0 && matches!(operand, Filter::And(..)));
                    write_operand(formatter, operand, parenthesise)?;
                }
                Ok(())
            }
        }
    }
}

fn write_operand(formatter: &mut fmt::Formatter<'_>, operand: &Filter, parenthesise: bool) -> fmt::Result {
    if parenthesise {
        write!(formatter, "({operand})")
    } else {
        write!(formatter, "{operand}")
    }
}

/// Builders. Each comparison builder takes the attribute path and anything that converts into a
/// [`ScimValue`] (`&str`, `String`, `bool`, integers, `f64`):
///
/// ```
/// use okta_lifecycle::scim::Filter;
///
/// let filter = Filter::eq("status", "ACTIVE")
///     .and(Filter::sw("profile.lastName", "Sm").or(Filter::present("profile.nickName")));
/// assert_eq!(
///     filter.to_string(),
///     r#"status eq "ACTIVE" and (profile.lastName sw "Sm" or profile.nickName pr)"#
/// );
/// ```
impl Filter {
    /// `attribute op value` for any operator.
    pub fn compare(attribute: impl Into<String>, op: CompareOp, value: impl Into<ScimValue>) -> Filter {
        Filter::Compare { attribute: attribute.into(), op, value: value.into() }
    }

    /// `attribute eq value`.
    pub fn eq(attribute: impl Into<String>, value: impl Into<ScimValue>) -> Filter {
        Filter::compare(attribute, CompareOp::Eq, value)
    }

    /// `attribute ne value` (not accepted by Okta's `search`; see [`Filter::uses_only`]).
    pub fn ne(attribute: impl Into<String>, value: impl Into<ScimValue>) -> Filter {
        Filter::compare(attribute, CompareOp::Ne, value)
    }

    /// `attribute co value`: contains.
    pub fn co(attribute: impl Into<String>, value: impl Into<ScimValue>) -> Filter {
        Filter::compare(attribute, CompareOp::Co, value)
    }

    /// `attribute sw value`: starts with.
    pub fn sw(attribute: impl Into<String>, value: impl Into<ScimValue>) -> Filter {
        Filter::compare(attribute, CompareOp::Sw, value)
    }

    /// `attribute ew value`: ends with (not accepted by Okta's `search`).
    pub fn ew(attribute: impl Into<String>, value: impl Into<ScimValue>) -> Filter {
        Filter::compare(attribute, CompareOp::Ew, value)
    }

    /// `attribute gt value`.
    pub fn gt(attribute: impl Into<String>, value: impl Into<ScimValue>) -> Filter {
        Filter::compare(attribute, CompareOp::Gt, value)
    }

    /// `attribute ge value`.
    pub fn ge(attribute: impl Into<String>, value: impl Into<ScimValue>) -> Filter {
        Filter::compare(attribute, CompareOp::Ge, value)
    }

    /// `attribute lt value`.
    pub fn lt(attribute: impl Into<String>, value: impl Into<ScimValue>) -> Filter {
        Filter::compare(attribute, CompareOp::Lt, value)
    }

    /// `attribute le value`.
    pub fn le(attribute: impl Into<String>, value: impl Into<ScimValue>) -> Filter {
        Filter::compare(attribute, CompareOp::Le, value)
    }

    /// `attribute pr`: the attribute is present and non-empty.
    pub fn present(attribute: impl Into<String>) -> Filter {
        Filter::Present { attribute: attribute.into() }
    }

    /// `self and other`.
    pub fn and(self, other: Filter) -> Filter {
        Filter::And(Box::new(self), Box::new(other))
    }

    /// `self or other`.
    pub fn or(self, other: Filter) -> Filter {
        Filter::Or(Box::new(self), Box::new(other))
    }

    /// `not (self)`. Called `negate` rather than `not` because an inherent `not` would shadow
    /// [`std::ops::Not`], which `Filter` also implements: `!filter` is the same.
    pub fn negate(self) -> Filter {
        Filter::Not(Box::new(self))
    }

    /// Every attribute path the filter uses, each once, in order of first appearance. Lets a
    /// caller check a filter against Okta's restrictions (e.g. `filter` on users allows only
    /// some attributes) or validate paths with [`is_valid_attribute_path`](super::is_valid_attribute_path).
    pub fn attributes(&self) -> Vec<&str> {
        let mut found: Vec<&str> = Vec::new();
        // An explicit stack rather than recursion, so that any tree depth is fine.
        let mut pending = vec![self];
        while let Some(filter) = pending.pop() {
            match filter {
                Filter::Compare { attribute, .. } | Filter::Present { attribute } => {
                    if !found.contains(&attribute.as_str()) {
                        found.push(attribute);
                    }
                }
                Filter::And(left, right) | Filter::Or(left, right) => {
                    pending.push(right);
                    pending.push(left);
                }
                Filter::Not(inner) => pending.push(inner),
            }
        }
        found
    }

    /// Whether the filter uses only comparisons with operators from `ops`, joined by `and` and
    /// `or`; `false` as soon as it contains `not`, `pr` or any other operator.
    ///
    /// Okta's `filter` parameter: `uses_only(&[CompareOp::Eq])` (plus the ordering operators for
    /// `lastUpdated`, which [`Filter::attributes`] helps check). Okta's `search`: everything but
    /// `ne`, `ew` and `not`, which this cannot express because `pr` is allowed there; check for
    /// those with a `uses_only` over the other seven operators or by walking the tree.
    pub fn uses_only(&self, ops: &[CompareOp]) -> bool {
        let mut pending = vec![self];
        while let Some(filter) = pending.pop() {
            match filter {
                Filter::Compare { op, .. } => {
                    if !ops.contains(op) {
                        return false;
                    }
                }
                Filter::Present { .. } | Filter::Not(_) => return false,
                Filter::And(left, right) | Filter::Or(left, right) => {
                    pending.push(right);
                    pending.push(left);
                }
            }
        }
        true
    }
}

impl std::ops::Not for Filter {
    type Output = Filter;

    /// `!filter` is `not (filter)`, the same as [`Filter::negate`].
    fn not(self) -> Filter {
        self.negate()
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse;
    use super::*;

    #[test]
    fn quote_escapes_quotes_backslashes_and_controls() {
        assert_eq!(quote("plain"), r#""plain""#);
        assert_eq!(quote(""), r#""""#);
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quote("l1\nl2\t\r\u{8}\u{c}"), r#""l1\nl2\t\r\b\f""#);
        assert_eq!(quote("\u{1}\u{7f}"), r#""\u0001\u007f""#);
        assert_eq!(quote("Zürich 😀"), "\"Zürich 😀\"");
    }

    #[test]
    fn injection_attempt_stays_one_comparison() {
        let hostile = r#"x" or status eq "ACTIVE"#;
        let filter = Filter::eq("profile.login", hostile);
        let text = filter.to_string();
        assert_eq!(text, r#"profile.login eq "x\" or status eq \"ACTIVE""#);
        let parsed = parse(&text).unwrap();
        assert_eq!(
            parsed,
            Filter::Compare {
                attribute: "profile.login".into(),
                op: CompareOp::Eq,
                value: ScimValue::String(hostile.into()),
            }
        );
        for attempt in [r#"\"#, r#"\" or a pr or b eq \"#, "x\") or (a pr", "\"\"\""] {
            let parsed = parse(&Filter::co("a", attempt).to_string()).unwrap();
            assert_eq!(parsed, Filter::co("a", attempt), "{attempt}");
        }
    }

    #[test]
    fn escapes_round_trip_through_quote_and_parse() {
        let samples = [
            "",
            "\"",
            "\\",
            "\\\"",
            "/",
            "a\u{0}b",
            "\u{1f}\u{7f}\u{9f}",
            "tab\there\nnewline\r\u{8}\u{c}",
            "é 😀 \u{2028}",
            r#"\u0041"#,
        ];
        for sample in samples {
            let filter = Filter::eq("a", sample);
            assert_eq!(parse(&filter.to_string()), Ok(filter), "{sample:?}");
        }
    }

    #[test]
    fn display_writes_canonical_text() {
        let cases = [
            (Filter::eq("status", "ACTIVE"), r#"status eq "ACTIVE""#),
            (Filter::gt("age", 30), "age gt 30"),
            (Filter::le("score", 1.5), "score le 1.5"),
            (Filter::ne("flag", true), "flag ne true"),
            (Filter::eq("manager", ScimValue::Null), "manager eq null"),
            (Filter::present("a"), "a pr"),
            (Filter::present("a").negate(), "not (a pr)"),
            (!Filter::present("a"), "not (a pr)"),
            (Filter::present("a").or(Filter::present("b")).or(Filter::present("c")), "a pr or b pr or c pr"),
            (Filter::present("a").or(Filter::present("b").or(Filter::present("c"))), "a pr or (b pr or c pr)"),
            (Filter::present("a").and(Filter::present("b").and(Filter::present("c"))), "a pr and (b pr and c pr)"),
            (Filter::present("a").or(Filter::present("b")).and(Filter::present("c")), "(a pr or b pr) and c pr"),
            (
                Filter::present("a").and(Filter::present("b")).or(Filter::present("c").and(Filter::present("d"))),
                "a pr and b pr or c pr and d pr",
            ),
        ];
        for (filter, text) in cases {
            assert_eq!(filter.to_string(), text);
            assert_eq!(parse(text), Ok(filter), "{text}");
        }
    }

    #[test]
    fn display_parse_round_trip() {
        let sources = [
            r#"status eq "ACTIVE""#,
            r#"STATUS EQ "ACTIVE" AND lastUpdated GT "2013-06-01T00:00:00.000Z""#,
            r#"(status lt "STAGED" or status gt "STAGED") and profile.department eq "Eng""#,
            r#"not (profile.login sw "adm" or profile.email ew "@example.com") and id pr"#,
            r#"a eq 1 or (b eq -2.5e-3 and (c eq true or d eq false)) or e eq null"#,
            r#"((a pr and b pr) and (c pr and (d pr or e pr)))"#,
            r#"not (not (a co "x\"y\\z\u0001"))"#,
            r#"type.id eq "OKTA_GROUP" and profile.name sw "Eng""#,
            "x eq 18446744073709551615 or y eq -9223372036854775808 or z eq 1e300",
        ];
        for source in sources {
            let filter = parse(source).unwrap();
            let text = filter.to_string();
            assert_eq!(parse(&text), Ok(filter.clone()), "{source} -> {text}");
            assert_eq!(parse(&text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn long_built_chains_display_without_recursing_per_link() {
        let chain = (0..100_000).fold(Filter::eq("id", 0), |chain, id| chain.or(Filter::eq("id", id)));
        let text = chain.to_string();
        assert!(text.starts_with("id eq 0 or id eq 0 or id eq 1"));
        assert_eq!(text.matches(" or ").count(), 100_000);
        assert_eq!(chain.attributes(), vec!["id"]);
        assert!(chain.uses_only(&[CompareOp::Eq]));
        // Dropping a tree that deep recurses; unwind it by hand.
        let mut current = chain;
        while let Filter::Or(left, _) = current {
            current = *left;
        }
    }

    #[test]
    fn attributes_lists_each_path_once_in_order() {
        let filter =
            parse(r#"status eq "A" and (profile.login sw "x" or not (status pr)) and type.id eq "1""#).unwrap();
        assert_eq!(filter.attributes(), vec!["status", "profile.login", "type.id"]);
        assert_eq!(Filter::present("a").attributes(), vec!["a"]);
    }

    #[test]
    fn uses_only_checks_operators_and_forbids_not_and_present() {
        let okta_filter =
            parse(r#"status eq "ACTIVE" or (lastUpdated gt "2013-06-01T00:00:00.000Z" and type.id eq "x")"#).unwrap();
        assert!(okta_filter.uses_only(&[CompareOp::Eq, CompareOp::Gt]));
        assert!(!okta_filter.uses_only(&[CompareOp::Eq]));
        assert!(!Filter::present("a").uses_only(&CompareOp::ALL));
        assert!(!Filter::eq("a", 1).negate().uses_only(&CompareOp::ALL));
        assert!(!Filter::eq("a", 1).and(Filter::present("b")).uses_only(&CompareOp::ALL));
        assert!(Filter::ew("a", "x").uses_only(&[CompareOp::Ew]));
        assert!(!Filter::ew("a", "x").uses_only(&[]));
    }

    #[test]
    fn every_builder_makes_its_operator() {
        type Builder = fn(&'static str, &'static str) -> Filter;
        let builders: [(Builder, CompareOp); 9] = [
            (|a, v| Filter::eq(a, v), CompareOp::Eq),
            (|a, v| Filter::ne(a, v), CompareOp::Ne),
            (|a, v| Filter::co(a, v), CompareOp::Co),
            (|a, v| Filter::sw(a, v), CompareOp::Sw),
            (|a, v| Filter::ew(a, v), CompareOp::Ew),
            (|a, v| Filter::gt(a, v), CompareOp::Gt),
            (|a, v| Filter::ge(a, v), CompareOp::Ge),
            (|a, v| Filter::lt(a, v), CompareOp::Lt),
            (|a, v| Filter::le(a, v), CompareOp::Le),
        ];
        for (build, op) in builders {
            assert_eq!(
                build("a", "v"),
                Filter::Compare { attribute: "a".into(), op, value: ScimValue::String("v".into()) }
            );
        }
    }
}
