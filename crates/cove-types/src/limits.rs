//! Per-sandbox resource limits and their bounds.

use thiserror::Error;

/// Resources granted to one sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// CPU cores (CFS quota of `cpu_count` × period).
    pub cpu_count: u32,
    /// Memory limit in MiB (RAM; the sandbox has no swap).
    pub memory_mb: u64,
    /// Size limit of the sandbox's writable layer in MiB.
    pub disk_mb: u64,
    /// Maximum number of tasks (processes and threads).
    pub pids: u64,
}

/// A requested limit outside what Cove accepts.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum LimitsError {
    /// `cpuCount` out of range.
    #[error("cpuCount must be between 1 and {max} (got {got})")]
    Cpu {
        /// Requested value.
        got: u64,
        /// Largest accepted value.
        max: u32,
    },
    /// `memoryMB` out of range.
    #[error("memoryMB must be between {min} and {max} (got {got})")]
    Memory {
        /// Requested value.
        got: u64,
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
    },
    /// `diskSizeMB` out of range.
    #[error("diskSizeMB must be between {min} and {max} (got {got})")]
    Disk {
        /// Requested value.
        got: u64,
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
    },
}

impl Limits {
    /// Defaults for a sandbox whose request and template say nothing.
    pub const DEFAULT: Limits = Limits {
        cpu_count: 1,
        memory_mb: 512,
        disk_mb: 1024,
        pids: 512,
    };
    /// Largest CPU count accepted.
    pub const MAX_CPU: u32 = 64;
    /// Memory bounds in MiB.
    pub const MIN_MEMORY_MB: u64 = 32;
    /// Upper memory bound in MiB.
    pub const MAX_MEMORY_MB: u64 = 256 * 1024;
    /// Disk bounds in MiB.
    pub const MIN_DISK_MB: u64 = 16;
    /// Upper disk bound in MiB.
    pub const MAX_DISK_MB: u64 = 1024 * 1024;

    /// Builds limits from optional request values over `base`, checking each bound.
    pub fn resolve(
        base: Limits,
        cpu: Option<u64>,
        memory_mb: Option<u64>,
        disk_mb: Option<u64>,
    ) -> Result<Limits, LimitsError> {
        let mut out = base;
        if let Some(c) = cpu {
            if c == 0 || c > u64::from(Self::MAX_CPU) {
                return Err(LimitsError::Cpu {
                    got: c,
                    max: Self::MAX_CPU,
                });
            }
            out.cpu_count = c as u32;
        }
        if let Some(m) = memory_mb {
            if !(Self::MIN_MEMORY_MB..=Self::MAX_MEMORY_MB).contains(&m) {
                return Err(LimitsError::Memory {
                    got: m,
                    min: Self::MIN_MEMORY_MB,
                    max: Self::MAX_MEMORY_MB,
                });
            }
            out.memory_mb = m;
        }
        if let Some(d) = disk_mb {
            if !(Self::MIN_DISK_MB..=Self::MAX_DISK_MB).contains(&d) {
                return Err(LimitsError::Disk {
                    got: d,
                    min: Self::MIN_DISK_MB,
                    max: Self::MAX_DISK_MB,
                });
            }
            out.disk_mb = d;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_checks_bounds() {
        let d = Limits::DEFAULT;
        assert_eq!(Limits::resolve(d, None, None, None), Ok(d));
        assert_eq!(
            Limits::resolve(d, Some(2), Some(1024), Some(2048)).map(|l| (
                l.cpu_count,
                l.memory_mb,
                l.disk_mb
            )),
            Ok((2, 1024, 2048))
        );
        assert!(Limits::resolve(d, Some(0), None, None).is_err());
        assert!(Limits::resolve(d, None, Some(1), None).is_err());
        assert!(Limits::resolve(d, None, None, Some(1)).is_err());
    }
}
