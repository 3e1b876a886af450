//! Data connections: the PASV/EPSV/PORT/EPRT codecs (RFC 959 §4.1.2,
//! RFC 2428), opening the connection in either direction, and moving bytes.
//!
//! Written independently of `src/ftp/address.rs` on purpose: the fault server
//! is the oracle the client's codecs are tested against.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::time::timeout;

use super::{EpsvFault, PasvFault};

/// How long a passive listener waits for the client; bounded so a session
/// whose client never connects still ends.
const ACCEPT_WAIT: Duration = Duration::from_secs(10);
/// How long an active-mode connect back may take.
const CONNECT_WAIT: Duration = Duration::from_secs(5);
/// How long STOR waits for the client to finish sending.
const RECEIVE_WAIT: Duration = Duration::from_secs(30);
/// Largest STOR kept.
const MAX_STORE: u64 = 64 * 1024 * 1024;

/// Where the next transfer's data connection comes from.
pub(super) enum DataPlan {
    /// The client connects to this listener (PASV/EPSV).
    Passive(TcpListener),
    /// The server connects to this address (PORT/EPRT).
    Active(SocketAddr),
    /// The advertised port has nothing listening (a `ClosedPort` fault).
    Closed(TcpSocket),
}

/// Answers PASV; returns the reply text and, unless the fault says
/// otherwise, the listener the client should reach.
pub(super) async fn pasv(local: IpAddr, fault: Option<&PasvFault>) -> (String, Option<DataPlan>) {
    let IpAddr::V4(local_v4) = local else {
        // PASV can only carry an IPv4 address (RFC 2428 §1); pure-ftpd says the same.
        return ("425 PASV is IPv4 only, use EPSV".to_string(), None);
    };
    match fault {
        Some(PasvFault::Malformed(text)) => (text.clone(), None),
        Some(PasvFault::ClosedPort) => {
            let reserved = closed_port(local);
            (pasv_text(local_v4, reserved.1), Some(DataPlan::Closed(reserved.0)))
        }
        Some(PasvFault::Advertise(ip)) => {
            let listener = listen(local).await;
            (pasv_text(*ip, port_of(&listener)), Some(DataPlan::Passive(listener)))
        }
        None => {
            let listener = listen(local).await;
            (pasv_text(local_v4, port_of(&listener)), Some(DataPlan::Passive(listener)))
        }
    }
}

/// Answers EPSV (RFC 2428 §3): the port only, the address is the control peer's.
pub(super) async fn epsv(local: IpAddr, fault: Option<&EpsvFault>) -> (String, Option<DataPlan>) {
    match fault {
        Some(EpsvFault::Malformed(text)) => (text.clone(), None),
        Some(EpsvFault::ClosedPort) => {
            let reserved = closed_port(local);
            (epsv_text(reserved.1), Some(DataPlan::Closed(reserved.0)))
        }
        None => {
            let listener = listen(local).await;
            (epsv_text(port_of(&listener)), Some(DataPlan::Passive(listener)))
        }
    }
}

fn pasv_text(ip: Ipv4Addr, port: u16) -> String {
    let [h1, h2, h3, h4] = ip.octets();
    format!("227 Entering Passive Mode ({h1},{h2},{h3},{h4},{},{})", port >> 8, port & 0xff)
}

fn epsv_text(port: u16) -> String {
    format!("229 Entering Extended Passive Mode (|||{port}|)")
}

async fn listen(ip: IpAddr) -> TcpListener {
    TcpListener::bind(SocketAddr::new(ip, 0)).await.expect("fault server: bind a passive listener")
}

fn port_of(listener: &TcpListener) -> u16 {
    listener.local_addr().expect("fault server: passive listener address").port()
}

/// A port where nothing listens, held (bound, never listening) so that no
/// other test's listener can take it while the client tries it: a SYN to it
/// is answered with RST.
fn closed_port(ip: IpAddr) -> (TcpSocket, u16) {
    let socket = if ip.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() };
    let socket = socket.expect("fault server: a socket for a closed port");
    socket.bind(SocketAddr::new(ip, 0)).expect("fault server: reserve a closed port");
    let port = socket.local_addr().expect("fault server: closed port address").port();
    (socket, port)
}

/// `PORT h1,h2,h3,h4,p1,p2` (RFC 959 §4.1.2): port = p1 * 256 + p2.
pub(super) fn parse_port(arg: &str) -> Result<SocketAddr, &'static str> {
    let numbers: Vec<u8> =
        arg.split(',').map(|n| n.trim().parse::<u8>()).collect::<Result<_, _>>().map_err(|_| SYNTAX)?;
    let [h1, h2, h3, h4, p1, p2] = numbers[..] else { return Err(SYNTAX) };
    Ok(SocketAddr::from((Ipv4Addr::new(h1, h2, h3, h4), u16::from(p1) * 256 + u16::from(p2))))
}

/// `EPRT |1|132.235.1.2|6275|` or `EPRT |2|::1|5282|` (RFC 2428 §2); the
/// delimiter is whatever the first character is.
pub(super) fn parse_eprt(arg: &str) -> Result<SocketAddr, &'static str> {
    let delimiter = arg.chars().next().ok_or(SYNTAX)?;
    let fields: Vec<&str> = arg.split(delimiter).collect();
    let ["", proto, addr, port, ""] = fields[..] else { return Err(SYNTAX) };
    let ip: IpAddr = match proto {
        "1" => addr.parse::<Ipv4Addr>().map_err(|_| SYNTAX)?.into(),
        "2" => addr.parse::<std::net::Ipv6Addr>().map_err(|_| SYNTAX)?.into(),
        _ => return Err("522 Network protocol not supported, use (1,2)"),
    };
    Ok(SocketAddr::new(ip, port.parse().map_err(|_| SYNTAX)?))
}

const SYNTAX: &str = "501 Syntax error in parameters or arguments";

/// The server's side of an active-mode data connection, optionally from a
/// chosen source address.
pub(super) async fn connect(addr: SocketAddr, source: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    timeout(CONNECT_WAIT, socket.connect(addr)).await.map_err(|_| io::ErrorKind::TimedOut)?
}

pub(super) async fn accept(listener: TcpListener) -> io::Result<TcpStream> {
    let (conn, _) = timeout(ACCEPT_WAIT, listener.accept()).await.map_err(|_| io::ErrorKind::TimedOut)??;
    Ok(conn)
}

/// Sends `bytes`, waits `hold` and closes; with `pace`, `chunk` bytes per `delay`.
pub(super) async fn send(
    conn: &mut TcpStream,
    bytes: &[u8],
    pace: Option<(usize, Duration)>,
    hold: Duration,
) -> io::Result<()> {
    match pace {
        None => conn.write_all(bytes).await?,
        Some((chunk, delay)) => {
            conn.set_nodelay(true)?;
            for piece in bytes.chunks(chunk.max(1)) {
                conn.write_all(piece).await?;
                tokio::time::sleep(delay).await;
            }
        }
    }
    conn.flush().await?;
    tokio::time::sleep(hold).await;
    conn.shutdown().await
}

/// Reads until the client closes (end of a STOR), bounded in size and time.
pub(super) async fn receive(conn: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut limited = (&mut *conn).take(MAX_STORE);
    timeout(RECEIVE_WAIT, limited.read_to_end(&mut bytes)).await.map_err(|_| io::ErrorKind::TimedOut)??;
    Ok(bytes)
}

/// Streams listing lines until a write fails (the client closed), pausing
/// briefly every few MiB so a client that keeps reading costs little CPU.
pub(super) async fn endless(conn: &mut TcpStream) {
    let line = "-rw-r--r--    1 ftp      ftp          4096 Jan 01 00:00 again-and-again.txt\r\n";
    let chunk = line.repeat(64 * 1024 / line.len());
    loop {
        for _ in 0..64 {
            if conn.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Moves at most `n` bytes (sends them, or reads them for STOR), then drops
/// the connection mid-transfer.
pub(super) async fn abort_after(mut conn: TcpStream, payload: Option<&[u8]>, n: usize) {
    match payload {
        Some(bytes) => {
            let _ = conn.write_all(&bytes[..n.min(bytes.len())]).await;
        }
        None => {
            let mut sink = Vec::new();
            let _ = timeout(RECEIVE_WAIT, (&mut conn).take(n as u64).read_to_end(&mut sink)).await;
        }
    }
}

/// Same length, different bytes: only a content check can tell.
pub(super) fn corrupt(content: &[u8]) -> Vec<u8> {
    if content.is_empty() {
        return b"corrupt".to_vec();
    }
    content.iter().map(|b| b ^ 0x55).collect()
}

pub(super) fn is_dir(files: &BTreeMap<String, Vec<u8>>, dir: &str) -> bool {
    dir == "/" || files.keys().any(|k| k.starts_with(&format!("{dir}/")))
}

/// A Unix-style listing (as `ls -l` prints, what most servers send) of a
/// directory or a single file; `None` when the path does not exist.
pub(super) fn listing(files: &BTreeMap<String, Vec<u8>>, path: &str, names_only: bool) -> Option<Vec<u8>> {
    let mut entries: BTreeMap<String, Option<usize>> = BTreeMap::new();
    if let Some(content) = files.get(path) {
        entries.insert(path.rsplit('/').next().unwrap_or(path).to_string(), Some(content.len()));
    } else {
        if !is_dir(files, path) {
            return None;
        }
        let prefix = if path == "/" { "/".to_string() } else { format!("{path}/") };
        for (key, content) in files {
            if let Some(rest) = key.strip_prefix(&prefix) {
                match rest.split_once('/') {
                    Some((dir, _)) => {
                        entries.entry(dir.to_string()).or_insert(None);
                    }
                    None => {
                        entries.insert(rest.to_string(), Some(content.len()));
                    }
                }
            }
        }
    }
    let mut out = String::new();
    for (name, size) in entries {
        match (names_only, size) {
            (true, _) => out.push_str(&format!("{name}\r\n")),
            (false, Some(size)) => {
                out.push_str(&format!("-rw-r--r--    1 ftp      ftp      {size:>8} Jan 01 00:00 {name}\r\n"))
            }
            (false, None) => {
                out.push_str(&format!("drwxr-xr-x    2 ftp      ftp             0 Jan 01 00:00 {name}\r\n"))
            }
        }
    }
    Some(out.into_bytes())
}
