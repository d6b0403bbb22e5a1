//! Who is calling: s3s verifies the signature with the secret [`KeyStore`] returns; the
//! access check ([`Caller`]) then turns the verified access key into the caller's principal
//! (the key's project) once, for the operation to use.

use nimbus_control::{Control, Ctx, RequestMeta};
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::{s3_error, S3Result};
use std::sync::Arc;

/// Secrets of access keys, from the identity service.
pub struct KeyStore {
    pub control: Arc<Control>,
}

#[async_trait::async_trait]
impl S3Auth for KeyStore {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.control.s3_secret(access_key).await {
            Ok(secret) => Ok(SecretKey::from(secret)),
            Err(nimbus_core::Error::Unauthorized(_)) => Err(s3_error!(InvalidAccessKeyId)),
            Err(e) => Err(crate::error::internal(e)),
        }
    }
}

/// The authenticated caller, put in the request's extensions by the access check.
#[derive(Clone)]
pub struct CallerCtx(pub Ctx);

/// The access check: signed requests get their principal; unsigned ones the anonymous
/// principal, which only what bucket policies and ACLs make public lets through.
pub struct Caller {
    pub control: Arc<Control>,
}

#[async_trait::async_trait]
impl S3Access for Caller {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        // Refuse an upload by its declared size before reading it (the object service also
        // counts the bytes as they arrive).
        if matches!(cx.s3_op().name(), "PutObject" | "UploadPart") {
            let declared = cx
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i64>().ok());
            if declared.is_some_and(|n| n > self.control.config().max_object_size) {
                return Err(s3_error!(EntityTooLarge, "The object is larger than this region accepts in one request."));
            }
        }
        let request_id = format!("req-{}", nimbus_core::id::new_hex_id());
        let Some(access_key) = cx.credentials().map(|c| c.access_key.clone()) else {
            let meta = RequestMeta::new(request_id, None, cx.method().as_str(), cx.uri().path());
            let principal = nimbus_control::Principal::anonymous();
            cx.extensions_mut().insert(CallerCtx(Ctx { principal, meta }));
            return Ok(());
        };
        let principal = match self.control.principal_for_s3(&access_key).await {
            Ok(p) => p,
            Err(nimbus_core::Error::Unauthorized(_)) => return Err(s3_error!(InvalidAccessKeyId)),
            Err(e) => return Err(crate::error::internal(e)),
        };
        let meta = RequestMeta::new(request_id, None, cx.method().as_str(), cx.uri().path());
        meta.set_principal(&principal);
        cx.extensions_mut().insert(CallerCtx(Ctx { principal, meta }));
        Ok(())
    }
}
