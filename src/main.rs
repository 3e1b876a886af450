use clap::{Parser, Subcommand};
use ftp_exporter::cli::probe::{self, ProbeArgs};

#[derive(Parser)]
#[command(name = "ftp_exporter", version, about = "Prometheus exporter that checks FTP servers end to end")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check one server now, in one or both modes, and explain the result.
    Probe(ProbeArgs),
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Probe(args) => probe::run(args).await,
    };
    std::process::exit(code);
}
