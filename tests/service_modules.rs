//! `/probe?module=M&target=HOST[:PORT]` through the running exporter: a
//! server in the module's `allowed_targets` is checked for real (libunftp,
//! the module's credentials), and every target outside the list — another
//! host, another port, a name that resolves outside, a name that resolves
//! inside first and outside afterwards (DNS rebinding) — is answered 403
//! with not one connection to it, counted by the test's own listeners.
//! Names come from an injected resolver (loopback addresses only), the
//! same one the checks use.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ftp_exporter::app::{App, AppOptions};
use ftp_exporter::check::{Lookup, LookupError, Resolver};
use support::fault_server::{FaultServer, Script};
use support::service::*;

/// Accepts connections on `addr` and counts them: none must arrive.
struct Tripwire {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    _task: tokio::task::JoinHandle<()>,
}

impl Tripwire {
    async fn bind(addr: SocketAddr) -> Tripwire {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                drop(conn);
            }
        });
        Tripwire { addr, accepted, _task: task }
    }

    fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Names to fixed answers; each name's answers in turn (the last one
/// repeats), so a name can resolve inside the list first and outside later.
#[derive(Default)]
struct Names {
    answers: HashMap<String, Vec<Vec<SocketAddr>>>,
    asked: Mutex<HashMap<String, usize>>,
}

impl Names {
    fn add(&mut self, name: &str, answers: Vec<Vec<SocketAddr>>) {
        self.answers.insert(name.to_string(), answers);
    }

    fn asked(&self, name: &str) -> usize {
        self.asked.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}

impl Resolver for Names {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> Lookup<'a> {
        let n = {
            let mut asked = self.asked.lock().unwrap();
            let n = asked.entry(host.to_string()).or_insert(0);
            *n += 1;
            *n - 1
        };
        let found = match self.answers.get(host) {
            Some(answers) => {
                let addrs = &answers[n.min(answers.len() - 1)];
                Ok(addrs.iter().map(|a| SocketAddr::new(a.ip(), port)).collect())
            }
            None => Err(LookupError::NotFound("NXDOMAIN".into())),
        };
        Box::pin(async move { found })
    }
}

fn at(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_probes_its_allowed_targets_and_connects_nowhere_else() {
    let ftp = Ftp::start().await;
    let port = ftp.addr().port();
    // Outside the list: the same port on another loopback address, another
    // port on the server's address, and the address names resolve outside to.
    let other_host = Tripwire::bind(at("127.0.0.2", port)).await;
    let other_port = Tripwire::bind(at("127.0.0.1", 0)).await;
    let slow = FaultServer::start(Script::new().banner_delay(Duration::from_millis(1500))).await;

    let mut names = Names::default();
    names.add("listed.test", vec![vec![at("127.0.0.1", 0)]]);
    names.add("inside.test", vec![vec![at("127.0.0.1", 0)]]);
    names.add("outside.test", vec![vec![at("127.0.0.2", 0)]]);
    names.add("mixed.test", vec![vec![at("127.0.0.1", 0), at("127.0.0.2", 0)]]);
    names.add("rebind.test", vec![vec![at("127.0.0.1", 0)], vec![at("127.0.0.2", 0)]]);
    names.add("slow.test", vec![vec![at("127.0.0.1", 0)]]);
    let names = Arc::new(names);

    let config = ftp.write_config(&format!(
        "targets:
  - name: configured
    address: FTP_ADDR
    username: monitor
    password_file: good.pw
    modes: [passive]
modules:
  lab:
    modes: [passive]
    username: monitor
    password_file: good.pw
    timeout: 5s
    allowed_targets: [\"127.0.0.1:{port}\", \"listed.test:{port}\", \"127.0.0.1:{slow}\"]
  closed:
    username: monitor
    password_file: good.pw
",
        slow = slow.port()
    ));
    let mut opts = AppOptions::new(&config);
    opts.listen_address = "127.0.0.1:0".into();
    opts.resolver = Some(names.clone());
    opts.max_probes = 2;
    let app = App::start(opts).await.unwrap();
    let addr = app.addr();
    let probe = |module: &str, target: &str| format!("/probe?module={module}&target={target}");

    // Inside the list: by address, by a listed name, by a name resolving inside.
    for target in [format!("127.0.0.1:{port}"), format!("listed.test:{port}"), format!("inside.test:{port}")]
    {
        let (status, body) = get(addr, &probe("lab", &target)).await;
        assert_eq!(status, 200, "{target}: {body}");
        let s = parse(&body);
        assert_eq!(value(&s, "ftp_up", &[("mode", "passive"), ("target", &target)]), 1.0, "{body}");
        assert_eq!(value(&s, "ftp_target_cleartext_credentials", &[("target", &target)]), 1.0, "{body}");
        assert!(!body.contains(PASSWORD));
    }
    let (status, body) =
        get(addr, &format!("{}&debug=true", probe("lab", &format!("listed.test:{port}")))).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("resolved listed.test to 127.0.0.1 (resolved before the check"), "{body}");
    assert!(body.contains("PASS ****") && !body.contains(PASSWORD), "{body}");

    // Outside the list: 403 naming the module, and no connection.
    let op = other_port.addr.port();
    let refused: [(&str, String, String); 8] = [
        ("lab", format!("127.0.0.2:{port}"), "is not in allowed_targets".into()),
        ("lab", format!("127.0.0.1:{op}"), "is not in allowed_targets".into()),
        ("lab", format!("outside.test:{port}"), format!("resolves to 127.0.0.2:{port}, which is not")),
        ("lab", format!("mixed.test:{port}"), format!("resolves to 127.0.0.2:{port}")),
        ("lab", format!("listed.test:{op}"), "is not in allowed_targets".into()),
        ("lab", "127.0.0.1".into(), "allows port 21 only".into()),
        ("closed", format!("127.0.0.1:{port}"), "module \"closed\" has no allowed_targets".into()),
        ("closed", format!("127.0.0.2:{port}"), "has no allowed_targets".into()),
    ];
    for (module, target, says) in &refused {
        let (status, body) = get(addr, &probe(module, target)).await;
        assert_eq!(status, 403, "{module} {target}: {body}");
        assert!(
            body.contains(&format!("module \"{module}\"")) && body.contains(says.as_str()),
            "{target}: {body}"
        );
        assert!(body.contains("no connection was made") || *module == "closed", "{body}");
        assert!(!body.contains(PASSWORD));
    }
    assert_eq!(names.asked("outside.test"), 1, "resolved once, with the checks' resolver");

    // DNS rebinding: inside at the check of the list, outside afterwards.
    // The check connects to the address that was checked and does not ask again.
    let rebind = probe("lab", &format!("rebind.test:{port}"));
    let (status, body) = get(addr, &rebind).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        value(&parse(&body), "ftp_up", &[("mode", "passive"), ("target", &format!("rebind.test:{port}"))]),
        1.0
    );
    assert_eq!(names.asked("rebind.test"), 1, "the check did not resolve the name again");
    let (status, body) = get(addr, &rebind).await;
    assert_eq!(status, 403, "now it resolves outside: {body}");
    assert_eq!(
        (other_host.connections(), other_port.connections()),
        (0, 0),
        "a connection went outside the list"
    );

    // Bad requests.
    for (path, status, says) in [
        ("/probe?module=nope&target=127.0.0.1".to_string(), 404, "unknown module \"nope\""),
        ("/probe?module=lab".to_string(), 400, "/probe?module=M&target=HOST[:PORT]"),
        ("/probe?module=lab&target=::1".to_string(), 400, "need brackets"),
        (
            format!("{}&mode=active", probe("lab", &format!("127.0.0.1:{port}"))),
            400,
            "module \"lab\" is not configured for active mode",
        ),
    ] {
        let (got, body) = get(addr, &path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(body.contains(says), "{path}: {body}");
    }

    // One probe per module and target at a time; the probe budget (2) is
    // shared with probes of configured targets.
    let slow_a = format!("127.0.0.1:{}", slow.port());
    let spawn_get = |path: String| tokio::spawn(async move { get(addr, &path).await });
    let first = spawn_get(probe("lab", &slow_a));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = get(addr, &probe("lab", &slow_a)).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body.contains(&format!("a probe of \"{slow_a}\" with module \"lab\" is already running")),
        "{body}"
    );
    // The same address written another way is the same target.
    let (status, body) = get(addr, &probe("lab", &format!("[::ffff:127.0.0.1]:{}", slow.port()))).await;
    assert_eq!(status, 429, "{body}");
    let second = spawn_get(probe("lab", &format!("slow.test:{}", slow.port())));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = get(addr, "/probe?target=configured").await;
    assert_eq!(status, 503, "both probe slots are taken by module probes: {body}");
    for task in [first, second] {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("ftp_up{mode=\"passive\",target="), "{body}");
    }

    // Nothing of the module probes is kept: /metrics lists the configured target only.
    let s = parse(&scrape(addr).await);
    assert_eq!(value(&s, "ftp_exporter_targets", &[]), 1.0);
    let targets: std::collections::BTreeSet<&str> = s.iter().filter_map(|x| x.label("target")).collect();
    assert_eq!(
        targets.into_iter().collect::<Vec<_>>(),
        ["configured"],
        "module targets leaked into /metrics"
    );
    let (_, page) = get(addr, "/").await;
    assert!(!page.contains("listed.test"), "module targets leaked into the status page");
    app.shutdown(Duration::from_secs(5)).await;
}
