//! `partnercenter-load`: the load tools of partnercenter, kept out of the
//! service's binary. `loadtest` and `bench` reach the service only through
//! its gRPC contract (the generated clients); `seed` writes straight into
//! the store with its bulk loader.

mod loadtest;
mod seed;

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use partnercenter::api::server;
use partnercenter::config::{Config, ConfigFile, Flags, LogArgs, StoreArgs};
use partnercenter::telemetry;

#[derive(Parser)]
#[command(
    name = "partnercenter-load",
    version,
    about = "Load tools of partnercenter: drive load, calibrate, bulk-load a store"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Drive load against a running server; report throughput, latency
    /// percentiles and errors by gRPC code.
    Loadtest(loadtest::LoadtestArgs),
    /// Calibrate in one run: the echo ceiling, the store's raw commit rate,
    /// and each scenario against a server, with their ratios.
    Bench(loadtest::BenchArgs),
    /// Bulk-load a synthetic dataset straight into the store (every event
    /// written, so E1 holds).
    Seed {
        #[command(flatten)]
        file: ConfigFile,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        log: LogArgs,
        #[command(flatten)]
        args: seed::SeedArgs,
    },
    /// The bare tonic echo `bench` measures beside the service: grpc.health
    /// Check with the server's transport settings and nothing else.
    #[command(hide = true)]
    EchoServer {
        #[arg(long)]
        listen: std::net::SocketAddr,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Loadtest(args) => loadtest::run_loadtest(args).await.map_err(anyhow::Error::from_boxed),
        Command::Bench(args) => loadtest::run_bench(args).await.map_err(anyhow::Error::from_boxed),
        Command::Seed { file, store, log, args } => {
            let flags = Flags::default().section("store", &store).section("telemetry", &log);
            let loaded = Config::load(&file, &flags).map_err(anyhow::Error::msg)?;
            let _logs = telemetry::init(loaded.config.telemetry.log_format, None, "partnercenter-load")
                .map_err(anyhow::Error::msg)?;
            loaded.log();
            seed::run(&loaded.config, args).await.map_err(anyhow::Error::from_boxed)
        }
        Command::EchoServer { listen } => {
            let (health, service) = tonic_health::server::health_reporter();
            health
                .set_service_status("", tonic_health::ServingStatus::Serving)
                .await;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            let incoming = server::limited_incoming(listener, 1024);
            tonic::transport::Server::builder()
                .max_concurrent_streams(256)
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, server::termination())
                .await
                .context("the echo server failed")?;
            Ok(())
        }
    }
}
