//! Okta-like identifiers, opaque paging cursors, random tokens and login folding.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// Base-62 digits in ASCII order, so that lexical order of encoded numbers equals numeric order.
const ORDERED_DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A 20-character Okta-style identifier: the 3-character prefix (`00u` for users, `00g` for
/// groups), 11 characters encoding `sequence` (so identifiers sort in creation order, as Okta's
/// roughly do) and 6 random characters.
pub(crate) fn object_id(prefix: &str, sequence: u64, rng: &mut fastrand::Rng) -> String {
    let mut id = String::with_capacity(20);
    id.push_str(prefix);
    let mut digits = [b'0'; 11];
    let mut value = sequence;
    for slot in digits.iter_mut().rev() {
        *slot = ORDERED_DIGITS[(value % 62) as usize];
        value /= 62;
    }
    id.extend(digits.iter().map(|&byte| byte as char));
    while id.len() < 20 {
        id.push(ORDERED_DIGITS[rng.usize(..62)] as char);
    }
    id
}

/// A random alphanumeric string of `length` characters (tokens, request ids, passwords).
pub(crate) fn random_token(length: usize) -> String {
    let mut seed = [0u8; 8];
    // getrandom only fails on exotic platforms; a time-based seed is good enough then.
    if getrandom::getrandom(&mut seed).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|duration| duration.as_nanos() as u64)
            .unwrap_or(0);
        seed = nanos.to_le_bytes();
    }
    let mut rng = fastrand::Rng::with_seed(u64::from_le_bytes(seed));
    (0..length).map(|_| ORDERED_DIGITS[rng.usize(..62)] as char).collect()
}

/// A random (version 4, RFC 9562) UUID in its canonical text form, e.g.
/// `dc9fd3c0-598c-41ef-8478-2b7584bf8d5a`: the System Log's event `uuid`.
pub(crate) fn uuid_v4() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::getrandom(&mut bytes).is_err() {
        // As in `random_token`: a generator seeded from the clock when the OS has no randomness.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|duration| duration.as_nanos() as u64)
            .unwrap_or(0);
        let mut rng = fastrand::Rng::with_seed(nanos);
        bytes.iter_mut().for_each(|byte| *byte = rng.u8(..));
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// Where the next page of a listing starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cursor {
    /// After the object with this id (listings in id order; stable under concurrent creates).
    AfterId(String),
    /// After this many results (sorted searches, whose order is not the id order).
    Offset(usize),
}

const CURSOR_TAG: &str = "okta-sim-cursor:";

impl Cursor {
    /// The opaque text put in `after=`.
    pub(crate) fn encode(&self) -> String {
        let plain = match self {
            Cursor::AfterId(id) => format!("{CURSOR_TAG}id:{id}"),
            Cursor::Offset(offset) => format!("{CURSOR_TAG}offset:{offset}"),
        };
        URL_SAFE_NO_PAD.encode(plain)
    }

    /// Decodes an `after=` value; `None` when it was not produced by [`Cursor::encode`].
    pub(crate) fn decode(text: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()?;
        let plain = String::from_utf8(bytes).ok()?;
        let rest = plain.strip_prefix(CURSOR_TAG)?;
        if let Some(id) = rest.strip_prefix("id:") {
            (!id.is_empty()).then(|| Cursor::AfterId(id.to_owned()))
        } else {
            rest.strip_prefix("offset:")?.parse().ok().map(Cursor::Offset)
        }
    }
}

/// The form of a login used for uniqueness: lower case, with accents and combining marks
/// removed, so that `Isaac.Brock@x` and `isaac.bröck@x` collide as they do in Okta.
pub(crate) fn fold_login(login: &str) -> String {
    let mut folded = String::with_capacity(login.len());
    for character in login.chars().flat_map(char::to_lowercase) {
        if ('\u{0300}'..='\u{036f}').contains(&character) {
            continue;
        }
        match strip_accent(character) {
            Some(replacement) => folded.push_str(replacement),
            None => folded.push(character),
        }
    }
    folded
}

/// The unaccented form of a lower-case Latin letter with a diacritic.
fn strip_accent(character: char) -> Option<&'static str> {
    Some(match character {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ď' | 'đ' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĵ' => "j",
        'ķ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' => "s",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_in_sequence_order_and_have_okta_shape() {
        let mut rng = fastrand::Rng::with_seed(7);
        let first = object_id("00u", 61, &mut rng);
        let second = object_id("00u", 62, &mut rng);
        assert_eq!(first.len(), 20);
        assert!(first.starts_with("00u"));
        assert!(first < second);
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        for cursor in [Cursor::AfterId("00uabc".into()), Cursor::Offset(400)] {
            assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor.clone()));
        }
        assert_eq!(Cursor::decode("00uabc"), None);
        assert_eq!(Cursor::decode("!!!"), None);
    }

    #[test]
    fn uuids_are_version_4_and_distinct() {
        let first = uuid_v4();
        let second = uuid_v4();
        assert_ne!(first, second);
        let groups: Vec<&str> = first.split('-').collect();
        assert_eq!(groups.iter().map(|group| group.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
        assert!(groups[2].starts_with('4'));
        assert!(matches!(groups[3].chars().next(), Some('8' | '9' | 'a' | 'b')));
        assert!(first.chars().all(|character| character == '-' || character.is_ascii_hexdigit()));
    }

    #[test]
    fn login_folding_ignores_case_and_accents() {
        assert_eq!(fold_login("Isaac.Bröck@Example.com"), "isaac.brock@example.com");
        assert_eq!(fold_login("isaac.bro\u{0308}ck@example.com"), "isaac.brock@example.com");
        assert_ne!(fold_login("a@x.com"), fold_login("b@x.com"));
    }
}
