//! `git clone` inside a sandbox. A token is handed to git through a one-shot credential helper
//! that reads it from the environment of that single git process: it never appears in the
//! command line (process list), in the repository's config, or in any file in the sandbox.

use super::exec::{ExecCommand, ExecSpec};
use super::SandboxService;
use crate::error::{CoreError, CoreResult};
use cove_types::ErrorCode;
use std::collections::BTreeMap;

/// A clone request.
#[derive(Debug, Clone, Default)]
pub struct GitClone {
    /// Repository URL.
    pub url: String,
    /// Destination (default: repository name under /home/user).
    pub path: Option<String>,
    /// HTTP(S) token.
    pub token: Option<String>,
    /// User name sent with the token.
    pub username: Option<String>,
    /// Branch or tag.
    pub branch: Option<String>,
    /// Shallow depth.
    pub depth: Option<u32>,
    /// Sandbox user that owns the clone.
    pub user: Option<String>,
}

/// Where the clone landed.
#[derive(Debug, Clone)]
pub struct Cloned {
    /// Absolute path.
    pub path: String,
    /// Checked-out branch.
    pub branch: String,
}

const CLONE_TIMEOUT_MS: u64 = 10 * 60 * 1000;

fn validate_url(url: &str) -> CoreResult<()> {
    let ok_scheme = ["https://", "http://", "ssh://", "git://"]
        .iter()
        .any(|s| url.starts_with(s))
        || (url.contains('@') && url.contains(':') && !url.contains("://"));
    if url.is_empty() || url.starts_with('-') || !ok_scheme || url.chars().any(char::is_control) {
        return Err(CoreError::invalid(format!(
            "invalid repository URL {url:?}: use https://, http://, ssh://, git:// or user@host:path"
        )));
    }
    Ok(())
}

fn repo_name(url: &str) -> String {
    let last = url
        .trim_end_matches('/')
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("repo");
    let name = last.strip_suffix(".git").unwrap_or(last);
    if name.is_empty() {
        "repo".into()
    } else {
        name.into()
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl SandboxService {
    /// Clones a repository into the sandbox.
    pub async fn git_clone(&self, id: &str, req: GitClone) -> CoreResult<Cloned> {
        validate_url(&req.url)?;
        if let Some(b) = &req.branch {
            if b.is_empty()
                || b.starts_with('-')
                || b.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(CoreError::invalid(format!("invalid branch {b:?}")));
            }
        }
        if req.depth == Some(0) {
            return Err(CoreError::invalid("depth must be at least 1"));
        }
        if req.token.is_some()
            && !(req.url.starts_with("https://") || req.url.starts_with("http://"))
        {
            return Err(CoreError::invalid(
                "a token can only be used with http(s) URLs",
            ));
        }
        let path = req.path.clone().unwrap_or_else(|| repo_name(&req.url));
        if path.is_empty() || path.contains('\0') {
            return Err(CoreError::invalid("invalid path"));
        }
        let mut envs = BTreeMap::new();
        envs.insert("GIT_TERMINAL_PROMPT".to_string(), "0".to_string());
        let mut git = String::from("git");
        if let Some(token) = &req.token {
            envs.insert("COVE_GIT_TOKEN".to_string(), token.clone());
            envs.insert(
                "COVE_GIT_USER".to_string(),
                req.username
                    .clone()
                    .unwrap_or_else(|| "x-access-token".into()),
            );
            // The helper is given with -c, so it applies to this invocation only and is not
            // written to .git/config.
            git.push_str(
                " -c credential.helper= -c 'credential.helper=!f() { echo \"username=$COVE_GIT_USER\"; echo \"password=$COVE_GIT_TOKEN\"; }; f'",
            );
        }
        let mut cmd = format!("{git} clone --quiet");
        if let Some(b) = &req.branch {
            cmd.push_str(&format!(" --branch {}", shell_quote(b)));
        }
        if let Some(d) = req.depth {
            cmd.push_str(&format!(" --depth {d}"));
        }
        let qpath = shell_quote(&path);
        // Refuse an existing non-empty destination with a clear error instead of git's.
        let script = format!(
            "if [ -e {qpath} ] && [ -n \"$(ls -A {qpath} 2>/dev/null)\" ]; then echo 'COVE_EXISTS' >&2; exit 3; fi\n\
             {cmd} -- {} {qpath} || exit $?\n\
             cd {qpath} && pwd && (git symbolic-ref --short -q HEAD || git rev-parse --short HEAD)",
            shell_quote(&req.url)
        );
        let out = self
            .exec(
                id,
                ExecSpec {
                    command: ExecCommand::Shell(script),
                    envs,
                    user: req.user.clone(),
                    timeout_ms: Some(CLONE_TIMEOUT_MS),
                    ..Default::default()
                },
            )
            .await?;
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if out.timed_out {
            return Err(CoreError::new(
                ErrorCode::DeadlineExceeded,
                "git clone timed out",
            ));
        }
        if out.exit_code != 0 {
            let lower = stderr.to_lowercase();
            let (code, what) = if stderr.contains("COVE_EXISTS") {
                (
                    ErrorCode::AlreadyExists,
                    format!("destination {path} exists and is not empty"),
                )
            } else if lower.contains("authentication failed")
                || lower.contains("could not read username")
                || lower.contains("401")
                || lower.contains("403")
            {
                (
                    ErrorCode::PermissionDenied,
                    format!("authentication failed for {}: {stderr}", req.url),
                )
            } else if lower.contains("not found")
                || lower.contains("does not appear to be a git repository")
            {
                (
                    ErrorCode::NotFound,
                    format!("repository not found: {stderr}"),
                )
            } else if lower.contains("remote branch") {
                (ErrorCode::NotFound, format!("branch not found: {stderr}"))
            } else {
                (
                    ErrorCode::FailedPrecondition,
                    format!("git clone failed: {stderr}"),
                )
            };
            return Err(CoreError::new(code, what));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut lines = stdout.lines();
        let abs = lines.next().unwrap_or_default().trim().to_string();
        let branch = lines.next().unwrap_or_default().trim().to_string();
        Ok(Cloned { path: abs, branch })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_names() {
        assert!(validate_url("https://example.com/a/b.git").is_ok());
        assert!(validate_url("git@github.com:a/b.git").is_ok());
        assert!(validate_url("--upload-pack=evil").is_err());
        assert!(validate_url("ext::sh -c evil").is_err());
        assert!(validate_url("file:///etc").is_err());
        assert_eq!(repo_name("https://x/y/repo.git"), "repo");
        assert_eq!(repo_name("git@h:o/r.git/"), "r");
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
    }
}
