//! Rendering helpers: aligned tables, times and JSON. Everything writes to a caller-supplied
//! writer and returns I/O errors, because `println!` panics on a closed stdout and we want
//! `cove ... | head` to end quietly instead.

use std::io::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Pretty JSON followed by a newline.
pub fn json(out: &mut impl Write, value: &impl Serialize) -> anyhow::Result<()> {
    // Through io::Error so a closed stdout stays recognisable as a broken pipe.
    serde_json::to_writer_pretty(&mut *out, value).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

/// Writes rows under a header with every column padded to its widest cell; the last column is
/// not padded so lines carry no trailing blanks.
pub fn table(out: &mut impl Write, header: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths.get(i).copied().unwrap_or(0);
                line.push_str(&format!("{cell:<pad$}  "));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// `3m ago` / `in 2h` relative to `now`, coarse on purpose: tables only need a feel for age.
pub fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (t - now).num_seconds();
    let abs = secs.unsigned_abs();
    let span = if abs < 60 {
        format!("{abs}s")
    } else if abs < 3600 {
        format!("{}m", abs / 60)
    } else if abs < 86_400 {
        format!("{}h", abs / 3600)
    } else {
        format!("{}d", abs / 86_400)
    };
    // Zero counts as past: a just-created sandbox should not read "in 0s".
    if secs <= 0 {
        format!("{span} ago")
    } else {
        format!("in {span}")
    }
}

/// RFC 3339 with second precision, or `-` for "never"/"unknown".
pub fn timestamp(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| "-".to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn table_aligns() {
        let mut buf = Vec::new();
        table(
            &mut buf,
            &["ID", "NAME"],
            &[
                vec!["a".into(), "x".into()],
                vec!["longer".into(), "".into()],
            ],
        )
        .unwrap();
        let s = String::from_utf8(buf).unwrap();
        assert_eq!(s, "ID      NAME\na       x\nlonger\n");
    }

    #[test]
    fn relative_times() {
        let now = Utc.with_ymd_and_hms(2024, 1, 1, 12, 0, 0).unwrap();
        let ago = Utc.with_ymd_and_hms(2024, 1, 1, 11, 57, 0).unwrap();
        let later = Utc.with_ymd_and_hms(2024, 1, 1, 14, 0, 0).unwrap();
        assert_eq!(relative(ago, now), "3m ago");
        assert_eq!(relative(later, now), "in 2h");
        assert_eq!(timestamp(None), "-");
        assert_eq!(timestamp(Some(now)), "2024-01-01T12:00:00Z");
    }
}
