//! `X-Client-Token` idempotency: a retried create returns the first answer instead of
//! creating a second resource.

use crate::Control;
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::idempotency as repo;
use std::time::Duration;

/// What to do with a request carrying a client token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First time seen: run it, then call [`Control::complete_client_token`].
    Fresh,
    /// Seen and answered: replay this answer.
    Replay { status: u16, body: String },
}

/// How long a retry waits for the first request to finish before giving up.
const WAIT: Duration = Duration::from_secs(30);

impl Control {
    /// Claims `token` for this project and request fingerprint.
    pub async fn claim_client_token(&self, project_id: &str, token: &str, fingerprint: &str) -> Result<Claim, Error> {
        if token.is_empty() || token.len() > 64 || !token.chars().all(|c| c.is_ascii_graphic()) {
            return Err(Error::bad_request("X-Client-Token must be 1 to 64 printable ASCII characters."));
        }
        let started = std::time::Instant::now();
        loop {
            let existing = {
                let mut tx = self.store().write().await?;
                let r = repo::claim(&mut tx, project_id, token, fingerprint, now_ms()).await?;
                tx.commit().await?;
                r
            };
            let Some(rec) = existing else { return Ok(Claim::Fresh) };
            if rec.fingerprint != fingerprint {
                return Err(Error::Conflict("X-Client-Token was already used for a different request.".into()));
            }
            if rec.state == "done" {
                return Ok(Claim::Replay {
                    status: rec.status.unwrap_or(200) as u16,
                    body: rec.body.unwrap_or_default(),
                });
            }
            if started.elapsed() > WAIT {
                return Err(Error::Conflict("A request with this X-Client-Token is still in progress.".into()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stores the answer of a successful request; a failed one releases the token so the
    /// client may retry.
    pub async fn complete_client_token(
        &self,
        project_id: &str,
        token: &str,
        status: u16,
        body: &str,
    ) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        if (200..300).contains(&status) {
            repo::complete(&mut tx, project_id, token, status as i64, body).await?;
        } else {
            repo::release(&mut tx, project_id, token).await?;
        }
        tx.commit().await
    }
}
