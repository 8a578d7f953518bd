//! Injected trouble: latency, error statuses, dropped connections (probabilistic with a seeded
//! generator, or scripted per request), and the listener that makes dropping possible.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Probabilities (0.0–1.0) of random faults per request, drawn from a generator seeded with
/// `seed` so that runs repeat.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Seed of the fault generator.
    pub seed: u64,
    /// Probability of `500 E0000009`.
    pub error_500: f64,
    /// Probability of a 502.
    pub error_502: f64,
    /// Probability of a 503.
    pub error_503: f64,
    /// Probability of a 504.
    pub error_504: f64,
    /// Probability that the connection is closed without processing the request.
    pub drop_before: f64,
    /// Probability that the request is processed and the connection closed before answering.
    pub drop_after: f64,
    /// Probability of an extra delay of `slow_ms`.
    pub slow: f64,
    /// The extra delay of a slow request, in milliseconds.
    pub slow_ms: u64,
}

impl Faults {
    /// The names [`Faults::set`] knows.
    pub const NAMES: &'static str = "seed, 500, 502, 503, 504, drop_before, drop_after, slow, slow_ms";

    /// Sets one fault by name: `seed` and `slow_ms` take a whole number, the others a
    /// probability between 0 and 1.
    pub fn set(&mut self, name: &str, value: &serde_json::Number) -> Result<(), String> {
        let whole =
            || value.as_u64().ok_or_else(|| format!("faults[{name:?}] must be a whole number, 0 or more, not {value}"));
        let probability = || match value.as_f64() {
            Some(p) if (0.0..=1.0).contains(&p) => Ok(p),
            _ => Err(format!("faults[{name:?}] must be a probability between 0 and 1, not {value}")),
        };
        match name {
            "seed" => self.seed = whole()?,
            "slow_ms" => self.slow_ms = whole()?,
            "500" => self.error_500 = probability()?,
            "502" => self.error_502 = probability()?,
            "503" => self.error_503 = probability()?,
            "504" => self.error_504 = probability()?,
            "drop_before" => self.drop_before = probability()?,
            "drop_after" => self.drop_after = probability()?,
            "slow" => self.slow = probability()?,
            other => return Err(format!("unknown fault {other:?}; known: {}", Self::NAMES)),
        }
        Ok(())
    }
}

/// A fault for the next request matching a method and path prefix.
///
/// Written as text (for [`str::parse`]): a status such as `503`, `drop_before`, `drop_after`,
/// `garble_after`, or `delay:MS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptedFault {
    /// Answer with this status and Okta's error body, without processing.
    Status(u16),
    /// Close the connection without processing.
    DropBefore,
    /// Process the request, then close the connection without answering.
    DropAfter,
    /// Delay, then process normally.
    DelayMs(u64),
    /// Process the request (the write happens), then answer 200 with a body that is not JSON, as
    /// a broken proxy might.
    GarbleAfter,
}

impl std::str::FromStr for ScriptedFault {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "drop_before" => Ok(ScriptedFault::DropBefore),
            "drop_after" => Ok(ScriptedFault::DropAfter),
            "garble_after" => Ok(ScriptedFault::GarbleAfter),
            other => match other.strip_prefix("delay:") {
                Some(ms) => ms.parse().map(ScriptedFault::DelayMs).map_err(|_| format!("{other:?} needs whole milliseconds")),
                None => match other.parse::<u16>() {
                    Ok(status) if (100..=599).contains(&status) => Ok(ScriptedFault::Status(status)),
                    _ => Err(format!(
                        "a scripted fault is a status (503), \"drop_before\", \"drop_after\", \"garble_after\" or \"delay:MS\", not {other:?}"
                    )),
                },
            },
        }
    }
}

/// What the fault layer does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultAction {
    /// Process normally.
    None,
    /// Answer with this status and Okta's error body, without processing.
    Status(u16),
    /// Close the connection without processing.
    DropBefore,
    /// Process (and perform any write), then close the connection instead of answering.
    DropAfter,
    /// Process (and perform any write), then answer 200 with a body that is not JSON.
    GarbleAfter,
    /// Hold the request, unprocessed, until [`FaultEngine::release`] (a client killed while its
    /// request was on the way).
    HoldBefore,
    /// Process the request, then hold its answer until [`FaultEngine::release`] (a client killed
    /// before it read the answer).
    HoldAfter,
}

/// The write a hold waits for: `remaining` more writes pass first.
#[derive(Debug, Clone, Copy)]
struct Hold {
    remaining: usize,
    processed: bool,
}

/// The latency to add and the fault to apply to one request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FaultPlan {
    pub delay_ms: u64,
    pub action: FaultAction,
}

struct ScriptedEntry {
    method: String,
    path_prefix: String,
    fault: ScriptedFault,
}

/// Decides faults: scripted ones first (FIFO, first match wins), then the probabilities.
pub(crate) struct FaultEngine {
    faults: Mutex<Faults>,
    latency_ms: u64,
    latency_jitter_ms: u64,
    random: Mutex<fastrand::Rng>,
    scripted: Mutex<VecDeque<ScriptedEntry>>,
    hold: Mutex<Option<Hold>>,
    /// Set once the held request has arrived (and, for [`FaultAction::HoldAfter`], been
    /// processed); cleared by [`FaultEngine::release`].
    held: AtomicBool,
    released: tokio::sync::Notify,
}

impl FaultEngine {
    pub(crate) fn new(faults: Faults, latency_ms: u64, latency_jitter_ms: u64) -> FaultEngine {
        let random = Mutex::new(fastrand::Rng::with_seed(faults.seed));
        let faults = Mutex::new(faults);
        FaultEngine {
            faults,
            latency_ms,
            latency_jitter_ms,
            random,
            scripted: Mutex::new(VecDeque::new()),
            hold: Mutex::new(None),
            held: AtomicBool::new(false),
            released: tokio::sync::Notify::new(),
        }
    }

    /// Holds the write request (any method but GET and HEAD) that comes after `skip` more
    /// writes: processed first when `processed`, then unanswered until [`FaultEngine::release`].
    pub(crate) fn hold_write(&self, skip: usize, processed: bool) {
        *self.hold.lock().unwrap_or_else(|poison| poison.into_inner()) = Some(Hold { remaining: skip, processed });
    }

    /// Whether the held write has arrived (and been processed, if asked).
    pub(crate) fn holding(&self) -> bool {
        self.held.load(Ordering::SeqCst)
    }

    /// Marks the held write as arrived.
    pub(crate) fn mark_held(&self) {
        self.held.store(true, Ordering::SeqCst);
    }

    /// Waits until the hold is released (at most `limit`).
    pub(crate) async fn wait_release(&self, limit: std::time::Duration) {
        let notified = self.released.notified();
        tokio::pin!(notified);
        // Registered before the flag is read, so that a release in between is not missed.
        notified.as_mut().enable();
        if !self.held.load(Ordering::SeqCst) {
            return;
        }
        let _ = tokio::time::timeout(limit, notified).await;
    }

    /// Lets any held request go (its answer goes to whoever still listens) and forgets a hold
    /// not yet reached.
    pub(crate) fn release(&self) {
        *self.hold.lock().unwrap_or_else(|poison| poison.into_inner()) = None;
        self.held.store(false, Ordering::SeqCst);
        self.released.notify_waiters();
    }

    fn take_hold(&self, method: &str) -> Option<FaultAction> {
        if matches!(method, "GET" | "HEAD") {
            return None;
        }
        let mut hold = self.hold.lock().unwrap_or_else(|poison| poison.into_inner());
        let current = hold.as_mut()?;
        if current.remaining > 0 {
            current.remaining -= 1;
            return None;
        }
        let processed = current.processed;
        *hold = None;
        Some(if processed { FaultAction::HoldAfter } else { FaultAction::HoldBefore })
    }

    /// Replaces the random faults and restarts their generator from the new seed.
    pub(crate) fn set(&self, faults: Faults) {
        let mut random = self.random.lock().unwrap_or_else(|poison| poison.into_inner());
        *random = fastrand::Rng::with_seed(faults.seed);
        *self.faults.lock().unwrap_or_else(|poison| poison.into_inner()) = faults;
    }

    fn faults(&self) -> Faults {
        self.faults.lock().unwrap_or_else(|poison| poison.into_inner()).clone()
    }

    pub(crate) fn script(&self, method: &str, path_prefix: &str, fault: ScriptedFault) {
        self.scripted.lock().unwrap_or_else(|poison| poison.into_inner()).push_back(ScriptedEntry {
            method: method.to_owned(),
            path_prefix: path_prefix.to_owned(),
            fault,
        });
    }

    pub(crate) fn clear_scripted(&self) {
        self.scripted.lock().unwrap_or_else(|poison| poison.into_inner()).clear();
    }

    fn take_scripted(&self, method: &str, path: &str) -> Option<ScriptedFault> {
        let mut scripted = self.scripted.lock().unwrap_or_else(|poison| poison.into_inner());
        if scripted.is_empty() {
            return None;
        }
        let position = scripted.iter().position(|entry| {
            (entry.method.is_empty() || entry.method == "*" || entry.method.eq_ignore_ascii_case(method))
                && path.starts_with(&entry.path_prefix)
        })?;
        scripted.remove(position).map(|entry| entry.fault)
    }

    fn is_random_quiet(&self, faults: &Faults) -> bool {
        self.latency_jitter_ms == 0
            && [
                faults.error_500,
                faults.error_502,
                faults.error_503,
                faults.error_504,
                faults.drop_before,
                faults.drop_after,
                faults.slow,
            ]
            .iter()
            .all(|probability| *probability <= 0.0)
    }

    /// The plan for one request.
    pub(crate) fn plan(&self, method: &str, path: &str) -> FaultPlan {
        let mut plan = FaultPlan { delay_ms: self.latency_ms, action: FaultAction::None };
        if let Some(action) = self.take_hold(method) {
            plan.action = action;
            return plan;
        }
        if let Some(fault) = self.take_scripted(method, path) {
            match fault {
                ScriptedFault::Status(status) => plan.action = FaultAction::Status(status),
                ScriptedFault::DropBefore => plan.action = FaultAction::DropBefore,
                ScriptedFault::DropAfter => plan.action = FaultAction::DropAfter,
                ScriptedFault::GarbleAfter => plan.action = FaultAction::GarbleAfter,
                ScriptedFault::DelayMs(delay) => plan.delay_ms += delay,
            }
            return plan;
        }
        let faults = self.faults();
        if self.is_random_quiet(&faults) {
            return plan;
        }
        let mut random = self.random.lock().unwrap_or_else(|poison| poison.into_inner());
        if self.latency_jitter_ms > 0 {
            plan.delay_ms += random.u64(0..=self.latency_jitter_ms);
        }
        if faults.slow > 0.0 && random.f64() < faults.slow {
            plan.delay_ms += faults.slow_ms;
        }
        let draw = random.f64();
        let mut threshold = 0.0;
        for (probability, action) in [
            (faults.error_500, FaultAction::Status(500)),
            (faults.error_502, FaultAction::Status(502)),
            (faults.error_503, FaultAction::Status(503)),
            (faults.error_504, FaultAction::Status(504)),
            (faults.drop_before, FaultAction::DropBefore),
            (faults.drop_after, FaultAction::DropAfter),
        ] {
            threshold += probability.max(0.0);
            if draw < threshold {
                plan.action = action;
                break;
            }
        }
        plan
    }
}

/// Shared between a connection's stream and its requests: setting `kill` makes the stream fail,
/// so hyper closes the connection instead of writing the response.
#[derive(Debug, Default)]
pub(crate) struct ConnectionControl {
    kill: AtomicBool,
}

/// Identifies the connection a request arrived on (axum `ConnectInfo`).
#[derive(Debug, Clone)]
pub(crate) struct ConnectionHandle {
    control: Arc<ConnectionControl>,
    peer: SocketAddr,
}

impl ConnectionHandle {
    /// Makes the connection fail on its next read or write.
    pub(crate) fn kill(&self) {
        self.control.kill.store(true, Ordering::SeqCst);
    }

    /// The client's address (the System Log's `client.ipAddress`).
    pub(crate) fn peer(&self) -> SocketAddr {
        self.peer
    }
}

impl Connected<IncomingStream<'_, SimulatorListener>> for ConnectionHandle {
    fn connect_info(stream: IncomingStream<'_, SimulatorListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A TCP listener whose connections can be killed from a request handler.
pub(crate) struct SimulatorListener {
    pub inner: TcpListener,
}

impl Listener for SimulatorListener {
    type Io = KillableStream;
    type Addr = ConnectionHandle;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let control = Arc::new(ConnectionControl::default());
                    let handle = ConnectionHandle { control: control.clone(), peer };
                    return (KillableStream { stream, control }, handle);
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(ConnectionHandle { control: Arc::new(ConnectionControl::default()), peer: self.inner.local_addr()? })
    }
}

/// A TCP stream that fails once its connection has been killed.
pub(crate) struct KillableStream {
    stream: TcpStream,
    control: Arc<ConnectionControl>,
}

impl KillableStream {
    fn killed(&self) -> bool {
        self.control.kill.load(Ordering::SeqCst)
    }
}

fn killed_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "connection dropped by fault")
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.killed() {
            return Poll::Ready(Err(killed_error()));
        }
        Pin::new(&mut self.stream).poll_read(context, buffer)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(mut self: Pin<&mut Self>, context: &mut Context<'_>, buffer: &[u8]) -> Poll<io::Result<usize>> {
        if self.killed() {
            return Poll::Ready(Err(killed_error()));
        }
        Pin::new(&mut self.stream).poll_write(context, buffer)
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.killed() {
            return Poll::Ready(Err(killed_error()));
        }
        Pin::new(&mut self.stream).poll_flush(context)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(context)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.killed() {
            return Poll::Ready(Err(killed_error()));
        }
        Pin::new(&mut self.stream).poll_write_vectored(context, buffers)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_faults_and_fault_settings_parse_from_their_text() {
        assert_eq!("503".parse::<ScriptedFault>(), Ok(ScriptedFault::Status(503)));
        assert_eq!("garble_after".parse::<ScriptedFault>(), Ok(ScriptedFault::GarbleAfter));
        assert_eq!("delay:250".parse::<ScriptedFault>(), Ok(ScriptedFault::DelayMs(250)));
        for bad in ["delay:soon", "99", "700", "drop", ""] {
            assert!(bad.parse::<ScriptedFault>().is_err(), "{bad:?} parsed");
        }
        let mut faults = Faults::default();
        faults.set("503", &serde_json::Number::from_f64(0.25).unwrap()).unwrap();
        faults.set("seed", &serde_json::Number::from(u64::MAX)).unwrap();
        assert_eq!((faults.error_503, faults.seed), (0.25, u64::MAX));
        assert!(faults.set("503", &serde_json::Number::from(2)).unwrap_err().contains("between 0 and 1"));
        assert!(faults.set("seed", &serde_json::Number::from_f64(1.5).unwrap()).unwrap_err().contains("whole"));
        assert!(faults.set("typo", &serde_json::Number::from(0)).unwrap_err().contains("known: seed"));
    }
}
