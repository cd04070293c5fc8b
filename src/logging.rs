//! Tracing subscriber set-up: plain lines by default, one JSON object per line with
//! `OP_JSON_LOGS`, colour with `OP_PRETTY_LOGS`; `OP_DEBUG`/`OP_TRACE` raise our own verbosity.
//!
//! Dependencies stay at `info` (`debug` under `OP_TRACE`): their lower levels can print protocol
//! frames, and nothing that could carry a header value may reach a log line.

use tracing_subscriber::{fmt, EnvFilter};

use crate::config::{LogFormat, LogLevel};

/// The filter directive for a level: ours at that level, dependencies quieter.
pub fn directive(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Info => "info",
        LogLevel::Debug => "info,scim_bridge=debug",
        LogLevel::Trace => "info,scim_bridge=trace",
    }
}

/// Installs the global subscriber, writing to standard error. A second call is a no-op.
pub fn init(format: LogFormat, level: LogLevel) {
    let filter = EnvFilter::new(directive(level));
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true);
    let _ = match format {
        LogFormat::Plain => builder.with_ansi(false).try_init(),
        LogFormat::Pretty => builder.with_ansi(true).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
