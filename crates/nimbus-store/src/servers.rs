//! Server repositories: servers, server groups and usage events.
//!
//! Every server update is conditional on the `version` the writer read, so two writers
//! racing on PostgreSQL (where write transactions run concurrently) cannot both win: the
//! loser gets a conflict and the caller re-reads.

use crate::db_error;
use crate::query::{Arg, Sql};
use nimbus_core::page::PageRequest;
use nimbus_core::Error;
use sqlx::AnyConnection;

/// A server row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Server {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub name: String,
    pub description: Option<String>,
    pub hostname: String,
    pub flavor_id: String,
    pub flavor: String,
    pub old_flavor: Option<String>,
    pub vcpus: i64,
    pub ram_mb: i64,
    pub disk_gb: i64,
    pub image_id: String,
    pub key_name: Option<String>,
    pub key_data: Option<String>,
    pub user_data: Option<String>,
    pub metadata: String,
    pub availability_zone: String,
    pub host: Option<String>,
    pub status: String,
    pub vm_state: String,
    pub task_state: Option<String>,
    pub power_state: i64,
    pub fault_code: Option<i64>,
    pub fault_message: Option<String>,
    pub fault_at: Option<i64>,
    pub mac: String,
    pub server_group_id: Option<String>,
    pub reservation_id: String,
    pub launch_index: i64,
    #[sqlx(try_from = "crate::IntBool")]
    pub config_drive: bool,
    #[sqlx(try_from = "crate::IntBool")]
    pub locked: bool,
    pub launched_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
    pub access_ipv4: String,
    pub access_ipv6: String,
    /// `MANUAL` or `AUTO` (Nova's OS-DCF:diskConfig).
    pub disk_config: String,
}

/// A server group.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ServerGroup {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub name: String,
    pub policy: String,
    pub rules: String,
    pub created_at: i64,
}

/// A billable change of a resource.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UsageEvent {
    pub id: String,
    pub project_id: String,
    pub resource_type: String,
    pub resource_id: String,
    pub event: String,
    pub flavor: Option<String>,
    pub detail: String,
    pub at: i64,
}

const COLUMNS: &str = "id, project_id, user_id, name, description, hostname, flavor_id, flavor, old_flavor, vcpus, \
     ram_mb, disk_gb, image_id, key_name, key_data, user_data, metadata, availability_zone, host, status, vm_state, \
     task_state, power_state, fault_code, fault_message, fault_at, mac, server_group_id, reservation_id, launch_index, \
     config_drive, locked, launched_at, created_at, updated_at, version, access_ipv4, access_ipv6, disk_config";

pub async fn insert(c: &mut AnyConnection, s: &Server) -> Result<(), Error> {
    let placeholders: Vec<String> = (1..=39).map(|i| format!("${i}")).collect();
    let sql = format!("INSERT INTO servers ({COLUMNS}) VALUES ({})", placeholders.join(","));
    sqlx::query(&sql)
        .bind(&s.id)
        .bind(&s.project_id)
        .bind(&s.user_id)
        .bind(&s.name)
        .bind(&s.description)
        .bind(&s.hostname)
        .bind(&s.flavor_id)
        .bind(&s.flavor)
        .bind(&s.old_flavor)
        .bind(s.vcpus)
        .bind(s.ram_mb)
        .bind(s.disk_gb)
        .bind(&s.image_id)
        .bind(&s.key_name)
        .bind(&s.key_data)
        .bind(&s.user_data)
        .bind(&s.metadata)
        .bind(&s.availability_zone)
        .bind(&s.host)
        .bind(&s.status)
        .bind(&s.vm_state)
        .bind(&s.task_state)
        .bind(s.power_state)
        .bind(s.fault_code)
        .bind(&s.fault_message)
        .bind(s.fault_at)
        .bind(&s.mac)
        .bind(&s.server_group_id)
        .bind(&s.reservation_id)
        .bind(s.launch_index)
        .bind(s.config_drive as i64)
        .bind(s.locked as i64)
        .bind(s.launched_at)
        .bind(s.created_at)
        .bind(s.updated_at)
        .bind(s.version)
        .bind(&s.access_ipv4)
        .bind(&s.access_ipv6)
        .bind(&s.disk_config)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Writes every mutable column of `s` if the stored row is still at `s.version`, and bumps
/// the version. Fails with a conflict when someone else updated the row first.
pub async fn update(c: &mut AnyConnection, s: &Server) -> Result<i64, Error> {
    let r = sqlx::query(
        "UPDATE servers SET name=$3, description=$4, hostname=$5, flavor_id=$6, flavor=$7, old_flavor=$8, vcpus=$9, \
         ram_mb=$10, disk_gb=$11, image_id=$12, metadata=$13, host=$14, status=$15, vm_state=$16, task_state=$17, \
         power_state=$18, fault_code=$19, fault_message=$20, fault_at=$21, locked=$22, launched_at=$23, \
         updated_at=$24, availability_zone=$25, access_ipv4=$26, access_ipv6=$27, disk_config=$28, \
         user_data=$29, key_name=$30, key_data=$31, version = version + 1 WHERE id=$1 AND version=$2",
    )
    .bind(&s.id)
    .bind(s.version)
    .bind(&s.name)
    .bind(&s.description)
    .bind(&s.hostname)
    .bind(&s.flavor_id)
    .bind(&s.flavor)
    .bind(&s.old_flavor)
    .bind(s.vcpus)
    .bind(s.ram_mb)
    .bind(s.disk_gb)
    .bind(&s.image_id)
    .bind(&s.metadata)
    .bind(&s.host)
    .bind(&s.status)
    .bind(&s.vm_state)
    .bind(&s.task_state)
    .bind(s.power_state)
    .bind(s.fault_code)
    .bind(&s.fault_message)
    .bind(s.fault_at)
    .bind(s.locked as i64)
    .bind(s.launched_at)
    .bind(s.updated_at)
    .bind(&s.availability_zone)
    .bind(&s.access_ipv4)
    .bind(&s.access_ipv6)
    .bind(&s.disk_config)
    .bind(&s.user_data)
    .bind(&s.key_name)
    .bind(&s.key_data)
    .execute(c)
    .await
    .map_err(db_error)?;
    if r.rows_affected() == 1 {
        Ok(s.version + 1)
    } else {
        Err(Error::Conflict(format!("Server {} changed while this request ran; try again.", s.id)))
    }
}

pub async fn get(c: &mut AnyConnection, id: &str) -> Result<Option<Server>, Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM servers WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await
        .map_err(db_error)
}

pub async fn delete(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM servers WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// List filters (all optional).
#[derive(Debug, Clone, Default)]
pub struct ServerFilter {
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    /// Substring of the name (Nova filters names by regular expression; a substring is the
    /// common case and cannot be abused).
    pub name_contains: Option<String>,
    pub status: Option<String>,
    pub image_id: Option<String>,
    pub flavor_id: Option<String>,
    pub availability_zone: Option<String>,
    pub host: Option<String>,
    pub reservation_id: Option<String>,
    pub changes_since: Option<i64>,
    pub ids: Option<Vec<String>>,
}

/// Servers matching `f`, newest first (Nova's default order), paged by id marker.
pub async fn list(c: &mut AnyConnection, f: &ServerFilter, page: &PageRequest) -> Result<Vec<Server>, Error> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM servers WHERE 1=1"));
    sql.and_eq("project_id", f.project_id.clone().map(Arg::Text))
        .and_eq("user_id", f.user_id.clone().map(Arg::Text))
        .and_eq("status", f.status.clone().map(Arg::Text))
        .and_eq("image_id", f.image_id.clone().map(Arg::Text))
        .and_eq("flavor_id", f.flavor_id.clone().map(Arg::Text))
        .and_eq("availability_zone", f.availability_zone.clone().map(Arg::Text))
        .and_eq("host", f.host.clone().map(Arg::Text))
        .and_eq("reservation_id", f.reservation_id.clone().map(Arg::Text));
    if let Some(n) = &f.name_contains {
        // LIKE wildcards in the filter are matched literally.
        let escaped = n.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        sql.push(" AND name LIKE ").bind(Arg::Text(format!("%{escaped}%"))).push(" ESCAPE '\\'");
    }
    if let Some(t) = f.changes_since {
        sql.push(" AND updated_at >= ").bind(Arg::Int(t));
    }
    if let Some(ids) = &f.ids {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        sql.push(" AND id IN (");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                sql.push(",");
            }
            sql.bind(Arg::Text(id.clone()));
        }
        sql.push(")");
    }
    if let Some(m) = &page.marker {
        // Newest first: the next page holds what sorts after the marker.
        sql.push(" AND (created_at < (SELECT created_at FROM servers WHERE id = ")
            .bind(Arg::Text(m.clone()))
            .push(") OR (created_at = (SELECT created_at FROM servers WHERE id = ")
            .bind(Arg::Text(m.clone()))
            .push(") AND id < ")
            .bind(Arg::Text(m.clone()))
            .push("))");
    }
    sql.push(" ORDER BY created_at DESC, id DESC LIMIT ").bind(Arg::Int(page.effective_limit() as i64));
    sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)
}

/// What is placed on `host`: (servers, vCPUs, RAM in MiB), for the scheduler.
pub async fn host_usage(c: &mut AnyConnection, host: &str) -> Result<(i64, i64, i64), Error> {
    sqlx::query_as(
        "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(vcpus), 0) AS BIGINT), \
         CAST(COALESCE(SUM(ram_mb), 0) AS BIGINT) FROM servers WHERE host = $1",
    )
    .bind(host)
    .fetch_one(c)
    .await
    .map_err(db_error)
}

/// How many guests on `host` are running.
pub async fn running_on_host(c: &mut AnyConnection, host: &str) -> Result<i64, Error> {
    sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM servers WHERE host = $1 AND power_state = 1")
        .bind(host)
        .fetch_one(c)
        .await
        .map_err(db_error)
}

/// Every server of the region (the reconciler's view), oldest first.
pub async fn all(c: &mut AnyConnection) -> Result<Vec<Server>, Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM servers ORDER BY created_at, id"))
        .fetch_all(c)
        .await
        .map_err(db_error)
}

/// Members of a server group.
pub async fn group_members(c: &mut AnyConnection, group_id: &str) -> Result<Vec<Server>, Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM servers WHERE server_group_id = $1 ORDER BY created_at, id"))
        .bind(group_id)
        .fetch_all(c)
        .await
        .map_err(db_error)
}

pub async fn insert_group(c: &mut AnyConnection, g: &ServerGroup) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO server_groups (id, project_id, user_id, name, policy, rules, created_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7)",
    )
    .bind(&g.id)
    .bind(&g.project_id)
    .bind(&g.user_id)
    .bind(&g.name)
    .bind(&g.policy)
    .bind(&g.rules)
    .bind(g.created_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get_group(c: &mut AnyConnection, id: &str) -> Result<Option<ServerGroup>, Error> {
    sqlx::query_as("SELECT * FROM server_groups WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

pub async fn list_groups(
    c: &mut AnyConnection,
    project_id: Option<&str>,
    page: &PageRequest,
) -> Result<Vec<ServerGroup>, Error> {
    let mut sql = Sql::new("SELECT * FROM server_groups WHERE 1=1");
    sql.and_eq("project_id", project_id.map(|p| Arg::Text(p.into())));
    if let Some(m) = &page.marker {
        sql.push(" AND id > ").bind(Arg::Text(m.clone()));
    }
    sql.push(" ORDER BY id LIMIT ").bind(Arg::Int(page.effective_limit() as i64));
    sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)
}

pub async fn delete_group(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM server_groups WHERE id = $1").bind(id).execute(&mut *c).await.map_err(db_error)?;
    sqlx::query("UPDATE servers SET server_group_id = NULL WHERE server_group_id = $1")
        .bind(id)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

pub async fn insert_usage(c: &mut AnyConnection, e: &UsageEvent) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO usage_events (id, project_id, resource_type, resource_id, event, flavor, detail, at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
    )
    .bind(&e.id)
    .bind(&e.project_id)
    .bind(&e.resource_type)
    .bind(&e.resource_id)
    .bind(&e.event)
    .bind(&e.flavor)
    .bind(&e.detail)
    .bind(e.at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// A project's usage events in time order, optionally for one resource.
pub async fn usage_events(
    c: &mut AnyConnection,
    project_id: &str,
    resource_id: Option<&str>,
) -> Result<Vec<UsageEvent>, Error> {
    let mut sql = Sql::new("SELECT * FROM usage_events WHERE project_id = ");
    sql.bind(Arg::Text(project_id.into()));
    sql.and_eq("resource_id", resource_id.map(|r| Arg::Text(r.into())));
    sql.push(" ORDER BY at, id");
    sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)
}
