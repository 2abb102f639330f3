//! Shared agent state: the configuration pushed by the control plane through `/init`, the process
//! table and the polling watchers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use cove_proto::{Code, ConnectError};

use crate::paths;
use crate::process::ProcessTable;
use crate::users::{self, User, UserError};
use crate::watch::Watchers;

/// Settings from `/init`.
#[derive(Debug, Clone)]
pub struct Config {
    pub env_vars: BTreeMap<String, String>,
    pub access_token: Option<String>,
    pub default_user: String,
    pub default_workdir: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            env_vars: BTreeMap::new(),
            access_token: None,
            default_user: cove_types::layout::DEFAULT_USER.to_string(),
            default_workdir: None,
        }
    }
}

pub struct AppState {
    pub config: RwLock<Config>,
    pub procs: Arc<ProcessTable>,
    pub watchers: Watchers,
}

pub type Shared = Arc<AppState>;

/// A request's identity plus the directory relative paths resolve against.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user: User,
    pub base: PathBuf,
}

impl Identity {
    pub fn resolve(&self, path: &str) -> PathBuf {
        paths::resolve(path, &self.user.home, &self.base)
    }
}

impl AppState {
    pub fn new() -> Shared {
        Arc::new(AppState {
            config: RwLock::new(Config::default()),
            procs: ProcessTable::new(),
            watchers: Watchers::default(),
        })
    }

    pub fn config(&self) -> Config {
        // A poisoned lock only means a panic elsewhere mid-update; the data is still usable.
        match self.config.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub fn update_config(&self, f: impl FnOnce(&mut Config)) {
        match self.config.write() {
            Ok(mut c) => f(&mut c),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    /// Resolves the request's user (`None` or empty = the default user; a missing default user falls
    /// back to root so images without `user` still work).
    pub fn identity(&self, name: Option<&str>) -> Result<Identity, UserError> {
        let cfg = self.config();
        let user = match name.filter(|n| !n.is_empty()) {
            Some(n) => users::lookup(n)?,
            None => match users::lookup(&cfg.default_user) {
                Ok(u) => u,
                Err(_) => users::lookup("root")?,
            },
        };
        let base = paths::base_dir(cfg.default_workdir.as_deref(), &user.home);
        Ok(Identity { user, base })
    }

    pub fn identity_rpc(&self, name: Option<&str>) -> Result<Identity, ConnectError> {
        self.identity(name)
            .map_err(|e| ConnectError::new(Code::Unauthenticated, e.to_string()))
    }
}

/// The cwd for a process: the requested one (resolved; must exist), else the default workdir if it
/// exists, else home, else `/`.
pub fn process_cwd(id: &Identity, requested: Option<&str>) -> Result<PathBuf, ConnectError> {
    match requested.filter(|c| !c.is_empty()) {
        Some(cwd) => {
            let p = id.resolve(cwd);
            if p.is_dir() {
                Ok(p)
            } else {
                Err(ConnectError::new(
                    Code::InvalidArgument,
                    format!("cwd '{cwd}' does not exist"),
                ))
            }
        }
        None if id.base.is_dir() => Ok(id.base.clone()),
        None => Ok(Path::new("/").to_path_buf()),
    }
}
