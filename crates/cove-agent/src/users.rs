//! User and group lookup by parsing the sandbox's own /etc/passwd and /etc/group. The agent is a
//! static binary running inside arbitrary root filesystems, so NSS is neither available nor wanted:
//! the files of the sandbox are the source of truth. Lookups are cached per file version (inode,
//! size, mtime), so users added by a template or at run time are still picked up while the
//! per-exec cost is two `stat`s instead of reading and parsing both files.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Mutex;

const PASSWD: &str = "/etc/passwd";
const GROUP: &str = "/etc/group";

/// Everything needed to run a process or own a file as some user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    /// Supplementary groups, including the primary one.
    pub groups: Vec<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("invalid username: '{0}'")]
    Unknown(String),
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

fn parse_passwd(text: &str) -> impl Iterator<Item = PasswdEntry> + '_ {
    text.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 || line.starts_with('#') {
            return None;
        }
        Some(PasswdEntry {
            name: f[0].to_string(),
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f[5].to_string(),
        })
    })
}

/// (name, gid, members)
fn parse_group(text: &str) -> impl Iterator<Item = (&str, u32, Vec<&str>)> + '_ {
    text.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 4 || line.starts_with('#') {
            return None;
        }
        let members = f[3].split(',').filter(|m| !m.is_empty()).collect();
        Some((f[0], f[2].parse().ok()?, members))
    })
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Identifies one version of a file; `None` when it does not exist.
type Stamp = Option<(u64, u64, u64, i64, i64)>;

fn stamp(path: &str) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec()))
}

/// Users already resolved from the passwd/group versions in `stamps`.
struct Cache {
    stamps: (Stamp, Stamp),
    users: HashMap<String, User>,
}

static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

/// Looks a user up by name. `root` always exists, even in images without /etc/passwd.
pub fn lookup(name: &str) -> Result<User, UserError> {
    let stamps = (stamp(PASSWD), stamp(GROUP));
    // A poisoned cache is simply rebuilt.
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if cache.as_ref().is_some_and(|c| c.stamps != stamps) {
        *cache = None;
    }
    if let Some(u) = cache.as_ref().and_then(|c| c.users.get(name)) {
        return Ok(u.clone());
    }
    let user = lookup_in(name, &read(PASSWD), &read(GROUP))?;
    // Re-stat after reading: a file that changed meanwhile must not be cached under the old stamp.
    if (stamp(PASSWD), stamp(GROUP)) == stamps {
        cache
            .get_or_insert_with(|| Cache {
                stamps,
                users: HashMap::new(),
            })
            .users
            .insert(name.to_string(), user.clone());
    }
    Ok(user)
}

fn lookup_in(name: &str, passwd: &str, group: &str) -> Result<User, UserError> {
    let entry = parse_passwd(passwd).find(|e| e.name == name);
    let entry = match entry {
        Some(e) => e,
        None if name == "root" => PasswdEntry {
            name: "root".into(),
            uid: 0,
            gid: 0,
            home: "/root".into(),
        },
        None => return Err(UserError::Unknown(name.to_string())),
    };
    let mut groups = vec![entry.gid];
    for (_, gid, members) in parse_group(group) {
        if members.contains(&name) && !groups.contains(&gid) {
            groups.push(gid);
        }
    }
    let home = if entry.home.is_empty() {
        "/".to_string()
    } else {
        entry.home
    };
    Ok(User {
        name: entry.name,
        uid: entry.uid,
        gid: entry.gid,
        home: PathBuf::from(home),
        groups,
    })
}

/// True if the name exists in /etc/passwd.
pub fn exists(name: &str) -> bool {
    parse_passwd(&read(PASSWD)).any(|e| e.name == name)
}

/// uid/gid to name maps for rendering file owners; loaded once per request.
#[derive(Debug, Default)]
pub struct Names {
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
}

impl Names {
    pub fn load() -> Self {
        Self::from_text(&read(PASSWD), &read(GROUP))
    }

    fn from_text(passwd: &str, group: &str) -> Self {
        let mut names = Names::default();
        for e in parse_passwd(passwd) {
            names.users.entry(e.uid).or_insert(e.name);
        }
        for (name, gid, _) in parse_group(group) {
            names.groups.entry(gid).or_insert_with(|| name.to_string());
        }
        names
    }

    pub fn user(&self, uid: u32) -> String {
        self.users
            .get(&uid)
            .cloned()
            .unwrap_or_else(|| uid.to_string())
    }

    pub fn group(&self, gid: u32) -> String {
        self.groups
            .get(&gid)
            .cloned()
            .unwrap_or_else(|| gid.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PW: &str = "root:x:0:0:root:/root:/bin/bash\n# comment\nuser:x:1000:1000::/home/user:/bin/bash\nbroken line\n";
    const GR: &str = "root:x:0:\nuser:x:1000:\nsudo:x:27:user,other\ndocker:x:999:other\n";

    #[test]
    fn lookup_user_and_groups() {
        let u = lookup_in("user", PW, GR).ok();
        assert_eq!(
            u,
            Some(User {
                name: "user".into(),
                uid: 1000,
                gid: 1000,
                home: "/home/user".into(),
                groups: vec![1000, 27],
            })
        );
        assert!(lookup_in("nobody", PW, GR).is_err());
        assert_eq!(lookup_in("root", "", "").map(|u| u.uid).ok(), Some(0));
    }

    #[test]
    fn names() {
        let n = Names::from_text(PW, GR);
        assert_eq!(n.user(1000), "user");
        assert_eq!(n.user(5), "5");
        assert_eq!(n.group(27), "sudo");
    }
}
