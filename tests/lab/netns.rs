//! Named network namespaces (`ip netns`) owned by one test process.
//!
//! Names carry the owning process id (`fxlab-<pid>-<n>-<role>`) so that two test
//! runs on one machine (the lead's and a helper's, or CI next to a developer)
//! never share a namespace, and so that a run can recognise and remove what a
//! crashed earlier run left behind: a namespace whose pid is gone is stale.
//! Nothing here touches the host's own network: veths are created inside a
//! namespace with their peer placed directly in another one.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Command, Output, Stdio};

/// Every namespace this harness creates starts with this.
pub const PREFIX: &str = "fxlab-";

/// One named network namespace.
#[derive(Debug, Clone)]
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// `fxlab-<our pid>-<lab>-<role>`: `lab` counts the labs this process
    /// built, so a lab's names are never reused by the next one.
    pub fn for_role(lab: u32, role: &str) -> Netns {
        Netns { name: format!("{PREFIX}{}-{lab}-{role}", std::process::id()) }
    }

    /// Creates the namespace and brings its loopback up.
    pub fn create(&self) {
        run(Command::new("ip").args(["netns", "add", &self.name]));
        self.ip(&["link", "set", "lo", "up"]);
    }

    /// `ip -n <ns> <args>`; panics with ip's message when it fails.
    pub fn ip(&self, args: &[&str]) {
        run(Command::new("ip").arg("-n").arg(&self.name).args(args));
    }

    /// A command that runs `program args` inside the namespace
    /// (`ip netns exec <ns> program args`), for the caller to adjust and run.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }

    /// Runs a command inside the namespace to completion and returns what it printed.
    pub fn exec(&self, program: &str, args: &[&str]) -> Output {
        self.command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot start `ip netns exec {} {program}`: {e}", self.name))
    }

    /// Like [`Netns::exec`] but panics unless the command succeeds.
    pub fn exec_ok(&self, program: &str, args: &[&str]) -> Output {
        let out = self.exec(program, args);
        assert!(
            out.status.success(),
            "`{program} {}` in {} failed ({}): {}",
            args.join(" "),
            self.name,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Writes a per-namespace sysctl (e.g. `net/ipv4/ip_forward`): /proc/sys/net
    /// shows the network namespace of the process reading it.
    pub fn sysctl(&self, key: &str, value: &str) {
        self.exec_ok("sh", &["-c", &format!("echo {value} > /proc/sys/{key}")]);
    }

    /// Loads an nftables ruleset (`nft -f -`) into this namespace only.
    pub fn nft(&self, ruleset: &str) {
        use std::io::Write;
        let mut child = self
            .command("nft")
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run nft (apt-get install nftables): {e}"));
        child.stdin.take().unwrap().write_all(ruleset.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "nft in {} refused the ruleset: {}\n{ruleset}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs `f` on a fresh thread whose network namespace is this one, so that
    /// sockets `f` opens live inside the lab (setns(2) changes only the
    /// calling thread).
    pub fn run_inside<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = File::open(&path).unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
            // SAFETY: setns on a valid namespace fd; it only affects this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns({path}): {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    }

    /// Ids of the processes running in the namespace.
    pub fn pids(&self) -> Vec<i32> {
        let out = Command::new("ip").args(["netns", "pids", &self.name]).output();
        match out {
            Ok(out) => String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Writes `/etc/netns/<ns>/<file>` (e.g. `hosts`, `resolv.conf`), which
    /// `ip netns exec` bind-mounts over `/etc/<file>` for what it runs: a
    /// name resolves differently inside the lab, and nowhere else.
    pub fn etc_file(&self, file: &str, text: &str) {
        let dir = etc_dir(&self.name);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let path = dir.join(file);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }

    /// Kills what still runs inside and deletes the namespace (which deletes
    /// its veths, and with them their peers) and its `/etc/netns` files.
    /// Never panics: it runs from Drop.
    pub fn destroy(&self) {
        for pid in self.pids() {
            // SAFETY: plain kill(2) of a process inside our own namespace.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = Command::new("ip").args(["netns", "del", &self.name]).stderr(Stdio::null()).status();
        let _ = std::fs::remove_dir_all(etc_dir(&self.name));
    }
}

/// Removes `fxlab-<pid>-*` namespaces whose process is gone (a run that was
/// killed before its Drop ran), and any of our own pid (a test that panicked
/// while building). Namespaces of other live runs are left alone.
pub fn remove_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else { return };
    let me = std::process::id().to_string();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else { continue };
        let Some(rest) = name.strip_prefix(PREFIX) else { continue };
        let Some(pid) = rest.split('-').next() else { continue };
        let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
        if pid == me || !alive || pid.parse::<u32>().is_err() {
            Netns { name: name.to_string() }.destroy();
        }
    }
    // /etc/netns files of namespaces already gone.
    let Ok(dirs) = std::fs::read_dir("/etc/netns") else { return };
    for d in dirs.flatten() {
        let name = d.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(PREFIX).and_then(|r| r.split('-').next()) else { continue };
        if pid == me || !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(d.path());
        }
    }
}

fn etc_dir(name: &str) -> std::path::PathBuf {
    std::path::Path::new("/etc/netns").join(name)
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?} (is iproute2 installed?): {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}
