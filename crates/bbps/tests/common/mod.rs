//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use kosh_bbps::c14n::canonicalize_document;
use kosh_bbps::dom::{self, Element, Node};
use kosh_bbps::sig::{SigningKey, VerifyingKey};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn fixture(path: &str) -> String {
    let p = fixtures().join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub fn kosh_key() -> SigningKey {
    SigningKey::from_pem(&fixture("keys/kosh-key.pem")).unwrap()
}
pub fn kosh_cert() -> VerifyingKey {
    VerifyingKey::from_pem(&fixture("keys/kosh-cert.pem")).unwrap()
}
pub fn peer_key() -> SigningKey {
    SigningKey::from_pem(&fixture("keys/peer-key.pem")).unwrap()
}
pub fn peer_cert() -> VerifyingKey {
    VerifyingKey::from_pem(&fixture("keys/peer-cert.pem")).unwrap()
}

fn strip_whitespace_text(el: &mut Element) {
    el.children.retain(|n| match n {
        Node::Text(t) => !t.trim().is_empty(),
        Node::Comment(_) => false,
        _ => true,
    });
    for n in &mut el.children {
        if let Node::Element(e) = n {
            strip_whitespace_text(e);
        }
    }
}

/// The canonical form of a document without the whitespace between elements: two
/// documents with the same data compare equal however they were indented.
pub fn normalize(xml: &str) -> String {
    let mut doc = dom::parse(xml).unwrap();
    strip_whitespace_text(&mut doc.root);
    canonicalize_document(&doc, None, false)
}

/// The folder of the NPCI XSDs, if present.
pub fn xsd_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("KOSH_BBPS_XSD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bbps/xsd"));
    dir.join("BBPS-Common.xsd").is_file().then_some(dir)
}

fn has_tool(name: &str) -> bool {
    Command::new(name).arg("--version").output().is_ok()
}

/// Why the xmllint cross-check cannot run here, if it cannot.
pub fn xmllint_unavailable() -> Option<String> {
    if !has_tool("xmllint") {
        return Some("xmllint is not installed (Debian package libxml2-utils)".into());
    }
    if xsd_dir().is_none() {
        return Some(
            "the NPCI XSDs are not found (set KOSH_BBPS_XSD_DIR, default ../shared/bbps/xsd beside the checkout)"
                .into(),
        );
    }
    None
}

pub fn xmlsec1_unavailable() -> Option<String> {
    (!has_tool("xmlsec1")).then(|| "xmlsec1 is not installed (Debian package xmlsec1)".into())
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Writes `contents` to a fresh file in the temp folder.
pub fn temp_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("kosh-bbps-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let path = dir.join(format!("{}-{n}-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

/// Validates `xml` with xmllint against the XSD file `xsd`: Ok, or xmllint's complaint.
pub fn xmllint(xml: &str, xsd: &str) -> Result<(), String> {
    let dir = xsd_dir().expect("checked by xmllint_unavailable");
    let file = temp_file("doc.xml", xml);
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(dir.join(xsd))
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}
