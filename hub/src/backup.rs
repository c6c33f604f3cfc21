//! The hub's control socket and `heartline-hub backup`.
//!
//! redb holds an exclusive lock on the store file, so while a hub runs no other process can open
//! it. The running hub therefore listens on a Unix socket next to the store file
//! (`STORE.sock`, mode 0600: only the hub's user) and does the work itself: `backup PATH`
//! copies the store as one snapshot into a new file, `audit-verify` walks the audit chain. When
//! no hub answers, the commands open the store file directly.
//!
//! Protocol: one request line; answer lines `progress TABLE ROWS`, then `ok TEXT` or
//! `error TEXT`.

use crate::audit::Verdict;
use crate::config::HubConfig;
use crate::store::Store;
use anyhow::{Context, bail};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Longest request line accepted.
const MAX_REQUEST: u64 = 4096;
/// How long the hub waits for a request line after a client connects.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the command waits for the next answer line (progress comes every 10,000 rows).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// The control socket of the hub whose store is `store`.
pub fn socket_path(store: &Path) -> PathBuf {
    let mut p = store.as_os_str().to_owned();
    p.push(".sock");
    PathBuf::from(p)
}

/// Binds the control socket with mode 0600. It is bound under a temporary name, restricted, and
/// only then renamed into place, so it is never reachable with looser permissions. A socket left
/// by a killed hub is replaced (this hub holds the store's lock, so it is the only one).
pub fn listen(store: &Path) -> anyhow::Result<tokio::net::UnixListener> {
    let path = socket_path(store);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.new", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let listener = std::os::unix::net::UnixListener::bind(&tmp)
        .with_context(|| format!("binding the control socket {}", tmp.display()))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&tmp, &path)
        .with_context(|| format!("placing the control socket at {}", path.display()))?;
    listener.set_nonblocking(true)?;
    Ok(tokio::net::UnixListener::from_std(listener)?)
}

/// Answers control requests until `closing` turns true, then removes the socket file.
pub async fn serve(
    listener: tokio::net::UnixListener,
    store: Arc<Store>,
    path: PathBuf,
    mut closing: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let store = store.clone();
                    tokio::task::spawn_blocking(move || {
                        let answered = stream
                            .into_std()
                            .and_then(|s| s.set_nonblocking(false).map(|()| s))
                            .and_then(|s| answer(&store, s));
                        if let Err(e) = answered {
                            tracing::warn!(error = %e, "control socket: request not answered");
                        }
                    });
                }
                Err(e) => tracing::warn!(error = %e, "control socket: accept failed"),
            },
            _ = closing.wait_for(|c| *c) => break,
        }
    }
    let _ = std::fs::remove_file(&path);
}

fn answer(store: &Store, stream: UnixStream) -> std::io::Result<()> {
    // A client that connects and says nothing does not hold a thread for ever.
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    let mut line = String::new();
    BufReader::new((&stream).take(MAX_REQUEST)).read_line(&mut line)?;
    let mut out = std::io::BufWriter::new(&stream);
    let request = line.trim_end_matches(['\n', '\r']);
    let result = if let Some(to) = request.strip_prefix("backup ") {
        tracing::info!(to, "backup requested");
        let mut progress = |table: &str, rows: u64| {
            let _ = writeln!(out, "progress {table} {rows}").and_then(|()| out.flush());
        };
        let done = store.backup_to(Path::new(to), &mut progress);
        match &done {
            Ok(s) => tracing::info!(to, rows = s.rows, bytes = s.bytes, "backup written"),
            Err(e) => tracing::error!(to, error = %e, "backup failed"),
        }
        done.map(|s| describe(&s)).map_err(|e| e.to_string())
    } else if request == "audit-verify" {
        store
            .verify_audit()
            .map_err(|e| e.to_string())
            .and_then(verdict_text)
    } else {
        Err(format!(
            "unknown request {request:?}; expected `backup PATH` or `audit-verify`"
        ))
    };
    match result {
        Ok(text) => writeln!(out, "ok {text}")?,
        Err(text) => writeln!(out, "error {}", text.replace('\n', " "))?,
    }
    out.flush()
}

fn describe(s: &crate::store::backup::BackupSummary) -> String {
    format!("{} tables, {} rows, {} bytes", s.tables, s.rows, s.bytes)
}

/// `Ok("N records, chain intact")`, or the first broken record as the error.
pub fn verdict_text(v: Verdict) -> Result<String, String> {
    match v {
        Verdict::Intact { records, head } => Ok(format!(
            "{records} records, chain intact; last hash {}",
            hex::encode(head)
        )),
        Verdict::Broken { seq, reason } => Err(format!("audit record {seq} is broken: {reason}")),
    }
}

/// Sends `request` to the hub running on `store`. `None` when no hub listens there.
fn request(
    store: &Path,
    request: &str,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Option<Result<String, String>>> {
    let path = socket_path(store);
    let stream = match UnixStream::connect(&path) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e).with_context(|| format!("connecting to {}", path.display())),
    };
    stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    writeln!(&stream, "{request}")?;
    for line in BufReader::new(&stream).lines() {
        let line =
            line.with_context(|| format!("reading the hub's answer on {}", path.display()))?;
        if let Some(p) = line.strip_prefix("progress ") {
            progress(p);
        } else if let Some(ok) = line.strip_prefix("ok ") {
            return Ok(Some(Ok(ok.to_string())));
        } else if let Some(err) = line.strip_prefix("error ") {
            return Ok(Some(Err(err.to_string())));
        }
    }
    bail!(
        "the hub closed {} without an answer; see its log",
        path.display()
    )
}

/// Opens the store of a stopped hub, refusing to create one.
fn open_stopped(cfg: &HubConfig) -> anyhow::Result<Store> {
    let path = &cfg.store.path;
    if !path.exists() {
        bail!(
            "no store at {}; check [store] path in the config",
            path.display()
        );
    }
    Store::open_with_cache(path, cfg.store.history_len, cfg.store.cache_bytes()).with_context(|| {
        format!(
            "opening {} (a hub holds it but its control socket {} does not answer: is it another \
             user's hub?)",
            path.display(),
            socket_path(path).display()
        )
    })
}

/// `heartline-hub backup FILE`: through the running hub, or directly when none runs.
pub fn backup_command(config: &Path, file: &Path) -> anyhow::Result<()> {
    let cfg = HubConfig::load(config)?;
    let file = std::path::absolute(file)?;
    if file.exists() {
        bail!("{} exists; choose a new file name", file.display());
    }
    let mut progress = |p: &str| eprintln!("  copied {p} rows");
    let text = match request(
        &cfg.store.path,
        &format!("backup {}", file.display()),
        &mut progress,
    )? {
        Some(answer) => answer.map_err(|e| anyhow::anyhow!("the hub could not back up: {e}"))?,
        None => {
            let store = open_stopped(&cfg)?;
            let mut progress = |t: &str, rows: u64| eprintln!("  copied {t} {rows} rows");
            describe(&store.backup_to(&file, &mut progress)?)
        }
    };
    println!("backup written to {}: {text}", file.display());
    Ok(())
}

/// `heartline-hub audit verify`: through the running hub, or directly when none runs. A broken
/// chain is an error (exit code 1) naming the first broken record.
pub fn verify_command(config: &Path) -> anyhow::Result<()> {
    let cfg = HubConfig::load(config)?;
    let answer = match request(&cfg.store.path, "audit-verify", &mut |_| {})? {
        Some(answer) => answer,
        None => verdict_text(open_stopped(&cfg)?.verify_audit()?),
    };
    match answer {
        Ok(text) => {
            println!("{text}");
            Ok(())
        }
        Err(text) => bail!("{text}; the trail was altered or damaged outside the hub"),
    }
}
