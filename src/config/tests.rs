use std::path::PathBuf;
use std::time::Duration;

use figment::Jail;

use super::*;

/// Loads in a jail: only the environment the test sets (plus what the
/// process already has, none of which is a key).
fn load_in(jail: &mut Jail, file: Option<&str>, flags: &Flags) -> Result<Loaded, String> {
    jail.clear_env();
    let file = match file {
        Some(text) => {
            jail.create_file("partnercenter.toml", text).expect("file written");
            ConfigFile {
                config: Some(jail.directory().join("partnercenter.toml")),
            }
        }
        None => ConfigFile::default(),
    };
    Config::load(&file, flags)
}

/// figment's Jail: one such test at a time, with its own environment
/// variables and directory.
#[allow(clippy::result_large_err)] // the closure returns figment::Result
fn jailed(test: impl FnOnce(&mut Jail)) {
    Jail::expect_with(|jail| {
        test(jail);
        Ok(())
    });
}

fn loaded(file: &str) -> Loaded {
    let mut loaded = None;
    jailed(|jail| loaded = Some(load_in(jail, Some(file), &Flags::default()).expect("loads")));
    loaded.expect("loaded")
}

fn refused(file: &str) -> String {
    let mut error = String::new();
    jailed(|jail| {
        error = load_in(jail, Some(file), &Flags::default()).err().expect("refused");
    });
    error
}

fn in_this_directory(jail: &Jail) -> ConfigFile {
    ConfigFile {
        config: Some(jail.directory().join("partnercenter.toml")),
    }
}

#[test]
fn redacts_passwords() {
    assert_eq!(
        redact_url("postgres://pc:hunter2@db:5432/pc"),
        "postgres://pc:<redacted>@db:5432/pc"
    );
    assert_eq!(redact_url(DEFAULT_DATABASE_URL), DEFAULT_DATABASE_URL);
}

#[test]
fn the_built_in_settings_are_valid() {
    assert!(Config::default().check().is_ok());
    jailed(|jail| {
        let loaded = load_in(jail, None, &Flags::default()).expect("loads");
        assert_eq!(loaded.config.server, ServerSettings::default());
        assert!(loaded.deprecated.is_empty());
    });
}

/// The example file sets every key in its section, each to its default.
#[test]
fn the_example_file_is_every_default() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/partnercenter.example.toml");
    let text = std::fs::read_to_string(&path).expect("the example is readable");
    let mut example: toml::Table = text.parse().expect("the example is TOML");
    let defaults = serde_json::to_value(Config::default()).expect("serialized");
    for key in Keys::of_defaults().0 {
        let section = example
            .get_mut(&key.section)
            .and_then(toml::Value::as_table_mut)
            .unwrap_or_else(|| panic!("[{}] is missing from the example", key.section));
        // A secret or an optional key is shown commented out.
        if section.remove(&key.name).is_none() {
            assert!(
                defaults[&key.section][&key.name].is_null(),
                "{} is missing from [{}] of the example",
                key.name,
                key.section
            );
        }
    }
    example.retain(|_, section| section.as_table().is_none_or(|keys| !keys.is_empty()));
    assert!(example.is_empty(), "keys that are not settings: {example:?}");
    // Each value is the default ("24h" and "1day" alike).
    let loaded = loaded(&text);
    assert!(loaded.deprecated.is_empty(), "{:?}", loaded.deprecated);
    assert_eq!(serde_json::to_value(&loaded.config).expect("serialized"), defaults);
}

/// File < environment < flag, key by key; `DATABASE_URL` sits under
/// `PARTNERCENTER_DATABASE_URL`.
#[test]
fn layers_file_then_environment_then_flags() {
    jailed(|jail| {
        let file = "[store]\nmax_connections = 2\ndatabase_url = \"sqlite://file.db\"\n\
                    [telemetry]\nlog_format = \"json\"\n\
                    [server]\ndrain_timeout = \"7s\"\nlisten = \"127.0.0.1:7000\"\n";
        let from_file = load_in(jail, Some(file), &Flags::default()).expect("loads").config;
        assert_eq!(from_file.store.max_connections, 2);
        assert_eq!(from_file.server.drain_timeout, Duration::from_secs(7));
        assert_eq!(from_file.store.database_url, "sqlite://file.db");

        jail.set_env("PARTNERCENTER_MAX_CONNECTIONS", 3);
        jail.set_env("PARTNERCENTER_DRAIN_TIMEOUT", "9s");
        jail.set_env("PARTNERCENTER_LISTEN", "127.0.0.1:7001");
        jail.set_env("DATABASE_URL", "sqlite://fallback.db");
        // load_in clears the environment: set it again after.
        let file = in_this_directory(jail);
        let from_env = Config::load(&file, &Flags::default()).expect("loads").config;
        assert_eq!(from_env.store.max_connections, 3);
        assert_eq!(from_env.server.drain_timeout, Duration::from_secs(9));
        assert_eq!(from_env.telemetry.log_format, LogFormat::Json, "the file still counts");
        assert_eq!(from_env.store.database_url, "sqlite://fallback.db");
        jail.set_env("PARTNERCENTER_DATABASE_URL", "sqlite://env.db");
        assert_eq!(
            Config::load(&file, &Flags::default())
                .expect("loads")
                .config
                .store
                .database_url,
            "sqlite://env.db"
        );

        let args = ServeArgs {
            server: ServerArgs {
                listen: Some("127.0.0.1:7002".into()),
                ..ServerArgs::default()
            },
            store: StoreArgs {
                database: DatabaseArgs {
                    database_url: Some("sqlite://flag.db".into()),
                },
                max_connections: Some(4),
                ..StoreArgs::default()
            },
            topology: TopologyArgs {
                services: Some("customer".into()),
                partner_service_url: Some("http://127.0.0.1:7003".into()),
                customer_service_url: Some("http://127.0.0.1:7002".into()),
                relationship_service_url: Some("http://127.0.0.1:7004".into()),
            },
            telemetry: TelemetryArgs {
                log: LogArgs {
                    log_format: Some(LogFormat::Text),
                },
                metrics_listen: Some("off".into()),
                otlp_endpoint: None,
            },
            ..ServeArgs::default()
        };
        let from_flags = Config::load(&file, &args.flags()).expect("loads").config;
        assert_eq!(from_flags.store.max_connections, 4);
        assert_eq!(from_flags.telemetry.log_format, LogFormat::Text);
        assert_eq!(from_flags.store.database_url, "sqlite://flag.db");
        assert_eq!(from_flags.server.listen, "127.0.0.1:7002".parse().expect("address"));
        assert_eq!(from_flags.telemetry.metrics_listen, None);
        // The split deployment: a process ignores its own service's URL.
        let topology = &from_flags.topology;
        assert_eq!(
            topology.services,
            Services {
                partner: false,
                customer: true,
                relationship: false
            }
        );
        assert_eq!(topology.partner_service_url.as_deref(), Some("http://127.0.0.1:7003"));
        assert_eq!(topology.customer_service_url, None);
        assert_eq!(
            topology.relationship_service_url.as_deref(),
            Some("http://127.0.0.1:7004")
        );
        assert_eq!(
            from_flags.server.drain_timeout,
            Duration::from_secs(9),
            "no flag: the environment"
        );
    });
}

/// Every key is read from the environment, numbers and text alike; an
/// empty variable counts as unset.
#[test]
fn every_key_is_read_from_the_environment() {
    jailed(|jail| {
        jail.clear_env();
        jail.set_env("PARTNERCENTER_WATCH_POLL", "200ms");
        jail.set_env("PARTNERCENTER_INVITATION_DEFAULT_DAYS", 30);
        jail.set_env("PARTNERCENTER_MAX_MESSAGE_BYTES", 8 << 20);
        jail.set_env("PARTNERCENTER_STATEMENT_TIMEOUT", "5s");
        jail.set_env("PARTNERCENTER_ACCESS_INDEX", "false");
        jail.set_env("PARTNERCENTER_JWT_SECRET", "00123456789012345.50");
        jail.set_env("PARTNERCENTER_INVITATION_BASE_URL", "\"https://x.example/\"");
        jail.set_env("PARTNERCENTER_JWT_AUDIENCE", "");
        let config = Config::load(&ConfigFile::default(), &Flags::default())
            .expect("loads")
            .config;
        assert_eq!(config.relationships.watch_poll, Duration::from_millis(200));
        assert_eq!(config.relationships.invitation_default_days, 30);
        assert!(!config.relationships.access_index);
        assert_eq!(config.server.max_message_bytes, 8 << 20);
        assert_eq!(config.store.statement_timeout, Duration::from_secs(5));
        assert_eq!(
            config.auth.jwt_secret.as_deref(),
            Some("00123456789012345.50"),
            "taken as written"
        );
        assert_eq!(config.relationships.invitation_base_url, "\"https://x.example/\"");
        assert_eq!(config.auth.jwt_audience, None);
    });
}

/// A wrong value in the environment names the variable.
#[test]
fn a_wrong_environment_value_names_the_variable() {
    jailed(|jail| {
        jail.clear_env();
        jail.set_env("PARTNERCENTER_WATCH_BUFFER", "many");
        let error = Config::load(&ConfigFile::default(), &Flags::default())
            .err()
            .expect("refused");
        assert!(error.contains("PARTNERCENTER_WATCH_BUFFER: invalid type"), "{error}");
    });
}

#[test]
fn an_unknown_key_or_a_wrong_type_names_the_key_and_the_file() {
    for (file, key) in [
        ("[store]\nmax_conections = 3\n", "max_conections"),
        ("max_conections = 3\n", "max_conections"),
        ("[sever]\nlisten = \"127.0.0.1:1\"\n", "sever"),
        (
            "[relationships]\nwatch_buffer = \"big\"\n",
            "relationships.watch_buffer",
        ),
        ("[server]\nlisten = \"nowhere\"\n", "server.listen"),
    ] {
        let error = refused(file);
        assert!(error.contains(key), "{error}");
        assert!(error.contains("partnercenter.toml"), "{error}");
        assert!(error.contains("--config"), "{error}");
    }
}

#[test]
fn a_missing_file_names_it_and_the_flag() {
    jailed(|jail| {
        let file = ConfigFile {
            config: Some(jail.directory().join("absent.toml")),
        };
        let error = Config::load(&file, &Flags::default()).err().expect("refused");
        assert!(error.contains("absent.toml") && error.contains("--config"), "{error}");
    });
}

#[test]
fn zero_values_and_days_out_of_range_are_refused() {
    for (file, expected) in [
        ("[store]\nmax_connections = 0\n", "max_connections must be at least 1"),
        ("[server]\nrpc_timeout = \"0s\"\n", "rpc_timeout must be longer than 0s"),
        (
            "[server]\nmax_in_flight_rpcs = 0\n",
            "max_in_flight_rpcs must be at least 1",
        ),
        (
            "[auth]\njwt_max_lifetime = \"0s\"\n",
            "jwt_max_lifetime must be at least 1s",
        ),
        ("[relationships]\ninvitation_default_days = 0\n", "between 1 and 365"),
        ("[relationships]\ninvitation_default_days = 366\n", "between 1 and 365"),
        (
            "[store]\ndatabase_url = \"mysql://db/pc\"\n",
            "'mysql://db/pc' is neither SQLite nor PostgreSQL",
        ),
    ] {
        let error = refused(file);
        assert!(error.contains(expected), "{file}: {error}");
    }
}

/// W3: list pages are cut at MAX_PAGE_BYTES; a message limit below
/// twice that is refused at start, naming the key and the floor.
#[test]
fn w3_a_message_limit_below_the_page_budget_is_refused() {
    let error = refused("[server]\nmax_message_bytes = 1048576\n");
    assert!(error.contains("max_message_bytes must be at least 4194304"), "{error}");
}

/// Durations carry their unit, in the file, the environment and the flags.
#[test]
fn durations_are_written_with_their_unit() {
    jailed(|jail| {
        let file = "[server]\nrpc_timeout = \"1m 30s\"\ndrain_timeout = \"500ms\"\n\
                    [auth]\njwt_max_lifetime = \"1h\"\n[relationships]\nsweep_interval = \"2min\"\n";
        let config = load_in(jail, Some(file), &Flags::default()).expect("loads").config;
        assert_eq!(config.server.rpc_timeout, Duration::from_secs(90));
        assert_eq!(config.server.drain_timeout, Duration::from_millis(500));
        assert_eq!(config.auth.jwt_max_lifetime, Duration::from_secs(3600));
        assert_eq!(config.relationships.sweep_interval, Duration::from_secs(120));

        jail.set_env("PARTNERCENTER_RPC_TIMEOUT", "2s");
        let file = in_this_directory(jail);
        let from_env = Config::load(&file, &Flags::default()).expect("loads").config;
        assert_eq!(from_env.server.rpc_timeout, Duration::from_secs(2));
        let flags = Flags::default().section(
            "server",
            &ServerArgs {
                rpc_timeout: Some(Duration::from_millis(1500)),
                ..ServerArgs::default()
            },
        );
        let from_flags = Config::load(&file, &flags).expect("loads").config;
        assert_eq!(from_flags.server.rpc_timeout, Duration::from_millis(1500));
    });
}

/// A duration without its unit is refused, naming where it was given.
#[test]
fn a_duration_without_its_unit_is_refused_naming_the_key() {
    let error = refused("[server]\nrpc_timeout = 30\n");
    assert!(error.contains("server.rpc_timeout"), "{error}");
    let error = refused("[server]\nrpc_timeout = \"30\"\n");
    assert!(
        error.contains("server.rpc_timeout") && error.contains("unit"),
        "{error}"
    );
    jailed(|jail| {
        jail.clear_env();
        jail.set_env("PARTNERCENTER_WATCH_GRACE", "5");
        let error = Config::load(&ConfigFile::default(), &Flags::default())
            .err()
            .expect("refused");
        assert!(
            error.contains("PARTNERCENTER_WATCH_GRACE") && error.contains("unit"),
            "{error}"
        );
    });
}

/// The file as it was before sections, and the keys that had their unit in
/// their name (`_seconds`, `_millis`), still load, each with a deprecation
/// that says how to write it now; the new spelling wins over the old.
#[test]
fn the_former_spellings_load_with_a_deprecation() {
    let loaded = loaded(
        "listen = \"127.0.0.1:7000\"\nrpc_timeout_seconds = 7\nwatch_poll_millis = 200\n\
         [relationships]\nsweep_interval_seconds = 5\n[store]\nacquire_timeout_seconds = 3\nacquire_timeout = \"4s\"\n",
    );
    let config = &loaded.config;
    assert_eq!(config.server.listen, "127.0.0.1:7000".parse().expect("address"));
    assert_eq!(config.server.rpc_timeout, Duration::from_secs(7));
    assert_eq!(config.relationships.watch_poll, Duration::from_millis(200));
    assert_eq!(config.relationships.sweep_interval, Duration::from_secs(5));
    assert_eq!(config.store.acquire_timeout, Duration::from_secs(4), "the new key wins");
    let deprecated = loaded.deprecated.join("\n");
    assert!(
        deprecated.contains("`listen` at the top is deprecated: put it under [server]"),
        "{deprecated}"
    );
    assert!(
        deprecated.contains("`rpc_timeout_seconds` is deprecated: write `rpc_timeout = \"7s\"` under [server]"),
        "{deprecated}"
    );
    assert!(deprecated.contains("`watch_poll = \"200ms\"`"), "{deprecated}");
    assert_eq!(loaded.deprecated.len(), 5, "{deprecated}");

    jailed(|jail| {
        jail.clear_env();
        jail.set_env("PARTNERCENTER_DRAIN_TIMEOUT_SECONDS", 9);
        jail.set_env("PARTNERCENTER_JWT_MAX_LIFETIME_SECONDS", 7200);
        jail.set_env("PARTNERCENTER_JWT_MAX_LIFETIME", "3h");
        let loaded = Config::load(&ConfigFile::default(), &Flags::default()).expect("loads");
        assert_eq!(loaded.config.server.drain_timeout, Duration::from_secs(9));
        assert_eq!(loaded.config.auth.jwt_max_lifetime, Duration::from_secs(3 * 3600));
        assert!(
            loaded.deprecated.contains(
                &"PARTNERCENTER_DRAIN_TIMEOUT_SECONDS is deprecated: set PARTNERCENTER_DRAIN_TIMEOUT=9s".to_owned()
            ),
            "{:?}",
            loaded.deprecated
        );
    });
}

#[test]
fn finds_the_sqlite_file() {
    let store = StoreSettings::default();
    assert_eq!(store.sqlite_file(), Some(PathBuf::from("partnercenter.db")));
    let memory = StoreSettings {
        database_url: "sqlite::memory:".into(),
        ..StoreSettings::default()
    };
    assert_eq!(memory.sqlite_file(), None);
}

#[test]
fn split_services_need_the_urls_of_the_services_they_reach() {
    let with = |services: &str, urls: [Option<&str>; 3]| {
        let mut topology = TopologySettings {
            services: Services::parse(services)?,
            partner_service_url: urls[0].map(str::to_owned),
            customer_service_url: urls[1].map(str::to_owned),
            relationship_service_url: urls[2].map(str::to_owned),
        };
        topology.check().map(|()| topology)
    };
    assert!(with("partner,customer,relationship", [None, None, None]).is_ok_and(|t| t.services.all()));
    assert!(with("all", [None, None, None]).is_ok_and(|t| t.services.all()));
    let error = with("customer", [None, None, Some("http://127.0.0.1:1")])
        .err()
        .unwrap_or_default();
    assert!(error.contains("--partner-service-url"), "{error}");
    let error = with("partner", [None, None, None]).err().unwrap_or_default();
    assert!(error.contains("--relationship-service-url"), "{error}");
    // The relationship process reaches only the partner service.
    assert!(with("relationship", [Some("http://127.0.0.1:1"), None, None]).is_ok());
    let error = with("relationship", [Some("127.0.0.1:1"), None, None])
        .err()
        .unwrap_or_default();
    assert!(error.contains("http://HOST:PORT"), "{error}");
    let error = with("partner,billing", [None, None, None]).err().unwrap_or_default();
    assert!(error.contains("'billing' is not a service"), "{error}");
    assert!(with(",", [None, None, None]).is_err());
}

/// The sole writer is one process with all three services.
#[test]
fn sole_writer_needs_every_service_here() {
    let error = refused(
        "[store]\nsole_writer = true\n[topology]\nservices = \"relationship\"\npartner_service_url = \"http://127.0.0.1:1\"\n",
    );
    assert!(error.contains("sole_writer = true needs all three services"), "{error}");
}

/// The configuration files of the Kubernetes manifests load as they are,
/// in today's spelling.
#[test]
fn the_kubernetes_configuration_files_load() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes");
    for manifest in ["configmap.yaml", "split/configmap.yaml"] {
        let yaml = std::fs::read_to_string(root.join(manifest)).expect("the manifest is readable");
        // The block scalar `partnercenter.toml: |`, indented four spaces.
        let toml: String = yaml
            .lines()
            .skip_while(|line| !line.contains("partnercenter.toml: |"))
            .skip(1)
            .take_while(|line| line.is_empty() || line.starts_with("    "))
            .map(|line| format!("{}\n", line.trim_start()))
            .collect();
        assert!(toml.contains("[server]"), "{manifest}: no configuration file found");
        let loaded = loaded(&toml);
        assert!(loaded.deprecated.is_empty(), "{manifest}: {:?}", loaded.deprecated);
    }
}
