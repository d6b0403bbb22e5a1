//! Who may do what on a bucket: the owner project's members by their roles, then the
//! bucket policy (S3's JSON format, seed 6.2.2 "bucket policies"), then canned ACLs.
//!
//! An explicit `Deny` in the policy wins over everything but the owner's right to manage
//! the policy itself (so an owner can never lock themselves out). Policies are checked
//! when written: an unknown effect, principal form, action or resource outside the bucket
//! is refused (`MalformedPolicy`) rather than silently ignored, since an ignored clause of a
//! policy can grant more than its author meant.

use crate::authz::{allowed, Target};
use crate::Principal;
use nimbus_core::Error;
use nimbus_store::objects::{Bucket, Object};
use serde_json::Value;

/// The largest policy document accepted (S3's limit).
pub const MAX_POLICY_BYTES: usize = 20 * 1024;
/// Message prefixes of refused policies (the S3 front end answers `MalformedPolicy` and
/// `InvalidPolicyDocument`).
pub const MALFORMED_POLICY: &str = "Policy is malformed: ";
pub const POLICY_TOO_LARGE: &str = "Policies must be at most 20 KB.";

/// Every action this region checks, as policies name them (matched case-insensitively).
pub const ACTIONS: &[&str] = &[
    "s3:AbortMultipartUpload",
    "s3:DeleteBucket",
    "s3:DeleteBucketPolicy",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:GetBucketAcl",
    "s3:GetBucketCORS",
    "s3:GetBucketLocation",
    "s3:GetBucketPolicy",
    "s3:GetBucketQuota",
    "s3:GetBucketStorage",
    "s3:GetBucketStoragePolicy",
    "s3:GetBucketTagging",
    "s3:GetBucketVersioning",
    "s3:GetEncryptionConfiguration",
    "s3:GetLifecycleConfiguration",
    "s3:GetObject",
    "s3:GetObjectAcl",
    "s3:GetObjectTagging",
    "s3:GetObjectVersion",
    "s3:ListBucket",
    "s3:ListBucketMultipartUploads",
    "s3:ListBucketVersions",
    "s3:ListMultipartUploadParts",
    "s3:PutBucketAcl",
    "s3:PutBucketCORS",
    "s3:PutBucketPolicy",
    "s3:PutBucketQuota",
    "s3:PutBucketStoragePolicy",
    "s3:PutBucketTagging",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:PutObject",
    "s3:PutObjectAcl",
    "s3:PutObjectTagging",
    "s3:RestoreObject",
];

/// The canned ACLs (S3 names).
pub const CANNED_ACLS: &[&str] = &["private", "public-read", "public-read-write", "authenticated-read"];

/// Checks a canned ACL name.
pub fn validate_acl(acl: &str) -> Result<(), Error> {
    if CANNED_ACLS.contains(&acl) {
        Ok(())
    } else {
        Err(Error::bad_request(format!(
            "The canned ACL {acl:?} is not valid: use private, public-read, public-read-write or authenticated-read."
        )))
    }
}

/// One statement of a checked policy.
#[derive(Debug, Clone)]
struct Statement {
    allow: bool,
    /// `*` or principal names (see [`principal_names`]).
    principals: Vec<String>,
    actions: Vec<String>,
    resources: Vec<String>,
}

/// A bucket policy, checked.
#[derive(Debug, Clone)]
pub struct Policy {
    statements: Vec<Statement>,
}

/// What a policy says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
    /// Nothing matched.
    Silent,
}

fn malformed(why: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("{MALFORMED_POLICY}{why}"))
}

/// A string or an array of strings.
fn strings(v: &Value, what: &str) -> Result<Vec<String>, Error> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) if !a.is_empty() => a
            .iter()
            .map(|x| x.as_str().map(str::to_string).ok_or_else(|| malformed(format!("{what} must hold strings."))))
            .collect(),
        _ => Err(malformed(format!("{what} must be a string or a non-empty array of strings."))),
    }
}

impl Policy {
    /// Parses and checks a policy written for `bucket`.
    pub fn parse(text: &str, bucket: &str) -> Result<Policy, Error> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(Error::bad_request(POLICY_TOO_LARGE));
        }
        let doc: Value = serde_json::from_str(text).map_err(|e| malformed(format!("not JSON ({e}).")))?;
        let obj = doc.as_object().ok_or_else(|| malformed("the document must be a JSON object."))?;
        for k in obj.keys() {
            if !matches!(k.as_str(), "Version" | "Id" | "Statement") {
                return Err(malformed(format!("unknown field {k:?}.")));
            }
        }
        if let Some(v) = obj.get("Version") {
            if !matches!(v.as_str(), Some("2012-10-17" | "2008-10-17")) {
                return Err(malformed("Version must be 2012-10-17 or 2008-10-17."));
            }
        }
        let list = match obj.get("Statement") {
            Some(Value::Array(a)) if !a.is_empty() => a.clone(),
            Some(s @ Value::Object(_)) => vec![s.clone()],
            _ => return Err(malformed("Statement must be a statement or a non-empty array of them.")),
        };
        let mut statements = Vec::new();
        for s in &list {
            let s = s.as_object().ok_or_else(|| malformed("each statement must be a JSON object."))?;
            for k in s.keys() {
                match k.as_str() {
                    "Sid" | "Effect" | "Principal" | "Action" | "Resource" => {}
                    "Condition" | "NotPrincipal" | "NotAction" | "NotResource" => {
                        return Err(malformed(format!("{k} is not supported in this region's bucket policies.")))
                    }
                    other => return Err(malformed(format!("unknown field {other:?} in a statement."))),
                }
            }
            let allow = match s.get("Effect").and_then(Value::as_str) {
                Some("Allow") => true,
                Some("Deny") => false,
                _ => return Err(malformed("Effect must be Allow or Deny.")),
            };
            let principals = match s.get("Principal") {
                Some(Value::String(s)) if s == "*" => vec!["*".to_string()],
                Some(Value::Object(p)) if !p.is_empty() => {
                    let mut names = Vec::new();
                    for (kind, v) in p {
                        if !matches!(kind.as_str(), "AWS" | "ID" | "CanonicalUser") {
                            return Err(malformed(format!("unknown principal kind {kind:?}.")));
                        }
                        names.extend(strings(v, "Principal")?);
                    }
                    names
                }
                _ => return Err(malformed("Principal must be \"*\" or an object such as {\"AWS\": [...]}.")),
            };
            let actions: Vec<String> = strings(s.get("Action").unwrap_or(&Value::Null), "Action")?
                .into_iter()
                .map(|a| a.to_ascii_lowercase())
                .collect();
            // An action that names nothing (a typo) would make a Deny silently ineffective.
            for a in &actions {
                if a != "*" && !ACTIONS.iter().any(|k| glob(a, &k.to_ascii_lowercase())) {
                    return Err(malformed(format!("the action {a:?} is not an object storage action of this region.")));
                }
            }
            let resources = strings(s.get("Resource").unwrap_or(&Value::Null), "Resource")?;
            for r in &resources {
                let path = r.strip_prefix("arn:aws:s3:::").unwrap_or(r);
                let in_bucket = path == bucket || path.starts_with(&format!("{bucket}/"));
                let wildcard = path.contains('*') && glob(path.split('/').next().unwrap_or(""), bucket);
                if !in_bucket && !wildcard {
                    return Err(malformed(format!("the resource {r:?} is not in bucket {bucket}.")));
                }
            }
            statements.push(Statement { allow, principals, actions, resources });
        }
        Ok(Policy { statements })
    }

    /// What the policy says about `principal` doing `action` (`s3:GetObject`...) on
    /// `resource` (`bucket` or `bucket/key`).
    pub fn decide(&self, principal: &Principal, action: &str, resource: &str) -> Decision {
        let names = principal_names(principal);
        let mut decision = Decision::Silent;
        for s in &self.statements {
            let who = s.principals.iter().any(|p| p == "*" || names.iter().any(|n| n == p));
            let action = action.to_ascii_lowercase();
            let what = s.actions.iter().any(|a| a == "*" || glob(a, &action));
            let on = s.resources.iter().any(|r| glob(r.strip_prefix("arn:aws:s3:::").unwrap_or(r), resource));
            if who && what && on {
                if !s.allow {
                    return Decision::Deny;
                }
                decision = Decision::Allow;
            }
        }
        decision
    }
}

/// The names a policy may give a caller: its project (`<project>`,
/// `arn:aws:iam::<project>:root`), its user (`arn:aws:iam::<project>:user/<user>`, and
/// Huawei's `domain/<domain>:user/<user>`), its account (`domain/<domain>`).
fn principal_names(p: &Principal) -> Vec<String> {
    if p.is_anonymous() {
        return Vec::new();
    }
    let mut names = vec![p.user_id.clone(), format!("domain/{}:user/{}", p.user_domain_id, p.user_id)];
    names.push(format!("domain/{}", p.user_domain_id));
    if let Some(project) = p.project_id() {
        names.push(project.to_string());
        names.push(format!("arn:aws:iam::{project}:root"));
        names.push(format!("arn:aws:iam::{project}:user/{}", p.user_id));
        names.push(format!("arn:aws:iam::{project}:user/{}", p.user_name));
    }
    names
}

/// Glob matching with `*` (any run) and `?` (one character), as policies use them.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// The role-based action (`obs:read` / `obs:write`) an S3 action needs from the owner
/// project's members.
fn role_action(action: &str) -> &'static str {
    let name = action.trim_start_matches("s3:");
    if name.starts_with("Get") || name.starts_with("List") {
        "obs:read"
    } else {
        "obs:write"
    }
}

/// Actions an owner keeps whatever the policy denies.
fn policy_management(action: &str) -> bool {
    matches!(action, "s3:GetBucketPolicy" | "s3:PutBucketPolicy" | "s3:DeleteBucketPolicy")
}

/// Whether a bucket's canned ACL lets `principal` do `action`: READ on a bucket lists it
/// (reading an object takes the object's own ACL), WRITE creates and deletes objects (a
/// version's history stays the owner's to erase).
fn acl_allows(acl: &str, principal: &Principal, action: &str) -> bool {
    let reads = matches!(action, "s3:ListBucket" | "s3:ListBucketVersions");
    let writes = matches!(action, "s3:PutObject" | "s3:DeleteObject");
    match acl {
        "public-read" => reads,
        "public-read-write" => reads || writes,
        "authenticated-read" => reads && !principal.is_anonymous(),
        _ => false,
    }
}

/// The access decision on a bucket, before any object is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketAccess {
    Granted,
    /// Refused at bucket level; an object's own ACL may still grant a read of it.
    Refused,
    /// Refused by an explicit `Deny`: nothing may grant it.
    Denied,
}

/// Decides `action` on `bucket` (and `key`, for object actions) for `principal`.
pub fn bucket_access(b: &Bucket, principal: &Principal, action: &str, key: Option<&str>) -> BucketAccess {
    let owner =
        allowed(role_action(action), principal, &Target { project_id: Some(&b.project_id), ..Default::default() });
    let resource = match key {
        Some(k) => format!("{}/{k}", b.name),
        None => b.name.clone(),
    };
    // A stored policy was checked when written; one that no longer parses grants nothing.
    let decision = match &b.policy {
        Some(text) => Policy::parse(text, &b.name).map(|p| p.decide(principal, action, &resource)),
        None => Ok(Decision::Silent),
    }
    .unwrap_or(Decision::Silent);
    if decision == Decision::Deny && !(owner && policy_management(action)) {
        return BucketAccess::Denied;
    }
    if owner || decision == Decision::Allow || acl_allows(&b.acl, principal, action) {
        BucketAccess::Granted
    } else {
        BucketAccess::Refused
    }
}

/// Whether an object's own canned ACL lets `principal` read it.
pub fn object_acl_allows(o: &Object, principal: &Principal, action: &str) -> bool {
    let read = matches!(action, "s3:GetObject" | "s3:GetObjectVersion");
    match o.acl.as_str() {
        "public-read" | "public-read-write" => read,
        "authenticated-read" => read && !principal.is_anonymous(),
        _ => false,
    }
}

/// The error of a refused access.
pub fn access_denied() -> Error {
    Error::Forbidden("Access Denied".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("s3:Get*", "s3:GetObject"));
        assert!(glob("b/*", "b/a/c"));
        assert!(!glob("b/*", "b"));
        assert!(glob("b/?x", "b/ax"));
        assert!(!glob("s3:Put*", "s3:GetObject"));
    }

    #[test]
    fn policies_are_checked_and_decided() {
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
                {"Effect":"Deny","Principal":{"AWS":["arn:aws:iam::p2:root"]},"Action":["s3:*"],"Resource":["arn:aws:s3:::b/*"]}]}"#,
            "b",
        )
        .unwrap();
        let anon = Principal::anonymous();
        assert_eq!(p.decide(&anon, "s3:GetObject", "b/k"), Decision::Allow);
        assert_eq!(p.decide(&anon, "s3:PutObject", "b/k"), Decision::Silent);
        assert_eq!(p.decide(&anon, "s3:GetObject", "b"), Decision::Silent);
        // Actions match whatever their case; one naming no action is refused.
        let deny = Policy::parse(
            r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:deleteobject","Resource":"b/*"}}"#,
            "b",
        )
        .unwrap();
        assert_eq!(deny.decide(&anon, "s3:DeleteObject", "b/k"), Decision::Deny);
        assert!(Policy::parse(
            r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:DeleteObjects","Resource":"b/*"}}"#,
            "b"
        )
        .is_err());
        for bad in [
            "not json",
            r#"{"Statement":[]}"#,
            r#"{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":"b/*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ec2:Run","Resource":"b/*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"other/*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"b/*","Condition":{}}]}"#,
        ] {
            assert!(Policy::parse(bad, "b").is_err(), "{bad}");
        }
        let big = format!(r#"{{"Id":"{}","Statement":[]}}"#, "x".repeat(MAX_POLICY_BYTES));
        assert!(matches!(Policy::parse(&big, "b"), Err(Error::BadRequest(m)) if m == POLICY_TOO_LARGE));
    }
}
