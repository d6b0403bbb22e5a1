//! Pagination: `limit` + `marker` everywhere.
//!
//! A list call takes a [`PageRequest`] and returns the items after the marker in a stable
//! order (by id unless the resource says otherwise). The marker is the last id of the
//! previous page, as OpenStack clients expect; natively it is returned opaque.

use crate::Error;

/// The largest page any list call returns, whatever the caller asks.
pub const MAX_LIMIT: u32 = 1000;

/// Which page of a list the caller wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// At most this many items (capped at [`MAX_LIMIT`]).
    pub limit: Option<u32>,
    /// Return items strictly after this one.
    pub marker: Option<String>,
}

impl PageRequest {
    /// The largest page from the start (internal callers that want every row).
    pub fn largest() -> Self {
        PageRequest { limit: Some(MAX_LIMIT), marker: None }
    }

    /// Parses `limit` and `marker` query values, rejecting a non-numeric or zero limit.
    pub fn parse(limit: Option<&str>, marker: Option<&str>) -> Result<Self, Error> {
        let limit = match limit {
            None | Some("") => None,
            Some(s) => match s.parse::<u32>() {
                Ok(n) if n > 0 => Some(n.min(MAX_LIMIT)),
                _ => return Err(Error::bad_request(format!("Invalid limit {s:?}: expected a positive integer."))),
            },
        };
        Ok(PageRequest { limit, marker: marker.filter(|m| !m.is_empty()).map(str::to_string) })
    }

    /// Reads `limit` and `marker` from a query-string map.
    pub fn from_query(q: &std::collections::HashMap<String, String>) -> Result<Self, Error> {
        Self::parse(q.get("limit").map(String::as_str), q.get("marker").map(String::as_str))
    }

    /// The effective limit (default [`MAX_LIMIT`]).
    pub fn effective_limit(&self) -> u32 {
        self.limit.unwrap_or(MAX_LIMIT)
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Marker for the next page when this page is full.
    pub next_marker: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_validated_and_capped() {
        assert_eq!(PageRequest::parse(Some("5"), None).unwrap().limit, Some(5));
        assert_eq!(PageRequest::parse(Some("999999"), None).unwrap().limit, Some(MAX_LIMIT));
        assert!(PageRequest::parse(Some("0"), None).is_err());
        assert!(PageRequest::parse(Some("x"), None).is_err());
        assert_eq!(PageRequest::parse(None, Some("")).unwrap(), PageRequest::default());
    }
}
