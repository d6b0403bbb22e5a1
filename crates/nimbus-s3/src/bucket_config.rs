//! Bucket and object settings over S3: versioning, policy, canned ACLs, CORS, tagging,
//! lifecycle and default encryption. Each translates S3's documents to the control plane's
//! checked settings and back; the rules themselves live in `nimbus_control::objects`.

use crate::error::to_s3;
use crate::ops::{caller, timestamp, Obs};
use nimbus_control::objects::settings::{CorsRule, LifecycleRule, Transition as Tr, When};
use nimbus_control::objects::{s3_storage_class, storage_class};
use s3s::dto::{
    AbortIncompleteMultipartUpload, BucketVersioningStatus, CORSRule, ExpirationStatus, Grant, Grantee,
    LifecycleExpiration, LifecycleRule as S3Rule, LifecycleRuleFilter, Owner, Permission, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Transition,
    TransitionStorageClass, Type,
};
use s3s::dto::{
    DeleteBucketCorsInput, DeleteBucketCorsOutput, DeleteBucketEncryptionInput, DeleteBucketEncryptionOutput,
    DeleteBucketLifecycleInput, DeleteBucketLifecycleOutput, DeleteBucketPolicyInput, DeleteBucketPolicyOutput,
    DeleteBucketTaggingInput, DeleteBucketTaggingOutput, DeleteObjectTaggingInput, DeleteObjectTaggingOutput,
    GetBucketAclInput, GetBucketAclOutput, GetBucketCorsInput, GetBucketCorsOutput, GetBucketEncryptionInput,
    GetBucketEncryptionOutput, GetBucketLifecycleConfigurationInput, GetBucketLifecycleConfigurationOutput,
    GetBucketPolicyInput, GetBucketPolicyOutput, GetBucketTaggingInput, GetBucketTaggingOutput,
    GetBucketVersioningInput, GetBucketVersioningOutput, GetObjectAclInput, GetObjectAclOutput, GetObjectTaggingInput,
    GetObjectTaggingOutput, PutBucketAclInput, PutBucketAclOutput, PutBucketCorsInput, PutBucketCorsOutput,
    PutBucketEncryptionInput, PutBucketEncryptionOutput, PutBucketLifecycleConfigurationInput,
    PutBucketLifecycleConfigurationOutput, PutBucketPolicyInput, PutBucketPolicyOutput, PutBucketTaggingInput,
    PutBucketTaggingOutput, PutBucketVersioningInput, PutBucketVersioningOutput, PutObjectAclInput, PutObjectAclOutput,
    PutObjectTaggingInput, PutObjectTaggingOutput,
};
use s3s::{s3_error, S3Request, S3Response, S3Result};

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

/// The grants a canned ACL stands for: the owner's FULL_CONTROL, then the groups'.
fn grants(acl: &str, owner: &str) -> (Owner, Vec<Grant>) {
    let owner = Owner { id: Some(owner.to_string()), display_name: Some(owner.to_string()) };
    let grant = |uri: Option<&str>, permission: &str| Grant {
        grantee: Some(match uri {
            Some(u) => Grantee {
                type_: Type::from_static(Type::GROUP),
                uri: Some(u.to_string()),
                display_name: None,
                email_address: None,
                id: None,
            },
            None => Grantee {
                type_: Type::from_static(Type::CANONICAL_USER),
                id: owner.id.clone(),
                display_name: owner.display_name.clone(),
                uri: None,
                email_address: None,
            },
        }),
        permission: Some(Permission::from(permission.to_string())),
    };
    let mut list = vec![grant(None, Permission::FULL_CONTROL)];
    match acl {
        "public-read" => list.push(grant(Some(ALL_USERS), Permission::READ)),
        "public-read-write" => {
            list.push(grant(Some(ALL_USERS), Permission::READ));
            list.push(grant(Some(ALL_USERS), Permission::WRITE));
        }
        "authenticated-read" => list.push(grant(Some(AUTHENTICATED_USERS), Permission::READ)),
        _ => {}
    }
    (owner, list)
}

/// Tags from S3's tag set.
fn tag_pairs(set: &[Tag]) -> S3Result<Vec<(String, String)>> {
    set.iter()
        .map(|t| match &t.key {
            Some(k) => Ok((k.clone(), t.value.clone().unwrap_or_default())),
            None => Err(s3_error!(InvalidTag, "Each tag needs a Key.")),
        })
        .collect()
}

fn tag_set(pairs: Vec<(String, String)>) -> Vec<Tag> {
    pairs.into_iter().map(|(k, v)| Tag { key: Some(k), value: Some(v) }).collect()
}

fn ms_of(t: &s3s::dto::Timestamp) -> i64 {
    (time::OffsetDateTime::from(t.clone()).unix_timestamp_nanos() / 1_000_000) as i64
}

fn when(days: Option<i32>, date: Option<&s3s::dto::Timestamp>) -> S3Result<Option<When>> {
    match (days, date) {
        (Some(d), None) => Ok(Some(When::Days(d as i64))),
        (None, Some(t)) => Ok(Some(When::Date(ms_of(t)))),
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(s3_error!(InvalidArgument, "Give Days or Date, not both.")),
    }
}

fn rule_from_s3(r: &S3Rule) -> S3Result<LifecycleRule> {
    if r.noncurrent_version_expiration.is_some() || r.noncurrent_version_transitions.is_some() {
        return Err(s3_error!(InvalidArgument, "Rules for non-current versions are not supported in this region."));
    }
    let prefix = match &r.filter {
        Some(LifecycleRuleFilter {
            and: None,
            tag: None,
            object_size_greater_than: None,
            object_size_less_than: None,
            prefix,
        }) => prefix.clone(),
        Some(_) => return Err(s3_error!(InvalidArgument, "Lifecycle filters take a Prefix only in this region.")),
        None => r.prefix.clone(),
    }
    .unwrap_or_default();
    let mut transitions = Vec::new();
    for t in r.transitions.iter().flatten() {
        let class = t.storage_class.as_ref().map(|c| c.as_str().to_string()).unwrap_or_default();
        let class = storage_class(&class)
            .filter(|c| *c != "STANDARD")
            .ok_or_else(|| s3_error!(InvalidStorageClass, "Transitions go to STANDARD_IA (WARM) or GLACIER (COLD)."))?;
        let w = when(t.days, t.date.as_ref())?
            .ok_or_else(|| s3_error!(InvalidArgument, "A transition needs Days or Date."))?;
        transitions.push(Tr { when: w, class: class.into() });
    }
    let expiration = match &r.expiration {
        Some(e) if e.expired_object_delete_marker.is_some() && e.days.is_none() && e.date.is_none() => {
            return Err(s3_error!(InvalidArgument, "ExpiredObjectDeleteMarker is not supported in this region."))
        }
        Some(e) => when(e.days, e.date.as_ref())?,
        None => None,
    };
    Ok(LifecycleRule {
        id: r.id.clone(),
        prefix,
        enabled: r.status.as_str() == ExpirationStatus::ENABLED,
        transitions,
        expiration,
        abort_multipart_days: r
            .abort_incomplete_multipart_upload
            .as_ref()
            .and_then(|a| a.days_after_initiation)
            .map(i64::from),
    })
}

fn rule_to_s3(r: LifecycleRule) -> S3Rule {
    let split = |w: When| match w {
        When::Days(d) => (Some(d as i32), None),
        When::Date(ms) => (None, Some(timestamp(ms))),
    };
    S3Rule {
        id: r.id,
        filter: Some(LifecycleRuleFilter { prefix: Some(r.prefix), ..Default::default() }),
        status: ExpirationStatus::from_static(if r.enabled {
            ExpirationStatus::ENABLED
        } else {
            ExpirationStatus::DISABLED
        }),
        transitions: (!r.transitions.is_empty()).then(|| {
            r.transitions
                .into_iter()
                .map(|t| {
                    let (days, date) = split(t.when);
                    Transition {
                        days,
                        date,
                        storage_class: Some(TransitionStorageClass::from(s3_storage_class(&t.class).to_string())),
                    }
                })
                .collect()
        }),
        expiration: r.expiration.map(|e| {
            let (days, date) = split(e);
            LifecycleExpiration { days, date, expired_object_delete_marker: None }
        }),
        abort_incomplete_multipart_upload: r
            .abort_multipart_days
            .map(|d| AbortIncompleteMultipartUpload { days_after_initiation: Some(d as i32) }),
        noncurrent_version_expiration: None,
        noncurrent_version_transitions: None,
        prefix: None,
    }
}

impl Obs {
    pub(crate) async fn put_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        let ctx = caller(&req)?;
        let status = req.input.versioning_configuration.status.as_ref().map(|s| s.as_str().to_string());
        let status =
            status.ok_or_else(|| s3_error!(MalformedXML, "The versioning status must be Enabled or Suspended."))?;
        self.control.set_bucket_versioning(&ctx, &req.input.bucket, &status).await.map_err(to_s3)?;
        Ok(S3Response::new(PutBucketVersioningOutput::default()))
    }

    pub(crate) async fn get_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        let ctx = caller(&req)?;
        let b = self.control.get_bucket(&ctx, &req.input.bucket, "s3:GetBucketVersioning").await.map_err(to_s3)?;
        // A bucket never versioned answers with no status, as in S3.
        Ok(S3Response::new(GetBucketVersioningOutput {
            status: b.versioning.map(BucketVersioningStatus::from),
            ..Default::default()
        }))
    }

    pub(crate) async fn put_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        let ctx = caller(&req)?;
        self.control.set_bucket_policy(&ctx, &req.input.bucket, &req.input.policy).await.map_err(to_s3)?;
        Ok(S3Response::new(PutBucketPolicyOutput::default()))
    }

    pub(crate) async fn get_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        let ctx = caller(&req)?;
        let policy = self.control.bucket_policy(&ctx, &req.input.bucket).await.map_err(to_s3)?;
        Ok(S3Response::new(GetBucketPolicyOutput { policy: Some(policy) }))
    }

    pub(crate) async fn delete_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        let ctx = caller(&req)?;
        self.control.delete_bucket_policy(&ctx, &req.input.bucket).await.map_err(to_s3)?;
        Ok(S3Response::new(DeleteBucketPolicyOutput::default()))
    }

    pub(crate) async fn put_bucket_acl_(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> S3Result<S3Response<PutBucketAclOutput>> {
        let ctx = caller(&req)?;
        let i = &req.input;
        if i.access_control_policy.is_some()
            || i.grant_read.is_some()
            || i.grant_write.is_some()
            || i.grant_full_control.is_some()
        {
            return Err(s3_error!(InvalidArgument, "Only canned ACLs (x-amz-acl) are supported in this region."));
        }
        let acl = i.acl.as_ref().map(|a| a.as_str().to_string()).unwrap_or_else(|| "private".into());
        self.control.set_bucket_acl(&ctx, &i.bucket, &acl).await.map_err(to_s3)?;
        Ok(S3Response::new(PutBucketAclOutput::default()))
    }

    pub(crate) async fn get_bucket_acl_(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> S3Result<S3Response<GetBucketAclOutput>> {
        let ctx = caller(&req)?;
        let b = self.control.get_bucket(&ctx, &req.input.bucket, "s3:GetBucketAcl").await.map_err(to_s3)?;
        let (owner, list) = grants(&b.acl, &b.project_id);
        Ok(S3Response::new(GetBucketAclOutput { owner: Some(owner), grants: Some(list) }))
    }

    pub(crate) async fn put_object_acl_(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> S3Result<S3Response<PutObjectAclOutput>> {
        let ctx = caller(&req)?;
        let i = &req.input;
        if i.access_control_policy.is_some() || i.grant_read.is_some() || i.grant_full_control.is_some() {
            return Err(s3_error!(InvalidArgument, "Only canned ACLs (x-amz-acl) are supported in this region."));
        }
        let acl = i.acl.as_ref().map(|a| a.as_str().to_string()).unwrap_or_else(|| "private".into());
        self.control.set_object_acl(&ctx, &i.bucket, &i.key, i.version_id.as_deref(), &acl).await.map_err(to_s3)?;
        Ok(S3Response::new(PutObjectAclOutput::default()))
    }

    pub(crate) async fn get_object_acl_(
        &self,
        req: S3Request<GetObjectAclInput>,
    ) -> S3Result<S3Response<GetObjectAclOutput>> {
        let ctx = caller(&req)?;
        let i = &req.input;
        let (acl, owner) =
            self.control.object_acl(&ctx, &i.bucket, &i.key, i.version_id.as_deref()).await.map_err(to_s3)?;
        let (owner, list) = grants(&acl, &owner);
        Ok(S3Response::new(GetObjectAclOutput { owner: Some(owner), grants: Some(list), ..Default::default() }))
    }

    pub(crate) async fn put_cors(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> S3Result<S3Response<PutBucketCorsOutput>> {
        let ctx = caller(&req)?;
        let rules: Vec<CorsRule> = req
            .input
            .cors_configuration
            .cors_rules
            .iter()
            .map(|r| CorsRule {
                id: r.id.clone(),
                allowed_origins: r.allowed_origins.clone(),
                allowed_methods: r.allowed_methods.clone(),
                allowed_headers: r.allowed_headers.clone().unwrap_or_default(),
                expose_headers: r.expose_headers.clone().unwrap_or_default(),
                max_age_seconds: r.max_age_seconds,
            })
            .collect();
        self.control.set_bucket_cors(&ctx, &req.input.bucket, &rules).await.map_err(to_s3)?;
        Ok(S3Response::new(PutBucketCorsOutput::default()))
    }

    pub(crate) async fn get_cors(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> S3Result<S3Response<GetBucketCorsOutput>> {
        let ctx = caller(&req)?;
        let rules = self.control.bucket_cors(&ctx, &req.input.bucket).await.map_err(to_s3)?;
        let rules = rules
            .into_iter()
            .map(|r| CORSRule {
                id: r.id,
                allowed_origins: r.allowed_origins,
                allowed_methods: r.allowed_methods,
                allowed_headers: (!r.allowed_headers.is_empty()).then_some(r.allowed_headers),
                expose_headers: (!r.expose_headers.is_empty()).then_some(r.expose_headers),
                max_age_seconds: r.max_age_seconds,
            })
            .collect();
        Ok(S3Response::new(GetBucketCorsOutput { cors_rules: Some(rules) }))
    }

    pub(crate) async fn delete_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        let ctx = caller(&req)?;
        self.control.delete_bucket_cors(&ctx, &req.input.bucket).await.map_err(to_s3)?;
        Ok(S3Response::new(DeleteBucketCorsOutput::default()))
    }

    pub(crate) async fn put_bucket_tags(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> S3Result<S3Response<PutBucketTaggingOutput>> {
        let ctx = caller(&req)?;
        let tags = tag_pairs(&req.input.tagging.tag_set)?;
        self.control.set_bucket_tags(&ctx, &req.input.bucket, &tags).await.map_err(to_s3)?;
        Ok(S3Response::new(PutBucketTaggingOutput::default()))
    }

    pub(crate) async fn get_bucket_tags(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> S3Result<S3Response<GetBucketTaggingOutput>> {
        let ctx = caller(&req)?;
        let tags = self.control.bucket_tags(&ctx, &req.input.bucket).await.map_err(to_s3)?;
        Ok(S3Response::new(GetBucketTaggingOutput { tag_set: tag_set(tags) }))
    }

    pub(crate) async fn delete_bucket_tags(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
        let ctx = caller(&req)?;
        self.control.delete_bucket_tags(&ctx, &req.input.bucket).await.map_err(to_s3)?;
        Ok(S3Response::new(DeleteBucketTaggingOutput::default()))
    }

    pub(crate) async fn put_object_tags(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        let ctx = caller(&req)?;
        let i = &req.input;
        let tags = tag_pairs(&i.tagging.tag_set)?;
        let v = self
            .control
            .set_object_tags(&ctx, &i.bucket, &i.key, i.version_id.as_deref(), &tags)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(PutObjectTaggingOutput { version_id: (v != "null").then_some(v) }))
    }

    pub(crate) async fn get_object_tags(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        let ctx = caller(&req)?;
        let i = &req.input;
        let (tags, v) =
            self.control.object_tags(&ctx, &i.bucket, &i.key, i.version_id.as_deref()).await.map_err(to_s3)?;
        Ok(S3Response::new(GetObjectTaggingOutput { tag_set: tag_set(tags), version_id: (v != "null").then_some(v) }))
    }

    pub(crate) async fn delete_object_tags(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        let ctx = caller(&req)?;
        let i = &req.input;
        let v =
            self.control.set_object_tags(&ctx, &i.bucket, &i.key, i.version_id.as_deref(), &[]).await.map_err(to_s3)?;
        Ok(S3Response::new(DeleteObjectTaggingOutput { version_id: (v != "null").then_some(v) }))
    }

    pub(crate) async fn put_lifecycle(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
        let ctx = caller(&req)?;
        let rules = req
            .input
            .lifecycle_configuration
            .as_ref()
            .map(|c| c.rules.iter().map(rule_from_s3).collect::<S3Result<Vec<_>>>())
            .transpose()?
            .unwrap_or_default();
        self.control.set_bucket_lifecycle(&ctx, &req.input.bucket, &rules).await.map_err(to_s3)?;
        Ok(S3Response::new(PutBucketLifecycleConfigurationOutput::default()))
    }

    pub(crate) async fn get_lifecycle(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
        let ctx = caller(&req)?;
        let rules = self.control.bucket_lifecycle(&ctx, &req.input.bucket).await.map_err(to_s3)?;
        Ok(S3Response::new(GetBucketLifecycleConfigurationOutput {
            rules: Some(rules.into_iter().map(rule_to_s3).collect()),
            ..Default::default()
        }))
    }

    pub(crate) async fn delete_lifecycle(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
        let ctx = caller(&req)?;
        self.control.delete_bucket_lifecycle(&ctx, &req.input.bucket).await.map_err(to_s3)?;
        Ok(S3Response::new(DeleteBucketLifecycleOutput::default()))
    }

    pub(crate) async fn put_encryption(
        &self,
        req: S3Request<PutBucketEncryptionInput>,
    ) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
        let ctx = caller(&req)?;
        let rules = &req.input.server_side_encryption_configuration.rules;
        let algorithm = match rules.as_slice() {
            [ServerSideEncryptionRule { apply_server_side_encryption_by_default: Some(d), .. }] => {
                d.sse_algorithm.as_str().to_string()
            }
            _ => return Err(s3_error!(MalformedXML, "Give one rule with ApplyServerSideEncryptionByDefault.")),
        };
        self.control.set_bucket_encryption(&ctx, &req.input.bucket, &algorithm).await.map_err(to_s3)?;
        Ok(S3Response::new(PutBucketEncryptionOutput::default()))
    }

    pub(crate) async fn get_encryption(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
        let ctx = caller(&req)?;
        let e = self.control.bucket_encryption(&ctx, &req.input.bucket).await.map_err(to_s3)?;
        Ok(S3Response::new(GetBucketEncryptionOutput {
            server_side_encryption_configuration: Some(ServerSideEncryptionConfiguration {
                rules: vec![ServerSideEncryptionRule {
                    apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                        sse_algorithm: ServerSideEncryption::from(e.algorithm),
                        kms_master_key_id: None,
                    }),
                    bucket_key_enabled: None,
                }],
            }),
        }))
    }

    pub(crate) async fn delete_encryption(
        &self,
        req: S3Request<DeleteBucketEncryptionInput>,
    ) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
        let ctx = caller(&req)?;
        self.control.delete_bucket_encryption(&ctx, &req.input.bucket).await.map_err(to_s3)?;
        Ok(S3Response::new(DeleteBucketEncryptionOutput::default()))
    }
}
