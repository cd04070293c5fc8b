//! Tracing subscriber set-up: plain lines on standard error by default, one JSON object per
//! line with `OP_JSON_LOGS`, colour with `OP_PRETTY_LOGS`; `OP_DEBUG`/`OP_TRACE` raise our own
//! verbosity. Every event that passes the filter is also kept, as a plain line without colour,
//! in the bounded in-memory ring of [`recent`] that the status page downloads.
//!
//! Dependencies stay at `info` at every level: their lower levels can print protocol frames,
//! and nothing that could carry a header value may reach a log line.
//!
//! Must not know HTTP or the status page: [`init`] hands back the ring, and the composition
//! root passes it on.

pub mod recent;

use tracing_subscriber::{
    field::RecordFields,
    fmt::{
        self,
        format::{DefaultFields, Writer},
        FormatFields,
    },
    layer::SubscriberExt,
    util::SubscriberInitExt,
    EnvFilter, Layer,
};

use crate::config::{LogFormat, LogLevel};
pub use recent::RecentLogs;

/// The filter directive for a level: ours at that level, dependencies quieter.
pub fn directive(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Info => "info",
        LogLevel::Debug => "info,scim_bridge=debug",
        LogLevel::Trace => "info,scim_bridge=trace",
    }
}

/// The ring layer's field formatter: [`DefaultFields`] under a type of its own. Formatted span
/// fields are cached per formatter type and shared between layers, so with the same type the
/// ring would reuse the coloured fields of the `OP_PRETTY_LOGS` layer.
struct PlainFields(DefaultFields);

impl<'w> FormatFields<'w> for PlainFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> std::fmt::Result {
        self.0.format_fields(writer, fields)
    }
}

/// Installs the global subscriber, writing to standard error and into the returned ring.
///
/// A second call installs nothing: the ring it returns stays empty.
pub fn init(format: LogFormat, level: LogLevel) -> RecentLogs {
    let recent = RecentLogs::default();
    let stderr = fmt::layer().with_writer(std::io::stderr).with_target(true);
    let stderr = match format {
        LogFormat::Plain => stderr.with_ansi(false).boxed(),
        LogFormat::Pretty => stderr.with_ansi(true).boxed(),
        LogFormat::Json => stderr
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };
    let ring = fmt::layer()
        .with_ansi(false)
        .with_target(true)
        .fmt_fields(PlainFields(DefaultFields::new()))
        .with_writer(recent.clone());
    let _ = tracing_subscriber::registry()
        .with(EnvFilter::new(directive(level)))
        .with(stderr)
        .with(ring)
        .try_init();
    recent
}
