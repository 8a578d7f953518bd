//! Listings: `filter` and `search` expressions, sorting, cursors, pages and their `Link`
//! headers, shared by every listing route.

use std::ops::Bound;

use serde_json::Value;

use super::errors::ApiError;
use super::ids::Cursor;
use super::responses::{link, Call};
use crate::scim::{CompareOp, Filter};

/// Checks a `filter` expression against Okta's restrictions: only the listed attributes, only
/// `eq` (ordering operators where allowed), no `pr`, no `not`.
pub(crate) fn check_filter(filter: &Filter, allowed: &[(&str, bool)]) -> Result<(), ApiError> {
    let mut pending = vec![filter];
    while let Some(node) = pending.pop() {
        match node {
            Filter::Compare { attribute, op, .. } => {
                let ordering_allowed = allowed
                    .iter()
                    .find(|(name, _)| name == attribute)
                    .map(|(_, ordering)| *ordering)
                    .ok_or_else(ApiError::invalid_search)?;
                let ordering = matches!(op, CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le);
                if !(*op == CompareOp::Eq || ordering && ordering_allowed) {
                    return Err(ApiError::invalid_search());
                }
            }
            Filter::And(left, right) | Filter::Or(left, right) => {
                pending.push(left);
                pending.push(right);
            }
            Filter::Present { .. } | Filter::Not(_) => return Err(ApiError::invalid_search()),
        }
    }
    Ok(())
}

/// Checks a `search` expression: every operator but `ne` and `ew`, and no `not`.
pub(crate) fn check_search(filter: &Filter) -> Result<(), ApiError> {
    let mut pending = vec![filter];
    while let Some(node) = pending.pop() {
        match node {
            Filter::Compare { op: CompareOp::Ne | CompareOp::Ew, .. } => return Err(ApiError::invalid_search()),
            Filter::And(left, right) | Filter::Or(left, right) => {
                pending.push(left);
                pending.push(right);
            }
            Filter::Not(_) => return Err(ApiError::invalid_search()),
            _ => {}
        }
    }
    Ok(())
}

/// Parses a `filter`/`search` parameter; `400 E0000031` when it is not valid SCIM.
pub(crate) fn parse_expression(text: &str) -> Result<Filter, ApiError> {
    crate::scim::parse(text).map_err(|_| ApiError::invalid_search())
}

/// The value at a dotted path in a JSON document.
pub(crate) fn value_at<'a>(document: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(document, |current, segment| current.get(segment)).filter(|value| !value.is_null())
}

/// Sort key of a value: strings compare case-insensitively, missing values last.
pub(crate) fn sort_key(value: Option<&Value>) -> (bool, String) {
    match value {
        None => (true, String::new()),
        Some(Value::String(text)) => (false, text.to_lowercase()),
        Some(Value::Number(number)) => (false, format!("{:>30}", number.to_string())),
        Some(other) => (false, other.to_string()),
    }
}

/// How a listing selects and orders.
pub(crate) struct Selection {
    pub filter: Option<Filter>,
    pub case_insensitive: bool,
    pub sort_by: Option<String>,
    pub descending: bool,
}

/// Parses `after`; `400 E0000029` for a cursor the simulator did not hand out.
pub(crate) fn parse_cursor(call: &Call) -> Result<Option<Cursor>, ApiError> {
    match call.query.get("after") {
        None => Ok(None),
        Some(text) => Cursor::decode(text).map(Some).ok_or_else(ApiError::invalid_cursor),
    }
}

/// The `Link` headers of a page: `self` always, `next` when more remain.
pub(crate) fn page_links(call: &Call, path: &str, next: Option<Cursor>, limit: usize) -> Vec<String> {
    let self_params: Vec<(&str, &str)> =
        call.query.pairs().iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    let mut links = vec![link(call.base(), path, &self_params, "self")];
    if let Some(cursor) = next {
        let encoded = cursor.encode();
        let limit = limit.to_string();
        let mut params: Vec<(&str, &str)> =
            self_params.iter().filter(|(name, _)| *name != "after" && *name != "limit").copied().collect();
        params.push(("after", &encoded));
        params.push(("limit", &limit));
        links.push(link(call.base(), path, &params, "next"));
    }
    links
}

/// One page of a listing over resources keyed by id. Sorted by `sort` (attribute, descending),
/// pages are positions (offset cursors); unsorted, they follow id order (after-id cursors), which
/// keeps pages stable while resources are created or removed. A cursor of the other kind is
/// refused.
pub(crate) fn listing_page<'a, K, T>(
    items: &'a std::collections::BTreeMap<K, T>,
    cursor: Option<Cursor>,
    sort: Option<(&str, bool)>,
    limit: usize,
    keep: impl Fn(&T) -> bool,
    sort_value: impl Fn(&T, &str) -> (bool, String),
) -> Result<(Vec<&'a T>, Option<Cursor>), ApiError>
where
    K: std::borrow::Borrow<str> + Ord,
{
    if let Some((attribute, descending)) = sort {
        if matches!(cursor, Some(Cursor::AfterId(_))) {
            return Err(ApiError::invalid_cursor());
        }
        let cursor = cursor.unwrap_or(Cursor::Offset(0));
        let mut sorted: Vec<(&str, &T)> =
            items.iter().filter(|(_, item)| keep(item)).map(|(id, item)| (id.borrow(), item)).collect();
        sorted.sort_by_cached_key(|(id, item)| (sort_value(item, attribute), *id));
        if descending {
            sorted.reverse();
        }
        return Ok(select_page(sorted.into_iter(), Some(&cursor), limit, |_| true));
    }
    if matches!(cursor, Some(Cursor::Offset(_))) {
        return Err(ApiError::invalid_cursor());
    }
    let range = match &cursor {
        Some(Cursor::AfterId(after)) => items.range::<str, _>((Bound::Excluded(after.as_str()), Bound::Unbounded)),
        _ => items.range::<str, _>(..),
    };
    Ok(select_page(range.map(|(id, item)| (id.borrow(), item)), cursor.as_ref(), limit, |item: &&T| keep(item)))
}

/// The first `limit` items `keep` accepts (after an offset cursor's position), and the cursor of
/// the next page when more remain.
pub(crate) fn select_page<'a, V>(
    items: impl Iterator<Item = (&'a str, V)>,
    cursor: Option<&Cursor>,
    limit: usize,
    keep: impl Fn(&V) -> bool,
) -> (Vec<V>, Option<Cursor>) {
    let skip = match cursor {
        Some(Cursor::Offset(offset)) => *offset,
        _ => 0,
    };
    let mut page = Vec::with_capacity(limit.min(256));
    let mut last_id: Option<&str> = None;
    let mut position = skip;
    let mut more = false;
    for (id, item) in items.filter(|(_, item)| keep(item)).skip(skip) {
        if page.len() == limit {
            more = true;
            break;
        }
        page.push(item);
        last_id = Some(id);
        position += 1;
    }
    let next = match (more, cursor) {
        (false, _) => None,
        (true, Some(Cursor::Offset(_))) => Some(Cursor::Offset(position)),
        (true, _) => last_id.map(|id| Cursor::AfterId(id.to_owned())),
    };
    (page, next)
}
