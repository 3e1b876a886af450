//! The configuration file as an operator meets it: refused files name
//! file:line: key, accepted files give the targets and plans docs/configuration.md says.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ftp_exporter::check::{
    ActiveOptions, CheckPlan, IpProtocol, Mode, PassiveOptions, RetrieveSpec, StoreSpec, TlsMode, TlsOptions,
    Toggle,
};
use ftp_exporter::config::{Config, ConfigError};
use ftp_exporter::secret::Secret;

/// Tests set environment variables for `password_env`; setenv racing a
/// getenv in another thread is undefined on glibc, so every parse here
/// holds this lock.
static ENV: Mutex<()> = Mutex::new(());

fn env_lock() -> MutexGuard<'static, ()> {
    ENV.lock().unwrap_or_else(|e| e.into_inner())
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    let _g = env_lock();
    std::env::set_var("CFG_TEST_PW", "s3cr3t-env");
    std::env::remove_var("CFG_TEST_UNSET");
    Config::parse(text, Path::new("bad.yml"))
}

fn ok(text: &str) -> Config {
    parse(text).unwrap_or_else(|e| panic!("expected to load, got: {e}"))
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// Each refused file, and the whole message an operator would see.
#[test]
fn invalid_files_name_file_line_and_key() {
    let ca = data("test-ca.pem");
    let ca_ok = format!(
        "targets:\n  - name: a\n    address: h\n    tls: explicit\n    tls_ca_file: {}\n",
        ca.display()
    );
    assert!(parse(&ca_ok).is_ok(), "the CA fixture itself must load");

    let cases: Vec<(&str, String)> = vec![
        (
            "targets:\n  - name: a\n    address: 127.0.0.1\n    modes: [passive, pasive]\n",
            r#"bad.yml:4: targets[0].modes: unknown mode "pasive", expected passive or active"#.into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    modes: [active, active]\n",
            "bad.yml:4: targets[0].modes: mode active is listed twice".into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    modes: []\n",
            "bad.yml:4: targets[0].modes: at least one mode is required (passive, active)".into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    passive:\n      epsv: auto\n      epsvv: never\n",
            "bad.yml:6: targets[0].passive.epsvv: unknown field `epsvv`, expected `epsv` or `trust_advertised_address`"
                .into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    passive:\n      epsv: sometimes\n",
            r#"bad.yml:5: targets[0].passive.epsv: unknown value "sometimes", expected auto, always or never"#.into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n  - name: b\n    address: h\n  - name: a\n    address: h\n",
            r#"bad.yml:6: targets[2].name: duplicate target name "a", already used by targets[0]"#.into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    username: u\n    password_env: CFG_TEST_UNSET\n",
            r#"bad.yml:5: targets[0].password_env: environment variable "CFG_TEST_UNSET" is not set"#.into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    username: u\n    password_file: /nonexistent/pw\n",
            "bad.yml:5: targets[0].password_file: cannot read /nonexistent/pw: No such file or directory (os error 2)"
                .into(),
        ),
        (
            "targets:\n  - name: a\n    address: ::1\n",
            r#"bad.yml:3: targets[0].address: invalid address "::1": IPv6 addresses need brackets, e.g. [::1] or [::1]:2121"#
                .into(),
        ),
        (
            "targets:\n  - name: a\n    address: h:0\n",
            r#"bad.yml:3: targets[0].address: invalid address "h:0": port must be a number from 1 to 65535"#.into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    active:\n      port_range: 50100-50000\n",
            r#"bad.yml:5: targets[0].active.port_range: invalid port range "50100-50000", expected START-END with 1 <= START <= END <= 65535"#
                .into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    active:\n      advertise_address: 203.0.113\n",
            r#"bad.yml:5: targets[0].active.advertise_address: invalid IP address "203.0.113", expected e.g. 0.0.0.0, 192.0.2.7 or ::"#
                .into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    check:\n      retrieve: { path: /f, sha256: abc123 }\n",
            "bad.yml:5: targets[0].check.retrieve.sha256: sha256 must be 64 hex digits, got 6 characters".into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    check:\n      retrieve: { path: /f, size: 2MiB, max_bytes: 1MiB }\n",
            "bad.yml:5: targets[0].check.retrieve.size: expected size 2097152 is larger than max_bytes 1048576".into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    check:\n      retrieve: { path: /f, max_bytes: 1TB }\n",
            r#"bad.yml:5: targets[0].check.retrieve.max_bytes: invalid size "1TB", expected bytes such as 4096, 64KiB, 1MiB or 1MB"#
                .into(),
        ),
        (
            "defaults:\n  interval: 0s\ntargets:\n  - name: a\n    address: h\n",
            r#"bad.yml:2: defaults.interval: duration "0s" must be greater than 0"#.into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    interval: 60\n",
            "bad.yml:4: targets[0].interval: duration 60 has no unit, write e.g. 60s or 60ms".into(),
        ),
        (
            "defaults:\n  timeout: 30s\ntargets:\n  - name: a\n    address: h\n    interval: 10s\n",
            "bad.yml:2: defaults.timeout: timeout 30s is longer than interval 10s; a check must end before the next one starts (for targets[0] \"a\")"
                .into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\nmetrics:\n  duration_buckets: [0.1, 1, 0.5]\n",
            "bad.yml:5: metrics.duration_buckets: buckets must be strictly increasing, but 1 is followed by 0.5".into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    labels:\n      env: prod\n      target: x\n",
            r#"bad.yml:6: targets[0].labels: label "target" is set by the exporter itself; choose another name"#.into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    labels:\n      mode: x\n",
            r#"bad.yml:5: targets[0].labels: label "mode" is set by the exporter itself; choose another name"#.into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    labels: { 9lives: x }\n",
            r#"bad.yml:4: targets[0].labels: invalid label name "9lives", expected [a-zA-Z_][a-zA-Z0-9_]*"#.into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    check:\n      login_only: true\n      list: /in\n",
            "bad.yml:5: targets[0].check.login_only: login_only: true contradicts list (no data connection is opened)"
                .into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    password_env: CFG_TEST_PW\n    password_file: /x\n",
            "bad.yml:5: targets[0].password_file: set only one of password, password_env, password_file (found password_env and password_file)"
                .into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    username: monitor\n",
            r#"bad.yml:4: targets[0].username: user "monitor" has no password; set password_env or password_file"#.into(),
        ),
        ("targets:\n  - name: a\n  - address: h\n", "bad.yml:2: targets[0]: missing key `address`".into()),
        (
            "targets:\n  - name: a\n    address: h\n    active:\n      port_range: 50000-50100\n      eprt: auto\n      port_range: 1-2\n",
            "bad.yml:7: targets[0].active.port_range: `port_range` is set twice".into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    labels: { env: prod,\n      env: dev }\n",
            "bad.yml:5: targets[0].labels.env: `env` is set twice".into(),
        ),
        (
            "defaults:\n  username: monitor\n  password_env: CFG_TEST_UNSET\ntargets:\n  - name: a\n    address: h\n",
            r#"bad.yml:3: defaults.password_env: environment variable "CFG_TEST_UNSET" is not set (for targets[0] "a")"#
                .into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    username: u\n    password_file: /dev/zero\n",
            "bad.yml:5: targets[0].password_file: cannot read /dev/zero: not a regular file (a device)".into(),
        ),
        ("targets:\n  - ftp.example.com\n", r#"bad.yml:2: targets[0]: invalid type: string "ftp.example.com", expected a mapping"#.into()),
        (
            "targets:\n  - name: a\n    address: h\n    check: /in\n",
            r#"bad.yml:4: targets[0].check: invalid type: string "/in", expected a mapping"#.into(),
        ),
        ("targets:\n  - address: h\n", "bad.yml:2: targets[0]: missing key `name`".into()),
        (
            "defaults:\n  name: x\ntargets:\n  - name: a\n    address: h\n",
            "bad.yml:2: defaults.name: cannot be set in defaults; every target has its own name".into(),
        ),
        ("defaults:\n  interval: 10s\n", "bad.yml:1: missing key `targets` (the FTP servers to check)".into()),
        ("targets: []\n", "bad.yml:1: targets: at least one target is required".into()),
        ("# nothing here\n", "bad.yml:1: the file is empty; expected a `targets:` list".into()),
        ("- name: a\n", "bad.yml:1: expected a mapping with a `targets:` list, found sequence".into()),
        (
            "targets:\n  - name: 'a\n    address: h\n",
            "bad.yml:4: found unexpected end of stream, while scanning a quoted scalar at line 2 column 11".into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n---\ntargets: []\n",
            "bad.yml:4: only one YAML document is allowed (remove the second `---`)".into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\nmetric:\n  duration_buckets: []\n",
            "bad.yml:4: metric: unknown field `metric`, expected one of `defaults`, `targets`, `modules`, `metrics`".into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    tls: starttls\n",
            r#"bad.yml:4: targets[0].tls: unknown tls mode "starttls", expected none, explicit or implicit"#.into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    tls: explicit\n    tls_max_version: 1.1\n",
            r#"bad.yml:5: targets[0].tls_max_version: unknown TLS version "1.1", expected "1.2" or "1.3""#.into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    tls: explicit\n    tls_ca_file: /nonexistent/ca.pem\n",
            "bad.yml:5: targets[0].tls_ca_file: cannot read /nonexistent/ca.pem: No such file or directory (os error 2)"
                .into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    check:\n      list: \"/in\\r\\nDELE x\"\n",
            "bad.yml:5: targets[0].check.list: must not contain line breaks or NUL (it is sent in an FTP command)".into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    check:\n      store: { path: \"\", bytes: 10 }\n",
            "bad.yml:5: targets[0].check.store.path: must not be empty".into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    ip_protocol: ipv5\n",
            r#"bad.yml:4: targets[0].ip_protocol: unknown ip_protocol "ipv5", expected auto, ipv4 or ipv6"#.into(),
        ),
        (
            "defaults:\n  ip_protocol: ipv6\ntargets:\n  - name: a\n    address: 192.0.2.1\n",
            r#"bad.yml:2: defaults.ip_protocol: ip_protocol ipv6 contradicts the address 192.0.2.1 (for targets[0] "a")"#.into(),
        ),
        (
            "defaults:\n  interval: 500000000000y\ntargets:\n  - name: a\n    address: h\n",
            "bad.yml:2: defaults.interval: duration \"500000000000y\" is longer than a week".into(),
        ),
        (
            "targets:\n  - name: a\n    address: h\n    check:\n      store: { path: /p, bytes: 65MiB }\n",
            "bad.yml:5: targets[0].check.store.bytes: at most 64MiB".into(),
        ),
    ];
    assert!(cases.len() >= 20);
    let mut failures = Vec::new();
    for (text, want) in &cases {
        match parse(text) {
            Ok(_) => failures.push(format!("accepted:\n{text}")),
            Err(e) if e.to_string() != *want => failures.push(format!("for:\n{text}got:  {e}\nwant: {want}")),
            Err(_) => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn builtin_defaults_follow_the_spec() {
    let c = ok("targets:\n  - name: a\n    address: ftp.example.com\n");
    let t = &c.targets[0];
    assert_eq!((t.host.as_str(), t.port, t.address.as_str()), ("ftp.example.com", 21, "ftp.example.com"));
    assert_eq!(t.interval, Duration::from_secs(60));
    assert_eq!(t.timeout, Duration::from_secs(15));
    assert_eq!(t.modes, vec![Mode::Passive, Mode::Active]);
    assert_eq!(t.tls, TlsMode::None);
    assert_eq!(t.username, "anonymous");
    assert!(t.password.expose().contains('@'), "anonymous password is e-mail-like (RFC 1635)");
    assert!(
        !t.check.login_only
            && t.check.list.is_none()
            && t.check.retrieve.is_none()
            && t.check.store.is_none()
    );
    assert!(t.labels.is_empty());
    assert_eq!(c.metrics.duration_buckets, vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]);
    assert_eq!(c.source, Path::new("bad.yml"));
}

#[test]
fn defaults_merge_and_target_keys_win() {
    let c = ok("\
defaults:
  interval: 2m
  timeout: 20s
  modes: [active]
  username: monitor
  password_env: CFG_TEST_PW
  tls: explicit
  tls_server_name: ftp.example.com
  check: { list: /incoming }
  passive: { epsv: never, trust_advertised_address: true }
  active: { port_range: 50000-50010, eprt: always }
  labels: { env: prod, team: storage }
targets:
  - name: inherits
    address: h1
  - name: overrides
    address: h2:2121
    interval: 1m30s
    modes: [passive, active]
    password: inline-pw
    tls: none
    check: { login_only: true }
    passive: { epsv: always }
    active: { listen_address: 127.0.0.1 }
    labels: { env: staging, site: a }
");
    let (a, b) = (&c.targets[0], &c.targets[1]);
    assert_eq!(a.interval, Duration::from_secs(120));
    assert_eq!(a.timeout, Duration::from_secs(20));
    assert_eq!(a.modes, vec![Mode::Active]);
    assert_eq!((a.username.as_str(), a.password.expose()), ("monitor", "s3cr3t-env"));
    assert_eq!(a.tls, TlsMode::Explicit);
    assert_eq!(a.tls_options.server_name.as_deref(), Some("ftp.example.com"));
    assert_eq!(a.check.list.as_deref(), Some("/incoming"));
    assert_eq!(a.passive, PassiveOptions { epsv: Toggle::Never, trust_advertised_address: true });
    assert_eq!(a.active.port_range, Some(50000..=50010));
    assert_eq!(a.labels.get("team").map(String::as_str), Some("storage"));

    assert_eq!((b.port, b.interval), (2121, Duration::from_secs(90)));
    assert_eq!(b.timeout, Duration::from_secs(20), "unset keys still come from defaults");
    assert_eq!(b.modes, vec![Mode::Passive, Mode::Active]);
    assert_eq!((b.username.as_str(), b.password.expose()), ("monitor", "inline-pw"));
    assert_eq!((b.tls, b.tls_options.mode), (TlsMode::None, TlsMode::None));
    assert!(b.check.login_only && b.check.list.is_none(), "check: is taken whole from the target");
    assert_eq!(b.passive, PassiveOptions { epsv: Toggle::Always, trust_advertised_address: true });
    assert_eq!(b.active.listen_address, Some("127.0.0.1".parse().unwrap()));
    assert_eq!((b.active.port_range.clone(), b.active.eprt), (Some(50000..=50010), Toggle::Always));
    let labels: Vec<(&str, &str)> = b.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(labels, vec![("env", "staging"), ("site", "a"), ("team", "storage")]);
}

#[test]
fn ipv6_and_tls_default_ports() {
    let c = ok("\
targets:
  - { name: v6, address: '[::1]:2121' }
  - { name: v6-default, address: '[::1]' }
  - { name: implicit, address: 127.0.0.1, tls: implicit }
  - { name: implicit-port, address: 127.0.0.1:2990, tls: implicit }
  - { name: explicit, address: localhost, tls: explicit }
");
    let hp: Vec<(&str, &str, u16)> =
        c.targets.iter().map(|t| (t.address.as_str(), t.host.as_str(), t.port)).collect();
    assert_eq!(
        hp,
        vec![
            ("[::1]:2121", "::1", 2121),
            ("[::1]", "::1", 21),
            ("127.0.0.1", "127.0.0.1", 990),
            ("127.0.0.1:2990", "127.0.0.1", 2990),
            ("localhost", "localhost", 21),
        ]
    );
}

#[test]
fn secrets_come_from_env_and_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "from-file\n").unwrap();
    std::fs::write(dir.path().join("pw-crlf"), "crlf-pw\r\n").unwrap();
    let cfg = dir.path().join("ftp.yml");
    std::fs::write(
        &cfg,
        "defaults: { username: monitor }\ntargets:\n\
         - { name: env, address: h, password_env: CFG_TEST_PW }\n\
         - { name: rel, address: h, password_file: pw }\n\
         - { name: crlf, address: h, password_file: pw-crlf }\n",
    )
    .unwrap();
    let c = {
        let _g = env_lock();
        std::env::set_var("CFG_TEST_PW", "s3cr3t-env");
        Config::load(&cfg).unwrap()
    };
    let pw: Vec<&str> = c.targets.iter().map(|t| t.password.expose()).collect();
    assert_eq!(pw, vec!["s3cr3t-env", "from-file", "crlf-pw"]);
    assert_eq!(c.source, cfg);
}

#[test]
fn a_password_line_break_is_refused_without_printing_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw-two"), "two-newlines\n\n").unwrap();
    let text = "targets:\n  - name: a\n    address: h\n    username: u\n    password_file: pw-two\n";
    let e = Config::parse(text, &dir.path().join("x.yml")).unwrap_err().to_string();
    assert!(e.ends_with("x.yml:5: targets[0].password_file: the password contains a line break or NUL, which cannot be sent in PASS"), "{e}");
    assert!(!e.contains("two-newlines"));
}

#[test]
fn debug_output_and_errors_never_show_secrets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "file-secret-42\n").unwrap();
    let text = "targets:\n\
        - { name: env, address: h, username: u, password_env: CFG_TEST_PW }\n\
        - { name: file, address: h, username: u, password_file: pw }\n\
        - { name: inline, address: h, username: u, password: inline-secret-7 }\n";
    let secrets = ["s3cr3t-env", "file-secret-42", "inline-secret-7"];
    let c = {
        let _g = env_lock();
        std::env::set_var("CFG_TEST_PW", "s3cr3t-env");
        Config::parse(text, &dir.path().join("x.yml")).unwrap()
    };
    for out in [format!("{c:?}"), format!("{c:#?}"), format!("{:?}", c.targets[2].plan(Mode::Active))] {
        for s in secrets {
            assert!(!out.contains(s), "{s} leaked in {out}");
        }
    }
    // A later error in the same file must not quote the secrets either.
    let dup = format!("{text}- {{ name: inline, address: h, password: inline-secret-7 }}\n");
    let e = {
        let _g = env_lock();
        Config::parse(&dup, &dir.path().join("x.yml")).unwrap_err().to_string()
    };
    assert!(e.contains("duplicate target name"), "{e}");
    // A password of the wrong type is reported by type, not by value.
    let num = parse("targets:\n  - { name: a, address: h, username: u, password: 98765432 }\n").unwrap_err();
    assert_eq!(num.to_string(), "bad.yml:2: targets[0].password: password must be a string; quote it");
    for s in secrets.iter().chain(&["98765432"]) {
        assert!(!e.contains(s) && !num.to_string().contains(s));
    }
}

#[test]
fn plans_carry_every_setting_for_both_modes() {
    let ca = data("test-ca.pem");
    let text = format!(
        "targets:
  - name: full
    address: '[::1]:2121'
    username: monitor
    password_env: CFG_TEST_PW
    tls: explicit
    tls_ca_file: {}
    tls_server_name: ftp.example.com
    tls_insecure_skip_verify: true
    tls_max_version: 1.2
    timeout: 7s
    check:
      list: /in
      retrieve: {{ path: /ok.txt, sha256: E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855, size: 0, max_bytes: 64KiB }}
      store: {{ path: /in/probe.tmp, bytes: 1KB, verify: false }}
    passive: {{ epsv: never, trust_advertised_address: true }}
    active: {{ listen_address: '::1', advertise_address: 192.0.2.7, port_range: 50000-50100, eprt: always }}
",
        ca.display()
    );
    let c = ok(&text);
    let t = &c.targets[0];
    for mode in [Mode::Passive, Mode::Active] {
        let want = CheckPlan {
            host: "::1".into(),
            port: 2121,
            ip_protocol: IpProtocol::Auto,
            username: "monitor".into(),
            password: Secret::new("s3cr3t-env"),
            mode,
            timeout: Duration::from_secs(7),
            tls: TlsOptions {
                mode: TlsMode::Explicit,
                ca_file: Some(ca.clone()),
                server_name: Some("ftp.example.com".into()),
                insecure_skip_verify: true,
                max_version_tls12: true,
            },
            login_only: false,
            list: Some("/in".into()),
            retrieve: Some(RetrieveSpec {
                path: "/ok.txt".into(),
                sha256: Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into()),
                size: Some(0),
                max_bytes: 65536,
            }),
            store: Some(StoreSpec { path: "/in/probe.tmp".into(), bytes: 1000, verify: false, delete: true }),
            passive: PassiveOptions { epsv: Toggle::Never, trust_advertised_address: true },
            active: ActiveOptions {
                listen_address: Some("::1".parse().unwrap()),
                advertise_address: Some("192.0.2.7".parse().unwrap()),
                port_range: Some(50000..=50100),
                eprt: Toggle::Always,
            },
            resolved: None,
        };
        assert_eq!(t.plan(mode), want);
    }
    let login = ok("targets:\n  - { name: l, address: h, check: { login_only: true } }\n");
    let plan = login.targets[0].plan(Mode::Passive);
    assert!(plan.login_only && plan.operations().is_empty());
    assert_eq!(plan.password, Secret::new("ftp_exporter@"));
}

#[test]
fn tls_ca_file_is_relative_to_the_config_and_must_hold_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(data("test-ca.pem"), dir.path().join("ca.pem")).unwrap();
    std::fs::write(dir.path().join("not-a-cert.pem"), "hello\n").unwrap();
    let cfg = dir.path().join("ftp.yml");
    let text = "targets:\n  - { name: a, address: h, tls: explicit, tls_ca_file: ca.pem }\n";
    let c = Config::parse(text, &cfg).unwrap();
    assert_eq!(c.targets[0].tls_options.ca_file.as_deref(), Some(dir.path().join("ca.pem").as_path()));

    let bad = "targets:\n  - name: a\n    address: h\n    tls: implicit\n    tls_ca_file: not-a-cert.pem\n";
    let e = Config::parse(bad, &cfg).unwrap_err();
    let file = dir.path().join("not-a-cert.pem");
    assert_eq!(
        e.to_string(),
        format!(
            "{}:5: targets[0].tls_ca_file: {} contains no PEM certificate",
            cfg.display(),
            file.display()
        )
    );
}

#[test]
fn empty_bucket_list_disables_the_histogram() {
    let c = ok("targets:\n  - { name: a, address: h }\nmetrics:\n  duration_buckets: []\n");
    assert!(c.metrics.duration_buckets.is_empty());
}

#[test]
fn a_missing_file_is_named() {
    let e = Config::load(Path::new("/nonexistent/ftp.yml")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "/nonexistent/ftp.yml: cannot read the configuration file: No such file or directory (os error 2)"
    );
}

#[test]
fn the_example_file_loads_and_documents_every_key() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.yml");
    let c = {
        let _g = env_lock();
        std::env::set_var("PARTNER_FTP_PASSWORD", "example-secret");
        Config::load(&path).unwrap_or_else(|e| panic!("{e}"))
    };
    let names: Vec<&str> = c.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["partner-drop", "mirror-login", "backup-ftps"]);
    assert_eq!(c.targets.iter().find(|t| t.name == "mirror-login").map(|t| t.port), Some(2121));
    assert_eq!(c.targets[0].password.expose(), "example-secret");
    assert_eq!(c.targets[2].port, 990);
    assert_eq!(c.targets[2].labels.get("env").map(String::as_str), Some("staging"));

    let text = std::fs::read_to_string(&path).unwrap();
    let keys = [
        "defaults:",
        "targets:",
        "name:",
        "address:",
        "username:",
        "password_env:",
        "password_file:",
        "password:",
        "tls:",
        "tls_ca_file:",
        "tls_server_name:",
        "tls_insecure_skip_verify:",
        "tls_max_version:",
        "modes:",
        "interval:",
        "timeout:",
        "check:",
        "login_only:",
        "list:",
        "retrieve:",
        "path:",
        "sha256:",
        "size:",
        "max_bytes:",
        "store:",
        "bytes:",
        "verify:",
        "delete:",
        "passive:",
        "epsv:",
        "trust_advertised_address:",
        "active:",
        "listen_address:",
        "advertise_address:",
        "port_range:",
        "eprt:",
        "labels:",
        "ip_protocol:",
        "modules:",
        "allowed_targets:",
        "metrics:",
        "duration_buckets:",
    ];
    let reference =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md")).unwrap();
    for k in keys {
        assert!(text.contains(k), "config/example.yml does not document {k}");
        let k = k.trim_end_matches(':');
        assert!(
            reference.contains(&format!("`{k}`")) || reference.contains(&format!(".{k}`")),
            "docs/configuration.md does not document {k}"
        );
    }
}

/// Collects log output, to check what the warnings say (and do not say).
#[derive(Clone, Default)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuf {
    type Writer = LogBuf;
    fn make_writer(&'a self) -> LogBuf {
        self.clone()
    }
}

#[test]
fn an_inline_password_warns_once_per_target_without_the_value() {
    let logs = LogBuf::default();
    let sub = tracing_subscriber::fmt().with_writer(logs.clone()).with_ansi(false).finish();
    let text = "defaults: { username: u, password: inline-secret-7 }\ntargets:\n\
        - { name: a, address: h }\n\
        - { name: b, address: h }\n\
        - { name: c, address: h, password_env: CFG_TEST_PW }\n\
        - { name: d, address: h, tls_server_name: ftp.example.com }\n";
    // Another test thread may hit the warning's callsite first, with no
    // subscriber, and cache "never" for it: recompute under ours.
    let c = tracing::subscriber::with_default(sub, || {
        tracing::callsite::rebuild_interest_cache();
        parse(text)
    })
    .unwrap();
    assert_eq!(c.targets[1].password.expose(), "inline-secret-7");
    let out = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let warned: Vec<&str> =
        out.lines().filter(|l| l.contains("password is written in the configuration file")).collect();
    assert_eq!(warned.len(), 3, "a, b and d use the inline password:\n{out}");
    assert!(warned[0].contains("ftp_target=\"a\"") && warned[0].contains("key=defaults.password"), "{out}");
    assert!(out.contains("tls_* settings have no effect with `tls: none` key=targets[3]"), "{out}");
    assert!(!out.contains("inline-secret-7") && !out.contains("s3cr3t-env"), "{out}");
}

#[test]
fn store_path_defaults_to_one_per_exporter_host() {
    let text = "targets:\n  - name: a\n    address: h\n    check:\n      store: {}\n  - name: b\n    \
                address: h\n    check:\n      store: { path: \"/in/{hostname}/probe-{hostname}.tmp\" }\n";
    let c = Config::parse_as(text, Path::new("h.yml"), "pod-7").unwrap();
    let path = |i: usize| c.targets[i].check.store.as_ref().unwrap().path.clone();
    assert_eq!(path(0), "ftp_exporter_pod-7.tmp", "default: the login directory, this host's name");
    assert_eq!(path(1), "/in/pod-7/probe-pod-7.tmp", "substituted at load, so messages show the real path");
    let this = ok(text);
    let host = ftp_exporter::config::hostname::this_host();
    assert_eq!(this.targets[0].check.store.as_ref().unwrap().path, format!("ftp_exporter_{host}.tmp"));
}

/// Refused from their metadata, before anything opens them (a FIFO would
/// block the load; a huge file would be read whole), naming file, line, key.
#[test]
fn oversized_or_special_secret_and_ca_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.pw");
    std::fs::write(&big, vec![b'x'; 64 * 1024 + 1]).unwrap();
    let fifo = dir.path().join("ca.fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let source = dir.path().join("c.yml");
    let text = format!(
        "targets:\n  - name: a\n    address: h\n    username: u\n    password_file: {}\n",
        big.display()
    );
    let e = Config::parse(&text, &source).unwrap_err().to_string();
    let want = format!(
        "c.yml:5: targets[0].password_file: cannot read {}: 65537 bytes, larger than the 64KiB allowed",
        big.display()
    );
    assert!(e.ends_with(&want), "{e}");
    let text = format!(
        "targets:\n  - name: a\n    address: h\n    tls: explicit\n    tls_ca_file: {}\n",
        fifo.display()
    );
    let e = Config::parse(&text, &source).unwrap_err().to_string();
    assert!(
        e.ends_with(&format!(
            "c.yml:5: targets[0].tls_ca_file: cannot read {}: not a regular file (a FIFO)",
            fifo.display()
        )),
        "{e}"
    );
    // The config file itself, too.
    let e = Config::load(&fifo).unwrap_err().to_string();
    assert_eq!(
        e,
        format!("{}: cannot read the configuration file: not a regular file (a FIFO)", fifo.display())
    );
}

#[test]
fn ip_protocol_is_inherited_from_defaults_and_reaches_the_plan() {
    let text = "defaults:\n  ip_protocol: ipv4\ntargets:\n  - name: a\n    address: h\n  - name: b\n    \
                address: h\n    ip_protocol: auto\n  - name: c\n    address: \"[::1]\"\n    ip_protocol: ipv6\n";
    let c = ok(text);
    let got: Vec<IpProtocol> = c.targets.iter().map(|t| t.plan(Mode::Active).ip_protocol).collect();
    assert_eq!(got, [IpProtocol::Ipv4, IpProtocol::Auto, IpProtocol::Ipv6]);
    assert_eq!(ok("targets:\n  - name: a\n    address: h\n").targets[0].ip_protocol, IpProtocol::Auto);
}
