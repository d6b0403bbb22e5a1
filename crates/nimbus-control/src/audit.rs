//! Audit: every mutating call and every authentication becomes an immutable trace
//! (Cloud Trace Service, seed 6.9.2).
//!
//! Successful changes are traced by the service method inside the transaction that makes
//! them, so a change and its trace commit together. Failed calls, which change nothing, are
//! traced afterwards by the front end through [`Control::audit_failure`]. Traces are
//! hash-chained per project by the store. Each project has one `system` tracker, created on
//! first use, and may add `data` trackers: object reads of a bucket (`READ`) are traced only
//! where one asks for them (object writes are always traced).

use crate::authz::{authorize_visible, Target};
use crate::{Control, Ctx, RequestMeta};
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::audit::{self as repo, Trace, TraceFilter, Tracker};
use nimbus_store::identity::User;
use sqlx::AnyConnection;
use std::sync::atomic::Ordering;

/// The name of the one tracker every project has.
pub const SYSTEM_TRACKER: &str = "system";
/// Data trackers a project may have.
pub const MAX_DATA_TRACKERS: usize = 100;

/// Checks a data tracker's events (`READ`, `WRITE`) and returns them as stored.
fn data_events(events: &[String]) -> Result<String, Error> {
    let mut out: Vec<&str> = Vec::new();
    for e in events {
        match e.as_str() {
            "READ" | "WRITE" if !out.contains(&e.as_str()) => out.push(e),
            "READ" | "WRITE" => {}
            other => {
                return Err(Error::bad_request(format!("The data event {other:?} is not valid: use READ or WRITE.")))
            }
        }
    }
    if out.is_empty() {
        return Err(Error::bad_request("A data tracker records READ and/or WRITE events."));
    }
    out.sort();
    Ok(out.join(","))
}

/// What happened, as the service layer describes it.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub service: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub resource_name: Option<String>,
    pub action: String,
    pub code: u16,
    /// The project that owns the resource (default: the caller's scope).
    pub project_id: Option<String>,
    pub request: Option<String>,
}

impl AuditEvent {
    /// An event on a service's resource type with a nominal result code.
    pub fn new(service: &str, resource_type: &str, action: &str, code: u16) -> Self {
        AuditEvent {
            service: service.into(),
            resource_type: resource_type.into(),
            resource_id: None,
            resource_name: None,
            action: action.into(),
            code,
            project_id: None,
            request: None,
        }
    }

    /// Names the resource.
    pub fn resource(mut self, id: &str, name: &str) -> Self {
        self.resource_id = Some(id.into());
        self.resource_name = Some(name.into());
        self
    }

    /// Files the trace under this project instead of the caller's.
    pub fn in_project(mut self, project_id: &str) -> Self {
        self.project_id = Some(project_id.into());
        self
    }
}

/// The rating CTS gives a result code.
pub fn rating(code: u16) -> &'static str {
    match code {
        0..=399 => "normal",
        400..=499 => "warning",
        _ => "incident",
    }
}

/// The owner a trace is filed under when no project applies: the scope, else the domain.
fn owner_of(ctx_principal: Option<&crate::Principal>) -> String {
    match ctx_principal {
        Some(p) => p.project_id().or(p.scope_domain_id()).unwrap_or(&p.user_domain_id).to_string(),
        None => crate::identity::DEFAULT_DOMAIN_ID.to_string(),
    }
}

fn base_trace(meta: &RequestMeta, project_id: String) -> Trace {
    Trace {
        id: nimbus_core::id::new_hex_id(),
        project_id,
        seq: 0,
        time_ms: now_ms(),
        user_id: None,
        user_name: None,
        domain_id: None,
        source_ip: meta.source_ip.clone(),
        service_type: String::new(),
        resource_type: String::new(),
        resource_id: None,
        resource_name: None,
        trace_name: String::new(),
        trace_rating: String::new(),
        trace_type: "ApiCall".into(),
        request_id: Some(meta.request_id.clone()),
        code: None,
        api_version: None,
        message: None,
        request: None,
        response: None,
        resource_url: Some(meta.path.clone()),
        prev_hash: String::new(),
        hash: String::new(),
    }
}

impl Control {
    /// Appends the trace of a successful change, inside the change's transaction.
    pub async fn audit(&self, tx: &mut AnyConnection, ctx: &Ctx, ev: AuditEvent) -> Result<(), Error> {
        if ev.service == "IAM" {
            // Every identity change is audited: cached access-key principals are stale now.
            self.s3_keys.invalidate();
        }
        let p = &ctx.principal;
        let project = ev.project_id.clone().unwrap_or_else(|| owner_of(Some(p)));
        let mut t = base_trace(&ctx.meta, project);
        t.user_id = Some(p.user_id.clone());
        t.user_name = Some(p.user_name.clone());
        t.domain_id = Some(p.user_domain_id.clone());
        t.service_type = ev.service;
        t.resource_type = ev.resource_type;
        t.resource_id = ev.resource_id;
        t.resource_name = ev.resource_name;
        t.trace_name = ev.action;
        t.trace_rating = rating(ev.code).into();
        t.code = Some(ev.code.to_string());
        t.request = ev.request;
        repo::append(tx, t).await?;
        ctx.meta.audited.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Traces a failed authentication (under the named user's domain when known).
    pub(crate) async fn audit_login_failure(&self, meta: &RequestMeta, who: Option<User>, err: &Error) {
        let project = who.as_ref().map(|u| u.domain_id.clone()).unwrap_or_else(|| owner_of(None));
        let mut t = base_trace(meta, project);
        if let Some(u) = &who {
            t.user_id = Some(u.id.clone());
            t.user_name = Some(u.name.clone());
            t.domain_id = Some(u.domain_id.clone());
            t.resource_id = Some(u.id.clone());
            t.resource_name = Some(u.name.clone());
        }
        t.service_type = "IAM".into();
        t.resource_type = "user".into();
        t.trace_name = "createToken".into();
        t.code = Some(err.status().to_string());
        t.trace_rating = rating(err.status()).into();
        t.message = Some(err.message());
        self.append_detached(t).await;
        meta.audited.store(true, Ordering::SeqCst);
    }

    /// Traces a mutating call that failed (the service changed nothing, so nothing else
    /// traced it). Called by the front ends' audit layer.
    pub async fn audit_failure(
        &self,
        meta: &RequestMeta,
        service: &str,
        resource_type: &str,
        status: u16,
        message: &str,
    ) {
        let principal = meta.principal();
        let mut t = base_trace(meta, owner_of(principal.as_ref()));
        if let Some(p) = &principal {
            t.user_id = Some(p.user_id.clone());
            t.user_name = Some(p.user_name.clone());
            t.domain_id = Some(p.user_domain_id.clone());
        }
        t.service_type = service.into();
        t.resource_type = resource_type.into();
        t.trace_name = format!("{} {}", meta.method, meta.path);
        t.code = Some(status.to_string());
        t.trace_rating = rating(status).into();
        t.message = Some(message.chars().take(512).collect());
        self.append_detached(t).await;
        meta.audited.store(true, Ordering::SeqCst);
    }

    async fn append_detached(&self, t: Trace) {
        let result = async {
            let mut tx = self.store().write().await?;
            repo::append(&mut tx, t).await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "appending an audit trace");
        }
    }

    /// `GET /v3/{project_id}/traces`: the project's traces, newest first.
    pub async fn list_traces(&self, ctx: &Ctx, mut filter: TraceFilter) -> Result<Vec<Trace>, Error> {
        let target = Target { project_id: Some(&filter.project_id), ..Default::default() };
        authorize_visible(
            "cts:list_traces",
            "cts:list_traces",
            &ctx.principal,
            &target,
            "project",
            &filter.project_id,
        )?;
        filter.limit = filter.limit.clamp(1, 200);
        let mut c = self.store().read().await?;
        repo::list(&mut c, &filter).await
    }

    /// Checks a project's trace chain; `Some(seq)` names the first tampered trace.
    pub async fn verify_trace_chain(&self, ctx: &Ctx, project_id: &str) -> Result<Option<i64>, Error> {
        let target = Target { project_id: Some(project_id), ..Default::default() };
        authorize_visible("cts:list_traces", "cts:list_traces", &ctx.principal, &target, "project", project_id)?;
        let mut c = self.store().read().await?;
        repo::verify_chain(&mut c, project_id).await
    }

    /// The project's trackers: its `system` tracker (created on first use), then its data
    /// trackers.
    pub async fn list_trackers(&self, ctx: &Ctx, project_id: &str) -> Result<Vec<Tracker>, Error> {
        let target = Target { project_id: Some(project_id), ..Default::default() };
        authorize_visible("cts:list_trackers", "cts:list_trackers", &ctx.principal, &target, "project", project_id)?;
        self.ensure_system_tracker(ctx, project_id, false).await?;
        let mut c = self.store().read().await?;
        repo::list_trackers(&mut c, project_id).await
    }

    /// `POST /v3/{project_id}/tracker`: creates the `system` tracker (a second one conflicts:
    /// seed 6.9.2, one tracker per region per tenant), or a `data` tracker of one of the
    /// project's buckets.
    pub async fn create_tracker(
        &self,
        ctx: &Ctx,
        project_id: &str,
        name: &str,
        tracker_type: &str,
        data: Option<(&str, &[String])>,
    ) -> Result<Tracker, Error> {
        let target = Target { project_id: Some(project_id), ..Default::default() };
        authorize_visible("cts:list_trackers", "cts:create_tracker", &ctx.principal, &target, "project", project_id)?;
        match tracker_type {
            "system" if name == SYSTEM_TRACKER => return self.ensure_system_tracker(ctx, project_id, true).await,
            "system" => return Err(Error::bad_request("The system tracker is named 'system'.")),
            "data" => {}
            other => {
                return Err(Error::bad_request(format!("The tracker type {other:?} is not valid: use system or data.")))
            }
        }
        let valid_name = (1..=64).contains(&name.len())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            && name != SYSTEM_TRACKER;
        if !valid_name {
            return Err(Error::bad_request("Tracker names are 1-64 letters, digits, '_' or '-', and not 'system'."));
        }
        let (bucket, events) = data.ok_or_else(|| Error::bad_request("A data tracker needs data_bucket."))?;
        let events = data_events(events)?;
        let mut tx = self.store().write().await?;
        // The bucket must be the project's own (another project's bucket is not found).
        let b = nimbus_store::objects::get_bucket(&mut tx, bucket).await?.filter(|b| b.project_id == project_id);
        if b.is_none() {
            return Err(Error::bad_request(format!("The bucket {bucket:?} is not one of this project's buckets.")));
        }
        let existing = repo::list_trackers(&mut tx, project_id).await?;
        if existing.iter().filter(|t| t.tracker_type == "data").count() >= MAX_DATA_TRACKERS {
            return Err(Error::bad_request(format!("A project has at most {MAX_DATA_TRACKERS} data trackers.")));
        }
        let tracker = Tracker {
            id: nimbus_core::id::new_hex_id(),
            project_id: project_id.into(),
            name: name.into(),
            tracker_type: "data".into(),
            status: "enabled".into(),
            created_at: now_ms(),
            data_bucket: Some(bucket.into()),
            data_events: Some(events),
        };
        if !repo::insert_tracker(&mut tx, &tracker).await? {
            return Err(Error::Conflict(format!("A tracker named {name:?} already exists.")));
        }
        self.refresh_data_events(&mut tx, project_id, bucket).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("CTS", "tracker", "createTracker", 201).resource(&tracker.id, name).in_project(project_id),
        )
        .await?;
        tx.commit().await?;
        Ok(tracker)
    }

    /// `PUT /v3/{project_id}/tracker`: enables or disables a tracker, or changes a data
    /// tracker's events.
    pub async fn update_tracker(
        &self,
        ctx: &Ctx,
        project_id: &str,
        name: &str,
        status: Option<&str>,
        events: Option<&[String]>,
    ) -> Result<Tracker, Error> {
        let target = Target { project_id: Some(project_id), ..Default::default() };
        authorize_visible("cts:list_trackers", "cts:create_tracker", &ctx.principal, &target, "project", project_id)?;
        self.ensure_system_tracker(ctx, project_id, false).await?;
        let mut tx = self.store().write().await?;
        let mut t = repo::list_trackers(&mut tx, project_id)
            .await?
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| Error::not_found("tracker", name))?;
        match status {
            Some(s @ ("enabled" | "disabled")) => t.status = s.into(),
            Some(other) => {
                return Err(Error::bad_request(format!("The status {other:?} is not valid: use enabled or disabled.")))
            }
            None => {}
        }
        if let Some(ev) = events {
            if t.tracker_type != "data" {
                return Err(Error::bad_request("Only data trackers have data events."));
            }
            t.data_events = Some(data_events(ev)?);
        }
        repo::update_tracker(&mut tx, &t).await?;
        if let Some(bucket) = &t.data_bucket {
            self.refresh_data_events(&mut tx, project_id, bucket).await?;
        }
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("CTS", "tracker", "updateTracker", 200).resource(&t.id, name).in_project(project_id),
        )
        .await?;
        tx.commit().await?;
        Ok(t)
    }

    /// `DELETE /v3/{project_id}/trackers?tracker_name=`: deletes a data tracker (the system
    /// tracker stays: audit never stops).
    pub async fn delete_tracker(&self, ctx: &Ctx, project_id: &str, name: &str) -> Result<(), Error> {
        let target = Target { project_id: Some(project_id), ..Default::default() };
        authorize_visible("cts:list_trackers", "cts:create_tracker", &ctx.principal, &target, "project", project_id)?;
        if name.is_empty() {
            return Err(Error::bad_request("Name the tracker: ?tracker_name=."));
        }
        let mut tx = self.store().write().await?;
        let t = repo::list_trackers(&mut tx, project_id)
            .await?
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| Error::not_found("tracker", name))?;
        if t.tracker_type != "data" {
            return Err(Error::bad_request("The system tracker cannot be deleted: every change stays traced."));
        }
        repo::delete_tracker(&mut tx, &t.id).await?;
        if let Some(bucket) = &t.data_bucket {
            self.refresh_data_events(&mut tx, project_id, bucket).await?;
        }
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("CTS", "tracker", "deleteTracker", 204).resource(&t.id, name).in_project(project_id),
        )
        .await?;
        tx.commit().await
    }

    /// Writes on a bucket of `project_id` the union of the events its enabled data trackers
    /// ask for (nothing when the bucket is another project's now).
    pub(crate) async fn refresh_data_events(
        &self,
        tx: &mut AnyConnection,
        project_id: &str,
        bucket: &str,
    ) -> Result<(), Error> {
        let Some(b) = nimbus_store::objects::get_bucket(tx, bucket).await? else { return Ok(()) };
        if b.project_id != project_id {
            return Ok(());
        }
        let mut events: Vec<String> = Vec::new();
        for t in repo::bucket_data_trackers(tx, project_id, bucket).await? {
            for e in t.data_events.unwrap_or_default().split(',').filter(|e| !e.is_empty()) {
                if !events.iter().any(|x| x == e) {
                    events.push(e.to_string());
                }
            }
        }
        events.sort();
        let value = (!events.is_empty()).then(|| events.join(","));
        nimbus_store::objects::set_bucket_data_events(tx, bucket, value.as_deref()).await
    }

    async fn ensure_system_tracker(&self, ctx: &Ctx, project_id: &str, must_be_new: bool) -> Result<Tracker, Error> {
        let mut c = self.store().read().await?;
        if let Some(t) = repo::system_tracker(&mut c, project_id).await? {
            if must_be_new {
                return Err(Error::Conflict("The system tracker already exists.".into()));
            }
            return Ok(t);
        }
        drop(c);
        let tracker = Tracker {
            id: nimbus_core::id::new_hex_id(),
            project_id: project_id.into(),
            name: SYSTEM_TRACKER.into(),
            tracker_type: "system".into(),
            status: "enabled".into(),
            created_at: now_ms(),
            data_bucket: None,
            data_events: None,
        };
        let mut tx = self.store().write().await?;
        if repo::insert_tracker(&mut tx, &tracker).await? {
            self.audit(
                &mut tx,
                ctx,
                AuditEvent::new("CTS", "tracker", "createTracker", 201)
                    .resource(&tracker.id, &tracker.name)
                    .in_project(project_id),
            )
            .await?;
        }
        tx.commit().await?;
        let mut c = self.store().read().await?;
        repo::system_tracker(&mut c, project_id).await?.ok_or_else(|| Error::Internal("tracker vanished".into()))
    }
}
