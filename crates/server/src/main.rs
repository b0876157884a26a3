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

fn main() -> std::process::ExitCode {
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
