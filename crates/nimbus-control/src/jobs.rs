//! Durable jobs: long operations recorded in the store and driven to an end by the runner.
//!
//! A service method writes the job in the same transaction as the change that needs it and
//! wakes the runner. The runner (a reconciler over unfinished jobs) executes each job's steps
//! in order, recording the step reached after each one, so after a `kill -9` the job resumes
//! at the step that was in progress. Steps must therefore be idempotent. Natively a job is
//! shown at `GET /v1/{project_id}/jobs/{job_id}` with its sub-jobs.

use crate::authz::{authorize_visible, Target};
use crate::reconcile::Reconciler;
use crate::{Control, Ctx};
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::jobs::{self as repo, Job};
use sqlx::AnyConnection;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// After this many starts (crashes included) a job is failed instead of retried again.
pub const MAX_ATTEMPTS: i64 = 5;

/// What a step reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// More steps follow.
    Next,
    /// Run the same step again after this pause (waiting on the world or on sub-jobs).
    Wait(Duration),
    /// The job is complete.
    Done,
}

/// The code that runs one job type.
#[async_trait::async_trait]
pub trait JobHandler: Send + Sync {
    /// The `job_type` this handler runs.
    fn job_type(&self) -> &'static str;
    /// Runs step `step`. Must be idempotent: after a crash the step in progress runs again.
    async fn run_step(&self, control: &Control, job: &Job, step: i64) -> Result<StepOutcome, Error>;
    /// Called once when the job fails for good (a step error, or too many interrupted
    /// attempts), before the failure is recorded: puts the resource in its error state.
    async fn on_fail(&self, _control: &Control, _job: &Job, _error: &Error) -> Result<(), Error> {
        Ok(())
    }
}

/// Job handlers by type.
#[derive(Default)]
pub struct JobRegistry {
    handlers: HashMap<&'static str, Arc<dyn JobHandler>>,
}

impl JobRegistry {
    /// Adds a handler.
    pub fn register(&mut self, h: Arc<dyn JobHandler>) {
        self.handlers.insert(h.job_type(), h);
    }

    fn get(&self, job_type: &str) -> Option<Arc<dyn JobHandler>> {
        self.handlers.get(job_type).cloned()
    }
}

/// A job with its sub-jobs, as the API shows it.
#[derive(Debug, Clone)]
pub struct JobView {
    pub job: Job,
    pub sub_jobs: Vec<Job>,
}

impl Control {
    /// Records a new job inside the caller's transaction; returns its id.
    pub(crate) async fn new_job(
        &self,
        tx: &mut AnyConnection,
        project_id: &str,
        job_type: &str,
        params: serde_json::Value,
    ) -> Result<String, Error> {
        self.new_job_with(tx, project_id, job_type, params, None, serde_json::json!({})).await
    }

    /// Records a new job, possibly a sub-job of `parent`, with the entities it reports
    /// (Huawei jobs show e.g. `{"server_id": ...}` on each sub-job).
    pub(crate) async fn new_job_with(
        &self,
        tx: &mut AnyConnection,
        project_id: &str,
        job_type: &str,
        params: serde_json::Value,
        parent: Option<&str>,
        entities: serde_json::Value,
    ) -> Result<String, Error> {
        let now = now_ms();
        let job = Job {
            id: nimbus_core::id::new_hex_id(),
            project_id: project_id.into(),
            parent_id: parent.map(str::to_string),
            job_type: job_type.into(),
            status: repo::INIT.into(),
            step: 0,
            params: params.to_string(),
            entities: entities.to_string(),
            error_code: None,
            fail_reason: None,
            attempts: 0,
            begin_time: now,
            end_time: None,
            updated_at: now,
        };
        repo::insert(tx, &job).await?;
        Ok(job.id)
    }

    /// Tells the runner a job was queued (call after commit).
    pub fn wake_jobs(&self) {
        self.job_wakeup.notify_one();
    }

    /// `GET /v1/{project_id}/jobs/{job_id}`.
    pub async fn get_job(&self, ctx: &Ctx, project_id: &str, job_id: &str) -> Result<JobView, Error> {
        let mut c = self.store().read().await?;
        let job = repo::get(&mut c, job_id).await?.filter(|j| j.project_id == project_id);
        let target = Target { project_id: Some(project_id), ..Default::default() };
        authorize_visible("jobs:get", "jobs:get", &ctx.principal, &target, "job", job_id)?;
        let job = job.ok_or_else(|| Error::not_found("job", job_id))?;
        let sub_jobs = repo::children(&mut c, &job.id).await?;
        Ok(JobView { job, sub_jobs })
    }

    /// Runs one job from the step it reached to its end.
    async fn drive_job(self: Arc<Self>, job: Job, handler: Arc<dyn JobHandler>) {
        let result = async {
            let mut tx = self.store().write().await?;
            let attempts = repo::bump_attempts(&mut tx, &job.id, now_ms()).await?;
            tx.commit().await?;
            if attempts > MAX_ATTEMPTS {
                let reason = format!("gave up after {MAX_ATTEMPTS} interrupted attempts");
                let e = Error::Internal(reason.clone());
                if let Err(hook) = handler.on_fail(&self, &job, &e).await {
                    tracing::error!(job = %job.id, error = %hook, "job failure hook failed");
                }
                let mut tx = self.store().write().await?;
                repo::finish(&mut tx, &job.id, repo::FAIL, Some("Nimbus.Job.Attempts"), Some(&reason), now_ms())
                    .await?;
                return tx.commit().await;
            }
            let mut step = job.step;
            loop {
                let delay = self.config().job_step_delay_ms;
                if delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                let outcome = handler.run_step(&self, &job, step).await;
                if let Ok(StepOutcome::Wait(pause)) = outcome {
                    tokio::time::sleep(pause).await;
                    continue;
                }
                if let Err(e) = &outcome {
                    if let Err(hook) = handler.on_fail(&self, &job, e).await {
                        tracing::error!(job = %job.id, error = %hook, "job failure hook failed");
                    }
                }
                let mut tx = self.store().write().await?;
                match outcome {
                    // Already slept above; nothing to record.
                    Ok(StepOutcome::Wait(_)) => continue,
                    Ok(StepOutcome::Next) => {
                        step += 1;
                        repo::update_progress(&mut tx, &job.id, repo::RUNNING, step, &job.entities, now_ms()).await?;
                        tx.commit().await?;
                    }
                    Ok(StepOutcome::Done) => {
                        repo::finish(&mut tx, &job.id, repo::SUCCESS, None, None, now_ms()).await?;
                        return tx.commit().await;
                    }
                    Err(e) => {
                        tracing::warn!(job = %job.id, job_type = %job.job_type, error = %e, "job failed");
                        repo::finish(&mut tx, &job.id, repo::FAIL, Some(e.code()), Some(&e.message()), now_ms())
                            .await?;
                        return tx.commit().await;
                    }
                }
            }
        }
        .await;
        if let Err(e) = result {
            // The job stays unfinished in the store and is picked up again.
            tracing::error!(job = %job.id, error = %e, "recording job progress failed");
        }
    }
}

/// The reconciler that starts every unfinished job (at start-up: the ones a crash interrupted).
#[derive(Default)]
pub struct JobRunner {
    running: Arc<Mutex<HashSet<String>>>,
}

#[async_trait::async_trait]
impl Reconciler for JobRunner {
    fn name(&self) -> &'static str {
        "jobs"
    }

    fn period(&self) -> Duration {
        Duration::from_secs(2)
    }

    fn wakeup<'a>(&self, control: &'a Control) -> Option<&'a tokio::sync::Notify> {
        Some(&control.job_wakeup)
    }

    async fn reconcile(&self, control: &Arc<Control>) -> Result<(), Error> {
        let unfinished = {
            let mut c = control.store().read().await?;
            repo::unfinished(&mut c, 256).await?
        };
        for job in unfinished {
            let Some(handler) = control.jobs.get(&job.job_type) else {
                tracing::warn!(job = %job.id, job_type = %job.job_type, "no handler for job type");
                continue;
            };
            if !self.running.lock().unwrap_or_else(|e| e.into_inner()).insert(job.id.clone()) {
                continue;
            }
            let running = self.running.clone();
            let control = control.clone();
            tokio::spawn(async move {
                let id = job.id.clone();
                control.drive_job(job, handler).await;
                running.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            });
        }
        Ok(())
    }
}
