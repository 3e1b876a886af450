//! Opening data connections: connect out (passive) or listen and accept the
//! server's connection back (active), and moving bytes over them with bounds.

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::time::{timeout_at, Instant};

use super::error::{Error, Result};

/// Passive mode: connect to the server's data port.
pub async fn connect(addr: SocketAddr, deadline: Instant) -> Result<TcpStream> {
    let stream = timeout_at(deadline, TcpStream::connect(addr)).await.map_err(|_| Error::Timeout)??;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Active mode: a listener waiting for the server to connect back.
pub struct ActiveListener {
    listener: TcpListener,
}

impl ActiveListener {
    /// Binds on `ip`, on a port of `range` when given (operators open exactly
    /// that range in their firewalls), else on any free port.
    ///
    /// The range is tried from a varying start so concurrent checks do not
    /// all collide on its first port.
    pub fn bind(ip: IpAddr, range: Option<&RangeInclusive<u16>>) -> Result<Self> {
        let Some(range) = range else {
            return Ok(ActiveListener { listener: listen(SocketAddr::new(ip, 0))? });
        };
        let len = u32::from(range.end() - range.start()) + 1;
        let offset = start_offset() % len;
        let mut last = None;
        for i in 0..len {
            let port = range.start() + ((offset + i) % len) as u16;
            match listen(SocketAddr::new(ip, port)) {
                Ok(listener) => return Ok(ActiveListener { listener }),
                Err(e) => last = Some(e),
            }
        }
        Err(Error::Local(format!(
            "no free port in active port range {}-{} on {ip}: {}",
            range.start(),
            range.end(),
            last.map(|e| e.to_string()).unwrap_or_default()
        )))
    }

    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Accepts the server's data connection. Only `server` may connect: a
    /// connection from anywhere else is a hijack attempt or a misrouted
    /// connection, and ends the check (`unexpected_peer`) rather than being
    /// read from (docs/security.md).
    pub async fn accept_from(&self, server: IpAddr, deadline: Instant) -> Result<TcpStream> {
        let (stream, peer) =
            timeout_at(deadline, self.listener.accept()).await.map_err(|_| Error::Timeout)??;
        if canonical(peer.ip()) != canonical(server) {
            return Err(Error::UnexpectedPeer { peer, expected: server });
        }
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }
}

fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    // A port of the range whose last data connection we closed first sits in
    // TIME_WAIT for a minute; without SO_REUSEADDR a narrow `port_range`
    // runs dry under steady checks.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1)
}

fn start_offset() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
}

/// IPv4-mapped IPv6 addresses compare equal to their IPv4 form.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Reads until EOF, feeding `sink`, failing past `max` bytes. Returns the byte count.
pub async fn read_all<R: AsyncRead + Unpin>(
    stream: &mut R,
    max: u64,
    deadline: Instant,
    mut sink: impl FnMut(&[u8]),
) -> Result<u64> {
    let mut total = 0u64;
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = timeout_at(deadline, stream.read(&mut chunk)).await.map_err(|_| Error::Timeout)??;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
        if total > max {
            return Err(Error::Content(format!("more than {max} bytes received")));
        }
        sink(&chunk[..n]);
    }
}

/// Writes `len` bytes produced by `fill` (one chunk at a time, so nothing
/// is held whole in memory) and closes the sending side so the server sees EOF.
pub async fn write_generated<W: AsyncWrite + Unpin>(
    stream: &mut W,
    len: u64,
    deadline: Instant,
    mut fill: impl FnMut(&mut [u8]),
) -> Result<()> {
    let mut chunk = vec![0u8; 64 * 1024];
    let io = async {
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            fill(&mut chunk[..n]);
            stream.write_all(&chunk[..n]).await?;
            left -= n as u64;
        }
        stream.shutdown().await
    };
    timeout_at(deadline, io).await.map_err(|_| Error::Timeout)??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn range_bind_skips_busy_ports() {
        // A busy port p whose neighbour p+1 is free (other tests and
        // processes take ports too: look for such a pair).
        let (busy, p) = loop {
            let busy = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let p = busy.local_addr().unwrap().port();
            if p < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
                break (busy, p);
            }
        };
        let range = p..=p + 1;
        let l = ActiveListener::bind("127.0.0.1".parse().unwrap(), Some(&range)).unwrap();
        // The busy port is skipped for the next one in the range.
        assert_eq!(l.local_addr().unwrap().port(), p + 1);
        let only_busy = p..=p;
        assert!(matches!(
            ActiveListener::bind("127.0.0.1".parse().unwrap(), Some(&only_busy)),
            Err(Error::Local(_))
        ));
        drop(busy);
    }

    /// The exporter closes first after a STOR, leaving its data port in
    /// TIME_WAIT; the next check must still be able to listen on it.
    #[tokio::test]
    async fn a_port_in_time_wait_can_listen_again() {
        let probe = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let p = probe.local_addr().unwrap().port();
        drop(probe);
        let range = p..=p;
        for _ in 0..2 {
            let l = ActiveListener::bind("127.0.0.1".parse().unwrap(), Some(&range)).unwrap();
            let client = TcpStream::connect(("127.0.0.1", p)).await.unwrap();
            let deadline = Instant::now() + Duration::from_secs(2);
            let accepted = l.accept_from("127.0.0.1".parse().unwrap(), deadline).await.unwrap();
            drop(accepted); // our side closes first: TIME_WAIT on port p
            drop(l);
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(client);
        }
    }

    #[tokio::test]
    async fn accept_rejects_another_host() {
        let l = ActiveListener::bind("0.0.0.0".parse().unwrap(), None).unwrap();
        let port = l.local_addr().unwrap().port();
        let from = TcpSocket::new_v4().unwrap();
        from.bind("127.0.0.3:0".parse().unwrap()).unwrap();
        let _c = from.connect(SocketAddr::new("127.0.0.1".parse().unwrap(), port)).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        let err = l.accept_from("127.0.0.1".parse().unwrap(), deadline).await.unwrap_err();
        assert!(matches!(err, Error::UnexpectedPeer { .. }), "{err}");
    }

    #[test]
    fn mapped_addresses_are_the_same_host() {
        assert_eq!(canonical("::ffff:127.0.0.1".parse().unwrap()), "127.0.0.1".parse::<IpAddr>().unwrap());
    }
}
