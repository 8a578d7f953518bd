//! The CSV and JSON-lines readers: any bytes are records or a typed error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okta_lifecycle::lifecycle::record::{read_csv, read_json_lines};

fuzz_target!(|data: &[u8]| {
    if let Ok(records) = read_csv(data, "fuzz.csv") {
        for record in &records {
            assert!(record.as_json().values().all(|v| v.as_str().is_some_and(|s| !s.contains('\n'))));
        }
    }
    let _ = read_json_lines(data, "fuzz.jsonl");
});
