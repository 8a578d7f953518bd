//! The SCIM filter parser: never panics; what it accepts prints to a canonical form that parses
//! back to the same form, and evaluates against a record without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okta_lifecycle::scim::{parse, EvalOptions};

fuzz_target!(|text: &str| {
    if let Ok(filter) = parse(text) {
        let canonical = filter.to_string();
        let again = parse(&canonical).expect("the canonical form of an accepted filter parses");
        assert_eq!(again.to_string(), canonical);
        let record = serde_json::json!({"status": "ACTIVE", "profile": {"login": "a@b.c", "n": 3, "tags": ["x"]}});
        let _ = filter.matches(&record, &EvalOptions::default());
        let _ = filter.matches(&record, &EvalOptions { case_insensitive_values: true });
    }
});
