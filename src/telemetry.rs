//! Logs (tracing, `RUST_LOG`) and Prometheus metrics.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use std::collections::HashSet;
use std::sync::Mutex;

/// Sets up logging to stderr; `RUST_LOG` filters (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Distinct operation names kept as labels; later ones count as `other`, so a
/// client inventing names cannot grow the metrics without bound.
const MAX_OPERATION_LABELS: usize = 200;

/// The server's metrics, served at `/metrics`.
pub struct Metrics {
    pub registry: Registry,
    /// GraphQL requests by operation name.
    requests: IntCounterVec,
    /// GraphQL latency by operation name.
    latency: HistogramVec,
    /// GraphQL errors by operation name and `extensions.code`.
    errors: IntCounterVec,
    /// HTTP requests refused before GraphQL ran (CSRF, batch, size), by reason.
    refused: IntCounterVec,
    /// Subscription events delivered, by operation.
    events: IntCounterVec,
    seen_operations: Mutex<HashSet<String>>,
}

impl Metrics {
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "kassa_graphql_requests_total",
                "GraphQL requests by operation",
            ),
            &["operation"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "kassa_graphql_request_duration_seconds",
                "GraphQL request latency by operation",
            ),
            &["operation"],
        )?;
        let errors = IntCounterVec::new(
            Opts::new(
                "kassa_graphql_errors_total",
                "GraphQL errors by operation and code",
            ),
            &["operation", "code"],
        )?;
        let refused = IntCounterVec::new(
            Opts::new(
                "kassa_http_refused_total",
                "HTTP requests refused before execution, by reason",
            ),
            &["reason"],
        )?;
        let events = IntCounterVec::new(
            Opts::new(
                "kassa_graphql_subscription_events_total",
                "Subscription events delivered, by operation",
            ),
            &["operation"],
        )?;
        registry.register(Box::new(events.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(refused.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            errors,
            refused,
            events,
            seen_operations: Mutex::new(HashSet::new()),
        })
    }

    fn label(&self, operation: Option<&str>) -> String {
        let Some(name) = operation.filter(|n| {
            !n.is_empty()
                && n.len() <= 64
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }) else {
            return "anonymous".into();
        };
        let mut seen = self
            .seen_operations
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if seen.contains(name) || seen.len() < MAX_OPERATION_LABELS {
            seen.insert(name.to_string());
            name.to_string()
        } else {
            "other".into()
        }
    }

    /// Records one executed GraphQL request.
    pub fn observe(&self, operation: Option<&str>, seconds: f64, error_codes: &[String]) {
        let op = self.label(operation);
        self.requests.with_label_values(&[op.as_str()]).inc();
        self.latency
            .with_label_values(&[op.as_str()])
            .observe(seconds);
        for code in error_codes {
            self.errors
                .with_label_values(&[op.as_str(), code.as_str()])
                .inc();
        }
    }

    /// Records one event of a subscription (after its first answer).
    pub fn event(&self, operation: Option<&str>, error_codes: &[String]) {
        let op = self.label(operation);
        self.events.with_label_values(&[op.as_str()]).inc();
        for code in error_codes {
            self.errors
                .with_label_values(&[op.as_str(), code.as_str()])
                .inc();
        }
    }

    pub fn refuse(&self, reason: &str) {
        self.refused.with_label_values(&[reason]).inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let encoder = prometheus::TextEncoder::new();
        encoder
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}
