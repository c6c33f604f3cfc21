//! `heartline-hub engineer ...`: a field engineer's queue and actions from the command line,
//! through the hub's gRPC API with the engineer's token.

use anyhow::Context;
use clap::Subcommand;
use heartline_proto::wire;
use heartline_proto::wire::engineer_service_client::EngineerServiceClient;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

#[derive(clap::Args)]
pub struct EngineerArgs {
    /// The hub's HTTP address (the API shares it with /metrics); https:// when it serves TLS.
    #[arg(long, env = "HEARTLINE_HUB", default_value = "http://127.0.0.1:9090")]
    hub: String,
    /// For an https:// hub: the CA certificate (PEM) that issued the hub's certificate; without
    /// it, the public web roots.
    #[arg(long, env = "HEARTLINE_CA_FILE")]
    ca_file: Option<std::path::PathBuf>,
    /// A file holding the engineer's API token; or set HEARTLINE_TOKEN.
    #[arg(long)]
    token_file: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: EngineerCommand,
}

#[derive(Subcommand)]
enum EngineerCommand {
    /// Print the tickets dispatched to me and exit.
    Queue,
    /// Print my queue, then every change to it as it happens, until Ctrl-C.
    Watch,
    /// Accept a dispatched ticket.
    Accept { ticket: String },
    /// Decline a dispatched ticket; it goes to the next engineer.
    Decline {
        ticket: String,
        #[arg(long)]
        reason: String,
    },
    /// Say you are on site.
    Onsite { ticket: String },
    /// Add a note to the ticket's timeline.
    Note { ticket: String, text: String },
    /// Say it is fixed; the ticket closes once the device's own health confirms it.
    Resolve {
        ticket: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Hand the ticket to a colleague, who must accept it.
    Handover {
        ticket: String,
        #[arg(long)]
        to: String,
    },
}

fn token(args: &EngineerArgs) -> anyhow::Result<String> {
    let token = match &args.token_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the token from {}", path.display()))?,
        None => std::env::var("HEARTLINE_TOKEN")
            .context("no token: pass --token-file FILE or set HEARTLINE_TOKEN")?,
    };
    let token = token.trim().to_string();
    anyhow::ensure!(!token.is_empty(), "the token is empty");
    Ok(token)
}

fn line(t: &wire::Ticket) -> String {
    let state = wire::TicketState::try_from(t.state)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("TICKET_STATE_")
                .to_lowercase()
        })
        .unwrap_or_default();
    let severity = wire::Severity::try_from(t.severity)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("SEVERITY_")
                .to_lowercase()
        })
        .unwrap_or_default();
    format!(
        "#{:<6} {:<10} {:<9} {}  (device {})",
        t.ticket_id, state, severity, t.title, t.device_id
    )
}

pub async fn run(args: EngineerArgs) -> anyhow::Result<()> {
    let token = token(&args)?;
    let mut endpoint = Channel::from_shared(args.hub.clone())
        .with_context(|| format!("{:?} is not a hub address (http://host:port)", args.hub))?;
    if args.hub.starts_with("https://") {
        let tls = match &args.ca_file {
            Some(path) => {
                let pem = std::fs::read(path)
                    .with_context(|| format!("reading the CA file {}", path.display()))?;
                tonic::transport::ClientTlsConfig::new()
                    .ca_certificate(tonic::transport::Certificate::from_pem(pem))
            }
            None => tonic::transport::ClientTlsConfig::new().with_webpki_roots(),
        };
        endpoint = endpoint.tls_config(tls).context("setting up TLS")?;
    }
    let channel = endpoint
        .connect()
        .await
        .with_context(|| format!("cannot reach the hub at {}", args.hub))?;
    let bearer: MetadataValue<_> = format!("Bearer {token}")
        .parse()
        .context("the token holds characters a header cannot carry")?;
    let mut client =
        EngineerServiceClient::with_interceptor(channel, move |mut req: tonic::Request<()>| {
            req.metadata_mut().insert("authorization", bearer.clone());
            Ok(req)
        });
    let request = |ticket: &str, note: &str, to: &str| wire::TicketActionRequest {
        ticket_id: ticket.to_string(),
        note: note.to_string(),
        to_engineer_id: to.to_string(),
    };
    let done = match &args.command {
        EngineerCommand::Queue | EngineerCommand::Watch => {
            let mut stream = client
                .watch_assignments(wire::WatchAssignmentsRequest {})
                .await
                .map_err(explain)?
                .into_inner();
            let follow = matches!(args.command, EngineerCommand::Watch);
            // The stream starts with the whole queue; `queue` stops once it has gone quiet.
            loop {
                let next = if follow {
                    stream.message().await
                } else {
                    match tokio::time::timeout(
                        std::time::Duration::from_millis(300),
                        stream.message(),
                    )
                    .await
                    {
                        Ok(m) => m,
                        Err(_) => break,
                    }
                };
                match next.map_err(explain)? {
                    Some(a) => {
                        let Some(t) = a.ticket else { continue };
                        println!("{}", line(&t));
                        if follow && !a.reason.is_empty() {
                            println!("        {}", a.reason);
                        }
                    }
                    None => break,
                }
            }
            return Ok(());
        }
        EngineerCommand::Accept { ticket } => client.accept(request(ticket, "", "")).await,
        EngineerCommand::Decline { ticket, reason } => {
            client.decline(request(ticket, reason, "")).await
        }
        EngineerCommand::Onsite { ticket } => client.on_site(request(ticket, "", "")).await,
        EngineerCommand::Note { ticket, text } => client.add_note(request(ticket, text, "")).await,
        EngineerCommand::Resolve { ticket, note } => {
            client.resolve(request(ticket, note, "")).await
        }
        EngineerCommand::Handover { ticket, to } => client.hand_over(request(ticket, "", to)).await,
    };
    let ticket = done.map_err(explain)?.into_inner();
    println!("{}", line(&ticket));
    if let Some(last) = ticket.timeline.last() {
        println!("        {}", last.what);
    }
    Ok(())
}

/// A gRPC status as a message for a person.
fn explain(s: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{} ({:?})", s.message(), s.code())
}
