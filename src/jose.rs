//! The small part of JOSE the project needs: compact JWS with RS256 and ES256, private and
//! public JWKs, and RFC 7638 thumbprints. The client uses it for `private_key_jwt` client
//! assertions and DPoP proofs; the simulator uses it to verify both.
//!
//! It is hand-written rather than taken from a JOSE/JWT crate because Okta's `private_key_jwt`
//! and DPoP need only two signatures, RS256 and ES256, over keys the caller supplies: no
//! encryption, no other algorithms, no key discovery. The cryptography itself is the `rsa` and
//! `p256` crates'; this module only frames it (about 300 lines), and its tests check the RFC 7638
//! example thumbprint and sign-then-verify for every key form.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::{Signer, Verifier};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::SignatureEncoding;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// A private key that signs JWS: RSA (RS256) or P-256 (ES256). Its `Debug` shows only the
/// algorithm and key id.
#[derive(Clone)]
pub struct SigningKey {
    kind: KeyKind,
    key_id: Option<String>,
}

#[derive(Clone)]
enum KeyKind {
    Rsa(Box<RsaPrivateKey>),
    Ec(p256::ecdsa::SigningKey),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("alg", &self.algorithm()).field("kid", &self.key_id).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Reads a private key from PEM (PKCS#8, PKCS#1 RSA, SEC1 EC) or from a private JWK in
    /// JSON. The key id comes from the JWK's `kid` unless `key_id` is given.
    pub fn from_text(text: &str, key_id: Option<String>) -> Result<Self> {
        let trimmed = text.trim();
        let mut key = if trimmed.starts_with('{') {
            let jwk: Value = serde_json::from_str(trimmed)
                .map_err(|e| Error::Configuration(format!("the private key JWK is not valid JSON: {e}")))?;
            Self::from_jwk(&jwk)?
        } else {
            Self::from_pem(trimmed)?
        };
        if key_id.is_some() {
            key.key_id = key_id;
        }
        Ok(key)
    }

    /// Reads a PEM private key.
    pub fn from_pem(pem: &str) -> Result<Self> {
        let kind = if pem.contains("BEGIN RSA PRIVATE KEY") {
            KeyKind::Rsa(Box::new(RsaPrivateKey::from_pkcs1_pem(pem).map_err(|_| bad_key("PKCS#1 RSA PEM"))?))
        } else if pem.contains("BEGIN EC PRIVATE KEY") {
            let secret = p256::SecretKey::from_sec1_pem(pem).map_err(|_| bad_key("SEC1 EC PEM (P-256)"))?;
            KeyKind::Ec(secret.into())
        } else if pem.contains("BEGIN PRIVATE KEY") {
            if let Ok(rsa) = RsaPrivateKey::from_pkcs8_pem(pem) {
                KeyKind::Rsa(Box::new(rsa))
            } else if let Ok(secret) = p256::SecretKey::from_pkcs8_pem(pem) {
                KeyKind::Ec(secret.into())
            } else {
                return Err(bad_key("PKCS#8 PEM (RSA or P-256)"));
            }
        } else {
            return Err(Error::Configuration(
                "the private key is neither PEM nor a JWK (expected -----BEGIN ... PRIVATE KEY----- or {...})".into(),
            ));
        };
        SigningKey { kind, key_id: None }.checked()
    }

    /// Refuses keys too weak to sign for Okta: RSA keys under 2048 bits (Okta requires at least
    /// 2048), which would otherwise fail only at the first request.
    fn checked(self) -> Result<Self> {
        if let KeyKind::Rsa(key) = &self.kind {
            let bits = rsa::traits::PublicKeyParts::n(key.as_ref()).bits();
            if bits < MIN_RSA_BITS {
                return Err(Error::Configuration(format!(
                    "the RSA key has {bits} bits; Okta requires at least {MIN_RSA_BITS}"
                )));
            }
        }
        Ok(self)
    }

    /// Reads a private JWK (`kty` RSA with n, e, d, p, q; or `kty` EC, `crv` P-256, with x, y, d).
    pub fn from_jwk(jwk: &Value) -> Result<Self> {
        let field = |name: &str| jwk.get(name).and_then(Value::as_str);
        let kind = match field("kty") {
            Some("RSA") => {
                let number = |name: &str| -> Result<BigUint> {
                    let text = field(name).ok_or_else(|| bad_key_field("RSA JWK", name))?;
                    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad_key_field("RSA JWK", name))?;
                    Ok(BigUint::from_bytes_be(&bytes))
                };
                let key = RsaPrivateKey::from_components(
                    number("n")?,
                    number("e")?,
                    number("d")?,
                    vec![number("p")?, number("q")?],
                )
                .map_err(|_| bad_key("RSA JWK"))?;
                KeyKind::Rsa(Box::new(key))
            }
            Some("EC") => {
                if field("crv") != Some("P-256") {
                    return Err(Error::Configuration("only P-256 EC keys (ES256) are supported".into()));
                }
                // Only the key members: the parser refuses members it does not know (kid, use, alg).
                let members = json!({"kty": "EC", "crv": "P-256", "x": field("x"), "y": field("y"), "d": field("d")});
                let secret = p256::SecretKey::from_jwk_str(&members.to_string()).map_err(|_| bad_key("EC JWK"))?;
                KeyKind::Ec(secret.into())
            }
            _ => return Err(Error::Configuration("the JWK's kty must be RSA or EC".into())),
        };
        SigningKey { kind, key_id: field("kid").map(str::to_owned) }.checked()
    }

    /// A fresh random P-256 key (the per-client DPoP key).
    pub fn generate_ec() -> Result<Self> {
        loop {
            let mut bytes = [0u8; 32];
            getrandom::getrandom(&mut bytes).map_err(|e| Error::Configuration(format!("no system randomness: {e}")))?;
            // A random 32-byte string is a valid scalar except with negligible probability.
            if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&bytes) {
                return Ok(SigningKey { kind: KeyKind::Ec(key), key_id: None });
            }
        }
    }

    /// The JWS algorithm: `RS256` or `ES256`.
    pub fn algorithm(&self) -> &'static str {
        match self.kind {
            KeyKind::Rsa(_) => "RS256",
            KeyKind::Ec(_) => "ES256",
        }
    }

    /// The key id (`kid`) to put in JWS headers, if known.
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// The public half as a JWK (no `kid`, no private members).
    pub fn public_jwk(&self) -> Value {
        match &self.kind {
            KeyKind::Rsa(key) => json!({
                "kty": "RSA",
                "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
                "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
            }),
            KeyKind::Ec(key) => {
                let point = key.verifying_key().to_encoded_point(false);
                json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": URL_SAFE_NO_PAD.encode(point.x().map(|x| x.to_vec()).unwrap_or_default()),
                    "y": URL_SAFE_NO_PAD.encode(point.y().map(|y| y.to_vec()).unwrap_or_default()),
                })
            }
        }
    }

    /// Signs `header` (to which `alg` is added) and `claims` as a compact JWS.
    pub fn sign(&self, mut header: Map<String, Value>, claims: &Value) -> String {
        header.insert("alg".into(), Value::from(self.algorithm()));
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(Value::Object(header).to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = match &self.kind {
            KeyKind::Rsa(key) => {
                let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new((**key).clone());
                signer.sign(signing_input.as_bytes()).to_vec()
            }
            KeyKind::Ec(key) => {
                let signature: p256::ecdsa::Signature = key.sign(signing_input.as_bytes());
                signature.to_bytes().to_vec()
            }
        };
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

fn bad_key(what: &str) -> Error {
    Error::Configuration(format!("the private key could not be read as {what}"))
}

fn bad_key_field(what: &str, field: &str) -> Error {
    Error::Configuration(format!("the {what} has no valid {field:?} member"))
}

/// The RFC 7638 SHA-256 thumbprint of a public JWK, base64url (DPoP's `jkt`).
pub fn thumbprint(public_jwk: &Value) -> Option<String> {
    let member = |name: &str| public_jwk.get(name).and_then(Value::as_str);
    // Required members in lexicographic order, no whitespace, per RFC 7638 §3.2.
    let canonical = match member("kty")? {
        "RSA" => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, member("e")?, member("n")?),
        "EC" => format!(r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#, member("crv")?, member("x")?, member("y")?),
        _ => return None,
    };
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

/// base64url(SHA-256(text)): DPoP's `ath` for an access token.
pub fn sha256_base64url(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
}

/// A compact JWS whose signature has been checked.
#[derive(Debug, Clone)]
pub struct VerifiedJws {
    /// The protected header.
    pub header: Map<String, Value>,
    /// The payload (claims).
    pub claims: Map<String, Value>,
}

/// Splits a compact JWS into header and claims without checking the signature (to find the
/// key to verify with).
pub fn decode_unverified(token: &str) -> Option<(Map<String, Value>, Map<String, Value>)> {
    let mut parts = token.split('.');
    let (header, claims, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let decode = |part: &str| -> Option<Map<String, Value>> {
        match serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()? {
            Value::Object(map) => Some(map),
            _ => None,
        }
    };
    Some((decode(header)?, decode(claims)?))
}

/// Verifies a compact JWS with a public JWK (RS256 or ES256, as the header's `alg` says and the
/// key's `kty` allows). Returns `None` when the token is malformed or the signature is wrong.
pub fn verify(token: &str, public_jwk: &Value) -> Option<VerifiedJws> {
    let (header, claims) = decode_unverified(token)?;
    let (signing_input, signature_text) = token.rsplit_once('.')?;
    let signature = URL_SAFE_NO_PAD.decode(signature_text).ok()?;
    let member = |name: &str| public_jwk.get(name).and_then(Value::as_str);
    let ok = match (header.get("alg").and_then(Value::as_str)?, member("kty")?) {
        ("RS256", "RSA") => {
            let number = |name: &str| -> Option<BigUint> {
                Some(BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(member(name)?).ok()?))
            };
            let key = RsaPublicKey::new(number("n")?, number("e")?).ok()?;
            let verifier = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key);
            let signature = rsa::pkcs1v15::Signature::try_from(signature.as_slice()).ok()?;
            verifier.verify(signing_input.as_bytes(), &signature).is_ok()
        }
        ("ES256", "EC") => {
            let members = json!({"kty": "EC", "crv": member("crv")?, "x": member("x")?, "y": member("y")?});
            let key = p256::PublicKey::from_jwk_str(&members.to_string()).ok()?;
            let verifier = p256::ecdsa::VerifyingKey::from(key);
            let signature = p256::ecdsa::Signature::from_slice(&signature).ok()?;
            verifier.verify(signing_input.as_bytes(), &signature).is_ok()
        }
        _ => false,
    };
    ok.then_some(VerifiedJws { header, claims })
}

/// The smallest RSA key accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

#[cfg(test)]
mod key_strength_tests {
    use super::*;

    #[test]
    fn a_short_rsa_key_is_refused_when_loaded() {
        let number = |n: u64| URL_SAFE_NO_PAD.encode(BigUint::from(n).to_bytes_be());
        // The textbook key: n = 61 * 53.
        let jwk = json!({"kty": "RSA", "n": number(3233), "e": number(17), "d": number(2753), "p": number(61), "q": number(53)});
        match SigningKey::from_jwk(&jwk) {
            Err(Error::Configuration(message)) => assert!(message.contains("at least 2048"), "{message}"),
            Err(other) => panic!("expected a configuration error, got {other}"),
            Ok(_) => panic!("a 12-bit key was accepted"),
        }
    }
}

/// A random identifier for `jti` claims: 128 bits, base64url.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::getrandom(&mut bytes).is_err() {
        // Uniqueness, not secrecy, is what a jti needs; fall back to a seeded generator.
        bytes.iter_mut().for_each(|b| *b = fastrand::u8(..));
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::traits::PrivateKeyParts;

    pub(crate) const RSA_PKCS8: &str = include_str!("../tests/fixtures/keys/rsa-pkcs8.pem");
    pub(crate) const RSA_PKCS1: &str = include_str!("../tests/fixtures/keys/rsa-pkcs1.pem");
    pub(crate) const EC_PKCS8: &str = include_str!("../tests/fixtures/keys/ec-pkcs8.pem");
    pub(crate) const EC_SEC1: &str = include_str!("../tests/fixtures/keys/ec-sec1.pem");

    #[test]
    fn every_pem_form_signs_and_verifies() {
        for (pem, alg) in [(RSA_PKCS8, "RS256"), (RSA_PKCS1, "RS256"), (EC_PKCS8, "ES256"), (EC_SEC1, "ES256")] {
            let key = SigningKey::from_text(pem, Some("kid1".into())).unwrap();
            assert_eq!(key.algorithm(), alg);
            let mut header = Map::new();
            header.insert("kid".into(), "kid1".into());
            let token = key.sign(header, &json!({"sub": "x"}));
            let verified = verify(&token, &key.public_jwk()).expect("signature verifies");
            assert_eq!(verified.claims["sub"], "x");
            assert_eq!(verified.header["alg"], alg);
            // A tampered payload fails.
            let mut parts: Vec<&str> = token.split('.').collect();
            let forged = URL_SAFE_NO_PAD.encode(r#"{"sub":"y"}"#);
            parts[1] = &forged;
            assert!(verify(&parts.join("."), &key.public_jwk()).is_none());
        }
    }

    #[test]
    fn private_jwk_round_trip_for_ec_and_rsa() {
        let ec = SigningKey::generate_ec().unwrap();
        let KeyKind::Ec(inner) = &ec.kind else { unreachable!() };
        let secret = p256::SecretKey::from(inner);
        let mut jwk: Value = serde_json::from_str(&secret.to_jwk_string()).unwrap();
        jwk["kid"] = "k-ec".into();
        let again = SigningKey::from_text(&jwk.to_string(), None).unwrap();
        assert_eq!(again.key_id(), Some("k-ec"));
        assert_eq!(again.public_jwk(), ec.public_jwk());

        let rsa_key = SigningKey::from_pem(RSA_PKCS8).unwrap();
        let KeyKind::Rsa(inner) = &rsa_key.kind else { unreachable!() };
        let b64 = |n: &BigUint| URL_SAFE_NO_PAD.encode(n.to_bytes_be());
        let primes = inner.primes();
        let jwk = json!({"kty": "RSA", "kid": "k-rsa", "n": b64(inner.n()), "e": b64(inner.e()),
            "d": b64(inner.d()), "p": b64(&primes[0]), "q": b64(&primes[1])});
        let again = SigningKey::from_text(&jwk.to_string(), None).unwrap();
        assert_eq!(again.public_jwk(), rsa_key.public_jwk());
        assert_eq!(again.key_id(), Some("k-rsa"));
    }

    #[test]
    fn bad_keys_are_configuration_errors_without_the_key_text() {
        let error = SigningKey::from_text("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----", None)
            .unwrap_err()
            .to_string();
        assert!(error.contains("could not be read") && !error.contains("c2VjcmV0"), "{error}");
        assert!(SigningKey::from_text("hello", None).is_err());
        assert!(SigningKey::from_text(r#"{"kty":"oct","k":"x"}"#, None).is_err());
        assert!(SigningKey::from_text(r#"{"kty":"EC","crv":"P-384"}"#, None).is_err());
        assert!(format!("{:?}", SigningKey::from_pem(EC_PKCS8).unwrap()).contains("ES256"));
    }

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 §3.1 example key and its published thumbprint.
        let jwk = json!({"kty":"RSA","e":"AQAB","alg":"RS256","kid":"2011-04-29",
            "n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"});
        assert_eq!(thumbprint(&jwk).unwrap(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
        assert!(thumbprint(&json!({"kty": "oct"})).is_none());
    }

    #[test]
    fn malformed_tokens_do_not_verify() {
        let key = SigningKey::generate_ec().unwrap();
        for token in ["", "a.b", "a.b.c.d", "!!.??.**", "e30.e30.AAAA"] {
            assert!(verify(token, &key.public_jwk()).is_none(), "{token}");
        }
        assert_ne!(random_id(), random_id());
    }
}
