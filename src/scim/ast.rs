//! The syntax tree of a SCIM filter, its values and its error type.

/// A comparison operator of the SCIM filter language (RFC 7644 §3.4.2.2).
///
/// Okta's `filter` parameter accepts only [`CompareOp::Eq`] (and the ordering operators on
/// `lastUpdated`); its `search` parameter accepts everything except [`CompareOp::Ne`] and
/// [`CompareOp::Ew`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `eq`: equal.
    Eq,
    /// `ne`: not equal.
    Ne,
    /// `co`: the attribute's string value contains the given substring.
    Co,
    /// `sw`: the attribute's string value starts with the given prefix.
    Sw,
    /// `ew`: the attribute's string value ends with the given suffix.
    Ew,
    /// `gt`: greater than.
    Gt,
    /// `ge`: greater than or equal.
    Ge,
    /// `lt`: less than.
    Lt,
    /// `le`: less than or equal.
    Le,
}

impl CompareOp {
    /// Every comparison operator, in the order of RFC 7644's table.
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// The operator's keyword as written in a filter, in lower case (`"eq"`, `"sw"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// The operator named by `keyword`, compared case-insensitively (`EQ`, `Eq` and `eq` all
    /// name [`CompareOp::Eq`]); `None` for anything else, including `pr`.
    pub fn from_keyword(keyword: &str) -> Option<CompareOp> {
        CompareOp::ALL.into_iter().find(|op| op.as_str().eq_ignore_ascii_case(keyword))
    }
}

impl std::fmt::Display for CompareOp {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A literal value on the right-hand side of a comparison: a JSON string, number, boolean or
/// `null`.
#[derive(Debug, Clone, PartialEq)]
pub enum ScimValue {
    /// A string literal (unescaped content, without the quotes).
    String(String),
    /// A JSON number.
    Number(serde_json::Number),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

impl From<&str> for ScimValue {
    fn from(value: &str) -> Self {
        ScimValue::String(value.to_owned())
    }
}

impl From<&String> for ScimValue {
    fn from(value: &String) -> Self {
        ScimValue::String(value.clone())
    }
}

impl From<String> for ScimValue {
    fn from(value: String) -> Self {
        ScimValue::String(value)
    }
}

impl From<bool> for ScimValue {
    fn from(value: bool) -> Self {
        ScimValue::Bool(value)
    }
}

// i32 and u32 are here so that an unsuffixed literal (`Filter::eq("age", 30)`, which Rust
// types as i32) converts.
impl From<i32> for ScimValue {
    fn from(value: i32) -> Self {
        ScimValue::Number(value.into())
    }
}

impl From<u32> for ScimValue {
    fn from(value: u32) -> Self {
        ScimValue::Number(value.into())
    }
}

impl From<i64> for ScimValue {
    fn from(value: i64) -> Self {
        ScimValue::Number(value.into())
    }
}

impl From<u64> for ScimValue {
    fn from(value: u64) -> Self {
        ScimValue::Number(value.into())
    }
}

impl From<f64> for ScimValue {
    /// A finite `f64` becomes a number; NaN and the infinities, which JSON cannot write,
    /// become [`ScimValue::Null`].
    fn from(value: f64) -> Self {
        serde_json::Number::from_f64(value).map_or(ScimValue::Null, ScimValue::Number)
    }
}

impl From<serde_json::Number> for ScimValue {
    fn from(value: serde_json::Number) -> Self {
        ScimValue::Number(value)
    }
}

/// A parsed SCIM filter expression.
///
/// Build one with [`parse`](super::parse) (or `str::parse`) or with the builder methods
/// ([`Filter::eq`], [`Filter::and`], …); write it back as filter text with `Display`
/// (`to_string()`), which quotes and escapes every string value so that it cannot change the
/// filter's structure; evaluate it against JSON with [`Filter::matches`].
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attribute op value`, e.g. `profile.department eq "Engineering"`.
    Compare {
        /// The dotted attribute path, e.g. `profile.department`.
        attribute: String,
        /// The comparison operator.
        op: CompareOp,
        /// The literal compared against.
        value: ScimValue,
    },
    /// `attribute pr`: the attribute has a non-empty value.
    Present {
        /// The dotted attribute path.
        attribute: String,
    },
    /// `left and right`.
    And(Box<Filter>, Box<Filter>),
    /// `left or right`.
    Or(Box<Filter>, Box<Filter>),
    /// `not (inner)`. Okta itself does not accept `not`.
    Not(Box<Filter>),
}

impl Filter {
    /// The operands of a left-nested chain of `and` (as `a and b and c` parses), leftmost
    /// first, collected without recursion so that long chains cannot exhaust the stack.
    /// A filter that is not an `And` is its own single operand.
    pub(super) fn and_operands(&self) -> Vec<&Filter> {
        self.left_chain(|filter| match filter {
            Filter::And(left, right) => Some((left, right)),
            _ => None,
        })
    }

    /// Like [`Filter::and_operands`], for `or`.
    pub(super) fn or_operands(&self) -> Vec<&Filter> {
        self.left_chain(|filter| match filter {
            Filter::Or(left, right) => Some((left, right)),
            _ => None,
        })
    }

    fn left_chain<'a>(&'a self, split: impl Fn(&'a Filter) -> Option<(&'a Filter, &'a Filter)>) -> Vec<&'a Filter> {
        let mut operands = Vec::new();
        let mut current = self;
        while let Some((left, right)) = split(current) {
            operands.push(right);
            current = left;
        }
        operands.push(current);
        operands.reverse();
        operands
    }
}

/// Why a filter text could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid SCIM filter at character {position}: {message}")]
pub struct ScimError {
    /// What is wrong, e.g. `unterminated string`.
    pub message: String,
    /// The 0-based offset, in characters (not bytes), of the offending token in the input.
    pub position: usize,
}

impl ScimError {
    pub(super) fn new(message: impl Into<String>, position: usize) -> ScimError {
        ScimError { message: message.into(), position }
    }
}

/// Whether `path` is a well-formed attribute path: characters from `[A-Za-z0-9_$.:-]`,
/// starting with an ASCII letter, with no empty `.`-separated segment.
///
/// Filter text written by `Display` can only be parsed back when every attribute path in the
/// filter is well formed; check attribute names that come from outside the program with this
/// (or with [`Filter::attributes`]) before building a filter from them.
pub fn is_valid_attribute_path(path: &str) -> bool {
    let starts_with_letter = path.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    starts_with_letter && path.chars().all(is_attribute_char) && path.split('.').all(|segment| !segment.is_empty())
}

pub(super) fn is_attribute_char(character: char) -> bool {
    character.is_ascii_alphanumeric() || matches!(character, '_' | '$' | '.' | ':' | '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_keywords_are_case_insensitive_and_round_trip() {
        for op in CompareOp::ALL {
            assert_eq!(CompareOp::from_keyword(op.as_str()), Some(op));
            assert_eq!(CompareOp::from_keyword(&op.as_str().to_uppercase()), Some(op));
            assert_eq!(op.to_string(), op.as_str());
        }
        assert_eq!(CompareOp::from_keyword("Eq"), Some(CompareOp::Eq));
        assert_eq!(CompareOp::from_keyword("pr"), None);
        assert_eq!(CompareOp::from_keyword("equals"), None);
    }

    #[test]
    fn value_conversions() {
        assert_eq!(ScimValue::from("a"), ScimValue::String("a".into()));
        assert_eq!(ScimValue::from(String::from("b")), ScimValue::String("b".into()));
        assert_eq!(ScimValue::from(true), ScimValue::Bool(true));
        assert_eq!(ScimValue::from(30), ScimValue::Number(30.into()));
        assert_eq!(ScimValue::from(-5_i64), ScimValue::Number((-5).into()));
        assert_eq!(ScimValue::from(u64::MAX), ScimValue::Number(u64::MAX.into()));
        assert_eq!(ScimValue::from(1.5), ScimValue::Number(serde_json::Number::from_f64(1.5).unwrap()));
        assert_eq!(ScimValue::from(f64::NAN), ScimValue::Null);
        assert_eq!(ScimValue::from(f64::INFINITY), ScimValue::Null);
    }

    #[test]
    fn attribute_path_validation() {
        for valid in [
            "status",
            "profile.department",
            "type.id",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            "a_b$c-d",
        ] {
            assert!(is_valid_attribute_path(valid), "{valid}");
        }
        for invalid in ["", "1abc", "_x", ".a", "a.", "a..b", "a b", "a\"", "Zürich", "a)"] {
            assert!(!is_valid_attribute_path(invalid), "{invalid}");
        }
    }

    #[test]
    fn left_chains_flatten_in_order() {
        let a = Filter::Present { attribute: "a".into() };
        let b = Filter::Present { attribute: "b".into() };
        let c = Filter::Present { attribute: "c".into() };
        let chain = Filter::Or(Box::new(Filter::Or(Box::new(a.clone()), Box::new(b.clone()))), Box::new(c.clone()));
        assert_eq!(chain.or_operands(), vec![&a, &b, &c]);
        assert_eq!(chain.and_operands(), vec![&chain]);
    }
}
