//! HTTPS on the hub's HTTP port: a listener for `axum::serve` whose connections arrive with TLS
//! done (ALPN h2 for gRPC, http/1.1 for the rest). Handshakes run in their own tasks with a
//! deadline, so a client that never finishes one holds up nobody else.

use crate::metrics::Metrics;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A handshake not finished within this is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; further connections wait in the kernel's backlog.
const HANDSHAKES_MAX: usize = 1_024;

/// Yields connections whose TLS handshake succeeded; dropping it stops accepting.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    pub fn new(listener: TcpListener, acceptor: TlsAcceptor, metrics: Arc<Metrics>) -> TlsListener {
        let local = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(accept_loop(listener, acceptor, metrics, tx));
        TlsListener { local, ready }
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    metrics: Arc<Metrics>,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let permits = Arc::new(tokio::sync::Semaphore::new(HANDSHAKES_MAX));
    loop {
        let accepted = tokio::select! {
            () = tx.closed() => return,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "HTTPS listener: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (acceptor, metrics, tx) = (acceptor.clone(), metrics.clone(), tx.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tcp.set_nodelay(true);
            let done = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await;
            let tls = match done {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    metrics.tls_handshake("https", false);
                    tracing::debug!(%peer, error = %e, "HTTPS handshake failed");
                    return;
                }
                Err(_) => {
                    metrics.tls_handshake("https", false);
                    tracing::debug!(%peer, "HTTPS handshake not finished in time");
                    return;
                }
            };
            metrics.tls_handshake("https", true);
            let _ = tx.send((tls, peer)).await;
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept loop ended (it only does when this listener is dropped): wait forever,
            // as a listener that can no longer accept.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
