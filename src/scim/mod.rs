//! The SCIM filter language (RFC 7644 §3.4.2.2) as Okta uses it.
//!
//! One implementation serves three users:
//!
//! * the HTTP client builds `search` and `filter` query values with [`Filter`]'s builders and
//!   writes them with `Display`, which quotes every string ([`quote`]) so that user input
//!   cannot change a query's structure;
//! * the simulator parses the `search`/`filter` it receives ([`parse`]) and evaluates it
//!   against its JSON users and groups ([`Filter::matches`]);
//! * policy conditions evaluate filters such as `status eq "Active"` against identity records.
//!
//! The language: comparisons `attribute op value` with `eq ne co sw ew gt ge lt le`, presence
//! `attribute pr`, `and`, `or`, `not (…)` and parentheses; precedence `not` > `and` > `or`.
//! Operators and logical words are case-insensitive, attribute paths (`profile.department`,
//! `type.id`) case-sensitive. Values are JSON strings, numbers, `true`, `false` and `null`.
//!
//! What Okta accepts is narrower than the language:
//!
//! * `filter` on users: only `eq` (and `gt`/`ge`/`lt`/`le` on `lastUpdated`), `and`, `or`;
//!   values compared case-sensitively ([`EvalOptions::FILTER`]).
//! * `search`: `eq sw co gt ge lt le pr`, `and`, `or`, parentheses, no `ne`/`ew`/`not`;
//!   values compared case-insensitively ([`EvalOptions::SEARCH`]). Write "not equal" as
//!   `(status lt "STAGED" or status gt "STAGED")`.
//!
//! [`Filter::uses_only`] and [`Filter::attributes`] let a caller check a filter against
//! those restrictions before sending it.
//!
//! ```
//! use okta_lifecycle::scim::{parse, EvalOptions, Filter};
//! use serde_json::json;
//!
//! let query = Filter::eq("profile.department", "R&D \"West\"").and(Filter::present("profile.mobilePhone"));
//! assert_eq!(
//!     query.to_string(),
//!     r#"profile.department eq "R&D \"West\"" and profile.mobilePhone pr"#
//! );
//! assert_eq!(parse(&query.to_string()), Ok(query.clone()));
//!
//! let user = json!({"profile": {"department": "r&d \"west\"", "mobilePhone": "555"}});
//! assert!(query.matches(&user, &EvalOptions::SEARCH));
//! ```

mod ast;
mod build;
mod eval;
mod parse;

pub use ast::{is_valid_attribute_path, CompareOp, Filter, ScimError, ScimValue};
pub use build::quote;
pub use eval::EvalOptions;
pub use parse::{parse, MAX_COMPARISONS, MAX_NESTING_DEPTH};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const VALID_FILTERS: [&str; 8] = [
        r#"status eq "ACTIVE""#,
        r#"profile.login eq "x\" or status eq \"ACTIVE""#,
        r#"(status lt "STAGED" or status gt "STAGED") and lastUpdated gt "2013-06-01T00:00:00.000Z""#,
        r#"not (profile.department sw "Eng") or type.id eq "OKTA_GROUP""#,
        r#"a eq -1.5e-3 and b eq true and c eq null and d pr"#,
        r#"x co "\u00e9\uD83D\uDE00\n\\" OR Y Ew "z""#,
        r#"((a pr) and not(b ge 10))"#,
        "a eq 18446744073709551615",
    ];

    /// A small deterministic generator, so that the fuzz inputs are the same on every run.
    struct Xorshift(u64);

    impl Xorshift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, bound: usize) -> usize {
            // The bound is small, so the modulo bias does not matter here.
            usize::try_from(self.next() % bound as u64).unwrap_or(0)
        }
    }

    /// Parses `input`; when it parses, checks the round trip and evaluates it. Panics only on
    /// a broken invariant, which is what the callers are looking for.
    fn exercise(input: &str) -> bool {
        let resource = json!({"a": 1, "b": [true, "x"], "status": "ACTIVE", "profile": {"login": "x"}});
        match parse(input) {
            Ok(filter) => {
                let text = filter.to_string();
                assert_eq!(parse(&text), Ok(filter.clone()), "{input:?} -> {text:?}");
                filter.matches(&resource, &EvalOptions::SEARCH);
                filter.matches(&resource, &EvalOptions::FILTER);
                true
            }
            Err(error) => {
                assert!(error.position <= input.chars().count(), "{input:?}: {error}");
                assert!(!error.message.is_empty());
                false
            }
        }
    }

    #[test]
    fn every_prefix_of_valid_filters_parses_or_errors_without_panicking() {
        let mut parsed = 0;
        let mut rejected = 0;
        for filter in VALID_FILTERS {
            assert!(exercise(filter), "{filter}");
            let characters: Vec<char> = filter.chars().collect();
            for end in 0..characters.len() {
                let prefix: String = characters[..end].iter().collect();
                if exercise(&prefix) {
                    parsed += 1;
                } else {
                    rejected += 1;
                }
            }
        }
        assert!(parsed > 0 && rejected > 0, "{parsed} parsed, {rejected} rejected");
    }

    #[test]
    fn junk_and_random_input_never_panics() {
        let junk = [
            "",
            " ",
            "(",
            ")",
            "((",
            "))",
            "()",
            "\"",
            "\\",
            "\"\\",
            "\"\\u",
            "\"\\uD800\\u",
            "\"\\uD800\\uZZZZ\"",
            "-",
            "--1",
            "1",
            "a",
            "a eq",
            "a eq -",
            "a eq 1.",
            "a eq .5",
            "a eq +1",
            "a eq 1e",
            "not",
            "not (",
            "not ()",
            "and",
            "or",
            "a pr and or b pr",
            "a pr or",
            "a[",
            "a eq \"x\" \"y\"",
            "é",
            "a.b. pr",
            "\u{0}",
            "a eq \"\u{0}\"",
            "😀 pr",
            "a eq 😀",
            "a\u{3000}pr",
            "a eq nulll",
            "a eq True",
            "ñ eq 1",
        ];
        for input in junk {
            exercise(input);
        }
        let alphabet: Vec<char> = "aZ9_.$:-()\" \\/uUdD8Eeq+eq or and not pr 0x\u{e9}\u{1F600}\t\n".chars().collect();
        let mut random = Xorshift(0x9E37_79B9_7F4A_7C15);
        for _ in 0..5_000 {
            let length = random.below(24);
            let input: String = (0..length).map(|_| alphabet[random.below(alphabet.len())]).collect();
            exercise(&input);
        }
        for _ in 0..5_000 {
            let valid = random_filter_text(&mut random, 3);
            assert!(exercise(&valid), "generated filter did not parse: {valid}");
            // Near misses: the same text with a few characters deleted, inserted or repeated.
            let mut characters: Vec<char> = valid.chars().collect();
            for _ in 0..=random.below(3) {
                let at = random.below(characters.len() + 1);
                match random.below(3) {
                    0 if at < characters.len() => {
                        characters.remove(at);
                    }
                    1 => characters.insert(at, alphabet[random.below(alphabet.len())]),
                    _ => {
                        let end = (at + random.below(8)).min(characters.len());
                        let repeated: Vec<char> = characters[at..end].to_vec();
                        characters.splice(at..at, repeated);
                    }
                }
            }
            exercise(&characters.into_iter().collect::<String>());
        }
    }

    /// Random valid filter text, in random letter case and spacing.
    fn random_filter_text(random: &mut Xorshift, depth: usize) -> String {
        const ATTRIBUTES: [&str; 5] = ["a", "status", "profile.login", "b", "not"];
        const OPERATORS: [&str; 10] = ["eq", "NE", "Co", "sw", "ew", "GT", "ge", "lt", "le", "pr"];
        const VALUES: [&str; 9] =
            [r#""x""#, r#""ACTIVE""#, r#""a\"b\\c\u00e9\uD83D\uDE00""#, "1", "-2.5e3", "0.1", "true", "FALSE", "null"];
        let choice = if depth == 0 { 0 } else { random.below(5) };
        let space = if random.below(2) == 0 { " " } else { "  " };
        match choice {
            1 => format!("({})", random_filter_text(random, depth - 1)),
            2 => format!("not{space}({})", random_filter_text(random, depth - 1)),
            3 => format!(
                "{}{space}and{space}{}",
                random_filter_text(random, depth - 1),
                random_filter_text(random, depth - 1)
            ),
            4 => format!("{} OR {}", random_filter_text(random, depth - 1), random_filter_text(random, depth - 1)),
            _ => {
                let attribute = ATTRIBUTES[random.below(ATTRIBUTES.len())];
                let operator = OPERATORS[random.below(OPERATORS.len())];
                if operator == "pr" {
                    format!("{attribute} pr")
                } else {
                    let value = VALUES[random.below(VALUES.len())];
                    format!("{attribute}{space}{operator}{space}{value}")
                }
            }
        }
    }

    #[test]
    fn error_display_names_the_position() {
        let error = parse("profile.login").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid SCIM filter at character 13: expected a comparison operator after \
             'profile.login', found the end of the filter"
        );
    }
}
