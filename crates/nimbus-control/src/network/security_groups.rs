//! Security groups and their rules (seed 6.3.4). Each project has a `default` group, made
//! when first needed with Neutron's rules: all egress, and ingress from members of the same
//! group. A new group allows all egress. Rules are checked (direction, ethertype,
//! protocol and port range, one remote: a CIDR of the rule's ethertype or a group) and
//! never duplicated; a group in use by a port, or the default one, stays.

use super::networks::check_name;
use crate::audit::AuditEvent;
use crate::authz::{authorize, Target};
use crate::{Control, Ctx};
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::network::{self as repo, SecurityGroup, SecurityGroupRule};
use sqlx::AnyConnection;

/// A group with its rules.
#[derive(Debug, Clone)]
pub struct SecurityGroupView {
    pub group: SecurityGroup,
    pub rules: Vec<SecurityGroupRule>,
}

/// What a rule create asks for.
#[derive(Debug, Clone, Default)]
pub struct RuleCreate {
    pub security_group_id: String,
    pub direction: String,
    pub ethertype: Option<String>,
    pub protocol: Option<String>,
    pub port_range_min: Option<i64>,
    pub port_range_max: Option<i64>,
    pub remote_ip_prefix: Option<String>,
    pub remote_group_id: Option<String>,
    pub description: String,
}

/// Protocol names Neutron takes, with their numbers.
const PROTOCOLS: &[(&str, u8)] = &[
    ("icmp", 1),
    ("igmp", 2),
    ("tcp", 6),
    ("egp", 8),
    ("udp", 17),
    ("ipv6-encap", 41),
    ("rsvp", 46),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("ipv6-icmp", 58),
    ("icmpv6", 58),
    ("ospf", 89),
    ("pgm", 113),
    ("vrrp", 112),
    ("sctp", 132),
    ("udplite", 136),
    ("dccp", 33),
    ("any", 0),
];

fn bad_rule(msg: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("Invalid input for operation: {msg}"))
}

/// A protocol as stored: a lowercase name, a number 0-255, or `None` (any).
fn normalize_protocol(p: Option<&str>) -> Result<Option<String>, Error> {
    let Some(p) = p.map(str::trim).filter(|p| !p.is_empty()) else { return Ok(None) };
    let lower = p.to_ascii_lowercase();
    if lower == "any" {
        return Ok(None);
    }
    if PROTOCOLS.iter().any(|(n, _)| *n == lower) {
        return Ok(Some(lower));
    }
    match lower.parse::<u16>() {
        Ok(n) if n <= 255 => Ok(Some(n.to_string())),
        _ => Err(bad_rule(format!(
            "Security group rule protocol {p} not supported. Only protocol values {} and integer representations [0 to \
             255] are supported.",
            PROTOCOLS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
        ))),
    }
}

fn protocol_number(p: &str) -> Option<u8> {
    PROTOCOLS.iter().find(|(n, _)| *n == p).map(|(_, v)| *v).or_else(|| p.parse().ok())
}

/// Checks a rule's ports against its protocol.
fn check_ports(protocol: Option<&str>, min: Option<i64>, max: Option<i64>) -> Result<(), Error> {
    let number = protocol.and_then(protocol_number);
    match number {
        Some(6) | Some(17) | Some(132) | Some(33) | Some(136) => {
            for v in [min, max].into_iter().flatten() {
                if !(1..=65535).contains(&v) {
                    return Err(bad_rule(format!("Invalid value for port {v}.")));
                }
            }
            if let (Some(a), Some(b)) = (min, max) {
                if a > b {
                    return Err(bad_rule("For TCP/UDP protocols, port_range_min must be <= port_range_max"));
                }
            }
            if min.is_none() && max.is_some() {
                return Err(bad_rule("For TCP/UDP protocols, port_range_min must be <= port_range_max"));
            }
        }
        Some(1) | Some(58) => {
            for (v, what) in [(min, "type"), (max, "code")] {
                if v.is_some_and(|v| !(0..=255).contains(&v)) {
                    return Err(bad_rule(format!("Invalid value for ICMP {what} {}.", v.unwrap_or_default())));
                }
            }
            if min.is_none() && max.is_some() {
                return Err(bad_rule(format!(
                    "ICMP code (port-range-max) {} is provided but ICMP type (port-range-min) is missing.",
                    max.unwrap_or_default()
                )));
            }
        }
        _ => {
            if min.is_some() || max.is_some() {
                return Err(bad_rule("Ports are only given for TCP, UDP, SCTP, DCCP, UDP-Lite and ICMP rules."));
            }
        }
    }
    Ok(())
}

/// A remote CIDR normalized, checked against the ethertype.
fn normalize_prefix(prefix: &str, ethertype: &str) -> Result<String, Error> {
    match ethertype {
        "IPv4" => {
            let net: ipnet::Ipv4Net = prefix
                .parse()
                .or_else(|_| prefix.parse::<std::net::Ipv4Addr>().map(|a| ipnet::Ipv4Net::new(a, 32).expect("/32")))
                .map_err(|_| {
                    bad_rule(format!("'{prefix}' is not a valid IPv4 CIDR or does not match ethertype IPv4."))
                })?;
            Ok(net.trunc().to_string())
        }
        _ => {
            let net: ipnet::Ipv6Net = prefix
                .parse()
                .or_else(|_| prefix.parse::<std::net::Ipv6Addr>().map(|a| ipnet::Ipv6Net::new(a, 128).expect("/128")))
                .map_err(|_| {
                    bad_rule(format!("'{prefix}' is not a valid IPv6 CIDR or does not match ethertype IPv6."))
                })?;
            Ok(net.trunc().to_string())
        }
    }
}

impl Control {
    /// Makes a project's `default` group with Neutron's default rules.
    pub(super) async fn make_default_security_group(
        &self,
        tx: &mut AnyConnection,
        project: &str,
    ) -> Result<String, Error> {
        let now = now_ms();
        let g = SecurityGroup {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project.into(),
            name: "default".into(),
            description: "Default security group".into(),
            stateful: true,
            created_at: now,
            updated_at: now,
            revision_number: 1,
        };
        repo::insert_security_group(tx, &g).await?;
        for (direction, ethertype, remote) in [
            ("egress", "IPv4", None),
            ("egress", "IPv6", None),
            ("ingress", "IPv4", Some(g.id.clone())),
            ("ingress", "IPv6", Some(g.id.clone())),
        ] {
            repo::insert_rule(tx, &new_rule(&g, direction, ethertype, remote, now)).await?;
        }
        Ok(g.id)
    }

    /// Makes the project's default group if it has none yet (a listing shows it, as
    /// Neutron's does).
    async fn ensure_default_group(&self, ctx: &Ctx) -> Result<(), Error> {
        let Some(project) = ctx.principal.project_id() else { return Ok(()) };
        let mut c = self.store().read().await?;
        if repo::default_security_group(&mut c, project).await?.is_some() {
            return Ok(());
        }
        drop(c);
        let mut tx = self.store().write().await?;
        if repo::default_security_group(&mut tx, project).await?.is_none() {
            self.make_default_security_group(&mut tx, project).await?;
        }
        tx.commit().await?;
        self.wake_network();
        Ok(())
    }

    /// Creates a group that allows all egress, charging `security_group`.
    pub async fn create_security_group(
        &self,
        ctx: &Ctx,
        name: &str,
        description: &str,
        stateful: bool,
        project_id: Option<&str>,
    ) -> Result<SecurityGroupView, Error> {
        check_name(name)?;
        let project = super::owner_project(ctx, project_id)?;
        authorize("network:create", &ctx.principal, &Target { project_id: Some(&project), ..Default::default() })?;
        if name == "default" {
            return Err(Error::Conflict("Default security group already exists.".into()));
        }
        let mut tx = self.store().write().await?;
        if repo::default_security_group(&mut tx, &project).await?.is_none() {
            self.make_default_security_group(&mut tx, &project).await?;
        }
        self.charge_quota(&mut tx, &project, "security_group", 1).await?;
        let now = now_ms();
        let g = SecurityGroup {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project.clone(),
            name: name.into(),
            description: description.into(),
            stateful,
            created_at: now,
            updated_at: now,
            revision_number: 1,
        };
        repo::insert_security_group(&mut tx, &g).await?;
        for ethertype in ["IPv4", "IPv6"] {
            repo::insert_rule(&mut tx, &new_rule(&g, "egress", ethertype, None, now)).await?;
        }
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("VPC", "securityGroup", "createSecurityGroup", 201)
                .resource(&g.id, &g.name)
                .in_project(&project),
        )
        .await?;
        let rules = repo::group_rules(&mut tx, &g.id).await?;
        tx.commit().await?;
        self.wake_network();
        Ok(SecurityGroupView { group: g, rules })
    }

    /// Groups the caller may see, with their rules.
    pub async fn list_security_groups(&self, ctx: &Ctx) -> Result<Vec<SecurityGroupView>, Error> {
        self.ensure_default_group(ctx).await?;
        let mut c = self.store().read().await?;
        let groups: Vec<SecurityGroup> = repo::list_security_groups(&mut c)
            .await?
            .into_iter()
            .filter(|g| super::may_read(ctx, &g.project_id))
            .collect();
        let mut rules: std::collections::HashMap<String, Vec<SecurityGroupRule>> = Default::default();
        for r in repo::list_rules(&mut c).await? {
            rules.entry(r.security_group_id.clone()).or_default().push(r);
        }
        Ok(groups
            .into_iter()
            .map(|g| SecurityGroupView { rules: rules.remove(&g.id).unwrap_or_default(), group: g })
            .collect())
    }

    async fn load_security_group(
        &self,
        c: &mut AnyConnection,
        ctx: &Ctx,
        id: &str,
        action: &str,
    ) -> Result<SecurityGroup, Error> {
        let g = repo::get_security_group(c, id).await?.ok_or_else(|| Error::not_found("security group", id))?;
        if !super::may_read(ctx, &g.project_id) {
            return Err(Error::not_found("security group", id));
        }
        authorize(action, &ctx.principal, &Target { project_id: Some(&g.project_id), ..Default::default() })?;
        Ok(g)
    }

    /// One group the caller may see, with its rules.
    pub async fn get_security_group(&self, ctx: &Ctx, id: &str) -> Result<SecurityGroupView, Error> {
        let mut c = self.store().read().await?;
        let g = self.load_security_group(&mut c, ctx, id, "network:get").await?;
        let rules = repo::group_rules(&mut c, &g.id).await?;
        Ok(SecurityGroupView { group: g, rules })
    }

    /// Renames or re-describes a group (the default one keeps its name).
    pub async fn update_security_group(
        &self,
        ctx: &Ctx,
        id: &str,
        name: Option<String>,
        description: Option<String>,
    ) -> Result<SecurityGroupView, Error> {
        let mut tx = self.store().write().await?;
        let mut g = self.load_security_group(&mut tx, ctx, id, "network:update").await?;
        if let Some(n) = name {
            check_name(&n)?;
            if g.name == "default" && n != "default" {
                return Err(Error::Conflict("Updating default security group not allowed.".into()));
            }
            if n == "default" && g.name != "default" {
                return Err(Error::Conflict("Default security group already exists.".into()));
            }
            g.name = n;
        }
        if let Some(d) = description {
            g.description = d;
        }
        g.updated_at = now_ms();
        repo::update_security_group(&mut tx, &g).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("VPC", "securityGroup", "updateSecurityGroup", 200)
                .resource(&g.id, &g.name)
                .in_project(&g.project_id),
        )
        .await?;
        let g =
            repo::get_security_group(&mut tx, &g.id).await?.ok_or_else(|| Error::not_found("security group", id))?;
        let rules = repo::group_rules(&mut tx, &g.id).await?;
        tx.commit().await?;
        self.wake_network();
        Ok(SecurityGroupView { group: g, rules })
    }

    /// Deletes a group no port uses (the default one only with its project, by operators).
    pub async fn delete_security_group(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let g = self.load_security_group(&mut tx, ctx, id, "network:delete").await?;
        if g.name == "default" && !ctx.principal.is_admin() {
            return Err(Error::Conflict("Insufficient rights for removing default security group.".into()));
        }
        if repo::group_port_count(&mut tx, &g.id).await? > 0 {
            return Err(Error::Conflict(format!("Security Group {} in use.", g.id)));
        }
        if let Some(r) = repo::rules_naming_group(&mut tx, &g.id).await?.first() {
            return Err(Error::Conflict(format!(
                "Security Group {} in use: rule {} of group {} names it as its remote group.",
                g.id, r.id, r.security_group_id
            )));
        }
        let rules = repo::group_rules(&mut tx, &g.id).await?.len() as i64;
        nimbus_store::tags::clear(&mut tx, "security-groups", &g.id).await?;
        repo::delete_security_group(&mut tx, &g.id).await?;
        if g.name != "default" {
            self.release_quota(&mut tx, &g.project_id, "security_group", 1).await?;
            self.release_quota(&mut tx, &g.project_id, "security_group_rule", rules).await?;
        }
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("VPC", "securityGroup", "deleteSecurityGroup", 204)
                .resource(&g.id, &g.name)
                .in_project(&g.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_network();
        Ok(())
    }

    /// Adds a rule to a group the caller may change.
    pub async fn create_security_group_rule(&self, ctx: &Ctx, req: RuleCreate) -> Result<SecurityGroupRule, Error> {
        let direction = req.direction.as_str();
        if !matches!(direction, "ingress" | "egress") {
            return Err(bad_rule(format!("'{direction}' is not in ['ingress', 'egress'] (direction).")));
        }
        let ethertype = match req.ethertype.as_deref().unwrap_or("IPv4") {
            e if e.eq_ignore_ascii_case("ipv4") => "IPv4",
            e if e.eq_ignore_ascii_case("ipv6") => "IPv6",
            other => return Err(bad_rule(format!("'{other}' is not in ['IPv4', 'IPv6'] (ethertype)."))),
        };
        let protocol = normalize_protocol(req.protocol.as_deref())?;
        if ethertype == "IPv4" && protocol.as_deref().is_some_and(|p| p == "ipv6-icmp" || p == "icmpv6" || p == "58") {
            return Err(bad_rule("Protocol ipv6-icmp is not supported by ethertype IPv4."));
        }
        check_ports(protocol.as_deref(), req.port_range_min, req.port_range_max)?;
        // A TCP/UDP range given by its minimum only covers that port.
        let (min, max) = match (protocol.as_deref().and_then(protocol_number), req.port_range_min, req.port_range_max) {
            (Some(6 | 17 | 132 | 33 | 136), Some(a), None) => (Some(a), Some(a)),
            (_, a, b) => (a, b),
        };
        if req.remote_ip_prefix.is_some() && req.remote_group_id.is_some() {
            return Err(bad_rule("Only remote_ip_prefix or remote_group_id may be provided."));
        }
        let prefix = req.remote_ip_prefix.as_deref().map(|p| normalize_prefix(p, ethertype)).transpose()?;
        let mut tx = self.store().write().await?;
        let g = self.load_security_group(&mut tx, ctx, &req.security_group_id, "network:update").await?;
        if let Some(rg) = &req.remote_group_id {
            let remote = repo::get_security_group(&mut tx, rg).await?.filter(|r| super::may_read(ctx, &r.project_id));
            remote.ok_or_else(|| Error::not_found("security group", rg))?;
        }
        let now = now_ms();
        let r = SecurityGroupRule {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: g.project_id.clone(),
            security_group_id: g.id.clone(),
            direction: direction.into(),
            ethertype: ethertype.into(),
            protocol,
            port_range_min: min,
            port_range_max: max,
            remote_ip_prefix: prefix,
            remote_group_id: req.remote_group_id.clone(),
            description: req.description.clone(),
            created_at: now,
            updated_at: now,
            revision_number: 1,
        };
        if let Some(dup) = repo::group_rules(&mut tx, &g.id).await?.into_iter().find(|o| same_rule(o, &r)) {
            return Err(Error::Conflict(format!("Security group rule already exists. Rule id is {}.", dup.id)));
        }
        self.charge_quota(&mut tx, &g.project_id, "security_group_rule", 1).await?;
        repo::insert_rule(&mut tx, &r).await?;
        repo::touch_security_group(&mut tx, &g.id, now).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("VPC", "securityGroupRule", "createSecurityGroupRule", 201)
                .resource(&r.id, &g.name)
                .in_project(&g.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_network();
        Ok(r)
    }

    /// Rules the caller may see.
    pub async fn list_security_group_rules(&self, ctx: &Ctx) -> Result<Vec<SecurityGroupRule>, Error> {
        self.ensure_default_group(ctx).await?;
        let mut c = self.store().read().await?;
        Ok(repo::list_rules(&mut c).await?.into_iter().filter(|r| super::may_read(ctx, &r.project_id)).collect())
    }

    async fn load_rule(
        &self,
        c: &mut AnyConnection,
        ctx: &Ctx,
        id: &str,
        action: &str,
    ) -> Result<SecurityGroupRule, Error> {
        let r = repo::get_rule(c, id).await?.ok_or_else(|| Error::not_found("security group rule", id))?;
        if !super::may_read(ctx, &r.project_id) {
            return Err(Error::not_found("security group rule", id));
        }
        authorize(action, &ctx.principal, &Target { project_id: Some(&r.project_id), ..Default::default() })?;
        Ok(r)
    }

    /// One rule the caller may see.
    pub async fn get_security_group_rule(&self, ctx: &Ctx, id: &str) -> Result<SecurityGroupRule, Error> {
        let mut c = self.store().read().await?;
        self.load_rule(&mut c, ctx, id, "network:get").await
    }

    /// Removes a rule.
    pub async fn delete_security_group_rule(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let r = self.load_rule(&mut tx, ctx, id, "network:delete").await?;
        repo::delete_rule(&mut tx, &r.id).await?;
        let is_default =
            repo::get_security_group(&mut tx, &r.security_group_id).await?.is_some_and(|g| g.name == "default");
        if !is_default {
            self.release_quota(&mut tx, &r.project_id, "security_group_rule", 1).await?;
        }
        repo::touch_security_group(&mut tx, &r.security_group_id, now_ms()).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("VPC", "securityGroupRule", "deleteSecurityGroupRule", 204)
                .resource(&r.id, "")
                .in_project(&r.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_network();
        Ok(())
    }
}

fn new_rule(
    g: &SecurityGroup,
    direction: &str,
    ethertype: &str,
    remote_group: Option<String>,
    now: i64,
) -> SecurityGroupRule {
    SecurityGroupRule {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: g.project_id.clone(),
        security_group_id: g.id.clone(),
        direction: direction.into(),
        ethertype: ethertype.into(),
        protocol: None,
        port_range_min: None,
        port_range_max: None,
        remote_ip_prefix: None,
        remote_group_id: remote_group,
        description: String::new(),
        created_at: now,
        updated_at: now,
        revision_number: 1,
    }
}

fn same_rule(a: &SecurityGroupRule, b: &SecurityGroupRule) -> bool {
    a.direction == b.direction
        && a.ethertype == b.ethertype
        && a.protocol.as_deref().and_then(protocol_number) == b.protocol.as_deref().and_then(protocol_number)
        && a.port_range_min == b.port_range_min
        && a.port_range_max == b.port_range_max
        && a.remote_ip_prefix == b.remote_ip_prefix
        && a.remote_group_id == b.remote_group_id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_checked_as_neutron_does() {
        assert_eq!(normalize_protocol(Some("TCP")).unwrap().as_deref(), Some("tcp"));
        assert_eq!(normalize_protocol(Some("6")).unwrap().as_deref(), Some("6"));
        assert_eq!(normalize_protocol(Some("any")).unwrap(), None);
        assert!(normalize_protocol(Some("bogus")).is_err());
        assert!(normalize_protocol(Some("256")).is_err());
        assert!(check_ports(Some("tcp"), Some(80), Some(79)).is_err());
        assert!(check_ports(Some("tcp"), Some(0), Some(10)).is_err());
        assert!(check_ports(Some("tcp"), Some(22), Some(22)).is_ok());
        assert!(check_ports(Some("icmp"), Some(8), Some(0)).is_ok());
        assert!(check_ports(Some("icmp"), Some(300), None).is_err());
        assert!(check_ports(None, Some(22), Some(22)).is_err(), "ports need a protocol");
        assert!(check_ports(Some("gre"), Some(1), None).is_err());
        assert_eq!(normalize_prefix("192.168.1.7/24", "IPv4").unwrap(), "192.168.1.0/24");
        assert_eq!(normalize_prefix("10.1.2.3", "IPv4").unwrap(), "10.1.2.3/32");
        assert!(normalize_prefix("10.0.0.0/24", "IPv6").is_err());
        assert!(normalize_prefix("2001:db8::/32", "IPv4").is_err());
    }
}
