//! A hand-written recursive-descent parser for SCIM filter text.
//!
//! Hand-written rather than a general SCIM or parser-generator crate because the same small
//! grammar serves the client, the simulator (which must parse what Okta's `search` and `filter`
//! accept) and policy conditions, and because it has to be safe on hostile input: bounded nesting
//! ([`MAX_NESTING_DEPTH`]) and size ([`MAX_COMPARISONS`]), errors that name the character
//! position, no panics. It is unit-tested here and fuzzed by `fuzz/fuzz_targets/scim_filter.rs`.
//!
//! Grammar (keywords and operators case-insensitive, whitespace anywhere between tokens):
//!
//! ```text
//! filter     = or-expr END
//! or-expr    = and-expr *( "or" and-expr )
//! and-expr   = unary *( "and" unary )
//! unary      = "not" "(" or-expr ")" / "(" or-expr ")" / comparison
//! comparison = attribute-path "pr" / attribute-path compare-op value
//! value      = JSON string / JSON number / "true" / "false" / "null"
//! ```

use super::ast::{is_attribute_char, is_valid_attribute_path, CompareOp, Filter, ScimError, ScimValue};

/// The deepest nesting of parentheses and `not (…)` that [`parse`] accepts; deeper input is
/// rejected with a [`ScimError`] rather than risking the stack.
pub const MAX_NESTING_DEPTH: usize = 64;

/// The most comparisons (including `pr`) that [`parse`] accepts in one filter. Each `and`/`or`
/// adds a level to the tree, so this bounds the depth of every parsed tree (and with it the
/// recursion of evaluation, display and drop).
pub const MAX_COMPARISONS: usize = 1000;

/// Parses SCIM filter text such as `profile.department eq "Engineering" and status pr`.
///
/// Operators and `and`/`or`/`not` are case-insensitive; attribute paths are kept exactly as
/// written. Precedence is `not` over `and` over `or`, and `and`/`or` chains group to the left.
/// On malformed input the error says what was expected and at which character; the parser
/// never panics.
///
/// ```
/// use okta_lifecycle::scim::{parse, CompareOp, Filter};
///
/// let filter = parse(r#"status EQ "ACTIVE""#).unwrap();
/// assert_eq!(filter, Filter::eq("status", "ACTIVE"));
/// let error = parse("profile.login").unwrap_err();
/// assert_eq!(error.position, 13);
/// ```
pub fn parse(input: &str) -> Result<Filter, ScimError> {
    let mut parser =
        Parser { characters: input.chars().collect(), cursor: 0, peeked: None, nesting: 0, comparisons: 0 };
    let first = parser.peek()?;
    if first.token == Token::End {
        return Err(ScimError::new("empty filter", first.position));
    }
    let filter = parser.parse_or()?;
    let last = parser.next()?;
    match last.token {
        Token::End => Ok(filter),
        Token::RightParen => Err(ScimError::new("unexpected ')'", last.position)),
        other => Err(ScimError::new(
            format!("trailing input: expected 'and', 'or' or the end of the filter, found {}", other.describe()),
            last.position,
        )),
    }
}

impl std::str::FromStr for Filter {
    type Err = ScimError;

    /// The same as [`parse`].
    fn from_str(input: &str) -> Result<Filter, ScimError> {
        parse(input)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    LeftParen,
    RightParen,
    /// An attribute path or a keyword; which one is decided by its place in the grammar, so
    /// that an attribute may be called `and`, `not` or `eq`.
    Word(String),
    String(String),
    Number(serde_json::Number),
    End,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::LeftParen => "'('".to_owned(),
            Token::RightParen => "')'".to_owned(),
            Token::Word(word) => format!("'{word}'"),
            Token::String(_) => "a string".to_owned(),
            Token::Number(number) => format!("the number {number}"),
            Token::End => "the end of the filter".to_owned(),
        }
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self, Token::Word(word) if word.eq_ignore_ascii_case(keyword))
    }
}

#[derive(Debug, Clone)]
struct Spanned {
    token: Token,
    /// Character offset of the token's first character.
    position: usize,
}

struct Parser {
    characters: Vec<char>,
    cursor: usize,
    peeked: Option<Spanned>,
    nesting: usize,
    comparisons: usize,
}

impl Parser {
    fn peek(&mut self) -> Result<Spanned, ScimError> {
        if let Some(peeked) = &self.peeked {
            return Ok(peeked.clone());
        }
        let token = self.lex()?;
        self.peeked = Some(token.clone());
        Ok(token)
    }

    fn next(&mut self) -> Result<Spanned, ScimError> {
        match self.peeked.take() {
            Some(token) => Ok(token),
            None => self.lex(),
        }
    }

    fn parse_or(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.parse_and()?;
        while self.peek()?.token.is_keyword("or") {
            self.next()?;
            let right = self.parse_and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_and(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.parse_unary()?;
        while self.peek()?.token.is_keyword("and") {
            self.next()?;
            let right = self.parse_unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_unary(&mut self) -> Result<Filter, ScimError> {
        let start = self.next()?;
        match start.token {
            Token::LeftParen => self.parse_group(start.position),
            Token::Word(word) => {
                if word.eq_ignore_ascii_case("not") {
                    let following = self.peek()?;
                    match &following.token {
                        Token::LeftParen => {
                            self.next()?;
                            let inner = self.parse_group(following.position)?;
                            return Ok(Filter::Not(Box::new(inner)));
                        }
                        // `not eq "x"`: an attribute that happens to be called `not`.
                        Token::Word(operator) if is_operator_keyword(operator) => {}
                        other => {
                            return Err(ScimError::new(
                                format!("expected '(' after 'not', found {}", other.describe()),
                                following.position,
                            ))
                        }
                    }
                }
                self.parse_comparison(word, start.position)
            }
            Token::RightParen => Err(ScimError::new("unexpected ')'", start.position)),
            other => Err(ScimError::new(
                format!("expected an attribute path, '(' or 'not', found {}", other.describe()),
                start.position,
            )),
        }
    }

    /// Parses the inside of a parenthesised group whose `(` (at `open_position`) has been read.
    fn parse_group(&mut self, open_position: usize) -> Result<Filter, ScimError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING_DEPTH {
            return Err(ScimError::new(
                format!("filter is nested deeper than {MAX_NESTING_DEPTH} levels"),
                open_position,
            ));
        }
        let inner = self.parse_or()?;
        let close = self.next()?;
        if close.token != Token::RightParen {
            return Err(ScimError::new(
                format!("expected ')' to close the '(' at character {open_position}, found {}", close.token.describe()),
                close.position,
            ));
        }
        self.nesting -= 1;
        Ok(inner)
    }

    fn parse_comparison(&mut self, attribute: String, position: usize) -> Result<Filter, ScimError> {
        if !is_valid_attribute_path(&attribute) {
            return Err(ScimError::new(
                format!("invalid attribute path '{attribute}': a '.'-separated segment is empty"),
                position,
            ));
        }
        self.comparisons += 1;
        if self.comparisons > MAX_COMPARISONS {
            return Err(ScimError::new(format!("filter has more than {MAX_COMPARISONS} comparisons"), position));
        }
        let operator = self.next()?;
        let op = match &operator.token {
            Token::Word(word) if word.eq_ignore_ascii_case("pr") => {
                return Ok(Filter::Present { attribute });
            }
            Token::Word(word) => CompareOp::from_keyword(word),
            _ => None,
        };
        let Some(op) = op else {
            return Err(ScimError::new(
                format!("expected a comparison operator after '{attribute}', found {}", operator.token.describe()),
                operator.position,
            ));
        };
        let value_token = self.next()?;
        let value = match value_token.token {
            Token::String(text) => ScimValue::String(text),
            Token::Number(number) => ScimValue::Number(number),
            Token::Word(word) if word.eq_ignore_ascii_case("true") => ScimValue::Bool(true),
            Token::Word(word) if word.eq_ignore_ascii_case("false") => ScimValue::Bool(false),
            Token::Word(word) if word.eq_ignore_ascii_case("null") => ScimValue::Null,
            other => {
                return Err(ScimError::new(
                    format!(
                        "expected a value (a string, number, true, false or null) after '{op}', found {}",
                        other.describe()
                    ),
                    value_token.position,
                ))
            }
        };
        Ok(Filter::Compare { attribute, op, value })
    }

    fn character(&self, index: usize) -> Option<char> {
        self.characters.get(index).copied()
    }

    fn lex(&mut self) -> Result<Spanned, ScimError> {
        while self.character(self.cursor).is_some_and(char::is_whitespace) {
            self.cursor += 1;
        }
        let position = self.cursor;
        let Some(first) = self.character(position) else {
            return Ok(Spanned { token: Token::End, position });
        };
        let token = match first {
            '(' => {
                self.cursor += 1;
                Token::LeftParen
            }
            ')' => {
                self.cursor += 1;
                Token::RightParen
            }
            '"' => Token::String(self.lex_string()?),
            '-' | '0'..='9' => Token::Number(self.lex_number()?),
            letter if letter.is_ascii_alphabetic() => {
                let word = self.take_while(is_attribute_char);
                Token::Word(word)
            }
            other => return Err(ScimError::new(format!("unexpected character '{}'", other.escape_debug()), position)),
        };
        Ok(Spanned { token, position })
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let mut taken = String::new();
        while let Some(character) = self.character(self.cursor).filter(|c| keep(*c)) {
            taken.push(character);
            self.cursor += 1;
        }
        taken
    }

    fn lex_number(&mut self) -> Result<serde_json::Number, ScimError> {
        let position = self.cursor;
        // Take letters too, so that `12abc` is reported as one bad number.
        let text = self.take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-' | '_'));
        let invalid = || ScimError::new(format!("invalid number '{text}'"), position);
        // serde_json checks the JSON number grammar (no `01`, `1.`, `.5`, `+1`) and range.
        let number: serde_json::Number = text.parse().map_err(|_| invalid())?;
        if number.is_f64() {
            // serde_json's default float parser is not always correctly rounded; Rust's is, so
            // that a float written by `Display` parses back to the same value.
            let exact: f64 = text.parse().map_err(|_| invalid())?;
            return serde_json::Number::from_f64(exact).ok_or_else(invalid);
        }
        Ok(number)
    }

    /// Reads a JSON string literal starting at the opening quote under the cursor.
    fn lex_string(&mut self) -> Result<String, ScimError> {
        let open_position = self.cursor;
        self.cursor += 1;
        let mut text = String::new();
        loop {
            let Some(character) = self.character(self.cursor) else {
                return Err(ScimError::new("unterminated string", open_position));
            };
            match character {
                '"' => {
                    self.cursor += 1;
                    return Ok(text);
                }
                '\\' => text.push(self.lex_escape(open_position)?),
                other => {
                    text.push(other);
                    self.cursor += 1;
                }
            }
        }
    }

    /// Reads one escape sequence starting at the backslash under the cursor.
    fn lex_escape(&mut self, open_position: usize) -> Result<char, ScimError> {
        let backslash = self.cursor;
        let Some(kind) = self.character(backslash + 1) else {
            return Err(ScimError::new("unterminated string", open_position));
        };
        self.cursor += 2;
        let simple = match kind {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => return self.lex_unicode_escape(backslash),
            other => {
                return Err(ScimError::new(format!("invalid escape '\\{}' in string", other.escape_debug()), backslash))
            }
        };
        Ok(simple)
    }

    /// Reads the rest of a `\uXXXX` escape (the cursor is after `\u`), combining a UTF-16
    /// surrogate pair written as two escapes.
    fn lex_unicode_escape(&mut self, backslash: usize) -> Result<char, ScimError> {
        let first = self.lex_hex_digits(backslash)?;
        let code_point = match first {
            0xD800..=0xDBFF => {
                let low_backslash = self.cursor;
                let is_escape =
                    self.character(low_backslash) == Some('\\') && self.character(low_backslash + 1) == Some('u');
                if !is_escape {
                    return Err(unpaired_surrogate(first, backslash));
                }
                self.cursor += 2;
                let second = self.lex_hex_digits(low_backslash)?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(unpaired_surrogate(first, backslash));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(unpaired_surrogate(first, backslash)),
            other => other,
        };
        char::from_u32(code_point).ok_or_else(|| unpaired_surrogate(first, backslash))
    }

    fn lex_hex_digits(&mut self, backslash: usize) -> Result<u32, ScimError> {
        let mut value = 0;
        for _ in 0..4 {
            let digit = self
                .character(self.cursor)
                .and_then(|c| c.to_digit(16))
                .ok_or_else(|| ScimError::new("invalid \\u escape: expected four hexadecimal digits", backslash))?;
            value = value * 16 + digit;
            self.cursor += 1;
        }
        Ok(value)
    }
}

fn unpaired_surrogate(code_unit: u32, position: usize) -> ScimError {
    ScimError::new(format!("invalid \\u escape: unpaired UTF-16 surrogate \\u{code_unit:04X}"), position)
}

fn is_operator_keyword(word: &str) -> bool {
    word.eq_ignore_ascii_case("pr") || CompareOp::from_keyword(word).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compare(attribute: &str, op: CompareOp, value: impl Into<ScimValue>) -> Filter {
        Filter::Compare { attribute: attribute.to_owned(), op, value: value.into() }
    }

    fn present(attribute: &str) -> Filter {
        Filter::Present { attribute: attribute.to_owned() }
    }

    fn error_at(input: &str) -> (usize, String) {
        let error = parse(input).expect_err(input);
        (error.position, error.message)
    }

    #[test]
    fn parses_every_operator_in_any_case() {
        for op in CompareOp::ALL {
            for keyword in [op.as_str().to_owned(), op.as_str().to_uppercase()] {
                let text = format!(r#"profile.login {keyword} "x""#);
                assert_eq!(parse(&text), Ok(compare("profile.login", op, "x")), "{text}");
            }
        }
        assert_eq!(parse("status Eq \"ACTIVE\""), Ok(compare("status", CompareOp::Eq, "ACTIVE")));
        assert_eq!(parse("profile.mobilePhone PR"), Ok(present("profile.mobilePhone")));
    }

    #[test]
    fn parses_values_of_every_kind() {
        assert_eq!(parse("a eq 42"), Ok(compare("a", CompareOp::Eq, 42)));
        assert_eq!(parse("a eq -7"), Ok(compare("a", CompareOp::Eq, -7)));
        assert_eq!(parse("a gt 1.5e3"), Ok(compare("a", CompareOp::Gt, 1500.0)));
        assert_eq!(parse("a eq true"), Ok(compare("a", CompareOp::Eq, true)));
        assert_eq!(parse("a eq FALSE"), Ok(compare("a", CompareOp::Eq, false)));
        assert_eq!(parse("a eq null"), Ok(compare("a", CompareOp::Eq, ScimValue::Null)));
        assert_eq!(parse("a eq 18446744073709551615"), Ok(compare("a", CompareOp::Eq, u64::MAX)));
        assert_eq!(parse("a eq 0.1"), Ok(compare("a", CompareOp::Eq, 0.1)));
    }

    #[test]
    fn not_binds_tighter_than_and_which_binds_tighter_than_or() {
        let parsed = parse(r#"a eq "1" or b eq "2" and not (c pr)"#).unwrap();
        let expected = compare("a", CompareOp::Eq, "1")
            .or(compare("b", CompareOp::Eq, "2").and(Filter::Not(Box::new(present("c")))));
        assert_eq!(parsed, expected);

        let parsed = parse(r#"a pr and b pr or c pr"#).unwrap();
        assert_eq!(parsed, present("a").and(present("b")).or(present("c")));
    }

    #[test]
    fn chains_group_to_the_left_and_parentheses_override() {
        assert_eq!(parse("a pr or b pr or c pr").unwrap(), present("a").or(present("b")).or(present("c")));
        assert_eq!(parse("a pr and (b pr or c pr)").unwrap(), present("a").and(present("b").or(present("c"))));
        assert_eq!(parse("((a pr))").unwrap(), present("a"));
    }

    #[test]
    fn logical_words_are_case_insensitive_and_whitespace_is_free() {
        assert_eq!(
            parse(" \t(a pr)AND\n( b pr )  Or  NOT(c pr) ").unwrap(),
            present("a").and(present("b")).or(Filter::Not(Box::new(present("c"))))
        );
        assert_eq!(parse(r#"a eq"x""#), Ok(compare("a", CompareOp::Eq, "x")));
        assert_eq!(parse("not ( a pr )"), Ok(Filter::Not(Box::new(present("a")))));
    }

    #[test]
    fn keywords_can_be_attribute_names() {
        assert_eq!(parse(r#"not eq "x""#), Ok(compare("not", CompareOp::Eq, "x")));
        assert_eq!(parse("and pr or or pr"), Ok(present("and").or(present("or"))));
        assert_eq!(parse("eq eq 1"), Ok(compare("eq", CompareOp::Eq, 1)));
    }

    #[test]
    fn attribute_paths_keep_their_case_and_characters() {
        assert_eq!(
            parse(r#"profile.employeeNumber eq "1""#),
            Ok(compare("profile.employeeNumber", CompareOp::Eq, "1"))
        );
        let urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employee_Number$x-y";
        assert_eq!(parse(&format!("{urn} pr")), Ok(present(urn)));
    }

    #[test]
    fn string_escapes_decode_like_json() {
        let parsed = parse(r#"a eq "q\" b\\ s\/ \b\f\n\r\t \u00e9 \uD83D\uDE00 \u0041""#).unwrap();
        assert_eq!(parsed, compare("a", CompareOp::Eq, "q\" b\\ s/ \u{8}\u{c}\n\r\t é 😀 A"));
    }

    #[test]
    fn string_escape_errors() {
        assert_eq!(error_at(r#"a eq "x\q""#).0, 7);
        assert!(error_at(r#"a eq "x\q""#).1.contains("invalid escape"));
        assert_eq!(error_at(r#"a eq "\u12G4""#).0, 6);
        assert!(error_at(r#"a eq "\uD83D""#).1.contains("unpaired"));
        assert!(error_at(r#"a eq "\uD83D\u0041""#).1.contains("unpaired"));
        assert!(error_at(r#"a eq "\uDE00""#).1.contains("unpaired"));
        assert_eq!(error_at(r#"a eq "abc\"#), (5, "unterminated string".to_owned()));
    }

    #[test]
    fn errors_are_specific_and_positioned() {
        assert_eq!(error_at(""), (0, "empty filter".to_owned()));
        assert_eq!(error_at("   "), (3, "empty filter".to_owned()));
        let (position, message) = error_at("profile.login");
        assert_eq!(position, 13);
        assert!(message.starts_with("expected a comparison operator after 'profile.login'"), "{message}");
        let (position, message) = error_at(r#"profile.login is "x""#);
        assert_eq!(position, 14);
        assert!(message.contains("found 'is'"), "{message}");
        assert_eq!(error_at(r#"status eq "ACTIVE"#), (10, "unterminated string".to_owned()));
        assert_eq!(error_at("a pr)"), (4, "unexpected ')'".to_owned()));
        assert_eq!(error_at(")"), (0, "unexpected ')'".to_owned()));
        let (position, message) = error_at("a pr b pr");
        assert_eq!(position, 5);
        assert!(message.starts_with("trailing input"), "{message}");
        let (position, message) = error_at("(a pr");
        assert_eq!(position, 5);
        assert!(message.contains("expected ')' to close the '(' at character 0"), "{message}");
        let (position, message) = error_at("a eq");
        assert_eq!(position, 4);
        assert!(message.starts_with("expected a value"), "{message}");
        let (position, message) = error_at("a eq bogus");
        assert_eq!(position, 5);
        assert!(message.contains("'bogus'"), "{message}");
        let (position, message) = error_at("not a pr");
        assert_eq!(position, 4);
        assert!(message.starts_with("expected '(' after 'not'"), "{message}");
        let (position, message) = error_at("a pr and");
        assert_eq!(position, 8);
        assert!(message.contains("found the end of the filter"), "{message}");
        assert_eq!(error_at("a eq 01").0, 5);
        assert!(error_at("a eq 12abc").1.contains("invalid number '12abc'"));
        assert!(error_at("a eq 1e400").1.contains("invalid number"));
        assert_eq!(error_at("a.. pr").0, 0);
        assert_eq!(error_at("_a pr").0, 0);
        let (position, message) = error_at(r#"emails[type eq "work"]"#);
        assert_eq!(position, 6);
        assert!(message.contains("unexpected character '['"), "{message}");
    }

    #[test]
    fn error_positions_count_characters_not_bytes() {
        // "Zürich" has 6 characters but 7 bytes.
        let input = r#"profile.city eq "Zürich" and"#;
        assert_eq!(error_at(input).0, input.chars().count());
        assert_eq!(error_at("a eq \"é\" é").0, 9);
    }

    #[test]
    fn nesting_is_limited() {
        let nested = |depth: usize| format!("{}a pr{}", "(".repeat(depth), ")".repeat(depth));
        assert_eq!(parse(&nested(MAX_NESTING_DEPTH)), Ok(present("a")));
        let (position, message) = error_at(&nested(MAX_NESTING_DEPTH + 1));
        assert_eq!(position, MAX_NESTING_DEPTH);
        assert!(message.contains("nested deeper than 64"), "{message}");

        let negated = |depth: usize| format!("{}a pr{}", "not (".repeat(depth), ")".repeat(depth));
        assert!(parse(&negated(MAX_NESTING_DEPTH)).is_ok());
        assert!(parse(&negated(MAX_NESTING_DEPTH + 1)).is_err());

        // Far deeper than any stack could take by recursion.
        assert!(parse(&"(".repeat(1_000_000)).is_err());
        assert!(parse(&"not(".repeat(1_000_000)).is_err());
    }

    #[test]
    fn sibling_groups_do_not_add_up_to_the_nesting_limit() {
        let group = format!("{}a pr{}", "(".repeat(40), ")".repeat(40));
        let text = format!("{group} and {group} or {group}");
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn comparison_count_is_limited() {
        let chain = |count: usize| vec!["a pr"; count].join(" or ");
        assert!(parse(&chain(MAX_COMPARISONS)).is_ok());
        let error = parse(&chain(MAX_COMPARISONS + 1)).unwrap_err();
        assert!(error.message.contains("more than 1000 comparisons"), "{}", error.message);
    }

    #[test]
    fn from_str_is_parse() {
        let filter: Filter = r#"status eq "ACTIVE""#.parse().unwrap();
        assert_eq!(filter, compare("status", CompareOp::Eq, "ACTIVE"));
        assert!("status".parse::<Filter>().is_err());
    }
}
