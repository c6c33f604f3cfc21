//! One simulated field engineer on the hub's gRPC `EngineerService`, with the engineer's own
//! token: watches the assignments, and for each ticket dispatched to them, one job at a time,
//! accepts after a think time, travels, says on site, repairs the device (the fault controller
//! heals it, so its own reports turn healthy) and resolves. The hub closes the ticket once the
//! device's health confirms the repair.

use super::{Repair, Shared};
use crate::fleet::SimEngineer;
use crate::scenario::Think;
use heartline_proto::wire;
use heartline_proto::wire::engineer_service_client::EngineerServiceClient;
use rand::Rng;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Adds the engineer's bearer token to every call.
type Auth = Box<dyn FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Send>;

type Client = EngineerServiceClient<InterceptedService<Channel, Auth>>;

async fn connect(http: SocketAddr, token: &str) -> anyhow::Result<Client> {
    let host = if http.ip().is_unspecified() {
        format!("http://127.0.0.1:{}", http.port())
    } else {
        format!("http://{http}")
    };
    let channel = Channel::from_shared(host)?.connect().await?;
    let bearer: MetadataValue<_> = format!("Bearer {token}").parse()?;
    let auth: Auth = Box::new(move |mut req: tonic::Request<()>| {
        req.metadata_mut().insert("authorization", bearer.clone());
        Ok(req)
    });
    Ok(EngineerServiceClient::with_interceptor(channel, auth))
}

fn draw((lo, hi): Think) -> Duration {
    let ms = if hi > lo {
        rand::rng().random_range(lo..=hi)
    } else {
        lo
    };
    Duration::from_millis(ms.max(0) as u64)
}

/// Where a job starts: a fresh offer, or a ticket already accepted or on site (the engineer's
/// queue after the simulator was restarted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Accept,
    Travel,
    Repair,
}

/// A ticket of this engineer: (ticket id, device id, first step).
type Job = (String, String, Step);

/// Tickets queued or being worked on, so the changes the engineer's own actions cause are not
/// taken for new work.
type InHand = Arc<Mutex<HashSet<String>>>;

/// Runs the engineer until the task is aborted.
pub async fn run(
    me: SimEngineer,
    token: String,
    http: SocketAddr,
    repairs: mpsc::Sender<Repair>,
    shared: Arc<Shared>,
) {
    let (jobs_tx, mut jobs) = mpsc::unbounded_channel::<Job>();
    let in_hand = InHand::default();
    let watcher = tokio::spawn(watch(
        me.id.clone(),
        token.clone(),
        http,
        jobs_tx,
        in_hand.clone(),
    ));
    let mut client = None;
    while let Some((ticket, device, step)) = jobs.recv().await {
        if client.is_none() {
            client = connect(http, &token).await.ok();
        }
        if let Some(c) = client.as_mut() {
            if !work(c, &me, &ticket, &device, step, &repairs).await {
                shared.refused.fetch_add(1, Ordering::Relaxed);
            }
        }
        in_hand.lock().expect("in hand").remove(&ticket);
    }
    watcher.abort();
}

/// Follows the engineer's assignments (reconnecting when the stream ends) and queues every
/// ticket of theirs not already in hand: newly dispatched, or left accepted or on site.
async fn watch(
    me: String,
    token: String,
    http: SocketAddr,
    jobs: mpsc::UnboundedSender<Job>,
    in_hand: InHand,
) {
    use wire::TicketState as S;
    loop {
        if let Ok(mut c) = connect(http, &token).await {
            if let Ok(stream) = c.watch_assignments(wire::WatchAssignmentsRequest {}).await {
                let mut stream = stream.into_inner();
                while let Ok(Some(a)) = stream.message().await {
                    let Some(t) = a.ticket else { continue };
                    let step = match S::try_from(t.state) {
                        Ok(S::Dispatched) => Step::Accept,
                        Ok(S::Accepted) => Step::Travel,
                        Ok(S::OnSite) => Step::Repair,
                        _ => continue,
                    };
                    if t.engineer_id == me
                        && in_hand.lock().expect("in hand").insert(t.ticket_id.clone())
                    {
                        let _ = jobs.send((t.ticket_id, t.device_id, step));
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// One job from `step` on: accept, travel, on site, repair, resolve. False when the hub refused
/// a step (the offer lapsed to someone else, or the device healed and the ticket finished).
async fn work(
    c: &mut Client,
    me: &SimEngineer,
    ticket: &str,
    device: &str,
    step: Step,
    repairs: &mpsc::Sender<Repair>,
) -> bool {
    let request = |note: &str| wire::TicketActionRequest {
        ticket_id: ticket.to_string(),
        note: note.to_string(),
        to_engineer_id: String::new(),
    };
    if step == Step::Accept {
        tokio::time::sleep(draw(me.accept)).await;
        if c.accept(request("")).await.is_err() {
            return false;
        }
    }
    if step != Step::Repair {
        tokio::time::sleep(draw(me.travel)).await;
        if c.on_site(request("")).await.is_err() {
            return false;
        }
    }
    tokio::time::sleep(draw(me.repair)).await;
    let (done, repaired) = oneshot::channel();
    if repairs
        .send(Repair {
            device: device.to_string(),
            done,
        })
        .await
        .is_err()
    {
        return false;
    }
    let _ = repaired.await;
    c.resolve(request("repaired on site (simulated)"))
        .await
        .is_ok()
}
