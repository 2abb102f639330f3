//! Builds the OCI runtime spec (`config.json`) of a sandbox: Docker-default isolation (namespaces,
//! capabilities, seccomp, masked paths), Cove's mounts and the cgroup limits.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use cove_types::layout::{SANDBOX_AGENT_BIN, SANDBOX_AGENT_SOCKET_DIR};
use oci_spec::runtime::{
    Arch, Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxCpuBuilder,
    LinuxDeviceCgroupBuilder, LinuxMemoryBuilder, LinuxNamespaceBuilder, LinuxNamespaceType,
    LinuxPidsBuilder, LinuxResourcesBuilder, LinuxSeccomp, LinuxSeccompAction,
    LinuxSeccompArgBuilder, LinuxSeccompBuilder, LinuxSeccompOperator, LinuxSyscall,
    LinuxSyscallBuilder, Mount, MountBuilder, PosixRlimitBuilder, PosixRlimitType, ProcessBuilder,
    RootBuilder, Spec, SpecBuilder, UserBuilder,
};

use crate::error::{RuntimeError, RuntimeResult};
use crate::SandboxSpec;

/// `PATH` given to the init when `init_env` has none.
pub(crate) const DEFAULT_PATH: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// OOM score of the init: the agent must outlive the user processes it supervises.
pub(crate) const INIT_OOM_SCORE_ADJ: i32 = -500;

const CFS_PERIOD_US: u64 = 100_000;

/// Host facts the spec depends on.
#[derive(Debug, Clone)]
pub(crate) struct HostOptions {
    pub cgroups_path: String,
    /// A cgroup namespace is only requested when the kernel has them.
    pub cgroupns: bool,
    /// Whether `swap` can be set (v1 without `swapaccount=1` has no memsw files).
    pub set_swap: bool,
    /// OOM score of the init; `None` inherits ours (lowering it needs CAP_SYS_RESOURCE, which
    /// a control plane running inside a container may lack).
    pub oom_score_adj: Option<i32>,
    /// RLIMIT_NOFILE of the init (1048576 unless the host cannot raise it that far).
    pub nofile: u64,
}

/// Docker's default capability set (moby `oci/caps/defaults.go`).
const DEFAULT_CAPS: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// Syscalls Docker's default profile denies to a container without extra capabilities. Names
/// libseccomp does not know on an architecture (e.g. `vm86` on x86_64) are skipped by runc.
const DENIED_SYSCALLS: &[&str] = &[
    "acct",
    "add_key",
    "adjtimex",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "get_kernel_syms",
    "get_mempolicy",
    "init_module",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mbind",
    "mount",
    "mount_setattr",
    "move_mount",
    "move_pages",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "query_module",
    "quotactl",
    "reboot",
    "request_key",
    "set_mempolicy",
    "setns",
    "settimeofday",
    "swapoff",
    "swapon",
    "_sysctl",
    "sysfs",
    "syslog",
    "umount",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
];

/// Namespace flags `clone` may not carry (CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER,
/// NEWPID, NEWNET, NEWTIME): creating namespaces is how most container escapes start.
const CLONE_NS_FLAGS: [u64; 8] = [
    0x0002_0000,
    0x0200_0000,
    0x0400_0000,
    0x0800_0000,
    0x1000_0000,
    0x2000_0000,
    0x4000_0000,
    0x0000_0080,
];

fn spec_err(e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Spec(e.to_string())
}

/// The default seccomp profile: allow everything except the calls above.
pub(crate) fn seccomp_profile() -> RuntimeResult<LinuxSeccomp> {
    let eperm = u32::try_from(libc::EPERM).map_err(spec_err)?;
    let enosys = u32::try_from(libc::ENOSYS).map_err(spec_err)?;
    let mut syscalls: Vec<LinuxSyscall> = vec![LinuxSyscallBuilder::default()
        .names(
            DENIED_SYSCALLS
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        )
        .action(LinuxSeccompAction::ScmpActErrno)
        .errno_ret(eperm)
        .build()
        .map_err(spec_err)?];
    // Rules for one syscall are OR-ed, and each rule's args are AND-ed, so "any namespace bit
    // set" needs one single-condition rule per bit.
    for flag in CLONE_NS_FLAGS {
        let arg = LinuxSeccompArgBuilder::default()
            .index(0usize)
            .value(flag)
            .value_two(flag)
            .op(LinuxSeccompOperator::ScmpCmpMaskedEq)
            .build()
            .map_err(spec_err)?;
        syscalls.push(
            LinuxSyscallBuilder::default()
                .names(vec!["clone".to_string()])
                .action(LinuxSeccompAction::ScmpActErrno)
                .errno_ret(eperm)
                .args(vec![arg])
                .build()
                .map_err(spec_err)?,
        );
    }
    // clone3 passes its flags in memory where seccomp cannot look; ENOSYS makes glibc fall back
    // to clone, which the rules above can check.
    syscalls.push(
        LinuxSyscallBuilder::default()
            .names(vec!["clone3".to_string()])
            .action(LinuxSeccompAction::ScmpActErrno)
            .errno_ret(enosys)
            .build()
            .map_err(spec_err)?,
    );
    LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActAllow)
        .architectures(vec![
            Arch::ScmpArchX86_64,
            Arch::ScmpArchX86,
            Arch::ScmpArchX32,
        ])
        .syscalls(syscalls)
        .build()
        .map_err(spec_err)
}

fn mnt(dest: &str, typ: &str, source: &Path, options: &[&str]) -> RuntimeResult<Mount> {
    MountBuilder::default()
        .destination(PathBuf::from(dest))
        .typ(typ.to_string())
        .source(source.to_path_buf())
        .options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()
        .map_err(spec_err)
}

fn mounts(spec: &SandboxSpec, run_dir: &Path) -> RuntimeResult<Vec<Mount>> {
    let p = Path::new;
    let mut v = vec![
        mnt("/proc", "proc", p("proc"), &["nosuid", "noexec", "nodev"])?,
        mnt(
            "/dev",
            "tmpfs",
            p("tmpfs"),
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mnt(
            "/dev/pts",
            "devpts",
            p("devpts"),
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mnt(
            "/dev/shm",
            "tmpfs",
            p("shm"),
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        )?,
        mnt(
            "/dev/mqueue",
            "mqueue",
            p("mqueue"),
            &["nosuid", "noexec", "nodev"],
        )?,
        mnt(
            "/sys",
            "sysfs",
            p("sysfs"),
            &["nosuid", "noexec", "nodev", "ro"],
        )?,
        mnt(
            "/sys/fs/cgroup",
            "cgroup",
            p("cgroup"),
            &["nosuid", "noexec", "nodev", "relatime", "ro"],
        )?,
    ];
    for (host, inside) in &spec.rootfs.ro_binds {
        let dest = inside
            .to_str()
            .ok_or_else(|| spec_err(format!("non-UTF-8 bind target {}", inside.display())))?;
        v.push(mnt(
            dest,
            "bind",
            host,
            &["rbind", "ro", "nosuid", "nodev"],
        )?);
    }
    v.push(mnt(
        SANDBOX_AGENT_BIN,
        "bind",
        &spec.agent_binary,
        &["bind", "ro", "nosuid", "nodev"],
    )?);
    v.push(mnt(
        SANDBOX_AGENT_SOCKET_DIR,
        "bind",
        run_dir,
        &["bind", "rw", "nosuid", "nodev", "noexec"],
    )?);
    Ok(v)
}

/// The complete spec for `spec`, with the root at `rootfs` and the agent socket dir `run_dir`.
pub(crate) fn build(
    spec: &SandboxSpec,
    rootfs: &Path,
    run_dir: &Path,
    host: &HostOptions,
) -> RuntimeResult<Spec> {
    let caps: HashSet<Capability> = DEFAULT_CAPS.into_iter().collect();
    let capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps)
        .inheritable(HashSet::new())
        .ambient(HashSet::new())
        .build()
        .map_err(spec_err)?;

    let mut args = vec![SANDBOX_AGENT_BIN.to_string()];
    args.extend(spec.init_args.iter().cloned());
    let mut env = spec.init_env.clone();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.push(DEFAULT_PATH.to_string());
    }

    let process = ProcessBuilder::default()
        .terminal(false)
        .user(
            UserBuilder::default()
                .uid(0u32)
                .gid(0u32)
                .build()
                .map_err(spec_err)?,
        )
        .args(args)
        .env(env)
        .cwd(PathBuf::from("/"))
        .capabilities(capabilities)
        .rlimits(vec![PosixRlimitBuilder::default()
            .typ(PosixRlimitType::RlimitNofile)
            .hard(host.nofile)
            .soft(host.nofile)
            .build()
            .map_err(spec_err)?])
        .no_new_privileges(true)
        .build()
        .map_err(spec_err)?;
    let mut process = process;
    process.set_oom_score_adj(host.oom_score_adj);

    let mut ns_types = vec![
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
    ];
    if spec.network == crate::Network::Isolated {
        ns_types.push(LinuxNamespaceType::Network);
    }
    if host.cgroupns {
        ns_types.push(LinuxNamespaceType::Cgroup);
    }
    let namespaces = ns_types
        .into_iter()
        .map(|t| LinuxNamespaceBuilder::default().typ(t).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(spec_err)?;

    let limits = &spec.limits;
    let mem_bytes =
        i64::try_from(limits.memory_mb.saturating_mul(1024 * 1024)).map_err(spec_err)?;
    let mut memory = LinuxMemoryBuilder::default().limit(mem_bytes);
    if host.set_swap {
        // swap is memory+swap in OCI terms; equal to the limit means no swap at all.
        memory = memory.swap(mem_bytes);
    }
    let quota =
        i64::try_from(u64::from(limits.cpu_count.max(1)) * CFS_PERIOD_US).map_err(spec_err)?;
    let resources = LinuxResourcesBuilder::default()
        .devices(vec![LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm".to_string())
            .build()
            .map_err(spec_err)?])
        .memory(memory.build().map_err(spec_err)?)
        .cpu(
            LinuxCpuBuilder::default()
                .quota(quota)
                .period(CFS_PERIOD_US)
                .build()
                .map_err(spec_err)?,
        )
        .pids(
            LinuxPidsBuilder::default()
                .limit(i64::try_from(limits.pids.max(1)).map_err(spec_err)?)
                .build()
                .map_err(spec_err)?,
        )
        .build()
        .map_err(spec_err)?;

    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .resources(resources)
        .cgroups_path(PathBuf::from(&host.cgroups_path))
        .seccomp(seccomp_profile()?)
        .masked_paths(strings(&[
            "/proc/asound",
            "/proc/acpi",
            "/proc/kcore",
            "/proc/keys",
            "/proc/latency_stats",
            "/proc/timer_list",
            "/proc/timer_stats",
            "/proc/sched_debug",
            "/proc/scsi",
            "/sys/firmware",
            "/sys/devices/virtual/powercap",
        ]))
        .readonly_paths(strings(&[
            "/proc/bus",
            "/proc/fs",
            "/proc/irq",
            "/proc/sys",
            "/proc/sysrq-trigger",
        ]))
        .build()
        .map_err(spec_err)?;

    SpecBuilder::default()
        .version("1.0.2".to_string())
        .root(
            RootBuilder::default()
                .path(rootfs.to_path_buf())
                .readonly(false)
                .build()
                .map_err(spec_err)?,
        )
        .hostname(spec.id.clone())
        .mounts(mounts(spec, run_dir)?)
        .process(process)
        .linux(linux)
        .build()
        .map_err(spec_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SandboxSpec {
        SandboxSpec {
            id: "abcdefghij0123456789".into(),
            rootfs: crate::RootfsSpec {
                lower_dirs: vec![PathBuf::from("/t/rootfs")],
                ro_binds: vec![(PathBuf::from("/usr"), PathBuf::from("/usr"))],
            },
            agent_binary: PathBuf::from("/opt/cove-agent"),
            init_args: vec!["--socket".into(), "/.cove/run/agent.sock".into()],
            init_env: vec!["A=b".into()],
            limits: cove_types::Limits::DEFAULT,
            network: crate::Network::Isolated,
        }
    }

    #[test]
    fn spec_has_docker_defaults() {
        let host = HostOptions {
            cgroups_path: "/cove-1234/abcdefghij0123456789".into(),
            cgroupns: true,
            set_swap: true,
            oom_score_adj: Some(INIT_OOM_SCORE_ADJ),
            nofile: 1_048_576,
        };
        let s = build(&sample(), Path::new("/r"), Path::new("/run-dir"), &host).unwrap();
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["hostname"], "abcdefghij0123456789");
        assert_eq!(v["process"]["noNewPrivileges"], true);
        assert_eq!(v["process"]["oomScoreAdj"], -500);
        assert_eq!(v["process"]["args"][0], SANDBOX_AGENT_BIN);
        assert_eq!(v["process"]["args"][1], "--socket");
        let env = v["process"]["env"].as_array().unwrap();
        assert!(env.iter().any(|e| e.as_str().unwrap().starts_with("PATH=")));
        assert_eq!(
            v["process"]["capabilities"]["bounding"]
                .as_array()
                .unwrap()
                .len(),
            14
        );
        assert!(v["process"]["capabilities"]["ambient"]
            .as_array()
            .unwrap()
            .is_empty());
        assert_eq!(
            v["linux"]["resources"]["memory"]["limit"],
            512 * 1024 * 1024
        );
        assert_eq!(v["linux"]["resources"]["memory"]["swap"], 512 * 1024 * 1024);
        assert_eq!(v["linux"]["resources"]["cpu"]["quota"], 100_000);
        assert_eq!(v["linux"]["resources"]["pids"]["limit"], 512);
        assert_eq!(v["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW");
        let ns: Vec<&str> = v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        for t in ["pid", "network", "ipc", "uts", "mount", "cgroup"] {
            assert!(ns.contains(&t), "{t} missing from {ns:?}");
        }
        let mounts = v["mounts"].as_array().unwrap();
        assert!(mounts
            .iter()
            .any(|m| m["destination"] == SANDBOX_AGENT_SOCKET_DIR && m["source"] == "/run-dir"));
    }
}
