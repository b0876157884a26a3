//! The primitives gateways sign with, as thin wrappers around well-kept crates (`hmac`,
//! `sha2`, `aes` + `cbc`, `subtle`). Nothing here is hand-written cryptography; the wrappers
//! only fix the encodings (hex case, byte encodings) that the gateway protocols use.

use aes::{Aes128, Aes192, Aes256};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

/// HMAC-SHA256 of `message` under `key` (RFC 2104 / RFC 4231).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Lower-case hex of SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Lower-case hex of SHA-512.
pub fn sha512_hex(data: &[u8]) -> String {
    hex::encode(Sha512::digest(data))
}

/// Compares two byte strings in constant time (for a given length).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Compares two hex strings case-insensitively, in constant time for a given length.
pub fn hex_eq_ignore_case(a: &str, b: &str) -> bool {
    ct_eq(
        a.to_ascii_lowercase().as_bytes(),
        b.to_ascii_lowercase().as_bytes(),
    )
}

/// Why AES-CBC could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AesError {
    /// The key is not 16, 24 or 32 bytes long.
    #[error("AES key must be 16, 24 or 32 bytes, not {0}")]
    KeyLength(usize),
    /// The IV is not 16 bytes long.
    #[error("AES-CBC IV must be 16 bytes, not {0}")]
    IvLength(usize),
    /// The ciphertext is not whole blocks, or its PKCS#7 padding is wrong (wrong key).
    #[error("AES-CBC ciphertext or padding is invalid")]
    Ciphertext,
}

/// AES-CBC encryption with PKCS#5/#7 padding (Java's `AES/CBC/PKCS5Padding`). The AES variant
/// follows the key length (16 → AES-128, 24 → AES-192, 32 → AES-256), as Java's `SecretKeySpec`
/// does.
pub fn aes_cbc_encrypt(key: &[u8], iv: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, AesError> {
    check_iv(iv)?;
    let out = match key.len() {
        16 => cbc::Encryptor::<Aes128>::new_from_slices(key, iv)
            .map_err(|_| AesError::KeyLength(key.len()))?
            .encrypt_padded_vec_mut::<Pkcs7>(plaintext),
        24 => cbc::Encryptor::<Aes192>::new_from_slices(key, iv)
            .map_err(|_| AesError::KeyLength(key.len()))?
            .encrypt_padded_vec_mut::<Pkcs7>(plaintext),
        32 => cbc::Encryptor::<Aes256>::new_from_slices(key, iv)
            .map_err(|_| AesError::KeyLength(key.len()))?
            .encrypt_padded_vec_mut::<Pkcs7>(plaintext),
        n => return Err(AesError::KeyLength(n)),
    };
    Ok(out)
}

/// AES-CBC decryption with PKCS#5/#7 padding; the inverse of [`aes_cbc_encrypt`].
pub fn aes_cbc_decrypt(key: &[u8], iv: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, AesError> {
    check_iv(iv)?;
    let out = match key.len() {
        16 => cbc::Decryptor::<Aes128>::new_from_slices(key, iv)
            .map_err(|_| AesError::KeyLength(key.len()))?
            .decrypt_padded_vec_mut::<Pkcs7>(ciphertext),
        24 => cbc::Decryptor::<Aes192>::new_from_slices(key, iv)
            .map_err(|_| AesError::KeyLength(key.len()))?
            .decrypt_padded_vec_mut::<Pkcs7>(ciphertext),
        32 => cbc::Decryptor::<Aes256>::new_from_slices(key, iv)
            .map_err(|_| AesError::KeyLength(key.len()))?
            .decrypt_padded_vec_mut::<Pkcs7>(ciphertext),
        n => return Err(AesError::KeyLength(n)),
    };
    out.map_err(|_| AesError::Ciphertext)
}

fn check_iv(iv: &[u8]) -> Result<(), AesError> {
    if iv.len() == 16 {
        Ok(())
    } else {
        Err(AesError::IvLength(iv.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    // RFC 4231, test cases 1, 2 and 6 (key longer than the block size).
    #[test]
    fn hmac_sha256_rfc4231_vectors() {
        assert_eq!(
            hex::encode(hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    // FIPS 180-2 appendix examples ("abc").
    #[test]
    fn sha_fips_vectors() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha512_hex(b"abc"),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    // NIST SP 800-38A, F.2.1 CBC-AES128.Encrypt (first two blocks). With PKCS#7 padding a whole
    // block of 0x10 follows, so the first 32 bytes are the NIST ciphertext.
    #[test]
    fn aes128_cbc_nist_known_answer() {
        let key = unhex("2b7e151628aed2a6abf7158809cf4f3c");
        let iv = unhex("000102030405060708090a0b0c0d0e0f");
        let plaintext = unhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
        let ciphertext = aes_cbc_encrypt(&key, &iv, &plaintext).unwrap();
        assert_eq!(ciphertext.len(), 48);
        assert_eq!(
            hex::encode(&ciphertext[..32]),
            "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
        );
        assert_eq!(aes_cbc_decrypt(&key, &iv, &ciphertext).unwrap(), plaintext);
    }

    // NIST SP 800-38A, F.2.5 CBC-AES256.Encrypt (first block).
    #[test]
    fn aes256_cbc_nist_known_answer() {
        let key = unhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
        let iv = unhex("000102030405060708090a0b0c0d0e0f");
        let plaintext = unhex("6bc1bee22e409f96e93d7e117393172a");
        let ciphertext = aes_cbc_encrypt(&key, &iv, &plaintext).unwrap();
        assert_eq!(
            hex::encode(&ciphertext[..16]),
            "f58c4c04d6e5f1ba779eabfb5f7bfbd6"
        );
    }

    #[test]
    fn aes_rejects_bad_lengths_and_wrong_keys() {
        let iv = [0u8; 16];
        assert_eq!(
            aes_cbc_encrypt(&[0u8; 15], &iv, b"x"),
            Err(AesError::KeyLength(15))
        );
        assert_eq!(
            aes_cbc_encrypt(&[0u8; 16], &[0u8; 8], b"x"),
            Err(AesError::IvLength(8))
        );
        let ciphertext = aes_cbc_encrypt(&[1u8; 16], &iv, b"some text").unwrap();
        // A wrong key almost always breaks the padding; it must never panic.
        let _ = aes_cbc_decrypt(&[2u8; 16], &iv, &ciphertext);
        assert_eq!(
            aes_cbc_decrypt(&[1u8; 16], &iv, &ciphertext[..15]),
            Err(AesError::Ciphertext)
        );
    }

    #[test]
    fn constant_time_comparisons() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(hex_eq_ignore_case("DEADbeef", "deadBEEF"));
        assert!(!hex_eq_ignore_case("deadbeef", "deadbeee"));
    }
}
