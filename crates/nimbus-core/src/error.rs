//! The one error type of the control plane.
//!
//! Every service returns [`Error`]; each API front end maps it to its own wire format
//! (Keystone `{"error": ...}`, Nova `{"itemNotFound": ...}`, Huawei `{"error_code", "error_msg"}`)
//! in exactly one place. The variant decides the HTTP status; the message is safe to show to
//! the caller (no secrets, no internal paths).

use std::fmt;

/// A control-plane failure, already classified for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The request is malformed or violates a rule (400).
    BadRequest(String),
    /// No valid credentials were presented (401).
    Unauthorized(String),
    /// The caller is known but may not perform this action (403).
    Forbidden(String),
    /// The resource does not exist, or the caller may not know that it exists (404).
    NotFound { kind: &'static str, id: String },
    /// The method is not allowed on this resource (405).
    MethodNotAllowed,
    /// The requested API (micro)version is not served (406).
    NotAcceptable(String),
    /// The request conflicts with the current state, e.g. a duplicate name (409).
    Conflict(String),
    /// The request body is larger than the listener accepts (413).
    PayloadTooLarge,
    /// The project would exceed its quota for `resource` (403 in OpenStack, 400-ish natively).
    OverQuota { resource: String, limit: i64, in_use: i64, requested: i64 },
    /// The store or a driver failed in a way the caller cannot fix (500). Logged, not shown in detail.
    Internal(String),
    /// A dependency is temporarily unavailable (503).
    Unavailable(String),
}

/// Shorthand used across the workspace.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A `NotFound` for a kind and id.
    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        Error::NotFound { kind, id: id.into() }
    }

    /// A `BadRequest` with a message.
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Error::BadRequest(msg.into())
    }

    /// The HTTP status code this error maps to in every API family.
    pub fn status(&self) -> u16 {
        match self {
            Error::BadRequest(_) => 400,
            Error::Unauthorized(_) => 401,
            Error::Forbidden(_) | Error::OverQuota { .. } => 403,
            Error::NotFound { .. } => 404,
            Error::MethodNotAllowed => 405,
            Error::NotAcceptable(_) => 406,
            Error::Conflict(_) => 409,
            Error::PayloadTooLarge => 413,
            Error::Internal(_) => 500,
            Error::Unavailable(_) => 503,
        }
    }

    /// A stable machine-readable code, used as Huawei's `error_code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadRequest(_) => "Nimbus.0400",
            Error::Unauthorized(_) => "Nimbus.0401",
            Error::Forbidden(_) => "Nimbus.0403",
            Error::OverQuota { .. } => "Nimbus.0403.Quota",
            Error::NotFound { .. } => "Nimbus.0404",
            Error::MethodNotAllowed => "Nimbus.0405",
            Error::NotAcceptable(_) => "Nimbus.0406",
            Error::Conflict(_) => "Nimbus.0409",
            Error::PayloadTooLarge => "Nimbus.0413",
            Error::Internal(_) => "Nimbus.0500",
            Error::Unavailable(_) => "Nimbus.0503",
        }
    }

    /// The human title of the status (Keystone's `title`).
    pub fn title(&self) -> &'static str {
        match self.status() {
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            406 => "Not Acceptable",
            409 => "Conflict",
            413 => "Request Entity Too Large",
            503 => "Service Unavailable",
            _ => "Internal Server Error",
        }
    }

    /// The message shown to the caller.
    pub fn message(&self) -> String {
        match self {
            Error::BadRequest(m)
            | Error::Unauthorized(m)
            | Error::Forbidden(m)
            | Error::Conflict(m)
            | Error::NotAcceptable(m)
            | Error::Unavailable(m) => m.clone(),
            Error::NotFound { kind, id } => format!("Could not find {kind}: {id}."),
            Error::MethodNotAllowed => "The method is not allowed for this resource.".into(),
            Error::PayloadTooLarge => "The request body is too large.".into(),
            Error::OverQuota { resource, limit, in_use, requested } => {
                format!("Quota exceeded for {resource}: requested {requested}, in use {in_use}, limit {limit}.")
            }
            // Internal details go to the log, not to the caller.
            Error::Internal(_) => "An unexpected error prevented the request from completing.".into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Internal(detail) => write!(f, "internal error: {detail}"),
            other => write!(f, "{}", other.message()),
        }
    }
}

impl std::error::Error for Error {}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Internal(format!("json: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_detail_is_not_shown_to_callers() {
        let e = Error::Internal("db at /secret/path failed".into());
        assert_eq!(e.status(), 500);
        assert!(!e.message().contains("/secret/path"));
        assert!(e.to_string().contains("/secret/path"));
    }

    #[test]
    fn over_quota_is_a_4xx_with_figures() {
        let e = Error::OverQuota { resource: "instances".into(), limit: 10, in_use: 10, requested: 1 };
        assert_eq!(e.status(), 403);
        assert!(e.message().contains("limit 10"));
    }
}
