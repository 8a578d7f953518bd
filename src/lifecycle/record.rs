//! Identity records: the rows of an HR export (CSV or JSON lines) or dicts from Python, each a
//! flat map of field name to value.

use std::io::BufRead;
use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// One identity from a source: field name to value (strings from CSV; any JSON scalar from
/// JSON lines and dicts).
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityRecord {
    /// Always a JSON object; kept as a `Value` so that conditions evaluate it without a copy.
    fields: Value,
}

impl Default for IdentityRecord {
    fn default() -> Self {
        IdentityRecord { fields: Value::Object(Map::new()) }
    }
}

impl IdentityRecord {
    /// A record from a JSON object.
    pub fn from_map(fields: Map<String, Value>) -> Self {
        IdentityRecord { fields: Value::Object(fields) }
    }

    /// A field's value as text: strings as they are, numbers and booleans printed, `null` and
    /// missing fields as `None`.
    pub fn text(&self, field: &str) -> Option<String> {
        match self.fields.get(field)? {
            Value::Null => None,
            Value::String(text) => Some(text.clone()),
            Value::Bool(flag) => Some(flag.to_string()),
            Value::Number(number) => Some(number.to_string()),
            // A list of values (a JSON record's array) reads as a CSV cell of an array attribute
            // does: its items joined with the schema's separator.
            Value::Array(items) if items.iter().all(is_scalar) => Some(
                items
                    .iter()
                    .filter_map(|item| match item {
                        Value::Null => None,
                        Value::String(text) => Some(text.clone()),
                        other => Some(other.to_string()),
                    })
                    .collect::<Vec<_>>()
                    .join(&crate::okta::schema::ARRAY_SEPARATOR.to_string()),
            ),
            other => Some(other.to_string()),
        }
    }

    /// The field's value as given, when it is not a single value (a list or an object of a JSON
    /// record or a dict): what typing it by the schema must look at.
    pub fn structured(&self, field: &str) -> Option<&Value> {
        self.fields.get(field).filter(|value| value.is_array() || value.is_object())
    }

    /// Sets a field.
    pub fn insert(&mut self, field: &str, value: Value) {
        if let Value::Object(map) = &mut self.fields {
            map.insert(field.to_owned(), value);
        }
    }

    /// The record's fields.
    pub fn as_json(&self) -> &Map<String, Value> {
        match &self.fields {
            Value::Object(map) => map,
            _ => unreachable_map(),
        }
    }

    /// The record as a JSON value (what policy conditions are evaluated against).
    pub fn as_value(&self) -> &Value {
        &self.fields
    }
}

/// The SHA-256 digest (hex) of a list of records, in order: the same source gives the same
/// digest, so an apply of the same policy and source can find its unfinished run.
pub fn records_digest(records: &[IdentityRecord]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for record in records {
        hasher.update(record.fields.to_string().as_bytes());
        hasher.update(b"\n");
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn unreachable_map() -> &'static Map<String, Value> {
    // Every constructor stores an object; an empty map keeps the accessor total regardless.
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Map::new)
}

/// The formats a source file can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    JsonLines,
    /// Okta itself (records come from `source_of_identity`).
    Okta,
}

impl SourceFormat {
    /// Reads `csv`, `jsonl` (or `json-lines`, `ndjson`) or `okta`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "csv" => Some(SourceFormat::Csv),
            "jsonl" | "json-lines" | "ndjson" => Some(SourceFormat::JsonLines),
            "okta" => Some(SourceFormat::Okta),
            _ => None,
        }
    }

    /// Guesses the format from a file name (`.csv`, `.jsonl`/`.ndjson`).
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(SourceFormat::Csv),
            "jsonl" | "ndjson" => Some(SourceFormat::JsonLines),
            _ => None,
        }
    }
}

/// Reads every record of a CSV or JSON-lines file.
pub fn read_records(path: &Path, format: SourceFormat) -> Result<Vec<IdentityRecord>> {
    let file = crate::input::open(path, crate::input::MAX_SOURCE_BYTES)
        .map_err(|e| Error::InvalidInput(format!("cannot read the source {}: {e}", path.display())))?;
    match format {
        SourceFormat::Csv => read_csv(file, &path.display().to_string()),
        SourceFormat::JsonLines => read_json_lines(std::io::BufReader::new(file), &path.display().to_string()),
        SourceFormat::Okta => Err(Error::InvalidInput("an Okta source is read from Okta, not from a file".into())),
    }
}

/// Reads CSV with a header row; cells are trimmed of a UTF-8 byte-order mark only.
///
/// Strict, because a misread row can become a wrong action (a row swallowed by a stray quote
/// can turn an active person into a leaver): rows with a different number of cells, a value that
/// spans lines (an unclosed quote) and a header that names a column twice (ignoring case) are
/// errors that name the line, and nothing is read.
pub fn read_csv(reader: impl std::io::Read, name: &str) -> Result<Vec<IdentityRecord>> {
    let mut csv = csv::ReaderBuilder::new().flexible(false).from_reader(reader);
    let headers: Vec<String> = csv
        .headers()
        .map_err(|e| Error::InvalidInput(format!("{name}: cannot read the CSV header: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_owned())
        .collect();
    if headers.iter().any(String::is_empty) {
        return Err(Error::InvalidInput(format!("{name}: the CSV header has an empty column name")));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(duplicate) = headers.iter().find(|h| !seen.insert(h.to_lowercase())) {
        return Err(Error::InvalidInput(format!(
            "{name}: the CSV header names the column {duplicate:?} more than once (which one is meant?)"
        )));
    }
    let mut records = Vec::new();
    let mut row = csv::StringRecord::new();
    loop {
        let line = csv.position().line();
        match csv.read_record(&mut row) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(Error::InvalidInput(format!("{name}: line {line}: {}", csv_problem(&e)))),
        }
        let line = row.position().map_or(line, csv::Position::line);
        if let Some(cell) = row.iter().position(|cell| cell.contains(['\n', '\r'])) {
            return Err(Error::InvalidInput(format!(
                "{name}: line {line}: the value of {} spans lines (an unclosed quote?); identity data is one line per person",
                headers[cell]
            )));
        }
        let fields = headers.iter().cloned().zip(row.iter().map(|cell| Value::String(cell.to_owned()))).collect();
        records.push(IdentityRecord::from_map(fields));
    }
    Ok(records)
}

fn csv_problem(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("{len} values where the header has {expected_len} (a stray quote or delimiter?)")
        }
        _ => error.to_string(),
    }
}

/// Reads JSON lines: one object per non-blank line (a leading byte-order mark is allowed, as in
/// CSV). An integer too large for 64 bits is an error, not a silently rounded number.
pub fn read_json_lines(reader: impl BufRead, name: &str) -> Result<Vec<IdentityRecord>> {
    let mut records = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| Error::InvalidInput(format!("{name}: line {}: {e}", index + 1)))?;
        let line = if index == 0 { line.trim_start_matches('\u{feff}').to_owned() } else { line };
        if line.trim().is_empty() {
            continue;
        }
        if let Some(number) = oversized_integer(&line) {
            return Err(Error::InvalidInput(format!(
                "{name}: line {}: the integer {number} does not fit in 64 bits (quote it if it is an identifier)",
                index + 1
            )));
        }
        match serde_json::from_str(&line) {
            Ok(Value::Object(fields)) => records.push(IdentityRecord::from_map(fields)),
            Ok(_) => return Err(Error::InvalidInput(format!("{name}: line {}: not a JSON object", index + 1))),
            Err(e) => return Err(Error::InvalidInput(format!("{name}: line {}: {e}", index + 1))),
        }
    }
    Ok(records)
}

/// The first integer literal outside strings that does not fit in 64 bits, if any.
pub fn oversized_integer(json: &str) -> Option<&str> {
    let bytes = json.as_bytes();
    let (mut index, mut in_string) = (0, false);
    while index < bytes.len() {
        let byte = bytes[index];
        if in_string {
            match byte {
                b'\\' => index += 1,
                b'"' => in_string = false,
                _ => {}
            }
            index += 1;
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'-' | b'0'..=b'9' => {
                let start = index;
                index += 1;
                while index < bytes.len() && matches!(bytes[index], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
                    index += 1;
                }
                let token = &json[start..index];
                let integer = !token.contains(['.', 'e', 'E']);
                if integer && token.parse::<i64>().is_err() && token.parse::<u64>().is_err() {
                    return Some(token);
                }
                continue;
            }
            _ => {}
        }
        index += 1;
    }
    None
}

fn is_scalar(value: &Value) -> bool {
    !value.is_array() && !value.is_object()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_become_records() {
        let text = "\u{feff}employee_id, work_email\n1,ada@acme.com\n2,\"grace, hopper@acme.com\"\n";
        let records = read_csv(text.as_bytes(), "hr.csv").unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].text("employee_id").as_deref(), Some("1"));
        assert_eq!(records[1].text("work_email").as_deref(), Some("grace, hopper@acme.com"));
        assert_eq!(records[0].text("missing"), None);
        let ragged = read_csv("a,b\n1\n".as_bytes(), "hr.csv").unwrap_err().to_string();
        assert!(ragged.contains("line 2") && ragged.contains("1 values where the header has 2"), "{ragged}");
    }

    #[test]
    fn a_stray_quote_or_a_duplicate_column_stops_the_read() {
        // The quote opened on line 2 swallows line 3: the merged row has the right count.
        let swallowed = "id,name,status\n1,Ada,\"Active\n2,Bob,Active\"\n3,Cy,Active\n";
        let error = read_csv(swallowed.as_bytes(), "hr.csv").unwrap_err().to_string();
        assert!(error.contains("line 2") && error.contains("status spans lines"), "{error}");
        let unclosed = "id,name,status\n1,Ada,Active\n2,\"Bob,Active\n3,Cy,Active\n";
        let error = read_csv(unclosed.as_bytes(), "hr.csv").unwrap_err().to_string();
        assert!(error.contains("line 3"), "{error}");
        let duplicate = read_csv("id,login,Login\n1,a,b\n".as_bytes(), "hr.csv").unwrap_err().to_string();
        assert!(duplicate.contains("\"Login\" more than once"), "{duplicate}");
    }

    #[test]
    fn json_lines_keep_scalars_and_name_bad_lines() {
        let text = "{\"id\": 7, \"active\": true, \"manager\": null}\n\n{\"id\": 8}\n";
        let records = read_json_lines(text.as_bytes(), "hr.jsonl").unwrap();
        assert_eq!(records[0].text("id").as_deref(), Some("7"));
        assert_eq!(records[0].text("active").as_deref(), Some("true"));
        assert_eq!(records[0].text("manager"), None);
        let error = read_json_lines("{\"id\": 1}\n[1]\n".as_bytes(), "hr.jsonl").unwrap_err().to_string();
        assert!(error.contains("line 2"), "{error}");
        let bom = read_json_lines("\u{feff}{\"id\": 1}\n".as_bytes(), "hr.jsonl").unwrap();
        assert_eq!(bom[0].text("id").as_deref(), Some("1"));
        let big = read_json_lines("{\"id\": 123456789012345678901234}\n".as_bytes(), "hr.jsonl").unwrap_err();
        assert!(big.to_string().contains("does not fit in 64 bits"), "{big}");
        assert_eq!(
            oversized_integer(r#"{"a": "99999999999999999999999", "b": -1.5e300, "c": 18446744073709551615}"#),
            None
        );
        assert_eq!(oversized_integer(r#"{"a": -9223372036854775809}"#), Some("-9223372036854775809"));
        assert_eq!(SourceFormat::parse("JSONL"), Some(SourceFormat::JsonLines));
        assert_eq!(SourceFormat::from_path(Path::new("x/hr.csv")), Some(SourceFormat::Csv));
    }
}
