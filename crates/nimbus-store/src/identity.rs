//! Identity repositories: domains, projects, users, groups, roles, role assignments,
//! credentials (access keys) and tokens.

use crate::db_error;
use crate::query::{Arg, Sql};
use nimbus_core::page::PageRequest;
use nimbus_core::Error;
use sqlx::AnyConnection;

/// A customer account (Keystone domain).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Domain {
    pub id: String,
    pub name: String,
    pub description: String,
    #[sqlx(try_from = "crate::IntBool")]
    pub enabled: bool,
    pub extra: String,
    pub created_at: i64,
}

/// A tenant space inside a domain; `parent_id` is `None` for a top-level project.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub parent_id: Option<String>,
    pub description: String,
    #[sqlx(try_from = "crate::IntBool")]
    pub enabled: bool,
    pub extra: String,
    pub created_at: i64,
}

/// A user account. `password_hash` is an argon2id PHC string.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct User {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub password_hash: Option<String>,
    #[sqlx(try_from = "crate::IntBool")]
    pub enabled: bool,
    pub email: Option<String>,
    pub description: String,
    pub default_project_id: Option<String>,
    pub extra: String,
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
    pub password_expires_at: Option<i64>,
    pub created_at: i64,
}

/// A group of users.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub description: String,
    pub extra: String,
    pub created_at: i64,
}

/// A role; `domain_id` is empty for global roles.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub description: String,
    pub extra: String,
}

/// One grant of a role to a user or group on a project or domain.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Assignment {
    pub actor_type: String,
    pub actor_id: String,
    pub target_type: String,
    pub target_id: String,
    pub role_id: String,
    #[sqlx(try_from = "crate::IntBool")]
    pub inherited: bool,
}

/// A credential; for access keys (`ec2`/`ak`) `access_key` and `secret` are set.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Credential {
    pub id: String,
    pub user_id: String,
    pub project_id: Option<String>,
    pub cred_type: String,
    pub blob: String,
    pub access_key: Option<String>,
    pub secret: Option<String>,
    pub status: String,
    pub description: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A stored token (by hash) and its scope.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Token {
    pub token_hash: String,
    pub user_id: String,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
    pub methods: String,
    pub audit_id: String,
    pub issued_at: i64,
    pub expires_at: i64,
    #[sqlx(try_from = "crate::IntBool")]
    pub revoked: bool,
    /// Scoped to the whole cloud (operators).
    #[sqlx(try_from = "crate::IntBool")]
    pub system_scope: bool,
}

fn page_clause(sql: &mut Sql, page: &PageRequest, id_col: &str) {
    if let Some(m) = &page.marker {
        sql.push(" AND ").push(id_col).push(" > ").bind(m.as_str().into());
    }
    sql.push(" ORDER BY ").push(id_col).push(" LIMIT ").bind(Arg::Int(page.effective_limit() as i64));
}

// ---- domains ----

pub async fn insert_domain(c: &mut AnyConnection, d: &Domain) -> Result<(), Error> {
    sqlx::query("INSERT INTO domains (id, name, description, enabled, extra, created_at) VALUES ($1,$2,$3,$4,$5,$6)")
        .bind(&d.id)
        .bind(&d.name)
        .bind(&d.description)
        .bind(d.enabled as i64)
        .bind(&d.extra)
        .bind(d.created_at)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn update_domain(c: &mut AnyConnection, d: &Domain) -> Result<(), Error> {
    sqlx::query("UPDATE domains SET name=$2, description=$3, enabled=$4, extra=$5 WHERE id=$1")
        .bind(&d.id)
        .bind(&d.name)
        .bind(&d.description)
        .bind(d.enabled as i64)
        .bind(&d.extra)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn get_domain(c: &mut AnyConnection, id: &str) -> Result<Option<Domain>, Error> {
    sqlx::query_as("SELECT * FROM domains WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

pub async fn get_domain_by_name(c: &mut AnyConnection, name: &str) -> Result<Option<Domain>, Error> {
    sqlx::query_as("SELECT * FROM domains WHERE name = $1").bind(name).fetch_optional(c).await.map_err(db_error)
}

pub async fn list_domains(
    c: &mut AnyConnection,
    name: Option<&str>,
    enabled: Option<bool>,
    page: &PageRequest,
) -> Result<Vec<Domain>, Error> {
    let mut sql = Sql::new("SELECT * FROM domains WHERE 1=1");
    sql.and_eq("name", name.map(Arg::from)).and_eq("enabled", enabled.map(Arg::Bool));
    page_clause(&mut sql, page, "id");
    sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)
}

pub async fn delete_domain(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM domains WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

// ---- projects ----

pub async fn insert_project(c: &mut AnyConnection, p: &Project) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO projects (id, name, domain_id, parent_id, description, enabled, extra, created_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
    )
    .bind(&p.id)
    .bind(&p.name)
    .bind(&p.domain_id)
    .bind(&p.parent_id)
    .bind(&p.description)
    .bind(p.enabled as i64)
    .bind(&p.extra)
    .bind(p.created_at)
    .execute(&mut *c)
    .await
    .map_err(db_error)?;
    // The account a project bills to outlives it: its usage is invoiced after deletion.
    sqlx::query(
        "INSERT INTO project_accounts (project_id, domain_id, name) VALUES ($1,$2,$3) \
         ON CONFLICT (project_id) DO NOTHING",
    )
    .bind(&p.id)
    .bind(&p.domain_id)
    .bind(&p.name)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn update_project(c: &mut AnyConnection, p: &Project) -> Result<(), Error> {
    sqlx::query("UPDATE projects SET name=$2, description=$3, enabled=$4, extra=$5 WHERE id=$1")
        .bind(&p.id)
        .bind(&p.name)
        .bind(&p.description)
        .bind(p.enabled as i64)
        .bind(&p.extra)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn get_project(c: &mut AnyConnection, id: &str) -> Result<Option<Project>, Error> {
    sqlx::query_as("SELECT * FROM projects WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

pub async fn get_project_by_name(c: &mut AnyConnection, domain_id: &str, name: &str) -> Result<Option<Project>, Error> {
    sqlx::query_as("SELECT * FROM projects WHERE domain_id = $1 AND name = $2")
        .bind(domain_id)
        .bind(name)
        .fetch_optional(c)
        .await
        .map_err(db_error)
}

/// Filters for listing projects.
#[derive(Debug, Default, Clone)]
pub struct ProjectFilter {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    pub parent_id: Option<String>,
    pub enabled: Option<bool>,
    /// Restrict to these ids (the caller's visible set); `None` means no restriction.
    pub ids: Option<Vec<String>>,
}

pub async fn list_projects(
    c: &mut AnyConnection,
    f: &ProjectFilter,
    page: &PageRequest,
) -> Result<Vec<Project>, Error> {
    let mut sql = Sql::new("SELECT * FROM projects WHERE 1=1");
    sql.and_eq("name", f.name.clone().map(Arg::from))
        .and_eq("domain_id", f.domain_id.clone().map(Arg::from))
        .and_eq("enabled", f.enabled.map(Arg::Bool));
    if let Some(parent) = &f.parent_id {
        // A top-level project's parent is its domain.
        sql.push(" AND (parent_id = ").bind(parent.as_str().into());
        sql.push(" OR (parent_id IS NULL AND domain_id = ").bind(parent.as_str().into()).push("))");
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
            sql.bind(id.as_str().into());
        }
        sql.push(")");
    }
    page_clause(&mut sql, page, "id");
    sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)
}

pub async fn count_projects_in_domain(c: &mut AnyConnection, domain_id: &str) -> Result<i64, Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM projects WHERE domain_id = $1")
        .bind(domain_id)
        .fetch_one(c)
        .await
        .map_err(db_error)
}

pub async fn count_children(c: &mut AnyConnection, project_id: &str) -> Result<i64, Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM projects WHERE parent_id = $1")
        .bind(project_id)
        .fetch_one(c)
        .await
        .map_err(db_error)
}

pub async fn delete_project(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM projects WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

// ---- users ----

pub async fn insert_user(c: &mut AnyConnection, u: &User) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO users (id, name, domain_id, password_hash, enabled, email, description, default_project_id, \
         extra, failed_logins, locked_until, password_expires_at, created_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
    )
    .bind(&u.id)
    .bind(&u.name)
    .bind(&u.domain_id)
    .bind(&u.password_hash)
    .bind(u.enabled as i64)
    .bind(&u.email)
    .bind(&u.description)
    .bind(&u.default_project_id)
    .bind(&u.extra)
    .bind(u.failed_logins)
    .bind(u.locked_until)
    .bind(u.password_expires_at)
    .bind(u.created_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn update_user(c: &mut AnyConnection, u: &User) -> Result<(), Error> {
    sqlx::query(
        "UPDATE users SET name=$2, password_hash=$3, enabled=$4, email=$5, description=$6, default_project_id=$7, \
         extra=$8, failed_logins=$9, locked_until=$10, password_expires_at=$11 WHERE id=$1",
    )
    .bind(&u.id)
    .bind(&u.name)
    .bind(&u.password_hash)
    .bind(u.enabled as i64)
    .bind(&u.email)
    .bind(&u.description)
    .bind(&u.default_project_id)
    .bind(&u.extra)
    .bind(u.failed_logins)
    .bind(u.locked_until)
    .bind(u.password_expires_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Records a failed login; locks the account when `threshold` failures are reached.
/// One statement, so concurrent failures are all counted.
pub async fn record_login_failure(
    c: &mut AnyConnection,
    user_id: &str,
    threshold: i64,
    lock_until: i64,
) -> Result<(), Error> {
    sqlx::query(
        "UPDATE users SET failed_logins = failed_logins + 1, \
         locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END WHERE id = $1",
    )
    .bind(user_id)
    .bind(threshold)
    .bind(lock_until)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn reset_login_failures(c: &mut AnyConnection, user_id: &str) -> Result<(), Error> {
    sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1 AND (failed_logins <> 0 OR locked_until IS NOT NULL)")
        .bind(user_id)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn get_user(c: &mut AnyConnection, id: &str) -> Result<Option<User>, Error> {
    sqlx::query_as("SELECT * FROM users WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

pub async fn get_user_by_name(c: &mut AnyConnection, domain_id: &str, name: &str) -> Result<Option<User>, Error> {
    sqlx::query_as("SELECT * FROM users WHERE domain_id = $1 AND name = $2")
        .bind(domain_id)
        .bind(name)
        .fetch_optional(c)
        .await
        .map_err(db_error)
}

pub async fn list_users(
    c: &mut AnyConnection,
    name: Option<&str>,
    domain_id: Option<&str>,
    enabled: Option<bool>,
    group_id: Option<&str>,
    page: &PageRequest,
) -> Result<Vec<User>, Error> {
    let mut sql = Sql::new("SELECT * FROM users WHERE 1=1");
    sql.and_eq("name", name.map(Arg::from))
        .and_eq("domain_id", domain_id.map(Arg::from))
        .and_eq("enabled", enabled.map(Arg::Bool));
    if let Some(g) = group_id {
        sql.push(" AND id IN (SELECT user_id FROM group_members WHERE group_id = ").bind(g.into()).push(")");
    }
    page_clause(&mut sql, page, "id");
    sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)
}

pub async fn delete_user(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(&mut *c).await.map_err(db_error)?;
    for stmt in [
        "DELETE FROM group_members WHERE user_id = $1",
        "DELETE FROM role_assignments WHERE actor_type = 'user' AND actor_id = $1",
        "DELETE FROM credentials WHERE user_id = $1",
        "UPDATE tokens SET revoked = 1 WHERE user_id = $1",
    ] {
        sqlx::query(stmt).bind(id).execute(&mut *c).await.map_err(db_error)?;
    }
    Ok(r.rows_affected() > 0)
}

// ---- groups ----

pub async fn insert_group(c: &mut AnyConnection, g: &Group) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO user_groups (id, name, domain_id, description, extra, created_at) VALUES ($1,$2,$3,$4,$5,$6)",
    )
    .bind(&g.id)
    .bind(&g.name)
    .bind(&g.domain_id)
    .bind(&g.description)
    .bind(&g.extra)
    .bind(g.created_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn update_group(c: &mut AnyConnection, g: &Group) -> Result<(), Error> {
    sqlx::query("UPDATE user_groups SET name=$2, description=$3, extra=$4 WHERE id=$1")
        .bind(&g.id)
        .bind(&g.name)
        .bind(&g.description)
        .bind(&g.extra)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn get_group(c: &mut AnyConnection, id: &str) -> Result<Option<Group>, Error> {
    sqlx::query_as("SELECT * FROM user_groups WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

pub async fn list_groups(
    c: &mut AnyConnection,
    name: Option<&str>,
    domain_id: Option<&str>,
    member_user_id: Option<&str>,
    page: &PageRequest,
) -> Result<Vec<Group>, Error> {
    let mut sql = Sql::new("SELECT * FROM user_groups WHERE 1=1");
    sql.and_eq("name", name.map(Arg::from)).and_eq("domain_id", domain_id.map(Arg::from));
    if let Some(u) = member_user_id {
        sql.push(" AND id IN (SELECT group_id FROM group_members WHERE user_id = ").bind(u.into()).push(")");
    }
    page_clause(&mut sql, page, "id");
    sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)
}

pub async fn delete_group(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM user_groups WHERE id = $1").bind(id).execute(&mut *c).await.map_err(db_error)?;
    for stmt in [
        "DELETE FROM group_members WHERE group_id = $1",
        "DELETE FROM role_assignments WHERE actor_type = 'group' AND actor_id = $1",
    ] {
        sqlx::query(stmt).bind(id).execute(&mut *c).await.map_err(db_error)?;
    }
    Ok(r.rows_affected() > 0)
}

pub async fn add_group_member(c: &mut AnyConnection, group_id: &str, user_id: &str) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT (group_id, user_id) DO NOTHING",
    )
    .bind(group_id)
    .bind(user_id)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn remove_group_member(c: &mut AnyConnection, group_id: &str, user_id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
        .bind(group_id)
        .bind(user_id)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

pub async fn is_group_member(c: &mut AnyConnection, group_id: &str, user_id: &str) -> Result<bool, Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM group_members WHERE group_id = $1 AND user_id = $2")
        .bind(group_id)
        .bind(user_id)
        .fetch_one(c)
        .await
        .map_err(db_error)?;
    Ok(n > 0)
}

// ---- roles ----

pub async fn insert_role(c: &mut AnyConnection, r: &Role) -> Result<(), Error> {
    sqlx::query("INSERT INTO roles (id, name, domain_id, description, extra) VALUES ($1,$2,$3,$4,$5)")
        .bind(&r.id)
        .bind(&r.name)
        .bind(&r.domain_id)
        .bind(&r.description)
        .bind(&r.extra)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn update_role(c: &mut AnyConnection, r: &Role) -> Result<(), Error> {
    sqlx::query("UPDATE roles SET name=$2, description=$3, extra=$4 WHERE id=$1")
        .bind(&r.id)
        .bind(&r.name)
        .bind(&r.description)
        .bind(&r.extra)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn get_role(c: &mut AnyConnection, id: &str) -> Result<Option<Role>, Error> {
    sqlx::query_as("SELECT * FROM roles WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

pub async fn get_global_role_by_name(c: &mut AnyConnection, name: &str) -> Result<Option<Role>, Error> {
    sqlx::query_as("SELECT * FROM roles WHERE domain_id = '' AND name = $1")
        .bind(name)
        .fetch_optional(c)
        .await
        .map_err(db_error)
}

pub async fn list_roles(
    c: &mut AnyConnection,
    name: Option<&str>,
    domain_id: Option<&str>,
    page: &PageRequest,
) -> Result<Vec<Role>, Error> {
    let mut sql = Sql::new("SELECT * FROM roles WHERE 1=1");
    sql.and_eq("name", name.map(Arg::from)).and_eq("domain_id", Some(Arg::from(domain_id.unwrap_or(""))));
    page_clause(&mut sql, page, "id");
    sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)
}

pub async fn delete_role(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM roles WHERE id = $1").bind(id).execute(&mut *c).await.map_err(db_error)?;
    sqlx::query("DELETE FROM role_assignments WHERE role_id = $1").bind(id).execute(&mut *c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

// ---- role assignments ----

pub async fn grant(c: &mut AnyConnection, a: &Assignment) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO role_assignments (actor_type, actor_id, target_type, target_id, role_id, inherited) \
         VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (actor_type, actor_id, target_type, target_id, role_id, inherited) DO NOTHING",
    )
    .bind(&a.actor_type)
    .bind(&a.actor_id)
    .bind(&a.target_type)
    .bind(&a.target_id)
    .bind(&a.role_id)
    .bind(a.inherited as i64)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn revoke(c: &mut AnyConnection, a: &Assignment) -> Result<bool, Error> {
    let r = sqlx::query(
        "DELETE FROM role_assignments WHERE actor_type=$1 AND actor_id=$2 AND target_type=$3 AND target_id=$4 \
         AND role_id=$5 AND inherited=$6",
    )
    .bind(&a.actor_type)
    .bind(&a.actor_id)
    .bind(&a.target_type)
    .bind(&a.target_id)
    .bind(&a.role_id)
    .bind(a.inherited as i64)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// Filters for `GET /v3/role_assignments` and internal lookups.
#[derive(Debug, Default, Clone)]
pub struct AssignmentFilter {
    pub actor_type: Option<String>,
    pub actor_id: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub role_id: Option<String>,
    pub inherited: Option<bool>,
}

pub async fn list_assignments(c: &mut AnyConnection, f: &AssignmentFilter) -> Result<Vec<Assignment>, Error> {
    let mut sql = Sql::new("SELECT * FROM role_assignments WHERE 1=1");
    sql.and_eq("actor_type", f.actor_type.clone().map(Arg::from))
        .and_eq("actor_id", f.actor_id.clone().map(Arg::from))
        .and_eq("target_type", f.target_type.clone().map(Arg::from))
        .and_eq("target_id", f.target_id.clone().map(Arg::from))
        .and_eq("role_id", f.role_id.clone().map(Arg::from))
        .and_eq("inherited", f.inherited.map(Arg::Bool));
    sql.push(" ORDER BY actor_type, actor_id, target_type, target_id, role_id LIMIT 10000");
    sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)
}

/// The roles a user holds on a target: direct, through groups, and (for projects) inherited
/// from the project's domain. Domain-specific roles never take effect by themselves (Keystone
/// keeps them for role inference), so only global roles are returned.
pub async fn effective_roles(
    c: &mut AnyConnection,
    user_id: &str,
    target_type: &str,
    target_id: &str,
    target_domain_id: Option<&str>,
) -> Result<Vec<Role>, Error> {
    sqlx::query_as(
        "SELECT DISTINCT r.* FROM roles r JOIN role_assignments a ON a.role_id = r.id \
         WHERE ((a.actor_type = 'user' AND a.actor_id = $1) \
             OR (a.actor_type = 'group' AND a.actor_id IN (SELECT group_id FROM group_members WHERE user_id = $1))) \
           AND ((a.target_type = $2 AND a.target_id = $3 AND a.inherited = 0) \
             OR (a.target_type = 'domain' AND a.target_id = $4 AND a.inherited = 1)) \
           AND r.domain_id = '' \
         ORDER BY r.name",
    )
    .bind(user_id)
    .bind(target_type)
    .bind(target_id)
    .bind(target_domain_id.unwrap_or(""))
    .fetch_all(c)
    .await
    .map_err(db_error)
}

/// Ids of projects on which the user holds any role (directly, by group, or inherited).
pub async fn projects_of_user(c: &mut AnyConnection, user_id: &str) -> Result<Vec<String>, Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT p.id FROM projects p JOIN role_assignments a ON \
            ((a.target_type = 'project' AND a.target_id = p.id AND a.inherited = 0) \
             OR (a.target_type = 'domain' AND a.target_id = p.domain_id AND a.inherited = 1)) \
         WHERE (a.actor_type = 'user' AND a.actor_id = $1) \
            OR (a.actor_type = 'group' AND a.actor_id IN (SELECT group_id FROM group_members WHERE user_id = $1)) \
         ORDER BY p.id",
    )
    .bind(user_id)
    .fetch_all(c)
    .await
    .map_err(db_error)
}

/// Ids of domains on which the user holds a (non-inherited) role.
pub async fn domains_of_user(c: &mut AnyConnection, user_id: &str) -> Result<Vec<String>, Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT a.target_id FROM role_assignments a WHERE a.target_type = 'domain' AND a.inherited = 0 \
         AND ((a.actor_type = 'user' AND a.actor_id = $1) \
           OR (a.actor_type = 'group' AND a.actor_id IN (SELECT group_id FROM group_members WHERE user_id = $1))) \
         ORDER BY a.target_id",
    )
    .bind(user_id)
    .fetch_all(c)
    .await
    .map_err(db_error)
}

pub async fn delete_assignments_on_target(c: &mut AnyConnection, target_id: &str) -> Result<u64, Error> {
    let r = sqlx::query("DELETE FROM role_assignments WHERE target_id = $1")
        .bind(target_id)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(r.rows_affected())
}

// ---- credentials ----

pub async fn insert_credential(c: &mut AnyConnection, cr: &Credential) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO credentials (id, user_id, project_id, cred_type, blob, access_key, secret, status, description, \
         created_at, last_used_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
    )
    .bind(&cr.id)
    .bind(&cr.user_id)
    .bind(&cr.project_id)
    .bind(&cr.cred_type)
    .bind(&cr.blob)
    .bind(&cr.access_key)
    .bind(&cr.secret)
    .bind(&cr.status)
    .bind(&cr.description)
    .bind(cr.created_at)
    .bind(cr.last_used_at)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn update_credential(c: &mut AnyConnection, cr: &Credential) -> Result<(), Error> {
    sqlx::query(
        "UPDATE credentials SET project_id=$2, cred_type=$3, blob=$4, access_key=$5, secret=$6, status=$7, \
         description=$8 WHERE id=$1",
    )
    .bind(&cr.id)
    .bind(&cr.project_id)
    .bind(&cr.cred_type)
    .bind(&cr.blob)
    .bind(&cr.access_key)
    .bind(&cr.secret)
    .bind(&cr.status)
    .bind(&cr.description)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get_credential(c: &mut AnyConnection, id: &str) -> Result<Option<Credential>, Error> {
    sqlx::query_as("SELECT * FROM credentials WHERE id = $1").bind(id).fetch_optional(c).await.map_err(db_error)
}

pub async fn get_credential_by_access_key(c: &mut AnyConnection, ak: &str) -> Result<Option<Credential>, Error> {
    sqlx::query_as("SELECT * FROM credentials WHERE access_key = $1").bind(ak).fetch_optional(c).await.map_err(db_error)
}

pub async fn list_credentials(
    c: &mut AnyConnection,
    user_id: Option<&str>,
    cred_type: Option<&str>,
    page: &PageRequest,
) -> Result<Vec<Credential>, Error> {
    let mut sql = Sql::new("SELECT * FROM credentials WHERE 1=1");
    sql.and_eq("user_id", user_id.map(Arg::from)).and_eq("cred_type", cred_type.map(Arg::from));
    page_clause(&mut sql, page, "id");
    sqlx::query_as_with(&sql.text, sql.query_args()).fetch_all(c).await.map_err(db_error)
}

pub async fn count_access_keys(c: &mut AnyConnection, user_id: &str) -> Result<i64, Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM credentials WHERE user_id = $1 AND access_key IS NOT NULL")
        .bind(user_id)
        .fetch_one(c)
        .await
        .map_err(db_error)
}

pub async fn delete_credential(c: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM credentials WHERE id = $1").bind(id).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

// ---- tokens ----

pub async fn insert_token(c: &mut AnyConnection, t: &Token) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO tokens (token_hash, user_id, project_id, domain_id, methods, audit_id, issued_at, expires_at, revoked, \
         system_scope) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
    )
    .bind(&t.token_hash)
    .bind(&t.user_id)
    .bind(&t.project_id)
    .bind(&t.domain_id)
    .bind(&t.methods)
    .bind(&t.audit_id)
    .bind(t.issued_at)
    .bind(t.expires_at)
    .bind(t.revoked as i64)
    .bind(t.system_scope as i64)
    .execute(c)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub async fn get_token(c: &mut AnyConnection, token_hash: &str) -> Result<Option<Token>, Error> {
    sqlx::query_as("SELECT * FROM tokens WHERE token_hash = $1")
        .bind(token_hash)
        .fetch_optional(c)
        .await
        .map_err(db_error)
}

pub async fn revoke_token(c: &mut AnyConnection, token_hash: &str) -> Result<bool, Error> {
    let r = sqlx::query("UPDATE tokens SET revoked = 1 WHERE token_hash = $1 AND revoked = 0")
        .bind(token_hash)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(r.rows_affected() > 0)
}

/// Revokes every token of a user (password change, disable, delete).
pub async fn revoke_user_tokens(c: &mut AnyConnection, user_id: &str) -> Result<(), Error> {
    sqlx::query("UPDATE tokens SET revoked = 1 WHERE user_id = $1 AND revoked = 0")
        .bind(user_id)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Revokes a user's tokens scoped to one project (a role on it taken away).
pub async fn revoke_user_project_tokens(c: &mut AnyConnection, user_id: &str, project_id: &str) -> Result<(), Error> {
    sqlx::query("UPDATE tokens SET revoked = 1 WHERE user_id = $1 AND project_id = $2 AND revoked = 0")
        .bind(user_id)
        .bind(project_id)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Revokes every token scoped to a project or domain (disable, delete).
pub async fn revoke_scope_tokens(c: &mut AnyConnection, scope_id: &str) -> Result<(), Error> {
    sqlx::query("UPDATE tokens SET revoked = 1 WHERE (project_id = $1 OR domain_id = $1) AND revoked = 0")
        .bind(scope_id)
        .execute(c)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Deletes tokens that expired before `before` (housekeeping).
pub async fn purge_expired_tokens(c: &mut AnyConnection, before: i64) -> Result<u64, Error> {
    let r = sqlx::query("DELETE FROM tokens WHERE expires_at < $1").bind(before).execute(c).await.map_err(db_error)?;
    Ok(r.rows_affected())
}
