//! Walks one FTP session through the docs/failures.md phases under one deadline.
//!
//! The session keeps a single "current phase": time is attributed to it and
//! an error is reported in it, so the phase label always names where the
//! check was when it failed (the seed's "login works but `ls` hangs" is
//! `data_connect`/`timeout` because that is where the waiting happened).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_util::sync::CancellationToken;

use super::classify::classify;
use super::happy_eyeballs;
use super::labels::{IpProtocol, Operation, Phase, TlsMode};
use super::outcome::{Failure, Outcome, TlsInfo};
use super::plan::{CheckPlan, Resolution};
use super::record::SessionRecord;
use super::resolve::{CheckEnv, LookupError};
use crate::ftp::tls::{self, TlsClient};
use crate::ftp::{Control, Error, Reply, Result, Stream, Transcript};

/// How long a polite QUIT after a failure may take, at most.
/// Also how long a failed upload waits for the server to say why.
pub(super) const QUIT_GRACE: Duration = Duration::from_millis(500);

/// How long clean-up after a failure may take beyond the check's deadline
/// when something is owed to the server (a DELE of our probe file) or the
/// check was cancelled: one [`QUIT_GRACE`] for the DELE, one for the QUIT.
const CLEANUP: Duration = Duration::from_millis(2 * QUIT_GRACE.as_millis() as u64);

/// Runs one check. Never panics on anything the server does, and returns
/// by `plan.timeout` (plus the time to close sockets, and at most
/// [`CLEANUP`] to delete a probe file after a failure).
pub async fn run(plan: &CheckPlan, env: &CheckEnv) -> Outcome {
    run_cancellable(plan, env, CancellationToken::new()).await
}

/// As [`run`], but `cancel` stops the check (a reload or shutdown): the
/// running phase is abandoned, the probe file is deleted if one is owed,
/// QUIT is sent, each within [`QUIT_GRACE`] (at most [`CLEANUP`] in all),
/// and an outcome failed with [`Error::Cancelled`] (`io_error`, "cancelled:
/// …") is returned for the caller to discard.
pub async fn run_cancellable(plan: &CheckPlan, env: &CheckEnv, cancel: CancellationToken) -> Outcome {
    let mut s = Session::new(plan, env);
    let result = tokio::select! {
        // Cancel-safe where it matters: the control connection keeps what
        // it read (Control::read_reply), and a dropped data connection is
        // only closed.
        r = s.walk() => r,
        () = cancel.cancelled() => Err(Error::Cancelled),
    };
    s.finish(result).await
}

pub(super) struct Session<'a> {
    pub(super) plan: &'a CheckPlan,
    env: &'a CheckEnv,
    started: Instant,
    pub(super) deadline: Instant,
    pub(super) phase: Phase,
    /// False until the first phase starts (an IP literal skips `resolve`).
    in_phase: bool,
    phase_started: Instant,
    phases: Vec<(Phase, Duration)>,
    pub(super) bytes: Vec<(Operation, u64)>,
    pub(super) mismatch: Option<bool>,
    pub(super) advertised: Option<SocketAddr>,
    pub(super) tls: Option<TlsClient>,
    pub(super) tls_info: Option<TlsInfo>,
    /// Before the control connection exists, notes go here.
    transcript: Transcript,
    pub(super) control: Option<Control<Stream>>,
    /// The control connection's peer and local address.
    pub(super) peer: Option<SocketAddr>,
    pub(super) local: Option<SocketAddr>,
    /// Phase spans and data connections, for diagrams.
    pub(super) record: SessionRecord,
    /// The probe file the server accepted a STOR for and that `delete`
    /// wants gone: cleared when its DELE is sent, else sent by `finish`.
    pub(super) pending_dele: Option<String>,
}

impl<'a> Session<'a> {
    fn new(plan: &'a CheckPlan, env: &'a CheckEnv) -> Self {
        // A lookup made before the check is its first phase.
        let now = plan.resolved.as_ref().map_or_else(Instant::now, |r| r.started);
        let mut transcript = Transcript::new();
        transcript.redact(&plan.password);
        Session {
            plan,
            env,
            started: now,
            // Config and probe bound the timeout; this only keeps an absurd
            // one from overflowing the clock.
            deadline: now.checked_add(plan.timeout).unwrap_or(now + Duration::from_secs(86_400)),
            phase: Phase::Resolve,
            in_phase: false,
            phase_started: now,
            phases: Vec::new(),
            bytes: Vec::new(),
            mismatch: None,
            advertised: None,
            tls: None,
            tls_info: None,
            transcript,
            control: None,
            peer: None,
            local: None,
            record: SessionRecord::default(),
            pending_dele: None,
        }
    }

    /// Closes the running phase (adding its time) and starts `next`.
    /// Data phases recur per operation; their times are summed.
    /// Entering the phase already running continues it (one span).
    pub(super) fn enter(&mut self, next: Phase) {
        if self.in_phase && next == self.phase {
            return;
        }
        self.close_phase();
        self.phase = next;
        self.in_phase = true;
    }

    fn close_phase(&mut self) {
        let now = Instant::now();
        let spent = now - self.phase_started;
        let start = self.phase_started - self.started;
        self.phase_started = now;
        if !self.in_phase {
            return;
        }
        self.record.span(self.phase, start, now - self.started);
        match self.phases.iter_mut().find(|(p, _)| *p == self.phase) {
            Some((_, d)) => *d += spent,
            None => self.phases.push((self.phase, spent)),
        }
    }

    /// Time since the check started: the offset of transcript lines and record entries.
    pub(super) fn offset(&self) -> Duration {
        self.started.elapsed()
    }

    pub(super) fn note(&mut self, text: &str) {
        match self.control.as_mut() {
            Some(c) => c.note(text),
            None => self.transcript.note(self.started.elapsed(), text),
        }
    }

    pub(super) fn control(&mut self) -> Result<&mut Control<Stream>> {
        self.control.as_mut().ok_or(Error::Closed)
    }

    /// Sends `command` and requires one of `ok` as the reply code.
    pub(super) async fn expect(&mut self, verb: &'static str, command: &str, ok: &[u16]) -> Result<Reply> {
        let reply = self.control()?.command(command).await?;
        if ok.contains(&reply.code) {
            Ok(reply)
        } else {
            Err(Error::Unexpected { verb, reply })
        }
    }

    async fn walk(&mut self) -> Result<()> {
        let tcp = self.connect().await?;
        let implicit = self.plan.tls.mode == TlsMode::Implicit;
        let stream = if implicit {
            self.enter(Phase::Tls);
            Stream::Tls(Box::new(self.handshake(tcp).await?))
        } else {
            Stream::Plain(tcp)
        };
        let transcript = std::mem::take(&mut self.transcript);
        self.control = Some(Control::new(stream, self.deadline, self.started, transcript));

        self.enter(Phase::Banner);
        self.banner().await?;
        if self.plan.tls.mode == TlsMode::Explicit {
            self.enter(Phase::Tls);
            self.auth_tls().await?;
        }
        if implicit {
            // RFC 4217 §9 still asks for PBSZ/PROT on implicit connections.
            self.enter(Phase::Tls);
            self.protect().await?;
        }
        self.enter(Phase::Login);
        self.login().await?;
        if !self.plan.login_only {
            self.data_operations().await?;
        }
        self.enter(Phase::Quit);
        self.quit().await
    }

    /// Resolves the host (IP literals skip the resolver) and connects to
    /// the addresses `ip_protocol` allows, Happy-Eyeballs style (RFC 8305).
    async fn connect(&mut self) -> Result<TcpStream> {
        let host = self.plan.host.as_str();
        let port = self.plan.port;
        let protocol = self.plan.ip_protocol;
        let resolved = match (host.parse::<IpAddr>(), &self.plan.resolved) {
            (Ok(ip), _) => vec![SocketAddr::new(ip, port)],
            (Err(_), Some(pinned)) => {
                self.enter(Phase::Resolve);
                let addrs = match &pinned.result {
                    Resolution::TimedOut => return Err(Error::Timeout),
                    Resolution::Failed(e) => {
                        return Err(Error::Dns { host: host.into(), message: e.to_string() })
                    }
                    Resolution::Found(a) => a.clone(),
                };
                self.resolved(&addrs, " (resolved before the check; connecting to these only)")?;
                addrs
            }
            (Err(_), None) => {
                self.enter(Phase::Resolve);
                let lookup = self.env.resolver.resolve(host, port);
                let addrs = match timeout_at(self.deadline, lookup).await {
                    Err(_) => return Err(Error::Timeout),
                    Ok(Err(e)) => return Err(Error::Dns { host: host.into(), message: e.to_string() }),
                    Ok(Ok(a)) => a,
                };
                self.resolved(&addrs, "")?;
                addrs
            }
        };
        let addrs = happy_eyeballs::order(&resolved, protocol);
        if addrs.is_empty() {
            let family = if protocol == IpProtocol::Ipv4 { "IPv4" } else { "IPv6" };
            let message = format!("no {family} address (ip_protocol: {protocol})");
            return Err(Error::Dns { host: host.into(), message });
        }
        self.enter(Phase::Connect);
        let count = addrs.len();
        let mut tried = 0;
        let raced = happy_eyeballs::race(
            &addrs,
            happy_eyeballs::ATTEMPT_DELAY,
            self.deadline,
            TcpStream::connect,
            |event| match event {
                happy_eyeballs::Event::Started(addr) => {
                    tried += 1;
                    if count > 1 {
                        self.note(&format!("connecting to {addr} (address {tried} of {count})"));
                    }
                }
                happy_eyeballs::Event::Failed(addr, e) => self.note(&format!("connect to {addr}: {e}")),
            },
        )
        .await;
        match raced {
            Ok((addr, tcp)) => {
                let _ = tcp.set_nodelay(true);
                self.peer = tcp.peer_addr().ok();
                self.local = tcp.local_addr().ok();
                self.note(&format!("connected to {addr} from {}", fmt_opt(self.local)));
                Ok(tcp)
            }
            Err(happy_eyeballs::RaceError::Timeout) => Err(Error::Timeout),
            Err(happy_eyeballs::RaceError::Failed(e)) => Err(Error::Io(e)),
        }
    }

    /// Notes a lookup's addresses; none at all is a `dns_error`.
    fn resolved(&mut self, addrs: &[SocketAddr], how: &str) -> Result<()> {
        let host = self.plan.host.clone();
        let list: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
        self.note(&format!("resolved {host} to {}{how}", list.join(", ")));
        if addrs.is_empty() {
            let message = LookupError::NotFound("no addresses".into()).to_string();
            return Err(Error::Dns { host, message });
        }
        Ok(())
    }

    async fn banner(&mut self) -> Result<()> {
        loop {
            let reply = self.control()?.read_reply().await?;
            match reply.code {
                // RFC 959: 120 "service ready in nnn minutes" precedes the 220.
                120 => continue,
                220 => return Ok(()),
                _ => return Err(Error::Unexpected { verb: "banner", reply }),
            }
        }
    }

    async fn tls_client(&self) -> Result<TlsClient> {
        let opts = &self.plan.tls;
        let verifier = if opts.insecure_skip_verify {
            None
        } else {
            Some(self.env.verifier(opts.ca_file.as_deref(), self.deadline).await?)
        };
        let name = opts.server_name.as_deref().unwrap_or(&self.plan.host);
        TlsClient::new(verifier, name, opts.max_version_tls12)
    }

    pub(super) async fn handshake(
        &mut self,
        tcp: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>> {
        // Built at the control connection's handshake, inside the `tls`
        // phase, so a set-up error (unreadable CA file) is reported there.
        if self.tls.is_none() {
            self.tls = Some(self.tls_client().await?);
        }
        let client = self.tls.as_ref().ok_or_else(|| Error::Local("TLS not configured".into()))?;
        let result = client.connect(tcp, self.deadline).await;
        let not_after = client.cert_not_after();
        let info = self.tls_info.get_or_insert_with(TlsInfo::default);
        if info.cert_not_after.is_none() {
            info.cert_not_after = not_after;
        }
        let stream = result?;
        let (version, cipher, _) = tls::describe(&stream);
        self.note(&format!("TLS established: {version}, {cipher}"));
        if let Some(info) = self.tls_info.as_mut() {
            info.version = version;
            info.cipher = cipher;
        }
        Ok(stream)
    }

    /// RFC 4217 §4: AUTH TLS → 234, then the handshake on the same socket.
    async fn auth_tls(&mut self) -> Result<()> {
        self.expect("AUTH", "AUTH TLS", &[234]).await?;
        if self.control()?.has_buffered() {
            // Bytes after 234 would be plaintext injected into the TLS session
            // (the STARTTLS command-injection class); refuse, keep the transcript.
            return Err(Error::TlsHandshake("server sent data after its reply to AUTH".into()));
        }
        let control = self.control.take().ok_or(Error::Closed)?;
        let deadline = control.deadline();
        let (stream, transcript) = control.into_parts();
        self.transcript = transcript;
        let Stream::Plain(tcp) = stream else {
            return Err(Error::Local("AUTH TLS on a TLS connection".into()));
        };
        let tls = self.handshake(tcp).await?;
        let transcript = std::mem::take(&mut self.transcript);
        self.control = Some(Control::new(Stream::Tls(Box::new(tls)), deadline, self.started, transcript));
        self.protect().await
    }

    /// PBSZ 0 + PROT P: data connections are encrypted too (RFC 4217 §8–9).
    async fn protect(&mut self) -> Result<()> {
        self.expect("PBSZ", "PBSZ 0", &[200]).await?;
        self.expect("PROT", "PROT P", &[200]).await?;
        Ok(())
    }

    async fn login(&mut self) -> Result<()> {
        let user = format!("USER {}", self.plan.username);
        let reply = self.expect("USER", &user, &[230, 331, 332]).await?;
        let reply = match reply.code {
            331 => {
                let pass = format!("PASS {}", self.plan.password.expose());
                self.expect("PASS", &pass, &[230, 202, 332]).await?
            }
            _ => reply,
        };
        // 332 asks for an account (ACCT, RFC 959 §4.1.1): the exporter has
        // none to give, so the login is refused (`auth_failed`).
        if reply.code == 332 {
            return Err(Error::Unexpected { verb: "PASS", reply });
        }
        Ok(())
    }

    async fn quit(&mut self) -> Result<()> {
        let control = self.control()?;
        control.send("QUIT").await?;
        match control.read_reply().await {
            // RFC 959 says 221; anything else, or a close, still ends the session.
            Ok(_) | Err(Error::Closed) | Err(Error::Io(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn finish(mut self, result: Result<()>) -> Outcome {
        self.close_phase();
        let duration = self.started.elapsed();
        let cancelled = matches!(result, Err(Error::Cancelled));
        let failure = result.err().map(|e| self.failed(e));
        if failure.is_some() {
            self.clean_up(cancelled).await;
        }
        if let Some(tls) = self.tls.as_ref() {
            let info = self.tls_info.get_or_insert_with(TlsInfo::default);
            info.cert_not_after = info.cert_not_after.or(tls.cert_not_after());
        }
        let mut transcript = match self.control.take() {
            Some(c) => c.into_transcript(),
            None => std::mem::take(&mut self.transcript),
        };
        // The outcome is kept for the status page: it needs no copy of the password.
        transcript.forget_secrets();
        self.record.settle(self.started.elapsed());
        Outcome {
            mode: self.plan.mode,
            finished_at: SystemTime::now(),
            duration,
            phases: self.phases,
            failure,
            bytes: self.bytes,
            passive_address_mismatch: self.mismatch,
            passive_advertised: self.advertised,
            tls: self.tls_info,
            control_peer: self.peer,
            control_local: self.local,
            transcript,
            record: self.record,
        }
    }

    /// After a failure: DELE the probe file if one is owed, then QUIT, each
    /// bounded by [`QUIT_GRACE`]. Normally within the check's deadline (no
    /// QUIT once it passed); a cancelled check, or one that owes a DELE,
    /// gets [`CLEANUP`] from now whatever the deadline, because leaving a
    /// file on the partner's server or a session open is worse than a late end.
    async fn clean_up(&mut self, cancelled: bool) {
        let pending = self.pending_dele.take();
        let now = Instant::now();
        let until = if cancelled || pending.is_some() { now + CLEANUP } else { self.deadline };
        if now >= until {
            return;
        }
        let Some(control) = self.control.as_mut() else { return };
        control.set_deadline(until);
        if let Some(path) = pending {
            if control.send(&format!("DELE {path}")).await.is_err() {
                return;
            }
            // Replies still due for an abandoned transfer (150, 226, 426)
            // come first; DELE's own is the first reply that is none of those.
            let grace = Instant::now() + QUIT_GRACE;
            loop {
                let left = grace.saturating_duration_since(Instant::now());
                match control.read_reply_within(left).await {
                    Some(r) if matches!(r.code, 125 | 150 | 225 | 226 | 425 | 426 | 451) => continue,
                    Some(r) if matches!(r.code, 200 | 250) => {
                        control.note("probe file deleted after the failure");
                        break;
                    }
                    Some(r) => {
                        control.note(&format!("DELE after the failure refused ({})", r.code));
                        break;
                    }
                    None => break,
                }
            }
        }
        if control.send("QUIT").await.is_ok() {
            let _ = control.read_reply_within(QUIT_GRACE).await;
        }
    }

    fn failed(&mut self, e: Error) -> Failure {
        let mut f = classify(self.phase, &e);
        // The message quotes the server's reply, which may echo the password
        // or carry terminal escapes; it is logged and printed.
        f.message = match self.control.as_mut() {
            Some(c) => c.transcript_mut().clean(&f.message),
            None => self.transcript.clean(&f.message),
        };
        self.note(&format!("FAILED phase={} reason={} code={} {}", f.phase, f.reason, f.code, f.message));
        // After a protocol violation or a closed connection the control
        // channel is not worth a QUIT.
        // (A DELE still owed is tried anyway: a data connection's reset is an
        // Io error too, and a dead control connection fails the DELE fast.)
        if matches!(e, Error::Closed | Error::Io(_) | Error::Reply(_) | Error::TlsHandshake(_))
            && self.pending_dele.is_none()
        {
            if let Some(c) = self.control.take() {
                self.transcript = c.into_transcript();
            }
        }
        f
    }
}

fn fmt_opt(a: Option<SocketAddr>) -> String {
    a.map(|a| a.to_string()).unwrap_or_else(|| "?".into())
}

impl CheckEnv {
    /// The certificate verifier for `ca_file` (system roots when `None`),
    /// built once and shared by every check that uses it. Building reads
    /// files and parses every root, so it runs on the blocking pool (never
    /// on the threads that also serve HTTP), bounded by the check's deadline;
    /// two checks racing to build it merely build it twice.
    pub async fn verifier(
        &self,
        ca_file: Option<&std::path::Path>,
        deadline: Instant,
    ) -> Result<Arc<dyn rustls::client::danger::ServerCertVerifier>> {
        let key = ca_file.map(|p| p.to_path_buf());
        if let Some(v) = self.verifiers.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(v);
        }
        let path = key.clone();
        let build = tokio::task::spawn_blocking(move || tls::root_verifier(path.as_deref()));
        let v = match timeout_at(deadline, build).await {
            Err(_) => return Err(Error::Timeout),
            Ok(Err(join)) => return Err(Error::Local(join.to_string())),
            Ok(Ok(v)) => v?,
        };
        if let Ok(mut cache) = self.verifiers.lock() {
            cache.insert(key, v.clone());
        }
        Ok(v)
    }
}
