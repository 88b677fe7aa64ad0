//! The `partnercenter` binary: `serve`, `migrate`, `token`, `health`. The
//! load tools are a crate of their own (`tools/`, `partnercenter-load`).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use partnercenter::api::server;
use partnercenter::config::{AuthArgs, Config, ConfigFile, DatabaseArgs, Flags, LogArgs, ServeArgs, StoreArgs};
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

// Parsed once at start: a large variant costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Serve gRPC (applies pending migrations first).
    Serve {
        #[command(flatten)]
        args: ServeArgs,
        /// There is no --port: a newcomer's guess, answered with the flag
        /// that sets the port.
        #[arg(long, hide = true, num_args = 0..=1, default_missing_value = "PORT", value_parser = no_port)]
        port: Option<std::convert::Infallible>,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        #[command(flatten)]
        file: ConfigFile,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Print a bearer token signed with the server's secret.
    Token {
        /// Who the token is for.
        #[arg(long, value_enum)]
        role: Role,
        /// For --role partner (and only for it): the partner's id.
        #[arg(long, required_if_eq("role", "partner"), value_parser = tenant_id)]
        partner_id: Option<String>,
        /// For --role customer (and only for it): the customer's id.
        #[arg(long, required_if_eq("role", "customer"), value_parser = tenant_id)]
        customer_id: Option<String>,
        /// Who the token names, for operator and service tokens [default: cli].
        #[arg(long)]
        subject: Option<String>,
        /// How long the token lives: seconds, or a duration such as 30m or
        /// 8h; at most the server's jwt_max_lifetime.
        #[arg(long, default_value = "3600", value_parser = ttl)]
        ttl: std::time::Duration,
        #[command(flatten)]
        file: ConfigFile,
        // Where the server's store is: beside a SQLite file it keeps the
        // secret it generated.
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        auth: AuthArgs,
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

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Role {
    Operator,
    Partner,
    Customer,
    Service,
}

/// A flag the role does not use is refused, not ignored: the token would
/// not be the one asked for. (clap requires the ids the roles need.)
fn token_flags(role: Role, partner_id: bool, customer_id: bool, subject: bool) -> Result<(), String> {
    let tenant = matches!(role, Role::Partner | Role::Customer);
    if partner_id && role != Role::Partner {
        return Err("--partner-id is only for --role partner; leave it out, or mint a partner's token".to_owned());
    }
    if customer_id && role != Role::Customer {
        return Err("--customer-id is only for --role customer; leave it out, or mint a customer's token".to_owned());
    }
    if subject && tenant {
        return Err(
            "--subject is only for --role operator and --role service; a partner's or a customer's token names its id"
                .to_owned(),
        );
    }
    Ok(())
}

/// A partner's or a customer's id: a UUID.
fn tenant_id(text: &str) -> Result<String, String> {
    validate::id("id", text).map_err(|_| "must be a UUID, as CreatePartner or CreateCustomer returned it".to_owned())
}

/// `--ttl`: seconds (`3600`), or a duration with its unit (`30m`, `8h`).
fn ttl(text: &str) -> Result<std::time::Duration, String> {
    match text.parse::<u64>() {
        Ok(seconds) => Ok(std::time::Duration::from_secs(seconds)),
        Err(_) => humantime::parse_duration(text).map_err(|error| format!("{error}; e.g. 3600, 30m or 8h")),
    }
}

/// The hidden `serve --port`: always refused, naming the flag to use.
fn no_port(port: &str) -> Result<std::convert::Infallible, String> {
    Err(format!(
        "serve has no --port; give the whole address: --listen 127.0.0.1:{port} (or --listen 0.0.0.0:{port} for every interface)"
    ))
}

fn main() -> ExitCode {
    let mut command = partnercenter::config::document(Cli::command());
    let cli = match Cli::from_arg_matches(&command.get_matches_mut()) {
        Ok(cli) => cli,
        Err(error) => error.format(&mut command).exit(),
    };
    if let Command::Token {
        role,
        partner_id,
        customer_id,
        subject,
        ..
    } = &cli.command
        && let Err(usage) = token_flags(*role, partner_id.is_some(), customer_id.is_some(), subject.is_some())
    {
        // The subcommand's own usage, as clap prints it for its errors.
        let mut token = command.find_subcommand("token").cloned().unwrap_or(command);
        token.error(clap::error::ErrorKind::ArgumentConflict, usage).exit();
    }
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
        Command::Serve { args, port: _ } => {
            let loaded = Config::load(&args.file, &args.flags()).map_err(anyhow::Error::msg)?;
            let config = &loaded.config;
            let service = format!("partnercenter-{}", config.topology.services.names().replace(',', "+"));
            let telemetry = telemetry::init(
                config.telemetry.log_format,
                config.telemetry.otlp_endpoint.as_deref(),
                &service,
            )
            .map_err(anyhow::Error::msg)?;
            tracing::info!(version = env!("CARGO_PKG_VERSION"), "starting partnercenter");
            loaded.log();
            let termination = server::termination();
            let running = server::spawn(config, Arc::new(SystemClock)).await.map_err(boxed)?;
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
        Command::Migrate { file, store, log } => {
            let flags = Flags::default().section("store", &store).section("telemetry", &log);
            let loaded = Config::load(&file, &flags).map_err(anyhow::Error::msg)?;
            let config = &loaded.config;
            let _logs =
                telemetry::init(config.telemetry.log_format, None, "partnercenter").map_err(anyhow::Error::msg)?;
            loaded.log();
            store::migrate(&StoreOptions {
                url: config.store.database_url.clone(),
                max_connections: 1,
                acquire_timeout: config.store.acquire_timeout,
                statement_timeout: config.store.statement_timeout,
                sqlite_page_cache_mib: partnercenter::store::DEFAULT_PAGE_CACHE_MIB,
            })
            .await
            .context("cannot apply the migrations")?;
            tracing::info!(database_url = %partnercenter::config::redact_url(&config.store.database_url), "migrations applied");
            Ok(())
        }
        Command::Token {
            file,
            database,
            auth,
            role,
            partner_id,
            customer_id,
            subject,
            ttl,
        } => {
            let flags = Flags::default().section("store", &database).section("auth", &auth);
            let loaded = Config::load(&file, &flags).map_err(anyhow::Error::msg)?;
            // No logging here: stdout is the token.
            for deprecation in &loaded.deprecated {
                eprintln!("warning: {deprecation}");
            }
            let config = &loaded.config;
            let max = config.auth.jwt_max_lifetime;
            if ttl < std::time::Duration::from_secs(1) || ttl > max {
                bail!(
                    "--ttl {}: a token must live between 1s and {} ({} s), the server's maximum token lifetime (jwt_max_lifetime under [auth], or PARTNERCENTER_JWT_MAX_LIFETIME); give a shorter --ttl",
                    humantime::format_duration(ttl),
                    humantime::format_duration(max),
                    max.as_secs()
                );
            }
            let subject = subject.unwrap_or_else(|| "cli".to_owned());
            // The flags were checked against the role (`token_flags`).
            let principal = match role {
                Role::Operator => Principal::Operator { subject },
                Role::Service => Principal::Service { subject },
                Role::Partner => Principal::Partner {
                    partner_id: partner_id.unwrap_or_default(),
                },
                Role::Customer => Principal::Customer {
                    customer_id: customer_id.unwrap_or_default(),
                },
            };
            let authority = config.existing_token_authority().map_err(anyhow::Error::msg)?;
            println!("{}", authority.mint(&principal, ttl.as_secs())?);
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
