//! QEMU guest agent calls and LXC `interfaces`.
//!
//! PVE checks, in this order (proxmox/qemu-server `QemuServer/Agent.pm`
//! `assert_agent_available`): an `agent` key enabling it (`No QEMU guest agent configured`),
//! a running VM (`VM 100 is not running`), then a `guest-ping` with a 3 s QMP timeout
//! (`QEMU guest agent is not running`, so that answer takes >= 3 s). A guest's agent answers
//! once the configured boot delay has passed since its start; control faults make it absent
//! or slow. Answers are the raw agent replies wrapped in `{"result": ...}`, except
//! `exec-status`, which PVE returns unwrapped.

use serde_json::{Value, json};

use super::super::Cx;
use super::super::authn::require;
use super::super::reply::{ApiError, ApiResult, ok};
use crate::config::PveVersion;
use crate::model::{AgentMode, Inner, Power};

/// The simulated IPv4 address of a guest (appears once its agent answers).
pub(crate) fn guest_ip(vmid: u32) -> String {
    format!("10.20.{}.{}", (vmid / 250) % 256, vmid % 250 + 2)
}

fn guest_mac(inner: &Inner, vmid: u32) -> String {
    let conf = inner
        .store
        .get(vmid)
        .map(|g| g.conf.clone())
        .unwrap_or_default();
    let net0 = conf.get("net0").unwrap_or("");
    net0.split(',')
        .find_map(|p| {
            p.split_once('=')
                .filter(|(k, v)| (*k == "hwaddr" || v.len() == 17) && v.matches(':').count() == 5)
        })
        .map_or_else(
            || "bc:24:11:00:00:01".into(),
            |(_, v)| v.to_ascii_lowercase(),
        )
}

fn ipv6_ll(mac: &str) -> String {
    let b: Vec<u8> = mac
        .split(':')
        .filter_map(|h| u8::from_str_radix(h, 16).ok())
        .collect();
    if b.len() != 6 {
        return "fe80::1".into();
    }
    format!(
        "fe80::{:x}:{:x}:{:x}:{:x}",
        u16::from(b[0] ^ 2) << 8 | u16::from(b[1]),
        u16::from(b[2]) << 8 | 0xff,
        0xfe00 | u16::from(b[3]),
        u16::from(b[4]) << 8 | u16::from(b[5])
    )
}

pub(crate) async fn agent(
    cx: &Cx,
    method: &axum::http::Method,
    vmid: u32,
    command: &str,
) -> ApiResult {
    let post = *method == axum::http::Method::POST;
    let allowed = match command {
        "ping" | "exec" | "shutdown" | "fsfreeze-freeze" | "fsfreeze-thaw" | "fstrim"
        | "set-user-password" | "file-write" => post,
        "network-get-interfaces"
        | "get-osinfo"
        | "get-host-name"
        | "info"
        | "get-time"
        | "get-timezone"
        | "get-users"
        | "get-vcpus"
        | "get-fsinfo"
        | "get-memory-blocks"
        | "exec-status"
        | "fsfreeze-status"
        | "file-read" => !post,
        _ => false,
    };
    if !allowed {
        return Err(ApiError::NotImplemented(format!(
            "{method} /nodes/{{node}}/qemu/{vmid}/agent/{command}"
        )));
    }
    let (mode, ready) = {
        let mut inner = cx.st.lock();
        let privilege = if cx.st.cfg.version == PveVersion::V9 {
            "VM.GuestAgent.Audit"
        } else {
            "VM.Monitor"
        };
        require(&inner, &cx.ident, &format!("/vms/{vmid}"), privilege)?;
        let enabled = inner
            .store
            .get(vmid)
            .and_then(|g| {
                g.conf
                    .get("agent")
                    .map(|a| a.starts_with('1') || a.contains("enabled=1"))
            })
            .unwrap_or(false);
        if !enabled {
            return Err(ApiError::msg("No QEMU guest agent configured"));
        }
        let rt = inner.rt(vmid);
        if rt.power == Power::Stopped {
            return Err(ApiError::msg(format!("VM {vmid} is not running")));
        }
        let booted = rt
            .since
            .is_some_and(|s| s.elapsed() >= cx.st.cfg.agent_boot_delay);
        (rt.agent, booted && rt.power == Power::Running)
    };
    match mode {
        AgentMode::Absent => return not_running(cx).await,
        _ if !ready => return not_running(cx).await,
        AgentMode::Slow(d) => tokio::time::sleep(d).await,
        AgentMode::Normal => {}
    }
    let mut inner = cx.st.lock();
    let name = inner
        .store
        .get(vmid)
        .and_then(|g| g.conf.get("name").map(str::to_string))
        .unwrap_or_else(|| format!("vm{vmid}"));
    let result = match command {
        "ping" | "shutdown" | "fsfreeze-thaw" | "fstrim" | "set-user-password" | "file-write" => {
            json!({})
        }
        "fsfreeze-freeze" => json!(1),
        "fsfreeze-status" => json!("thawed"),
        "get-host-name" => json!({"host-name": name}),
        "get-osinfo" => json!({
            "id": "debian", "name": "Debian GNU/Linux", "pretty-name": "Debian GNU/Linux 12 (bookworm)", "version": "12 (bookworm)",
            "version-id": "12", "machine": "x86_64", "kernel-release": "6.1.0-27-amd64",
            "kernel-version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.115-1 (2024-11-01)",
        }),
        "info" => {
            json!({"version": "7.2.11", "supported_commands": [{"name": "guest-ping", "enabled": true, "success-response": true}]})
        }
        "get-time" => json!(cx.st.now() * 1_000_000_000),
        "get-timezone" => json!({"zone": "UTC", "offset": 0}),
        "get-users" => json!([]),
        "get-vcpus" => json!([{"logical-id": 0, "online": true, "can-offline": false}]),
        "get-fsinfo" => {
            json!([{"name": "sda1", "mountpoint": "/", "type": "ext4", "total-bytes": 33_000_000_000u64, "used-bytes": 7_412_187_136u64, "disk": []}])
        }
        "get-memory-blocks" => json!([]),
        "network-get-interfaces" => {
            let mac = guest_mac(&inner, vmid);
            json!([
                {"name": "lo", "hardware-address": "00:00:00:00:00:00",
                 "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8}, {"ip-address-type": "ipv6", "ip-address": "::1", "prefix": 128}],
                 "statistics": {"rx-bytes": 163_244, "rx-dropped": 0, "rx-errs": 0, "rx-packets": 1623, "tx-bytes": 163_244, "tx-dropped": 0, "tx-errs": 0, "tx-packets": 1623}},
                {"name": "ens18", "hardware-address": mac,
                 "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": guest_ip(vmid), "prefix": 24}, {"ip-address-type": "ipv6", "ip-address": ipv6_ll(&mac), "prefix": 64}],
                 "statistics": {"rx-bytes": 91_388_211, "rx-dropped": 12, "rx-errs": 0, "rx-packets": 402_511, "tx-bytes": 20_444_613, "tx-dropped": 0, "tx-errs": 0, "tx-packets": 188_320}},
            ])
        }
        "exec" => {
            let command: Vec<String> = cx.p.all("command").to_vec();
            if command.is_empty() {
                return Err(ApiError::param(
                    "command",
                    "property is missing and it is not optional",
                ));
            }
            let out = match command
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice()
            {
                ["cat", "/etc/hostname"] | ["hostname"] => format!("{name}\n"),
                ["echo", rest @ ..] => format!("{}\n", rest.join(" ")),
                ["ip", ..] | ["hostname", "-I"] => format!("{}\n", guest_ip(vmid)),
                _ => String::new(),
            };
            inner.next_pid += 1;
            let pid = inner.next_pid;
            inner
                .execs
                .insert(pid, json!({"exited": 1, "exitcode": 0, "out-data": out}));
            // `exec` answers `{pid}` directly (no `result` wrapper).
            return ok(json!({"pid": pid}));
        }
        "exec-status" => {
            let pid = cx.p.int("pid")?.ok_or_else(|| {
                ApiError::param("pid", "property is missing and it is not optional")
            })?;
            let status = inner
                .execs
                .get(&(pid as u32))
                .cloned()
                .ok_or_else(|| ApiError::msg("Agent error: Invalid parameter 'pid'"))?;
            return ok(status);
        }
        _ => {
            json!({"error": {"class": "Unsupported", "desc": format!("the command '{command}' is not supported")}})
        }
    };
    ok(json!({ "result": result }))
}

async fn not_running(cx: &Cx) -> ApiResult {
    tokio::time::sleep(cx.st.cfg.agent_timeout).await;
    Err(ApiError::msg("QEMU guest agent is not running"))
}

/// `GET /nodes/{n}/lxc/{vmid}/interfaces` (`ip --json a` in the container): `inet`/`inet6`
/// address types, not the agent's `ipv4`/`ipv6`; `null` while the container is stopped.
pub(crate) fn interfaces(cx: &Cx, vmid: u32) -> ApiResult {
    let mut inner = cx.st.lock();
    require(&inner, &cx.ident, &format!("/vms/{vmid}"), "VM.Audit")?;
    if inner.rt(vmid).power == Power::Stopped {
        return ok(Value::Null);
    }
    let mac = guest_mac(&inner, vmid);
    let ip = guest_ip(vmid);
    let ll = ipv6_ll(&mac);
    ok(json!([
        {"name": "lo", "hwaddr": "00:00:00:00:00:00", "hardware-address": "00:00:00:00:00:00", "inet": "127.0.0.1/8", "inet6": "::1/128",
         "ip-addresses": [{"ip-address-type": "inet", "ip-address": "127.0.0.1", "prefix": 8}, {"ip-address-type": "inet6", "ip-address": "::1", "prefix": 128}]},
        {"name": "eth0", "hwaddr": mac, "hardware-address": mac, "inet": format!("{ip}/24"), "inet6": format!("{ll}/64"),
         "ip-addresses": [{"ip-address-type": "inet", "ip-address": ip, "prefix": 24}, {"ip-address-type": "inet6", "ip-address": ll, "prefix": 64}]},
    ]))
}
