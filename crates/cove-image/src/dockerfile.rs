//! A Dockerfile subset as an input format for recipes: `FROM` (one stage), `RUN`, `COPY`/`ADD`
//! (local files only), `ENV`, `WORKDIR`, `USER`, `CMD`/`ENTRYPOINT` (the start command),
//! `HEALTHCHECK CMD` (the ready check); `LABEL`, `EXPOSE`, `ARG` with defaults only as comments
//! are ignored. Anything else is an error naming the line, never silently skipped.

use crate::error::{ImageError, ImageResult};
use crate::recipe::{Base, CopyStep, Recipe, Step};
use std::collections::BTreeMap;

/// Parses `text` into a recipe.
pub fn parse(text: &str) -> ImageResult<Recipe> {
    let mut from: Option<Base> = None;
    let mut steps = Vec::new();
    let mut entrypoint: Option<String> = None;
    let mut cmd: Option<String> = None;
    let mut ready = None;
    for (lineno, line) in logical_lines(text) {
        let err = |m: String| ImageError::Recipe(format!("Dockerfile line {lineno}: {m}"));
        let (instr, args) = match line.split_once(char::is_whitespace) {
            Some((i, a)) => (i.to_ascii_uppercase(), a.trim().to_string()),
            None => (line.to_ascii_uppercase(), String::new()),
        };
        if instr != "FROM" && from.is_none() && !matches!(instr.as_str(), "ARG" | "LABEL") {
            return Err(err(format!("{instr} before FROM")));
        }
        match instr.as_str() {
            "FROM" => {
                if from.is_some() {
                    return Err(err("multi-stage builds are not supported".into()));
                }
                let mut words = args.split_whitespace();
                let image = words
                    .next()
                    .filter(|w| !w.starts_with("--"))
                    .ok_or_else(|| err("FROM needs an image".into()))?;
                if let Some(w) = words.next() {
                    if !w.eq_ignore_ascii_case("as") {
                        return Err(err(format!("unexpected {w:?}")));
                    }
                }
                from = Some(Base::Image {
                    image: image.to_string(),
                    insecure_registry: false,
                });
            }
            "RUN" => steps.push(Step::Run(command(&args).map_err(err)?)),
            "COPY" | "ADD" => {
                let words = if args.starts_with('[') {
                    json_array(&args).map_err(err)?
                } else {
                    args.split_whitespace().map(str::to_string).collect()
                };
                if let Some(f) = words.iter().find(|w| w.starts_with("--")) {
                    return Err(err(format!("{instr} flag {f} is not supported")));
                }
                let (dest, srcs) = words
                    .split_last()
                    .filter(|(_, s)| !s.is_empty())
                    .ok_or_else(|| err(format!("{instr} needs a source and a destination")))?;
                if srcs.len() > 1 && !dest.ends_with('/') {
                    return Err(err(
                        "with several sources the destination must end in /".into()
                    ));
                }
                for s in srcs {
                    if s.contains("://") {
                        return Err(err("remote sources are not supported".into()));
                    }
                    let src = s.trim_start_matches("./").trim_end_matches('/');
                    steps.push(Step::Copy(CopyStep {
                        src: if src.is_empty() {
                            ".".into()
                        } else {
                            src.into()
                        },
                        dest: dest.clone(),
                    }));
                }
            }
            "ENV" => steps.push(Step::Env(env_pairs(&args).map_err(err)?)),
            "WORKDIR" => steps.push(Step::Workdir(unquote(&args))),
            "USER" => steps.push(Step::User(unquote(&args))),
            "CMD" => cmd = Some(command(&args).map_err(err)?),
            "ENTRYPOINT" => entrypoint = Some(command(&args).map_err(err)?),
            "HEALTHCHECK" => {
                let rest = args
                    .strip_prefix("CMD")
                    .or_else(|| args.strip_prefix("cmd"))
                    .ok_or_else(|| err("only HEALTHCHECK CMD … is supported".into()))?;
                ready = Some(command(rest.trim()).map_err(err)?);
            }
            "LABEL" | "EXPOSE" | "ARG" | "MAINTAINER" | "STOPSIGNAL" | "SHELL" | "VOLUME" => {}
            other => return Err(err(format!("unsupported instruction {other}"))),
        }
    }
    let from = from.ok_or_else(|| ImageError::Recipe("Dockerfile has no FROM".into()))?;
    let start = match (entrypoint, cmd) {
        (Some(e), Some(c)) => Some(format!("{e} {c}")),
        (e, c) => e.or(c),
    };
    let r = Recipe {
        from,
        steps,
        start,
        ready,
    };
    r.validate()?;
    Ok(r)
}

/// Lines with continuations joined and comments dropped, numbered by their first line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        let t = raw.trim();
        if t.starts_with('#') || (t.is_empty() && cur.is_empty()) {
            continue;
        }
        if cur.is_empty() {
            start = i + 1;
        }
        if let Some(body) = t.strip_suffix('\\') {
            cur.push_str(body);
            cur.push(' ');
        } else {
            cur.push_str(t);
            out.push((start, std::mem::take(&mut cur).trim().to_string()));
        }
    }
    if !cur.trim().is_empty() {
        out.push((start, cur.trim().to_string()));
    }
    out
}

/// Shell form as is; exec form (JSON array) as a shell-quoted command line.
fn command(args: &str) -> Result<String, String> {
    if args.starts_with('[') {
        let words = json_array(args)?;
        if words.is_empty() {
            return Err("empty command".into());
        }
        Ok(words
            .iter()
            .map(|w| shell_quote(w))
            .collect::<Vec<_>>()
            .join(" "))
    } else if args.is_empty() {
        Err("empty command".into())
    } else {
        Ok(args.to_string())
    }
}

fn json_array(args: &str) -> Result<Vec<String>, String> {
    serde_json::from_str(args).map_err(|e| format!("bad JSON array: {e}"))
}

/// Quotes a word for `sh -c` when it needs it.
pub fn shell_quote(w: &str) -> String {
    if !w.is_empty()
        && w.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
    {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    if s.len() >= 2
        && ((s.starts_with('"') && s.ends_with('"')) || (s.starts_with('\'') && s.ends_with('\'')))
    {
        s[1..s.len() - 1].to_string()
    } else {
        s.to_string()
    }
}

/// `K=V K2="v 2"` or the legacy `K V…`.
fn env_pairs(args: &str) -> Result<BTreeMap<String, String>, String> {
    let mut m = BTreeMap::new();
    let first = args.split_whitespace().next().unwrap_or_default();
    if !first.contains('=') {
        let (k, v) = args
            .split_once(char::is_whitespace)
            .ok_or_else(|| "ENV needs a value".to_string())?;
        m.insert(k.to_string(), unquote(v));
        return Ok(m);
    }
    // Split on whitespace outside quotes.
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in args.chars() {
        match (quote, c) {
            (None, '"') | (None, '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            (_, c) => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    for w in words {
        let (k, v) = w
            .split_once('=')
            .ok_or_else(|| format!("expected KEY=VALUE, got {w:?}"))?;
        m.insert(k.to_string(), v.to_string());
    }
    Ok(m)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_subset() {
        let r = parse(
            "# comment\nFROM base\nENV A=1 B=\"two words\"\nENV C 3\nWORKDIR /app\n\
             COPY app.py /app/\nRUN apt-get update && \\\n    apt-get install -y x\n\
             USER user\nEXPOSE 80\nHEALTHCHECK CMD curl -f localhost\nCMD [\"python3\", \"app.py\"]\n",
        )
        .unwrap();
        assert_eq!(
            r.from,
            Base::Image {
                image: "base".into(),
                insecure_registry: false
            }
        );
        assert_eq!(r.start.as_deref(), Some("python3 app.py"));
        assert_eq!(r.ready.as_deref(), Some("curl -f localhost"));
        assert_eq!(r.steps.len(), 6);
        assert_eq!(
            r.steps[1],
            Step::Env([("C".to_string(), "3".to_string())].into())
        );
        assert_eq!(
            r.steps[0],
            Step::Env(
                [("A".into(), "1".into()), ("B".into(), "two words".into())]
                    .into_iter()
                    .collect()
            )
        );
        assert_eq!(
            r.steps[4],
            Step::Run("apt-get update &&  apt-get install -y x".into())
        );
    }

    #[test]
    fn rejects_what_it_cannot_do() {
        for bad in [
            "RUN x",
            "FROM a\nFROM b",
            "FROM a\nCOPY --from=x a /b",
            "FROM a\nONBUILD RUN x",
            "FROM a\nCOPY a b /c",
            "FROM a\nCOPY a rel",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
