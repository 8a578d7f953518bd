//! The policy loader: any text is a policy or a typed error naming the problem.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okta_lifecycle::lifecycle::Policy;

fuzz_target!(|text: &str| {
    if let Err(error) = Policy::from_toml(text) {
        assert!(!error.to_string().is_empty());
    }
});
