//! `modules:` and the cleartext-password rules of the configuration file:
//! what a module may and may not say (each refusal naming file, line and
//! key), what its allow list admits, and `--config.require-tls`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Once;

use ftp_exporter::config::{Admission, Config, ConfigError, Policy};

/// The only variable these tests read; set once, before any parse, never changed.
const PW_VAR: &str = "CFG_MODULES_TEST_PW";

fn parse_with(text: &str, policy: Policy) -> Result<Config, ConfigError> {
    static SET: Once = Once::new();
    SET.call_once(|| std::env::set_var(PW_VAR, "module-secret-4d1"));
    Config::parse_with(text, Path::new("m.yml"), "host", policy)
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    parse_with(text, Policy::default())
}

const TARGET: &str = "targets:\n  - { name: t, address: 127.0.0.1 }\n";

#[test]
fn module_mistakes_name_file_line_and_key() {
    let cases: Vec<(String, &str)> = vec![
        (
            format!("{TARGET}modules:\n  m:\n    allowed_targets: [\"127.0.0.0/33\"]\n"),
            "m.yml:5: modules.m.allowed_targets[0]: invalid allowed target \"127.0.0.0/33\": prefix length \"33\" \
             is not a number from 0 to 32",
        ),
        (
            format!("{TARGET}modules:\n  m:\n    allowed_targets:\n      - 127.0.0.1\n      - 10.1.0.0/8\n"),
            "m.yml:7: modules.m.allowed_targets[1]: invalid allowed target \"10.1.0.0/8\": 10.1.0.0 has bits set \
             past /8; the network is 10.0.0.0/8",
        ),
        (
            format!("{TARGET}modules:\n  m:\n    allowed_targets:\n      - ftp.example.com:0\n"),
            "m.yml:6: modules.m.allowed_targets[0]: invalid allowed target \"ftp.example.com:0\": port \"0\" is \
             not a number from 1 to 65535",
        ),
        (
            format!("{TARGET}modules:\n  m:\n    allowed_targets: [\"2001:db8::/32\"]\n"),
            "m.yml:5: modules.m.allowed_targets[0]: invalid allowed target \"2001:db8::/32\": IPv6 addresses need \
             brackets",
        ),
        (
            format!("{TARGET}modules:\n  m:\n    username: u\n    password: \"inline\"\n"),
            "m.yml:6: modules.m.password: a module's password cannot be written in the file; use password_env or \
             password_file",
        ),
        (
            format!("{TARGET}modules:\n  m:\n    username: u\n"),
            "m.yml:5: modules.m.username: user \"u\" has no password; set password_env or password_file",
        ),
        (
            format!("{TARGET}modules:\n  m:\n    address: 127.0.0.1\n"),
            "m.yml:5: modules.m.address: not allowed in a module: a module has no address",
        ),
        (
            format!("{TARGET}modules:\n  m:\n    interval: 30s\n"),
            "m.yml:5: modules.m.interval: not allowed in a module: a module runs when Prometheus scrapes",
        ),
        (
            format!("{TARGET}modules:\n  m:\n    name: x\n"),
            "m.yml:5: modules.m.name: not allowed in a module: a module is named by its key",
        ),
        (
            format!("{TARGET}modules:\n  m:\n    passive: {{ trust_advertised_address: true }}\n"),
            "m.yml:5: modules.m.passive.trust_advertised_address: not allowed in a module",
        ),
        (
            format!("{TARGET}modules:\n  m:\n    modes: [pasive]\n"),
            "m.yml:5: modules.m.modes: unknown mode \"pasive\"",
        ),
        (
            format!("{TARGET}modules:\n  m:\n    timeout: 5s\n  n: {{}}\n  m:\n    timeout: 6s\n"),
            "m.yml:7: modules.m: `m` is set twice",
        ),
        (
            "targets:\n  - name: t\n    address: h\n    allowed_targets: [h]\n".to_string(),
            "m.yml:4: targets[0].allowed_targets: only a module (under `modules:`) has allowed_targets",
        ),
        (
            format!("defaults:\n  allowed_targets: [h]\n{TARGET}"),
            "m.yml:2: defaults.allowed_targets: only a module (under `modules:`) has allowed_targets",
        ),
    ];
    let mut failures = Vec::new();
    for (text, want) in &cases {
        match parse(text) {
            Ok(_) => failures.push(format!("accepted:\n{text}")),
            Err(e) if !e.to_string().starts_with(want) => {
                failures.push(format!("for:\n{text}got:  {e}\nwant: {want}…"))
            }
            Err(_) => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

const MODULES: &str = "targets:\n  - { name: t, address: 127.0.0.1 }
modules:
  partner_list:
    modes: [passive]
    username: monitor
    password_env: CFG_MODULES_TEST_PW
    tls: explicit
    timeout: 20s
    check: { list: / }
    allowed_targets: [\"198.51.100.0/24\", \"ftp.example.com:21\", \"[2001:db8::]/32:2121\", \"192.0.2.9:2121\"]
  closed:
    tls: implicit
";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn a_module_takes_a_targets_keys_without_defaults_and_admits_only_its_list() {
    let text = format!("defaults: {{ username: d, password_env: {PW_VAR}, timeout: 3s }}\n{MODULES}");
    let c = parse(&text).unwrap();
    assert_eq!(c.modules.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["partner_list", "closed"]);
    let m = &c.modules[0];
    assert_eq!(
        m.timeout(),
        std::time::Duration::from_secs(20),
        "longer than the default interval: no interval"
    );
    assert_eq!(m.modes(), [ftp_exporter::check::Mode::Passive]);
    assert!(!m.cleartext_credentials(), "explicit TLS");

    // The target a probe checks: the module's settings at the given address, named as given.
    let t = m.parse_target("FTP.example.com").unwrap();
    assert_eq!((t.host.as_str(), t.port), ("ftp.example.com", 21));
    let target = m.target(&t);
    assert_eq!((target.name.as_str(), target.address.as_str()), ("FTP.example.com", "FTP.example.com"));
    assert_eq!((target.username.as_str(), target.password.expose()), ("monitor", "module-secret-4d1"));
    assert_eq!(target.check.list.as_deref(), Some("/"));

    let verdict = |s: &str| m.admission(&m.parse_target(s).unwrap());
    assert_eq!(verdict("ftp.example.com"), Admission::Name);
    assert_eq!(verdict("ftp.example.com:21"), Admission::Name);
    assert_eq!(verdict("198.51.100.7"), Admission::Address);
    assert_eq!(verdict("[2001:db8::21]:2121"), Admission::Address);
    assert_eq!(verdict("192.0.2.9:2121"), Admission::Address);
    // A name not in the list, on a port a network allows: only if it resolves inside.
    assert_eq!(verdict("other.example.com"), Admission::ResolveAndCheck);
    assert_eq!(
        verdict("other.example.com:2121"),
        Admission::ResolveAndCheck,
        "[2001:db8::]/32:2121 may hold it"
    );
    assert!(m.admits_address(addr("198.51.100.200:21")));
    assert!(!m.admits_address(addr("198.51.101.1:21")));
    for refused in [
        "ftp.example.com:2122",  // other port
        "198.51.100.7:2121",     // other port
        "203.0.113.9",           // other host
        "[2001:db8::21]",        // port 21 not allowed there
        "192.0.2.9",             // the entry is for port 2121
        "other.example.com:990", // no entry for 990
    ] {
        let v = verdict(refused);
        let Admission::Refused(why) = v else { panic!("{refused}: {v:?}") };
        assert!(
            why.contains(&format!("module \"partner_list\" does not allow target \"{refused}\"")),
            "{why}"
        );
        assert!(why.contains("no connection was made"), "{why}");
    }
    assert!(m.parse_target("ftp://x").unwrap_err().contains("not a URL"));
    assert!(m.parse_target("::1").unwrap_err().contains("brackets"));

    // No allowed_targets: nothing is admitted, and the message says why.
    let closed = &c.modules[1];
    assert_eq!(closed.default_port(), 990);
    let Admission::Refused(why) = closed.admission(&closed.parse_target("127.0.0.1").unwrap()) else {
        panic!("admitted")
    };
    assert!(why.contains("module \"closed\" has no allowed_targets"), "{why}");
}

#[test]
fn require_tls_refuses_a_cleartext_password_naming_file_line_key_and_target() {
    let text = format!(
        "targets:\n  - name: anon\n    address: 127.0.0.1\n  - name: ftps\n    address: 127.0.0.1\n    \
         username: u\n    password_env: {PW_VAR}\n    tls: explicit\n  - name: plain\n    address: 127.0.0.1\n    \
         username: u\n    password_env: {PW_VAR}\n"
    );
    let c = parse(&text).unwrap();
    let flagged: Vec<bool> = c.targets.iter().map(|t| t.cleartext_credentials()).collect();
    assert_eq!(flagged, [false, false, true], "anonymous and FTPS are not flagged");
    let require = Policy { require_tls: true };
    let e = parse_with(&text, require).unwrap_err().to_string();
    assert_eq!(
        e,
        "m.yml:12: targets[2].password_env: target \"plain\" would send the password of user \"u\" in clear \
         (tls: none), which --config.require-tls refuses; set tls: explicit (or implicit)"
    );
    assert!(!e.contains("module-secret-4d1"));
    // `tls: none` written (here in defaults): the error points at it.
    let text = format!("defaults:\n  tls: none\ntargets:\n  - {{ name: p, address: h, username: u, password_env: {PW_VAR} }}\n");
    let e = parse_with(&text, require).unwrap_err().to_string();
    assert!(e.starts_with("m.yml:2: defaults.tls: target \"p\" would send"), "{e}");
    assert!(e.ends_with("(for targets[0] \"p\")"), "{e}");
    // A module too; anonymous logins pass.
    let text = format!("{TARGET}modules:\n  m:\n    username: u\n    password_env: {PW_VAR}\n");
    let e = parse_with(&text, require).unwrap_err().to_string();
    assert!(e.starts_with("m.yml:6: modules.m.password_env: module \"m\" would send the password"), "{e}");
    assert!(parse_with(&format!("{TARGET}modules:\n  m: {{ username: ftp }}\n"), require).is_ok());
}
