//! Enveloped XML signatures (XMLDSig) as BBPS uses them.
//!
//! The profile (NPCI's; the operating units' open-source signers agree: the Java
//! `BbpsSignatureUtil` of `Dhru227/bbps-biller-integrator` and a Go XML-DSig signer):
//!
//! - one `Signature` in `http://www.w3.org/2000/09/xmldsig#`, a child of the root element
//!   (kosh appends it as the last child, written with the default namespace and no prefix);
//! - one `Reference` with `URI=""` (the whole document) and the `enveloped-signature`
//!   transform;
//! - digest SHA-256 (`http://www.w3.org/2001/04/xmlenc#sha256`);
//! - signature RSA PKCS#1 v1.5 with SHA-256
//!   (`http://www.w3.org/2001/04/xmldsig-more#rsa-sha256`);
//! - canonicalization inclusive C14N 1.0 (`http://www.w3.org/TR/2001/REC-xml-c14n-20010315`),
//!   implemented in [`crate::c14n`];
//! - `KeyInfo/KeyValue/RSAKeyValue` with the signer's modulus and exponent.
//!
//! Verification trusts only the key from configuration, never the `KeyInfo` a message
//! carries, and accepts nothing looser than the profile: exactly one signature, placed as
//! an enveloped signature of the root; exactly one reference, to the whole document;
//! transforms `enveloped-signature` optionally followed by inclusive C14N; SHA-256 and
//! RSA-SHA256 only (the legacy DSA-SHA1 switch is refused); no `Object`. An unsigned
//! message is refused. RSA keys shorter than 2048 bits are refused at configuration time.
//!
//! What verification hands on is the canonical form of the document without its signature
//! — exactly the bytes whose digest was checked — so the message layer reads what was
//! signed and nothing else (no signature wrapping).
//!
//! Keys come from configuration as PEM: kosh's private key as PKCS#8 (`BEGIN PRIVATE KEY`)
//! or PKCS#1 (`BEGIN RSA PRIVATE KEY`); a counterparty's public key as an X.509 certificate
//! (`BEGIN CERTIFICATE`), SubjectPublicKeyInfo (`BEGIN PUBLIC KEY`) or PKCS#1
//! (`BEGIN RSA PUBLIC KEY`). A PKCS#12 keystore converts with
//! `openssl pkcs12 -in ou.p12 -nodes -nocerts | openssl pkey` (key) and `-nokeys` (cert).
//! The certificate is pinned configuration: its public key is used, its validity dates
//! and chain are not checked here.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs1v15;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{RandomizedSigner, SignatureEncoding, Verifier};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};

use crate::c14n;
use crate::dom::{self, Document, Element, Node, ParseError, is_xml_space};

/// The XML Signature namespace.
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// Inclusive Canonical XML 1.0.
pub const C14N: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
/// Inclusive Canonical XML 1.0 with comments.
pub const C14N_WITH_COMMENTS: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
/// RSA PKCS#1 v1.5 with SHA-256.
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
/// SHA-256 digest.
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
/// The enveloped-signature transform.
pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// A key from configuration could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {detail}")]
    Io { path: String, detail: String },
    #[error("no PEM block found")]
    NotPem,
    #[error("PEM block {0:?} is not a supported key (expected {1})")]
    UnsupportedPem(String, &'static str),
    #[error("invalid {kind}: {detail}")]
    Invalid { kind: &'static str, detail: String },
    #[error("the certificate's key is not an RSA key")]
    NotRsa,
    #[error("RSA key of {0} bits is too short (at least {MIN_RSA_BITS})")]
    TooShort(usize),
}

/// kosh's private key, which signs its responses.
#[derive(Clone)]
pub struct SigningKey {
    signer: pkcs1v15::SigningKey<Sha256>,
    public: RsaPublicKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey(RSA-{})", self.public.size() * 8)
    }
}

/// The first PEM label in `pem`.
fn pem_label(pem: &str) -> Option<&str> {
    let start = pem.find("-----BEGIN ")? + "-----BEGIN ".len();
    let end = pem[start..].find("-----")?;
    Some(&pem[start..start + end])
}

fn check_size(key: &RsaPublicKey) -> Result<(), KeyError> {
    let bits = key.size() * 8;
    if bits < MIN_RSA_BITS {
        Err(KeyError::TooShort(bits))
    } else {
        Ok(())
    }
}

fn read_file(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|e| KeyError::Io {
        path: path.display().to_string(),
        detail: e.to_string(),
    })
}

impl SigningKey {
    /// An RSA private key in PEM: PKCS#8 (`PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<SigningKey, KeyError> {
        let label = pem_label(pem).ok_or(KeyError::NotPem)?;
        let key = match label {
            "PRIVATE KEY" => RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| KeyError::Invalid {
                kind: "PKCS#8 private key",
                detail: e.to_string(),
            })?,
            "RSA PRIVATE KEY" => {
                RsaPrivateKey::from_pkcs1_pem(pem).map_err(|e| KeyError::Invalid {
                    kind: "PKCS#1 private key",
                    detail: e.to_string(),
                })?
            }
            other => {
                return Err(KeyError::UnsupportedPem(
                    other.to_string(),
                    "PRIVATE KEY or RSA PRIVATE KEY",
                ));
            }
        };
        key.validate().map_err(|e| KeyError::Invalid {
            kind: "RSA private key",
            detail: e.to_string(),
        })?;
        let public = key.to_public_key();
        check_size(&public)?;
        Ok(SigningKey {
            signer: pkcs1v15::SigningKey::new(key),
            public,
        })
    }

    /// [`SigningKey::from_pem`] from a file.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<SigningKey, KeyError> {
        SigningKey::from_pem(&read_file(path.as_ref())?)
    }

    /// The matching public key (what a counterparty configures to verify kosh).
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey {
            verifier: pkcs1v15::VerifyingKey::new(self.public.clone()),
            public: self.public.clone(),
        }
    }
}

/// A counterparty's public key, which verifies its requests.
#[derive(Clone)]
pub struct VerifyingKey {
    verifier: pkcs1v15::VerifyingKey<Sha256>,
    public: RsaPublicKey,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VerifyingKey(RSA-{})", self.public.size() * 8)
    }
}

impl PartialEq for VerifyingKey {
    fn eq(&self, other: &Self) -> bool {
        self.public == other.public
    }
}

impl VerifyingKey {
    fn new(public: RsaPublicKey) -> Result<VerifyingKey, KeyError> {
        check_size(&public)?;
        Ok(VerifyingKey {
            verifier: pkcs1v15::VerifyingKey::new(public.clone()),
            public,
        })
    }

    /// An RSA public key in PEM: an X.509 certificate (`CERTIFICATE`), SubjectPublicKeyInfo
    /// (`PUBLIC KEY`) or PKCS#1 (`RSA PUBLIC KEY`).
    pub fn from_pem(pem: &str) -> Result<VerifyingKey, KeyError> {
        let label = pem_label(pem).ok_or(KeyError::NotPem)?;
        let key = match label {
            "CERTIFICATE" => {
                use x509_cert::der::DecodePem;
                let cert =
                    x509_cert::Certificate::from_pem(pem).map_err(|e| KeyError::Invalid {
                        kind: "X.509 certificate",
                        detail: e.to_string(),
                    })?;
                return VerifyingKey::from_certificate(&cert);
            }
            "PUBLIC KEY" => {
                RsaPublicKey::from_public_key_pem(pem).map_err(|e| KeyError::Invalid {
                    kind: "public key",
                    detail: e.to_string(),
                })?
            }
            "RSA PUBLIC KEY" => {
                RsaPublicKey::from_pkcs1_pem(pem).map_err(|e| KeyError::Invalid {
                    kind: "PKCS#1 public key",
                    detail: e.to_string(),
                })?
            }
            other => {
                return Err(KeyError::UnsupportedPem(
                    other.to_string(),
                    "CERTIFICATE, PUBLIC KEY or RSA PUBLIC KEY",
                ));
            }
        };
        VerifyingKey::new(key)
    }

    /// The key of a DER-encoded X.509 certificate.
    pub fn from_certificate_der(der: &[u8]) -> Result<VerifyingKey, KeyError> {
        use x509_cert::der::Decode;
        let cert = x509_cert::Certificate::from_der(der).map_err(|e| KeyError::Invalid {
            kind: "X.509 certificate",
            detail: e.to_string(),
        })?;
        VerifyingKey::from_certificate(&cert)
    }

    fn from_certificate(cert: &x509_cert::Certificate) -> Result<VerifyingKey, KeyError> {
        use x509_cert::der::Encode;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| KeyError::Invalid {
                kind: "certificate public key",
                detail: e.to_string(),
            })?;
        let key = RsaPublicKey::from_public_key_der(&spki).map_err(|_| KeyError::NotRsa)?;
        VerifyingKey::new(key)
    }

    /// [`VerifyingKey::from_pem`] from a file.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<VerifyingKey, KeyError> {
        VerifyingKey::from_pem(&read_file(path.as_ref())?)
    }
}

/// Signing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("the document is already signed")]
    AlreadySigned,
    #[error("processing instructions outside the root element cannot be signed by kosh")]
    OutsideRoot,
    #[error("the signature did not verify after signing: {0}")]
    SelfCheck(String),
}

/// Verification failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("the message is not signed")]
    Unsigned,
    #[error("the message carries more than one Signature")]
    MultipleSignatures,
    #[error("the Signature is not a child of the root element (enveloped signature)")]
    Misplaced,
    #[error("malformed Signature: {0}")]
    Malformed(String),
    #[error("unsupported {what}: {value} (BBPS signs with {expected})")]
    Unsupported {
        what: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("the signature value does not verify with the configured key")]
    BadSignature,
    #[error("digest mismatch: the signed content was changed")]
    DigestMismatch,
}

/// A message whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    signed_xml: String,
}

impl Verified {
    /// The signed content: the canonical form of the document without its `Signature`.
    pub fn signed_xml(&self) -> &str {
        &self.signed_xml
    }

    /// [`Verified::signed_xml`], owned.
    pub fn into_signed_xml(self) -> String {
        self.signed_xml
    }
}

fn b64_of_uint(bytes: &[u8]) -> String {
    let first = bytes
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    B64.encode(&bytes[first..])
}

/// Signs `xml` with an enveloped signature (see the module docs). The result is the
/// canonical form of the input with the `Signature` appended to the root element, preceded
/// by an XML declaration.
pub fn sign(xml: &str, key: &SigningKey) -> Result<String, SignError> {
    let doc = dom::parse(xml)?;
    if find_signatures(&doc.root).next().is_some() {
        return Err(SignError::AlreadySigned);
    }
    if doc
        .before
        .iter()
        .chain(&doc.after)
        .any(|n| matches!(n, Node::Pi { .. }))
    {
        return Err(SignError::OutsideRoot);
    }
    let canonical = c14n::canonicalize_document(&doc, None, false);
    let digest = B64.encode(Sha256::digest(canonical.as_bytes()));
    let close = format!("</{}>", doc.root.qname());
    let body = canonical
        .strip_suffix(&close)
        .expect("the canonical form ends with the root's end tag");

    let head = format!(
        "<Signature xmlns=\"{DSIG_NS}\"><SignedInfo><CanonicalizationMethod Algorithm=\"{C14N}\"></CanonicalizationMethod><SignatureMethod Algorithm=\"{RSA_SHA256}\"></SignatureMethod><Reference URI=\"\"><Transforms><Transform Algorithm=\"{ENVELOPED}\"></Transform></Transforms><DigestMethod Algorithm=\"{SHA256}\"></DigestMethod><DigestValue>{digest}</DigestValue></Reference></SignedInfo><SignatureValue>"
    );
    let tail = format!(
        "</SignatureValue><KeyInfo><KeyValue><RSAKeyValue><Modulus>{}</Modulus><Exponent>{}</Exponent></RSAKeyValue></KeyValue></KeyInfo></Signature>",
        b64_of_uint(&key.public.n().to_bytes_be()),
        b64_of_uint(&key.public.e().to_bytes_be()),
    );

    // SignedInfo is canonicalized in place, so that it carries the namespaces in scope
    // there — computed by the same code that verifies.
    let unsigned = format!("{body}{head}{tail}{close}");
    let unsigned_doc = dom::parse(&unsigned)?;
    let sig_el = find_signatures(&unsigned_doc.root)
        .next()
        .expect("the signature was just inserted");
    let signed_info = sig_el
        .child_elements()
        .next()
        .expect("SignedInfo is the first child");
    let si_c14n = c14n::canonicalize_subtree(&unsigned_doc, signed_info, false)
        .expect("SignedInfo is in the document");
    // With an RNG the private-key operation is blinded (the signature itself is
    // deterministic, as PKCS#1 v1.5 is), which keeps its timing independent of the key.
    let value = B64.encode(
        key.signer
            .sign_with_rng(&mut rsa::rand_core::OsRng, si_c14n.as_bytes())
            .to_bytes(),
    );

    let signed =
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{body}{head}{value}{tail}{close}");
    verify(&signed, &key.verifying_key()).map_err(|e| SignError::SelfCheck(e.to_string()))?;
    Ok(signed)
}

/// Every `Signature` element under (and including) `el`.
fn find_signatures(el: &Element) -> Box<dyn Iterator<Item = &Element> + '_> {
    let own = el.is(Some(DSIG_NS), "Signature").then_some(el);
    Box::new(
        own.into_iter()
            .chain(el.child_elements().flat_map(find_signatures)),
    )
}

/// Verifies the enveloped signature of `xml` with `key`.
pub fn verify(xml: &str, key: &VerifyingKey) -> Result<Verified, VerifyError> {
    verify_with_any(xml, std::slice::from_ref(key))
}

/// Verifies with whichever of `keys` signed (a counterparty rolling its certificate over
/// has two configured for a while).
pub fn verify_with_any(xml: &str, keys: &[VerifyingKey]) -> Result<Verified, VerifyError> {
    let doc = dom::parse(xml)?;
    verify_document(&doc, keys)
}

/// The checked parts of a `Signature`.
struct Parsed<'a> {
    signed_info: &'a Element,
    si_with_comments: bool,
    digest: Vec<u8>,
    value: Vec<u8>,
}

fn malformed(msg: impl Into<String>) -> VerifyError {
    VerifyError::Malformed(msg.into())
}

/// The element children of `el`, all of which must be XML Signature elements, with no text
/// other than whitespace.
fn dsig_children(el: &Element) -> Result<Vec<&Element>, VerifyError> {
    for n in &el.children {
        if let Node::Text(t) = n
            && !t.chars().all(is_xml_space)
        {
            return Err(malformed(format!("text in {}", el.local)));
        }
    }
    let kids: Vec<&Element> = el.child_elements().collect();
    if let Some(k) = kids.iter().find(|k| k.ns.as_deref() != Some(DSIG_NS)) {
        return Err(malformed(format!(
            "{} inside {} is not an XML Signature element",
            k.qname(),
            el.local
        )));
    }
    Ok(kids)
}

fn algorithm(el: &Element) -> Result<&str, VerifyError> {
    if el.child_elements().next().is_some() {
        return Err(VerifyError::Unsupported {
            what: "algorithm parameters",
            value: format!("children of {}", el.local),
            expected: "none",
        });
    }
    el.attr("Algorithm")
        .ok_or_else(|| malformed(format!("{} without Algorithm", el.local)))
}

fn base64_text(el: &Element) -> Result<Vec<u8>, VerifyError> {
    if el.child_elements().next().is_some() {
        return Err(malformed(format!("elements inside {}", el.local)));
    }
    let text: String = el.text().chars().filter(|c| !is_xml_space(*c)).collect();
    B64.decode(text)
        .map_err(|e| malformed(format!("{} is not base64: {e}", el.local)))
}

fn expect<'a>(
    kids: &[&'a Element],
    i: usize,
    name: &str,
    parent: &str,
) -> Result<&'a Element, VerifyError> {
    match kids.get(i) {
        Some(k) if k.local == name => Ok(k),
        Some(k) => Err(malformed(format!(
            "{parent}: expected {name}, found {}",
            k.local
        ))),
        None => Err(malformed(format!("{parent}: {name} is missing"))),
    }
}

fn parse_signature(sig: &Element) -> Result<Parsed<'_>, VerifyError> {
    let kids = dsig_children(sig)?;
    let signed_info = expect(&kids, 0, "SignedInfo", "Signature")?;
    let value_el = expect(&kids, 1, "SignatureValue", "Signature")?;
    match kids.get(2) {
        None => {}
        Some(k) if k.local == "KeyInfo" && kids.len() == 3 => {}
        Some(k) => {
            return Err(VerifyError::Unsupported {
                what: "Signature content",
                value: k.local.clone(),
                expected: "SignedInfo, SignatureValue, KeyInfo",
            });
        }
    }

    let si = dsig_children(signed_info)?;
    let c14n_el = expect(&si, 0, "CanonicalizationMethod", "SignedInfo")?;
    let si_with_comments = match algorithm(c14n_el)? {
        C14N => false,
        C14N_WITH_COMMENTS => true,
        other => {
            return Err(VerifyError::Unsupported {
                what: "CanonicalizationMethod",
                value: other.to_string(),
                expected: "inclusive C14N 1.0",
            });
        }
    };
    let sm = algorithm(expect(&si, 1, "SignatureMethod", "SignedInfo")?)?;
    if sm != RSA_SHA256 {
        return Err(VerifyError::Unsupported {
            what: "SignatureMethod",
            value: sm.to_string(),
            expected: "RSA-SHA256",
        });
    }
    let reference = expect(&si, 2, "Reference", "SignedInfo")?;
    if si.len() > 3 {
        return Err(VerifyError::Unsupported {
            what: "number of References",
            value: (si.len() - 2).to_string(),
            expected: "exactly one Reference",
        });
    }
    match reference.attr("URI") {
        Some("") => {}
        Some(uri) => {
            return Err(VerifyError::Unsupported {
                what: "Reference URI",
                value: uri.to_string(),
                expected: "URI=\"\" (the whole document)",
            });
        }
        None => return Err(malformed("Reference without URI")),
    }

    let r = dsig_children(reference)?;
    let (dm_index, transforms) = match r.first() {
        Some(t) if t.local == "Transforms" => (1, Some(*t)),
        _ => (0, None),
    };
    let mut saw_enveloped = false;
    if let Some(t) = transforms {
        for (i, tr) in dsig_children(t)?.iter().enumerate() {
            if tr.local != "Transform" {
                return Err(malformed(format!("{} inside Transforms", tr.local)));
            }
            match algorithm(tr)? {
                ENVELOPED if i == 0 => saw_enveloped = true,
                // After enveloped-signature the node-set is canonicalized with inclusive
                // C14N anyway; a same-document reference has no comments to keep.
                C14N | C14N_WITH_COMMENTS if i > 0 => {}
                other => {
                    return Err(VerifyError::Unsupported {
                        what: "Transform",
                        value: other.to_string(),
                        expected: "enveloped-signature, then optionally inclusive C14N",
                    });
                }
            }
        }
    }
    if !saw_enveloped {
        return Err(VerifyError::Unsupported {
            what: "Reference transforms",
            value: "no enveloped-signature transform".into(),
            expected: "enveloped-signature",
        });
    }
    let dm = algorithm(expect(&r, dm_index, "DigestMethod", "Reference")?)?;
    if dm != SHA256 {
        return Err(VerifyError::Unsupported {
            what: "DigestMethod",
            value: dm.to_string(),
            expected: "SHA-256",
        });
    }
    let digest = base64_text(expect(&r, dm_index + 1, "DigestValue", "Reference")?)?;
    if r.len() > dm_index + 2 {
        return Err(malformed("unexpected content after DigestValue"));
    }
    Ok(Parsed {
        signed_info,
        si_with_comments,
        digest,
        value: base64_text(value_el)?,
    })
}

/// Verifies a parsed document; see [`verify`].
pub(crate) fn verify_document(
    doc: &Document,
    keys: &[VerifyingKey],
) -> Result<Verified, VerifyError> {
    let mut sigs = find_signatures(&doc.root);
    let sig = sigs.next().ok_or(VerifyError::Unsigned)?;
    if sigs.next().is_some() {
        return Err(VerifyError::MultipleSignatures);
    }
    if !doc.root.child_elements().any(|c| std::ptr::eq(c, sig)) {
        return Err(VerifyError::Misplaced);
    }
    let parsed = parse_signature(sig)?;

    let si_c14n = c14n::canonicalize_subtree(doc, parsed.signed_info, parsed.si_with_comments)
        .expect("SignedInfo is in the document");
    let signature = pkcs1v15::Signature::try_from(parsed.value.as_slice())
        .map_err(|_| VerifyError::BadSignature)?;
    if !keys
        .iter()
        .any(|k| k.verifier.verify(si_c14n.as_bytes(), &signature).is_ok())
    {
        return Err(VerifyError::BadSignature);
    }

    let signed_xml = c14n::canonicalize_document(doc, Some(sig), false);
    if Sha256::digest(signed_xml.as_bytes())[..] != parsed.digest[..] {
        return Err(VerifyError::DigestMismatch);
    }
    Ok(Verified { signed_xml })
}
