//! Bounded fuzzing of the operator's files: `hub.toml` and the inventory parsers get arbitrary
//! text and mutations of the valid examples `init` writes (lines deleted, duplicated, swapped,
//! cut short; stray TOML tokens and odd values spliced in). They never panic, and a refusal
//! names a line inside the file (or none, for a default the file does not mention). Runs with
//! `cargo test`; failures are kept in `fuzz_files.proptest-regressions`.

use heartline_engine::diagnostic::FileError;
use heartline_hub::cli::write_examples;
use heartline_hub::config::HubConfig;
use heartline_hub::inventory::Inventory;
use proptest::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

/// The example files, read once.
fn examples() -> &'static (String, String) {
    static FILES: OnceLock<(String, String)> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        write_examples(dir.path(), false).unwrap();
        let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
        (read("hub.toml"), read("inventory.toml"))
    })
}

const TOKENS: &[&str] = &[
    "=",
    "\"",
    "[",
    "]]",
    "[[device]]",
    "[[tenant]]\nid = \"t\"\n",
    "[ingest]",
    "-1",
    "0",
    "99999999999999999999",
    "1e400",
    "nan",
    "\"5x\"",
    "\"\"",
    "\u{0}",
    "é",
    "\n",
    "#",
    "id = \"x\"",
    "site = \"nowhere\"",
    "key = \"00\"",
    "max_reports_per_minute = -5",
    "listen = \"not an address\"",
    "{ a = 1 }",
    "'''",
];

#[derive(Debug, Clone)]
enum Mutation {
    DeleteLine(prop::sample::Index),
    DuplicateLine(prop::sample::Index),
    SwapLines(prop::sample::Index, prop::sample::Index),
    Splice(prop::sample::Index, prop::sample::Index, u8),
    Truncate(prop::sample::Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Mutation::DeleteLine),
        any::<prop::sample::Index>().prop_map(Mutation::DuplicateLine),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>())
            .prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (
            any::<prop::sample::Index>(),
            any::<prop::sample::Index>(),
            0..4u8
        )
            .prop_map(|(at, tok, cut)| Mutation::Splice(at, tok, cut)),
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
    ]
}

/// Applies the mutations to `text`, keeping it valid UTF-8 (cuts land on char boundaries).
fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut text = text.to_string();
    for m in mutations {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.is_empty() {
            lines.push(String::new());
        }
        match m {
            Mutation::DeleteLine(i) => {
                lines.remove(i.index(lines.len()));
            }
            Mutation::DuplicateLine(i) => {
                let at = i.index(lines.len());
                lines.insert(at, lines[at].clone());
            }
            Mutation::SwapLines(a, b) => {
                let (a, b) = (a.index(lines.len()), b.index(lines.len()));
                lines.swap(a, b);
            }
            Mutation::Splice(at, tok, cut) => {
                let joined = lines.join("\n");
                let bounds: Vec<usize> = joined
                    .char_indices()
                    .map(|(i, _)| i)
                    .chain([joined.len()])
                    .collect();
                let start = bounds[at.index(bounds.len())];
                let end = bounds
                    .iter()
                    .copied()
                    .find(|&b| b >= start + *cut as usize)
                    .unwrap_or(joined.len());
                let token = TOKENS[tok.index(TOKENS.len())];
                text = format!("{}{token}{}", &joined[..start], &joined[end..]);
                continue;
            }
            Mutation::Truncate(at) => {
                let joined = lines.join("\n");
                let mut cut = at.index(joined.len() + 1);
                while !joined.is_char_boundary(cut) {
                    cut -= 1;
                }
                text = joined[..cut].to_string();
                continue;
            }
        }
        text = lines.join("\n");
    }
    text
}

/// A refusal must point inside the file (line 0 only for a value the file does not contain)
/// and say something.
fn check_error(src: &str, e: &FileError) -> Result<(), TestCaseError> {
    let lines = src.lines().count().max(1);
    prop_assert!(
        e.line <= lines + 1,
        "line {} of a {lines}-line file: {e}",
        e.line
    );
    prop_assert!(
        !e.message.trim().is_empty(),
        "empty message at line {}",
        e.line
    );
    Ok(())
}

fn config(src: &str) -> Result<(), TestCaseError> {
    match HubConfig::parse(Path::new("hub.toml"), src) {
        Ok(_) => Ok(()),
        Err(e) => check_error(src, &e),
    }
}

fn inventory(src: &str) -> Result<(), TestCaseError> {
    match Inventory::parse(Path::new("inventory.toml"), src) {
        Ok(_) => Ok(()),
        Err(e) => check_error(src, &e),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_500, ..ProptestConfig::default() })]

    #[test]
    fn config_survives_noise(src in ".{0,400}") {
        config(&src)?;
    }

    #[test]
    fn inventory_survives_noise(src in ".{0,400}") {
        inventory(&src)?;
    }

    #[test]
    fn config_survives_mutations(ms in prop::collection::vec(mutation(), 1..5)) {
        config(&mutate(&examples().0, &ms))?;
    }

    #[test]
    fn inventory_survives_mutations(ms in prop::collection::vec(mutation(), 1..5)) {
        inventory(&mutate(&examples().1, &ms))?;
    }
}

#[test]
fn the_unmutated_examples_parse() {
    let (hub, inv) = examples();
    HubConfig::parse(Path::new("hub.toml"), hub).unwrap();
    Inventory::parse(Path::new("inventory.toml"), inv).unwrap();
}

/// (config text, line of the mistake, words the message must contain)
#[test]
fn a_bad_rate_limit_is_refused_on_its_line() {
    for (src, line, words) in [
        (
            "[ingest]\nmax_reports_per_minute = -1\n",
            2,
            "0 for no limit",
        ),
        (
            "[mqtt]\n\n[ingest]\nbatch_max = 10\nmax_reports_per_minute = 5000000\n",
            5,
            "out of range",
        ),
        (
            "[ingest]\nmax_reports_per_minute = \"lots\"\n",
            2,
            "expected i64",
        ),
        (
            "[ingest]\nmax_reports_per_minute = 60\nreport_burst = 0\n",
            3,
            "report_burst = 0 is out of range",
        ),
    ] {
        let e = HubConfig::parse(Path::new("hub.toml"), src).unwrap_err();
        assert_eq!(e.line, line, "{e}");
        assert!(e.message.contains(words), "{e}");
    }
    let ok = HubConfig::parse(
        Path::new("hub.toml"),
        "[ingest]\nmax_reports_per_minute = 0\n",
    )
    .unwrap();
    assert_eq!(*ok.ingest.max_reports_per_minute.get_ref(), 0);
}

/// The store's page cache: a bound in MiB, refused on its line when it is none.
#[test]
fn a_bad_store_cache_is_refused_on_its_line() {
    for (src, line, words) in [
        ("[store]\ncache_mb = 0\n", 2, "cache_mb = 0 is out of range"),
        (
            "[store]\nhistory_len = 10\n\ncache_mb = 1000000\n",
            4,
            "use MiB from 1 to",
        ),
        ("[store]\ncache_mb = -5\n", 2, "u64"),
    ] {
        let e = HubConfig::parse(Path::new("hub.toml"), src).unwrap_err();
        assert_eq!(e.line, line, "{e}");
        assert!(e.message.contains(words), "{e}");
    }
    let ok = HubConfig::parse(Path::new("hub.toml"), "[store]\ncache_mb = 16\n").unwrap();
    assert_eq!(ok.store.cache_bytes(), 16 << 20);
    let default = HubConfig::parse(Path::new("hub.toml"), "").unwrap();
    assert_eq!(default.store.cache_bytes(), 16 << 20);
}

/// Retention: days, or 0 for ever; a typo of a period is refused on its line.
#[test]
fn a_bad_retention_period_is_refused_on_its_line() {
    for (src, line, words) in [
        (
            "[store]\ncache_mb = 16\nretention_days = 99999\n",
            3,
            "retention_days = 99999 is out of range",
        ),
        ("[store]\nretention_days = -1\n", 2, "u64"),
        ("[store]\nretention_days = \"3y\"\n", 2, "u64"),
    ] {
        let e = HubConfig::parse(Path::new("hub.toml"), src).unwrap_err();
        assert_eq!(e.line, line, "{e}");
        assert!(e.message.contains(words), "{e}");
    }
    let ok = HubConfig::parse(Path::new("hub.toml"), "[store]\nretention_days = 30\n").unwrap();
    assert_eq!(ok.store.retention_ms(), Some(30 * 86_400_000));
    let forever = HubConfig::parse(Path::new("hub.toml"), "[store]\nretention_days = 0\n").unwrap();
    assert_eq!(forever.store.retention_ms(), None);
    let default = HubConfig::parse(Path::new("hub.toml"), "").unwrap();
    assert_eq!(default.store.retention_ms(), Some(1_095 * 86_400_000));
}
