//! The optional config file. Its keys are the environment variable names without `KOSH_`, in
//! lower case; each one fills the matching variable unless the environment already sets it,
//! so the order of precedence is: flag, environment, file, default.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::CommandFactory;

use crate::cli::Cli;

/// Finds `--config FILE` (or `KOSH_CONFIG`) and loads the file into the environment.
pub fn apply_config_file() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let from_flag = args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--config=").map(str::to_string).or_else(|| {
            (a == "--config")
                .then(|| args.get(i + 1).cloned())
                .flatten()
        })
    });
    let Some(path) = from_flag.or_else(|| std::env::var("KOSH_CONFIG").ok()) else {
        return Ok(());
    };
    for (var, value) in read_config_file(&PathBuf::from(&path))? {
        if std::env::var_os(&var).is_none() {
            // SAFETY: called from main before any thread is started.
            unsafe { std::env::set_var(&var, value) };
        }
    }
    Ok(())
}

/// The variables a config file sets, checked against the settings kosh knows.
pub fn read_config_file(path: &PathBuf) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))?;
    let known = known_variables();
    let mut out = Vec::new();
    for (key, value) in table {
        let var = format!("KOSH_{}", key.to_ascii_uppercase().replace('-', "_"));
        if !known.contains(&var) {
            bail!(
                "config file {}: unknown setting \"{key}\" (known: {})",
                path.display(),
                known.join(", ")
            );
        }
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Array(items) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        out.push((var, value));
    }
    Ok(out)
}

/// Every environment variable a `kosh serve` flag reads: every setting. One file serves every
/// command; each other command reads the settings it takes and ignores the rest.
pub fn known_variables() -> Vec<String> {
    let cmd = Cli::command();
    let serve = cmd.find_subcommand("serve").expect("serve subcommand");
    serve
        .get_arguments()
        .filter_map(|a| a.get_env().and_then(|e| e.to_str()).map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DIGIT reuses refresh tokens; rotation is a setting, off unless asked for.
    #[test]
    fn refresh_token_rotation_is_off_unless_set() {
        use clap::Parser;
        let serve = |args: &[&str]| match Cli::try_parse_from(args).unwrap().command {
            crate::cli::Command::Serve(s) => s.rotate_refresh_tokens,
            _ => unreachable!(),
        };
        assert!(!serve(&["kosh", "serve"]));
        assert!(serve(&["kosh", "serve", "--rotate-refresh-tokens"]));
        assert!(serve(&["kosh", "serve", "--rotate-refresh-tokens=true"]));
        assert!(!serve(&["kosh", "serve", "--rotate-refresh-tokens=false"]));
    }

    /// Every setting another command takes is a `kosh serve` setting (a config file key),
    /// but for the one-off password of `user create`.
    #[test]
    fn every_command_setting_is_a_serve_setting() {
        fn check(cmd: &clap::Command, known: &[String]) {
            for arg in cmd.get_arguments() {
                if let Some(var) = arg.get_env().and_then(|e| e.to_str()) {
                    assert!(
                        known.iter().any(|k| k == var) || var == "KOSH_NEW_USER_PASSWORD",
                        "{} reads {var}, which kosh serve does not",
                        cmd.get_name()
                    );
                }
            }
            for sub in cmd.get_subcommands() {
                check(sub, known);
            }
        }
        check(&Cli::command(), &known_variables());
    }

    #[test]
    fn file_keys_map_to_variables() {
        let dir = std::env::temp_dir().join(format!("kosh-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("kosh.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\ndb_max_connections = 4\n").unwrap();
        let vars = read_config_file(&file).unwrap();
        assert!(vars.contains(&("KOSH_LISTEN".into(), "0.0.0.0:9000".into())));
        assert!(vars.contains(&("KOSH_DB_MAX_CONNECTIONS".into(), "4".into())));
        std::fs::write(&file, "rotate_refresh_tokens = true\n").unwrap();
        assert_eq!(
            read_config_file(&file).unwrap(),
            vec![("KOSH_ROTATE_REFRESH_TOKENS".into(), "true".into())]
        );
        std::fs::write(&file, "no_such_thing = 1\n").unwrap();
        assert!(
            read_config_file(&file)
                .unwrap_err()
                .to_string()
                .contains("unknown setting")
        );
    }
}
