//! The audit trail end to end: a device's fault and an engineer's actions on its ticket, and the
//! inventory apply, become hash-chained records committed with the change; `heartline-hub audit
//! verify` (the real CLI, through the running hub's control socket, then on the stopped store)
//! finds the chain intact, and names the record an edit of the raw redb file broke.

use heartline_e2e::{Device, Fleet, Protocol, TestHub, eventually, ids, output_of};
use heartline_engine::{Actor, TicketAction, TicketState};
use heartline_hub::audit::{AuditRecord, Verdict};
use heartline_hub::store::Scope;
use redb::ReadableTable;
use std::path::Path;

const HUB: &str = env!("CARGO_BIN_EXE_hub");
const AUDIT: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("audit");

/// Runs `heartline-hub audit verify`; (exit success, stdout, stderr).
fn verify(config: &Path) -> (bool, String, String) {
    output_of(
        std::process::Command::new(HUB)
            .args(["audit", "verify", "--config"])
            .arg(config),
    )
}

/// Rewrites record `seq` of the stopped store with `edit`, as someone with the file would.
fn tamper(store: &Path, seq: u64, edit: impl FnOnce(&mut AuditRecord, [u8; 32])) {
    let db = redb::Database::open(store).unwrap();
    let tx = db.begin_write().unwrap();
    {
        let mut table = tx.open_table(AUDIT).unwrap();
        let prev = match seq {
            1 => heartline_hub::audit::GENESIS,
            _ => {
                let v = table.get(seq - 1).unwrap().unwrap();
                postcard::from_bytes::<AuditRecord>(v.value()).unwrap().hash
            }
        };
        let mut record: AuditRecord =
            postcard::from_bytes(table.get(seq).unwrap().unwrap().value()).unwrap();
        edit(&mut record, prev);
        let bytes = postcard::to_allocvec(&record).unwrap();
        table.insert(seq, bytes.as_slice()).unwrap();
    }
    tx.commit().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_changes_and_actions_are_chained_and_an_edited_record_is_named() {
    let mut fleet = Fleet::new(&[("acme", ids("acme", 2))]);
    fleet.with_engineers("acme", 1);
    let th = TestHub::start(&fleet).await.unwrap();
    let config = th.dir.path().join("hub.toml");
    std::fs::write(&config, "[store]\npath = \"store.redb\"\n").unwrap();

    // A device's critical check opens a ticket, dispatched to eng-0.
    let mut dev = Device::connect(th.hub.mqtt_v4, fleet.device("acme-0"), Protocol::V4)
        .await
        .unwrap();
    dev.send(&dev.critical_report(1)).await.unwrap();
    dev.wait_ack(1, 1).await.unwrap();
    let store = th.hub.store();
    eventually("the ticket is dispatched", || {
        store
            .tickets(&Scope::Operator)
            .unwrap()
            .iter()
            .any(|t| t.state == TicketState::Dispatched)
    })
    .await
    .unwrap();
    let id = store.tickets(&Scope::Operator).unwrap()[0].id;

    // The engineer works it.
    let eng = Actor::Engineer("eng-0".into());
    let live = th.hub.live();
    for action in [
        TicketAction::Accept,
        TicketAction::Note {
            text: "spare part ordered".into(),
        },
        TicketAction::OnSite,
    ] {
        live.act(id, action, eng.clone()).await.unwrap();
    }
    // A refused action changes nothing and is not recorded.
    let refused = live
        .act(id, TicketAction::Accept, Actor::Engineer("eng-9".into()))
        .await;
    assert!(refused.is_err());

    let ticket = store.ticket(&Scope::Operator, id).unwrap().unwrap();
    let trail = store.audit_trail(&Scope::Operator, 0, 10_000).unwrap();
    let object = format!("ticket/{id}");
    let on_ticket: Vec<&AuditRecord> = trail.iter().filter(|r| r.object == object).collect();
    // Every timeline entry, in order, with its actor and time; nothing else.
    assert_eq!(on_ticket.len(), ticket.timeline.len(), "{on_ticket:#?}");
    for (rec, entry) in on_ticket.iter().zip(&ticket.timeline) {
        assert_eq!(rec.at, entry.at);
        assert_eq!(rec.who, heartline_hub::audit::who(&entry.actor));
        let sentence = heartline_hub::i18n::render::entry(
            heartline_hub::i18n::Lang::En,
            &heartline_hub::localtime::Zone::default(),
            entry,
        );
        assert!(rec.what.starts_with(&sentence), "{rec:?} / {entry:?}");
    }
    let by_engineer = on_ticket
        .iter()
        .filter(|r| r.who == "engineer:eng-0")
        .count();
    assert!(by_engineer >= 3, "{on_ticket:#?}");
    assert!(
        on_ticket
            .iter()
            .any(|r| r.what.contains("spare part ordered"))
    );
    assert!(!trail.iter().any(|r| r.who == "engineer:eng-9"));
    // The inventory apply at start-up: one record per object created.
    let created = trail
        .iter()
        .filter(|r| r.what == "created by inventory apply")
        .count();
    // 1 tenant, 1 project, 1 site, 2 devices, 1 engineer, 3 managers.
    assert_eq!(created, 9, "inventory records");
    assert!(
        trail
            .iter()
            .any(|r| r.object == "devices/acme-1" && r.who == "operator:start-up")
    );
    // Tenants see no trail.
    assert!(
        store
            .audit_trail(&Scope::Tenant("acme".into()), 0, 10)
            .unwrap()
            .is_empty()
    );
    let records = trail.len();
    let head = trail.last().unwrap().hash;
    assert_eq!(
        store.verify_audit().unwrap(),
        Verdict::Intact {
            records: records as u64,
            head
        }
    );
    let intact = format!(
        "{records} records, chain intact; last hash {}",
        hex::encode(head)
    );

    // The CLI, while the hub runs, goes through its control socket.
    let (ok, out, err) = verify(&config);
    assert!(ok, "{out}{err}");
    assert_eq!(out.trim(), intact);

    drop(dev);
    th.hub.shutdown().await.unwrap();
    let file = th.dir.path().join("store.redb");
    // Stopped: the CLI opens the file itself.
    let (ok, out, err) = verify(&config);
    assert!(ok, "{out}{err}");
    assert_eq!(out.trim(), intact);

    // Someone rewrites who accepted the ticket.
    let accepted = on_ticket
        .iter()
        .find(|r| r.who == "engineer:eng-0")
        .unwrap()
        .seq;
    tamper(&file, accepted, |r, _| r.who = "engineer:eng-1".into());
    let (ok, out, err) = verify(&config);
    assert!(!ok, "tampering not detected: {out}");
    assert!(
        err.contains(&format!("audit record {accepted} is broken")),
        "{err}"
    );
    // Rehashing the edited record only moves the break to the next one.
    tamper(&file, accepted, |r, prev| r.hash = r.expected_hash(&prev));
    let (ok, _, err) = verify(&config);
    assert!(!ok);
    assert!(
        err.contains(&format!("audit record {} is broken", accepted + 1)),
        "{err}"
    );
    eprintln!(
        "audit: {records} records ({} on the ticket, {created} from the inventory apply), chain \
         intact through the socket and on the file; an edited actor was reported at record \
         {accepted}, the same edit rehashed at record {}",
        on_ticket.len(),
        accepted + 1
    );
}
