//! What the BBPS routes share: the billers from master data and, when configured, the keys
//! of the NPCI XML profile. Built once at start-up; a fault stops start-up.

use std::path::PathBuf;

use anyhow::Context;
use kosh_mdms::Mdms;

use crate::master::Billers;
use crate::sig::{SigningKey, VerifyingKey};

/// The settings of the BBPS adapter (`KOSH_BBPS_*`).
#[derive(Debug, Clone, Default)]
pub struct BbpsSettings {
    /// kosh's private key (PEM) that signs its XML responses.
    pub signing_key: Option<PathBuf>,
    /// The operating units' certificates or public keys (PEM) whose signatures kosh accepts.
    pub peer_certs: Vec<PathBuf>,
    /// `Head@origInst` of kosh's XML responses.
    pub institution_id: String,
    /// The operating unit's base URL for NPCI's asynchronous exchange
    /// ([`crate::callback`]); `None`: responses go in the HTTP answer.
    pub callback_url: Option<String>,
}

/// The keys of the XML profile.
#[derive(Debug, Clone)]
pub struct XmlKeys {
    pub signing: SigningKey,
    pub peers: Vec<VerifyingKey>,
}

/// The BBPS adapter's configuration, shared by its routes.
#[derive(Debug)]
pub struct Bbps {
    pub billers: Billers,
    /// `None`: the XML profile is off.
    pub xml: Option<XmlKeys>,
    pub institution_id: String,
    /// Set: XML requests are acknowledged at once and answered by a POST to the unit.
    pub callback: Option<std::sync::Arc<crate::callback::Callback>>,
}

/// Why the XML profile is off, for its refusals and the start-up log.
pub const XML_OFF: &str = "The NPCI XML profile of BBPS is off on this server: set KOSH_BBPS_SIGNING_KEY (kosh's private key) and KOSH_BBPS_PEER_CERTS (the operating units' certificates) to turn it on";

impl Bbps {
    /// Checks the billers in `mdms` and reads the keys the settings name.
    pub fn new(mdms: &Mdms, settings: &BbpsSettings) -> anyhow::Result<Bbps> {
        let billers = Billers::load(mdms).map_err(anyhow::Error::msg)?;
        let institution_id = settings.institution_id.trim().to_string();
        anyhow::ensure!(
            !institution_id.is_empty()
                && institution_id.len() <= 35
                && institution_id.bytes().all(|b| b.is_ascii_alphanumeric()),
            "KOSH_BBPS_INSTITUTION_ID must be 1-35 letters or digits"
        );
        let xml = match (&settings.signing_key, settings.peer_certs.is_empty()) {
            (None, true) => None,
            (Some(_), true) => {
                anyhow::bail!("KOSH_BBPS_SIGNING_KEY is set but KOSH_BBPS_PEER_CERTS is not")
            }
            (None, false) => {
                anyhow::bail!("KOSH_BBPS_PEER_CERTS is set but KOSH_BBPS_SIGNING_KEY is not")
            }
            (Some(key), false) => {
                let signing = SigningKey::from_pem_file(key)
                    .with_context(|| format!("KOSH_BBPS_SIGNING_KEY {}", key.display()))?;
                let peers = settings
                    .peer_certs
                    .iter()
                    .map(|p| {
                        VerifyingKey::from_pem_file(p)
                            .with_context(|| format!("KOSH_BBPS_PEER_CERTS {}", p.display()))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                Some(XmlKeys { signing, peers })
            }
        };
        let callback = match settings
            .callback_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            Some(url) => {
                anyhow::ensure!(
                    xml.is_some(),
                    "KOSH_BBPS_CALLBACK_URL is set but the XML profile is off (set KOSH_BBPS_SIGNING_KEY and KOSH_BBPS_PEER_CERTS)"
                );
                Some(std::sync::Arc::new(crate::callback::Callback::new(url)?))
            }
            None => None,
        };
        Ok(Bbps {
            billers,
            xml,
            institution_id,
            callback,
        })
    }

    /// Billers only, XML profile off (tests, tools).
    pub fn without_xml(mdms: &Mdms) -> anyhow::Result<Bbps> {
        Bbps::new(
            mdms,
            &BbpsSettings {
                institution_id: "KOSH".into(),
                ..BbpsSettings::default()
            },
        )
    }
}
