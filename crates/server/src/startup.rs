//! What `kosh serve` says once it is ready: where it listens, where its API docs are, and
//! which optional profiles are on and which are off (with the setting that changes each).

use std::net::SocketAddr;

use crate::AppState;
use crate::cli::Settings;

/// The optional profiles of a running kosh, each with a short description.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profiles {
    pub on: Vec<String>,
    pub off: Vec<String>,
}

impl Profiles {
    fn say(&mut self, on: bool, what: String) {
        if on {
            self.on.push(what);
        } else {
            self.off.push(what);
        }
    }
}

/// The address to show for `addr`: an unspecified address (0.0.0.0) as loopback.
pub fn base_url(addr: SocketAddr) -> String {
    format!("http://{}", crate::own_host(addr))
}

/// The profiles `settings` turned on or left off in this running `state`.
pub fn profiles(settings: &Settings, state: &AppState) -> Profiles {
    let mut p = Profiles::default();

    let registry = state.pg.registry();
    let active: Vec<&str> = registry
        .names()
        .into_iter()
        .filter(|n| registry.is_active(n))
        .collect();
    if active.is_empty() {
        p.off.push(
            "payment gateways (none active: KOSH_PG_GATEWAYS_FILE names them; without it, KOSH_PG_SANDBOX=on turns on the SANDBOX)".into(),
        );
    } else {
        let sandbox = active.contains(&kosh_pg::gateways::sandbox::NAME);
        p.on.push(format!(
            "payment gateways {}{}",
            active.join(", "),
            if sandbox {
                " (SANDBOX takes no money)"
            } else {
                ""
            }
        ));
    }
    let every = settings.pg_reconcile_every_seconds;
    p.say(
        every > 0,
        if every > 0 {
            format!("payment reconciliation every {every} s")
        } else {
            "payment reconciliation (KOSH_PG_RECONCILE_EVERY_SECONDS=0)".into()
        },
    );

    let every = settings.analyze_every_seconds;
    p.say(
        every > 0,
        if every > 0 {
            format!("table statistics refreshed when a table grows (checked every {every} s)")
        } else {
            "table statistics refreshed when a table grows (KOSH_ANALYZE_EVERY_SECONDS=0; migrations and imports still analyse)".into()
        },
    );

    let billers: usize = state
        .mdms
        .states()
        .iter()
        .map(|s| state.bbps.billers.of_state(s).len())
        .sum();
    p.on.push(format!("BBPS JSON API ({billers} billers)"));
    match &state.bbps.xml {
        Some(keys) => p.on.push(format!(
            "BBPS NPCI XML profile (institution {}, {} operating-unit key(s))",
            state.bbps.institution_id,
            keys.peers.len()
        )),
        None => p.off.push(
            "BBPS NPCI XML profile (KOSH_BBPS_SIGNING_KEY and KOSH_BBPS_PEER_CERTS turn it on)"
                .into(),
        ),
    }
    match &state.bbps.callback {
        Some(callback) => p.on.push(format!(
            "BBPS NPCI asynchronous exchange (responses POSTed to {})",
            callback.base_url
        )),
        None => p.off.push(
            "BBPS NPCI asynchronous exchange (KOSH_BBPS_CALLBACK_URL; responses are the HTTP answers)"
                .into(),
        ),
    }

    p.on.push(match settings.pii_keys.as_deref().map(str::trim) {
        Some(keys) if !keys.is_empty() => {
            "personal data sealed at rest (keys from KOSH_PII_KEYS)".to_string()
        }
        _ => format!(
            "personal data sealed at rest (keys from the key file {})",
            crate::pii::key_config(settings).key_file.display()
        ),
    });
    p.on.push(
        "events (DIGIT's Kafka topics) kept in the kosh_outbox table, not published (no broker)"
            .into(),
    );

    let (per_address, per_user) = (
        settings.login_max_failures_per_address,
        settings.login_max_failures_per_user,
    );
    p.say(
        per_address > 0 || per_user > 0,
        if per_address > 0 || per_user > 0 {
            format!(
                "login throttle ({} per address, {} per user name, in {} min)",
                limit(per_address),
                limit(per_user),
                settings.login_throttle_minutes
            )
        } else {
            "login throttle (KOSH_LOGIN_MAX_FAILURES_PER_ADDRESS and _PER_USER are 0)".into()
        },
    );
    p.say(
        settings.rotate_refresh_tokens,
        if settings.rotate_refresh_tokens {
            "refresh-token rotation".into()
        } else {
            "refresh-token rotation (refresh tokens are reused as in DIGIT; KOSH_ROTATE_REFRESH_TOKENS=true)"
                .into()
        },
    );
    p.say(
        settings.token_cache_seconds > 0,
        if settings.token_cache_seconds > 0 {
            format!("token cache ({} s)", settings.token_cache_seconds)
        } else {
            "token cache (KOSH_TOKEN_CACHE_SECONDS=0)".into()
        },
    );
    p.say(
        settings.bill_cache_seconds > 0,
        if settings.bill_cache_seconds > 0 {
            format!(
                "fetch-bill cache ({} s, {} MiB)",
                settings.bill_cache_seconds, settings.bill_cache_mib
            )
        } else {
            "fetch-bill cache (KOSH_BILL_CACHE_SECONDS=0)".into()
        },
    );
    p.say(
        !settings.trusted_proxies.is_empty(),
        if settings.trusted_proxies.is_empty() {
            "trusted proxies (KOSH_TRUSTED_PROXIES; forwarding headers are ignored)".into()
        } else {
            format!(
                "trusted proxies {} (client address from {})",
                settings.trusted_proxies.join(", "),
                settings.client_ip_header
            )
        },
    );
    if state.clock.is_manual() {
        p.on.push("manual test clock (POST /_kosh/clock; for tests only)".into());
    }
    p
}

fn limit(n: u32) -> String {
    if n == 0 {
        "no limit".into()
    } else {
        format!("{n} failures")
    }
}

/// Logs the start-up lines: ready, the docs' URL, the database, then the profiles on and off.
pub fn log(settings: &Settings, addr: SocketAddr, state: &AppState) {
    let base = base_url(addr);
    tracing::info!(
        listen = %addr,
        database = %crate::redact(&settings.database_url()),
        "kosh is ready on {base}/ (API docs: {base}/docs/)"
    );
    let p = profiles(settings, state);
    tracing::info!("on: {}", p.on.join("; "));
    tracing::info!("off: {}", p.off.join("; "));
}
