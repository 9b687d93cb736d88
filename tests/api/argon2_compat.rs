//! Stored hashes stay portable: what the hasher writes verifies with RustCrypto's `argon2`,
//! and PHC strings written by RustCrypto's `argon2` verify here.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use neptun_users::domain::NewPassword;
use neptun_users::password::{Hasher, PasswordHash, verify};

fn rustcrypto() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19_456, 2, 1, None).unwrap(),
    )
}

#[tokio::test]
async fn our_hashes_verify_with_rustcrypto_argon2() {
    let phc = Hasher::new(1)
        .hash(NewPassword::parse("portable password").unwrap())
        .await
        .unwrap();
    assert!(
        rustcrypto()
            .verify_password(b"portable password", phc.as_str())
            .is_ok()
    );
    assert!(
        rustcrypto()
            .verify_password(b"portable passwort", phc.as_str())
            .is_err()
    );
}

#[test]
fn rustcrypto_hashes_verify_here() {
    let phc = rustcrypto()
        .hash_password(b"portable password")
        .unwrap()
        .to_string();
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    let phc = PasswordHash::from_stored(phc);
    assert!(verify("portable password", &phc));
    assert!(!verify("portable passwort", &phc));
}
