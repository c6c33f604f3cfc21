//! The customer is told by mail, through a real SMTP server (Python's aiosmtpd, writing a
//! maildir): a fault → a mail in the tenant's language with the engineer, the repair-by time and
//! the ticket's link; then on site, repaired and confirmed, each once. And with the SMTP server
//! down and the hub killed with SIGKILL meanwhile, the mail still arrives exactly once. A mail the
//! relay refuses for good (550) is dropped and does not hold back the mails behind it.
//!
//! Needs `python3 -m aiosmtpd` (`tests/run-all` installs it).

use heartline_e2e::{
    Device, Fleet, Protocol, TestHub, eventually, free_port, ids, killed_while_undelivered,
    work_ticket,
};
use heartline_engine::TicketState;
use heartline_hub::config::MailConfig;
use heartline_hub::store::{Scope, Store};
use std::path::{Path, PathBuf};
use toml::Spanned;

const HUB: &str = env!("CARGO_BIN_EXE_hub");

/// An SMTP server on `port` that writes each mail it takes into `dir/new`; killed on drop.
struct Smtp(std::process::Child);

impl Smtp {
    fn start(port: u16, dir: &Path) -> Smtp {
        Smtp::spawn(port, dir, "aiosmtpd.handlers.Mailbox", None)
    }

    /// As [`Smtp::start`], refusing `nobody@` recipients with a 550 (the handler's module is
    /// written into `module_dir`).
    fn start_picky(port: u16, dir: &Path, module_dir: &Path) -> Smtp {
        std::fs::write(module_dir.join("picky.py"), PICKY).unwrap();
        Smtp::spawn(port, dir, "picky.Picky", Some(module_dir))
    }

    fn spawn(port: u16, dir: &Path, handler: &str, module_dir: Option<&Path>) -> Smtp {
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let mut cmd = std::process::Command::new("python3");
        if let Some(m) = module_dir {
            cmd.env("PYTHONPATH", m);
        }
        let child = cmd
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", handler])
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd: run tests/run-all, which installs aiosmtpd");
        Smtp(child)
    }
}

/// An aiosmtpd handler that refuses every recipient named `nobody@…` for good (550) and takes
/// the others into the maildir.
const PICKY: &str = r#"
from aiosmtpd.handlers import Mailbox


class Picky(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"
"#;

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The mails in the maildir, oldest first (a file name starts with its delivery time), each
/// as its headers and its decoded text.
fn mails(dir: &Path) -> Vec<String> {
    use base64::Engine;
    let files: Vec<PathBuf> = std::fs::read_dir(dir.join("new"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    let mut all: Vec<String> = files
        .iter()
        .map(|f| {
            let raw = std::fs::read_to_string(f).unwrap().replace("\r\n", "\n");
            let (headers, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
            let text = if headers.contains("Content-Transfer-Encoding: base64") {
                let b64: String = body.split_whitespace().collect();
                String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .unwrap(),
                )
                .unwrap()
            } else {
                body.to_string()
            };
            format!("{headers}\n\n{text}")
        })
        .collect();
    // In the order the hub sent them: its Message-IDs count up. (Maildir's file names do not
    // sort by arrival: their microseconds are not zero-padded.)
    all.sort_by_key(|m| mail_number(m));
    all
}

/// The sequence number in a mail's `Message-ID: <heartline-mail-N@…>`.
fn mail_number(mail: &str) -> u64 {
    mail.split_once("Message-ID: <heartline-mail-")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("a mail without the hub's Message-ID: {mail}"))
}

/// Two tenants: acme reads Chinese (the default), globex English; both have a contact address.
fn fleet() -> Fleet {
    let mut fleet = Fleet::new(&[("acme", ids("acme", 1)), ("globex", ids("globex", 1))]);
    fleet.inventory = fleet
        .inventory
        .replace(
            "name = \"Tenant acme\"\n",
            "name = \"Tenant acme\"\nemail = [\"it@acme.example\"]\n",
        )
        .replace(
            "name = \"Tenant globex\"\n",
            "name = \"Tenant globex\"\nlanguage = \"en\"\nemail = [\"ops@globex.example\"]\n",
        );
    fleet
}

fn mail_config(port: u16) -> MailConfig {
    MailConfig {
        smtp: Spanned::new(0..0, format!("127.0.0.1:{port}")),
        tls: Spanned::new(0..0, "none".into()),
        from: Spanned::new(0..0, "Heartline <noreply@heartline.example>".into()),
        base_url: "https://hub.example".into(),
        retry_max_ms: 500,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_customer_is_told_each_step_once_in_its_language() {
    let mut fleet = fleet();
    fleet.with_engineers("acme", 1);
    let li = fleet.with_user("li", "engineer", "eng-0");
    let port = free_port();
    let maildir = tempfile::tempdir().unwrap();
    let _smtp = Smtp::start(port, maildir.path());
    let th = TestHub::start_with(&fleet, |c| {
        c.mail = Some(mail_config(port));
        c.detection.recovery_confirm = 300;
        c.detection.verify = 500;
    })
    .await
    .unwrap();
    let mut acme = Device::connect(th.hub.mqtt_v4, fleet.device("acme-0"), Protocol::V4)
        .await
        .unwrap();
    acme.check_in(1, false).await;
    acme.check_in(2, true).await;

    // Detected: the engineer, the repair-by time in Shanghai, the link, in Chinese.
    eventually("the first mail", || !mails(maildir.path()).is_empty())
        .await
        .unwrap();
    let store = th.hub.store();
    let ticket = store.tickets(&Scope::Operator).unwrap()[0].clone();
    let first = &mails(maildir.path())[0];
    assert!(first.contains("To: it@acme.example"), "{first}");
    assert!(
        first.contains("Message-ID: <heartline-mail-1@heartline.example>"),
        "{first}"
    );
    assert!(first.contains("我们在您报告之前发现了故障"), "{first}");
    assert!(first.contains("工程师 eng-0 正在赶往现场"), "{first}");
    let repair_by = heartline_hub::localtime::Zone::default().format(ticket.repair_by);
    assert!(
        first.contains(&repair_by),
        "repair-by {repair_by} in Shanghai time: {first}"
    );
    assert!(
        first.contains(&format!("https://hub.example/#/ticket/{}", ticket.id)),
        "{first}"
    );

    // On site, repaired, confirmed by the device: one mail each.
    work_ticket(th.hub.http, "li", &li, ticket.id).await;
    acme.check_in(3, false).await;
    eventually("closed after verification", || {
        store
            .ticket(&Scope::Operator, ticket.id)
            .unwrap()
            .is_some_and(|t| t.state == TicketState::Closed)
    })
    .await
    .unwrap();

    // An English tenant's fault: its mail is in English.
    let mut globex = Device::connect(th.hub.mqtt_v4, fleet.device("globex-0"), Protocol::V4)
        .await
        .unwrap();
    globex.check_in(1, true).await;
    eventually("every mail sent", || {
        mails(maildir.path()).len() >= 5 && store.pending_mail(10).unwrap().is_empty()
    })
    .await
    .unwrap();
    let all = mails(maildir.path());
    assert_eq!(all.len(), 5, "one mail per step, none twice");
    assert!(all[1].contains("工程师 eng-0 已到达现场"), "{}", all[1]);
    assert!(all[2].contains("正在通过设备自身的上报确认"), "{}", all[2]);
    assert!(all[3].contains("设备上报确认修复完成"), "{}", all[3]);
    assert!(all[3].contains("欢迎评价本次服务"), "{}", all[3]);
    assert!(all[4].contains("To: ops@globex.example"), "{}", all[4]);
    assert!(
        all[4].contains("We detected a fault before you had to report it"),
        "{}",
        all[4]
    );
    th.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_smtp_server_down_and_the_hub_killed_the_mail_still_arrives_once() {
    let fleet = fleet();
    let dir = tempfile::tempdir().unwrap();
    let smtp_port = free_port();
    let extra = format!(
        "[mail]\nsmtp = \"127.0.0.1:{smtp_port}\"\ntls = \"none\"\n\
         from = \"Heartline <noreply@heartline.example>\"\nbase_url = \"https://hub.example\"\n\
         retry_max = \"1s\"\n"
    );
    // Killed while the mail waits; started again on the same store; the SMTP server comes up.
    let hub = killed_while_undelivered(
        HUB,
        &fleet,
        dir.path(),
        &extra,
        "acme-0",
        "customer mail not delivered; will retry",
    )
    .await;
    let maildir = tempfile::tempdir().unwrap();
    let _smtp = Smtp::start(smtp_port, maildir.path());
    eventually("the mail arrives", || !mails(maildir.path()).is_empty())
        .await
        .unwrap_or_else(|e| {
            let log = std::fs::read_to_string(dir.path().join("hub.log")).unwrap_or_default();
            panic!("{e}\n{log}")
        });
    // Stopped cleanly: the outbox is empty, and exactly one mail was sent.
    hub.stop();
    let store = Store::open(&dir.path().join("store.redb"), 10).unwrap();
    assert!(store.pending_mail(10).unwrap().is_empty());
    let all = mails(maildir.path());
    assert_eq!(all.len(), 1, "{all:#?}");
    assert!(all[0].contains("我们在您报告之前发现了故障"), "{}", all[0]);
    assert!(all[0].contains("Message-ID: <heartline-mail-1@heartline.example>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_refused_for_good_is_dropped_and_does_not_hold_back_the_others() {
    let mut fleet = fleet();
    fleet.inventory = fleet
        .inventory
        .replace("it@acme.example", "nobody@acme.example");
    let port = free_port();
    let maildir = tempfile::tempdir().unwrap();
    let module = tempfile::tempdir().unwrap();
    let _smtp = Smtp::start_picky(port, maildir.path(), module.path());
    let th = TestHub::start_with(&fleet, |c| c.mail = Some(mail_config(port)))
        .await
        .unwrap();
    // acme's mail first (refused for good), then globex's.
    let mut acme = Device::connect(th.hub.mqtt_v4, fleet.device("acme-0"), Protocol::V4)
        .await
        .unwrap();
    acme.check_in(1, true).await;
    let store = th.hub.store();
    eventually("acme's mail is queued", || {
        !store.pending_mail(10).unwrap().is_empty()
            || !store.tickets(&Scope::Operator).unwrap().is_empty()
    })
    .await
    .unwrap();
    let mut globex = Device::connect(th.hub.mqtt_v4, fleet.device("globex-0"), Protocol::V4)
        .await
        .unwrap();
    globex.check_in(1, true).await;
    eventually("globex's mail arrives", || {
        !mails(maildir.path()).is_empty()
    })
    .await
    .unwrap_or_else(|e| {
        let pending = store.pending_mail(10).unwrap();
        let tickets = store.tickets(&Scope::Operator).unwrap();
        panic!("{e}: outbox {pending:?}, {} tickets", tickets.len())
    });
    eventually("the outbox empties", || {
        store.pending_mail(10).unwrap().is_empty()
    })
    .await
    .unwrap();
    let all = mails(maildir.path());
    assert_eq!(all.len(), 1, "{all:#?}");
    assert!(all[0].contains("To: ops@globex.example"), "{}", all[0]);
    th.hub.shutdown().await.unwrap();
}
