//! Logs (tracing, `RUST_LOG`) and Prometheus metrics.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use std::collections::HashSet;
use std::sync::Mutex;
use tracing_subscriber::Layer;

/// How log lines are written (`KASSA_LOG_FORMAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines; coloured only when stderr is a terminal.
    Text,
    /// One JSON object per line, with the request's span fields (its id).
    Json,
}

impl LogFormat {
    /// `KASSA_LOG_FORMAT`: `text` (default) or `json`.
    pub fn from_env(raw: Option<&str>) -> Result<LogFormat, String> {
        match raw.map(str::trim).unwrap_or("") {
            "" | "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "KASSA_LOG_FORMAT: `{other}` is neither `text` nor `json`"
            )),
        }
    }
}

static FORMAT: std::sync::OnceLock<LogFormat> = std::sync::OnceLock::new();

/// The format logs are written in (text until [`init_tracing`] says otherwise).
pub fn log_format() -> LogFormat {
    FORMAT.get().copied().unwrap_or(LogFormat::Text)
}

/// Exports spans while it lives; dropping it flushes what is buffered.
pub struct Traces {
    provider: opentelemetry_sdk::trace::SdkTracerProvider,
}

impl Drop for Traces {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
    }
}

/// The OTLP/HTTP (JSON) span exporter for `KASSA_OTLP_ENDPOINT` — the
/// collector's base URL (`http://127.0.0.1:4318`) or its full traces URL.
/// Spans are batched on a thread of the SDK's own, so a slow or absent
/// collector costs requests nothing.
fn otlp(endpoint: &str) -> Result<opentelemetry_sdk::trace::SdkTracerProvider, String> {
    use opentelemetry_otlp::{Protocol, WithExportConfig};
    let endpoint = endpoint.trim().trim_end_matches('/');
    let ok = url::Url::parse(endpoint).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if !ok {
        return Err(format!(
            "KASSA_OTLP_ENDPOINT: `{endpoint}` is not an http(s) URL such as http://127.0.0.1:4318"
        ));
    }
    let traces = if endpoint.ends_with("/v1/traces") {
        endpoint.to_string()
    } else {
        format!("{endpoint}/v1/traces")
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpJson)
        .with_endpoint(traces)
        .build()
        .map_err(|e| format!("KASSA_OTLP_ENDPOINT: {e}"))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name("kassa")
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    Ok(opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// Sets up logging to stderr; `RUST_LOG` filters (default `info`),
/// `KASSA_LOG_FORMAT` picks the format; with `KASSA_OTLP_ENDPOINT` spans
/// (requests, GraphQL operations, database work, postback attempts, bus
/// publishes) are exported over OTLP too — keep the returned guard alive.
/// Without it no exporter exists at all.
pub fn init_tracing() -> Result<Option<Traces>, String> {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let format = LogFormat::from_env(std::env::var("KASSA_LOG_FORMAT").ok().as_deref())?;
    let _ = FORMAT.set(format);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = match format {
        LogFormat::Json => fmt
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        LogFormat::Text => fmt.with_ansi(std::io::stderr().is_terminal()).boxed(),
    };
    let provider = match std::env::var("KASSA_OTLP_ENDPOINT") {
        Ok(endpoint) if !endpoint.trim().is_empty() => Some(otlp(&endpoint)?),
        _ => None,
    };
    let spans = provider.as_ref().map(|p| {
        use opentelemetry::trace::TracerProvider;
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("kassa"))
            .with_filter(tracing_subscriber::filter::LevelFilter::INFO)
    });
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(spans)
        .try_init();
    Ok(provider.map(|provider| Traces { provider }))
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
    /// Operations streaming over WebSockets right now (subscriptions; a
    /// shared subscription counts once).
    pub streams: prometheus::IntGauge,
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
        let streams = prometheus::IntGauge::new(
            "kassa_graphql_streams",
            "Operations streaming over WebSockets right now (subscriptions; a shared one counts once)",
        )?;
        let build = prometheus::IntGaugeVec::new(
            Opts::new(
                "kassa_build_info",
                "The running build: its version and git revision",
            ),
            &["version", "revision"],
        )?;
        build
            .with_label_values(&[env!("CARGO_PKG_VERSION"), env!("GIT_REVISION")])
            .set(1);
        // Every family is there from the first scrape: the label sets a
        // fresh server knows of start at zero.
        for reason in crate::error::WireCode::REFUSALS {
            refused.with_label_values(&[reason.as_str()]);
        }
        requests.with_label_values(&["anonymous"]);
        latency.with_label_values(&["anonymous"]);
        events.with_label_values(&["anonymous"]);
        errors.with_label_values(&["anonymous", "INTERNAL"]);
        registry.register(Box::new(events.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(refused.clone()))?;
        registry.register(Box::new(streams.clone()))?;
        registry.register(Box::new(build))?;
        // RSS, CPU seconds, open and most file descriptors, threads, start time.
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Metrics {
            streams,
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
