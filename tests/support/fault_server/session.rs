//! One control connection: read a command, answer it — or misbehave as the
//! script says.

use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::banner::{self, After};
use super::data::{self, DataPlan};
use super::{ActiveFault, Feat, Reaction, Shared, TransferFault};

/// Longest command line accepted; a longer one ends the session, so a
/// misbehaving client cannot grow the buffer without bound.
const MAX_LINE: usize = 4096;

pub(super) async fn run(stream: TcpStream, shared: Arc<Shared>) {
    let mut session = Session {
        stream,
        buf: Vec::new(),
        shared,
        cwd: "/".into(),
        user: None,
        logged_in: false,
        data: None,
    };
    // An I/O error means the client went away: the session simply ends.
    let _ = session.serve().await;
}

/// What happens after a command has been handled.
enum Flow {
    Continue,
    /// Shut the connection down cleanly (after QUIT or a `Close` fault).
    Close,
    /// The session is over (the handler already drained or reset it).
    End,
}

struct Session {
    stream: TcpStream,
    buf: Vec<u8>,
    shared: Arc<Shared>,
    cwd: String,
    user: Option<String>,
    logged_in: bool,
    /// Set by PASV/EPSV/PORT/EPRT, consumed by the next transfer (RFC 959 §3.2).
    data: Option<DataPlan>,
}

impl Session {
    async fn serve(&mut self) -> io::Result<()> {
        tokio::time::sleep(self.shared.script.delays.banner).await;
        match banner::send(&mut self.stream, &self.shared.script.banner).await? {
            After::Serve => {}
            After::Ignore => return self.ignore_rest().await,
            After::Close => return self.stream.shutdown().await,
        }
        while let Some(line) = self.read_line().await? {
            self.shared.record(&line);
            let (verb, arg) = match line.split_once(' ') {
                Some((v, a)) => (v.to_ascii_uppercase(), a.trim().to_string()),
                None => (line.trim().to_ascii_uppercase(), String::new()),
            };
            if let Some(pause) = self.shared.script.delays.verbs.get(&verb) {
                tokio::time::sleep(*pause).await;
            }
            let flow = match self.shared.script.reactions.get(&verb).cloned() {
                Some(Reaction::Reply(text)) => {
                    self.scripted_reply(&text).await?;
                    Flow::Continue
                }
                Some(Reaction::ReplyAfter(pause, text)) => {
                    tokio::time::sleep(pause).await;
                    self.scripted_reply(&text).await?;
                    Flow::Continue
                }
                Some(Reaction::Close) => Flow::Close,
                Some(Reaction::Reset) => {
                    // Closing a socket with a zero linger sends RST instead of FIN.
                    self.stream.set_zero_linger()?;
                    Flow::End
                }
                Some(Reaction::Never) => {
                    self.ignore_rest().await?;
                    Flow::End
                }
                None => self.command(&verb, &arg).await?,
            };
            match flow {
                Flow::Continue => {}
                Flow::Close => return self.stream.shutdown().await,
                Flow::End => return Ok(()),
            }
        }
        Ok(())
    }

    async fn command(&mut self, verb: &str, arg: &str) -> io::Result<Flow> {
        let before_login =
            matches!(verb, "USER" | "PASS" | "ACCT" | "FEAT" | "SYST" | "NOOP" | "OPTS" | "QUIT");
        if !self.logged_in && !before_login {
            self.reply("530 Please login with USER and PASS").await?;
            return Ok(Flow::Continue);
        }
        let script = &self.shared.script;
        let text = match verb {
            "USER" => {
                self.user = Some(arg.to_string());
                self.logged_in = false;
                "331 Password required".to_string()
            }
            "PASS" => {
                self.logged_in = match (&script.credentials, &self.user) {
                    (_, None) => false,
                    (None, Some(_)) => true,
                    (Some((user, password)), Some(given)) => given == user && arg == password,
                };
                if self.logged_in { "230 Logged in" } else { "530 Login incorrect" }.to_string()
            }
            // Only reached when the script made PASS answer 332 (RFC 959 §4.1.1).
            "ACCT" => {
                self.logged_in = self.user.is_some();
                if self.logged_in { "230 Logged in" } else { "503 Login with USER first" }.to_string()
            }
            "FEAT" => match script.feat {
                Feat::Full => "211-Features:\r\n EPRT\r\n EPSV\r\n SIZE\r\n UTF8\r\n211 End".to_string(),
                Feat::WithoutEpsv => "211-Features:\r\n EPRT\r\n SIZE\r\n UTF8\r\n211 End".to_string(),
                Feat::Rejected => "502 Command not implemented".to_string(),
            },
            "SYST" => "215 UNIX Type: L8".to_string(),
            "NOOP" | "TYPE" | "MODE" | "STRU" | "OPTS" => "200 OK".to_string(),
            "PWD" | "XPWD" => format!("257 \"{}\" is the current directory", self.cwd),
            "CWD" | "CDUP" => {
                let dir = if verb == "CDUP" { self.resolve("..") } else { self.resolve(arg) };
                if data::is_dir(&self.shared.files.lock().unwrap(), &dir) {
                    self.cwd = dir;
                    "250 Directory changed".to_string()
                } else {
                    "550 No such directory".to_string()
                }
            }
            "PASV" | "EPSV" => {
                let local = self.stream.local_addr()?.ip();
                let (text, plan) = if verb == "PASV" {
                    data::pasv(local, script.pasv.as_ref()).await
                } else if arg.eq_ignore_ascii_case("ALL") {
                    ("200 EPSV ALL ok".to_string(), None)
                } else {
                    data::epsv(local, script.epsv.as_ref()).await
                };
                if plan.is_some() {
                    self.data = plan;
                }
                text
            }
            "PORT" | "EPRT" => {
                let parsed = if verb == "PORT" { data::parse_port(arg) } else { data::parse_eprt(arg) };
                match parsed {
                    Ok(addr) => {
                        self.data = Some(DataPlan::Active(addr));
                        format!("200 {verb} command successful")
                    }
                    Err(text) => text.to_string(),
                }
            }
            "LIST" | "NLST" | "RETR" | "STOR" => return self.transfer(verb, arg).await,
            "DELE" => {
                let path = self.resolve(arg);
                match self.shared.files.lock().unwrap().remove(&path) {
                    Some(_) => "250 File deleted".to_string(),
                    None => "550 No such file".to_string(),
                }
            }
            "SIZE" => {
                let path = self.resolve(arg);
                match self.shared.files.lock().unwrap().get(&path) {
                    Some(content) => format!("213 {}", content.len()),
                    None => "550 No such file".to_string(),
                }
            }
            "QUIT" => {
                self.reply("221 Goodbye").await?;
                return Ok(Flow::Close);
            }
            _ => "502 Command not implemented".to_string(),
        };
        self.reply(&text).await?;
        Ok(Flow::Continue)
    }

    /// LIST/NLST/RETR/STOR over the data connection prepared by the last
    /// PASV/EPSV/PORT/EPRT: 150, data, close, 226 (RFC 959 §5.4) — or a fault.
    async fn transfer(&mut self, verb: &str, arg: &str) -> io::Result<Flow> {
        let Some(plan) = self.data.take() else {
            self.reply("425 Use PORT, EPRT, PASV or EPSV first").await?;
            return Ok(Flow::Continue);
        };
        let shared = self.shared.clone();
        let script = &shared.script;
        let mut source = None;
        if let (DataPlan::Active(_), Some(fault)) = (&plan, &script.active) {
            match fault {
                ActiveFault::NeverConnect => {
                    self.ignore_rest().await?;
                    return Ok(Flow::End);
                }
                ActiveFault::Refuse => {
                    self.reply("425 Can't open data connection").await?;
                    return Ok(Flow::Continue);
                }
                ActiveFault::FromSource(ip) => source = Some(*ip),
            }
        }
        // LIST takes options (`LIST -la /dir`) that are not part of the path.
        let arg = arg.split(' ').filter(|w| !w.starts_with('-')).collect::<Vec<_>>().join(" ");
        let path = self.resolve(&arg);
        let payload = match self.payload(verb, &path) {
            Ok(payload) => payload,
            Err(text) => {
                self.reply(text).await?;
                return Ok(Flow::Continue);
            }
        };
        let Some(mut conn) = self.open(plan, source).await? else {
            self.reply("425 Can't open data connection").await?;
            return Ok(Flow::Continue);
        };
        let done = match (&script.transfer, payload) {
            (Some(TransferFault::SilentAfter150), _) => {
                // Hold the data connection open, say nothing, until the client leaves.
                self.ignore_rest().await?;
                drop(conn);
                return Ok(Flow::End);
            }
            (Some(TransferFault::Endless), _) => {
                data::endless(&mut conn).await;
                false
            }
            (Some(TransferFault::AbortAfter(n)), payload) => {
                data::abort_after(conn, payload.as_deref(), *n).await;
                false
            }
            (pace, Some(bytes)) => {
                let pace = match pace {
                    Some(TransferFault::Slow { chunk, delay }) => Some((*chunk, *delay)),
                    _ => None,
                };
                data::send(&mut conn, &bytes, pace, script.delays.data_end).await.is_ok()
            }
            (_, None) => match data::receive(&mut conn).await {
                Ok(bytes) => {
                    shared.files.lock().unwrap().insert(path, bytes);
                    true
                }
                Err(_) => false,
            },
        };
        let text = if done { "226 Transfer complete" } else { "426 Connection closed; transfer aborted" };
        self.reply(text).await?;
        Ok(Flow::Continue)
    }

    /// A reply the script chose; a scripted 230 (e.g. to USER, for servers
    /// that need no password) logs the session in like a real one.
    async fn scripted_reply(&mut self, text: &str) -> io::Result<()> {
        if text.starts_with("230") {
            self.logged_in = true;
        }
        self.reply(text).await
    }

    /// What a transfer sends (`None` for STOR, which receives), or the
    /// negative reply that refuses it before any data connection.
    fn payload(&self, verb: &str, path: &str) -> Result<Option<Vec<u8>>, &'static str> {
        let fault = &self.shared.script.transfer;
        if matches!(fault, Some(TransferFault::Unavailable)) {
            return Err("550 No such file");
        }
        let files = self.shared.files.lock().unwrap();
        match verb {
            "LIST" | "NLST" => {
                data::listing(&files, path, verb == "NLST").map(Some).ok_or("550 No such directory")
            }
            "RETR" => match (files.get(path), fault) {
                (Some(content), Some(TransferFault::Corrupt)) => Ok(Some(data::corrupt(content))),
                (Some(content), _) => Ok(Some(content.clone())),
                (None, _) => Err("550 No such file"),
            },
            _ => Ok(None),
        }
    }

    /// Opens the data connection, with its 150; `None` when it cannot be opened.
    /// Active: connect, then 150 (as vsftpd does). Passive: 150, then accept,
    /// which works whether the client connects before or after its command.
    async fn open(&mut self, plan: DataPlan, source: Option<IpAddr>) -> io::Result<Option<TcpStream>> {
        Ok(match plan {
            DataPlan::Active(addr) => {
                tokio::time::sleep(self.shared.script.delays.connect_back).await;
                match data::connect(addr, source).await {
                    Ok(conn) => {
                        self.reply("150 Opening data connection").await?;
                        Some(conn)
                    }
                    Err(_) => None,
                }
            }
            DataPlan::Closed(_) => None,
            DataPlan::Passive(listener) => {
                self.reply("150 Opening data connection").await?;
                data::accept(listener).await.ok()
            }
        })
    }

    async fn reply(&mut self, text: &str) -> io::Result<()> {
        self.stream.write_all(format!("{text}\r\n").as_bytes()).await
    }

    /// Reads one CRLF- (or LF-) terminated line; `None` at end of stream.
    async fn read_line(&mut self) -> io::Result<Option<String>> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line);
                return Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()));
            }
            if self.buf.len() > MAX_LINE {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "command line too long"));
            }
            let mut chunk = [0u8; 1024];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads and records commands without ever answering, until the client leaves.
    async fn ignore_rest(&mut self) -> io::Result<()> {
        while let Some(line) = self.read_line().await? {
            self.shared.record(&line);
        }
        Ok(())
    }

    /// An absolute, normalised path for `arg` relative to the working directory.
    fn resolve(&self, arg: &str) -> String {
        let joined = if arg.starts_with('/') { arg.to_string() } else { format!("{}/{arg}", self.cwd) };
        let mut parts: Vec<&str> = Vec::new();
        for part in joined.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        format!("/{}", parts.join("/"))
    }
}
