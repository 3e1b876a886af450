//! `ftp_exporter demo`: the whole product in one command, with nothing to
//! install — an in-process FTP server (libunftp over a temp directory) and
//! the exporter checking it with `config/demo.yml`: one healthy target in
//! both modes, one that fails at login with a wrong password.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::app::{App, AppOptions};
use crate::embedded::{EmbeddedOptions, EmbeddedServer};

/// The demo configuration; `DEMO_FTP_ADDRESS` and `DEMO_HELLO_SHA256` are filled in at start.
pub const DEMO_CONFIG: &str = include_str!("../config/demo.yml");

pub const USER: &str = "demo";
/// Not a secret worth protecting (the demo server lives for the demo's
/// lifetime on loopback), but still handled like one: written to a file the
/// config points at, never inline, never logged.
pub const PASSWORD: &str = "demo-Pw-31f9c";
pub const WRONG_PASSWORD: &str = "demo-wrong-Pw-77e2";
const HELLO: &[u8] = b"hello from the ftp_exporter demo server\n";

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Where the demo FTP server listens (port 0: any free port).
    #[arg(long = "ftp.listen-address", default_value = "127.0.0.1:0")]
    pub ftp_address: SocketAddr,
}

/// A running demo: server, exporter and the files they use.
pub struct Demo {
    pub app: App,
    pub server: EmbeddedServer,
    /// The generated config file.
    pub config_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Demo {
    /// `listen_address`: where the exporter serves HTTP (`--web.listen-address`).
    pub async fn start(args: &DemoArgs, listen_address: &str) -> Result<Demo, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let root = dir.path().join("ftp-root");
        let setup = || -> std::io::Result<()> {
            std::fs::create_dir_all(root.join("pub"))?;
            std::fs::create_dir_all(root.join("incoming"))?;
            std::fs::write(root.join("pub/hello.txt"), HELLO)?;
            std::fs::write(root.join("pub/README.txt"), "files for ftp_exporter's demo\n")?;
            std::fs::write(dir.path().join("demo-password.txt"), PASSWORD)?;
            std::fs::write(dir.path().join("demo-wrong-password.txt"), WRONG_PASSWORD)?;
            Ok(())
        };
        setup().map_err(|e| format!("demo files: {e}"))?;

        let mut opts = EmbeddedOptions::new(&root, USER, PASSWORD);
        opts.bind = args.ftp_address;
        let server = EmbeddedServer::start(opts).await.map_err(|e| format!("demo FTP server: {e}"))?;

        let config = DEMO_CONFIG
            .replace("DEMO_FTP_ADDRESS", &server.addr().to_string())
            .replace("DEMO_HELLO_SHA256", &hex::encode(Sha256::digest(HELLO)));
        let config_file = dir.path().join("demo.yml");
        std::fs::write(&config_file, config).map_err(|e| format!("demo config: {e}"))?;

        let mut app_opts = AppOptions::new(&config_file);
        app_opts.listen_address = listen_address.to_string();
        let app = App::start(app_opts).await?;
        Ok(Demo { app, server, config_file, _dir: dir })
    }
}

/// Runs the demo until SIGINT/SIGTERM.
pub async fn run(args: DemoArgs, listen_address: String) -> i32 {
    let demo = match Demo::start(&args, &listen_address).await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "demo failed to start");
            return 1;
        }
    };
    let port = demo.app.addr().port();
    tracing::info!(
        ftp_server = %demo.server.addr(),
        config = %demo.config_file.display(),
        "demo running: open http://localhost:{port}/ (status) and http://localhost:{port}/metrics; Ctrl-C stops it"
    );
    crate::cli::wait_for_stop().await;
    demo.app.shutdown(Duration::from_secs(5)).await;
    0
}
