//! Attribute formatters for lifecycle policies.
//!
//! A lifecycle policy maps identity records from a source (an HR export, where each record maps field names to
//! string values) to Okta profile attributes with *formatter strings*:
//!
//! ```text
//! {work_email | LOWER}
//! {email | REMOVE_DOMAIN | LOWER}
//! {first_name | ASCII | LOWER}.{last_name | ASCII | LOWER}2@acme.example
//! dept-{department | LOWER | REPLACE(' ', '-')}
//! {start_date | DATE_FORMAT('%Y-%m-%d', '%d/%m/%Y')}
//! {middle_name | DEFAULT('-')}
//! ```
//!
//! A formatter is parsed once ([`Formatter::parse`]) and rendered for every record ([`Formatter::render`]) without
//! parsing again.
//!
//! # Syntax
//!
//! - Text outside braces is copied as is; `{{` and `}}` stand for literal braces.
//! - A placeholder `{field | FUNCTION | FUNCTION(argument, argument)}` names a field (`[A-Za-z_][A-Za-z0-9_.-]*`,
//!   e.g. `work_email` or `manager.email`) followed by zero or more steps, applied left to right. Whitespace around
//!   names, `|`, parentheses and commas is ignored.
//! - Function names are case-insensitive (`lower` is `LOWER`).
//! - Arguments are integers (`3`) or strings in single or double quotes (`'-'`, `"it's"`); inside a string, `\'`,
//!   `\"` and `\\` stand for a quote and a backslash.
//! - Function names, argument counts and argument types are checked by [`Formatter::parse`], so a policy with a
//!   typo fails when it is loaded, not on the first record.
//!
//! # Functions
//!
//! Lengths and positions count characters (Unicode scalar values), never bytes.
//!
//! | Function | Arguments | Result |
//! |----------|-----------|--------|
//! | `LOWER` | — | Lower case (Unicode): `Ada.Lovelace@Acme.com` → `ada.lovelace@acme.com` |
//! | `UPPER` | — | Upper case (Unicode): `Straße` → `STRASSE` |
//! | `TRIM` | — | Whitespace removed from both ends: `" Ada "` → `Ada` |
//! | `NORMALIZE_SPACE` | — | Every run of whitespace collapsed to one space, both ends trimmed: `" Ada   King "` → `Ada King` |
//! | `TITLE` | — | First letter of each word upper case, the rest lower case; words are split on whitespace, `-` and apostrophes (`'`, `’`): `o'neil-smith` → `O'Neil-Smith`, `ADA KING` → `Ada King` |
//! | `REMOVE_DOMAIN` | — | Text before the last `@`; unchanged when there is no `@`: `ada@acme.com` → `ada` |
//! | `FIRST_N(n)` | integer ≥ 0 | The first `n` characters (all of them when shorter): `FIRST_N(1)` of `Ada` → `A` |
//! | `LAST_N(n)` | integer ≥ 0 | The last `n` characters (all of them when shorter): `LAST_N(4)` of `E001234` → `1234` |
//! | `SUBSTRING(start, length)` | integers ≥ 0; `length` optional | `length` characters from character `start` (0-based); without `length`, to the end. Out of range gives a shorter or empty result, never an error: `SUBSTRING(1, 3)` of `Lovelace` → `ove` |
//! | `SPLIT(separator, index)` | non-empty string, integer ≥ 0 | Part `index` (0-based) of the value split on `separator`; empty when there is no such part: `SPLIT('/', 1)` of `EMEA/Paris/R&D` → `Paris` |
//! | `REPLACE(from, to)` | non-empty string, string | Every occurrence of `from` replaced by `to`: `REPLACE(' ', '-')` of `Research and Development` → `Research-and-Development` |
//! | `ASCII` | — | Every script spelled in ASCII by deunicode's transliteration tables: accents stripped (`é` → `e`), Latin letters spelled out (`ß` → `ss`, `æ` → `ae`, `ø` → `o`, `ł` → `l`, `Œ` → `OE`), other scripts transliterated (`Ада` → `Ada`, `李` → `Li`), typographic quotes, dashes and spaces and full-width forms to ASCII; a character with no spelling is dropped: `Zoë Ångström` → `Zoe Angstrom` |
//! | `DATE_FORMAT(input, output)` | two [chrono strftime](https://docs.rs/chrono/latest/chrono/format/strftime/index.html) formats | The value parsed with `input` and written with `output`: `DATE_FORMAT('%Y-%m-%d', '%d/%m/%Y')` of `2026-03-01` → `01/03/2026`. A date without a time is taken at midnight; an input with an offset (`%z`) keeps it for the output. A value that does not match `input` is an error for that record |
//! | `DEFAULT(value)` | string | `value` when the value reaching this step is missing or empty; otherwise the value unchanged: `DEFAULT('-')` |
//!
//! # Missing fields and empty values
//!
//! A field the record does not have is an error for that record ([`RenderError::MissingField`]) — unless the
//! placeholder has a `DEFAULT` step: then the missing value passes through the steps before `DEFAULT` unchanged (still
//! missing) and `DEFAULT` supplies its value. An empty string is a value like any other: functions apply to it, and
//! `DEFAULT` replaces it too, so `{nickname | TRIM | DEFAULT('n/a')}` gives `n/a` for a blank nickname.
//!
//! # Errors
//!
//! [`FormatterError`] reports a malformed formatter with the 0-based character position of the problem, e.g.
//! `invalid formatter at character 11: REPLACE takes 2 arguments, got 1`. [`RenderError`] reports a record the
//! formatter cannot render (a missing field, a date that does not match its format). Neither parsing nor rendering
//! panics, whatever the input.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::str::FromStr;

use chrono::format::{Item, ParseErrorKind, Parsed, StrftimeItems};
use chrono::NaiveTime;

/// A parsed formatter: literal text and placeholders that read record fields through a pipeline of functions.
///
/// Parse once with [`Formatter::parse`] (or [`str::parse`]), then [`render`](Formatter::render) each record.
/// Serializes as its source text; deserializing parses it.
#[derive(Debug, Clone, PartialEq)]
pub struct Formatter {
    source: String,
    segments: Vec<Segment>,
}

/// A malformed formatter, with the 0-based character position of the problem in the formatter text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid formatter at character {position}: {message}")]
pub struct FormatterError {
    /// What is wrong, e.g. `unknown function FOO (known: LOWER, UPPER, ...)` or `unclosed '{'`.
    pub message: String,
    /// 0-based character (not byte) position in the formatter text where the problem starts.
    pub position: usize,
}

/// The longest value a formatter renders. Okta's longest profile strings are far shorter (login
/// and email 100 characters, custom strings at most 1,024 by default); the bound is there so that
/// no policy can build a huge value in memory.
pub const MAX_RENDERED_BYTES: usize = 64 * 1024;

/// Why a formatter could not be rendered for one record.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    /// The record has no such field and the placeholder has no `DEFAULT` step.
    #[error("field '{0}' is missing")]
    MissingField(String),
    /// A function could not process the value (e.g. `DATE_FORMAT` on a value that does not match its format).
    #[error("{function}: {message}")]
    Function {
        /// The function name in upper case, e.g. `DATE_FORMAT`.
        function: String,
        /// What went wrong, including the offending value.
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Placeholder(Placeholder),
}

#[derive(Debug, Clone, PartialEq)]
struct Placeholder {
    field: String,
    steps: Vec<Step>,
    /// Whether a `DEFAULT` step follows, in which case a missing field flows through instead of failing.
    has_default: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Lower,
    Upper,
    Trim,
    NormalizeSpace,
    Title,
    RemoveDomain,
    FirstN(usize),
    LastN(usize),
    Substring { start: usize, length: Option<usize> },
    Split { separator: String, index: usize },
    Replace { from: String, to: String },
    Ascii,
    DateFormat(Box<DateFormat>),
    Default(String),
}

#[derive(Debug, Clone, PartialEq)]
struct DateFormat {
    input: String,
    output: String,
    input_items: Vec<Item<'static>>,
    output_items: Vec<Item<'static>>,
}

/// Every function with its minimum and maximum argument count; the order is the one error messages list.
const FUNCTIONS: &[(&str, usize, usize)] = &[
    ("LOWER", 0, 0),
    ("UPPER", 0, 0),
    ("TRIM", 0, 0),
    ("NORMALIZE_SPACE", 0, 0),
    ("TITLE", 0, 0),
    ("REMOVE_DOMAIN", 0, 0),
    ("FIRST_N", 1, 1),
    ("LAST_N", 1, 1),
    ("SUBSTRING", 1, 2),
    ("SPLIT", 2, 2),
    ("REPLACE", 2, 2),
    ("ASCII", 0, 0),
    ("DATE_FORMAT", 2, 2),
    ("DEFAULT", 1, 1),
];

impl Formatter {
    /// Parses a formatter, checking its syntax, function names and argument counts and types.
    pub fn parse(text: &str) -> Result<Formatter, FormatterError> {
        Self::from_source(text.to_owned())
    }

    fn from_source(source: String) -> Result<Formatter, FormatterError> {
        let segments = Parser::new(&source).formatter()?;
        Ok(Formatter { source, segments })
    }

    /// Renders the formatter for one record; `record` returns a field's value, or `None` when the record lacks it.
    pub fn render(&self, record: &dyn Fn(&str) -> Option<String>) -> Result<String, RenderError> {
        self.render_values(|field| record(field).map(Cow::Owned))
    }

    /// Like [`render`](Formatter::render), for a lookup that lends its values (e.g. from a `HashMap<String, String>`:
    /// `formatter.render_borrowed(|field| record.get(field).map(String::as_str))`), which saves copying each value.
    pub fn render_borrowed<'a>(&self, record: impl Fn(&str) -> Option<&'a str>) -> Result<String, RenderError> {
        self.render_values(|field| record(field).map(Cow::Borrowed))
    }

    fn render_values<'v>(&'v self, lookup: impl Fn(&str) -> Option<Cow<'v, str>>) -> Result<String, RenderError> {
        let mut output = String::with_capacity(self.source.len() + 16);
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => output.push_str(text),
                Segment::Placeholder(placeholder) => output.push_str(&placeholder.evaluate(&lookup)?),
            }
            if output.len() > MAX_RENDERED_BYTES {
                return Err(RenderError::Function {
                    function: "render".into(),
                    message: format!("the value is longer than {MAX_RENDERED_BYTES} bytes"),
                });
            }
        }
        Ok(output)
    }

    /// Every field the formatter reads, once each, in order of first use (to check a policy against a source's
    /// columns).
    pub fn fields(&self) -> Vec<&str> {
        let mut fields: Vec<&str> = Vec::new();
        for segment in &self.segments {
            if let Segment::Placeholder(placeholder) = segment {
                if !fields.contains(&placeholder.field.as_str()) {
                    fields.push(&placeholder.field);
                }
            }
        }
        fields
    }

    /// The formatter text as written.
    pub fn source(&self) -> &str {
        &self.source
    }
}

impl FromStr for Formatter {
    type Err = FormatterError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Formatter::parse(text)
    }
}

impl fmt::Display for Formatter {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.source)
    }
}

impl serde::Serialize for Formatter {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl<'de> serde::Deserialize<'de> for Formatter {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = String::deserialize(deserializer)?;
        Formatter::from_source(source).map_err(serde::de::Error::custom)
    }
}

impl Placeholder {
    fn evaluate<'v>(&'v self, lookup: &impl Fn(&str) -> Option<Cow<'v, str>>) -> Result<Cow<'v, str>, RenderError> {
        let mut value = lookup(&self.field);
        if value.is_none() && !self.has_default {
            return Err(RenderError::MissingField(self.field.clone()));
        }
        for step in &self.steps {
            value = match (step, value) {
                (Step::Default(default), Some(present)) if present.is_empty() => Some(Cow::Borrowed(default.as_str())),
                (Step::Default(default), None) => Some(Cow::Borrowed(default.as_str())),
                (_, None) => None,
                (step, Some(present)) => Some(step.apply(present)?),
            };
        }
        value.ok_or_else(|| RenderError::MissingField(self.field.clone()))
    }
}

impl Step {
    fn apply<'v>(&'v self, value: Cow<'v, str>) -> Result<Cow<'v, str>, RenderError> {
        Ok(match self {
            Step::Lower => lower(value),
            Step::Upper => upper(value),
            Step::Trim => {
                let start = value.len() - value.trim_start().len();
                let end = value.trim_end().len();
                narrow(value, start, end)
            }
            Step::NormalizeSpace => normalize_space(value),
            Step::Title => Cow::Owned(title(&value)),
            Step::RemoveDomain => match value.rfind('@') {
                Some(at) => narrow(value, 0, at),
                None => value,
            },
            Step::FirstN(count) => {
                let end = value.char_indices().nth(*count).map_or(value.len(), |(index, _)| index);
                narrow(value, 0, end)
            }
            Step::LastN(count) => {
                let start = match count.checked_sub(1) {
                    None => value.len(),
                    Some(back) => value.char_indices().nth_back(back).map_or(0, |(index, _)| index),
                };
                let end = value.len();
                narrow(value, start, end)
            }
            Step::Substring { start, length } => {
                let begin = value.char_indices().nth(*start).map_or(value.len(), |(index, _)| index);
                let end = match length {
                    None => value.len(),
                    Some(length) => {
                        value[begin..].char_indices().nth(*length).map_or(value.len(), |(index, _)| begin + index)
                    }
                };
                narrow(value, begin, end)
            }
            Step::Split { separator, index } => {
                let part = {
                    let mut matches = value.match_indices(separator.as_str()).map(|(at, found)| (at, at + found.len()));
                    let start = match index.checked_sub(1) {
                        None => Some(0),
                        Some(previous) => matches.nth(previous).map(|(_, end)| end),
                    };
                    start.map(|start| (start, matches.next().map_or(value.len(), |(at, _)| at)))
                };
                match part {
                    Some((start, end)) => narrow(value, start, end),
                    None => narrow(value, 0, 0),
                }
            }
            Step::Replace { from, to } => {
                if value.contains(from.as_str()) {
                    // A chain of REPLACEs can grow a value geometrically: check the size first.
                    let count = value.matches(from.as_str()).count();
                    let grown = value.len() as u128 + count as u128 * to.len() as u128;
                    if grown > MAX_RENDERED_BYTES as u128 + count as u128 * from.len() as u128 {
                        return Err(RenderError::Function {
                            function: "REPLACE".into(),
                            message: format!("the result would be longer than {MAX_RENDERED_BYTES} bytes"),
                        });
                    }
                    Cow::Owned(value.replace(from.as_str(), to))
                } else {
                    value
                }
            }
            Step::Ascii => {
                if value.is_ascii() {
                    value
                } else {
                    // deunicode's tables (derived from Unidecode) spell every script it knows in
                    // ASCII; a character it has no spelling for is dropped.
                    Cow::Owned(deunicode::deunicode_with_tofu(&value, ""))
                }
            }
            Step::DateFormat(format) => Cow::Owned(format.apply(&value)?),
            // Only reached with a non-empty value: `Placeholder::evaluate` handles the missing and empty cases.
            Step::Default(_) => value,
        })
    }
}

/// `value[start..end]` (empty when `end < start`), reusing the allocation of an owned value.
///
/// `start` and `end` must be character boundaries.
fn narrow(value: Cow<'_, str>, start: usize, end: usize) -> Cow<'_, str> {
    let end = end.max(start);
    match value {
        Cow::Borrowed(text) => Cow::Borrowed(&text[start..end]),
        Cow::Owned(mut text) => {
            text.truncate(end);
            text.drain(..start);
            Cow::Owned(text)
        }
    }
}

fn lower(value: Cow<'_, str>) -> Cow<'_, str> {
    if !value.is_ascii() {
        Cow::Owned(value.to_lowercase())
    } else if value.bytes().any(|byte| byte.is_ascii_uppercase()) {
        let mut owned = value.into_owned();
        owned.make_ascii_lowercase();
        Cow::Owned(owned)
    } else {
        value
    }
}

fn upper(value: Cow<'_, str>) -> Cow<'_, str> {
    if !value.is_ascii() {
        Cow::Owned(value.to_uppercase())
    } else if value.bytes().any(|byte| byte.is_ascii_lowercase()) {
        let mut owned = value.into_owned();
        owned.make_ascii_uppercase();
        Cow::Owned(owned)
    } else {
        value
    }
}

fn normalize_space(value: Cow<'_, str>) -> Cow<'_, str> {
    let mut previous_is_space = true;
    let mut already_normal = true;
    for character in value.chars() {
        if character.is_whitespace() {
            if character != ' ' || previous_is_space {
                already_normal = false;
                break;
            }
            previous_is_space = true;
        } else {
            previous_is_space = false;
        }
    }
    if already_normal && (!previous_is_space || value.is_empty()) {
        return value;
    }
    let mut output = String::with_capacity(value.len());
    for word in value.split_whitespace() {
        if !output.is_empty() {
            output.push(' ');
        }
        output.push_str(word);
    }
    Cow::Owned(output)
}

fn title(value: &str) -> String {
    let mut output = String::with_capacity(value.len());
    let mut at_word_start = true;
    for character in value.chars() {
        if character.is_whitespace() || matches!(character, '-' | '\'' | '\u{2019}') {
            output.push(character);
            at_word_start = true;
        } else if !character.is_alphanumeric() {
            // Punctuation such as the parenthesis of "(ada)" does not use up the word's capital.
            output.push(character);
        } else if at_word_start {
            output.extend(character.to_uppercase());
            at_word_start = false;
        } else {
            output.extend(character.to_lowercase());
        }
    }
    output
}

impl DateFormat {
    fn apply(&self, value: &str) -> Result<String, RenderError> {
        let mut parsed = Parsed::new();
        chrono::format::parse(&mut parsed, value, self.input_items.iter())
            .map_err(|error| self.mismatch(value, error))?;
        let mut output = String::with_capacity(self.output.len() + 8);
        let written = if parsed.offset().is_some() {
            let datetime = parsed.to_datetime().map_err(|error| self.mismatch(value, error))?;
            write!(output, "{}", datetime.format_with_items(self.output_items.iter()))
        } else {
            let datetime = match parsed.to_naive_datetime_with_offset(0) {
                Ok(datetime) => datetime,
                // No time in the input: a date alone is taken at midnight.
                Err(error) if error.kind() == ParseErrorKind::NotEnough => {
                    parsed.to_naive_date().map_err(|error| self.mismatch(value, error))?.and_time(NaiveTime::MIN)
                }
                Err(error) => return Err(self.mismatch(value, error)),
            };
            write!(output, "{}", datetime.format_with_items(self.output_items.iter()))
        };
        written.map_err(|_| RenderError::Function {
            function: "DATE_FORMAT".to_owned(),
            message: format!(
                "cannot write '{value}' with output format '{}': it asks for something the input does not give \
                 (such as a time zone)",
                self.output
            ),
        })?;
        Ok(output)
    }

    fn mismatch(&self, value: &str, error: chrono::format::ParseError) -> RenderError {
        RenderError::Function {
            function: "DATE_FORMAT".to_owned(),
            message: format!("value '{value}' does not match input format '{}' ({error})", self.input),
        }
    }
}

/// Reads a formatter text, tracking both the byte offset (to slice) and the character position (to report).
struct Parser<'t> {
    text: &'t str,
    offset: usize,
    position: usize,
}

enum Argument {
    Text(String),
    Integer(i64),
}

impl fmt::Display for Argument {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Argument::Text(text) => write!(formatter, "string {text:?}"),
            Argument::Integer(integer) => write!(formatter, "integer {integer}"),
        }
    }
}

fn error(position: usize, message: impl Into<String>) -> FormatterError {
    FormatterError { message: message.into(), position }
}

fn unclosed(open: usize) -> FormatterError {
    error(open, "unclosed '{'")
}

fn is_field_character(character: char) -> bool {
    character.is_ascii_alphanumeric() || matches!(character, '_' | '.' | '-')
}

impl<'t> Parser<'t> {
    fn new(text: &'t str) -> Self {
        Parser { text, offset: 0, position: 0 }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.offset..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let character = self.peek()?;
        self.offset += character.len_utf8();
        self.position += 1;
        Some(character)
    }

    fn eat(&mut self, expected: char) -> bool {
        let found = self.peek() == Some(expected);
        if found {
            self.bump();
        }
        found
    }

    fn take_while(&mut self, accept: impl Fn(char) -> bool) -> &'t str {
        let start = self.offset;
        while self.peek().is_some_and(&accept) {
            self.bump();
        }
        &self.text[start..self.offset]
    }

    fn skip_whitespace(&mut self) {
        self.take_while(char::is_whitespace);
    }

    fn formatter(mut self) -> Result<Vec<Segment>, FormatterError> {
        let mut segments = Vec::new();
        let mut literal = String::new();
        while let Some(character) = self.peek() {
            let position = self.position;
            self.bump();
            match character {
                '{' if self.eat('{') => literal.push('{'),
                '}' if self.eat('}') => literal.push('}'),
                '{' => {
                    if !literal.is_empty() {
                        segments.push(Segment::Literal(std::mem::take(&mut literal)));
                    }
                    segments.push(Segment::Placeholder(self.placeholder(position)?));
                }
                '}' => return Err(error(position, "unmatched '}' (write '}}' for a literal brace)")),
                _ => literal.push(character),
            }
        }
        if !literal.is_empty() {
            segments.push(Segment::Literal(literal));
        }
        Ok(segments)
    }

    /// Parses a placeholder after its `{`, which is at character `open`.
    fn placeholder(&mut self, open: usize) -> Result<Placeholder, FormatterError> {
        self.skip_whitespace();
        let field = match self.peek() {
            None => return Err(unclosed(open)),
            Some('}') => return Err(error(open, "empty placeholder")),
            Some(first) if first.is_ascii_alphabetic() || first == '_' => self.take_while(is_field_character),
            Some(other) => {
                return Err(error(self.position, format!("expected a field name, found {other:?}")));
            }
        };
        let mut steps = Vec::new();
        loop {
            self.skip_whitespace();
            let position = self.position;
            match self.bump() {
                None => return Err(unclosed(open)),
                Some('}') => break,
                Some('|') => steps.push(self.step(open)?),
                Some(other) => return Err(error(position, format!("expected '|' or '}}', found {other:?}"))),
            }
        }
        let has_default = steps.iter().any(|step| matches!(step, Step::Default(_)));
        Ok(Placeholder { field: field.to_owned(), steps, has_default })
    }

    fn step(&mut self, open: usize) -> Result<Step, FormatterError> {
        self.skip_whitespace();
        let position = self.position;
        let written = self.take_while(|character| character.is_ascii_alphanumeric() || character == '_');
        if written.is_empty() {
            return Err(match self.peek() {
                None => unclosed(open),
                Some(other) => error(position, format!("expected a function name after '|', found {other:?}")),
            });
        }
        let name = written.to_ascii_uppercase();
        let Some(&(name, minimum, maximum)) = FUNCTIONS.iter().find(|(known, _, _)| *known == name) else {
            let known: Vec<&str> = FUNCTIONS.iter().map(|(known, _, _)| *known).collect();
            return Err(error(position, format!("unknown function {name} (known: {})", known.join(", "))));
        };
        self.skip_whitespace();
        let arguments = if self.eat('(') { self.arguments(open)? } else { Vec::new() };
        if arguments.len() < minimum || arguments.len() > maximum {
            let expected = match (minimum, maximum) {
                (0, 0) => "no arguments".to_owned(),
                (1, 1) => "1 argument".to_owned(),
                (minimum, maximum) if minimum == maximum => format!("{minimum} arguments"),
                (minimum, maximum) => format!("{minimum} or {maximum} arguments"),
            };
            return Err(error(position, format!("{name} takes {expected}, got {}", arguments.len())));
        }
        let mut reader = ArgumentReader { function: name, arguments: arguments.into_iter(), number: 0 };
        Ok(match name {
            "LOWER" => Step::Lower,
            "UPPER" => Step::Upper,
            "TRIM" => Step::Trim,
            "NORMALIZE_SPACE" => Step::NormalizeSpace,
            "TITLE" => Step::Title,
            "REMOVE_DOMAIN" => Step::RemoveDomain,
            "FIRST_N" => Step::FirstN(reader.count()?),
            "LAST_N" => Step::LastN(reader.count()?),
            "SUBSTRING" => Step::Substring { start: reader.count()?, length: reader.optional_count()? },
            "SPLIT" => Step::Split { separator: reader.non_empty_text()?, index: reader.count()? },
            "REPLACE" => Step::Replace { from: reader.non_empty_text()?, to: reader.text()? },
            "ASCII" => Step::Ascii,
            "DATE_FORMAT" => {
                let (input, input_items) = reader.date_format()?;
                let (output, output_items) = reader.date_format()?;
                Step::DateFormat(Box::new(DateFormat { input, output, input_items, output_items }))
            }
            "DEFAULT" => Step::Default(reader.text()?),
            // Every name in FUNCTIONS has an arm above; this keeps a future mismatch an error rather than a panic.
            _ => return Err(error(position, format!("function {name} is not implemented"))),
        })
    }

    /// Parses arguments after the `(`, up to and including the `)`.
    fn arguments(&mut self, open: usize) -> Result<Vec<(Argument, usize)>, FormatterError> {
        let mut arguments = Vec::new();
        self.skip_whitespace();
        if self.eat(')') {
            return Ok(arguments);
        }
        loop {
            self.skip_whitespace();
            let position = self.position;
            let argument = match self.peek() {
                None => return Err(unclosed(open)),
                Some(quote @ ('\'' | '"')) => {
                    self.bump();
                    Argument::Text(self.string(quote, position)?)
                }
                Some(first) if first == '-' || first.is_ascii_digit() => Argument::Integer(self.integer(position)?),
                Some(other) => {
                    return Err(error(
                        position,
                        format!("expected an argument (a quoted string or an integer), found {other:?}"),
                    ));
                }
            };
            arguments.push((argument, position));
            self.skip_whitespace();
            let position = self.position;
            match self.bump() {
                None => return Err(unclosed(open)),
                Some(',') => {}
                Some(')') => return Ok(arguments),
                Some(other) => return Err(error(position, format!("expected ',' or ')', found {other:?}"))),
            }
        }
    }

    /// Parses a string after its opening `quote`, which is at character `start`.
    fn string(&mut self, quote: char, start: usize) -> Result<String, FormatterError> {
        let mut value = String::new();
        loop {
            let position = self.position;
            match self.bump() {
                None => return Err(error(start, "unclosed string")),
                Some(character) if character == quote => return Ok(value),
                Some('\\') => match self.bump() {
                    Some(escaped @ ('\'' | '"' | '\\')) => value.push(escaped),
                    Some(other) => {
                        return Err(error(
                            position,
                            format!("unknown escape '\\{other}' (only \\', \\\" and \\\\ are escapes)"),
                        ));
                    }
                    None => return Err(error(start, "unclosed string")),
                },
                Some(character) => value.push(character),
            }
        }
    }

    fn integer(&mut self, start: usize) -> Result<i64, FormatterError> {
        let negative = self.eat('-');
        let digits = self.take_while(|character| character.is_ascii_digit());
        if digits.is_empty() {
            return Err(error(start, "expected digits after '-'"));
        }
        let magnitude: i64 = digits.parse().map_err(|_| error(start, format!("integer {digits} is too large")))?;
        Ok(if negative { -magnitude } else { magnitude })
    }
}

/// Takes a function's arguments in order, checking each one's type.
struct ArgumentReader {
    function: &'static str,
    arguments: std::vec::IntoIter<(Argument, usize)>,
    number: usize,
}

impl ArgumentReader {
    /// The next argument with its 1-based number and character position, or `None` past the last one.
    fn next(&mut self) -> Option<(Argument, usize, usize)> {
        let (argument, position) = self.arguments.next()?;
        self.number += 1;
        Some((argument, self.number, position))
    }

    fn text(&mut self) -> Result<String, FormatterError> {
        match self.next() {
            Some((Argument::Text(text), _, _)) => Ok(text),
            Some((other, number, position)) => Err(error(
                position,
                format!("{} argument {number} must be a quoted string, got {other}", self.function),
            )),
            None => Err(error(0, format!("{} is missing an argument", self.function))),
        }
    }

    fn non_empty_text(&mut self) -> Result<String, FormatterError> {
        let position = self.arguments.as_slice().first().map_or(0, |(_, position)| *position);
        let text = self.text()?;
        if text.is_empty() {
            return Err(error(position, format!("{} argument {} must not be empty", self.function, self.number)));
        }
        Ok(text)
    }

    fn optional_count(&mut self) -> Result<Option<usize>, FormatterError> {
        match self.next() {
            Some((Argument::Integer(integer), number, position)) => usize::try_from(integer).map(Some).map_err(|_| {
                error(
                    position,
                    format!("{} argument {number} must be a non-negative integer, got {integer}", self.function),
                )
            }),
            Some((other, number, position)) => Err(error(
                position,
                format!("{} argument {number} must be a non-negative integer, got {other}", self.function),
            )),
            None => Ok(None),
        }
    }

    fn count(&mut self) -> Result<usize, FormatterError> {
        self.optional_count()?.ok_or_else(|| error(0, format!("{} is missing an argument", self.function)))
    }

    fn date_format(&mut self) -> Result<(String, Vec<Item<'static>>), FormatterError> {
        let position = self.arguments.as_slice().first().map_or(0, |(_, position)| *position);
        let format = self.text()?;
        match StrftimeItems::new(&format).parse_to_owned() {
            Ok(items) => Ok((format, items)),
            Err(_) => Err(error(
                position,
                format!("{} argument {} is not a valid strftime format: {format:?}", self.function, self.number),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn record(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(field, value)| (field.to_string(), value.to_string())).collect()
    }

    fn render_map(formatter: &str, record: &HashMap<String, String>) -> Result<String, RenderError> {
        let formatter = Formatter::parse(formatter).unwrap_or_else(|error| panic!("{formatter}: {error}"));
        let owned = formatter.render(&|field| record.get(field).cloned());
        let borrowed = formatter.render_borrowed(|field| record.get(field).map(String::as_str));
        assert_eq!(owned, borrowed, "render and render_borrowed disagree on {formatter}");
        owned
    }

    /// Renders `formatter` with the single field `value` bound to `value`.
    fn apply(formatter: &str, value: &str) -> String {
        render_map(formatter, &record(&[("value", value)])).unwrap_or_else(|error| panic!("{formatter}: {error}"))
    }

    fn parse_error(formatter: &str) -> FormatterError {
        match Formatter::parse(formatter) {
            Ok(parsed) => panic!("{formatter:?} parsed: {parsed:?}"),
            Err(error) => error,
        }
    }

    #[test]
    fn case_functions() {
        assert_eq!(apply("{value | LOWER}", "Ada.Lovelace@Acme.com"), "ada.lovelace@acme.com");
        assert_eq!(apply("{value | UPPER}", "Ada.Lovelace@Acme.com"), "ADA.LOVELACE@ACME.COM");
        assert_eq!(apply("{value | LOWER}", "ÅNGSTRÖM ΣΟΦΙΑ"), "ångström σοφια");
        assert_eq!(apply("{value | UPPER}", "straße"), "STRASSE");
        assert_eq!(apply("{value | lower}", "already lower"), "already lower");
    }

    #[test]
    fn trim_and_normalize_space() {
        assert_eq!(apply("{value | TRIM}", " \t Ada \n"), "Ada");
        assert_eq!(apply("{value | TRIM}", "   "), "");
        assert_eq!(apply("{value | TRIM}", "\u{3000}Ada\u{A0}"), "Ada");
        assert_eq!(apply("{value | UPPER | TRIM}", "  ada  "), "ADA");
        assert_eq!(apply("{value | NORMALIZE_SPACE}", "  Ada \t\n King  "), "Ada King");
        assert_eq!(apply("{value | NORMALIZE_SPACE}", "Ada King"), "Ada King");
        assert_eq!(apply("{value | NORMALIZE_SPACE}", "Ada\tKing"), "Ada King");
        assert_eq!(apply("{value | NORMALIZE_SPACE}", "Ada "), "Ada");
        assert_eq!(apply("{value | NORMALIZE_SPACE}", " \n "), "");
    }

    #[test]
    fn title() {
        assert_eq!(apply("{value | TITLE}", "o'neil-smith"), "O'Neil-Smith");
        assert_eq!(apply("{value | TITLE}", "ADA   LOVELACE"), "Ada   Lovelace");
        assert_eq!(apply("{value | TITLE}", "jean-luc o’brien"), "Jean-Luc O’Brien");
        assert_eq!(apply("{value | TITLE}", "(ada) 3RD élodie"), "(Ada) 3rd Élodie");
        assert_eq!(apply("{value | TITLE}", ""), "");
    }

    #[test]
    fn remove_domain() {
        assert_eq!(apply("{value | REMOVE_DOMAIN}", "ada@acme.com"), "ada");
        assert_eq!(apply("{value | REMOVE_DOMAIN}", "\"a@b\"@acme.com"), "\"a@b\"");
        assert_eq!(apply("{value | REMOVE_DOMAIN}", "no-domain"), "no-domain");
        assert_eq!(apply("{value | REMOVE_DOMAIN}", "@acme.com"), "");
    }

    #[test]
    fn first_n_and_last_n_count_characters() {
        assert_eq!(apply("{value | FIRST_N(1)}", "Ada"), "A");
        assert_eq!(apply("{value | FIRST_N(2)}", "Øre"), "Ør");
        assert_eq!(apply("{value | FIRST_N(10)}", "Zoë"), "Zoë");
        assert_eq!(apply("{value | FIRST_N(0)}", "Zoë"), "");
        assert_eq!(apply("{value | LAST_N(4)}", "E001234"), "1234");
        assert_eq!(apply("{value | LAST_N(2)}", "Zoë"), "oë");
        assert_eq!(apply("{value | LAST_N(10)}", "Zoë"), "Zoë");
        assert_eq!(apply("{value | LAST_N(0)}", "Zoë"), "");
        assert_eq!(apply("{value | TRIM | LAST_N(1)}", " 日本語 "), "語");
    }

    #[test]
    fn substring() {
        assert_eq!(apply("{value | SUBSTRING(1, 3)}", "Lovelace"), "ove");
        assert_eq!(apply("{value | SUBSTRING(4)}", "Lovelace"), "lace");
        assert_eq!(apply("{value | SUBSTRING(1, 2)}", "Ångström"), "ng");
        assert_eq!(apply("{value | SUBSTRING(5, 10)}", "Ångström"), "röm");
        assert_eq!(apply("{value | SUBSTRING(8, 1)}", "Ångström"), "");
        assert_eq!(apply("{value | SUBSTRING(100)}", "Ångström"), "");
        assert_eq!(apply("{value | SUBSTRING(0, 0)}", "Ångström"), "");
        assert_eq!(apply("{value | SUBSTRING(0, 4294967295)}", "Ångström"), "Ångström");
    }

    #[test]
    fn split() {
        assert_eq!(apply("{value | SPLIT('/', 0)}", "EMEA/Paris/R&D"), "EMEA");
        assert_eq!(apply("{value | SPLIT('/', 1)}", "EMEA/Paris/R&D"), "Paris");
        assert_eq!(apply("{value | SPLIT('/', 2)}", "EMEA/Paris/R&D"), "R&D");
        assert_eq!(apply("{value | SPLIT('/', 3)}", "EMEA/Paris/R&D"), "");
        assert_eq!(apply("{value | SPLIT(' :: ', 1)}", "a :: b :: c"), "b");
        assert_eq!(apply("{value | SPLIT(',', 1)}", "a,,c"), "");
        assert_eq!(apply("{value | SPLIT(',', 0)}", "no separator"), "no separator");
        assert_eq!(apply("{value | SPLIT('→', 1)}", "x→ÿ→z"), "ÿ");
    }

    #[test]
    fn replace() {
        assert_eq!(apply("{value | REPLACE(' ', '-')}", "Research and Development"), "Research-and-Development");
        assert_eq!(apply("{value | REPLACE('&', 'and')}", "R&D & QA"), "RandD and QA");
        assert_eq!(apply("{value | REPLACE('x', '')}", "xaxbx"), "ab");
        assert_eq!(apply("{value | REPLACE('zz', 'y')}", "unchanged"), "unchanged");
        assert_eq!(apply("{value | REPLACE('aa', 'a')}", "aaaa"), "aa");
    }

    #[test]
    fn a_chain_of_replaces_cannot_build_a_huge_value() {
        let growing = "{value | REPLACE('a', 'aaaaaaaaaa') | REPLACE('a', 'aaaaaaaaaa') | REPLACE('a', 'aaaaaaaaaa') | REPLACE('a', 'aaaaaaaaaa') | REPLACE('a', 'aaaaaaaaaa') | REPLACE('a', 'aaaaaaaaaa')}";
        match render_map(growing, &record(&[("value", "aaaaaaaaaa")])) {
            Err(RenderError::Function { function, message }) => {
                assert_eq!(function, "REPLACE");
                assert!(message.contains("longer than"), "{message}");
            }
            other => panic!("expected a refusal, got {:?}", other.map(|v| v.len())),
        }
        let wide = format!("{}{{value}}", "x".repeat(MAX_RENDERED_BYTES));
        assert!(render_map(&wide, &record(&[("value", "y")])).is_err());
    }

    #[test]
    fn ascii_spells_every_script_in_ascii() {
        assert_eq!(apply("{value | ASCII}", "Zoë Ångström-Łukasz Øre Straße"), "Zoe Angstrom-Lukasz Ore Strasse");
        assert_eq!(apply("{value | ASCII}", "Œuvre Þóra Æsa Đorđe ŒÆ"), "OEuvre Thora AEsa Dorde OEAE");
        assert_eq!(
            apply("{value | ASCII}", "François Müller Dvořák Çelik Şahin"),
            "Francois Muller Dvorak Celik Sahin"
        );
        assert_eq!(
            apply("{value | ASCII}", "Nguyễn Thị Minh Khai Ștefan Țiriac"),
            "Nguyen Thi Minh Khai Stefan Tiriac"
        );
        assert_eq!(apply("{value | ASCII}", "O’Neil – “Ada”\u{A0}King…"), "O'Neil - \"Ada\" King...");
        assert_eq!(apply("{value | ASCII}", "Ａｄａ１２３"), "Ada123");
        // Combining marks (decomposed input) go; other scripts are transliterated, not dropped.
        assert_eq!(apply("{value | ASCII}", "Zoe\u{308}"), "Zoe");
        assert_eq!(apply("{value | ASCII}", "Ада Лавлейс"), "Ada Lavleis");
        assert_eq!(apply("{value | ASCII}", "李小龍"), "Li Xiao Long");
        assert_eq!(apply("{value | ASCII}", "Ἀθῆναι"), "Athenai");
        assert_eq!(apply("{value | ASCII | LOWER}", "ÉLODIE"), "elodie");
        // Whatever the input, the output is ASCII.
        for text in ["\u{10FFFF}", "\u{E000}", "🎉", "\u{FFFD}", "𝔸𝕓"] {
            assert!(apply("{value | ASCII}", text).is_ascii(), "{text:?}");
        }
    }

    #[test]
    fn date_format() {
        assert_eq!(apply("{value | DATE_FORMAT('%Y-%m-%d', '%d/%m/%Y')}", "2026-03-01"), "01/03/2026");
        assert_eq!(apply("{value | DATE_FORMAT('%m/%d/%Y', '%Y-%m-%dT%H:%M:%S')}", "3/1/2026"), "2026-03-01T00:00:00");
        assert_eq!(
            apply("{value | DATE_FORMAT('%Y-%m-%d %H:%M', '%d %b %Y at %H.%M')}", "2026-03-01 17:45"),
            "01 Mar 2026 at 17.45"
        );
        assert_eq!(
            apply("{value | DATE_FORMAT('%Y-%m-%dT%H:%M:%S%z', '%Y-%m-%d %H:%M %:z')}", "2026-03-01T09:30:00+0100"),
            "2026-03-01 09:30 +01:00"
        );
        assert_eq!(apply("{value | TRIM | DATE_FORMAT(\"%d.%m.%Y\", \"%Y%m%d\")}", " 01.03.2026 "), "20260301");
    }

    #[test]
    fn date_format_errors_are_render_errors() {
        let fields = record(&[("date", "2026-02-30"), ("text", "soon"), ("day", "2026-03-01")]);
        let impossible = render_map("{date | DATE_FORMAT('%Y-%m-%d', '%d/%m/%Y')}", &fields).unwrap_err();
        let RenderError::Function { function, message } = &impossible else { panic!("{impossible:?}") };
        assert_eq!(function, "DATE_FORMAT");
        assert!(message.contains("'2026-02-30'") && message.contains("'%Y-%m-%d'"), "{message}");
        let unparsable = render_map("{text | DATE_FORMAT('%Y-%m-%d', '%d/%m/%Y')}", &fields).unwrap_err();
        assert!(unparsable.to_string().starts_with("DATE_FORMAT: value 'soon' does not match"), "{unparsable}");
        let no_offset = render_map("{day | DATE_FORMAT('%Y-%m-%d', '%Y %z')}", &fields).unwrap_err();
        assert!(no_offset.to_string().contains("cannot write '2026-03-01'"), "{no_offset}");
    }

    #[test]
    fn missing_fields_and_default() {
        let fields = record(&[("empty", ""), ("blank", "  "), ("name", "Ada")]);
        assert_eq!(render_map("{missing}", &fields), Err(RenderError::MissingField("missing".into())));
        assert_eq!(
            render_map("x {name} {missing | LOWER}", &fields).unwrap_err().to_string(),
            "field 'missing' is missing"
        );
        assert_eq!(render_map("{missing | DEFAULT('-')}", &fields).unwrap(), "-");
        assert_eq!(render_map("{missing | UPPER | FIRST_N(1) | DEFAULT('-')}", &fields).unwrap(), "-");
        assert_eq!(render_map("{missing | DEFAULT('none') | UPPER}", &fields).unwrap(), "NONE");
        assert_eq!(render_map("{empty | DEFAULT('-')}", &fields).unwrap(), "-");
        assert_eq!(render_map("{blank | DEFAULT('-')}", &fields).unwrap(), "  ");
        assert_eq!(render_map("{blank | TRIM | DEFAULT('n/a')}", &fields).unwrap(), "n/a");
        assert_eq!(render_map("{name | DEFAULT('-')}", &fields).unwrap(), "Ada");
        assert_eq!(render_map("{empty}|{name | SUBSTRING(5) | DEFAULT('?')}", &fields).unwrap(), "|?");
        assert_eq!(render_map("{missing | DEFAULT('')}", &fields).unwrap(), "");
    }

    #[test]
    fn contract_examples() {
        let fields = record(&[
            ("work_email", "Ada.Lovelace@Acme.com"),
            ("email", "Ada.Lovelace@Acme.com"),
            ("first_name", " Ada "),
            ("last_name", "Lovelace-Byron"),
            ("department", "Research & Development"),
            ("start_date", "2026-03-01"),
            ("employee_id", "E001234"),
        ]);
        let cases = [
            ("{work_email | LOWER}", "ada.lovelace@acme.com"),
            ("{first_name | TRIM}", "Ada"),
            ("{email | REMOVE_DOMAIN | LOWER}", "ada.lovelace"),
            (
                "{first_name | TRIM | ASCII | LOWER}.{last_name | ASCII | LOWER}2@acme.example",
                "ada.lovelace-byron2@acme.example",
            ),
            ("dept-{department | LOWER | REPLACE(' ', '-')}", "dept-research-&-development"),
            ("{start_date | DATE_FORMAT('%Y-%m-%d', '%d/%m/%Y')}", "01/03/2026"),
            ("{middle_name | DEFAULT('-')}", "-"),
            ("{employee_id}", "E001234"),
            ("literal text only", "literal text only"),
            ("", ""),
        ];
        for (formatter, expected) in cases {
            assert_eq!(render_map(formatter, &fields).unwrap(), expected, "{formatter}");
        }
    }

    #[test]
    fn syntax_details() {
        let fields = record(&[("manager.email", "Boss@Acme.com"), ("cost-center", "CC-1"), ("_id", "7"), ("x", "v")]);
        assert_eq!(render_map("{manager.email|lower}", &fields).unwrap(), "boss@acme.com");
        assert_eq!(render_map("{  cost-center  |  Lower  |first_n ( 2 ) }", &fields).unwrap(), "cc");
        assert_eq!(render_map("#{_id}", &fields).unwrap(), "#7");
        assert_eq!(render_map("{{literal}} {{{x}}} }}{{", &fields).unwrap(), "{literal} {v} }{");
        assert_eq!(render_map("{x | UPPER()}", &fields).unwrap(), "V");
        assert_eq!(render_map("{x | REPLACE('v', 'it\\'s')}", &fields).unwrap(), "it's");
        assert_eq!(render_map("{x | REPLACE(\"v\", \"say \\\"hi\\\"\")}", &fields).unwrap(), "say \"hi\"");
        assert_eq!(render_map("{x | REPLACE('v', 'a\\\\b')}", &fields).unwrap(), "a\\b");
        assert_eq!(render_map("{x | REPLACE('v', \"'\")}", &fields).unwrap(), "'");
        assert_eq!(render_map("{x | REPLACE('v', '{}|,)')}", &fields).unwrap(), "{}|,)");
        assert_eq!(render_map("é{x}ü", &fields).unwrap(), "évü");
    }

    #[test]
    fn fields_source_display_and_from_str() {
        let text = "{first_name | LOWER}.{last_name}@{domain | DEFAULT('acme.example')} {first_name}";
        let formatter: Formatter = text.parse().unwrap();
        assert_eq!(formatter.fields(), vec!["first_name", "last_name", "domain"]);
        assert_eq!(formatter.source(), text);
        assert_eq!(formatter.to_string(), text);
        assert_eq!(Formatter::parse(&formatter.to_string()).unwrap(), formatter);
        assert!(Formatter::parse("{{not a field}}").unwrap().fields().is_empty());
        assert_ne!(Formatter::parse("{a}").unwrap(), Formatter::parse("{b}").unwrap());
    }

    #[test]
    fn serde_uses_the_source_text() {
        let formatter = Formatter::parse("{email | REMOVE_DOMAIN | LOWER}").unwrap();
        let json = serde_json::to_string(&formatter).unwrap();
        assert_eq!(json, "\"{email | REMOVE_DOMAIN | LOWER}\"");
        assert_eq!(serde_json::from_str::<Formatter>(&json).unwrap(), formatter);
        let error = serde_json::from_str::<Formatter>("\"{email | FOO}\"").unwrap_err().to_string();
        assert!(error.contains("invalid formatter at character 9: unknown function FOO"), "{error}");
        assert!(serde_json::from_str::<Formatter>("42").is_err());
    }

    #[test]
    fn parse_errors_have_messages_and_positions() {
        let cases: &[(&str, usize, &str)] = &[
            ("{x | FOO}", 5, "unknown function FOO (known: LOWER, UPPER, TRIM, NORMALIZE_SPACE, TITLE, REMOVE_DOMAIN,"),
            ("{x | foo_bar(1}", 5, "unknown function FOO_BAR"),
            ("ab{x | REPLACE('a')}", 7, "REPLACE takes 2 arguments, got 1"),
            ("{x | LOWER(1)}", 5, "LOWER takes no arguments, got 1"),
            ("{x | FIRST_N}", 5, "FIRST_N takes 1 argument, got 0"),
            ("{x | SUBSTRING(1, 2, 3)}", 5, "SUBSTRING takes 1 or 2 arguments, got 3"),
            ("abc {x | LOWER", 4, "unclosed '{'"),
            ("{", 0, "unclosed '{'"),
            ("{x | REPLACE('a', 'b'", 0, "unclosed '{'"),
            ("{x | REPLACE('a', 'b", 18, "unclosed string"),
            ("{x |", 0, "unclosed '{'"),
            ("a{}", 1, "empty placeholder"),
            ("a{  }", 1, "empty placeholder"),
            ("a}b", 1, "unmatched '}'"),
            ("{x}}", 3, "unmatched '}'"),
            ("{1x}", 1, "expected a field name, found '1'"),
            ("{ | LOWER}", 2, "expected a field name, found '|'"),
            ("{first name}", 7, "expected '|' or '}', found 'n'"),
            ("{x | | LOWER}", 5, "expected a function name after '|', found '|'"),
            ("{x | REPLACE(' ', -)}", 18, "expected digits after '-'"),
            ("{x | REPLACE(a, 'b')}", 13, "expected an argument (a quoted string or an integer), found 'a'"),
            ("{x | REPLACE('a' 'b')}", 17, "expected ',' or ')', found '\\''"),
            ("{x | REPLACE('a', )}", 18, "expected an argument"),
            ("{x | REPLACE('\\n', 'b')}", 14, "unknown escape '\\n'"),
            ("{x | REPLACE('', 'b')}", 13, "REPLACE argument 1 must not be empty"),
            ("{x | REPLACE('a', 2)}", 18, "REPLACE argument 2 must be a quoted string, got integer 2"),
            ("{x | FIRST_N('2')}", 13, "FIRST_N argument 1 must be a non-negative integer, got string \"2\""),
            ("{x | LAST_N(-1)}", 12, "LAST_N argument 1 must be a non-negative integer, got -1"),
            ("{x | FIRST_N(99999999999999999999)}", 13, "integer 99999999999999999999 is too large"),
            ("{x | SPLIT('', 1)}", 11, "SPLIT argument 1 must not be empty"),
            ("{x | SPLIT(',', 'a')}", 16, "SPLIT argument 2 must be a non-negative integer"),
            (
                "{x | DATE_FORMAT('%Y-%Q', '%Y')}",
                17,
                "DATE_FORMAT argument 1 is not a valid strftime format: \"%Y-%Q\"",
            ),
            ("{x | DATE_FORMAT('%Y', '%')}", 23, "DATE_FORMAT argument 2 is not a valid strftime format"),
            ("{x | DEFAULT(0)}", 13, "DEFAULT argument 1 must be a quoted string, got integer 0"),
            ("Zoë{x | NOPE}", 8, "unknown function NOPE"),
        ];
        let known = parse_error("{x | FOO}").message;
        assert!(
            known.ends_with(" FIRST_N, LAST_N, SUBSTRING, SPLIT, REPLACE, ASCII, DATE_FORMAT, DEFAULT)"),
            "{known}"
        );
        for (formatter, position, message) in cases {
            let error = parse_error(formatter);
            assert!(
                error.message.starts_with(message),
                "{formatter:?}: {:?} does not start with {message:?}",
                error.message
            );
            assert_eq!(error.position, *position, "{formatter:?}: {}", error.message);
            assert_eq!(error.to_string(), format!("invalid formatter at character {position}: {}", error.message));
        }
    }

    #[test]
    fn function_names_are_case_insensitive() {
        assert_eq!(apply("{value | Remove_Domain | upper | first_n(3)}", "ada@acme.com"), "ADA");
        assert_eq!(
            Formatter::parse("{value | lower}").unwrap().segments,
            Formatter::parse("{value | LOWER}").unwrap().segments
        );
    }

    /// A small deterministic generator (xorshift), so the fuzz tests need no extra crate and are reproducible.
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, bound: usize) -> usize {
            (self.next() % bound as u64) as usize
        }

        fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
            choices[self.below(choices.len())]
        }
    }

    const ODD_VALUES: &[&str] = &[
        "",
        " ",
        "Zoë Ångström-Łukasz Øre Straße",
        "e\u{301}\u{301}\u{301}",
        "🎉👩‍👩‍👧",
        "\u{0}\u{7f}\u{200b}",
        "İı ǅ ß ΣΑΣ",
        "@@@",
        "a@b@c",
        "2026-03-01",
        "2026-03-01T09:30:00+0100",
        "99999-99-99",
        "\u{FEFF}\u{10FFFF}\u{E000}",
        "ｆｕｌｌ　ｗｉｄｔｈ",
        "- ' -'-",
        "日本語テキスト",
    ];

    #[test]
    fn fuzz_malformed_formatters_never_panic() {
        let pieces = [
            "{",
            "}",
            "{{",
            "}}",
            "|",
            "(",
            ")",
            ",",
            "'",
            "\"",
            "\\",
            " ",
            "x",
            "value",
            "manager.email",
            "1",
            "-",
            "-5",
            "99999999999999999999",
            "LOWER",
            "upper",
            "TRIM",
            "TITLE",
            "REMOVE_DOMAIN",
            "FIRST_N",
            "LAST_N",
            "REPLACE",
            "SUBSTRING",
            "ASCII",
            "DATE_FORMAT",
            "DEFAULT",
            "SPLIT",
            "NORMALIZE_SPACE",
            "'%Y-%m-%d'",
            "'%d/%m/%Y'",
            "'%'",
            "é",
            "🎉",
            "\u{301}",
            "\u{0}",
            "'a'",
            "''",
            "2",
        ];
        let mut random = Random(0x5EED_1234_ABCD_0001);
        let mut parsed = 0;
        let mut rendered = 0;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..random.below(14) {
                text.push_str(random.pick(&pieces));
            }
            match Formatter::parse(&text) {
                Ok(formatter) => {
                    parsed += 1;
                    assert_eq!(formatter.source(), text);
                    assert_eq!(Formatter::parse(&formatter.to_string()).unwrap(), formatter);
                    let value = random.pick(ODD_VALUES);
                    let present = random.below(4) != 0;
                    let result = formatter.render(&|_| present.then(|| value.to_owned()));
                    if result.is_ok() {
                        rendered += 1;
                    }
                    if !present && !formatter.fields().is_empty() && !text.to_ascii_uppercase().contains("DEFAULT") {
                        assert!(matches!(result, Err(RenderError::MissingField(_))), "{text:?}: {result:?}");
                    }
                }
                Err(error) => {
                    assert!(error.position <= text.chars().count(), "{text:?}: {error}");
                    assert!(!error.message.is_empty());
                }
            }
        }
        assert!(parsed > 500, "only {parsed} generated formatters parsed");
        assert!(rendered > 100, "only {rendered} rendered");
    }

    #[test]
    fn fuzz_every_function_on_odd_values() {
        let steps = [
            "LOWER",
            "UPPER",
            "TRIM",
            "NORMALIZE_SPACE",
            "TITLE",
            "REMOVE_DOMAIN",
            "FIRST_N(3)",
            "LAST_N(2)",
            "SUBSTRING(1, 2)",
            "SUBSTRING(7)",
            "SPLIT('@', 1)",
            "SPLIT(' ', 0)",
            "REPLACE('e', 'é')",
            "REPLACE('ß', '')",
            "ASCII",
            "DEFAULT('-')",
            "FIRST_N(0)",
            "LAST_N(100)",
        ];
        let mut random = Random(0xC0FF_EE00_1234_5678);
        for _ in 0..5_000 {
            let mut text = String::from("<{value");
            let mut ascii_last = false;
            for _ in 0..random.below(5) {
                let step = random.pick(&steps);
                text.push_str(" | ");
                text.push_str(step);
                ascii_last = step == "ASCII";
            }
            text.push_str("}>");
            let value = random.pick(ODD_VALUES);
            let output = apply(&text, value);
            assert!(output.starts_with('<') && output.ends_with('>'), "{text} on {value:?}: {output:?}");
            if ascii_last {
                assert!(output.is_ascii(), "{text} on {value:?}: {output:?}");
            }
        }
        let date = "{value | DATE_FORMAT('%Y-%m-%d', '%d/%m/%Y')}";
        for value in ODD_VALUES {
            let result = render_map(date, &record(&[("value", value)]));
            assert_eq!(result.is_ok(), *value == "2026-03-01", "{value:?}: {result:?}");
        }
    }
}
