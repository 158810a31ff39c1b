//! Roles and permissions: who may do what through a policy-enforcing
//! handle ([`Store::as_actor`](crate::Store::as_actor)).
//!
//! A role is a set of [`Permission`]s, optionally scoped to the customers
//! who consent to one purpose (the built-in `marketing` role sees only
//! customers who consent to the `marketing` purpose). Six roles are built
//! in ([`BUILTIN_ROLES`]); applications define their own with
//! [`Access::define_role`] and grant roles to actors with
//! [`Access::grant`]. docs/SECURITY.md has the full matrix.
//!
//! Units of work opened directly on the [`Store`](crate::Store) are the
//! application's own code and are not restricted; the handle is for acting
//! on behalf of a person.

use crate::audit::Change;
use crate::db::{sql, Conn, Json};
use crate::error::JsonResult;
use crate::error::{Error, ErrorKind, Result};
use crate::text_enum::text_enum;
use crate::unit::WriteTx;

text_enum!(
    /// What an actor may do.
    Permission {
        /// Read customer records (personal fields masked without
        /// [`ReadPersonalData`](Permission::ReadPersonalData)), their
        /// addresses, interactions and order history.
        ReadCustomers = "read_customers",
        /// See personal-data fields unmasked, and look customers up by
        /// email or by text search.
        ReadPersonalData = "read_personal_data",
        /// Create, change, archive and restore customers, their addresses
        /// and interactions.
        WriteCustomers = "write_customers",
        /// Manage the catalog, warehouses and stock.
        ManageCatalog = "manage_catalog",
        /// Place orders, take payments, ship, cancel, take returns, read
        /// orders.
        ManageOrders = "manage_orders",
        /// Refund money.
        Refund = "refund",
        /// Record consent events.
        ManageConsent = "manage_consent",
        /// Export a data subject (GDPR Art. 15, 20).
        ExportSubjects = "export_subjects",
        /// Erase a data subject (GDPR Art. 17).
        EraseSubjects = "erase_subjects",
        /// Read and verify the audit trail.
        ReadAudit = "read_audit",
        /// Roles and grants, purposes, retention, backups.
        Administer = "administer",
    }
);

/// A role: a name, its permissions, and optionally the purpose a customer
/// must consent to for the role to see them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Role {
    /// The name (1 to 64 characters).
    pub name: String,
    /// What it allows.
    pub permissions: Vec<Permission>,
    /// When set, the role reads only customers who currently consent to
    /// this purpose.
    pub consent_scope: Option<String>,
    /// True for the roles custdb defines.
    pub builtin: bool,
}

use Permission as P;

/// The built-in roles: name, permissions, consent scope.
pub const BUILTIN_ROLES: &[(&str, &[Permission], Option<&str>)] = &[
    (
        "admin",
        &[
            P::ReadCustomers,
            P::ReadPersonalData,
            P::WriteCustomers,
            P::ManageCatalog,
            P::ManageOrders,
            P::Refund,
            P::ManageConsent,
            P::ExportSubjects,
            P::EraseSubjects,
            P::ReadAudit,
            P::Administer,
        ],
        None,
    ),
    (
        "sales",
        &[
            P::ReadCustomers,
            P::ReadPersonalData,
            P::WriteCustomers,
            P::ManageOrders,
            P::ManageConsent,
        ],
        None,
    ),
    (
        "support",
        &[
            P::ReadCustomers,
            P::ReadPersonalData,
            P::WriteCustomers,
            P::ManageOrders,
            P::Refund,
            P::ManageConsent,
            P::ExportSubjects,
        ],
        None,
    ),
    (
        "warehouse",
        &[P::ReadCustomers, P::ManageCatalog, P::ManageOrders],
        None,
    ),
    (
        "marketing",
        &[P::ReadCustomers, P::ReadPersonalData],
        Some("marketing"),
    ),
    ("auditor", &[P::ReadCustomers, P::ReadAudit], None),
];

fn builtin(name: &str) -> Option<Role> {
    BUILTIN_ROLES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(n, perms, scope)| Role {
            name: (*n).to_owned(),
            permissions: perms.to_vec(),
            consent_scope: scope.map(str::to_owned),
            builtin: true,
        })
}

/// What an actor may do, from all its roles together.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Grants {
    /// The actor's id.
    pub actor_id: String,
    /// Its roles.
    pub roles: Vec<Role>,
}

impl Grants {
    /// True when some role allows it.
    pub fn allows(&self, permission: Permission) -> bool {
        self.roles
            .iter()
            .any(|r| r.permissions.contains(&permission))
    }

    /// The purposes that limit which customers the actor reads: `None`
    /// when some role reads customers unscoped, otherwise the scopes of the
    /// roles that read customers.
    pub fn customer_scope(&self) -> Option<Vec<String>> {
        let readers: Vec<&Role> = self
            .roles
            .iter()
            .filter(|r| r.permissions.contains(&Permission::ReadCustomers))
            .collect();
        if readers.iter().any(|r| r.consent_scope.is_none()) {
            return None;
        }
        Some(
            readers
                .iter()
                .filter_map(|r| r.consent_scope.clone())
                .collect(),
        )
    }

    /// Ok when allowed, else a [`ErrorKind::PermissionDenied`] naming the
    /// permission and the operation.
    pub(crate) fn require(&self, permission: Permission, operation: &str) -> Result<()> {
        if self.allows(permission) {
            return Ok(());
        }
        Err(Error::new(ErrorKind::PermissionDenied {
            actor: self.actor_id.clone(),
            permission: permission.as_str(),
            operation: operation.to_owned(),
        }))
    }
}

/// Read access to roles and grants.
#[derive(Debug)]
pub struct AccessReader<'a> {
    conn: Conn<'a>,
}

impl<'a> AccessReader<'a> {
    pub(crate) fn new(conn: Conn<'a>) -> Self {
        AccessReader { conn }
    }

    /// A role, built-in or defined.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown role.
    pub fn role(&self, name: &str) -> Result<Role> {
        if let Some(r) = builtin(name) {
            return Ok(r);
        }
        let row: Option<(String, String, Option<String>)> = self.conn.query_opt(
            sql!("SELECT name, permissions, consent_scope FROM access_roles WHERE name = ?1"),
            &[&name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let (name, permissions, consent_scope) =
            row.ok_or_else(|| Error::not_found("role", name))?;
        Ok(Role {
            name,
            permissions: serde_json::from_str(&permissions).stored()?,
            consent_scope,
            builtin: false,
        })
    }

    /// Every role: the built-in ones, then the defined ones by name.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn roles(&self) -> Result<Vec<Role>> {
        let mut out: Vec<Role> = BUILTIN_ROLES
            .iter()
            .filter_map(|(n, _, _)| builtin(n))
            .collect();
        let names: Vec<String> = self.conn.query_vec(
            sql!("SELECT name FROM access_roles ORDER BY name"),
            &[],
            |r| r.get(0),
        )?;
        for n in names {
            out.push(self.role(&n)?);
        }
        Ok(out)
    }

    /// The roles granted to an actor, with what they allow.
    ///
    /// # Errors
    ///
    /// A database error, or a grant naming a role that no longer exists.
    pub fn grants(&self, actor_id: &str) -> Result<Grants> {
        let names: Vec<String> = self.conn.query_vec(
            sql!("SELECT role FROM access_grants WHERE actor_id = ?1 ORDER BY role"),
            &[&actor_id],
            |r| r.get(0),
        )?;
        Ok(Grants {
            actor_id: actor_id.to_owned(),
            roles: names.iter().map(|n| self.role(n)).collect::<Result<_>>()?,
        })
    }
}

/// Defining roles and granting them, inside a unit of work.
#[derive(Debug)]
pub struct Access<'t> {
    tx: &'t WriteTx<'t>,
    reader: AccessReader<'t>,
}

impl<'t> std::ops::Deref for Access<'t> {
    type Target = AccessReader<'t>;
    fn deref(&self) -> &AccessReader<'t> {
        &self.reader
    }
}

impl<'t> Access<'t> {
    pub(crate) fn new(tx: &'t WriteTx<'t>) -> Self {
        Access {
            tx,
            reader: AccessReader::new(tx.db()),
        }
    }

    /// Defines (or redefines) an application role.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] on `name` (empty, longer than 64 characters,
    /// or the name of a built-in role), `permissions` (empty) or
    /// `consent_scope` (empty or longer than 64 characters).
    pub fn define_role(
        &self,
        name: &str,
        permissions: &[Permission],
        consent_scope: Option<&str>,
    ) -> Result<Role> {
        self.tx.atomic(|| {
            let name = crate::validate::required_text("name", name, 64)?;
            if builtin(&name).is_some() {
                return Err(Error::invalid(
                    "name",
                    format!("{name:?} is a built-in role and cannot be redefined"),
                ));
            }
            if permissions.is_empty() {
                return Err(Error::invalid(
                    "permissions",
                    "a role needs at least one permission",
                ));
            }
            let scope = crate::validate::optional_text("consent_scope", consent_scope, 64)?;
            let mut perms = permissions.to_vec();
            perms.sort_by_key(|p| p.as_str());
            perms.dedup();
            let permissions = serde_json::to_string(&perms).written()?;
            self.tx.db().execute(
                sql!(
                    "INSERT INTO access_roles (name, permissions, consent_scope, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (name) DO UPDATE SET \
                     permissions = ?2, consent_scope = ?3, updated_at = ?4"
                ),
                &[&name, &Json(&permissions), &scope, &self.tx.now()],
            )?;
            self.tx.audit_change(Change {
                action: "define_role",
                entity_type: "role",
                entity_id: &name,
                changed_fields: &["permissions", "consent_scope"],
        })?;
        self.role(&name)
    })
    }

    /// Grants a role to an actor. Granting a role the actor holds changes
    /// nothing.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown role; [`ErrorKind::Invalid`]
    /// on `actor_id`.
    pub fn grant(&self, actor_id: &str, role: &str) -> Result<Grants> {
        self.tx.atomic(|| {
            let actor_id = crate::validate::required_text("actor_id", actor_id, 128)?;
            self.role(role)?;
            let n = self.tx.db().execute(
                sql!(
                    "INSERT INTO access_grants (actor_id, role, granted_at, granted_by) \
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING"
                ),
                &[&actor_id, &role, &self.tx.now(), &self.tx.actor().id()],
            )?;
            if n > 0 {
                self.tx.audit_change_with(
                    Change {
                        action: "grant",
                        entity_type: "actor",
                        entity_id: &actor_id,
                        changed_fields: &["roles"],
                    },
                    crate::changes::ChangeFacts {
                        role: Some(role.to_owned()),
                        ..crate::changes::ChangeFacts::current()
                    },
                )?;
            }
            self.grants(&actor_id)
        })
    }

    /// Takes a role away from an actor.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] when the actor does not hold the role.
    pub fn revoke(&self, actor_id: &str, role: &str) -> Result<Grants> {
        self.tx.atomic(|| {
            let n = self.tx.db().execute(
                sql!("DELETE FROM access_grants WHERE actor_id = ?1 AND role = ?2"),
                &[&actor_id, &role],
            )?;
            if n == 0 {
                return Err(Error::not_found("grant", format!("{actor_id}/{role}")));
            }
            self.tx.audit_change_with(
                Change {
                    action: "revoke",
                    entity_type: "actor",
                    entity_id: actor_id,
                    changed_fields: &["roles"],
                },
                crate::changes::ChangeFacts {
                    role: Some(role.to_owned()),
                    ..crate::changes::ChangeFacts::current()
                },
            )?;
            self.grants(actor_id)
        })
    }
}

crate::one_shot::one_shot! {
    /// Roles and grants for single operations: `store.access().grant(..)`.
    StoreAccess => write access: Access, read access: AccessReader;
    write {
        fn define_role(name: &str, permissions: &[Permission], consent_scope: Option<&str>) -> Role;
        fn grant(actor_id: &str, role: &str) -> Grants;
        fn revoke(actor_id: &str, role: &str) -> Grants;
    }
    read {
        fn role(name: &str) -> Role;
        fn roles() -> Vec<Role>;
        fn grants(actor_id: &str) -> Grants;
    }
}

// One-shot calls on the store: this domain's accessors (the store layer names no domain).
impl crate::Store {
    /// Roles and grants for one-shot calls.
    pub fn access(&self) -> crate::access::StoreAccess<'_> {
        crate::access::StoreAccess::new(self)
    }
}

// Inside a unit of work: this domain's accessors (the store layer names no domain).
impl<'a> crate::WriteTx<'a> {
    /// Roles and grants.
    pub fn access(&self) -> crate::access::Access<'_> {
        crate::access::Access::new(self)
    }
}

// Inside a read transaction: this domain's accessors (the store layer names no domain).
impl<'a> crate::ReadTx<'a> {
    /// Roles and grants, read-only.
    pub fn access(&self) -> crate::access::AccessReader<'a> {
        crate::access::AccessReader::new(self.db())
    }
}
