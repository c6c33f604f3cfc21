//! The matching table: customer messages of tenant acme (Chinese and English), each with the
//! device (and ticket) a person would send it to, or none. One names globex's device, which is
//! not among acme's candidates: it must not match.

use super::classify;
use super::matching::{Candidates, Match, Reason, find};
use crate::store::records::SiteRecord;
use heartline_engine::{DeviceInfo, FaultKind, Ticket, TicketState};

fn device(id: &str, site: &str, kind: &str) -> DeviceInfo {
    DeviceInfo {
        id: id.into(),
        tenant: "acme".into(),
        project: "acme-p".into(),
        site: site.into(),
        kind: kind.into(),
        uplink: None,
    }
}

fn site(id: &str, name: &str) -> SiteRecord {
    SiteRecord {
        id: id.into(),
        tenant: "acme".into(),
        project: "acme-p".into(),
        name: name.into(),
        region: "east".into(),
        grid_cell: String::new(),
        location: None,
    }
}

fn open(id: u64, device: &str, site: &str, root: FaultKind) -> Ticket {
    Ticket {
        project: "acme-p".into(),
        site: site.into(),
        device: device.into(),
        root,
        state: TicketState::Dispatched,
        ..crate::sample::ticket(id, "acme")
    }
}

/// What a row expects: the device, the ticket joined, and the kind of reason.
type Want = Option<(&'static str, Option<u64>, &'static str)>;

fn kind(r: &Reason) -> &'static str {
    match r {
        Reason::Chosen { .. } => "chosen",
        Reason::DeviceNamed { .. } => "device",
        Reason::SiteTicket { .. } => "site-ticket",
        Reason::SiteDevice { .. } => "site-device",
        Reason::OnlyTicket { .. } => "only-ticket",
    }
}

#[test]
fn reports_go_to_the_device_or_ticket_they_are_about() {
    let devices = vec![
        device("cam-1", "north-gate", "camera"),
        device("cam-10", "north-gate", "camera"),
        device("gw-1", "north-gate", "gateway"),
        device("cam-2", "canteen", "camera"),
        device("temp-1", "server-room", "sensor"),
        device("temp-2", "server-room", "sensor"),
        device("gw-2", "server-room", "gateway"),
    ];
    let sites = vec![
        site("north-gate", "北门"),
        site("canteen", "Canteen"),
        site("server-room", "机房"),
    ];
    // One open ticket: the canteen camera is silent.
    let tickets = vec![open(7, "cam-2", "canteen", FaultKind::Silent)];
    let c = Candidates {
        devices: &devices,
        sites: &sites,
        open: &tickets,
    };
    let table: &[(&str, Want)] = &[
        // A device id in the text.
        (
            "cam-10 黑屏了，看不到画面",
            Some(("cam-10", None, "device")),
        ),
        ("摄像头 CAM-1 画面模糊", Some(("cam-1", None, "device"))),
        (
            "The camera cam-1 shows a black screen",
            Some(("cam-1", None, "device")),
        ),
        ("gw-2 is offline since 9am", Some(("gw-2", None, "device"))),
        ("temp-2 读数一直是零", Some(("temp-2", None, "device"))),
        // A device id with its open ticket.
        (
            "cam-2 still has no video",
            Some(("cam-2", Some(7), "device")),
        ),
        // A site by name: its only open ticket.
        (
            "食堂那边 Canteen 的监控看不到了",
            Some(("cam-2", Some(7), "site-ticket")),
        ),
        (
            "Nothing works in the canteen",
            Some(("cam-2", Some(7), "site-ticket")),
        ),
        // A site by name: its only device of the class's kind.
        (
            "北门网络断了，全部掉线",
            Some(("gw-1", None, "site-device")),
        ),
        (
            "The network at 北门 is down, no connection",
            Some(("gw-1", None, "site-device")),
        ),
        // 机房 has two sensors: the site alone does not tell which.
        ("机房温度传感器读数不对", None),
        // The only open ticket that fits the class (camera/video).
        ("监控画面一直黑屏", Some(("cam-2", Some(7), "only-ticket"))),
        (
            "We can't see any video from the CCTV",
            Some(("cam-2", Some(7), "only-ticket")),
        ),
        // Nothing to go by.
        ("想咨询一下下个月的巡检安排", None),
        ("Please call me about the invoice", None),
        // Part of a longer id is not the id.
        ("xcam-1x 坏了", None),
        // Another tenant's device (globex's `globex-cam-1`, a `cam-1` inside a longer id):
        // not acme's cam-1, and not globex's either, which is not a candidate.
        ("globex-cam-1 的温度读数异常", None),
        ("The sensor globex-cam-1 reads zero", None),
    ];
    let mut wrong = Vec::new();
    for (text, want) in table {
        let got: Option<Match> = find(text, &classify(text), &c);
        let got_short = got
            .as_ref()
            .map(|m| (m.device.as_str(), m.ticket, kind(&m.reason)));
        if got_short != *want {
            wrong.push(format!("{text:?}: got {got_short:?}, want {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
