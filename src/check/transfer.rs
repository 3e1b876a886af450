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

    /// EPSV or PASV (SPEC §4 `passive.epsv`), and where to connect.
    ///
    /// `auto` uses EPSV when the server offers it (or the peer is IPv6) and
    /// falls back to PASV on 500–504. EPSV replies carry no address, yet the
    /// address a server puts in 227 is what breaks PASV clients behind NAT
    /// (SPEC §8), so on IPv4 `auto` also sends one PASV per session just to
    /// learn it. With `trust_advertised_address` the advertised address is
    /// the point, so `auto` means PASV.
    async fn passive_address(&mut self) -> Result<SocketAddr> {
        let peer = self.peer.ok_or(Error::Closed)?;
        let opts = &self.plan.passive;
        let auto = opts.epsv == Toggle::Auto;
        let epsv = match opts.epsv {
            Toggle::Always => true,
            Toggle::Never => false,
            Toggle::Auto => {
                !opts.trust_advertised_address && (peer.is_ipv6() || self.server_offers_epsv().await?)
            }
        };
        if epsv {
            if auto && peer.is_ipv4() && !self.pasv_probed {
                self.learn_advertised_address(peer).await?;
            }
            self.set_up_with(SetupCommand::Epsv);
            let reply = self.control()?.command("EPSV").await?;
            if reply.code == 229 {
                let port = parse_229(reply.text()).map_err(|source| Error::Codec {
                    verb: "EPSV",
                    code: 229,
                    source,
                })?;
                if let Some(d) = self.record.current() {
                    d.announced_port = Some(port);
                }
                // RFC 2428 §3: the data connection goes to the control connection's peer.
                return Ok(SocketAddr::new(peer.ip(), port));
            }
            if !(auto && peer.is_ipv4() && (500..=504).contains(&reply.code)) {
                return Err(Error::Unexpected { verb: "EPSV", reply });
            }
            self.note("EPSV refused, falling back to PASV");
        }
        self.set_up_with(SetupCommand::Pasv);
        let reply = self.expect("PASV", "PASV", &[227]).await?;
        let advertised = parse_host_port(reply.text()).map_err(|source| Error::Codec {
            verb: "PASV",
            code: 227,
            source,
        })?;
        let advertised = SocketAddr::V4(advertised);
        let mismatch = self.record_advertised(advertised, peer);
        if let Some(d) = self.record.current() {
            d.announced_ip = Some(advertised.ip());
            d.announced_port = Some(advertised.port());
            d.announced_differs = Some(mismatch);
        }
        if self.plan.passive.trust_advertised_address {
            return Ok(advertised);
        }
        if mismatch {
            // SPEC §9: a server must not steer the exporter at another host.
            self.note(&format!(
                "227 advertises {}, not the control peer {}; connecting to the control peer",
                advertised.ip(),
                peer.ip()
            ));
        }
        Ok(SocketAddr::new(peer.ip(), advertised.port()))
    }

    /// One PASV whose only purpose is the address in its 227 reply. Its
    /// failure does not fail the check (the data connection uses EPSV); it
    /// is noted in the transcript and the mismatch stays unknown.
    async fn learn_advertised_address(&mut self, peer: SocketAddr) -> Result<()> {
        self.pasv_probed = true;
        let reply = self.control()?.command("PASV").await?;
        match (reply.code, parse_host_port(reply.text())) {
            (227, Ok(advertised)) => {
                if self.record_advertised(SocketAddr::V4(advertised), peer) {
                    self.note(&format!(
                        "227 advertises {}, not the control peer {}: PASV clients behind this NAT fail",
                        advertised.ip(),
                        peer.ip()
                    ));
                }
            }
            (227, Err(e)) => self.note(&format!("PASV (address check only): {e}")),
            _ => self.note("PASV (address check only) refused"),
        }
        Ok(())
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

    /// FEAT once per session: does the server list EPSV (RFC 2389, RFC 2428)?
    async fn server_offers_epsv(&mut self) -> Result<bool> {
        if let Some(known) = self.feat_epsv {
            return Ok(known);
        }
        let reply = self.control()?.command("FEAT").await?;
        let offers = reply.code == 211
            && reply.lines.iter().skip(1).any(|l| l.trim_start().to_ascii_uppercase().starts_with("EPSV"));
        self.feat_epsv = Some(offers);
        Ok(offers)
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
