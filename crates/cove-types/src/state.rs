//! The sandbox lifecycle state machine.
//!
//! ```text
//! booting ──► running ──► stopping ──► killed
//!    │           │  ▲
//!    │           ▼  │
//!    │         paused
//!    └──────────┴──────► error
//! ```
//! `killed` and `error` are terminal: a record in either state never comes back.

use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// Lifecycle state of a sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SandboxState {
    /// The container is being created and the agent has not answered yet.
    Booting,
    /// The agent answers; commands can run.
    Running,
    /// Frozen (not implemented by every runtime).
    Paused,
    /// Being torn down.
    Stopping,
    /// Gone: deleted, timed out, or its processes died.
    Killed,
    /// Failed to boot or crashed; `error` on the record says why.
    Error,
}

/// A state string that is not one of the known states.
#[derive(Debug, Error)]
#[error(
    "unknown sandbox state {0:?} (expected booting, running, paused, stopping, killed or error)"
)]
pub struct UnknownState(pub String);

impl SandboxState {
    /// All states, in lifecycle order.
    pub const ALL: [SandboxState; 6] = [
        Self::Booting,
        Self::Running,
        Self::Paused,
        Self::Stopping,
        Self::Killed,
        Self::Error,
    ];

    /// The wire and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Booting => "booting",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Stopping => "stopping",
            Self::Killed => "killed",
            Self::Error => "error",
        }
    }

    /// True for states a sandbox never leaves.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Killed | Self::Error)
    }

    /// True while the sandbox holds resources (its name stays reserved).
    pub fn is_live(self) -> bool {
        !self.is_terminal()
    }

    /// Whether moving from `self` to `next` is legal.
    pub fn can_become(self, next: SandboxState) -> bool {
        use SandboxState::*;
        match (self, next) {
            (a, b) if a == b => false,
            (Killed | Error, _) => false,
            (_, Error) | (_, Killed) => true,
            (Booting, Running) => true,
            (Running, Paused) | (Paused, Running) => true,
            (Booting | Running | Paused, Stopping) => true,
            _ => false,
        }
    }
}

impl fmt::Display for SandboxState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SandboxState {
    type Err = UnknownState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::SandboxState::*;
    use super::*;

    #[test]
    fn round_trips() {
        for s in SandboxState::ALL {
            assert_eq!(s.as_str().parse::<SandboxState>().ok(), Some(s));
        }
        assert!("nope".parse::<SandboxState>().is_err());
    }

    #[test]
    fn transitions() {
        assert!(Booting.can_become(Running));
        assert!(Running.can_become(Stopping));
        assert!(Stopping.can_become(Killed));
        assert!(Running.can_become(Error));
        assert!(!Killed.can_become(Running));
        assert!(!Error.can_become(Killed));
        assert!(!Running.can_become(Booting));
        assert!(!Stopping.can_become(Running));
    }
}
