//! Configuration from the environment (BEHAVIOUR §12), validated once at
//! start-up: a bad value stops the server with a message naming the variable.

use entity::Secret;
use std::net::SocketAddr;
use std::time::Duration;

/// Everything the server reads from its environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// `DATABASE_URL`: SQLite file (default) or `postgres://…`.
    pub database_url: Secret,
    /// `REDIS_URL`: when set, events fan out through Redis; unset, an in-process bus.
    pub redis_url: Option<Secret>,
    /// `KASSA_EVENTS_CHANNEL`: the Redis channel instances of one deployment share.
    pub events_channel: String,
    /// `KASSA_EVENT_BUFFER`: events buffered per subscriber before a slow one is dropped.
    pub event_buffer: usize,
    /// `KASSA_BIND`: the address `serve` listens on.
    pub bind: SocketAddr,
    /// `KASSA_PUBLIC_URL`: where browsers reach this server (file URLs and
    /// the plugin snippet); default `http://<KASSA_BIND>`.
    pub public_url: String,
    /// `KASSA_POSTBACK_RETRY_SCHEDULE`: delays between postback attempts.
    pub postback_retry_schedule: Vec<Duration>,
    /// `KASSA_POSTBACK_LEASE`: how long a worker's claim on a postback lasts; a
    /// crashed worker's postbacks are taken over after it.
    pub postback_lease: Duration,
    /// `KASSA_POSTBACK_POLL`: how often a worker looks for due postbacks queued
    /// by other instances (its own instance wakes it at once).
    pub postback_poll: Duration,
    /// `KASSA_POSTBACK_WORKER=0`: this instance serves the API but delivers no
    /// postbacks (another instance does).
    pub postback_worker: bool,
    /// `KASSA_POSTBACK_CONCURRENCY`: deliveries in flight at once per instance.
    pub postback_concurrency: usize,
    /// `KASSA_POSTBACK_PER_MERCHANT`: one merchant's deliveries in flight at
    /// once (over every instance), so a hanging endpoint holds only these.
    pub postback_per_merchant: usize,
    /// `KASSA_POSTBACK_CIRCUIT_FAILURES`: failures in a row that open an endpoint's circuit.
    pub postback_circuit_failures: usize,
    /// `KASSA_POSTBACK_CIRCUIT_COOLDOWN`: how long an open circuit waits for its
    /// first probe (doubling on each reopening, at most 10 minutes).
    pub postback_circuit_cooldown: Duration,
    /// `KASSA_POSTBACK_SHUTDOWN_GRACE`: how long attempts in flight may run on
    /// at shutdown before they are cut and their claims released (≤ the 10 s timeout).
    pub postback_shutdown_grace: Duration,
    /// `KASSA_ALLOW_PRIVATE_URLS=1`: postback URLs may point at private addresses.
    pub allow_private_urls: bool,
    /// `KASSA_ACTIVATION_TTL`: how long a WAITING activation request lives.
    pub activation_ttl: Duration,
    /// `KASSA_SESSION_IDLE`: a session with no request for this long ends (PCI DSS 8.2.8).
    pub session_idle: Duration,
    /// `KASSA_SESSION_MAX`: a session ends this long after sign-in, active or not.
    pub session_max: Duration,
    /// `KASSA_SESSION_CHECK`: how often open sockets' sessions are checked for expiry.
    pub session_check: Duration,
    /// `KASSA_PLAYGROUND=0` hides GraphiQL at `GET /graphql`.
    pub playground: bool,
    /// `KASSA_INTROSPECTION=0` turns schema introspection off.
    pub introspection: bool,
    /// `KASSA_LOGIN_RATE`: `login` calls per minute per client address.
    pub login_rate_per_minute: u32,
    /// `KASSA_ACTIVATION_RATE`: `activateDeposit` calls per minute per client address.
    pub activation_rate_per_minute: u32,
    /// `KASSA_BODY_LIMIT`: largest JSON request body, in bytes.
    pub body_limit: usize,
    /// `KASSA_RESPONSE_LIMIT`: largest JSON response, in bytes.
    pub response_limit: usize,
    /// `KASSA_PURGE_EVERY`: how often expired sign-in failure rows are deleted.
    pub purge_every: Duration,
    /// `KASSA_TRUSTED_PROXIES`: comma list of CIDRs whose `X-Forwarded-For`
    /// is believed (rate limits, audit addresses); empty by default.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `KASSA_METRICS_TOKEN`: when set, `/metrics` needs `Authorization: Bearer <it>`.
    pub metrics_token: Option<Secret>,
    /// `KASSA_WS_PER_CLIENT`: open WebSockets per session, plugin key, API key
    /// or (without credential) client address.
    pub ws_per_client: usize,
    /// `KASSA_ARGON2_SLOTS`: password hashes computed at once (default: cores, at least 2).
    pub argon2_slots: usize,
    /// `KASSA_DB_POOL`: most database connections this process opens
    /// (default 8 on SQLite, 20 on PostgreSQL).
    pub db_pool: Option<u32>,
    /// `KASSA_CORS_ORIGINS`: comma list of exact origins (`https://app.example.com`)
    /// whose browser pages may call the API and open its WebSocket; none by default.
    pub cors_origins: Vec<String>,
}

/// `raw` as a browser writes it in `Origin` (lower-case scheme and host,
/// no default port, no trailing slash), if it is exactly an origin.
pub fn exact_origin(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw).ok()?;
    let plain = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| !h.contains('*'))
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none()
        && url.path() == "/";
    plain.then(|| url.origin().ascii_serialization())
}

/// Every environment variable Kassa reads: name, default, meaning. `kassa
/// --help` prints it; a `KASSA_*` variable not in it is warned about at start
/// (a typo would otherwise be silently ignored). A test checks it against
/// what [`Config::from_lookup`] actually reads and its defaults.
pub const VARIABLES: &[(&str, &str, &str)] = &[
    (
        "DATABASE_URL",
        "sqlite://kassa.db?mode=rwc",
        "SQLite file, or postgres://user:password@host/db",
    ),
    (
        "REDIS_URL",
        "(none: in-process bus)",
        "redis://host:6379 to fan events out between instances",
    ),
    ("KASSA_BIND", "127.0.0.1:8000", "address `serve` listens on"),
    (
        "KASSA_PUBLIC_URL",
        "http://<KASSA_BIND>",
        "where browsers reach this server",
    ),
    (
        "KASSA_LOG_FORMAT",
        "text",
        "text (coloured on a terminal only) or json (one object per line)",
    ),
    ("RUST_LOG", "info,sqlx=warn,sea_orm=warn", "log filter"),
    (
        "KASSA_OTLP_ENDPOINT",
        "(none: no traces)",
        "OTLP/HTTP collector for traces, e.g. http://127.0.0.1:4318",
    ),
    (
        "KASSA_EVENTS_CHANNEL",
        "kassa:events",
        "Redis channel the instances of one deployment share",
    ),
    (
        "KASSA_EVENT_BUFFER",
        "1024",
        "events buffered per subscriber before a slow one is dropped",
    ),
    (
        "KASSA_POSTBACK_RETRY_SCHEDULE",
        "5s,5m,30m,2h,5h,10h,10h",
        "delays between postback attempts",
    ),
    (
        "KASSA_POSTBACK_LEASE",
        "60s",
        "a worker's claim on a postback",
    ),
    (
        "KASSA_POSTBACK_POLL",
        "500ms",
        "how often a worker looks for postbacks queued elsewhere",
    ),
    (
        "KASSA_POSTBACK_WORKER",
        "1",
        "0: this instance delivers no postbacks",
    ),
    (
        "KASSA_POSTBACK_CONCURRENCY",
        "64",
        "deliveries in flight per instance",
    ),
    (
        "KASSA_POSTBACK_PER_MERCHANT",
        "8",
        "one merchant's deliveries in flight",
    ),
    (
        "KASSA_POSTBACK_CIRCUIT_FAILURES",
        "10",
        "failures in a row that open an endpoint's circuit",
    ),
    (
        "KASSA_POSTBACK_CIRCUIT_COOLDOWN",
        "30s",
        "first wait of an open circuit",
    ),
    (
        "KASSA_POSTBACK_SHUTDOWN_GRACE",
        "5s",
        "attempts in flight may run on at shutdown",
    ),
    (
        "KASSA_ALLOW_PRIVATE_URLS",
        "0",
        "1: postback URLs may point at private addresses",
    ),
    (
        "KASSA_ACTIVATION_TTL",
        "60m",
        "life of a WAITING activation request",
    ),
    ("KASSA_SESSION_IDLE", "15m", "a session idle this long ends"),
    (
        "KASSA_SESSION_MAX",
        "12h",
        "a session ends this long after sign-in",
    ),
    (
        "KASSA_SESSION_CHECK",
        "5s",
        "how often open sockets' sessions are checked",
    ),
    ("KASSA_PLAYGROUND", "1", "0 hides GraphiQL"),
    ("KASSA_INTROSPECTION", "1", "0 turns introspection off"),
    (
        "KASSA_LOGIN_RATE",
        "30",
        "login calls per minute per client address",
    ),
    (
        "KASSA_ACTIVATION_RATE",
        "60",
        "activateDeposit calls per minute per client address",
    ),
    (
        "KASSA_BODY_LIMIT",
        "1048576",
        "largest JSON request body, bytes",
    ),
    (
        "KASSA_RESPONSE_LIMIT",
        "8388608",
        "largest JSON response, bytes",
    ),
    (
        "KASSA_PURGE_EVERY",
        "60s",
        "how often expired sign-in failures are deleted",
    ),
    (
        "KASSA_TRUSTED_PROXIES",
        "(none)",
        "CIDRs whose X-Forwarded-For is believed",
    ),
    (
        "KASSA_METRICS_TOKEN",
        "(none: /metrics open)",
        "bearer token /metrics requires",
    ),
    ("KASSA_WS_PER_CLIENT", "20", "open WebSockets per caller"),
    (
        "KASSA_ARGON2_SLOTS",
        "(cores, at least 2)",
        "password hashes computed at once",
    ),
    (
        "KASSA_DB_POOL",
        "(8 SQLite, 20 PostgreSQL)",
        "most database connections",
    ),
    (
        "KASSA_CORS_ORIGINS",
        "(none)",
        "exact origins whose pages may call the API",
    ),
];

/// `kassa --help`'s list of variables.
pub fn variables_help() -> String {
    let mut text = String::from("Environment (also read from ./.env):\n");
    for (name, default, meaning) in VARIABLES {
        text.push_str(&format!("  {name:<32} {meaning} [default: {default}]\n"));
    }
    text
}

/// `KASSA_*` variables in `names` that Kassa does not read (the test
/// suite's own `KASSA_TEST_*` aside).
pub fn unknown_variables<'a>(names: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    names
        .filter(|n| n.starts_with("KASSA_") && !n.starts_with("KASSA_TEST_"))
        .filter(|n| !VARIABLES.iter().any(|(known, _, _)| known == n))
        .collect()
}

/// A configuration value that cannot be used; names the variable.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

fn bad(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

impl Config {
    /// Reads the process environment (after an optional `.env`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests can pass their own values.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let duration = |name: &'static str, default: &str| -> Result<Duration, ConfigError> {
            let raw = get(name).unwrap_or_else(|| default.to_string());
            let d = humantime::parse_duration(raw.trim()).map_err(|e| {
                bad(
                    name,
                    format!("`{raw}` is not a duration like 15m or 12h ({e})"),
                )
            })?;
            if d.is_zero() {
                return Err(bad(name, "must be longer than zero"));
            }
            Ok(d)
        };
        let flag = |name: &'static str, default: bool| -> Result<bool, ConfigError> {
            match get(name).as_deref().map(str::trim) {
                None => Ok(default),
                Some("1" | "true" | "yes" | "on") => Ok(true),
                Some("0" | "false" | "no" | "off") => Ok(false),
                Some(other) => Err(bad(name, format!("`{other}` is not 0 or 1"))),
            }
        };
        let number = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(raw) => raw
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| bad(name, format!("`{raw}` is not a positive whole number"))),
            }
        };

        let database_url =
            get("DATABASE_URL").unwrap_or_else(|| "sqlite://kassa.db?mode=rwc".into());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(bad(
                "DATABASE_URL",
                "must start with sqlite: or postgres://",
            ));
        }
        let public_url =
            get("KASSA_PUBLIC_URL").map(|u| u.trim().trim_end_matches('/').to_string());
        if let Some(u) = &public_url {
            let ok = url::Url::parse(u)
                .is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some());
            if !ok {
                return Err(bad(
                    "KASSA_PUBLIC_URL",
                    "must be an http(s) URL such as https://pay.example.com",
                ));
            }
        }
        let redis_url = get("REDIS_URL");
        if let Some(url) = &redis_url {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(bad("REDIS_URL", "must start with redis:// or rediss://"));
            }
        }
        let bind_raw = get("KASSA_BIND").unwrap_or_else(|| "127.0.0.1:8000".into());
        let bind = bind_raw.trim().parse().map_err(|_| {
            bad(
                "KASSA_BIND",
                format!("`{bind_raw}` is not an address like 127.0.0.1:8000"),
            )
        })?;

        let schedule_raw = get("KASSA_POSTBACK_RETRY_SCHEDULE")
            .unwrap_or_else(|| "5s,5m,30m,2h,5h,10h,10h".into());
        let postback_retry_schedule = schedule_raw
            .split(',')
            .map(|part| humantime::parse_duration(part.trim()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| {
                bad(
                    "KASSA_POSTBACK_RETRY_SCHEDULE",
                    format!("`{schedule_raw}` is not a list of durations like 5s,5m,30m"),
                )
            })?;

        let trusted_proxies = match get("KASSA_TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(raw) => raw
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    p.parse::<ipnet::IpNet>()
                        .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                        .map_err(|_| {
                            bad(
                                "KASSA_TRUSTED_PROXIES",
                                format!("`{p}` is not a CIDR like 10.0.0.0/8 or an address"),
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let cors_origins = match get("KASSA_CORS_ORIGINS") {
            None => Vec::new(),
            Some(raw) => raw
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(|o| {
                    exact_origin(o).ok_or_else(|| {
                        bad(
                            "KASSA_CORS_ORIGINS",
                            format!(
                                "`{o}` is not an exact origin like https://app.example.com \
                                 (scheme and host, optional port, no path, no wildcard)"
                            ),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let session_idle = duration("KASSA_SESSION_IDLE", "15m")?;
        let session_max = duration("KASSA_SESSION_MAX", "12h")?;
        if session_idle > session_max {
            return Err(bad(
                "KASSA_SESSION_IDLE",
                "must not be longer than KASSA_SESSION_MAX",
            ));
        }
        Ok(Config {
            events_channel: get("KASSA_EVENTS_CHANNEL").unwrap_or_else(|| "kassa:events".into()),
            event_buffer: number("KASSA_EVENT_BUFFER", 1024)? as usize,
            database_url: database_url.into(),
            redis_url: redis_url.map(Secret::from),
            public_url: public_url.unwrap_or_else(|| format!("http://{bind}")),
            bind,
            postback_retry_schedule,
            postback_lease: duration("KASSA_POSTBACK_LEASE", "60s")?,
            postback_poll: duration("KASSA_POSTBACK_POLL", "500ms")?,
            postback_worker: flag("KASSA_POSTBACK_WORKER", true)?,
            postback_concurrency: number("KASSA_POSTBACK_CONCURRENCY", 64)? as usize,
            postback_per_merchant: number("KASSA_POSTBACK_PER_MERCHANT", 8)? as usize,
            postback_circuit_failures: number("KASSA_POSTBACK_CIRCUIT_FAILURES", 10)? as usize,
            postback_circuit_cooldown: duration("KASSA_POSTBACK_CIRCUIT_COOLDOWN", "30s")?,
            postback_shutdown_grace: duration("KASSA_POSTBACK_SHUTDOWN_GRACE", "5s")?,
            allow_private_urls: flag("KASSA_ALLOW_PRIVATE_URLS", false)?,
            activation_ttl: duration("KASSA_ACTIVATION_TTL", "60m")?,
            session_idle,
            session_max,
            session_check: duration("KASSA_SESSION_CHECK", "5s")?,
            playground: flag("KASSA_PLAYGROUND", true)?,
            introspection: flag("KASSA_INTROSPECTION", true)?,
            login_rate_per_minute: number("KASSA_LOGIN_RATE", 30)? as u32,
            activation_rate_per_minute: number("KASSA_ACTIVATION_RATE", 60)? as u32,
            body_limit: number("KASSA_BODY_LIMIT", 1024 * 1024)? as usize,
            response_limit: number("KASSA_RESPONSE_LIMIT", 8 * 1024 * 1024)? as usize,
            purge_every: duration("KASSA_PURGE_EVERY", "60s")?,
            trusted_proxies,
            cors_origins,
            db_pool: get("KASSA_DB_POOL")
                .map(|_| number("KASSA_DB_POOL", 1).map(|n| n.min(1000) as u32))
                .transpose()?,
            metrics_token: get("KASSA_METRICS_TOKEN").map(|t| Secret::new(t.trim())),
            ws_per_client: number("KASSA_WS_PER_CLIENT", 20)? as usize,
            argon2_slots: number(
                "KASSA_ARGON2_SLOTS",
                crate::auth::password::default_slots() as u64,
            )? as usize,
        })
    }

    /// Whether the database is the embedded SQLite file.
    pub fn is_sqlite(&self) -> bool {
        self.database_url.expose().starts_with("sqlite:")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_need_no_environment() {
        let c = with(&[]).unwrap();
        assert!(c.is_sqlite());
        assert_eq!(c.bind.to_string(), "127.0.0.1:8000");
        assert_eq!(c.session_idle, Duration::from_secs(15 * 60));
        assert_eq!(c.session_max, Duration::from_secs(12 * 3600));
        assert_eq!(c.activation_ttl, Duration::from_secs(3600));
        assert_eq!(c.postback_retry_schedule.len(), 7);
        assert!(c.redis_url.is_none());
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (var, value) in [
            ("KASSA_BIND", "nowhere"),
            ("KASSA_SESSION_IDLE", "soon"),
            ("KASSA_POSTBACK_RETRY_SCHEDULE", "1s,later"),
            ("KASSA_ALLOW_PRIVATE_URLS", "maybe"),
            ("DATABASE_URL", "mysql://x"),
            ("REDIS_URL", "http://x"),
            ("KASSA_LOGIN_RATE", "-3"),
            ("KASSA_PUBLIC_URL", "ftp://files.example"),
            ("KASSA_PUBLIC_URL", "not a url"),
            ("KASSA_TRUSTED_PROXIES", "10.0.0.0/8,nowhere"),
            ("KASSA_WS_PER_CLIENT", "0"),
        ] {
            let err = with(&[(var, value)]).unwrap_err();
            assert_eq!(err.variable, var);
            assert!(err.to_string().starts_with(var));
        }
    }
}

#[cfg(test)]
mod variable_tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    /// The table lists exactly what the configuration reads, and each
    /// default it shows is the one used when the variable is unset.
    #[test]
    fn the_variable_table_is_what_is_read() {
        let asked = Mutex::new(BTreeSet::new());
        let unset = Config::from_lookup(|name| {
            asked.lock().unwrap().insert(name.to_string());
            None
        })
        .unwrap();
        let read_elsewhere = ["KASSA_LOG_FORMAT", "RUST_LOG", "KASSA_OTLP_ENDPOINT"];
        let listed: BTreeSet<String> = VARIABLES
            .iter()
            .map(|(n, _, _)| n.to_string())
            .filter(|n| !read_elsewhere.contains(&n.as_str()))
            .collect();
        assert_eq!(*asked.lock().unwrap(), listed);
        for (name, default, _) in VARIABLES {
            if default.starts_with('(') || default.contains('<') || read_elsewhere.contains(name) {
                continue;
            }
            let set = Config::from_lookup(|n| (n == *name).then(|| default.to_string()))
                .unwrap_or_else(|e| panic!("{name}'s default `{default}` is refused: {e}"));
            assert_eq!(
                format!("{set:?}"),
                format!("{unset:?}"),
                "{name}'s listed default is not what an unset {name} gives"
            );
        }
        assert_eq!(
            unknown_variables(
                [
                    "KASSA_BIND",
                    "KASSA_BINDD",
                    "KASSA_TEST_DATABASE_URL",
                    "HOME"
                ]
                .into_iter()
            ),
            ["KASSA_BINDD"]
        );
        assert!(variables_help().contains("KASSA_POSTBACK_RETRY_SCHEDULE"));
    }

    /// Printing the configuration (a debug log, a panic) shows no password.
    #[test]
    fn the_configuration_prints_no_secret() {
        let c = Config::from_lookup(|n| match n {
            "DATABASE_URL" => Some("postgres://kassa:db-pass-1@db/kassa".into()),
            "REDIS_URL" => Some("redis://:redis-pass-2@cache:6379".into()),
            "KASSA_METRICS_TOKEN" => Some("metrics-token-3".into()),
            _ => None,
        })
        .unwrap();
        let shown = format!("{c:?}");
        for secret in ["db-pass-1", "redis-pass-2", "metrics-token-3"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert_eq!(
            c.database_url.expose(),
            "postgres://kassa:db-pass-1@db/kassa"
        );
        let user = entity::user::Model {
            id: 1,
            merchant_id: 1,
            login: "a@b".into(),
            password_hash: "$argon2id$secret-hash".to_string().into(),
            role: entity::user::Role::Owner,
            language: entity::user::Language::En,
            disabled: false,
            created_at: chrono::Utc::now(),
            last_login_at: None,
            password_changed_at: chrono::Utc::now(),
            totp_secret: Some("TOTPSECRET".to_string().into()),
            totp_enabled: true,
            totp_last_step: None,
        };
        let shown = format!("{user:?}");
        assert!(
            !shown.contains("secret-hash") && !shown.contains("TOTPSECRET"),
            "{shown}"
        );
    }
}
