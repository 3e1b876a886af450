//! The data operations of a check (SPEC §2: list, retrieve, store) and the
//! data connection each one needs, in passive or active mode.

use std::net::{IpAddr, SocketAddr};

use sha2::{Digest, Sha256};
use tokio::net::TcpStream;

use super::labels::{Mode, Operation, Phase};
use super::plan::{OperationSpec, RetrieveSpec, StoreSpec, Toggle};
use super::runner::Session;
use crate::ftp::address::{format_eprt, format_port, parse_229, parse_host_port};
use crate::ftp::data::{self, canonical, ActiveListener};
use crate::ftp::{Error, Result, Stream};

/// A directory listing larger than this is cut off as a protocol error:
/// a monitor has no use for it and must stay cheap.
const MAX_LISTING: u64 = 16 * 1024 * 1024;
/// Largest probe file `store` will generate.
pub const MAX_STORE_BYTES: u64 = 64 * 1024 * 1024;

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
        let n = self.download("LIST", &command, MAX_LISTING, |_| {}).await?;
        self.bytes.push((Operation::List, n));
        Ok(())
    }

    async fn retrieve(&mut self, spec: &RetrieveSpec) -> Result<()> {
        let mut hasher = Sha256::new();
        let n = self
            .download("RETR", &format!("RETR {}", spec.path), spec.max_bytes, |b| hasher.update(b))
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
        if spec.bytes > MAX_STORE_BYTES {
            return Err(Error::Local(format!("store.bytes {} exceeds {MAX_STORE_BYTES}", spec.bytes)));
        }
        let content = probe_content(spec.bytes as usize);
        self.upload(&format!("STOR {}", spec.path), &content).await?;
        self.bytes.push((Operation::Store, spec.bytes));
        if spec.verify {
            let mut back = Vec::with_capacity(content.len());
            self.download("RETR", &format!("RETR {}", spec.path), spec.bytes, |b| back.extend_from_slice(b))
                .await?;
            if back != content {
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
        verb: &'static str,
        command: &str,
        max: u64,
        mut sink: impl FnMut(&[u8]),
    ) -> Result<u64> {
        let mut stream = self.open(verb, command).await?;
        let n = data::read_all(&mut stream, max, self.deadline, &mut sink).await?;
        close(&mut stream, self.deadline).await;
        self.note(&format!("{n} bytes received"));
        self.final_reply(verb).await?;
        Ok(n)
    }

    async fn upload(&mut self, command: &str, content: &[u8]) -> Result<()> {
        let mut stream = self.open("STOR", command).await?;
        data::write_all(&mut stream, content, self.deadline).await?;
        self.note(&format!("{} bytes sent", content.len()));
        // Keep the socket open until the server confirms: a TLS 1.3 server
        // sends session tickets on the data connection that an upload never
        // reads, and closing a socket with unread input sends RST, which
        // makes vsftpd (426) and pyftpdlib drop the tail of the upload.
        let reply = self.final_reply("STOR").await;
        drop(stream);
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
    async fn open(&mut self, verb: &'static str, command: &str) -> Result<Stream> {
        match self.plan.mode {
            Mode::Passive => {
                self.enter(Phase::DataSetup);
                let addr = self.passive_address().await?;
                self.enter(Phase::DataConnect);
                let tcp = data::connect(addr, self.deadline).await?;
                self.note(&format!("data connection to {addr}"));
                // The command first, TLS after its 1xx (as curl and ftplib do):
                // vsftpd, ProFTPD and Pure-FTPd accept() the data connection
                // only when the command arrives, so a ClientHello sent before
                // it is never answered.
                self.enter(Phase::Transfer);
                self.expect(verb, command, &[125, 150]).await?;
                self.enter(Phase::DataConnect);
                let stream = self.protect_data(tcp).await?;
                self.enter(Phase::Transfer);
                Ok(stream)
            }
            Mode::Active => {
                self.enter(Phase::DataSetup);
                let listener = self.active_listener().await?;
                self.enter(Phase::DataConnect);
                let tcp = self.accept_data(&listener, verb, command).await?;
                let stream = self.protect_data(tcp).await?;
                self.enter(Phase::Transfer);
                Ok(stream)
            }
        }
    }

    /// TLS on the data connection when PROT P is in force. The exporter is
    /// the TLS client in both modes (RFC 4217 §7), and resumes the control
    /// session; whether it did is recorded because servers may insist.
    async fn protect_data(&mut self, tcp: TcpStream) -> Result<Stream> {
        if self.tls.is_none() {
            return Ok(Stream::Plain(tcp));
        }
        let tls = self.handshake(tcp).await?;
        let (_, _, resumed) = crate::ftp::tls::describe(&tls);
        self.note(if resumed { "data TLS session resumed" } else { "data TLS session NOT resumed" });
        if let Some(info) = self.tls_info.as_mut() {
            info.data_resumed.push(resumed);
        }
        Ok(Stream::Tls(Box::new(tls)))
    }

    /// EPSV or PASV (SPEC §4 `passive.epsv`), and where to connect.
    async fn passive_address(&mut self) -> Result<SocketAddr> {
        let peer = self.peer.ok_or(Error::Closed)?;
        let epsv = match self.plan.passive.epsv {
            Toggle::Always => true,
            Toggle::Never => false,
            Toggle::Auto => peer.is_ipv6() || self.server_offers_epsv().await?,
        };
        if epsv {
            let reply = self.control()?.command("EPSV").await?;
            if reply.code == 229 {
                let port = parse_229(reply.text()).map_err(|source| Error::Codec {
                    verb: "EPSV",
                    code: 229,
                    source,
                })?;
                // RFC 2428 §3: the data connection goes to the control connection's peer.
                return Ok(SocketAddr::new(peer.ip(), port));
            }
            let fallback =
                self.plan.passive.epsv == Toggle::Auto && peer.is_ipv4() && (500..=504).contains(&reply.code);
            if !fallback {
                return Err(Error::Unexpected { verb: "EPSV", reply });
            }
            self.note("EPSV refused, falling back to PASV");
        }
        let reply = self.expect("PASV", "PASV", &[227]).await?;
        let advertised = parse_host_port(reply.text()).map_err(|source| Error::Codec {
            verb: "PASV",
            code: 227,
            source,
        })?;
        let advertised = SocketAddr::V4(advertised);
        let mismatch = canonical(advertised.ip()) != canonical(peer.ip());
        self.advertised = Some(advertised);
        self.mismatch = Some(self.mismatch.unwrap_or(false) || mismatch);
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
        self.note(&format!("listening on {bound} for the server's data connection"));
        self.expect(verb, &command, &[200]).await?;
        Ok(listener)
    }

    /// Sends the transfer command and waits for the server to connect back,
    /// reading its replies meanwhile: servers send 150 before or after
    /// connecting, and some refuse with 425 instead of connecting at all.
    async fn accept_data(
        &mut self,
        listener: &ActiveListener,
        verb: &'static str,
        command: &str,
    ) -> Result<TcpStream> {
        let server: IpAddr = self.peer.ok_or(Error::Closed)?.ip();
        let deadline = self.deadline;
        self.control()?.send(command).await?;
        let mut preliminary = false;
        let tcp = loop {
            let control = self.control.as_mut().ok_or(Error::Closed)?;
            tokio::select! {
                accepted = listener.accept_from(server, deadline) => break accepted?,
                reply = control.read_reply(), if !preliminary => {
                    let reply = reply?;
                    match reply.code {
                        125 | 150 => preliminary = true,
                        // 425: the server could not open the data connection.
                        425 => return Err(Error::Unexpected { verb, reply }),
                        _ => {
                            // Refused for another reason (e.g. 550): the command failed,
                            // not the connection.
                            self.enter(Phase::Transfer);
                            return Err(Error::Unexpected { verb, reply });
                        }
                    }
                }
            }
        };
        let peer = tcp.peer_addr().map(|a| a.to_string()).unwrap_or_default();
        self.note(&format!("data connection from {peer}"));
        if !preliminary {
            let reply = self.control()?.read_reply().await?;
            if !matches!(reply.code, 125 | 150) {
                self.enter(Phase::Transfer);
                return Err(Error::Unexpected { verb, reply });
            }
        }
        Ok(tcp)
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
