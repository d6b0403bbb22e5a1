//! Core errors as S3 errors, in one place: each carries the S3 code clients switch on.

use nimbus_control::objects::access::{MALFORMED_POLICY, POLICY_TOO_LARGE};
use nimbus_control::objects::settings::{
    BAD_VERSIONING, INVALID_TAG, NO_CORS, NO_ENCRYPTION, NO_LIFECYCLE, NO_POLICY, NO_TAGS,
};
use nimbus_control::objects::{
    ALREADY_OWNED, BAD_DIGEST, BODY_FAILED, ENTITY_TOO_SMALL, INVALID_PART, INVALID_PART_ORDER, METADATA_TOO_LARGE,
    NOT_ARCHIVED, NOT_EMPTY, NOT_RESTORED, PRECONDITION_FAILED, QUOTA_EXCEEDED, RESTORE_IN_PROGRESS,
};
use nimbus_core::Error;
use s3s::{S3Error, S3ErrorCode};

/// A failure the caller cannot fix; logged, shown without detail.
pub fn internal(e: Error) -> S3Error {
    tracing::error!(error = %e, "S3 request failed");
    S3Error::with_message(S3ErrorCode::InternalError, "We encountered an internal error. Please try again.")
}

/// Maps a control-plane error to its S3 error.
pub fn to_s3(e: Error) -> S3Error {
    use S3ErrorCode as C;
    let msg = e.message();
    let code = match &e {
        Error::NotFound { kind: "bucket", .. } => C::NoSuchBucket,
        Error::NotFound { kind: "object", .. } => C::NoSuchKey,
        Error::NotFound { kind: "upload", .. } => C::NoSuchUpload,
        Error::NotFound { kind: "version", .. } => C::NoSuchVersion,
        Error::NotFound { kind, .. } if *kind == NO_POLICY => C::NoSuchBucketPolicy,
        Error::NotFound { kind, .. } if *kind == NO_CORS => C::NoSuchCORSConfiguration,
        Error::NotFound { kind, .. } if *kind == NO_TAGS => C::NoSuchTagSet,
        Error::NotFound { kind, .. } if *kind == NO_LIFECYCLE => C::NoSuchLifecycleConfiguration,
        Error::NotFound { kind, .. } if *kind == NO_ENCRYPTION => {
            // s3s gives this code 400; S3 answers 404.
            let mut err = S3Error::with_message(C::ServerSideEncryptionConfigurationNotFoundError, msg);
            err.set_status_code(http::StatusCode::NOT_FOUND);
            return err;
        }
        Error::NotFound { .. } => C::NoSuchKey,
        Error::Forbidden(m) if m == QUOTA_EXCEEDED => {
            let mut err = S3Error::with_message("InsufficientStorageSpace".parse().unwrap_or(C::AccessDenied), msg);
            err.set_status_code(http::StatusCode::FORBIDDEN);
            return err;
        }
        Error::Forbidden(_) => C::AccessDenied,
        Error::Unauthorized(_) => C::InvalidAccessKeyId,
        Error::Conflict(m) if m == ALREADY_OWNED => C::BucketAlreadyOwnedByYou,
        Error::Conflict(m) if m == NOT_EMPTY => C::BucketNotEmpty,
        Error::Conflict(m) if m == NOT_RESTORED || m == NOT_ARCHIVED => C::InvalidObjectState,
        Error::Conflict(m) if m == RESTORE_IN_PROGRESS => C::RestoreAlreadyInProgress,
        Error::Conflict(m) if m == PRECONDITION_FAILED => C::PreconditionFailed,
        Error::Conflict(m) if m.contains("bucket name is not available") => C::BucketAlreadyExists,
        Error::Conflict(_) => C::OperationAborted,
        Error::BadRequest(m) if m == BAD_DIGEST => C::BadDigest,
        Error::BadRequest(m) if m == INVALID_PART => C::InvalidPart,
        Error::BadRequest(m) if m == INVALID_PART_ORDER => C::InvalidPartOrder,
        Error::BadRequest(m) if m == ENTITY_TOO_SMALL => C::EntityTooSmall,
        Error::BadRequest(m) if m.contains("copy an object to itself") => C::InvalidRequest,
        Error::BadRequest(m) if m.starts_with(BODY_FAILED) => return body_error(m),
        Error::BadRequest(m) if m.starts_with(MALFORMED_POLICY) => C::MalformedPolicy,
        Error::BadRequest(m) if m == POLICY_TOO_LARGE => C::InvalidPolicyDocument,
        Error::BadRequest(m) if m.starts_with(INVALID_TAG) => C::InvalidTag,
        Error::BadRequest(m) if m == BAD_VERSIONING => C::MalformedXML,
        Error::BadRequest(m) if m == METADATA_TOO_LARGE => C::MetadataTooLarge,
        Error::BadRequest(m) if m.contains("bucket name") => C::InvalidBucketName,
        Error::BadRequest(m) if m.contains("location constraint") => C::InvalidLocationConstraint,
        Error::BadRequest(m) if m.contains("storage class") => C::InvalidStorageClass,
        Error::BadRequest(_) => C::InvalidArgument,
        Error::PayloadTooLarge => C::EntityTooLarge,
        Error::OverQuota { resource, .. } if resource == "buckets" => C::TooManyBuckets,
        Error::OverQuota { .. } => {
            let mut err = S3Error::with_message("QuotaExceeded".parse().unwrap_or(C::AccessDenied), msg);
            err.set_status_code(http::StatusCode::FORBIDDEN);
            return err;
        }
        Error::MethodNotAllowed => C::MethodNotAllowed,
        Error::Unavailable(_) => C::ServiceUnavailable,
        Error::Internal(_) | Error::NotAcceptable(_) => return internal(e),
    };
    S3Error::with_message(code, msg)
}

/// A body that failed while streaming: s3s reports signature and hash mismatches of the
/// payload as stream errors, known only by their text.
fn body_error(m: &str) -> S3Error {
    if m.contains("Sha256Mismatch") {
        // Not one of s3s's codes: a custom code needs its status set.
        let code: S3ErrorCode = "XAmzContentSHA256Mismatch".parse().unwrap_or(S3ErrorCode::BadDigest);
        let mut err =
            S3Error::with_message(code, "The provided x-amz-content-sha256 header does not match what was computed.");
        err.set_status_code(http::StatusCode::BAD_REQUEST);
        err
    } else if m.contains("SignatureMismatch") {
        S3Error::with_message(S3ErrorCode::SignatureDoesNotMatch, "A chunk signature does not match.")
    } else if m.contains("length limit exceeded") {
        S3Error::new(S3ErrorCode::EntityTooLarge)
    } else {
        S3Error::with_message(S3ErrorCode::IncompleteBody, "The request body ended early or could not be read.")
    }
}
