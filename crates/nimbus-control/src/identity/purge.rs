//! The `project.purge` job: removes what a deleted project owned, one idempotent step at a
//! time, so a crash mid-way resumes where it stopped. Audit traces are kept: they are the
//! record of what the project did.

use crate::jobs::{JobHandler, StepOutcome};
use crate::Control;
use nimbus_core::Error;
use nimbus_store::jobs::Job;

pub const JOB_TYPE: &str = "project.purge";

/// Purges a deleted project's credentials, tags, quotas, trackers and idempotency keys.
pub struct ProjectPurge;

const STEPS: &[&str] = &[
    "DELETE FROM credentials WHERE project_id = $1",
    "DELETE FROM tags WHERE project_id = $1",
    "DELETE FROM quota_usage WHERE project_id = $1",
    "DELETE FROM quota_limits WHERE project_id = $1",
    "DELETE FROM trackers WHERE project_id = $1",
    "DELETE FROM idempotency_keys WHERE project_id = $1",
];

#[async_trait::async_trait]
impl JobHandler for ProjectPurge {
    fn job_type(&self) -> &'static str {
        JOB_TYPE
    }

    async fn run_step(&self, control: &Control, job: &Job, step: i64) -> Result<StepOutcome, Error> {
        let params: serde_json::Value = serde_json::from_str(&job.params)?;
        let project_id =
            params["project_id"].as_str().ok_or_else(|| Error::Internal("purge job without project".into()))?;
        let Some(stmt) = STEPS.get(step as usize) else { return Ok(StepOutcome::Done) };
        let mut tx = control.store().write().await?;
        nimbus_store::jobs::purge_rows(&mut tx, stmt, project_id).await?;
        tx.commit().await?;
        Ok(if step as usize + 1 >= STEPS.len() { StepOutcome::Done } else { StepOutcome::Next })
    }
}
