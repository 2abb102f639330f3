//! Small argument-parsing helpers shared by the subcommands, kept free of I/O so they are easy to
//! unit-test.

use std::collections::BTreeMap;

/// Parses `KEY=VALUE` (split at the first `=`, so values may contain `=`). Used as a clap value
/// parser, hence the `String` error.
pub fn parse_kv(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("expected KEY=VALUE, got `{s}`"))?;
    if k.is_empty() {
        return Err(format!("empty key in `{s}`"));
    }
    Ok((k.to_string(), v.to_string()))
}

/// Collects pairs into a map; `None` when empty so the request omits the field entirely.
pub fn kv_map(pairs: &[(String, String)]) -> Option<BTreeMap<String, String>> {
    if pairs.is_empty() {
        None
    } else {
        Some(pairs.iter().cloned().collect())
    }
}

/// How `cove sandbox exec` sends its command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecCommand {
    /// A shell command line for `/bin/bash -l -c`.
    Shell(String),
    /// A program and its arguments, run without a shell.
    Argv {
        /// Program (looked up in PATH).
        cmd: String,
        /// Its arguments.
        args: Vec<String>,
    },
}

/// Chooses shell vs argv. A single argument with whitespace (`cove sandbox exec ID 'ls -la | wc'`)
/// can only sensibly be a command line, so it goes to the shell even without `--shell`.
pub fn exec_command(words: &[String], shell: bool) -> Option<ExecCommand> {
    let (first, rest) = words.split_first()?;
    if shell || (rest.is_empty() && first.chars().any(char::is_whitespace)) {
        return Some(ExecCommand::Shell(words.join(" ")));
    }
    Some(ExecCommand::Argv {
        cmd: first.clone(),
        args: rest.to_vec(),
    })
}

/// Splits `--status running,killed` (and repeated flags) into single statuses.
pub fn split_statuses(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn words(ws: &[&str]) -> Vec<String> {
        ws.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn kv_splits_at_first_equals() {
        assert_eq!(parse_kv("A=b").unwrap(), ("A".into(), "b".into()));
        assert_eq!(parse_kv("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert_eq!(parse_kv("A=").unwrap(), ("A".into(), String::new()));
    }

    #[test]
    fn kv_rejects_malformed() {
        assert!(parse_kv("novalue").is_err());
        assert!(parse_kv("=v").is_err());
        assert!(parse_kv("").is_err());
    }

    #[test]
    fn kv_map_empty_is_none() {
        assert_eq!(kv_map(&[]), None);
        let m = kv_map(&[("a".into(), "1".into()), ("a".into(), "2".into())]).unwrap();
        assert_eq!(m.get("a").map(String::as_str), Some("2"));
    }

    #[test]
    fn argv_by_default() {
        assert_eq!(
            exec_command(&words(&["ls", "-la", "/tmp"]), false),
            Some(ExecCommand::Argv {
                cmd: "ls".into(),
                args: words(&["-la", "/tmp"])
            })
        );
        assert_eq!(
            exec_command(&words(&["true"]), false),
            Some(ExecCommand::Argv {
                cmd: "true".into(),
                args: vec![]
            })
        );
    }

    #[test]
    fn shell_when_asked_or_single_spaced_arg() {
        assert_eq!(
            exec_command(&words(&["echo", "$HOME"]), true),
            Some(ExecCommand::Shell("echo $HOME".into()))
        );
        assert_eq!(
            exec_command(&words(&["ls -la | wc -l"]), false),
            Some(ExecCommand::Shell("ls -la | wc -l".into()))
        );
        // Several args where one has a space: the user quoted deliberately, keep argv.
        assert_eq!(
            exec_command(&words(&["echo", "a b"]), false),
            Some(ExecCommand::Argv {
                cmd: "echo".into(),
                args: words(&["a b"])
            })
        );
    }

    #[test]
    fn empty_command_is_none() {
        assert_eq!(exec_command(&[], false), None);
        assert_eq!(exec_command(&[], true), None);
    }

    #[test]
    fn statuses_split_and_trim() {
        assert_eq!(
            split_statuses(&words(&["running, killed", "paused", ""])),
            words(&["running", "killed", "paused"])
        );
    }
}
