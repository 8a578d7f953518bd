//! The formatter language: parsing never panics, and rendering an accepted formatter over any
//! record value ends with a value or a typed error, never a panic or an unbounded value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okta_lifecycle::lifecycle::transform::{Formatter, MAX_RENDERED_BYTES};

fuzz_target!(|input: (&str, &str)| {
    let (source, value) = input;
    if let Ok(formatter) = Formatter::parse(source) {
        let lookup = |field: &str| (field != "missing").then(|| value.to_owned());
        if let Ok(rendered) = formatter.render(&lookup) {
            assert!(rendered.len() <= MAX_RENDERED_BYTES + source.len());
        }
    }
});
