//! A server child process: its own process group (so the per-session
//! processes vsftpd, ProFTPD and Pure-FTPd fork die with it), output in log
//! files, readiness by polling the port (no fixed sleeps: startup is the
//! bulk of a test's time on 2 cores).

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TlsMode;

/// A port that was free a moment ago (the caller retries if it is taken by then).
pub fn free_port(ip: IpAddr) -> u16 {
    TcpListener::bind((ip, 0)).unwrap().local_addr().unwrap().port()
}

pub struct ServerProcess {
    name: &'static str,
    child: Option<Child>,
    dir: PathBuf,
}

impl ServerProcess {
    /// Spawns `command` with stdout/stderr in `dir/<name>.out.log`.
    pub fn spawn(name: &'static str, mut command: Command, dir: &Path) -> ServerProcess {
        let out = fs::File::create(dir.join(format!("{name}.out.log"))).unwrap();
        command
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .current_dir(dir)
            .process_group(0);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {name} ({:?}): {e}", command.get_program()));
        ServerProcess { name, child: Some(child), dir: dir.to_path_buf() }
    }

    /// Polls until the server accepts on `addr` and (without implicit TLS)
    /// sends a 220 line; fails early when the process exits.
    pub fn wait_ready(&mut self, addr: SocketAddr, tls: TlsMode, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        let mut last = String::from("never connected");
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait().unwrap() {
                    return Err(format!("{} exited during startup: {status}", self.name));
                }
            }
            match TcpStream::connect(addr) {
                Ok(stream) if tls == TlsMode::Implicit => {
                    drop(stream);
                    return Ok(());
                }
                Ok(stream) => match read_banner(&stream) {
                    Ok(line) if line.starts_with("220") => {
                        let _ = (&stream).write_all(b"QUIT\r\n");
                        return Ok(());
                    }
                    Ok(line) => last = format!("banner {line:?}"),
                    Err(e) => last = format!("reading banner: {e}"),
                },
                Err(e) => last = format!("connect: {e}"),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("{} not ready on {addr} within {limit:?}: {last}", self.name))
    }

    /// The content of every `*.log` file in the server's directory.
    pub fn log(&self) -> String {
        let mut files: Vec<PathBuf> = fs::read_dir(&self.dir)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "log"));
        files.sort();
        let mut out = String::new();
        for f in files {
            let text = fs::read_to_string(&f).unwrap_or_else(|e| format!("(unreadable: {e})"));
            out.push_str(&format!("==> {} <==\n{text}\n", f.file_name().unwrap().to_string_lossy()));
        }
        out
    }

    /// SIGKILL to the whole process group (the listener and its sessions).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pgid = child.id();
            // kill(1) addresses the group we created in spawn(); std has no killpg.
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pgid}")]).status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn read_banner(stream: &TcpStream) -> std::io::Result<String> {
    stream.set_read_timeout(Some(Duration::from_millis(500)))?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    Ok(line.trim_end().to_string())
}
