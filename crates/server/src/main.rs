//! `kosh`: DIGIT's revenue stack in one binary.

use clap::Parser;
use kosh_server::cli::{
    AuditCommand, BbpsCommand, Cli, Command, ImportCommand, KeysCommand, UserCommand,
};

/// mimalloc rather than glibc's malloc: under load glibc kept one arena per thread and gave
/// little back (kosh's RSS grew by twice what its caches held), and malloc and free took a
/// fifth of kosh's CPU in the payment profile (BENCHMARKS.md). Version 2 of it (Cargo.toml
/// says why). The `system-allocator` feature leaves it out, for heap profilers that only see
/// malloc.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc 2's `mi_option_purge_delay`: its place in the C enum `mi_option_t`, which
/// libmimalloc-sys does not name. Its documented default, 10 (ms), is checked before it is
/// changed, so a different place in another version is left alone.
#[cfg(not(feature = "system-allocator"))]
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

#[cfg(not(feature = "system-allocator"))]
unsafe extern "C" {
    fn mi_option_get(option: std::ffi::c_int) -> std::ffi::c_long;
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// Memory kosh frees goes back to the system at once, not 10 ms later. Requests free and
/// allocate megabytes many times a second (a call of 500 demands, fetch-bill over SQLite's
/// reader threads), so with the delay the pages freed in one burst were still held when the
/// next came: in the benchmark's quick run, kosh's peak RSS in the demand phase was 92-127
/// MiB with the delay and 85-104 MiB without, at the same rates (BENCHMARKS.md).
/// `MIMALLOC_PURGE_DELAY`, when set, is mimalloc's own and wins.
#[cfg(not(feature = "system-allocator"))]
fn purge_freed_memory_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: both functions only read or write mimalloc's table of options, and any index
    // is checked against the table's length by mimalloc.
    unsafe {
        if mi_option_get(MI_OPTION_PURGE_DELAY) == 10 {
            mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        }
    }
}

fn main() -> std::process::ExitCode {
    #[cfg(not(feature = "system-allocator"))]
    purge_freed_memory_at_once();
    if let Err(err) = kosh_server::config::apply_config_file() {
        eprintln!("kosh: {}", kosh_server::error_text(&err));
        return std::process::ExitCode::from(2);
    }
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(settings) => kosh_server::serve(*settings).await,
            Command::Migrate(settings) => kosh_server::migrate(settings).await,
            Command::User(UserCommand::Create(spec)) => kosh_server::create_user(spec).await,
            Command::Bbps(BbpsCommand::Reconcile(args)) => kosh_server::bbps_reconcile(args).await,
            Command::Import(ImportCommand::Demands(args)) => {
                kosh_server::import::demands(args).await
            }
            Command::Audit(AuditCommand::Verify(args)) => kosh_server::audit::verify(args).await,
            Command::Keys(KeysCommand::Rotate(args)) => kosh_server::pii::keys_rotate(*args).await,
            Command::Keys(KeysCommand::New(args)) => kosh_server::pii::keys_new(args),
            Command::Reconcile(args) => kosh_server::reconcile::now(*args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kosh: {}", kosh_server::error_text(&err));
            std::process::ExitCode::FAILURE
        }
    }
}
