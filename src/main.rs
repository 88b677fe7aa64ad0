//! The `partnercenter` binary: `serve`, `migrate`, `token`, `health`. The
//! load tools are a crate of their own (`tools/`, `partnercenter-load`).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};

use partnercenter::api::server;
use partnercenter::auth::TokenAuthority;
use partnercenter::config::{Config, ConfigArgs, ServeArgs};
use partnercenter::domain::clock::SystemClock;
use partnercenter::domain::principal::Principal;
use partnercenter::domain::validate;
use partnercenter::store::{self, StoreOptions};
use partnercenter::telemetry;

// Every call allocates many small buffers (HTTP/2 frames, rows, messages);
// mimalloc serves them from per-thread pages where glibc's allocator
// spends a sixth of a CheckAccess call's CPU under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "partnercenter",
    version,
    about = "Cloud partners, customers and relationships over gRPC"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve gRPC (applies pending migrations first).
    Serve {
        #[command(flatten)]
        config: ConfigArgs,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Print a bearer token signed with the server's secret.
    Token {
        #[command(flatten)]
        config: ConfigArgs,
        /// Who the token is for.
        #[arg(long, value_enum)]
        role: Role,
        /// For --role partner: the partner's id [default: none].
        #[arg(long)]
        partner_id: Option<String>,
        /// For --role customer: the customer's id [default: none].
        #[arg(long)]
        customer_id: Option<String>,
        /// Who the token names, for operator and service tokens.
        #[arg(long, default_value = "cli")]
        subject: String,
        /// Lifetime in seconds, at most the server's maximum token lifetime
        /// (jwt_max_lifetime_seconds, PARTNERCENTER_JWT_MAX_LIFETIME_SECONDS).
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
    },
    /// Ask a server's grpc.health.v1 service; exit 0 when it is SERVING
    /// (a container health check).
    Health {
        /// The server's gRPC address, HOST:PORT (a host name is resolved).
        #[arg(long, default_value = "127.0.0.1:50051")]
        addr: String,
        /// The service to ask about; empty means the server as a whole.
        #[arg(long, default_value = "")]
        service: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Role {
    Operator,
    Partner,
    Customer,
    Service,
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
            // `{:#}`: the error and its causes on one line ("transport
            // error" alone names nothing).
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The library's tools report `BoxError`s; anyhow keeps them with their
/// sources.
fn boxed(error: server::BoxError) -> anyhow::Error {
    anyhow::Error::from_boxed(error)
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve { config, serve } => {
            let config = Config::load(&config, Some(&serve)).map_err(anyhow::Error::msg)?;
            let service = format!("partnercenter-{}", config.services.names().replace(',', "+"));
            let telemetry = telemetry::init(config.log_format, config.otlp_endpoint.as_deref(), &service)
                .map_err(anyhow::Error::msg)?;
            tracing::info!(version = env!("CARGO_PKG_VERSION"), "starting partnercenter");
            config.log_effective();
            let termination = server::termination();
            let running = server::spawn(&config, Arc::new(SystemClock)).await.map_err(boxed)?;
            let metrics = running
                .metrics_addr()
                .map_or_else(|| "off".to_owned(), |addr| addr.to_string());
            tracing::info!(addr = %running.addr(), %metrics, "serving gRPC");
            termination.await;
            tracing::info!("shutdown requested; draining");
            running.shutdown().await;
            telemetry.shutdown();
            Ok(())
        }
        Command::Migrate { config } => {
            let config = Config::load(&config, None).map_err(anyhow::Error::msg)?;
            let _logs = telemetry::init(config.log_format, None, "partnercenter").map_err(anyhow::Error::msg)?;
            store::migrate(&StoreOptions {
                url: config.database_url.clone(),
                max_connections: 1,
                acquire_timeout: config.acquire_timeout,
                statement_timeout: config.statement_timeout,
                sqlite_page_cache_mib: partnercenter::store::DEFAULT_PAGE_CACHE_MIB,
            })
            .await
            .context("cannot apply the migrations")?;
            tracing::info!(database_url = %partnercenter::config::redact_url(&config.database_url), "migrations applied");
            Ok(())
        }
        Command::Token {
            config,
            role,
            partner_id,
            customer_id,
            subject,
            ttl,
        } => {
            let config = Config::load(&config, None).map_err(anyhow::Error::msg)?;
            if ttl == 0 || ttl > config.jwt_max_lifetime.as_secs() {
                bail!(
                    "--ttl {ttl}: a token must live between 1 and {} seconds, the server's maximum token lifetime (jwt_max_lifetime_seconds or PARTNERCENTER_JWT_MAX_LIFETIME_SECONDS); give a shorter --ttl",
                    config.jwt_max_lifetime.as_secs()
                );
            }
            let principal = match role {
                Role::Operator => Principal::Operator { subject },
                Role::Service => Principal::Service { subject },
                Role::Partner => Principal::Partner {
                    partner_id: validate::id("--partner-id", partner_id.as_deref().unwrap_or_default())?,
                },
                Role::Customer => Principal::Customer {
                    customer_id: validate::id("--customer-id", customer_id.as_deref().unwrap_or_default())?,
                },
            };
            let authority = TokenAuthority::new(
                &config.existing_jwt_secret().map_err(anyhow::Error::msg)?,
                &config.jwt_issuer,
                config.jwt_audience.as_deref(),
            )
            .with_max_lifetime(config.jwt_max_lifetime);
            println!("{}", authority.mint(&principal, ttl)?);
            Ok(())
        }
        Command::Health { addr, service } => {
            use tonic_health::pb::health_check_response::ServingStatus;
            // The connector resolves a host name and tries each of its
            // addresses (localhost may be ::1 or 127.0.0.1).
            let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                .with_context(|| format!("--addr '{addr}' is not HOST:PORT; e.g. localhost:50051"))?;
            let channel = endpoint
                .connect_timeout(std::time::Duration::from_secs(3))
                .timeout(std::time::Duration::from_secs(3))
                .connect()
                .await
                .with_context(|| format!("cannot reach a server at {addr} (is `serve` running there?)"))?;
            let reply = tonic_health::pb::health_client::HealthClient::new(channel)
                .check(tonic_health::pb::HealthCheckRequest { service })
                .await
                .context("the health check failed")?
                .into_inner();
            let status = ServingStatus::try_from(reply.status).unwrap_or(ServingStatus::Unknown);
            println!("{}", status.as_str_name());
            if status == ServingStatus::Serving {
                Ok(())
            } else {
                bail!("not serving: {}", status.as_str_name())
            }
        }
    }
}
