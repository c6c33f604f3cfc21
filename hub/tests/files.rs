//! The operator's files: `init` writes a config and inventory that validate; every mistake in
//! either is reported with its line; applying an inventory is idempotent.

use heartline_hub::cli::write_examples;
use heartline_hub::config::HubConfig;
use heartline_hub::inventory::Inventory;
use heartline_hub::store::{ApplySummary, Scope, Store};
use std::path::Path;

const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn inventory(devices: &str) -> String {
    format!(
        "[[tenant]]\nid = \"t1\"\nname = \"T\"\n\n\
         [[tenant]]\nid = \"t2\"\nname = \"T2\"\n\n\
         [[project]]\nid = \"p1\"\ntenant = \"t1\"\nname = \"P\"\n\n\
         [[project]]\nid = \"p2\"\ntenant = \"t2\"\nname = \"P2\"\n\n\
         [[site]]\nid = \"s1\"\nproject = \"p1\"\nname = \"S\"\n\n\
         [[site]]\nid = \"s2\"\nproject = \"p2\"\nname = \"S2\"\n\n{devices}"
    )
}

fn device(id: &str, extra: &str) -> String {
    format!(
        "[[device]]\nid = \"{id}\"\nsite = \"s1\"\nkind = \"camera\"\nkey = \"{KEY}\"\n{extra}\n"
    )
}

const TOKEN: &str = "token = \"a-long-enough-token\"\n";

/// The inventory with tenant t1's `webhook` lines (from line 4 on).
fn tenant_hook(lines: &str) -> String {
    inventory("").replacen("name = \"T\"\n", &format!("name = \"T\"\n{lines}"), 1)
}

fn engineer(extra: &str) -> String {
    format!("[[engineer]]\nid = \"e1\"\nname = \"E\"\n{extra}\n")
}

#[test]
fn init_writes_files_that_validate() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_examples(dir.path(), false).unwrap();
    assert_eq!(written.len(), 2);
    let config = HubConfig::load(&dir.path().join("hub.toml")).unwrap();
    assert_eq!(config.store.path, dir.path().join("heartline.redb"));
    let inv = Inventory::load(config.inventory.as_ref().unwrap()).unwrap();
    assert_eq!(inv.devices.len(), 2);
    assert_eq!(
        config.detection.thresholds.len(),
        3,
        "the example rules compile"
    );
    assert_eq!(config.detection.trends.len(), 2);
    assert_ne!(
        inv.devices[0].secrets.key, inv.devices[1].secrets.key,
        "fresh keys per device"
    );
    // A second init refuses to overwrite.
    let again = write_examples(dir.path(), false).unwrap_err().to_string();
    assert!(again.contains("--force"), "{again}");
}

/// (inventory text, line of the mistake, words the message must contain)
#[test]
fn inventory_mistakes_point_at_their_line() {
    let base_lines = inventory("").lines().count();
    let cases: Vec<(String, usize, &str)> = vec![
        (
            inventory(&device("cam 1", TOKEN)),
            base_lines + 2,
            "outside A-Z",
        ),
        (
            inventory(&(device("c1", TOKEN) + &device("c1", TOKEN))),
            base_lines + 9,
            "declared twice",
        ),
        (
            inventory(&device("c1", TOKEN))
                .replace("site = \"s1\"\nkind", "site = \"nowhere\"\nkind"),
            base_lines + 3,
            "not declared",
        ),
        (
            inventory(&device("c1", TOKEN)).replace(KEY, "abcd"),
            base_lines + 5,
            "64 hexadecimal",
        ),
        (
            inventory(&device("c1", "token = \"short\"\n")),
            base_lines + 6,
            "shorter than 16",
        ),
        (
            inventory(&device("c1", "")),
            base_lines + 2,
            "neither token",
        ),
        (
            inventory(&device("c1", &format!("{TOKEN}uplink = \"ghost\"\n"))),
            base_lines + 7,
            "uplink",
        ),
        (
            inventory(
                &(device("a", &format!("{TOKEN}uplink = \"b\"\n"))
                    + &device("b", &format!("{TOKEN}uplink = \"a\"\n"))),
            ),
            base_lines + 7,
            "leads back",
        ),
        (
            inventory(&device("c1", &format!("{TOKEN}colour = \"red\"\n"))),
            base_lines + 7,
            "unknown field",
        ),
        (
            inventory("[[device]]\nid = 5\n"),
            base_lines + 2,
            "invalid type",
        ),
        (
            inventory(&engineer(
                "shifts = [\"mon-fri 08:00-18:00\", \"weekends 9-5\"]\n",
            )),
            base_lines + 4,
            "unknown day \"weekends\"",
        ),
        (
            inventory(&engineer("shifts = [\"mon-fry 08:00-18:00\"]\n")),
            base_lines + 4,
            "unknown day",
        ),
        (
            inventory(&engineer("shifts = [\"daily 08:00-25:00\"]\n")),
            base_lines + 4,
            "not a time of day",
        ),
        (
            inventory(&engineer("grid_manager = \"nobody\"\n")),
            base_lines + 4,
            "not a declared manager",
        ),
        (
            inventory(&engineer("location = [95.0, 10.0]\n")),
            base_lines + 4,
            "latitude, longitude",
        ),
        (
            inventory(&(engineer(TOKEN) + &engineer(TOKEN).replace("\"e1\"", "\"e2\""))),
            base_lines + 9,
            "same token",
        ),
        (
            inventory("[[manager]]\nid = \"m\"\nname = \"M\"\nlevel = \"boss\"\n"),
            base_lines + 4,
            "grid, district or service_leader",
        ),
        (
            inventory(
                "[[manager]]\nid = \"d\"\nname = \"D\"\nlevel = \"district\"\nreports_to = \"g\"\n\n\
                 [[manager]]\nid = \"g\"\nname = \"G\"\nlevel = \"grid\"\n",
            ),
            base_lines + 5,
            "higher on the ladder (grid → district → service_leader), not to the grid manager",
        ),
        (
            tenant_hook(
                "webhook = \"ftp://hooks.example/in\"\nwebhook_secret = \"a-secret-long-enough\"\n",
            ),
            4,
            "webhook \"ftp://hooks.example/in\": an http:// or https:// URL with a host",
        ),
        (
            tenant_hook("webhook = \"https://hooks.example/in\"\n"),
            4,
            "webhook needs webhook_secret",
        ),
        (
            tenant_hook("webhook_secret = \"a-secret-long-enough\"\n"),
            4,
            "webhook_secret without webhook",
        ),
        (
            tenant_hook("webhook = \"https://hooks.example/in\"\nwebhook_secret = \"s3cr3t\"\n"),
            5,
            "webhook_secret is shorter than 16 characters",
        ),
    ];
    for (i, (text, line, words)) in cases.iter().enumerate() {
        let err =
            Inventory::parse(Path::new("inv.toml"), text).expect_err(&format!("case {i} accepted"));
        assert!(
            !err.to_string().contains("s3cr3t") && !err.to_string().contains("a-secret-long"),
            "case {i} shows a secret: {err}"
        );
        assert_eq!(err.line, *line, "case {i}: {err}");
        assert!(err.to_string().contains(words), "case {i}: {err}");
    }
}

#[test]
fn an_uplink_in_another_tenant_is_refused() {
    let text =
        inventory(&(device("gw", TOKEN) + &device("cam", &format!("{TOKEN}uplink = \"gw\"\n"))))
            .replace(
                "[[device]]\nid = \"gw\"\nsite = \"s1\"",
                "[[device]]\nid = \"gw\"\nsite = \"s2\"",
            );
    let err = Inventory::parse(Path::new("inv.toml"), &text).unwrap_err();
    assert!(err.message.contains("different tenants"), "{err}");
}

#[test]
fn config_mistakes_point_at_their_line() {
    let cases = [
        (
            "[mqtt]\nv4_listen = \"1.2.3.4:1\"\nv5_listen = \"1.2.3.4:1\"\n",
            3,
            "own port",
        ),
        (
            "[mqtt]\nv4_listen = \"not an address\"\n",
            2,
            "invalid socket address",
        ),
        (
            "[ingest]\nmax_report_bytes = 100000\n",
            0,
            "max_packet_bytes",
        ),
        ("[mqtt]\nmax_packet_bytes = 10\n", 2, "must exceed"),
        // A setting of the broker before RMQTT (rumqttd's segments) is named as unknown.
        ("[mqtt]\nsegment_bytes = 100\n", 2, "unknown field"),
        (
            "[cluster]\nnode_id = 1\nsecret_file = \"s\"\nlisten = \"127.0.0.1:5363\"\nnodes = [\"1@127.0.0.1:5363\", \"2-127.0.0.1:5364\"]\n",
            5,
            "id@host:port",
        ),
        (
            "[cluster]\nnode_id = 3\nsecret_file = \"s\"\nlisten = \"127.0.0.1:5363\"\nnodes = [\"1@127.0.0.1:5363\", \"2@127.0.0.1:5364\"]\n",
            5,
            "not in nodes",
        ),
        (
            "[cluster]\nnode_id = 1\nsecret_file = \"s\"\nlisten = \"127.0.0.1:5000\"\nnodes = [\"1@127.0.0.1:5363\", \"2@127.0.0.1:5364\"]\n",
            4,
            "different ports",
        ),
        ("[engine]\nprobe_uplinks = \"yes\"\n", 2, "invalid type"),
        ("[store]\npaht = \"x\"\n", 2, "unknown field"),
        ("[ingest]\nmax_report_bytes = 0\n", 2, "above 0"),
        (
            "[notify]\nwebhook_url = \"ftp://x\"\nwebhook_secret_file = \"s\"\n",
            2,
            "http:// or https://",
        ),
        (
            "[notify]\nwebhook_url = \"https://x/hook\"\n",
            2,
            "needs webhook_secret_file",
        ),
        ("[notify]\nretry_max = \"soon\"\n", 2, "not a duration"),
        ("[engine]\nverify = \"ten minutes\"\n", 2, "not a duration"),
        (
            "[[rule]]\nname = \"c\"\nmetric = \"cpu_pct\"\nabove = 95\nclear = 99\nseverity = \"major\"\n",
            5,
            "healthy side",
        ),
        (
            "[[rule]]\nname = \"c\"\nmetric = \"cpu_pct\"\nseverity = \"major\"\n",
            2,
            "exactly one of",
        ),
        (
            "[[rule]]\nname = \"c\"\nmetric = \"x\"\nabove = 1\nseverity = \"dire\"\n",
            5,
            "unknown variant",
        ),
        (
            "[[maintenance]]\nscope = \"s\"\nfrom = \"2026-12-01T04:00:00Z\"\nuntil = \"2026-12-01T02:00:00Z\"\n",
            4,
            "after",
        ),
    ];
    for (i, (text, line, words)) in cases.iter().enumerate() {
        let err =
            HubConfig::parse(Path::new("hub.toml"), text).expect_err(&format!("case {i} accepted"));
        assert_eq!(err.line, *line, "case {i}: {err}");
        assert!(err.to_string().contains(words), "case {i}: {err}");
    }
}

#[test]
fn applying_an_inventory_twice_changes_nothing_the_second_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.redb"), 10).unwrap();
    let text = inventory(&(device("c1", TOKEN) + &device("c2", TOKEN)));
    let inv = Inventory::parse(Path::new("inv.toml"), &text).unwrap();
    let first = store.apply_inventory(&inv).unwrap();
    assert_eq!(
        first,
        ApplySummary {
            created: 8,
            updated: 0,
            unchanged: 0
        }
    );
    let second = store.apply_inventory(&inv).unwrap();
    assert_eq!(
        second,
        ApplySummary {
            created: 0,
            updated: 0,
            unchanged: 8
        }
    );
    let changed = Inventory::parse(
        Path::new("inv.toml"),
        &text.replacen("kind = \"camera\"", "kind = \"nvr\"", 1),
    )
    .unwrap();
    assert_eq!(
        store.apply_inventory(&changed).unwrap(),
        ApplySummary {
            created: 0,
            updated: 1,
            unchanged: 7
        }
    );
    let devices = store.devices(&Scope::Operator).unwrap();
    assert_eq!(devices.iter().find(|d| d.id == "c1").unwrap().kind, "nvr");
    // The token itself is never stored, only its hash.
    drop(store);
    let bytes = std::fs::read(dir.path().join("s.redb")).unwrap();
    assert!(
        !bytes
            .windows(TOKEN.len() - 10)
            .any(|w| w == b"a-long-enough-token")
    );
}

#[test]
fn a_tenant_webhook_is_kept_and_removed_with_the_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.redb"), 10).unwrap();
    let with = tenant_hook(
        "webhook = \"https://hooks.example/in\"\nwebhook_secret = \"a-secret-long-enough\"\n",
    );
    let inv = Inventory::parse(Path::new("inv.toml"), &with).unwrap();
    // Its Debug (what a careless log line would print) hides the secret.
    assert!(!format!("{inv:?}").contains("a-secret-long-enough"));
    store.apply_inventory(&inv).unwrap();
    let hook = store.tenant_webhook("t1").unwrap().expect("t1's webhook");
    assert_eq!(hook.url, "https://hooks.example/in");
    assert_eq!(hook.secret, "a-secret-long-enough");
    assert!(store.tenant_webhook("t2").unwrap().is_none());
    let without = Inventory::parse(Path::new("inv.toml"), &inventory("")).unwrap();
    let summary = store.apply_inventory(&without).unwrap();
    assert_eq!(summary.updated, 1, "{summary:?}");
    assert!(store.tenant_webhook("t1").unwrap().is_none());
}
