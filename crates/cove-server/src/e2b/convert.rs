//! Record → E2B wire shapes, E2B state names, and E2B template spellings → Cove templates.

use super::error::{E2bError, E2bResult};
use crate::state::AppState;
use chrono::{DateTime, TimeZone, Utc};
use cove_api::{E2bLifecycle, E2bListedSandbox, E2bSandbox, E2B_CLIENT_ID, E2B_ENVD_VERSION};
use cove_store::{SandboxRecord, TemplateRecord};
use cove_types::{ErrorCode, SandboxState};
use std::collections::HashMap;

/// E2B knows only `running` and `paused` (the Python SDK raises on anything else), and dead
/// sandboxes do not exist there. A booting sandbox is only visible while its create is in flight,
/// so it shows as running; one being torn down is already gone.
pub(crate) fn e2b_state(s: SandboxState) -> Option<&'static str> {
    match s {
        SandboxState::Booting | SandboxState::Running => Some("running"),
        SandboxState::Paused => Some("paused"),
        SandboxState::Stopping | SandboxState::Killed | SandboxState::Error => None,
    }
}

/// The Cove states an E2B state filter selects.
pub(crate) fn cove_states(e2b: &str) -> Option<&'static [SandboxState]> {
    match e2b {
        "running" => Some(&[SandboxState::Booting, SandboxState::Running]),
        "paused" => Some(&[SandboxState::Paused]),
        _ => None,
    }
}

/// `endAt` is required, but a Cove sandbox may have no deadline (`timeoutSeconds: 0` on /v1): report
/// the last representable RFC 3339 second rather than a made-up near date.
fn end_at(rec: &SandboxRecord) -> DateTime<Utc> {
    rec.end_at.unwrap_or_else(|| {
        Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
            .single()
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    })
}

/// The sandbox if it is alive, else E2B's 404.
pub(crate) async fn alive(st: &AppState, id: &str) -> E2bResult<SandboxRecord> {
    let rec = st.sandboxes.get(id).await.map_err(|e| {
        if e.code() == ErrorCode::NotFound {
            E2bError::sandbox_not_found(id)
        } else {
            e.into()
        }
    })?;
    if e2b_state(rec.state).is_none() {
        return Err(E2bError::sandbox_not_found(id));
    }
    Ok(rec)
}

/// Create, connect and get answer.
pub(crate) fn detail(rec: SandboxRecord, alias: Option<String>, domain: &str) -> E2bSandbox {
    E2bSandbox {
        end_at: end_at(&rec),
        state: e2b_state(rec.state).unwrap_or("running").to_string(),
        alias,
        sandbox_id: rec.id,
        template_id: rec.template_id,
        client_id: E2B_CLIENT_ID.to_string(),
        envd_version: E2B_ENVD_VERSION.to_string(),
        envd_access_token: rec.access_token,
        traffic_access_token: None,
        domain: Some(domain.to_string()),
        started_at: rec.started_at.unwrap_or(rec.created_at),
        cpu_count: rec.cpu_count,
        memory_mb: rec.memory_mb,
        disk_size_mb: rec.disk_mb,
        metadata: rec.metadata,
        // Sandboxes have a loopback-only network namespace: no egress, whatever was asked.
        allow_internet_access: false,
        lifecycle: E2bLifecycle {
            auto_resume: false,
            on_timeout: "kill".to_string(),
        },
    }
}

/// A list entry, or `None` for a record E2B would not show.
pub(crate) fn listed(rec: SandboxRecord, alias: Option<String>) -> Option<E2bListedSandbox> {
    let state = e2b_state(rec.state)?;
    Some(E2bListedSandbox {
        end_at: end_at(&rec),
        state: state.to_string(),
        alias,
        sandbox_id: rec.id,
        template_id: rec.template_id,
        client_id: E2B_CLIENT_ID.to_string(),
        started_at: rec.started_at.unwrap_or(rec.created_at),
        cpu_count: rec.cpu_count,
        memory_mb: rec.memory_mb,
        disk_size_mb: rec.disk_mb,
        envd_version: E2B_ENVD_VERSION.to_string(),
        metadata: rec.metadata,
    })
}

/// Template names by id, looked up once per request (`alias` is optional, so a failed lookup only
/// omits it).
#[derive(Default)]
pub(crate) struct Aliases(HashMap<String, Option<String>>);

impl Aliases {
    pub(crate) async fn of(&mut self, st: &AppState, template_id: &str) -> Option<String> {
        if let Some(a) = self.0.get(template_id) {
            return a.clone();
        }
        let alias = st
            .sandboxes
            .template(template_id)
            .await
            .ok()
            .map(|t| t.name);
        self.0.insert(template_id.to_string(), alias.clone());
        alias
    }
}

/// The spellings of `raw` to try, most specific first: as given; without a `:default`/`:latest`
/// tag (Cove templates have one version, so other tags cannot be honoured); without E2B's `-vN`
/// version suffix (`code-interpreter-v1`).
fn template_candidates(raw: &str) -> Vec<String> {
    let mut out = vec![raw.to_string()];
    let untagged = match raw.rsplit_once(':') {
        Some((name, "default" | "latest")) => name,
        Some(_) => return out,
        None => raw,
    };
    out.push(untagged.to_string());
    if let Some((name, v)) = untagged.rsplit_once("-v") {
        if !name.is_empty() && !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
            out.push(name.to_string());
        }
    }
    out.dedup();
    out
}

/// Resolves an E2B `templateID` (or list `template` filter) to a Cove template.
pub(crate) async fn resolve_template(st: &AppState, raw: &str) -> E2bResult<TemplateRecord> {
    if raw.trim().is_empty() {
        return Err(E2bError::invalid("templateID must not be empty"));
    }
    for c in template_candidates(raw) {
        match st.sandboxes.template(&c).await {
            Ok(t) => return Ok(t),
            Err(e) if e.code() == ErrorCode::NotFound => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(E2bError::new(
        ErrorCode::NotFound,
        format!("template '{raw}' not found"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates() {
        assert_eq!(template_candidates("base"), vec!["base"]);
        assert_eq!(
            template_candidates("code-interpreter-v1"),
            vec!["code-interpreter-v1", "code-interpreter"]
        );
        assert_eq!(
            template_candidates("base:default"),
            vec!["base:default", "base"]
        );
        assert_eq!(template_candidates("base:v3"), vec!["base:v3"]);
        assert_eq!(template_candidates("my-venv"), vec!["my-venv"]);
        assert_eq!(
            template_candidates("x-v2:latest"),
            vec!["x-v2:latest", "x-v2", "x"]
        );
    }

    #[test]
    fn states() {
        assert_eq!(e2b_state(SandboxState::Running), Some("running"));
        assert_eq!(e2b_state(SandboxState::Killed), None);
        assert!(cove_states("killed").is_none());
    }
}
