//! DNS (seed 6.3.9): zones and their record sets. A public zone is served to the outside (by
//! the region's public DNS server, in the namespace that stands for the internet); a private
//! zone only inside the VPCs it is associated with (by each VPC network's DHCP and DNS server,
//! which the guests learn by DHCP). Every zone gets its SOA and NS record sets, which cannot be
//! deleted. Names are lower case with the trailing dot; a record set's name lies in its zone;
//! each type's records are checked (an A record is an IPv4 address, an MX one a preference
//! and a host...). A public zone's name is hosted once in the region.

use crate::audit::AuditEvent;
use crate::authz::{authorize, Target};
use crate::{Control, Ctx};
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::dns::{self as repo, RecordSet, Zone};
use sqlx::AnyConnection;

/// The record types offered, and where: (type, public zones, private zones).
pub const RECORD_TYPES: &[(&str, bool, bool)] = &[
    ("A", true, true),
    ("AAAA", true, true),
    ("CNAME", true, true),
    ("MX", true, true),
    ("TXT", true, true),
    ("SRV", true, true),
    ("NS", true, false),
    ("CAA", true, false),
    ("PTR", false, true),
];

/// The name server the region's zones name (their NS and SOA records).
pub const NAME_SERVER: &str = "ns1.nimbus.";

/// What a zone create asks for.
#[derive(Debug, Clone, Default)]
pub struct ZoneCreate {
    pub name: String,
    /// `public` (the default) or `private`.
    pub zone_type: Option<String>,
    pub description: String,
    pub email: String,
    pub ttl: Option<i64>,
    /// A private zone's first VPC.
    pub router_id: Option<String>,
}

/// A zone with the VPCs it is served in and how many record sets it has.
#[derive(Debug, Clone)]
pub struct ZoneView {
    pub zone: Zone,
    pub routers: Vec<String>,
    pub record_num: i64,
}

/// What a record set create or update asks for (an update leaves `None`s unchanged).
#[derive(Debug, Clone, Default)]
pub struct RecordSetInput {
    pub name: Option<String>,
    pub rtype: Option<String>,
    pub ttl: Option<i64>,
    pub records: Option<Vec<String>>,
    pub description: Option<String>,
    pub status: Option<String>,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::bad_request(msg.into())
}

/// A domain name as stored: lower case, with the trailing dot, labels of letters, digits and
/// inner hyphens (and `_` for service labels), at most 63 characters each, 254 in all.
pub fn normalize_name(name: &str, what: &str) -> Result<String, Error> {
    let lower = name.trim().to_ascii_lowercase();
    let full = if lower.ends_with('.') { lower } else { format!("{lower}.") };
    let labels: Vec<&str> = full.trim_end_matches('.').split('.').collect();
    let ok_label = |l: &str| {
        (1..=63).contains(&l.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '*')
    };
    if full.len() > 254 || labels.iter().any(|l| !ok_label(l)) {
        return Err(bad(format!(
            "Invalid {what} {name:?}: labels of letters, digits and hyphens, at most 63 characters each and 254 in all."
        )));
    }
    Ok(full)
}

fn check_ttl(ttl: i64) -> Result<(), Error> {
    if !(1..=2_147_483_647).contains(&ttl) {
        return Err(bad(format!("Invalid ttl {ttl}: 1 to 2147483647 seconds.")));
    }
    Ok(())
}

/// Checks (and normalizes) the records of one type.
pub fn check_records(rtype: &str, records: &[String]) -> Result<Vec<String>, Error> {
    if records.is_empty() || records.len() > 50 {
        return Err(bad("A record set holds 1 to 50 records."));
    }
    let host = |v: &str| normalize_name(v, "host name");
    let mut out = Vec::new();
    for r in records {
        let v = r.trim();
        let checked = match rtype {
            "A" => v
                .parse::<std::net::Ipv4Addr>()
                .map(|a| a.to_string())
                .map_err(|_| bad(format!("{v:?} is not an IPv4 address."))),
            "AAAA" => v
                .parse::<std::net::Ipv6Addr>()
                .map(|a| a.to_string())
                .map_err(|_| bad(format!("{v:?} is not an IPv6 address."))),
            "CNAME" | "NS" | "PTR" => host(v),
            "MX" => match v.split_whitespace().collect::<Vec<_>>().as_slice() {
                [pref, target] if pref.parse::<u16>().is_ok() => Ok(format!("{pref} {}", host(target)?)),
                _ => Err(bad(format!("{v:?} is not an MX record: \"<preference> <host>\"."))),
            },
            "SRV" => match v.split_whitespace().collect::<Vec<_>>().as_slice() {
                [p, w, port, target] if [p, w, port].iter().all(|n| n.parse::<u16>().is_ok()) => {
                    Ok(format!("{p} {w} {port} {}", host(target)?))
                }
                _ => Err(bad(format!("{v:?} is not an SRV record: \"<priority> <weight> <port> <host>\"."))),
            },
            "TXT" => {
                if v.len() < 2 || !v.starts_with('"') || !v.ends_with('"') || v.len() > 257 {
                    Err(bad(format!("{v:?} is not a TXT record: a quoted string of at most 255 characters.")))
                } else {
                    Ok(v.to_string())
                }
            }
            "CAA" => match v.split_whitespace().collect::<Vec<_>>().as_slice() {
                [flags, tag, value] if flags.parse::<u8>().is_ok() && ["issue", "issuewild", "iodef"].contains(tag) => {
                    Ok(format!("{flags} {tag} {value}"))
                }
                _ => Err(bad(format!("{v:?} is not a CAA record: \"<flags> issue|issuewild|iodef <value>\"."))),
            },
            other => Err(bad(format!("Record type {other} is not offered."))),
        }?;
        out.push(checked);
    }
    if rtype == "CNAME" && out.len() != 1 {
        return Err(bad("A CNAME record set holds exactly one record."));
    }
    Ok(out)
}

impl Control {
    async fn zone_view(&self, c: &mut AnyConnection, zone: Zone) -> Result<ZoneView, Error> {
        let routers = repo::zone_routers(&mut *c, &zone.id).await?;
        let record_num = repo::zone_recordsets(&mut *c, &zone.id).await?.len() as i64;
        Ok(ZoneView { zone, routers, record_num })
    }

    async fn load_zone(&self, c: &mut AnyConnection, ctx: &Ctx, id: &str, action: &str) -> Result<Zone, Error> {
        let z = repo::get_zone(c, id).await?.ok_or_else(|| Error::not_found("zone", id))?;
        if !crate::network::may_read(ctx, &z.project_id) {
            return Err(Error::not_found("zone", id));
        }
        authorize(action, &ctx.principal, &Target { project_id: Some(&z.project_id), ..Default::default() })?;
        Ok(z)
    }

    /// Creates a zone with its SOA and NS record sets; a private one served in `router_id`.
    pub async fn create_zone(&self, ctx: &Ctx, req: ZoneCreate) -> Result<ZoneView, Error> {
        let project = crate::network::owner_project(ctx, None)?;
        authorize("network:create", &ctx.principal, &Target { project_id: Some(&project), ..Default::default() })?;
        let name = normalize_name(&req.name, "zone name")?;
        if name.trim_end_matches('.').split('.').count() < 2 {
            return Err(bad(format!("Invalid zone name {:?}: a domain of at least two labels.", req.name)));
        }
        let zone_type = req.zone_type.clone().unwrap_or_else(|| "public".into());
        if !["public", "private"].contains(&zone_type.as_str()) {
            return Err(bad(format!("Invalid zone_type {zone_type:?}: public or private.")));
        }
        let ttl = req.ttl.unwrap_or(300);
        check_ttl(ttl)?;
        if req.description.chars().count() > 255 {
            return Err(bad("A zone's description is at most 255 characters."));
        }
        let mut tx = self.store().write().await?;
        let router = match (zone_type.as_str(), &req.router_id) {
            ("private", Some(r)) => {
                Some(self.load_router(&mut tx, ctx, r, "network:get").await.map_err(|e| match e {
                    Error::NotFound { .. } => Error::not_found("vpc", r),
                    other => other,
                })?)
            }
            ("private", None) => return Err(bad("A private zone names the VPC it is served in (router.router_id).")),
            _ => None,
        };
        let taken = repo::list_zones(&mut tx)
            .await?
            .into_iter()
            .any(|z| z.name == name && z.zone_type == zone_type && (zone_type == "public" || z.project_id == project));
        if taken {
            return Err(Error::Conflict(format!("Zone {name} already exists.")));
        }
        let now = now_ms();
        let z = Zone {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project.clone(),
            name: name.clone(),
            zone_type,
            description: req.description,
            email: if req.email.is_empty() { format!("hostmaster@{}", name.trim_end_matches('.')) } else { req.email },
            ttl,
            serial: 1,
            created_at: now,
            updated_at: now,
        };
        self.charge_quota(&mut tx, &project, "dns_zone", 1).await?;
        repo::insert_zone(&mut tx, &z).await?;
        if let Some(r) = &router {
            repo::add_zone_router(&mut tx, &z.id, &r.id).await?;
        }
        let soa = format!("{NAME_SERVER} {}. 1 7200 900 1209600 300", z.email.replace('@', "."));
        for (rtype, value) in [("SOA", soa), ("NS", NAME_SERVER.to_string())] {
            let rs = RecordSet {
                id: uuid::Uuid::new_v4().to_string(),
                project_id: project.clone(),
                zone_id: z.id.clone(),
                name: name.clone(),
                rtype: rtype.into(),
                ttl,
                records: serde_json::to_string(&[value])?,
                description: String::new(),
                status: "ACTIVE".into(),
                is_default: true,
                created_at: now,
                updated_at: now,
            };
            repo::insert_recordset(&mut tx, &rs).await?;
        }
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("DNS", "zone", "createZone", 202).resource(&z.id, &z.name).in_project(&project),
        )
        .await?;
        let view = self.zone_view(&mut tx, z).await?;
        tx.commit().await?;
        self.wake_network();
        Ok(view)
    }

    /// Zones of one type the caller may see.
    pub async fn list_zones(&self, ctx: &Ctx, zone_type: &str) -> Result<Vec<ZoneView>, Error> {
        let mut c = self.store().read().await?;
        let mut out = Vec::new();
        for z in repo::list_zones(&mut c).await? {
            if z.zone_type == zone_type && crate::network::may_read(ctx, &z.project_id) {
                out.push(self.zone_view(&mut c, z).await?);
            }
        }
        Ok(out)
    }

    /// One zone the caller may see.
    pub async fn get_zone(&self, ctx: &Ctx, id: &str) -> Result<ZoneView, Error> {
        let mut c = self.store().read().await?;
        let z = self.load_zone(&mut c, ctx, id, "network:get").await?;
        self.zone_view(&mut c, z).await
    }

    /// Changes a zone's description, email or TTL.
    pub async fn update_zone(
        &self,
        ctx: &Ctx,
        id: &str,
        description: Option<String>,
        email: Option<String>,
        ttl: Option<i64>,
    ) -> Result<ZoneView, Error> {
        let mut tx = self.store().write().await?;
        let mut z = self.load_zone(&mut tx, ctx, id, "network:update").await?;
        if let Some(d) = description {
            if d.chars().count() > 255 {
                return Err(bad("A zone's description is at most 255 characters."));
            }
            z.description = d;
        }
        if let Some(e) = email {
            z.email = e;
        }
        if let Some(t) = ttl {
            check_ttl(t)?;
            z.ttl = t;
        }
        z.updated_at = now_ms();
        repo::update_zone(&mut tx, &z).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("DNS", "zone", "updateZone", 202).resource(&z.id, &z.name).in_project(&z.project_id),
        )
        .await?;
        let z = repo::get_zone(&mut tx, &z.id).await?.ok_or_else(|| Error::not_found("zone", id))?;
        let view = self.zone_view(&mut tx, z).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Deletes a zone with its record sets; returns it as it was.
    pub async fn delete_zone(&self, ctx: &Ctx, id: &str) -> Result<ZoneView, Error> {
        let mut tx = self.store().write().await?;
        let z = self.load_zone(&mut tx, ctx, id, "network:delete").await?;
        let view = self.zone_view(&mut tx, z).await?;
        let own_sets = repo::zone_recordsets(&mut tx, &view.zone.id).await?.iter().filter(|r| !r.is_default).count();
        repo::delete_zone(&mut tx, &view.zone.id).await?;
        self.release_quota(&mut tx, &view.zone.project_id, "dns_zone", 1).await?;
        self.release_quota(&mut tx, &view.zone.project_id, "dns_recordset", own_sets as i64).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("DNS", "zone", "deleteZone", 202)
                .resource(&view.zone.id, &view.zone.name)
                .in_project(&view.zone.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_network();
        Ok(view)
    }

    /// Serves a private zone in one more VPC, or no longer in one (it keeps at least one).
    pub async fn set_zone_router(&self, ctx: &Ctx, id: &str, router_id: &str, associate: bool) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let z = self.load_zone(&mut tx, ctx, id, "network:update").await?;
        if z.zone_type != "private" {
            return Err(bad("Only private zones are associated with VPCs."));
        }
        let routers = repo::zone_routers(&mut tx, &z.id).await?;
        if associate {
            self.load_router(&mut tx, ctx, router_id, "network:get").await.map_err(|e| match e {
                Error::NotFound { .. } => Error::not_found("vpc", router_id),
                other => other,
            })?;
            if routers.iter().any(|r| r == router_id) {
                return Err(Error::Conflict(format!("Zone {} is already served in VPC {router_id}.", z.name)));
            }
            repo::add_zone_router(&mut tx, &z.id, router_id).await?;
        } else {
            if !routers.iter().any(|r| r == router_id) {
                return Err(Error::not_found("vpc association", router_id));
            }
            if routers.len() == 1 {
                return Err(bad(format!("Zone {} must stay associated with at least one VPC.", z.name)));
            }
            repo::remove_zone_router(&mut tx, &z.id, router_id).await?;
        }
        let action = if associate { "associateRouter" } else { "disassociateRouter" };
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("DNS", "zone", action, 202).resource(&z.id, &z.name).in_project(&z.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_network();
        Ok(())
    }

    /// Checks a record set against its zone: the name inside it, the type offered there, no
    /// CNAME beside another record of the same name.
    async fn check_recordset(&self, c: &mut AnyConnection, z: &Zone, rs: &RecordSet) -> Result<(), Error> {
        if !(rs.name == z.name || rs.name.ends_with(&format!(".{}", z.name))) {
            return Err(bad(format!("Record set name {} does not lie in zone {}.", rs.name, z.name)));
        }
        let offered = RECORD_TYPES.iter().find(|(t, _, _)| *t == rs.rtype).is_some_and(|(_, public, private)| {
            if z.zone_type == "public" {
                *public
            } else {
                *private
            }
        });
        if !offered || rs.rtype == "SOA" {
            return Err(bad(format!("Record type {} is not offered in {} zones.", rs.rtype, z.zone_type)));
        }
        let others = repo::zone_recordsets(&mut *c, &z.id).await?;
        let clash = others.iter().any(|o| {
            o.id != rs.id && o.name == rs.name && (o.rtype == "CNAME" || rs.rtype == "CNAME") && o.rtype != rs.rtype
        });
        if clash {
            return Err(Error::Conflict(format!("{} has other records: a CNAME stands alone.", rs.name)));
        }
        Ok(())
    }

    /// Adds a record set to a zone.
    pub async fn create_recordset(&self, ctx: &Ctx, zone_id: &str, req: RecordSetInput) -> Result<RecordSet, Error> {
        let mut tx = self.store().write().await?;
        let z = self.load_zone(&mut tx, ctx, zone_id, "network:update").await?;
        let rtype = req.rtype.ok_or_else(|| bad("'type' is required."))?.to_ascii_uppercase();
        let name = normalize_name(&req.name.ok_or_else(|| bad("'name' is required."))?, "record set name")?;
        let ttl = req.ttl.unwrap_or(z.ttl);
        check_ttl(ttl)?;
        let records = check_records(&rtype, &req.records.ok_or_else(|| bad("'records' is required."))?)?;
        let status = match req.status.as_deref() {
            None | Some("ENABLE") => "ACTIVE",
            Some("DISABLE") => "DISABLE",
            Some(other) => return Err(bad(format!("Invalid status {other:?}: ENABLE or DISABLE."))),
        };
        let now = now_ms();
        let rs = RecordSet {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: z.project_id.clone(),
            zone_id: z.id.clone(),
            name,
            rtype,
            ttl,
            records: serde_json::to_string(&records)?,
            description: req.description.unwrap_or_default(),
            status: status.into(),
            is_default: false,
            created_at: now,
            updated_at: now,
        };
        self.check_recordset(&mut tx, &z, &rs).await?;
        // The zone's own SOA and NS are not counted.
        self.charge_quota(&mut tx, &z.project_id, "dns_recordset", 1).await?;
        repo::insert_recordset(&mut tx, &rs).await.map_err(|e| match e {
            Error::Conflict(_) => {
                Error::Conflict(format!("Zone {} already has {} records for {}.", z.name, rs.rtype, rs.name))
            }
            other => other,
        })?;
        repo::update_zone(&mut tx, &Zone { updated_at: now, ..z.clone() }).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("DNS", "recordset", "createRecordSet", 202)
                .resource(&rs.id, &rs.name)
                .in_project(&z.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_network();
        Ok(rs)
    }

    /// The record sets of a zone the caller may see.
    pub async fn list_recordsets(&self, ctx: &Ctx, zone_id: &str) -> Result<(Zone, Vec<RecordSet>), Error> {
        let mut c = self.store().read().await?;
        let z = self.load_zone(&mut c, ctx, zone_id, "network:get").await?;
        let sets = repo::zone_recordsets(&mut c, &z.id).await?;
        Ok((z, sets))
    }

    async fn load_recordset(
        &self,
        c: &mut AnyConnection,
        ctx: &Ctx,
        zone_id: &str,
        id: &str,
        action: &str,
    ) -> Result<(Zone, RecordSet), Error> {
        let z = self.load_zone(&mut *c, ctx, zone_id, action).await?;
        let rs = repo::get_recordset(&mut *c, id)
            .await?
            .filter(|r| r.zone_id == z.id)
            .ok_or_else(|| Error::not_found("recordset", id))?;
        Ok((z, rs))
    }

    /// One record set of a zone.
    pub async fn get_recordset(&self, ctx: &Ctx, zone_id: &str, id: &str) -> Result<(Zone, RecordSet), Error> {
        let mut c = self.store().read().await?;
        self.load_recordset(&mut c, ctx, zone_id, id, "network:get").await
    }

    /// Changes a record set (not the zone's own SOA and NS).
    pub async fn update_recordset(
        &self,
        ctx: &Ctx,
        zone_id: &str,
        id: &str,
        u: RecordSetInput,
    ) -> Result<(Zone, RecordSet), Error> {
        let mut tx = self.store().write().await?;
        let (z, mut rs) = self.load_recordset(&mut tx, ctx, zone_id, id, "network:update").await?;
        if rs.is_default {
            return Err(bad(format!("The zone's own {} record set cannot be changed.", rs.rtype)));
        }
        if let Some(n) = u.name {
            rs.name = normalize_name(&n, "record set name")?;
        }
        if let Some(t) = u.rtype {
            rs.rtype = t.to_ascii_uppercase();
        }
        if let Some(t) = u.ttl {
            check_ttl(t)?;
            rs.ttl = t;
        }
        let records = match u.records {
            Some(r) => r,
            None => rs.values(),
        };
        rs.records = serde_json::to_string(&check_records(&rs.rtype, &records)?)?;
        if let Some(d) = u.description {
            rs.description = d;
        }
        if let Some(s) = u.status {
            rs.status = match s.as_str() {
                "ENABLE" => "ACTIVE".into(),
                "DISABLE" => "DISABLE".into(),
                other => return Err(bad(format!("Invalid status {other:?}: ENABLE or DISABLE."))),
            };
        }
        rs.updated_at = now_ms();
        self.check_recordset(&mut tx, &z, &rs).await?;
        repo::update_recordset(&mut tx, &rs).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("DNS", "recordset", "updateRecordSet", 202)
                .resource(&rs.id, &rs.name)
                .in_project(&z.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_network();
        Ok((z, rs))
    }

    /// Deletes a record set (not the zone's own SOA and NS); returns it as it was.
    pub async fn delete_recordset(&self, ctx: &Ctx, zone_id: &str, id: &str) -> Result<(Zone, RecordSet), Error> {
        let mut tx = self.store().write().await?;
        let (z, rs) = self.load_recordset(&mut tx, ctx, zone_id, id, "network:update").await?;
        if rs.is_default {
            return Err(bad(format!("The zone's own {} record set cannot be deleted.", rs.rtype)));
        }
        repo::delete_recordset(&mut tx, &rs.id).await?;
        self.release_quota(&mut tx, &z.project_id, "dns_recordset", 1).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("DNS", "recordset", "deleteRecordSet", 202)
                .resource(&rs.id, &rs.name)
                .in_project(&z.project_id),
        )
        .await?;
        tx.commit().await?;
        self.wake_network();
        Ok((z, rs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lower_case_with_the_dot() {
        assert_eq!(normalize_name("Example.COM", "z").unwrap(), "example.com.");
        assert_eq!(normalize_name("www.example.com.", "z").unwrap(), "www.example.com.");
        assert_eq!(normalize_name("_sip._tcp.example.com", "z").unwrap(), "_sip._tcp.example.com.");
        assert!(normalize_name("-bad.example.com", "z").is_err());
        assert!(normalize_name("a..b", "z").is_err());
        assert!(normalize_name(&format!("{}.com", "a".repeat(64)), "z").is_err());
    }

    #[test]
    fn records_are_checked_per_type() {
        assert_eq!(check_records("A", &["192.168.1.5".into()]).unwrap(), vec!["192.168.1.5"]);
        assert!(check_records("A", &["::1".into()]).is_err());
        assert!(check_records("AAAA", &["fd00::1".into()]).is_ok());
        assert_eq!(check_records("MX", &["10 Mail.Example.com".into()]).unwrap(), vec!["10 mail.example.com."]);
        assert!(check_records("MX", &["mail.example.com".into()]).is_err());
        assert!(check_records("TXT", &["\"v=spf1 -all\"".into()]).is_ok());
        assert!(check_records("TXT", &["unquoted".into()]).is_err());
        assert_eq!(
            check_records("SRV", &["1 5 5060 sip.example.com".into()]).unwrap(),
            vec!["1 5 5060 sip.example.com."]
        );
        assert!(check_records("CNAME", &["a.example.com".into(), "b.example.com".into()]).is_err());
        assert!(check_records("A", &[]).is_err());
    }
}
