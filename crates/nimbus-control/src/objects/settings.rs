//! Bucket settings (versioning, policy, canned ACL, CORS rules, tags, lifecycle rules,
//! default encryption, quota) and object settings (tags, canned ACL).
//!
//! Each setting is checked here, where every front end shares the rules, and stored as a
//! document of the bucket's row; each write is audited like any other bucket write.

use super::access::{self, Policy};
use super::*;
use nimbus_store::objects::{BucketSetting, VersionSetting};
use serde::{Deserialize, Serialize};

/// Tags an object may carry (S3's limit).
pub const MAX_OBJECT_TAGS: usize = 10;
/// Tags a bucket may carry.
pub const MAX_BUCKET_TAGS: usize = 50;
/// The message prefix of refused tag sets (`InvalidTag`).
pub const INVALID_TAG: &str = "The tag set is not valid: ";
/// The message of a versioning status other than Enabled or Suspended (`MalformedXML`).
pub const BAD_VERSIONING: &str = "The versioning status must be Enabled or Suspended.";

/// Kinds of the 404s of settings never written (S3 has a code for each).
pub const NO_POLICY: &str = "bucket policy";
pub const NO_CORS: &str = "CORS configuration";
pub const NO_TAGS: &str = "tag set";
pub const NO_LIFECYCLE: &str = "lifecycle configuration";
pub const NO_ENCRYPTION: &str = "encryption configuration";

/// Checks a tag set and returns it as stored (a JSON array of pairs).
pub fn tags_json(tags: &[(String, String)], max: usize) -> Result<String, Error> {
    let bad = |why: String| Error::bad_request(format!("{INVALID_TAG}{why}"));
    if tags.len() > max {
        return Err(bad(format!("at most {max} tags are allowed.")));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(bad("tag keys are 1-128 characters long.".into()));
        }
        if v.chars().count() > 256 {
            return Err(bad("tag values are at most 256 characters long.".into()));
        }
        if k.starts_with("aws:") {
            return Err(bad("tag keys must not start with \"aws:\".".into()));
        }
        if !seen.insert(k) {
            return Err(bad(format!("the key {k:?} appears twice.")));
        }
    }
    Ok(serde_json::to_string(tags)?)
}

/// Reads a stored tag set.
pub fn tags_of(json: &str) -> Vec<(String, String)> {
    serde_json::from_str(json).unwrap_or_default()
}

/// One CORS rule (S3's `CORSRule`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CorsRule {
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<i32>,
}

impl CorsRule {
    /// Whether the rule answers a request from `origin` with `method` that will send
    /// `headers` (lower-case names).
    pub fn matches(&self, origin: &str, method: &str, headers: &[String]) -> bool {
        self.allowed_origins.iter().any(|o| access::glob(o, origin))
            && self.allowed_methods.iter().any(|m| m == method)
            && headers.iter().all(|h| self.allowed_headers.iter().any(|a| access::glob(&a.to_ascii_lowercase(), h)))
    }
}

/// An action of a lifecycle rule: after a number of days since the object was written,
/// or from a date (milliseconds since the epoch, midnight UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum When {
    Days(i64),
    Date(i64),
}

/// A transition to a colder class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub when: When,
    /// OBS class: WARM or COLD.
    pub class: String,
}

/// One lifecycle rule (S3's `LifecycleRule`, OBS's rule: prefix filter, transitions
/// STANDARD -> WARM -> COLD, expiration, multipart clean-up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleRule {
    pub id: Option<String>,
    pub prefix: String,
    pub enabled: bool,
    pub transitions: Vec<Transition>,
    pub expiration: Option<When>,
    pub abort_multipart_days: Option<i64>,
}

/// Checks lifecycle rules as S3 does (`InvalidArgument` otherwise).
pub fn validate_lifecycle(rules: &[LifecycleRule]) -> Result<(), Error> {
    let bad = |why: &str| Err(Error::bad_request(format!("The lifecycle configuration is not valid: {why}")));
    if rules.is_empty() || rules.len() > 1000 {
        return bad("give 1 to 1000 rules.");
    }
    let mut ids = std::collections::BTreeSet::new();
    for r in rules {
        if let Some(id) = &r.id {
            if id.len() > 255 || !ids.insert(id.clone()) {
                return bad("rule IDs are unique and at most 255 characters long.");
            }
        }
        if r.transitions.is_empty() && r.expiration.is_none() && r.abort_multipart_days.is_none() {
            return bad("each rule needs a transition, an expiration or a multipart clean-up.");
        }
        let days_ok = |w: &When| match w {
            When::Days(d) => *d >= 1,
            When::Date(ms) => ms % 86_400_000 == 0,
        };
        if r.abort_multipart_days.is_some_and(|d| d < 1) {
            return bad("DaysAfterInitiation must be at least 1.");
        }
        if !r.transitions.iter().map(|t| &t.when).chain(r.expiration.iter()).all(days_ok) {
            return bad("Days must be at least 1 and Dates must be midnight UTC.");
        }
        let warm = r.transitions.iter().filter(|t| t.class == "WARM").collect::<Vec<_>>();
        let cold = r.transitions.iter().filter(|t| t.class == "COLD").collect::<Vec<_>>();
        if warm.len() > 1 || cold.len() > 1 || warm.len() + cold.len() != r.transitions.len() {
            return bad("transitions go to WARM (STANDARD_IA) and COLD (GLACIER), at most once each.");
        }
        let mixed =
            |a: &When, b: &When| !matches!((a, b), (When::Days(_), When::Days(_)) | (When::Date(_), When::Date(_)));
        let before = |a: &When, b: &When| match (a, b) {
            (When::Days(x), When::Days(y)) | (When::Date(x), When::Date(y)) => x < y,
            _ => false,
        };
        if let (Some(w), Some(c)) = (warm.first(), cold.first()) {
            if mixed(&w.when, &c.when) || !before(&w.when, &c.when) {
                return bad("the COLD transition must come after the WARM one.");
            }
        }
        if let Some(e) = &r.expiration {
            if r.transitions.iter().any(|t| mixed(&t.when, e) || !before(&t.when, e)) {
                return bad("the expiration must come after every transition.");
            }
        }
    }
    Ok(())
}

/// The default encryption of a bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encryption {
    /// `AES256` (SSE-S3).
    pub algorithm: String,
}

/// Checks a server-side encryption algorithm name.
pub fn validate_sse(algorithm: &str) -> Result<(), Error> {
    match algorithm {
        "AES256" => Ok(()),
        "aws:kms" | "kms" => Err(Error::bad_request(
            "SSE-KMS needs the key management service, which this region does not offer yet: use AES256.",
        )),
        other => Err(Error::bad_request(format!("The server-side encryption {other:?} is not valid: use AES256."))),
    }
}

fn setting<T: for<'de> Deserialize<'de>>(doc: &Option<String>, kind: &'static str, bucket: &str) -> Result<T, Error> {
    doc.as_deref().and_then(|d| serde_json::from_str(d).ok()).ok_or_else(|| Error::not_found(kind, bucket))
}

impl Control {
    /// Writes one setting of a bucket the caller may change with `action`; audited.
    async fn write_setting(
        &self,
        ctx: &Ctx,
        bucket: &str,
        action: &str,
        setting: BucketSetting,
        value: Option<String>,
    ) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let b = self.load_bucket(&mut tx, ctx, bucket, action).await?;
        repo::set_bucket_setting(&mut tx, &b.id, setting, value.as_deref()).await?;
        let op = action.trim_start_matches("s3:");
        let op = format!("{}{}", op[..1].to_ascii_lowercase(), &op[1..]);
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("OBS", "bucket", &op, 200).resource(&b.id, &b.name).in_project(&b.project_id),
        )
        .await?;
        tx.commit().await
    }

    /// Enables or suspends versioning (a bucket never returns to unversioned).
    pub async fn set_bucket_versioning(&self, ctx: &Ctx, bucket: &str, status: &str) -> Result<(), Error> {
        if !matches!(status, "Enabled" | "Suspended") {
            return Err(Error::bad_request(BAD_VERSIONING));
        }
        self.write_setting(ctx, bucket, "s3:PutBucketVersioning", BucketSetting::Versioning, Some(status.into())).await
    }

    /// Sets the bucket policy, after checking it.
    pub async fn set_bucket_policy(&self, ctx: &Ctx, bucket: &str, policy: &str) -> Result<(), Error> {
        Policy::parse(policy, bucket)?;
        self.write_setting(ctx, bucket, "s3:PutBucketPolicy", BucketSetting::Policy, Some(policy.into())).await
    }

    /// The bucket policy as written.
    pub async fn bucket_policy(&self, ctx: &Ctx, bucket: &str) -> Result<String, Error> {
        let b = self.get_bucket(ctx, bucket, "s3:GetBucketPolicy").await?;
        b.policy.ok_or_else(|| Error::not_found(NO_POLICY, bucket))
    }

    pub async fn delete_bucket_policy(&self, ctx: &Ctx, bucket: &str) -> Result<(), Error> {
        self.write_setting(ctx, bucket, "s3:DeleteBucketPolicy", BucketSetting::Policy, None).await
    }

    /// Sets the bucket's canned ACL.
    pub async fn set_bucket_acl(&self, ctx: &Ctx, bucket: &str, acl: &str) -> Result<(), Error> {
        access::validate_acl(acl)?;
        self.write_setting(ctx, bucket, "s3:PutBucketAcl", BucketSetting::Acl, Some(acl.into())).await
    }

    /// Sets the CORS rules (1-100).
    pub async fn set_bucket_cors(&self, ctx: &Ctx, bucket: &str, rules: &[CorsRule]) -> Result<(), Error> {
        if rules.is_empty() || rules.len() > 100 {
            return Err(Error::bad_request("A CORS configuration holds 1 to 100 rules."));
        }
        for r in rules {
            if r.allowed_origins.is_empty() || r.allowed_methods.is_empty() {
                return Err(Error::bad_request("Each CORS rule needs AllowedOrigin and AllowedMethod."));
            }
            if let Some(m) =
                r.allowed_methods.iter().find(|m| !matches!(m.as_str(), "GET" | "PUT" | "POST" | "DELETE" | "HEAD"))
            {
                return Err(Error::bad_request(format!(
                    "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
                )));
            }
        }
        let doc = serde_json::to_string(rules)?;
        self.write_setting(ctx, bucket, "s3:PutBucketCORS", BucketSetting::Cors, Some(doc)).await
    }

    pub async fn bucket_cors(&self, ctx: &Ctx, bucket: &str) -> Result<Vec<CorsRule>, Error> {
        let b = self.get_bucket(ctx, bucket, "s3:GetBucketCORS").await?;
        setting(&b.cors, NO_CORS, bucket)
    }

    pub async fn delete_bucket_cors(&self, ctx: &Ctx, bucket: &str) -> Result<(), Error> {
        self.write_setting(ctx, bucket, "s3:PutBucketCORS", BucketSetting::Cors, None).await
    }

    /// The CORS rule answering a cross-origin request to `bucket` (no caller: browsers send
    /// preflights unsigned, and CORS only tells the browser what it may show).
    pub async fn cors_rule_for(
        &self,
        bucket: &str,
        origin: &str,
        method: &str,
        headers: &[String],
    ) -> Result<Option<CorsRule>, Error> {
        let mut c = self.store().read().await?;
        let Some(b) = repo::get_bucket(&mut c, bucket).await? else { return Ok(None) };
        let rules: Vec<CorsRule> = b.cors.as_deref().and_then(|d| serde_json::from_str(d).ok()).unwrap_or_default();
        Ok(rules.into_iter().find(|r| r.matches(origin, method, headers)))
    }

    /// Sets the bucket's tags.
    pub async fn set_bucket_tags(&self, ctx: &Ctx, bucket: &str, tags: &[(String, String)]) -> Result<(), Error> {
        let doc = tags_json(tags, MAX_BUCKET_TAGS)?;
        self.write_setting(ctx, bucket, "s3:PutBucketTagging", BucketSetting::Tagging, Some(doc)).await
    }

    pub async fn bucket_tags(&self, ctx: &Ctx, bucket: &str) -> Result<Vec<(String, String)>, Error> {
        let b = self.get_bucket(ctx, bucket, "s3:GetBucketTagging").await?;
        setting(&b.tagging, NO_TAGS, bucket)
    }

    pub async fn delete_bucket_tags(&self, ctx: &Ctx, bucket: &str) -> Result<(), Error> {
        self.write_setting(ctx, bucket, "s3:PutBucketTagging", BucketSetting::Tagging, None).await
    }

    /// Sets the lifecycle rules (the lifecycle reconciler applies them).
    pub async fn set_bucket_lifecycle(&self, ctx: &Ctx, bucket: &str, rules: &[LifecycleRule]) -> Result<(), Error> {
        validate_lifecycle(rules)?;
        let doc = serde_json::to_string(rules)?;
        self.write_setting(ctx, bucket, "s3:PutLifecycleConfiguration", BucketSetting::Lifecycle, Some(doc)).await
    }

    pub async fn bucket_lifecycle(&self, ctx: &Ctx, bucket: &str) -> Result<Vec<LifecycleRule>, Error> {
        let b = self.get_bucket(ctx, bucket, "s3:GetLifecycleConfiguration").await?;
        setting(&b.lifecycle, NO_LIFECYCLE, bucket)
    }

    pub async fn delete_bucket_lifecycle(&self, ctx: &Ctx, bucket: &str) -> Result<(), Error> {
        self.write_setting(ctx, bucket, "s3:PutLifecycleConfiguration", BucketSetting::Lifecycle, None).await
    }

    /// Sets the default encryption of new objects.
    pub async fn set_bucket_encryption(&self, ctx: &Ctx, bucket: &str, algorithm: &str) -> Result<(), Error> {
        validate_sse(algorithm)?;
        let doc = serde_json::to_string(&Encryption { algorithm: algorithm.into() })?;
        self.write_setting(ctx, bucket, "s3:PutEncryptionConfiguration", BucketSetting::Encryption, Some(doc)).await
    }

    pub async fn bucket_encryption(&self, ctx: &Ctx, bucket: &str) -> Result<Encryption, Error> {
        let b = self.get_bucket(ctx, bucket, "s3:GetEncryptionConfiguration").await?;
        setting(&b.encryption, NO_ENCRYPTION, bucket)
    }

    pub async fn delete_bucket_encryption(&self, ctx: &Ctx, bucket: &str) -> Result<(), Error> {
        self.write_setting(ctx, bucket, "s3:PutEncryptionConfiguration", BucketSetting::Encryption, None).await
    }

    /// Sets the class objects get when their upload names none (OBS's `?storagePolicy`).
    pub async fn set_bucket_storage_class(&self, ctx: &Ctx, bucket: &str, class: &str) -> Result<(), Error> {
        let class = storage_class_of(class)?;
        self.write_setting(ctx, bucket, "s3:PutBucketStoragePolicy", BucketSetting::StorageClass, Some(class.into()))
            .await
    }

    /// Sets the bucket's storage quota in bytes (0: none), OBS's `?quota`.
    pub async fn set_bucket_quota(&self, ctx: &Ctx, bucket: &str, bytes: i64) -> Result<(), Error> {
        if bytes < 0 {
            return Err(Error::bad_request("The storage quota must not be negative."));
        }
        let mut tx = self.store().write().await?;
        let b = self.load_bucket(&mut tx, ctx, bucket, "s3:PutBucketQuota").await?;
        repo::set_bucket_quota(&mut tx, &b.id, bytes).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("OBS", "bucket", "setBucketQuota", 200).resource(&b.id, &b.name).in_project(&b.project_id),
        )
        .await?;
        tx.commit().await
    }

    /// Bytes and objects a bucket holds, every version counted (OBS's `?storageinfo`).
    pub async fn bucket_storage(&self, ctx: &Ctx, bucket: &str) -> Result<(i64, i64), Error> {
        let mut c = self.store().read().await?;
        let b = self.load_bucket(&mut c, ctx, bucket, "s3:GetBucketStorage").await?;
        repo::bucket_usage(&mut c, &b.id).await
    }

    /// Finds a version for an object-setting action (404 for a missing key or version).
    async fn load_version_for(
        &self,
        c: &mut sqlx::AnyConnection,
        ctx: &Ctx,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        action: &str,
    ) -> Result<(Bucket, Object), Error> {
        let b = self.load_bucket_for_write(c, ctx, bucket, key, action).await?;
        let o = match version_id {
            None => repo::get_object(c, &b.id, key).await?.ok_or_else(|| Error::not_found("object", key))?,
            Some(v) => match repo::get_version(c, &b.id, key, v).await? {
                Some(v) if v.delete_marker => return Err(Error::MethodNotAllowed),
                Some(v) => v.object,
                None => return Err(Error::not_found("version", v)),
            },
        };
        Ok((b, o))
    }

    /// Replaces an object's tags (`None` tags: removes them).
    pub async fn set_object_tags(
        &self,
        ctx: &Ctx,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<String, Error> {
        let doc = tags_json(tags, MAX_OBJECT_TAGS)?;
        let mut tx = self.store().write().await?;
        let (b, o) = self.load_version_for(&mut tx, ctx, bucket, key, version_id, "s3:PutObjectTagging").await?;
        repo::set_version_setting(&mut tx, &b.id, key, &o.version_id, VersionSetting::Tags, &doc).await?;
        let op = if tags.is_empty() { "deleteObjectTagging" } else { "putObjectTagging" };
        self.audit_object(&mut tx, ctx, &b, key, op, 200).await?;
        tx.commit().await?;
        Ok(o.version_id)
    }

    /// An object's tags and version id.
    pub async fn object_tags(
        &self,
        ctx: &Ctx,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<(Vec<(String, String)>, String), Error> {
        let mut c = self.store().read().await?;
        let (_, o) = self.load_version_for(&mut c, ctx, bucket, key, version_id, "s3:GetObjectTagging").await?;
        Ok((tags_of(&o.tags), o.version_id))
    }

    /// Sets an object's canned ACL.
    pub async fn set_object_acl(
        &self,
        ctx: &Ctx,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        acl: &str,
    ) -> Result<(), Error> {
        access::validate_acl(acl)?;
        let mut tx = self.store().write().await?;
        let (b, o) = self.load_version_for(&mut tx, ctx, bucket, key, version_id, "s3:PutObjectAcl").await?;
        repo::set_version_setting(&mut tx, &b.id, key, &o.version_id, VersionSetting::Acl, acl).await?;
        self.audit_object(&mut tx, ctx, &b, key, "putObjectAcl", 200).await?;
        tx.commit().await
    }

    /// An object's canned ACL, with its bucket's owner project.
    pub async fn object_acl(
        &self,
        ctx: &Ctx,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<(String, String), Error> {
        let mut c = self.store().read().await?;
        let (b, o) = self.load_version_for(&mut c, ctx, bucket, key, version_id, "s3:GetObjectAcl").await?;
        Ok((o.acl, b.project_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(transitions: Vec<(i64, &str)>, expiration: Option<i64>) -> LifecycleRule {
        LifecycleRule {
            id: Some("r".into()),
            prefix: String::new(),
            enabled: true,
            transitions: transitions
                .into_iter()
                .map(|(d, c)| Transition { when: When::Days(d), class: c.into() })
                .collect(),
            expiration: expiration.map(When::Days),
            abort_multipart_days: None,
        }
    }

    #[test]
    fn lifecycle_rules_are_checked() {
        assert!(validate_lifecycle(&[rule(vec![(1, "WARM"), (2, "COLD")], Some(4))]).is_ok());
        assert!(validate_lifecycle(&[rule(vec![(2, "WARM"), (1, "COLD")], None)]).is_err());
        assert!(validate_lifecycle(&[rule(vec![], Some(0))]).is_err());
        assert!(validate_lifecycle(&[rule(vec![(3, "WARM")], Some(2))]).is_err());
        assert!(validate_lifecycle(&[rule(vec![(3, "STANDARD")], None)]).is_err());
        assert!(validate_lifecycle(&[rule(vec![], None)]).is_err());
    }

    #[test]
    fn tags_are_checked() {
        let t = |k: &str| (k.to_string(), "v".to_string());
        assert!(tags_json(&[t("a"), t("b")], 10).is_ok());
        assert!(tags_json(&[t("a"), t("a")], 10).is_err());
        assert!(tags_json(&(0..11).map(|i| t(&i.to_string())).collect::<Vec<_>>(), 10).is_err());
        assert!(tags_json(&[t("")], 10).is_err());
    }

    #[test]
    fn cors_rules_match_origin_method_and_headers() {
        let r = CorsRule {
            allowed_origins: vec!["https://*.example".into()],
            allowed_methods: vec!["GET".into()],
            allowed_headers: vec!["x-amz-*".into()],
            ..Default::default()
        };
        assert!(r.matches("https://app.example", "GET", &["x-amz-date".into()]));
        assert!(!r.matches("https://app.example", "PUT", &[]));
        assert!(!r.matches("https://evil.test", "GET", &[]));
        assert!(!r.matches("https://app.example", "GET", &["content-type".into()]));
    }
}
