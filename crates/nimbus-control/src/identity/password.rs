//! Password hashing with argon2id (OWASP parameters: 19 MiB, 2 passes, 1 lane).
//!
//! Hashing is deliberately slow, so it runs on the blocking thread pool.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use nimbus_core::Error;

/// Hashes a password into a PHC string.
pub async fn hash(password: &str) -> Result<String, Error> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("argon2: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(format!("hash task: {e}")))?
}

/// Checks a password against a PHC string; a malformed stored hash never verifies.
pub async fn verify(password: &str, phc: &str) -> bool {
    let password = password.to_string();
    let phc = phc.to_string();
    tokio::task::spawn_blocking(move || match PasswordHash::new(&phc) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    })
    .await
    .unwrap_or(false)
}

/// Rejects passwords too short or too long to be sensible.
pub fn validate(password: &str) -> Result<(), Error> {
    if password.is_empty() {
        return Err(Error::bad_request("The password must not be empty."));
    }
    if password.len() > 4096 {
        return Err(Error::bad_request("The password is longer than 4096 bytes."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn argon2id_round_trip() {
        let h = hash("s3cret").await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("s3cret", &h).await);
        assert!(!verify("S3cret", &h).await);
        assert!(!verify("s3cret", "not-a-hash").await);
    }
}
