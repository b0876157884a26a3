use super::*;

fn vault_with(keys: &[(&str, u8)], index: u8) -> Vault {
    let keys: Vec<(String, Vec<u8>)> = keys
        .iter()
        .map(|(id, b)| (id.to_string(), vec![*b; 32]))
        .collect();
    Vault::new(&keys, &[index; 32]).unwrap()
}

#[test]
fn seal_and_open_round_trip() {
    let v = vault_with(&[("k1", 1)], 9);
    for plain in ["", "9876543210", "ससससस, Amritsar", &"x".repeat(5000)] {
        let sealed = v.seal_str(plain);
        assert!(sealed.starts_with("v1.k1."), "{sealed}");
        assert!(!sealed.contains(plain) || plain.is_empty());
        assert_eq!(v.open_str(&sealed).unwrap(), plain);
    }
    // A random nonce per value: the same plain seals differently each time.
    assert_ne!(v.seal_str("9876543210"), v.seal_str("9876543210"));
    let json = serde_json::json!({"mobileNumber": "9876543210", "pan": "ABCDE1234F"});
    let sealed = v.seal_json(&json);
    assert_eq!(v.open_json::<serde_json::Value>(&sealed).unwrap(), json);
}

#[test]
fn wrong_or_missing_key_is_refused() {
    let k1 = vault_with(&[("k1", 1)], 9);
    let other = vault_with(&[("k1", 2)], 9);
    let sealed = k1.seal_str("9876543210");
    assert_eq!(other.open(&sealed), Err(PiiError::Refused));
    let k2 = vault_with(&[("k2", 1)], 9);
    assert_eq!(k2.open(&sealed), Err(PiiError::UnknownKey("k1".into())));
    assert_eq!(k1.open("9876543210"), Err(PiiError::NotSealed));
}

#[test]
fn tampered_ciphertext_is_refused() {
    let v = vault_with(&[("k1", 1)], 9);
    let sealed = v.seal_str("9876543210");
    let (head, body) = sealed.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(body).unwrap();
    for i in [0, NONCE_LEN, bytes.len() - 1] {
        bytes[i] ^= 1;
        let tampered = format!("{head}.{}", URL_SAFE_NO_PAD.encode(&bytes));
        assert_eq!(v.open(&tampered), Err(PiiError::Refused), "byte {i}");
        bytes[i] ^= 1;
    }
    // A value moved under another key id does not open either (the id is authenticated).
    let v2 = vault_with(&[("k1", 1), ("k2", 1)], 9);
    let moved = sealed.replacen("v1.k1.", "v1.k2.", 1);
    assert_eq!(v2.open(&moved), Err(PiiError::Refused));
    assert_eq!(v.open("v1.k1.AAAA"), Err(PiiError::Refused));
}

#[test]
fn rotation_reseals_under_the_first_key() {
    let old = vault_with(&[("k1", 1)], 9);
    let sealed = old.seal_str("a@example.com");
    let both = vault_with(&[("k2", 2), ("k1", 1)], 9);
    assert!(!both.is_current(&sealed));
    let resealed = both.reseal(&sealed).unwrap();
    assert!(resealed.starts_with("v1.k2."));
    assert!(both.is_current(&resealed));
    let only_new = vault_with(&[("k2", 2)], 9);
    assert_eq!(only_new.open_str(&resealed).unwrap(), "a@example.com");
}

#[test]
fn blind_index_is_stable_keyed_and_short() {
    let a = vault_with(&[("k1", 1)], 9);
    let b = vault_with(&[("k7", 3)], 9);
    let c = vault_with(&[("k1", 1)], 8);
    let i = a.index("9876543210");
    assert_eq!(i.len(), 32);
    assert!(is_index(&i) && i.starts_with("h:"));
    // Stable across processes and independent of the encryption keys...
    assert_eq!(i, a.index("9876543210"));
    assert_eq!(i, b.index("9876543210"));
    // ...but not of the index key, and different values differ.
    assert_ne!(i, c.index("9876543210"));
    assert_ne!(i, a.index("9876543211"));
    assert_eq!(a.stored_user_name("9876543210"), i);
    assert_eq!(a.stored_user_name("EMP-42"), "EMP-42");
    assert_eq!(a.stored_user_name("admin"), "admin");
}

#[test]
fn keys_from_configuration_and_key_file() {
    let dir = std::env::temp_dir().join(format!("kosh-pii-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let file = dir.join("kosh.keys");
    let cfg = KeyConfig {
        key_file: file.clone(),
        ..KeyConfig::default()
    };
    let first = cfg.load().unwrap();
    assert_eq!(first.generated.as_deref(), Some(file.as_path()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let sealed = first.vault.seal_str("9876543210");
    // The second start reads the same keys from the file.
    let second = cfg.load().unwrap();
    assert!(second.generated.is_none());
    assert_eq!(second.vault.open_str(&sealed).unwrap(), "9876543210");
    assert_eq!(first.vault.index("x"), second.vault.index("x"));
    // Configured keys win over the file; the index key is required with them.
    let cfg = KeyConfig {
        keys: Some(format!("kx:{}", keys::fresh_key())),
        index_key: None,
        key_file: dir.join("none"),
    };
    assert!(cfg.load().unwrap_err().contains("KOSH_PII_INDEX_KEY"));
    let bad = KeyConfig {
        keys: Some("kx:c2hvcnQ=".into()),
        index_key: Some(keys::fresh_key()),
        key_file: dir.join("none"),
    };
    assert!(bad.load().unwrap_err().contains("32"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn masks() {
    use mask::*;
    assert_eq!(mask(Attr::Mobile, "9876543210"), "******3210");
    assert_eq!(mask(Attr::Email, "alice@example.com"), "a****@example.com");
    assert_eq!(mask(Attr::Pan, "ABCDE1234F"), "******234F");
    assert_eq!(mask(Attr::Aadhaar, "123412341234"), "********1234");
    assert_eq!(mask(Attr::Name, "Asha Kumari"), "A*** K*****");
    assert_eq!(mask(Attr::Mobile, "12"), "**");
}

#[test]
fn shipped_policy_unmasks_employees_not_citizens_or_integrators() {
    use mask::*;
    let p = Policy::shipped();
    let clerk = p.masking(Model::Payer, ["COLL_OPERATOR"]);
    assert!(clerk.is_plain());
    let su = p.masking(Model::User, ["SUPERUSER"]);
    assert!(su.is_plain());
    for roles in [vec!["CITIZEN"], vec!["SYSTEM", "BBPS"], vec![]] {
        let m = p.masking(Model::User, roles.iter().copied());
        assert!(m.masks(Attr::Mobile) && m.masks(Attr::Email));
        assert!(m.masks(Attr::Pan) && m.masks(Attr::Aadhaar));
        assert!(!m.masks(Attr::Name));
    }
}

#[test]
fn log_lines_carry_no_plain_mobile() {
    assert_eq!(mask::log_name("9876543210"), "******3210");
    assert_eq!(mask::log_name("admin"), "admin");
    assert_eq!(mask::log_name("EMP-42"), "EMP-42");
}

/// The cost of one row's sealing and opening (run with `--release --ignored`): a payer's
/// fields, as a bill or payment row keeps them.
#[test]
#[ignore]
fn cost_of_a_row() {
    let v = vault_with(&[("k1", 1)], 9);
    let t = &table::BILLS;
    let values = [
        Some("Meera Kaur"),
        Some("12 Lawrence Road, Amritsar"),
        Some("meera.kaur@example.org"),
        Some("9812345678"),
    ];
    let n = 100_000;
    let start = std::time::Instant::now();
    let mut last = None;
    for _ in 0..n {
        last = Some(t.seal(&v, &values, None));
    }
    let seal = start.elapsed() / n;
    let sealed = last.unwrap().pii;
    let start = std::time::Instant::now();
    for _ in 0..n {
        let m: serde_json::Value = v.open_json(&sealed).unwrap();
        assert!(m.is_object());
    }
    let open = start.elapsed() / n;
    eprintln!("seal a row (with its two blind indexes): {seal:?}; open a row: {open:?}");
}
