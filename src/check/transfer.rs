//! The data operations of a check (SPEC §2: list, retrieve, store) and the
//! data connection each one needs, in passive or active mode.

use std::net::{IpAddr, SocketAddr};

use sha2::{Digest, Sha256};

use super::classify::classify;
use super::labels::{Mode, Operation, Phase};
use super::plan::{OperationSpec, RetrieveSpec, StoreSpec, Toggle, MAX_STORE_BYTES};
use super::record::{DataFailure, SetupCommand};
use super::runner::{Session, QUIT_GRACE};
use crate::ftp::address::{format_eprt, format_port, parse_229, parse_host_port};
use crate::ftp::data::{self, canonical, ActiveListener};
use crate::ftp::{Error, Result, Stream};

/// A directory listing larger than this fails the check (`content_mismatch`,
/// like `retrieve.max_bytes`): a monitor has no use for it and must stay cheap.
const MAX_LISTING: u64 = 16 * 1024 * 1024;

impl Session<'_> {
    pub(super) async fn data_operations(&mut self) -> Result<()> {
        self.enter(Phase::DataSetup);
        // Binary: byte counts and hashes must not depend on line-ending conversion.
        self.expect("TYPE", "TYPE I", &[200]).await?;
        for op in self.plan.operations() {
            match op {
                OperationSpec::List(dir) => self.list(dir.as_deref()).await?,
                OperationSpec::Retrieve(spec) => self.retrieve(&spec).await?,
                OperationSpec::Store(spec) => self.store(&spec).await?,
            }
        }
        Ok(())
    }

    async fn list(&mut self, dir: Option<&str>) -> Result<()> {
        let command = dir.map(|d| format!("LIST {d}")).unwrap_or_else(|| "LIST".into());
        let n = self.download(Operation::List, "LIST", &command, MAX_LISTING, |_| {}).await?;
        self.bytes.push((Operation::List, n));
        Ok(())
    }

    async fn retrieve(&mut self, spec: &RetrieveSpec) -> Result<()> {
        let mut hasher = Sha256::new();
        let n = self
            .download(Operation::Retrieve, "RETR", &format!("RETR {}", spec.path), spec.max_bytes, |b| {
                hasher.update(b)
            })
            .await?;
        self.bytes.push((Operation::Retrieve, n));
        if let Some(size) = spec.size {
            if n != size {
                return Err(Error::Content(format!("{} is {n} bytes, expected {size}", spec.path)));
            }
        }
        if let Some(expected) = &spec.sha256 {
            let got = hex::encode(hasher.finalize());
            if !got.eq_ignore_ascii_case(expected) {
                return Err(Error::Content(format!("{} has SHA-256 {got}, expected {expected}", spec.path)));
            }
        }
        Ok(())
    }

    async fn store(&mut self, spec: &StoreSpec) -> Result<()> {
        // Config and probe refuse more; this keeps any other caller honest.
        let content = probe_content(spec.bytes.min(MAX_STORE_BYTES) as usize);
        self.upload(&format!("STOR {}", spec.path), &content).await?;
        self.bytes.push((Operation::Store, spec.bytes));
        if spec.verify {
            let mut back = Vec::with_capacity(content.len());
            self.download(Operation::Store, "RETR", &format!("RETR {}", spec.path), spec.bytes, |b| {
                back.extend_from_slice(b)
            })
            .await?;
            if back != content {
                if spec.delete {
                    // Best effort: a failed verify should not leave probe files behind.
                    let _ = self.control()?.command(&format!("DELE {}", spec.path)).await;
                }
                return Err(Error::Content(format!(
                    "{} read back differs from what was stored ({} of {} bytes)",
                    spec.path,
                    back.len(),
                    content.len()
                )));
            }
        }
        if spec.delete {
            self.enter(Phase::Transfer);
            self.expect("DELE", &format!("DELE {}", spec.path), &[250, 200]).await?;
        }
        Ok(())
    }

    /// Opens a data connection, sends `command`, reads until EOF into `sink`
    /// and waits for the final reply. Returns the byte count.
    async fn download(
        &mut self,
        op: Operation,
        verb: &'static str,
        command: &str,
        max: u64,
        mut sink: impl FnMut(&[u8]),
    ) -> Result<u64> {
        let mut stream = self.open(op, verb, command).await?;
        let n = data::read_all(&mut stream, max, self.deadline, &mut sink).await?;
        close(&mut stream, self.deadline).await;
        self.data_closed();
        self.note(&format!("{n} bytes received"));
        self.final_reply(verb).await?;
        Ok(n)
    }

    async fn upload(&mut self, command: &str, content: &[u8]) -> Result<()> {
        let mut stream = self.open(Operation::Store, "STOR", command).await?;
        if let Err(e) = data::write_all(&mut stream, content, self.deadline).await {
            // A server that stops an upload (552 quota, 451 disk full) says
            // why on the control connection; that code beats "connection reset".
            if let Some(reply) = self.control()?.read_reply_within(QUIT_GRACE).await {
                if reply.code >= 400 {
                    return Err(Error::Unexpected { verb: "STOR", reply });
                }
            }
            return Err(e);
        }
        self.note(&format!("{} bytes sent", content.len()));
        // Keep the socket open until the server confirms: a TLS 1.3 server
        // sends session tickets on the data connection that an upload never
        // reads, and closing a socket with unread input sends RST, which
        // makes vsftpd (426) and pyftpdlib drop the tail of the upload.
        let reply = self.final_reply("STOR").await;
        drop(stream);
        self.data_closed();
        reply
    }

    async fn final_reply(&mut self, verb: &'static str) -> Result<()> {
        let reply = self.control()?.read_reply().await?;
        match reply.code {
            226 | 250 => Ok(()),
            _ => Err(Error::Unexpected { verb, reply }),
        }
    }

    /// The data connection for one transfer command, in the plan's mode;
    /// on return the command has been sent and its 1xx reply read.
    ///
    /// Order matters with TLS: servers start the data connection's handshake
    /// only once they have the transfer command (vsftpd, libunftp), so the
    /// command goes first and the handshake races the server's replies, as
    /// the accept does in active mode.
    async fn open(&mut self, op: Operation, verb: &'static str, command: &str) -> Result<Stream> {
        self.record.begin_data(op, verb, self.peer);
        let opened = self.open_data(verb, command).await;
        if let Err(e) = &opened {
            let reason = classify(self.phase, e).reason;
            if let Some(d) = self.record.current() {
                if d.opened.is_none() {
                    d.failure = Some(DataFailure::from_reason(reason));
                }
            }
        }
        opened
    }

    /// Notes in the record that the current data connection was closed.
    fn data_closed(&mut self) {
        let at = self.offset();
        if let Some(d) = self.record.current() {
            d.closed.get_or_insert(at);
        }
    }

    /// Notes in the record that the current data connection is established.
    fn data_opened(&mut self, peer: Option<SocketAddr>) {
        let at = self.offset();
        if let Some(d) = self.record.current() {
            d.peer = peer;
            d.opened = Some(at);
        }
    }

    async fn open_data(&mut self, verb: &'static str, command: &str) -> Result<Stream> {
        let mut preliminary = false;
        let tcp = match self.plan.mode {
            Mode::Passive => {
                self.enter(Phase::DataSetup);
                let addr = self.passive_address().await?;
                self.enter(Phase::DataConnect);
                if let Some(d) = self.record.current() {
                    d.peer = Some(addr);
                }
                let tcp = data::connect(addr, self.deadline).await?;
                self.data_opened(Some(addr));
                self.note(&format!("data connection to {addr}"));
                if self.tls.is_none() {
                    self.enter(Phase::Transfer);
                }
                self.control()?.send(command).await?;
                tcp
            }
            Mode::Active => {
                self.enter(Phase::DataSetup);
                let listener = self.active_listener().await?;
                self.enter(Phase::DataConnect);
                let server: IpAddr = self.peer.ok_or(Error::Closed)?.ip();
                self.control()?.send(command).await?;
                let accept = listener.accept_from(server, self.deadline);
                let tcp = match self.race_reply(verb, accept, &mut preliminary).await {
                    Ok(tcp) => tcp,
                    Err(e) => {
                        if let (Error::UnexpectedPeer { peer, .. }, Some(d)) = (&e, self.record.current()) {
                            d.peer = Some(*peer);
                        }
                        return Err(e);
                    }
                };
                let peer = tcp.peer_addr().ok();
                self.data_opened(peer);
                self.note(&format!(
                    "data connection from {}",
                    peer.map(|p| p.to_string()).unwrap_or_default()
                ));
                tcp
            }
        };
        let stream = match self.tls.clone() {
            None => Stream::Plain(tcp),
            Some(tls) => {
                // RFC 4217 §7: the exporter is the TLS client in both modes,
                // resuming the control session (vsftpd's require_ssl_reuse).
                let handshake = tls.connect(tcp, self.deadline);
                let tls = self.race_reply(verb, handshake, &mut preliminary).await?;
                let (_, _, resumed) = crate::ftp::tls::describe(&tls);
                self.note(if resumed { "data TLS session resumed" } else { "data TLS session NOT resumed" });
                if let Some(info) = self.tls_info.as_mut() {
                    info.data_resumed.push(resumed);
                }
                if let Some(d) = self.record.current() {
                    d.tls_resumed = Some(resumed);
                }
                Stream::Tls(Box::new(tls))
            }
        };
        self.enter(Phase::Transfer);
        if !preliminary {
            let reply = self.control()?.read_reply().await?;
            if !matches!(reply.code, 125 | 150) {
                // 425 is about the data connection, in every mode (as in race_reply).
                if reply.code == 425 {
                    self.phase = Phase::DataConnect;
                }
                return Err(Error::Unexpected { verb, reply });
            }
        }
        Ok(stream)
    }

    /// Waits for `fut` (the accept, or the data TLS handshake) while reading
    /// the server's replies to the transfer command: a 1xx is noted, a 425
    /// fails the data connection, any other refusal (e.g. 550) fails the
    /// transfer itself.
    async fn race_reply<T>(
        &mut self,
        verb: &'static str,
        fut: impl std::future::Future<Output = Result<T>>,
        preliminary: &mut bool,
    ) -> Result<T> {
        tokio::pin!(fut);
        let control = self.control.as_mut().ok_or(Error::Closed)?;
        let refused = loop {
            tokio::select! {
                done = &mut fut => return done,
                reply = control.read_reply(), if !*preliminary => {
                    let reply = reply?;
                    match reply.code {
                        125 | 150 => *preliminary = true,
                        _ => break reply,
                    }
                }
            }
        };
        // 425: the server could not open the data connection; anything else
        // refuses the command, not the connection.
        if refused.code != 425 {
            self.enter(Phase::Transfer);
        }
        Err(Error::Unexpected { verb, reply: refused })
    }

    /// EPSV or PASV (SPEC §4 `passive.epsv`), and where to connect: one
    /// exchange per data connection, so `data_setup` times exactly one.
    ///
    /// `auto` sends PASV when the control connection is IPv4: its 227 names
    /// the address the server advertises, which is what breaks PASV clients
    /// behind NAT (SPEC §8, `ftp_passive_address_mismatch`). On IPv6 it
    /// sends EPSV (RFC 2428 §3: PASV cannot carry an IPv6 address). Either
    /// falls back to the other on 500/502 (command unknown or not
    /// implemented: old servers lack EPSV, some IPv6-only ones lack PASV).
    /// `always`/`never` send only EPSV/PASV.
    async fn passive_address(&mut self) -> Result<SocketAddr> {
        let peer = self.peer.ok_or(Error::Closed)?;
        let ipv4 = canonical(peer.ip()).is_ipv4();
        let (first, fallback) = match self.plan.passive.epsv {
            Toggle::Always => (SetupCommand::Epsv, false),
            Toggle::Never => (SetupCommand::Pasv, false),
            Toggle::Auto if ipv4 => (SetupCommand::Pasv, true),
            Toggle::Auto => (SetupCommand::Epsv, true),
        };
        match self.passive_exchange(first, peer).await? {
            Ok(addr) => Ok(addr),
            Err(reply) if fallback && matches!(reply.code, 500 | 502) => {
                let second =
                    if first == SetupCommand::Pasv { SetupCommand::Epsv } else { SetupCommand::Pasv };
                self.note(&format!("{} refused, falling back to {}", first.as_str(), second.as_str()));
                match self.passive_exchange(second, peer).await? {
                    Ok(addr) => Ok(addr),
                    Err(reply) => Err(Error::Unexpected { verb: second.as_str(), reply }),
                }
            }
            Err(reply) => Err(Error::Unexpected { verb: first.as_str(), reply }),
        }
    }

    /// One PASV or EPSV: the address to connect to, or the negative reply.
    async fn passive_exchange(
        &mut self,
        command: SetupCommand,
        peer: SocketAddr,
    ) -> Result<std::result::Result<SocketAddr, crate::ftp::Reply>> {
        self.set_up_with(command);
        let verb = command.as_str();
        let reply = self.control()?.command(verb).await?;
        match (command, reply.code) {
            (SetupCommand::Epsv, 229) => {
                let port =
                    parse_229(reply.text()).map_err(|source| Error::Codec { verb, code: 229, source })?;
                if let Some(d) = self.record.current() {
                    d.announced_port = Some(port);
                }
                // RFC 2428 §3: the data connection goes to the control connection's peer.
                Ok(Ok(SocketAddr::new(peer.ip(), port)))
            }
            (SetupCommand::Pasv, 227) => {
                let advertised = parse_host_port(reply.text()).map_err(|source| Error::Codec {
                    verb,
                    code: 227,
                    source,
                })?;
                Ok(Ok(self.pasv_target(SocketAddr::V4(advertised), peer)))
            }
            (_, code) if code >= 400 => Ok(Err(reply)),
            // A positive reply that is not 227/229: out of sequence.
            _ => Err(Error::Unexpected { verb, reply }),
        }
    }

    /// Where a 227 sends the data connection: the control peer with 227's
    /// port, unless `trust_advertised_address` (SPEC §9: a server must not
    /// steer the exporter at another host).
    fn pasv_target(&mut self, advertised: SocketAddr, peer: SocketAddr) -> SocketAddr {
        // A 227 to an IPv6 peer can only name some IPv4 address: not comparable.
        let mismatch = canonical(peer.ip()).is_ipv4().then(|| self.record_advertised(advertised, peer));
        if let Some(d) = self.record.current() {
            d.announced_ip = Some(advertised.ip());
            d.announced_port = Some(advertised.port());
            d.announced_differs = mismatch;
        }
        if self.plan.passive.trust_advertised_address {
            return advertised;
        }
        if mismatch == Some(true) {
            self.note(&format!(
                "227 advertises {}, not the control peer {}; connecting to the control peer",
                advertised.ip(),
                peer.ip()
            ));
        }
        SocketAddr::new(peer.ip(), advertised.port())
    }

    /// Notes in the record which command prepares the current data connection.
    fn set_up_with(&mut self, command: SetupCommand) {
        if let Some(d) = self.record.current() {
            d.setup = Some(command);
            (d.announced_ip, d.announced_port, d.announced_differs) = (None, None, None);
        }
    }

    /// Remembers the address a 227 advertised; true when it is not the control peer's.
    fn record_advertised(&mut self, advertised: SocketAddr, peer: SocketAddr) -> bool {
        let mismatch = canonical(advertised.ip()) != canonical(peer.ip());
        self.advertised = Some(advertised);
        self.mismatch = Some(self.mismatch.unwrap_or(false) || mismatch);
        mismatch
    }

    /// Binds the active-mode listener and announces it with PORT or EPRT.
    async fn active_listener(&mut self) -> Result<ActiveListener> {
        let local = self.local.ok_or(Error::Closed)?;
        let opts = &self.plan.active;
        let listen_ip = opts.listen_address.unwrap_or(local.ip());
        let listener = ActiveListener::bind(listen_ip, opts.port_range.as_ref())?;
        let bound = listener.local_addr()?;
        let ip = match opts.advertise_address {
            Some(ip) => ip,
            None if bound.ip().is_unspecified() => local.ip(),
            None => bound.ip(),
        };
        let addr = SocketAddr::new(canonical(ip), bound.port());
        let eprt = match opts.eprt {
            Toggle::Always => true,
            Toggle::Never => false,
            Toggle::Auto => addr.is_ipv6(),
        };
        let command = match addr {
            SocketAddr::V4(v4) if !eprt => format!("PORT {}", format_port(v4)),
            SocketAddr::V6(_) if !eprt => {
                return Err(Error::Local(format!("cannot advertise {addr} with PORT (eprt: never)")))
            }
            _ => format!("EPRT {}", format_eprt(addr)),
        };
        let verb = if eprt { "EPRT" } else { "PORT" };
        self.set_up_with(if eprt { SetupCommand::Eprt } else { SetupCommand::Port });
        if let Some(d) = self.record.current() {
            d.announced_ip = Some(addr.ip());
            d.announced_port = Some(addr.port());
        }
        self.note(&format!("listening on {bound} for the server's data connection"));
        self.expect(verb, &command, &[200]).await?;
        Ok(listener)
    }
}

/// Closes a finished data connection cleanly (TLS close_notify matters to
/// servers that check for truncation attacks); errors are of no interest.
async fn close(stream: &mut Stream, deadline: tokio::time::Instant) {
    use tokio::io::AsyncWriteExt;
    let _ = tokio::time::timeout_at(deadline, stream.shutdown()).await;
}

/// Bytes for `store`: a pattern that differs per check (so a stale file
/// from an earlier check cannot pass verification) and is not all zeros
/// (so a server that truncates or zero-fills is caught).
fn probe_content(len: usize) -> Vec<u8> {
    let mut x = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x9E37_79B9_7F4A_7C15)
        | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        // xorshift64
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let take = (len - out.len()).min(8);
        out.extend_from_slice(&x.to_le_bytes()[..take]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_content_has_the_length_and_varies() {
        let a = probe_content(4097);
        assert_eq!(a.len(), 4097);
        assert!(a.iter().any(|&b| b != 0));
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert_ne!(a, probe_content(4097));
    }
}
