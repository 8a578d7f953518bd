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
            other => Some(other.to_string()),
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
    let file = std::fs::File::open(path)
        .map_err(|e| Error::InvalidInput(format!("cannot open the source {}: {e}", path.display())))?;
    match format {
        SourceFormat::Csv => read_csv(file, &path.display().to_string()),
        SourceFormat::JsonLines => read_json_lines(std::io::BufReader::new(file), &path.display().to_string()),
        SourceFormat::Okta => Err(Error::InvalidInput("an Okta source is read from Okta, not from a file".into())),
    }
}

/// Reads CSV with a header row; cells are trimmed of a UTF-8 byte-order mark only.
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
    let mut records = Vec::new();
    for (index, row) in csv.records().enumerate() {
        let row = row.map_err(|e| Error::InvalidInput(format!("{name}: row {}: {e}", index + 2)))?;
        let fields = headers.iter().cloned().zip(row.iter().map(|cell| Value::String(cell.to_owned()))).collect();
        records.push(IdentityRecord::from_map(fields));
    }
    Ok(records)
}

/// Reads JSON lines: one object per non-blank line.
pub fn read_json_lines(reader: impl BufRead, name: &str) -> Result<Vec<IdentityRecord>> {
    let mut records = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| Error::InvalidInput(format!("{name}: line {}: {e}", index + 1)))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(&line) {
            Ok(Value::Object(fields)) => records.push(IdentityRecord::from_map(fields)),
            Ok(_) => return Err(Error::InvalidInput(format!("{name}: line {}: not a JSON object", index + 1))),
            Err(e) => return Err(Error::InvalidInput(format!("{name}: line {}: {e}", index + 1))),
        }
    }
    Ok(records)
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
        assert!(ragged.contains("row 2"), "{ragged}");
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
        assert_eq!(SourceFormat::parse("JSONL"), Some(SourceFormat::JsonLines));
        assert_eq!(SourceFormat::from_path(Path::new("x/hr.csv")), Some(SourceFormat::Csv));
    }
}
