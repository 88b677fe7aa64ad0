//! Configuration by section (`[server]`, `[store]`, `[auth]`,
//! `[relationships]`, `[topology]`, `[telemetry]`, `[webhooks]`), layered with figment:
//! built-in defaults, then a TOML file (`--config`), then `DATABASE_URL`,
//! then `PARTNERCENTER_<KEY>` environment variables, then command-line
//! flags. Each section is one typed struct ([`Config`] holds them) and one
//! struct of flags whose fields are all optional, so that a flag not given
//! leaves the layers below it. Durations are written with their unit
//! ("30s", "500ms", "24h"). A key's name is unique across the sections, so
//! its environment variable and its flag need no section.

mod auth;
mod relationships;
mod server;
mod store;
mod telemetry;
mod topology;
mod values;
mod webhooks;

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};

pub use auth::{AuthArgs, AuthSettings};
pub use relationships::{RelationshipArgs, RelationshipSettings};
pub use server::{ServerArgs, ServerSettings};
pub use store::{DEFAULT_DATABASE_URL, DatabaseArgs, StoreArgs, StoreSettings, redact_url};
pub use telemetry::{LogArgs, LogFormat, TelemetryArgs, TelemetrySettings};
pub use topology::{Services, TopologyArgs, TopologySettings};
pub use values::resolve_addr;
pub use webhooks::{WebhookArgs, WebhookSettings};

/// `PARTNERCENTER_<KEY>` sets the key `<key>` of its section.
pub const ENV_PREFIX: &str = "PARTNERCENTER_";

/// What the server runs with, section by section; `Default` gives the
/// built-in values (valid: a unit test checks them).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerSettings,
    pub store: StoreSettings,
    pub auth: AuthSettings,
    pub relationships: RelationshipSettings,
    pub topology: TopologySettings,
    pub telemetry: TelemetrySettings,
    pub webhooks: WebhookSettings,
}

/// The configuration file's flag, of every subcommand that reads the
/// configuration.
#[derive(Args, Clone, Debug, Default)]
pub struct ConfigFile {
    /// TOML configuration file [default: none].
    #[arg(long, env = "PARTNERCENTER_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Every flag of `serve`: each section's.
#[derive(Args, Clone, Debug, Default)]
pub struct ServeArgs {
    #[command(flatten)]
    pub file: ConfigFile,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(flatten)]
    pub relationships: RelationshipArgs,
    #[command(flatten)]
    pub topology: TopologyArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
}

impl ServeArgs {
    pub fn flags(&self) -> Flags {
        Flags::default()
            .section("server", &self.server)
            .section("store", &self.store)
            .section("auth", &self.auth)
            .section("relationships", &self.relationships)
            .section("topology", &self.topology)
            .section("telemetry", &self.telemetry)
            .section("webhooks", &self.webhooks)
    }
}

/// The flags given, by section: the top layer.
#[derive(Clone, Debug, Default)]
pub struct Flags(Dict);

impl Flags {
    /// Adds the flags of `args` (a section's flag struct) that were given.
    pub fn section(mut self, name: &str, args: &impl Serialize) -> Self {
        let given = dict(args)
            .into_iter()
            .filter(|(_, value)| !matches!(value, Value::Empty(..)));
        if let Value::Dict(_, section) = self
            .0
            .entry(name.to_owned())
            .or_insert_with(|| Value::from(Dict::new()))
        {
            section.extend(given);
        }
        self
    }
}

/// A loaded configuration and the deprecated spellings it was given in,
/// to be logged once logging is set up.
pub struct Loaded {
    pub config: Config,
    pub deprecated: Vec<String>,
}

impl Loaded {
    /// At start-up: each deprecation, then the configuration, one line per
    /// section (plain values, no Rust debug syntax), secrets redacted.
    pub fn log(&self) {
        for deprecation in &self.deprecated {
            tracing::warn!("{deprecation}");
        }
        let Ok(serde_json::Value::Object(mut sections)) = serde_json::to_value(&self.config) else {
            return;
        };
        // In the order of `Config`, the one a reader knows.
        for section in [
            "server",
            "store",
            "auth",
            "relationships",
            "topology",
            "telemetry",
            "webhooks",
        ] {
            let Some(serde_json::Value::Object(values)) = sections.remove(section) else {
                continue;
            };
            let settings: Vec<String> = values
                .into_iter()
                .map(|(key, value)| {
                    let shown = match (key.as_str(), value) {
                        ("jwt_secret" | "webhook_secret_key", serde_json::Value::String(_)) => "<redacted>".to_owned(),
                        ("database_url", serde_json::Value::String(url)) => redact_url(&url),
                        (_, serde_json::Value::Null) => "none".to_owned(),
                        (_, serde_json::Value::String(text)) if text.is_empty() || text.contains(' ') => {
                            format!("{text:?}")
                        }
                        (_, serde_json::Value::String(text)) => text,
                        (_, other) => other.to_string(),
                    };
                    format!("{key}={shown}")
                })
                .collect();
            tracing::info!(section, settings = %settings.join(" "), "configuration");
        }
    }
}

impl Config {
    /// The authority of a server: its secret configured, or generated
    /// beside the SQLite file on first use.
    pub fn token_authority(&self) -> Result<crate::auth::TokenAuthority, String> {
        self.auth.authority(&self.store, true)
    }

    /// H5, I3: the key material sealing webhook signing secrets and
    /// invitation codes: the
    /// configured key, or else the token secret (the sealer derives its own
    /// key from either, so the two never share one).
    pub fn webhook_key_material(&self) -> Result<Vec<u8>, String> {
        match &self.webhooks.webhook_secret_key {
            Some(key) => Ok(key.as_bytes().to_vec()),
            None => Ok(self.auth.secret(&self.store, true)?.0),
        }
    }

    /// The authority of `token`: the secret a running server uses, never a
    /// new one (its tokens would be refused).
    pub fn existing_token_authority(&self) -> Result<crate::auth::TokenAuthority, String> {
        self.auth.authority(&self.store, false)
    }

    /// The layers, lowest first: defaults, the file, `DATABASE_URL`,
    /// `PARTNERCENTER_<KEY>`, the flags given (clap has already put a
    /// flag's own environment variable under it); then every value checked.
    pub fn load(file: &ConfigFile, flags: &Flags) -> Result<Loaded, String> {
        let keys = Keys::of_defaults();
        let mut deprecated = Vec::new();
        let mut figment = Figment::from(Layer::defaults());
        if let Some(path) = &file.config {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "cannot read the configuration file {}: {e}; check --config or PARTNERCENTER_CONFIG",
                    path.display()
                )
            })?;
            let invalid = |why: String| {
                format!(
                    "the configuration file {} is not valid: {why}; check the file, or --config or PARTNERCENTER_CONFIG",
                    path.display()
                )
            };
            let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
                let line = e.span().map_or(0, |span| text[..span.start].lines().count().max(1));
                invalid(format!("line {line}: {}", e.message()))
            })?;
            let table = keys.relocate(table, &mut deprecated);
            let layer = Layer {
                name: format!("the configuration file {}", path.display()),
                data: dict(&table),
                spell: |path| path.join("."),
            };
            // The file alone over the defaults first, so that its errors
            // (an unknown key, a wrong type) name it.
            figment
                .clone()
                .merge(layer.clone())
                .extract::<Config>()
                .map_err(|e| invalid(describe(e)))?;
            figment = figment.merge(layer);
        }
        let flags = Layer {
            name: "the flags".to_owned(),
            data: flags.0.clone(),
            // clap gives a flag's environment variable as the flag.
            spell: |path| {
                let key = path.last().unwrap_or(&"");
                format!("--{} (or {})", key.replace('_', "-"), env_name(key))
            },
        };
        let mut config: Config = figment
            .merge(keys.environment(&mut deprecated))
            .merge(flags)
            .extract()
            .map_err(|e| format!("the configuration is not valid: {}", describe(e)))?;
        config.check()?;
        Ok(Loaded { config, deprecated })
    }

    /// Checks what one value alone cannot say, and clamps what would spin.
    fn check(&mut self) -> Result<(), String> {
        self.store.check()?;
        self.server.check()?;
        self.auth.check()?;
        self.relationships.check()?;
        self.topology.check()?;
        self.telemetry.check()?;
        self.webhooks.check()?;
        if self.store.sole_writer && !self.topology.services.all() {
            return Err("sole_writer = true needs all three services in this process: in the split deployment every service process writes".to_owned());
        }
        Ok(())
    }
}

/// One layer of values by section, named in its errors as its source
/// spells a key (`server.listen`, `PARTNERCENTER_LISTEN`, `--listen`).
#[derive(Clone)]
struct Layer {
    name: String,
    data: Dict,
    spell: fn(&[&str]) -> String,
}

impl Layer {
    fn defaults() -> Layer {
        Layer {
            name: "the built-in defaults".to_owned(),
            data: dict(&Config::default()),
            spell: |path| path.join("."),
        }
    }
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        let spell = self.spell;
        Metadata::named(self.name.clone()).interpolater(move |_: &Profile, path: &[&str]| spell(path))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Global.collect(self.data.clone()))
    }
}

fn dict(value: &impl Serialize) -> Dict {
    match Value::serialize(value) {
        Ok(Value::Dict(_, dict)) => dict,
        _ => Dict::new(),
    }
}

/// Each problem as `KEY: what`, the key as its layer spells it.
fn describe(error: figment::Error) -> String {
    let problems: Vec<String> = error
        .into_iter()
        .map(|problem| {
            let path: Vec<&str> = problem.path.iter().map(String::as_str).collect();
            let key = match &problem.metadata {
                Some(metadata) if !path.is_empty() => metadata.interpolate(&Profile::Global, &path),
                _ => path.join("."),
            };
            if key.is_empty() {
                problem.kind.to_string()
            } else {
                format!("{key}: {}", problem.kind)
            }
        })
        .collect();
    problems.join("; ")
}

fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

/// An environment variable set to an empty value counts as unset, as clap
/// treats it for the flags.
fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// One key: its section, and whether its value is text (taken as written
/// from the environment; other values are parsed).
struct Key {
    section: String,
    name: String,
    text: bool,
    default: String,
}

/// Every key, read off the defaults.
struct Keys(Vec<Key>);

impl Keys {
    fn of_defaults() -> Keys {
        let Ok(serde_json::Value::Object(sections)) = serde_json::to_value(Config::default()) else {
            return Keys(Vec::new());
        };
        let mut keys = Vec::new();
        for (section, values) in sections {
            let serde_json::Value::Object(values) = values else {
                continue;
            };
            for (name, default) in values {
                keys.push(Key {
                    section: section.clone(),
                    name,
                    text: default.is_string() || default.is_null(),
                    default: match default {
                        serde_json::Value::String(text) => text,
                        serde_json::Value::Null => "none".to_owned(),
                        other => other.to_string(),
                    },
                });
            }
        }
        Keys(keys)
    }

    fn find(&self, name: &str) -> Option<&Key> {
        self.0.iter().find(|key| key.name == name)
    }

    fn is_section(&self, name: &str) -> bool {
        self.0.iter().any(|key| key.section == name)
    }

    /// A key of before durations had units (`rpc_timeout_seconds`): the key
    /// it became and the unit its number was in.
    fn unit_suffixed(&self, name: &str) -> Option<(&Key, &'static str)> {
        [("_seconds", "s"), ("_millis", "ms")]
            .into_iter()
            .find_map(|(suffix, unit)| Some((self.find(name.strip_suffix(suffix)?)?, unit)))
    }

    /// The file as sections: a key at the top (the layout before sections)
    /// or with a unit in its name is moved where it belongs, with a
    /// deprecation; a key of the section itself wins over either. Unknown
    /// keys stay where they are, to be refused naming them.
    fn relocate(&self, table: toml::Table, deprecated: &mut Vec<String>) -> toml::Table {
        let mut sections = toml::Table::new();
        let mut moved = Vec::new();
        for (name, value) in table {
            match value {
                toml::Value::Table(values) if self.is_section(&name) => {
                    for (key, value) in values {
                        match self.unit_suffixed(&key).filter(|(new, _)| new.section == name) {
                            Some((new, unit)) => {
                                let value = with_unit(value, unit);
                                deprecated.push(format!(
                                    "the configuration file's `{key}` under [{name}] is deprecated: write `{} = {value}`",
                                    new.name
                                ));
                                moved.push((name.clone(), new.name.clone(), value));
                            }
                            None => put(&mut sections, &name, key, value, true),
                        }
                    }
                }
                value => {
                    if let Some(key) = self.find(&name) {
                        deprecated.push(format!(
                            "the configuration file's `{name}` at the top is deprecated: put it under [{}]",
                            key.section
                        ));
                        moved.push((key.section.clone(), name, value));
                    } else if let Some((key, unit)) = self.unit_suffixed(&name) {
                        let value = with_unit(value, unit);
                        deprecated.push(format!(
                            "the configuration file's `{name}` is deprecated: write `{} = {value}` under [{}]",
                            key.name, key.section
                        ));
                        moved.push((key.section.clone(), key.name.clone(), value));
                    } else {
                        sections.insert(name, value);
                    }
                }
            }
        }
        for (name, key, value) in moved {
            put(&mut sections, &name, key, value, false);
        }
        sections
    }

    /// `DATABASE_URL`, then every `PARTNERCENTER_<KEY>` (a key with a unit
    /// in its name, deprecated, under the key it became).
    fn environment(&self, deprecated: &mut Vec<String>) -> Layer {
        let mut data: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
        if let Some(url) = env_value("DATABASE_URL") {
            data.entry("store".to_owned())
                .or_default()
                .insert("database_url".to_owned(), Value::from(url));
        }
        let mut names: Vec<String> = std::env::vars_os()
            .filter_map(|(name, _)| name.into_string().ok())
            .filter(|name| name.starts_with(ENV_PREFIX))
            .collect();
        names.sort();
        let mut given = Vec::new();
        for name in names {
            let Some(value) = env_value(&name) else {
                continue;
            };
            let key = name[ENV_PREFIX.len()..].to_ascii_lowercase();
            if let Some(key) = self.find(&key) {
                given.push((key, value));
            } else if let Some((new, unit)) = self.unit_suffixed(&key) {
                let value = match value.trim().parse::<u64>() {
                    Ok(number) => format!("{number}{unit}"),
                    Err(_) => value,
                };
                deprecated.push(format!("{name} is deprecated: set {}={value}", env_name(&new.name)));
                data.entry(new.section.clone())
                    .or_default()
                    .insert(new.name.clone(), Value::from(value));
            }
        }
        // A key's own variable wins over its deprecated spelling.
        for (key, value) in given {
            // figment parses values (`007` becomes 7, `"x"` loses its
            // quotes): text (secrets, URLs) is taken as written.
            let value = if key.text {
                Value::from(value)
            } else {
                let Ok(parsed) = value.parse::<Value>();
                parsed
            };
            data.entry(key.section.clone())
                .or_default()
                .insert(key.name.clone(), value);
        }
        Layer {
            name: "the environment".to_owned(),
            data: dict(&data),
            spell: |path| path.last().map(|key| env_name(key)).unwrap_or_default(),
        }
    }
}

/// Puts `key` under `[name]`; over a value already there only if `over`.
fn put(sections: &mut toml::Table, name: &str, key: String, value: toml::Value, over: bool) {
    let section = sections
        .entry(name.to_owned())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    // A section that is not a table is refused when the file is read.
    if let toml::Value::Table(section) = section
        && (over || !section.contains_key(&key))
    {
        section.insert(key, value);
    }
}

/// A number of seconds or milliseconds as a duration with its unit.
fn with_unit(value: toml::Value, unit: &str) -> toml::Value {
    match value {
        toml::Value::Integer(number) => toml::Value::String(format!("{number}{unit}")),
        other => other,
    }
}

/// The help of each flag of a configuration key gets the key's default
/// and its environment variable, both read off the keys themselves.
pub fn document(command: clap::Command) -> clap::Command {
    let keys = Keys::of_defaults();
    command.mut_subcommands(|subcommand| {
        // Only the subcommands that read the configuration: the load tools
        // have flags of their own.
        if !subcommand.get_arguments().any(|arg| arg.get_id() == "config") {
            return subcommand;
        }
        subcommand.mut_args(|arg| {
            let Some(key) = keys.find(arg.get_id().as_str()) else {
                return arg;
            };
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            arg.help(format!("{help} [default: {}]", key.default))
                .env(env_name(&key.name))
                .hide_env_values(true)
        })
    })
}

#[cfg(test)]
mod tests;
