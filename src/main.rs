//! The `scim-bridge` binary: arguments → config → logging → app, and the exit code.
//!
//! Exit codes: 0 success; 1 runtime failure; 64 bad usage or configuration (EX_USAGE);
//! 66 session file missing or unreadable (EX_NOINPUT); 69 store unreachable (EX_UNAVAILABLE);
//! 73 session file cannot be created or rewritten (EX_CANTCREAT). `ping` exits 0 or 1 only.

use std::process::ExitCode;

use clap::Parser;
use scim_bridge::{
    app,
    cli::{CertCommand, Cli, Command, TokenCommand},
    config, logging, probe,
    session::{self, last_use::TokenId, rotate, CreateOptions, SessionError},
    store::StoreError,
    usage::UsageRecord,
};

/// JSON trees allocate a lot; mimalloc handles that far better than glibc malloc (see
/// BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc 3 hands freed memory back to the system a second after it is freed (its
/// `purge_delay`, 1000 ms), so a burst of large requests stays resident for that second and
/// bursts within it stack up: 16 concurrent maximum-size PATCHes peaked at about 290 MB. At
/// 10 ms (mimalloc 2's default) they peak at about 220 MB (BENCHMARKS.md, `bench/memory.py`).
/// `MIMALLOC_PURGE_DELAY` in the environment still wins.
#[allow(unsafe_code)]
fn tune_allocator() {
    /// `mi_option_purge_delay` in mimalloc.h (versions 2 and 3); the sys crate has no name for it.
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: stores one integer option, which mimalloc reads atomically when it purges;
        // valid at any time, from any thread.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 10) };
    }
}

const EX_USAGE: u8 = 64;
const EX_NOINPUT: u8 = 66;
const EX_UNAVAILABLE: u8 = 69;
const EX_CANTCREAT: u8 = 73;

fn main() -> ExitCode {
    tune_allocator();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EX_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Init { session, force } => init(&session, force),
        Command::Token { command } => token(command, cli.config.as_deref()),
        Command::CheckConfig => match settings(cli.config.as_deref()) {
            Ok(s) => {
                for (key, value) in config::describe(&s) {
                    println!("{key} = {value}");
                }
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Cert {
            command: CertCommand::Status,
        } => match settings(cli.config.as_deref()) {
            Ok(s) => cert_status(s),
            Err(code) => code,
        },
        Command::Ping => ping(cli.config.as_deref()),
        Command::Serve => match settings(cli.config.as_deref()) {
            Ok(s) => serve(s),
            Err(code) => code,
        },
    }
}

/// The settings from the config file and the `OP_*` environment.
fn load_settings(file: Option<&std::path::Path>) -> Result<config::Settings, config::ConfigError> {
    let env = |name: &str| std::env::var(name).ok();
    config::read_file(file).and_then(|text| config::load(text.as_deref(), &env))
}

fn settings(file: Option<&std::path::Path>) -> Result<config::Settings, ExitCode> {
    load_settings(file).map_err(|e| {
        eprintln!("scim-bridge: configuration error: {e}");
        ExitCode::from(EX_USAGE)
    })
}

fn init(path: &std::path::Path, force: bool) -> ExitCode {
    match session::create(path, CreateOptions { force }) {
        Ok((_, token)) => {
            eprintln!(
                "Created session file {} (mode 0600; keep it secret). The bearer token follows, shown only once:",
                path.display()
            );
            println!("{}", token.reveal());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("scim-bridge: {e}");
            ExitCode::from(match e {
                SessionError::Exists { .. } => EX_USAGE,
                _ => EX_CANTCREAT,
            })
        }
    }
}

/// Formats a time for people: RFC 3339, whole seconds.
fn rfc3339(t: time::OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// Loads the session file for a `token` command; a missing or unreadable file is exit 66.
fn load_session(path: &std::path::Path) -> Result<session::Session, ExitCode> {
    session::load(path).map_err(|e| {
        eprintln!("scim-bridge: {e}");
        ExitCode::from(EX_NOINPUT)
    })
}

fn token(command: TokenCommand, config: Option<&std::path::Path>) -> ExitCode {
    let now = time::OffsetDateTime::now_utc();
    let (path, result) = match command {
        TokenCommand::List { session } => return token_list(&session, config, now),
        TokenCommand::Rotate {
            session,
            grace,
            label,
            scope,
        } => {
            let current = match load_session(&session) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let result = rotate::rotate(&current, now, grace, label.as_deref(), scope)
                .map(|(next, token)| (next, Some(Issued::Rotated(token))));
            (session, result)
        }
        TokenCommand::Add {
            label,
            scope,
            session,
        } => {
            let current = match load_session(&session) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let result = rotate::add(&current, now, &label, scope)
                .map(|(next, token)| (next, Some(Issued::Added(token, scope))));
            (session, result)
        }
        TokenCommand::Revoke { label, session } => {
            let current = match load_session(&session) {
                Ok(s) => s,
                Err(code) => return code,
            };
            (
                session,
                rotate::revoke(&current, &label, now).map(|s| (s, None)),
            )
        }
    };
    let (next, token) = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("scim-bridge: {e}");
            return ExitCode::from(EX_USAGE);
        }
    };
    if let Err(e) = session::save(&path, &next) {
        eprintln!("scim-bridge: {e}");
        return ExitCode::from(EX_CANTCREAT);
    }
    match token {
        Some(Issued::Rotated(token)) => {
            let old = next.tokens.iter().filter_map(|t| t.expires_at).max();
            eprintln!(
                "Rotated {}: the previous tokens stay valid until {}. The new token follows, shown only once:",
                path.display(),
                old.map_or_else(|| "-".to_owned(), rfc3339)
            );
            println!("{}", token.reveal());
        }
        Some(Issued::Added(token, scope)) => {
            eprintln!(
                "Added a {scope} token to {}; the other tokens are unchanged. It follows, shown only once:",
                path.display(),
            );
            println!("{}", token.reveal());
        }
        None => eprintln!(
            "Revoked; {} token(s) remain in {}.",
            next.tokens.len(),
            path.display()
        ),
    }
    ExitCode::SUCCESS
}

/// A token a `token` command made, to print once.
enum Issued {
    Rotated(session::BearerToken),
    Added(session::BearerToken, session::Scope),
}

fn token_list(
    path: &std::path::Path,
    config: Option<&std::path::Path>,
    now: time::OffsetDateTime,
) -> ExitCode {
    let current = match load_session(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    // Last use is optional here: when it cannot be read the tokens are still listed.
    let usage = last_use(config);
    println!(
        "{:<32} {:<7} {:<25} {:<25} {:<8} LAST USE",
        "LABEL", "SCOPE", "CREATED", "EXPIRES", "STATE"
    );
    for (t, entry) in rotate::list(&current, now).into_iter().zip(&current.tokens) {
        let last_use = match &usage {
            Ok(record) => record
                .last_used(TokenId::of_entry(entry))
                .map_or_else(|| "never".to_owned(), rfc3339),
            Err(_) => "unknown".to_owned(),
        };
        println!(
            "{:<32} {:<7} {:<25} {:<25} {:<8} {last_use}",
            t.label,
            t.scope.as_str(),
            rfc3339(t.created_at),
            t.expires_at.map_or_else(|| "never".to_owned(), rfc3339),
            if t.active { "active" } else { "expired" }
        );
    }
    if let Err(why) = usage {
        eprintln!("note: last use unknown: {why}");
    }
    ExitCode::SUCCESS
}

/// Last use as the running bridge persisted it (see `scim_bridge::usage`), or why it cannot
/// be read. Nothing persisted yet reads as "never used".
fn last_use(config: Option<&std::path::Path>) -> Result<UsageRecord, String> {
    let settings =
        load_settings(config).map_err(|e| format!("the configuration is invalid: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let (place, result) = runtime.block_on(app::token_usage(&settings));
    result.map(Option::unwrap_or_default).map_err(|e| {
        format!(
            "cannot read {place}: {}",
            scim_bridge::error_chain::chain(&e)
        )
    })
}

/// `cert status` (named after its sub-command, like `token_list` and `ping`): prints the stored
/// certificate's report.
fn cert_status(settings: config::Settings) -> ExitCode {
    if settings.tls.is_none() {
        eprintln!("scim-bridge: TLS is off: set OP_TLS_DOMAIN");
        return ExitCode::from(EX_USAGE);
    }
    let runtime = match runtime(tokio::runtime::Builder::new_current_thread()) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(app::cert_report(settings)) {
        Ok(report) => {
            let when = |t: Option<time::OffsetDateTime>| {
                t.map_or("-".to_owned(), |t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_else(|_| t.to_string())
                })
            };
            println!("domain: {}", report.domain);
            println!("source: {}", report.source);
            match report.not_after {
                None => println!("certificate: none stored yet"),
                Some(_) => {
                    println!("issuer: {}", report.issuer.unwrap_or_default());
                    println!("not after: {}", when(report.not_after));
                    println!("next renewal: {}", when(report.next_renewal));
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("scim-bridge: {e:#}");
            ExitCode::from(if e.chain().any(|c| c.is::<StoreError>()) {
                EX_UNAVAILABLE
            } else {
                1
            })
        }
    }
}

/// `ping`: 0 when the bridge answers `pong`, else 1 and one line on standard error (also for
/// a configuration error: a health check knows only healthy or not).
fn ping(config: Option<&std::path::Path>) -> ExitCode {
    let fail = |why: &str| {
        // One line, whatever the message: TOML syntax errors span several.
        let why = why.split_whitespace().collect::<Vec<_>>().join(" ");
        eprintln!("scim-bridge ping: {why}");
        ExitCode::FAILURE
    };
    let chain = scim_bridge::error_chain::chain;
    let settings = match load_settings(config) {
        Ok(s) => s,
        Err(e) => return fail(&format!("configuration error: {}", chain(&e))),
    };
    let addr = match probe::target(&settings) {
        Ok(addr) => addr,
        Err(e) => return fail(&chain(&e)),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(probe::ping(addr)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&chain(&e)),
    }
}

/// Builds a tokio runtime, or says why it could not be built.
fn runtime(mut builder: tokio::runtime::Builder) -> Result<tokio::runtime::Runtime, ExitCode> {
    builder.enable_all().build().map_err(|e| {
        eprintln!("scim-bridge: cannot start the async runtime: {e}");
        ExitCode::FAILURE
    })
}

fn serve(settings: config::Settings) -> ExitCode {
    let logs = logging::init(settings.log_format, settings.log_level);
    let runtime = match runtime(tokio::runtime::Builder::new_multi_thread()) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(app::run(settings, logs)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "scim-bridge stopped");
            eprintln!("scim-bridge: {e:#}");
            let tls_config = e.chain().any(|c| {
                c.downcast_ref::<scim_bridge::tls::TlsError>()
                    .is_some_and(|t| t.is_config())
            });
            let code = if tls_config {
                EX_USAGE
            } else if e.chain().any(|c| c.is::<SessionError>()) {
                EX_NOINPUT
            } else if e.chain().any(|c| c.is::<StoreError>()) {
                EX_UNAVAILABLE
            } else {
                1
            };
            ExitCode::from(code)
        }
    }
}
