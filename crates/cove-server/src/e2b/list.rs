//! `GET /v2/sandboxes` (every SDK's list, paginated through `X-Next-Token`) and the older
//! `GET /sandboxes` (all running sandboxes in one array).

use super::convert::{cove_states, listed, resolve_template, Aliases};
use super::error::{E2bError, E2bResult};
use super::extract::E2bQuery;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::Json;
use chrono::{DateTime, Utc};
use cove_api::E2bListedSandbox;
use cove_store::{SandboxFilter, SandboxRecord};
use cove_types::{ErrorCode, SandboxState};
use std::collections::BTreeMap;

/// E2B's default and largest page.
const MAX_LIMIT: u32 = 100;

/// Decodes `%XX` escapes; the SDKs percent-encode metadata keys and values before packing them into
/// the `metadata` parameter, so after normal query decoding each still carries one layer.
fn percent_decode(s: &str) -> E2bResult<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| E2bError::invalid(format!("metadata: bad escape in {s:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| E2bError::invalid(format!("metadata: {s:?} is not UTF-8")))
}

/// Undoes the SDKs' per-key/value encoding. The spec describes one layer, but the released SDKs
/// encode keys and values before urlencoding the whole string, and their HTTP clients encode the
/// `%` signs once more, so a value can arrive with two layers left after query decoding. A
/// second layer is removed only when it is really there (escapes that decode to valid UTF-8).
fn decode_layers(s: &str) -> E2bResult<String> {
    let once = percent_decode(s)?;
    let has_escape = once
        .as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit());
    if has_escape {
        if let Ok(twice) = percent_decode(&once) {
            return Ok(twice);
        }
    }
    Ok(once)
}

/// `metadata=k%3Dv%26k2%3Dv2` → `{k: v, k2: v2}` (an AND of exact matches).
fn parse_metadata(v: &str, into: &mut BTreeMap<String, String>) -> E2bResult<()> {
    for pair in v.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').ok_or_else(|| {
            E2bError::invalid(format!("metadata filter {pair:?} must be key=value"))
        })?;
        let k = decode_layers(k)?;
        if k.is_empty() {
            return Err(E2bError::invalid("metadata filter keys must not be empty"));
        }
        into.insert(k, decode_layers(v)?);
    }
    Ok(())
}

/// A parsed list query.
#[derive(Debug, Default)]
struct ListQuery {
    filter: SandboxFilter,
    template: Option<String>,
    started_after: Option<DateTime<Utc>>,
}

fn parse_query(pairs: Vec<(String, String)>) -> E2bResult<ListQuery> {
    let mut q = ListQuery {
        filter: SandboxFilter {
            limit: MAX_LIMIT,
            ..Default::default()
        },
        ..Default::default()
    };
    for (k, v) in pairs {
        match k.as_str() {
            "metadata" => parse_metadata(&v, &mut q.filter.metadata)?,
            "state" => {
                for s in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let states = cove_states(s).ok_or_else(|| {
                        E2bError::invalid(format!(
                            "unknown state {s:?} (expected running or paused)"
                        ))
                    })?;
                    for st in states {
                        if !q.filter.states.contains(st) {
                            q.filter.states.push(*st);
                        }
                    }
                }
            }
            "order" => match v.as_str() {
                "desc" | "" => {}
                "asc" => {
                    return Err(E2bError::unsupported(
                        "order=asc is not supported: Cove lists newest first",
                    ))
                }
                _ => {
                    return Err(E2bError::invalid(format!(
                        "order must be asc or desc (got {v:?})"
                    )))
                }
            },
            "startedAfter" => {
                let t = DateTime::parse_from_rfc3339(&v).map_err(|e| {
                    E2bError::invalid(format!("startedAfter must be RFC 3339 ({v:?}: {e})"))
                })?;
                q.started_after = Some(t.with_timezone(&Utc));
            }
            "template" => q.template = Some(v).filter(|t| !t.is_empty()),
            "nextToken" => q.filter.cursor = Some(v).filter(|c| !c.is_empty()),
            "limit" => {
                let n: u32 = v.parse().map_err(|_| {
                    E2bError::invalid(format!("limit must be an integer 1..100 (got {v:?})"))
                })?;
                if !(1..=MAX_LIMIT).contains(&n) {
                    return Err(E2bError::invalid(format!(
                        "limit must be between 1 and 100 (got {n})"
                    )));
                }
                q.filter.limit = n;
            }
            _ => {
                return Err(E2bError::invalid(format!(
                    "unknown query parameter {k:?} (expected metadata, state, order, \
                     startedAfter, template, limit, nextToken)"
                )))
            }
        }
    }
    if q.filter.states.is_empty() {
        q.filter.states = vec![
            SandboxState::Booting,
            SandboxState::Running,
            SandboxState::Paused,
        ];
    }
    Ok(q)
}

async fn to_listed(st: &AppState, recs: Vec<SandboxRecord>) -> Vec<E2bListedSandbox> {
    let mut aliases = Aliases::default();
    let mut out = Vec::with_capacity(recs.len());
    for r in recs {
        let alias = aliases.of(st, &r.template_id).await;
        out.extend(listed(r, alias));
    }
    out
}

/// `GET /v2/sandboxes`.
pub(crate) async fn list_v2(
    State(st): State<AppState>,
    E2bQuery(pairs): E2bQuery,
) -> E2bResult<(HeaderMap, Json<Vec<E2bListedSandbox>>)> {
    let mut q = parse_query(pairs)?;
    if let Some(t) = &q.template {
        match resolve_template(&st, t).await {
            Ok(t) => q.filter.template_id = Some(t.id),
            // Nothing can run from a template that does not exist.
            Err(e) if e.is_not_found() => return Ok((HeaderMap::new(), Json(Vec::new()))),
            Err(e) => return Err(e),
        }
    }
    let page = st.sandboxes.list(&q.filter).await.map_err(|e| {
        if e.code() == ErrorCode::InvalidArgument && q.filter.cursor.is_some() {
            E2bError::invalid("nextToken is not valid; pass X-Next-Token from a previous page")
        } else {
            e.into()
        }
    })?;
    let mut next = page.next_cursor;
    let mut items = page.items;
    if let Some(after) = q.started_after {
        // Pages are newest first: once a page reaches sandboxes created before the bound, every
        // later page is older still, so paging stops here.
        if items.iter().any(|r| r.created_at <= after) {
            next = None;
        }
        items.retain(|r| r.started_at.unwrap_or(r.created_at) > after);
    }
    let mut headers = HeaderMap::new();
    if let Some(token) = next.and_then(|n| HeaderValue::from_str(&n).ok()) {
        headers.insert(HeaderName::from_static("x-next-token"), token);
    }
    Ok((headers, Json(to_listed(&st, items).await)))
}

/// `GET /sandboxes`: running sandboxes, optionally filtered by `metadata`, unpaginated.
pub(crate) async fn list_v1(
    State(st): State<AppState>,
    E2bQuery(pairs): E2bQuery,
) -> E2bResult<Json<Vec<E2bListedSandbox>>> {
    let mut filter = SandboxFilter {
        limit: MAX_LIMIT,
        states: vec![SandboxState::Booting, SandboxState::Running],
        ..Default::default()
    };
    for (k, v) in pairs {
        match k.as_str() {
            "metadata" => parse_metadata(&v, &mut filter.metadata)?,
            _ => {
                return Err(E2bError::invalid(format!(
                    "unknown query parameter {k:?} (expected metadata)"
                )))
            }
        }
    }
    let mut all = Vec::new();
    loop {
        let page = st.sandboxes.list(&filter).await?;
        all.extend(page.items);
        match page.next_cursor {
            Some(c) => filter.cursor = Some(c),
            None => break,
        }
    }
    Ok(Json(to_listed(&st, all).await))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> E2bResult<ListQuery> {
        parse_query(
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    #[test]
    fn query() {
        let parsed = q(&[
            ("metadata", "user=abc&my%20key=a%26b"),
            ("state", "running"),
            ("limit", "10"),
            ("nextToken", "tok"),
        ]);
        assert!(parsed.is_ok());
        if let Ok(p) = parsed {
            assert_eq!(
                p.filter.metadata.get("user").map(String::as_str),
                Some("abc")
            );
            assert_eq!(
                p.filter.metadata.get("my key").map(String::as_str),
                Some("a&b")
            );
            assert_eq!(p.filter.limit, 10);
            assert_eq!(p.filter.cursor.as_deref(), Some("tok"));
            assert!(!p.filter.states.contains(&SandboxState::Paused));
        }
        assert!(q(&[]).is_ok_and(|p| p.filter.states.len() == 3 && p.filter.limit == 100));
        assert!(q(&[("limit", "0")]).is_err());
        assert!(q(&[("limit", "101")]).is_err());
        assert!(q(&[("state", "killed")]).is_err());
        assert!(q(&[("order", "asc")]).is_err());
        assert!(q(&[("order", "desc")]).is_ok());
        assert!(q(&[("startedAfter", "2025-01-01T00:00:00Z")]).is_ok());
        assert!(q(&[("startedAfter", "yesterday")]).is_err());
        assert!(q(&[("bogus", "1")]).is_err());
        assert!(q(&[("metadata", "novalue")]).is_err());
    }

    #[test]
    fn metadata_as_the_sdks_send_it() {
        // What e2b 2.63 / e2b@2.51 put on the wire for {"k1": "v 1", "k3": "é"}, after the one
        // layer of query decoding the framework does.
        let parsed = q(&[("metadata", "k1=v%25201&k3=%25C3%25A9")]);
        let m = parsed.map(|p| p.filter.metadata).unwrap_or_default();
        assert_eq!(m.get("k1").map(String::as_str), Some("v 1"));
        assert_eq!(m.get("k3").map(String::as_str), Some("é"));
    }
}
