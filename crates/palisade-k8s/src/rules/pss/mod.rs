//! Pod Security Standards (policy v1.37): every baseline and restricted check.
//!
//! Where a restricted check overrides a baseline one (capabilities, host paths/volume types,
//! seccomp, procMount) a finding lists every control it violates, so a restricted-level reader
//! and a baseline-level reader both find their check named exactly as pod-security-admission
//! names it.

mod allow_privilege_escalation;
mod apparmor_profile;
mod capabilities_not_dropped;
mod dangerous_capabilities;
mod host_namespaces;
mod host_path_volume;
mod host_ports;
mod host_probes;
mod privileged_container;
mod proc_mount;
mod restricted_volume_types;
mod run_as_non_root;
mod run_as_user_root;
mod seccomp_profile_missing;
mod seccomp_unconfined;
mod selinux_options;
mod sysctls;
mod windows_host_process;

use super::Rule;

pub static RULES: &[&Rule] = &[
    &privileged_container::RULE,
    &host_namespaces::RULE,
    &host_path_volume::RULE,
    &host_ports::RULE,
    &dangerous_capabilities::RULE,
    &windows_host_process::RULE,
    &apparmor_profile::RULE,
    &selinux_options::RULE,
    &proc_mount::RULE,
    &seccomp_unconfined::RULE,
    &sysctls::RULE,
    &host_probes::RULE,
    &restricted_volume_types::RULE,
    &allow_privilege_escalation::RULE,
    &capabilities_not_dropped::RULE,
    &run_as_non_root::RULE,
    &run_as_user_root::RULE,
    &seccomp_profile_missing::RULE,
];

/// The names pod-security-admission gives a baseline or restricted check.
pub(crate) mod control {
    pub const PRIVILEGED: &str = "pss-baseline:privileged";
    pub const HOST_NAMESPACES: &str = "pss-baseline:hostNamespaces";
    pub const HOST_PATH_VOLUMES: &str = "pss-baseline:hostPathVolumes";
    pub const HOST_PORTS: &str = "pss-baseline:hostPorts";
    pub const CAPABILITIES_BASELINE: &str = "pss-baseline:capabilities_baseline";
    pub const WINDOWS_HOST_PROCESS: &str = "pss-baseline:windowsHostProcess";
    pub const APPARMOR: &str = "pss-baseline:appArmorProfile";
    pub const SELINUX: &str = "pss-baseline:seLinuxOptions";
    pub const PROC_MOUNT: &str = "pss-baseline:procMount";
    pub const SECCOMP_BASELINE: &str = "pss-baseline:seccompProfile_baseline";
    pub const SYSCTLS: &str = "pss-baseline:sysctls";
    pub const HOST_PROBES: &str = "pss-baseline:hostProbesAndHostLifecycle";
    pub const RESTRICTED_VOLUMES: &str = "pss-restricted:restrictedVolumes";
    pub const ALLOW_PRIVILEGE_ESCALATION: &str = "pss-restricted:allowPrivilegeEscalation";
    pub const CAPABILITIES_RESTRICTED: &str = "pss-restricted:capabilities_restricted";
    pub const PROC_MOUNT_RESTRICTED: &str = "pss-restricted:procMount_restricted";
    pub const RUN_AS_NON_ROOT: &str = "pss-restricted:runAsNonRoot";
    pub const RUN_AS_USER: &str = "pss-restricted:runAsUser";
    pub const SECCOMP_RESTRICTED: &str = "pss-restricted:seccompProfile_restricted";
}
