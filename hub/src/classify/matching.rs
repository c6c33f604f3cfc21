//! Which device or open ticket of the customer's own project a problem report is about, from
//! its free text: a device id it names; a site it names (by name or id) with one open ticket, or
//! one device of the kind the report's class suggests; else the project's only open ticket that
//! fits the class. The candidates are the reporting customer's project only (the caller reads them
//! through the customer's scope), so a report can never land on another tenant's device; the
//! [`Reason`] is kept and shown to staff in their language.

use super::{Class, Verdict};
use crate::store::records::SiteRecord;
use heartline_engine::{DeviceInfo, EventKind, FaultKind, Ticket, TicketId};
use serde::{Deserialize, Serialize};

/// Why a report went to its device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reason {
    /// The customer chose the device on the form.
    Chosen { device: String },
    /// The text names the device's id.
    DeviceNamed { device: String },
    /// The text names a site whose only open ticket this is.
    SiteTicket { site: String, ticket: TicketId },
    /// The text names a site whose only device of the kind the class suggests this is.
    SiteDevice {
        site: String,
        kind: String,
        device: String,
    },
    /// The project's only open ticket that fits the report's class.
    OnlyTicket { ticket: TicketId, class: String },
}

/// Where a report goes: its device, and the open ticket it joins (if one is open for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub device: String,
    pub ticket: Option<TicketId>,
    pub reason: Reason,
}

/// What a report can be matched to: one project's devices, sites and open tickets.
pub struct Candidates<'a> {
    pub devices: &'a [DeviceInfo],
    pub sites: &'a [SiteRecord],
    pub open: &'a [Ticket],
}

/// Device kinds a class is about (inventory `kind` values as operators write them).
fn kinds(class: Class) -> &'static [&'static str] {
    match class {
        Class::CameraVideo => &["camera", "nvr", "dvr", "ipc"],
        Class::NoNetwork => &["gateway", "router", "switch", "ap"],
        Class::Power => &["ups", "pdu", "power"],
        Class::Sensor => &["sensor"],
        Class::Slow => &["server", "nvr"],
        Class::Other => &[],
    }
}

/// Whether an open ticket fits a report of `class`: its device's kind, or its fault.
fn fits(class: Class, t: &Ticket, devices: &[DeviceInfo]) -> bool {
    let kind = devices
        .iter()
        .find(|d| d.id == t.device)
        .map(|d| d.kind.as_str());
    kind.is_some_and(|k| kinds(class).contains(&k))
        || match class {
            Class::NoNetwork => t.root.is_down(),
            Class::Power => matches!(
                &t.root,
                FaultKind::Event {
                    kind: EventKind::PowerLoss | EventKind::Brownout
                }
            ),
            _ => false,
        }
}

/// Whether `lower` (the text, lowercased) contains `word` not as part of a longer id or word
/// (ASCII letters, digits, `-` and `_` on either side make it part of one). Chinese names have
/// no spaces around them, so a match of non-ASCII text is taken as it stands.
fn names(lower: &str, word: &str) -> bool {
    let word = word.to_lowercase();
    if word.chars().count() < 2 {
        return false;
    }
    let joins =
        |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    lower.match_indices(&word).any(|(at, w)| {
        let before = lower[..at].chars().next_back();
        let after = lower[at + w.len()..].chars().next();
        let ascii_edges =
            word.starts_with(|c: char| c.is_ascii()) || word.ends_with(|c: char| c.is_ascii());
        !ascii_edges || (!joins(before) && !joins(after))
    })
}

fn open_ticket_of(c: &Candidates, device: &str) -> Option<TicketId> {
    c.open
        .iter()
        .find(|t| t.device == device || t.affected.iter().any(|a| a == device))
        .map(|t| t.id)
}

/// The report's device and ticket, or `None` when the text does not tell.
pub fn find(text: &str, verdict: &Verdict, c: &Candidates) -> Option<Match> {
    let lower = text.to_lowercase();
    // A device id, the longest first (`cam-10` before `cam-1`).
    let mut by_length: Vec<&DeviceInfo> = c.devices.iter().collect();
    by_length.sort_by_key(|d| std::cmp::Reverse(d.id.len()));
    if let Some(d) = by_length.into_iter().find(|d| names(&lower, &d.id)) {
        return Some(Match {
            device: d.id.clone(),
            ticket: open_ticket_of(c, &d.id),
            reason: Reason::DeviceNamed {
                device: d.id.clone(),
            },
        });
    }
    // A site, by name or id.
    let site = c
        .sites
        .iter()
        .find(|s| names(&lower, &s.name) || names(&lower, &s.id));
    if let Some(site) = site {
        let at_site: Vec<&Ticket> = c.open.iter().filter(|t| t.site == site.id).collect();
        if let [t] = at_site.as_slice() {
            return Some(Match {
                device: t.device.clone(),
                ticket: Some(t.id),
                reason: Reason::SiteTicket {
                    site: site.name.clone(),
                    ticket: t.id,
                },
            });
        }
        let of_kind: Vec<&DeviceInfo> = c
            .devices
            .iter()
            .filter(|d| d.site == site.id && kinds(verdict.class).contains(&d.kind.as_str()))
            .collect();
        if let [d] = of_kind.as_slice() {
            return Some(Match {
                device: d.id.clone(),
                ticket: open_ticket_of(c, &d.id),
                reason: Reason::SiteDevice {
                    site: site.name.clone(),
                    kind: d.kind.clone(),
                    device: d.id.clone(),
                },
            });
        }
    }
    // The only open ticket that fits the class.
    if verdict.class != Class::Other {
        let fitting: Vec<&Ticket> = c
            .open
            .iter()
            .filter(|t| fits(verdict.class, t, c.devices))
            .collect();
        if let [t] = fitting.as_slice() {
            return Some(Match {
                device: t.device.clone(),
                ticket: Some(t.id),
                reason: Reason::OnlyTicket {
                    ticket: t.id,
                    class: verdict.class.message_id().to_string(),
                },
            });
        }
    }
    None
}
