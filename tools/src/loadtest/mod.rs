//! The load-test tool (`partnercenter-load loadtest`) and the calibration
//! benchmark (`partnercenter-load bench`).
//!
//! - `engine`: the workers, pacing and HDR histograms;
//! - `scenarios`: what each call asks (check, user-check, batch-check, mixed, list, accept);
//! - `dataset`: seeding through the API, or discovering an existing database;
//! - `report`: percentiles, the text and JSON reports;
//! - `bench`: the ceiling, the raw commit rate and the scenarios, in pairs;
//! - `client`, `rng`, `progress`: connections and tokens; random numbers;
//!   progress bars.

mod bench;
mod client;
mod dataset;
mod engine;
pub mod progress;
mod report;
pub mod rng;
mod scenarios;
mod webhooks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use partnercenter::BoxError;

pub use scenarios::Scenario;

/// Where to send load and as whom.
#[derive(clap::Args, Debug, Clone)]
pub struct Credentials {
    /// A bearer token to send as is (a service or operator token): enough
    /// for the read scenarios over an existing dataset (--no-seed).
    #[arg(long)]
    pub token: Option<String>,
    /// The server's JWT secret, to mint operator, service, partner and
    /// customer tokens (needed to seed and for the write scenarios).
    #[arg(long, env = "PARTNERCENTER_JWT_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// The secret file `serve` keeps beside its SQLite file, read when
    /// neither --token nor --secret is given.
    #[arg(long, default_value = "partnercenter.db.jwt-secret")]
    pub secret_file: PathBuf,
    /// The `iss` of the tokens minted with --secret: the server's
    /// jwt_issuer, which it requires of every token.
    #[arg(long, env = "PARTNERCENTER_JWT_ISSUER", default_value = "partnercenter")]
    pub issuer: String,
    /// The `aud` of the tokens minted with --secret: the server's
    /// jwt_audience, if it requires one [default: none].
    #[arg(long, env = "PARTNERCENTER_JWT_AUDIENCE")]
    pub audience: Option<String>,
}

impl Credentials {
    fn auth(&self) -> Result<client::Auth, BoxError> {
        let audience = self.audience.as_deref();
        if let Some(token) = &self.token {
            return client::Auth::with_token(token);
        }
        if let Some(secret) = &self.secret {
            return Ok(client::Auth::with_secret(secret.as_bytes(), &self.issuer, audience));
        }
        if self.secret_file.exists() {
            let secret = client::Auth::secret_from_file(&self.secret_file)?;
            return Ok(client::Auth::with_secret(&secret, &self.issuer, audience));
        }
        Err(format!(
            "no credentials: give --token or --secret, or run where {} is",
            self.secret_file.display()
        )
        .into())
    }
}

/// Settings shared by the loadtest and the bench.
#[derive(clap::Args, Debug, Clone)]
pub struct LoadArgs {
    /// HTTP/2 connections to open; calls are spread over them.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Calls in flight at most.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Checks per BatchCheckAccess call (at most 1000).
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// Page size of the list scenario.
    #[arg(long, default_value_t = 100)]
    pub page_size: i32,
    /// Share of calls of the mixed scenario that write.
    #[arg(long, default_value_t = 0.01)]
    pub write_ratio: f64,
    /// Seeding calls in flight.
    #[arg(long, default_value_t = 16)]
    pub seed_concurrency: usize,
    /// A call slower than this is abandoned and counted as DEADLINE_EXCEEDED.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Seed of the random choices (a fixed one replays the same calls).
    #[arg(long)]
    pub random_seed: Option<u64>,
    /// Print the report as JSON on stdout (progress stays on stderr).
    #[arg(long)]
    pub json: bool,
}

impl LoadArgs {
    fn validate(&self) -> Result<(), BoxError> {
        if self.connections == 0 || self.concurrency == 0 {
            return Err("--connections and --concurrency must be at least 1".into());
        }
        if !(1..=1000).contains(&self.batch_size) {
            return Err("--batch-size must be 1 to 1000".into());
        }
        if !(1..=1000).contains(&self.page_size) {
            return Err("--page-size must be 1 to 1000".into());
        }
        if !(0.0..=1.0).contains(&self.write_ratio) {
            return Err("--write-ratio must be between 0 and 1".into());
        }
        Ok(())
    }

    fn knobs(&self, seed: u64) -> scenarios::Knobs {
        scenarios::Knobs {
            batch_size: self.batch_size,
            page_size: self.page_size,
            write_ratio: self.write_ratio,
            seed,
        }
    }

    fn seed_shape(&self, partners: usize, customers: usize, seed: u64) -> dataset::SeedShape {
        dataset::SeedShape {
            partners,
            customers,
            concurrency: self.seed_concurrency,
            seed,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct LoadtestArgs {
    /// The server's gRPC address.
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub target: SocketAddr,
    #[command(flatten)]
    pub credentials: Credentials,
    #[arg(long, value_enum, default_value = "check")]
    pub scenario: Scenario,
    /// Calls per second, open loop (latency counted from when each call was
    /// due); 0: closed loop, as fast as the server answers.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Length of the measured phase (e.g. 30s, 2m); 10s when neither this
    /// nor --requests is given.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Measured calls to make.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Calls made before measuring, to fill caches and pools.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// The measured phase stops after this whatever else is asked.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub max_duration: Duration,
    /// Use the partners and customers already there instead of seeding
    /// (e.g. after `partnercenter-load seed`).
    #[arg(long)]
    pub no_seed: bool,
    /// Partners to seed.
    #[arg(long, default_value_t = 100)]
    pub partners: usize,
    /// Customers to seed.
    #[arg(long, default_value_t = 5000)]
    pub customers: usize,
    /// With --no-seed: partners and customers to list at most.
    #[arg(long, default_value_t = 10_000)]
    pub sample: usize,
    /// With --no-seed: customers whose relationships and subscriptions are
    /// read, so that checks ask about real pairs.
    #[arg(long, default_value_t = 500)]
    pub detailed: usize,
    /// The partner whose customers `list` pages through (default: the one
    /// with the most customers in the dataset).
    #[arg(long)]
    pub list_partner: Option<String>,
    #[command(flatten)]
    pub load: LoadArgs,
}

/// How `bench` deploys the server it measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    /// One `serve` process with the three services.
    Embedded,
    /// `migrate`, then one `serve` process per service (partner, customer,
    /// relationship) over the same store.
    Split,
}

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// embedded: one `serve` process; split: one per service, each call
    /// sent to its service's process (the ceiling and the checks to the
    /// relationship process's).
    #[arg(long, value_enum, default_value = "embedded")]
    pub topology: Topology,
    /// Rounds of each pair (ceiling, scenario); medians are reported.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Measured length of each run.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Warm-up before each run.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Scenarios to measure.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "check,user-check,batch-check,mixed,list,accept,transfer"
    )]
    pub scenarios: Vec<Scenario>,
    /// Partners to seed.
    #[arg(long, default_value_t = 40)]
    pub partners: usize,
    /// Customers to seed.
    #[arg(long, default_value_t = 1000)]
    pub customers: usize,
    /// The check latency is also measured open loop at this share of the
    /// check throughput found.
    #[arg(long, default_value_t = 0.5)]
    pub latency_load: f64,
    /// Connections in the store's pool of the server (and of the raw commit
    /// measurement); default: the service's default.
    #[arg(long)]
    pub max_connections: Option<u32>,
    /// Also measure webhooks (H4-H6): ListEvents pages, the write capacity,
    /// and deliveries with their lag at half of it.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub webhooks: bool,
    /// Serve this existing SQLite file (e.g. made by `partnercenter-load seed`)
    /// instead of seeding a fresh one; its secret is read from the
    /// `.jwt-secret` file beside it. Write scenarios change it.
    #[arg(long)]
    pub store: Option<std::path::PathBuf>,
    /// Also measure the scenarios against this running server (seeded
    /// through its API: give its secret).
    #[arg(long)]
    pub target: Option<SocketAddr>,
    /// The `partnercenter` binary to serve with [default: the one beside
    /// this binary, as `cargo build --release` leaves them].
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    #[command(flatten)]
    pub credentials: Credentials,
    #[command(flatten)]
    pub load: LoadArgs,
}

fn random_seed(given: Option<u64>) -> u64 {
    given.unwrap_or_else(rng::entropy_seed)
}

pub async fn run_loadtest(args: LoadtestArgs) -> Result<(), BoxError> {
    args.load.validate()?;
    if args.rate < 0.0 || !args.rate.is_finite() {
        return Err("--rate must be 0 (closed loop) or a positive number of calls per second".into());
    }
    let auth = args.credentials.auth()?;
    if args.scenario.writes() && !auth.can_mint() {
        return Err(format!("--scenario {} needs --secret (or --secret-file)", args.scenario.name()).into());
    }
    let seed = random_seed(args.load.random_seed);
    let targets = client::Targets::one(args.target);
    let channels = client::Channels::connect(targets, args.load.connections, args.load.timeout).await?;
    let mut data = if args.no_seed {
        let shape = dataset::DiscoverShape {
            sample: args.sample.max(1),
            detailed: args.detailed,
            concurrency: args.load.seed_concurrency,
        };
        dataset::discover(&channels, &auth, &shape).await?
    } else {
        if !auth.can_mint() {
            return Err("seeding acts as the operator, partners and customers: give --secret, or use --no-seed".into());
        }
        dataset::seed(
            &channels,
            &auth,
            &args.load.seed_shape(args.partners, args.customers, seed),
        )
        .await?
    };
    if args.scenario.writes() && data.invitations.is_empty() {
        // Twenty inviting partners give customers × 20 fresh pairs to accept.
        dataset::create_invitations(&mut data, &channels.relationship[0], 20, args.load.seed_concurrency).await?;
    }
    let list_partner = match &args.list_partner {
        Some(id) => Some(
            data.partners
                .iter()
                .position(|p| &p.id == id)
                .ok_or_else(|| format!("--list-partner {id} is not among the partners found"))?,
        ),
        None => None,
    };
    let summary = data.summary();
    eprintln!("dataset: {summary}");
    let ctx = scenarios::Ctx::new(channels, data, args.load.knobs(seed), list_partner);
    scenarios::check_feasible(args.scenario, &ctx, auth.can_mint())?;
    let plan = engine::Plan {
        name: args.scenario.name().to_owned(),
        concurrency: args.load.concurrency,
        rate: args.rate,
        warmup: args.warmup,
        duration: match (args.duration, args.requests) {
            (None, None) => Some(Duration::from_secs(10)),
            (duration, _) => duration,
        },
        requests: args.requests,
        max_duration: args.max_duration,
        call_timeout: args.load.timeout,
        progress: true,
    };
    let load = Arc::new(scenarios::ScenarioLoad {
        scenario: args.scenario,
        ctx: Arc::new(ctx),
    });
    let stats = engine::run(load, &plan).await?;
    let checks = (args.scenario == Scenario::BatchCheck).then_some(args.load.batch_size);
    let report = report::Report::new(
        &stats,
        &args.target.to_string(),
        &summary,
        args.load.connections,
        checks,
    )?;
    if args.load.json {
        println!("{}", report.to_json()?);
    } else {
        print!("{}", report.to_text());
    }
    if report.calls == 0 {
        return Err("no call completed in the measured phase".into());
    }
    if report.failed > 0 {
        return Err(format!("{} of {} calls failed", report.failed, report.calls).into());
    }
    Ok(())
}

pub async fn run_bench(args: BenchArgs) -> Result<(), BoxError> {
    args.load.validate()?;
    bench::run(args).await
}

/// "250ms", "5s", "2m", "1h", or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration such as 500ms, 10s or 2m"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("unknown unit '{other}' in '{text}': use ms, s, m or h")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|error| format!("'{text}': {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }
}
