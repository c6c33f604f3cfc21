//! System health collectors: CPU, memory, swap, load, disks, network interfaces, temperatures,
//! uptime and boot identity. Each refreshes only what it reports (sysinfo's targeted refresh).

use crate::config::Collect;
use heartline_proto::wire::Metric;
use sysinfo::{Components, Disks, InterfaceOperationalState, Networks, System};

pub struct Collector {
    cfg: Collect,
    system: Option<System>,
    disks: Option<Disks>,
    networks: Option<Networks>,
    components: Option<Components>,
}

fn metric(name: &str, value: f64, unit: &str, instance: &str) -> Metric {
    Metric {
        name: name.into(),
        value,
        unit: unit.into(),
        instance: instance.into(),
    }
}

fn pct(used: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        used as f64 * 100.0 / total as f64
    }
}

impl Collector {
    pub fn new(cfg: Collect) -> Collector {
        let system = (cfg.cpu || cfg.memory)
            .then(System::new)
            .and_then(Result::ok);
        let disks = cfg
            .disk
            .then(Disks::new_with_refreshed_list)
            .and_then(Result::ok);
        let networks = cfg
            .network
            .then(Networks::new_with_refreshed_list)
            .and_then(Result::ok);
        let components = cfg
            .temperatures
            .then(Components::new_with_refreshed_list)
            .and_then(Result::ok);
        let mut c = Collector {
            cfg,
            system,
            disks,
            networks,
            components,
        };
        // CPU usage is a difference between two refreshes: take the first one now.
        if let (true, Some(s)) = (c.cfg.cpu, c.system.as_mut()) {
            s.refresh_cpu_usage();
        }
        c
    }

    /// One round of measurements.
    pub fn collect(&mut self) -> Vec<Metric> {
        let mut out = Vec::new();
        if let Some(s) = self.system.as_mut() {
            if self.cfg.cpu {
                s.refresh_cpu_usage();
                out.push(metric("cpu_pct", s.global_cpu_usage() as f64, "%", ""));
                if let Ok(l) = System::load_average() {
                    out.push(metric("load1", l.one, "", ""));
                    out.push(metric("load5", l.five, "", ""));
                }
            }
            if self.cfg.memory {
                s.refresh_memory();
                out.push(metric(
                    "mem_used_pct",
                    pct(s.used_memory(), s.total_memory()),
                    "%",
                    "",
                ));
                if s.total_swap() > 0 {
                    out.push(metric(
                        "swap_used_pct",
                        pct(s.used_swap(), s.total_swap()),
                        "%",
                        "",
                    ));
                }
            }
        }
        if let Ok(up) = System::uptime() {
            out.push(metric("uptime_s", up as f64, "s", ""));
        }
        if let Some(disks) = self.disks.as_mut() {
            disks.refresh(true);
            for d in disks.iter() {
                let mount = d.mount_point().to_string_lossy();
                if !self.cfg.disks.is_empty() && !self.cfg.disks.iter().any(|m| *m == mount) {
                    continue;
                }
                let used = d.total_space().saturating_sub(d.available_space());
                out.push(metric(
                    "disk_used_pct",
                    pct(used, d.total_space()),
                    "%",
                    &mount,
                ));
            }
        }
        if let Some(nets) = self.networks.as_mut() {
            nets.refresh(true);
            for (name, n) in nets.iter() {
                let name = name.to_string_lossy();
                if name == "lo" {
                    continue;
                }
                let up = matches!(n.operational_state(), InterfaceOperationalState::Up);
                out.push(metric("net_up", if up { 1.0 } else { 0.0 }, "", &name));
                out.push(metric(
                    "net_rx_errors",
                    n.total_errors_on_received() as f64,
                    "",
                    &name,
                ));
                out.push(metric(
                    "net_tx_errors",
                    n.total_errors_on_transmitted() as f64,
                    "",
                    &name,
                ));
                out.push(metric(
                    "net_rx_bytes",
                    n.total_received() as f64,
                    "B",
                    &name,
                ));
                out.push(metric(
                    "net_tx_bytes",
                    n.total_transmitted() as f64,
                    "B",
                    &name,
                ));
            }
        }
        if let Some(comps) = self.components.as_mut() {
            comps.refresh(true);
            for c in comps.iter() {
                if let Some(t) = c.temperature() {
                    out.push(metric("temperature_c", t as f64, "C", c.label()));
                }
            }
        }
        out
    }
}

/// The kernel's id of this boot, folded to 64 bits: it changes on every reboot.
pub fn boot_id() -> u64 {
    let raw = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let hex: String = raw.chars().filter(char::is_ascii_hexdigit).collect();
    u64::from_str_radix(hex.get(..16).unwrap_or("1"), 16)
        .unwrap_or(1)
        .max(1)
}

/// Whether the last reset was a watchdog's, where the kernel's watchdog driver says so.
pub fn watchdog_reset() -> bool {
    std::fs::read_to_string("/sys/class/watchdog/watchdog0/bootstatus")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .is_some_and(|v| v != 0)
}
