//! `ftp_exporter`: see [`ftp_exporter::cli`] for the command line.

#[tokio::main]
async fn main() {
    let code = ftp_exporter::cli::main().await;
    std::process::exit(code);
}
