//! `POST /sandboxes` and `POST /v2/sandboxes`. Every E2B option is read; an option Cove cannot
//! honour is refused with a message saying so rather than dropped, except where ignoring it leaves
//! the sandbox at least as locked down as asked (see `check_options`).

use super::convert::{detail, resolve_template};
use super::error::{E2bError, E2bResult};
use super::extract::E2bJson;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use cove_api::{E2bNetworkConfig, E2bNewSandbox, E2bSandbox};
use cove_core::CreateSandbox;

/// Timeout of a v1 create that names none (E2B's v1 default; v2 uses the server default).
const V1_DEFAULT_TIMEOUT_SECS: u64 = 15;

fn non_empty<T>(v: &Option<Vec<T>>) -> bool {
    v.as_ref().is_some_and(|v| !v.is_empty())
}

/// Network options. Sandboxes have a loopback-only network namespace, so anything that would open
/// or shape egress cannot be honoured, and saying yes would misreport the sandbox's reach.
fn check_network(n: &E2bNetworkConfig) -> E2bResult<()> {
    if non_empty(&n.allow_out) || non_empty(&n.deny_out) {
        return Err(E2bError::policy(
            "network.allowOut/denyOut are not supported: Cove sandboxes have no outbound network \
             access, so egress rules cannot be applied",
        ));
    }
    if non_empty(&n.dns_servers)
        || n.egress_proxy.as_ref().is_some_and(|v| !v.is_null())
        || n.rules.as_ref().is_some_and(|r| !r.is_empty())
    {
        return Err(E2bError::policy(
            "network.dnsServers/egressProxy/rules are not supported: Cove sandboxes have no \
             outbound network access",
        ));
    }
    if n.allow_public_traffic == Some(false) {
        // Traffic access tokens are not issued, so a private-URL sandbox cannot be guaranteed.
        return Err(E2bError::policy(
            "network.allowPublicTraffic=false is not supported: Cove issues no traffic access \
             tokens, so sandbox URLs could not be restricted",
        ));
    }
    if n.mask_request_host.as_ref().is_some_and(|h| !h.is_empty()) || non_empty(&n.https_ports) {
        return Err(E2bError::unsupported(
            "network.maskRequestHost/httpsPorts are not supported by Cove",
        ));
    }
    Ok(())
}

/// Refuses what Cove cannot do. Accepted as is: `secure` (envd traffic always needs the access
/// token), `allow_internet_access` (false is the only behaviour Cove has; true is what every
/// v1-era SDK sends by default, and getting less network than asked weakens nothing; the detail
/// reports `allowInternetAccess: false`), `autoPauseMemory` without `autoPause`.
fn check_options(req: &E2bNewSandbox) -> E2bResult<()> {
    if req.auto_pause == Some(true) {
        return Err(E2bError::unsupported(
            "autoPause is not supported: Cove cannot pause sandboxes yet, and killing instead \
             would lose the sandbox's state",
        ));
    }
    if req.auto_resume.as_ref().is_some_and(|a| a.enabled) {
        return Err(E2bError::unsupported(
            "autoResume is not supported: Cove cannot pause sandboxes yet",
        ));
    }
    if let Some(n) = &req.network {
        check_network(n)?;
    }
    if req.mcp.as_ref().is_some_and(|v| !v.is_null()) {
        return Err(E2bError::unsupported(
            "mcp is not supported: Cove has no MCP gateway template",
        ));
    }
    let iam_empty = match &req.iam {
        None | Some(serde_json::Value::Null) => true,
        Some(v) => {
            v.get("tokens")
                .and_then(|t| t.as_object())
                .is_some_and(|t| t.is_empty())
                && v.as_object().is_some_and(|o| o.len() == 1)
        }
    };
    if !iam_empty {
        return Err(E2bError::unsupported(
            "iam is not supported: Cove issues no workload identity tokens",
        ));
    }
    if non_empty(&req.volume_mounts) {
        return Err(E2bError::unsupported(
            "volumeMounts are not supported: Cove has no volumes",
        ));
    }
    if req.timeout == Some(0) {
        return Err(E2bError::invalid(
            "timeout must be at least 1 second (use DELETE to kill a sandbox)",
        ));
    }
    Ok(())
}

async fn create(
    st: AppState,
    headers: HeaderMap,
    req: E2bNewSandbox,
    default_timeout: Option<u64>,
) -> E2bResult<(StatusCode, Json<E2bSandbox>)> {
    if headers.contains_key("idempotency-key") {
        // Without a record of past keys a retried create would start a second sandbox.
        return Err(E2bError::unsupported(
            "Idempotency-Key is not supported by Cove; retry without it",
        ));
    }
    check_options(&req)?;
    let template = resolve_template(&st, &req.template_id).await?;
    let rec = st
        .sandboxes
        .create(CreateSandbox {
            template_id: Some(template.id.clone()),
            timeout_secs: req.timeout.or(default_timeout),
            metadata: req.metadata.unwrap_or_default(),
            envs: req.env_vars.unwrap_or_default(),
            ..Default::default()
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(detail(rec, Some(template.name), &st.domain)),
    ))
}

/// `POST /sandboxes` (SDKs up to 2.50).
pub(crate) async fn create_v1(
    State(st): State<AppState>,
    headers: HeaderMap,
    E2bJson(req): E2bJson<E2bNewSandbox>,
) -> Result<(StatusCode, Json<E2bSandbox>), E2bError> {
    create(st, headers, req, Some(V1_DEFAULT_TIMEOUT_SECS))
        .await
        .map_err(E2bError::no_retry)
}

/// `POST /v2/sandboxes` (SDKs from 2.51).
pub(crate) async fn create_v2(
    State(st): State<AppState>,
    headers: HeaderMap,
    E2bJson(req): E2bJson<E2bNewSandbox>,
) -> Result<(StatusCode, Json<E2bSandbox>), E2bError> {
    create(st, headers, req, None)
        .await
        .map_err(E2bError::no_retry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> E2bNewSandbox {
        serde_json::from_value(v).unwrap_or_default()
    }

    #[test]
    fn sdk_defaults_pass() {
        // py 2.63, py 2.45 (v1) and js 2.51 defaults.
        for body in [
            serde_json::json!({"templateID":"base","metadata":{},"envVars":{}}),
            serde_json::json!({"templateID":"base","timeout":300,"secure":true,
                "allow_internet_access":true,"metadata":{},"envVars":{}}),
            serde_json::json!({"templateID":"base","mcp":null,"network":{}}),
        ] {
            assert!(check_options(&parse(body)).is_ok());
        }
    }

    #[test]
    fn refusals() {
        for body in [
            serde_json::json!({"templateID":"base","network":{"allowOut":["1.1.1.1"]}}),
            serde_json::json!({"templateID":"base","network":{"denyOut":["0.0.0.0/0"]}}),
            serde_json::json!({"templateID":"base","network":{"allowPublicTraffic":false}}),
            serde_json::json!({"templateID":"base","autoPause":true}),
            serde_json::json!({"templateID":"base","mcp":{"x":{}}}),
            serde_json::json!({"templateID":"base","volumeMounts":[{"name":"v","path":"/v"}]}),
            serde_json::json!({"templateID":"base","iam":{"tokens":{"a":{}}}}),
            serde_json::json!({"templateID":"base","timeout":0}),
        ] {
            assert!(check_options(&parse(body.clone())).is_err(), "{body}");
        }
        assert!(serde_json::from_value::<E2bNewSandbox>(
            serde_json::json!({"templateID":"base","bogus":1})
        )
        .is_err());
    }
}
