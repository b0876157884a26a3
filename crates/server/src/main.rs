//! `kosh`: DIGIT's revenue stack in one binary.

use clap::Parser;
use kosh_server::cli::{AuditCommand, BbpsCommand, Cli, Command, ImportCommand, UserCommand};

fn main() -> std::process::ExitCode {
    if let Err(err) = kosh_server::config::apply_config_file() {
        eprintln!("kosh: {err:#}");
        return std::process::ExitCode::from(2);
    }
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(settings) => kosh_server::serve(settings).await,
            Command::Migrate(settings) => kosh_server::migrate(settings).await,
            Command::User(UserCommand::Create(spec)) => kosh_server::create_user(spec).await,
            Command::Bbps(BbpsCommand::Reconcile(args)) => kosh_server::bbps_reconcile(args).await,
            Command::Import(ImportCommand::Demands(args)) => {
                kosh_server::import::demands(args).await
            }
            Command::Audit(AuditCommand::Verify(args)) => kosh_server::audit::verify(args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kosh: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
