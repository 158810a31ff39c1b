//! Duplicate customers: finding candidates, and merging a duplicate into a
//! survivor without losing anything.
//!
//! Candidates come from three signals, each found by one ordered SQL scan
//! (memory holds one group of equal keys at a time, and the candidates):
//!
//! | signal | score |
//! |---|---|
//! | the same email after normalization (case, `+tag`, Gmail dots) | 90 |
//! | the same phone number (stored in E.164) | 80 |
//! | a similar name (Jaro-Winkler ≥ 0.9 on the normalized name) with an address at the same postcode in the same country | 60 |
//!
//! A pair's score is the sum of its signals' scores, at most 100.
//!
//! Merging ([`Merges::merge`]) follows the rules of docs/DUPLICATES.md: the
//! survivor's fields win where set, the duplicate fills the gaps; tags are
//! united, attributes merged (the survivor's win on a clash); addresses,
//! interactions, orders (with their payments), credit notes, consent events
//! and import keys move to the survivor; the most restrictive current
//! consent per purpose wins; the duplicate is archived with `merged_into`
//! set and keeps its own fields, so nothing is lost; the merge is recorded
//! and audited.

use std::collections::BTreeMap;

use crate::audit::Change;
use crate::consent::{CollectionMethod, ConsentState};
use crate::customer::{Customer, CustomerPatch};
use crate::db::{sql, Conn, Json, Sql};
use crate::error::JsonResult;
use crate::error::{Error, ErrorKind, Result};
use crate::id::CustomerId;
use crate::unit::WriteTx;

/// The most candidates one call returns.
pub const MAX_CANDIDATES: usize = 10_000;

/// Two customers that may be the same person.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct DuplicateCandidate {
    /// The older record (the natural survivor).
    pub first: CustomerId,
    /// The newer record.
    pub second: CustomerId,
    /// 0 to 100.
    pub score: u32,
    /// Why: `same email`, `same phone`, `similar name at the same postcode`.
    pub reasons: Vec<String>,
}

/// One field's outcome in a merge.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct FieldDecision {
    /// The field.
    pub field: String,
    /// `survivor` (kept), `duplicate` (filled a gap), `union` (tags),
    /// `merged` (attributes).
    pub taken_from: String,
}

/// What a merge does (or did).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct MergePlan {
    /// The record that stays.
    pub survivor: CustomerId,
    /// The record merged into it.
    pub duplicate: CustomerId,
    /// The survivor as it will be (or is) after the merge.
    pub result: Customer,
    /// Per field, where its value comes from.
    pub fields: Vec<FieldDecision>,
    /// Rows re-pointed, per table.
    pub moved: BTreeMap<String, u64>,
    /// Consent states recorded on the survivor because the duplicate's
    /// were more restrictive: (purpose, state).
    pub consents: Vec<(String, ConsentState)>,
    /// True for a dry run: nothing was written.
    pub dry_run: bool,
}

fn name_key(name: &str) -> String {
    let mut tokens: Vec<String> = name
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    tokens.sort();
    tokens.join(" ")
}

/// Finding candidates.
#[derive(Debug)]
pub struct DuplicateReader<'a> {
    db: Conn<'a>,
}

/// The email key of the "same email" signal, in each dialect (SQLite's
/// `instr` is PostgreSQL's `strpos`): the local part before any `+tag`,
/// Gmail's dots dropped, googlemail.com read as gmail.com.
macro_rules! email_key_sql {
    ($instr:literal) => {
        concat!(
            "WITH e AS (SELECT id, substr(email, 1, ", $instr, "(email, '@') - 1) AS local, \
               substr(email, ", $instr, "(email, '@') + 1) AS domain FROM customers \
               WHERE email IS NOT NULL AND erased_at IS NULL AND merged_into IS NULL), \
             k AS (SELECT id, CASE WHEN ", $instr, "(local, '+') > 0 \
               THEN substr(local, 1, ", $instr, "(local, '+') - 1) ELSE local END AS l, \
               CASE WHEN domain = 'googlemail.com' THEN 'gmail.com' ELSE domain END AS d FROM e) \
             SELECT CASE WHEN d = 'gmail.com' THEN replace(l, '.', '') ELSE l END || '@' || d, id, '' \
             FROM k ORDER BY 1, 2"
        )
    };
}

impl<'a> DuplicateReader<'a> {
    pub(crate) fn new(db: Conn<'a>) -> Self {
        DuplicateReader { db }
    }

    fn scan(
        &self,
        sql: &Sql,
        reason: &str,
        pairs: &mut BTreeMap<(CustomerId, CustomerId), Vec<String>>,
        similar: impl Fn(&str, &str) -> bool,
    ) -> Result<()> {
        let mut group: Vec<(CustomerId, String)> = Vec::new();
        let mut key: Option<String> = None;
        let mut flush = |group: &mut Vec<(CustomerId, String)>| {
            for i in 0..group.len() {
                for j in i + 1..group.len() {
                    let (a, b) = (&group[i], &group[j]);
                    if a.0 != b.0 && similar(&a.1, &b.1) {
                        let pair = if a.0 < b.0 { (a.0, b.0) } else { (b.0, a.0) };
                        let reasons = pairs.entry(pair).or_default();
                        if !reasons.iter().any(|r| r == reason) {
                            reasons.push(reason.to_owned());
                        }
                    }
                }
            }
            group.clear();
        };
        self.db.query_each(sql, &[], |row| {
            let k: String = row.get(0)?;
            if key.as_deref() != Some(k.as_str()) {
                flush(&mut group);
                key = Some(k);
            }
            group.push((row.get(1)?, row.get(2)?));
            if group.len() > 1000 {
                // A key shared by more than a thousand customers (a shop's
                // own phone, a placeholder email) is not evidence.
                group.clear();
            }
            Ok(())
        })?;
        flush(&mut group);
        Ok(())
    }

    /// Candidate pairs, highest score first.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] on `limit` (0 or above [`MAX_CANDIDATES`]).
    pub fn candidates(&self, limit: usize) -> Result<Vec<DuplicateCandidate>> {
        if limit == 0 || limit > MAX_CANDIDATES {
            return Err(Error::invalid(
                "limit",
                format!("must be 1 to {MAX_CANDIDATES}"),
            ));
        }
        let mut pairs = BTreeMap::new();
        self.scan(
            sql!(sqlite: email_key_sql!("instr"), postgres: email_key_sql!("strpos")),
            "same email",
            &mut pairs,
            |_, _| true,
        )?;
        self.scan(
            sql!(
                "SELECT phone, id, '' FROM customers WHERE phone IS NOT NULL \
                 AND erased_at IS NULL AND merged_into IS NULL ORDER BY 1, 2"
            ),
            "same phone",
            &mut pairs,
            |_, _| true,
        )?;
        self.scan(
            sql!(
                "SELECT upper(replace(a.postal_code, ' ', '')) || '|' || a.country, c.id, \
                 c.display_name FROM customer_addresses a JOIN customers c ON c.id = a.customer_id \
                 WHERE a.postal_code IS NOT NULL AND c.erased_at IS NULL \
                 AND c.merged_into IS NULL ORDER BY 1, 2"
            ),
            "similar name at the same postcode",
            &mut pairs,
            |a, b| strsim::jaro_winkler(&name_key(a), &name_key(b)) >= 0.9,
        )?;
        let mut out: Vec<DuplicateCandidate> = pairs
            .into_iter()
            .map(|((first, second), reasons)| {
                let score = reasons
                    .iter()
                    .map(|r| match r.as_str() {
                        "same email" => 90,
                        "same phone" => 80,
                        _ => 60,
                    })
                    .sum::<u32>()
                    .min(100);
                DuplicateCandidate {
                    first,
                    second,
                    score,
                    reasons,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.score
                .cmp(&a.score)
                .then((a.first, a.second).cmp(&(b.first, b.second)))
        });
        out.truncate(limit);
        Ok(out)
    }
}

/// The tables whose rows move to the survivor, with their customer column.
const MOVED: &[(&str, &str)] = &[
    ("customer_addresses", "customer_id"),
    ("customer_interactions", "customer_id"),
    ("orders", "customer_id"),
    ("credit_notes", "customer_id"),
    ("consent_events", "customer_id"),
    ("import_keys", "entity_id"),
];

fn restrictiveness(state: ConsentState) -> u8 {
    match state {
        ConsentState::Given => 0,
        ConsentState::Requested => 1,
        ConsentState::Expired => 2,
        ConsentState::Refused | ConsentState::Withdrawn | ConsentState::Invalidated => 3,
    }
}

/// Merging duplicates, inside a unit of work.
#[derive(Debug)]
pub struct Merges<'t> {
    tx: &'t WriteTx<'t>,
}

impl<'t> Merges<'t> {
    pub(crate) fn new(tx: &'t WriteTx<'t>) -> Self {
        Merges { tx }
    }

    /// Merges `duplicate` into `survivor` and returns what it did (see
    /// [`plan_merge`](Merges::plan_merge) to see it first).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] when both are the same;
    /// [`ErrorKind::NotFound`]; [`ErrorKind::InvalidState`] when either is
    /// erased or already merged.
    pub fn merge(&self, survivor: CustomerId, duplicate: CustomerId) -> Result<MergePlan> {
        self.tx
            .atomic(|| self.merge_inner(survivor, duplicate, false))
    }

    /// What [`merge`](Merges::merge) would do, writing nothing (the plan's
    /// `dry_run` is true).
    ///
    /// # Errors
    ///
    /// As [`merge`](Merges::merge).
    pub fn plan_merge(&self, survivor: CustomerId, duplicate: CustomerId) -> Result<MergePlan> {
        self.tx
            .atomic(|| self.merge_inner(survivor, duplicate, true))
    }

    fn state(&self, id: CustomerId) -> Result<(Customer, bool, bool)> {
        let c = self.tx.customers().get(id)?;
        let (erased, merged): (bool, bool) = self.tx.db().query_row(
            sql!(
                "SELECT erased_at IS NOT NULL, merged_into IS NOT NULL FROM customers \
                 WHERE id = ?1"
            ),
            &[&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((c, erased, merged))
    }

    fn merge_inner(
        &self,
        survivor: CustomerId,
        duplicate: CustomerId,
        dry_run: bool,
    ) -> Result<MergePlan> {
        if survivor == duplicate {
            return Err(Error::invalid("duplicate", "is the survivor itself"));
        }
        // On PostgreSQL, both rows locked (in id order) before they are
        // read: an erasure or another merge of either waits for this one,
        // then sees it, instead of acting on what it is changing.
        let (first, second) = if survivor < duplicate {
            (survivor, duplicate)
        } else {
            (duplicate, survivor)
        };
        for id in [first, second] {
            self.tx.db().lock_for_update(
                sql!(postgres_only: "SELECT 1 FROM customers WHERE id = $1 FOR UPDATE"),
                &[&id],
            )?;
        }
        let (s, s_erased, s_merged) = self.state(survivor)?;
        let (d, d_erased, d_merged) = self.state(duplicate)?;
        for (id, erased, merged) in [
            (survivor, s_erased, s_merged),
            (duplicate, d_erased, d_merged),
        ] {
            if erased || merged {
                return Err(Error::new(ErrorKind::InvalidState {
                    entity: "customer",
                    id: id.to_string(),
                    reason: if erased {
                        "is erased"
                    } else {
                        "is already merged"
                    }
                    .into(),
                }));
            }
        }
        let mut fields = Vec::new();
        let mut patch = CustomerPatch::default();
        macro_rules! fill {
            ($field:ident) => {{
                let from = if s.$field.is_none() && d.$field.is_some() {
                    patch.$field = Some(d.$field.clone());
                    "duplicate"
                } else {
                    "survivor"
                };
                fields.push(FieldDecision {
                    field: stringify!($field).into(),
                    taken_from: from.into(),
                });
            }};
        }
        fill!(given_name);
        fill!(family_name);
        fill!(email);
        fill!(phone);
        fill!(company);
        fill!(locale);
        fill!(birth_date);
        fill!(acquisition_source);
        fill!(notes);
        fields.push(FieldDecision {
            field: "display_name".into(),
            taken_from: "survivor".into(),
        });
        let mut tags = s.tags.clone();
        for t in &d.tags {
            if !tags.contains(t) {
                tags.push(t.clone());
            }
        }
        if tags != s.tags {
            patch.tags = Some(tags);
        }
        fields.push(FieldDecision {
            field: "tags".into(),
            taken_from: "union".into(),
        });
        let mut attributes = d.attributes.clone();
        attributes.extend(s.attributes.clone());
        if attributes != s.attributes {
            patch.attributes = Some(attributes);
        }
        fields.push(FieldDecision {
            field: "attributes".into(),
            taken_from: "merged".into(),
        });
        // Pricing: the survivor keeps its groups and gains the duplicate's;
        // it keeps its own tax exemption, else takes the duplicate's.
        let groups_after: i64 = self.tx.db().query_row(
            sql!(
                "SELECT count(DISTINCT group_id) FROM customer_group_members \
                 WHERE customer_id IN (?1, ?2)"
            ),
            &[&survivor, &duplicate],
            |r| r.get(0),
        )?;
        if groups_after > crate::pricing::MAX_GROUPS_PER_CUSTOMER as i64 {
            return Err(Error::invalid(
                "groups",
                format!(
                    "together the two customers are in {groups_after} customer groups, at most {} \
                     are allowed; take one out of some first",
                    crate::pricing::MAX_GROUPS_PER_CUSTOMER
                ),
            ));
        }
        fields.push(FieldDecision {
            field: "customer_groups".into(),
            taken_from: "union".into(),
        });
        let exemptions: (bool, bool) = self.tx.db().query_row(
            sql!(
                "SELECT EXISTS (SELECT 1 FROM customer_tax_exemptions WHERE customer_id = ?1), \
                 EXISTS (SELECT 1 FROM customer_tax_exemptions WHERE customer_id = ?2)"
            ),
            &[&survivor, &duplicate],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if exemptions.0 || exemptions.1 {
            fields.push(FieldDecision {
                field: "tax_exemption".into(),
                taken_from: if exemptions.0 {
                    "survivor"
                } else {
                    "duplicate"
                }
                .into(),
            });
        }
        let mut moved = BTreeMap::new();
        for (table, column) in MOVED {
            // Table and column names come from the constant list above.
            let n: i64 = self.tx.db().query_row(
                &Sql::dynamic(format!("SELECT count(*) FROM {table} WHERE {column} = ?1")),
                &[&duplicate],
                |r| r.get(0),
            )?;
            if n > 0 {
                moved.insert((*table).to_owned(), n as u64);
            }
        }
        // The most restrictive current consent per purpose wins.
        let consent = self.tx.consent();
        let now = self.tx.now();
        let s_states = consent.states_at(survivor, now)?;
        let d_states = consent.states_at(duplicate, now)?;
        let mut consents = Vec::new();
        for ds in &d_states {
            let survivor_state = s_states
                .iter()
                .find(|x| x.purpose_id == ds.purpose_id)
                .map(|x| x.state);
            let wins = match survivor_state {
                None => ds.state != ConsentState::Given && ds.event.occurred_at < now,
                Some(ss) => restrictiveness(ds.state) > restrictiveness(ss),
            };
            if wins {
                consents.push((ds.purpose_id.clone(), ds.state));
            }
        }
        let mut result = s.clone();
        if !dry_run {
            let db = self.tx.db();
            // Archive the duplicate first: its email becomes free for the
            // survivor if the survivor takes it.
            self.tx.customers().archive(duplicate)?;
            let has_default: Vec<String> = db.query_vec(
                sql!(
                    "SELECT kind FROM customer_addresses WHERE customer_id = ?1 \
                     AND is_default = 1"
                ),
                &[&survivor],
                |r| r.get(0),
            )?;
            for kind in &has_default {
                db.execute(
                    sql!(
                        "UPDATE customer_addresses SET is_default = 0 WHERE customer_id = ?1 \
                         AND kind = ?2"
                    ),
                    &[&duplicate, kind],
                )?;
            }
            let field_names: Vec<String> = fields
                .iter()
                .map(|f| format!("{}:{}", f.field, f.taken_from))
                .collect();
            let fields_json = serde_json::to_string(&field_names).written()?;
            if db.is_postgres() {
                // The owner's function marks the duplicate merged, moves
                // its rows and records the merge (docs/SECURITY.md).
                db.lock_for_update(
                    sql!(postgres_only: "SELECT custdb_merge_move($1, $2, $3, $4, $5)::text"),
                    &[
                        &duplicate,
                        &survivor,
                        &self.tx.actor().id(),
                        &now,
                        &Json(&fields_json),
                    ],
                )?;
            } else {
                db.execute(
                    sql!("UPDATE customers SET merged_into = ?2 WHERE id = ?1"),
                    &[&duplicate, &survivor],
                )?;
                move_rows(db, duplicate, survivor)?;
                let moved_json = serde_json::to_string(&moved).written()?;
                db.execute(
                    sql!(
                        "INSERT INTO customer_merges (survivor_id, merged_id, merged_at, \
                         actor_id, moved, fields) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                    ),
                    &[
                        &survivor,
                        &duplicate,
                        &now,
                        &self.tx.actor().id(),
                        &Json(&moved_json),
                        &Json(&fields_json),
                    ],
                )?;
            }
            move_pricing(db, duplicate, survivor)?;
            // What the shop owes the merged customer is owed to the survivor.
            crate::storecredit::transfer_on_merge(self.tx, survivor, duplicate)?;
            crate::loyalty::transfer_on_merge(self.tx, survivor, duplicate)?;
            for (purpose, state) in &consents {
                let latest = consent.states_at(survivor, now)?;
                let template = latest.iter().find(|x| &x.purpose_id == purpose);
                let mut new = crate::consent::NewConsent::new(
                    survivor,
                    purpose.clone(),
                    if *state == ConsentState::Withdrawn
                        && template.map(|t| t.state) != Some(ConsentState::Given)
                    {
                        ConsentState::Refused
                    } else {
                        *state
                    },
                    CollectionMethod::System,
                )
                .channel("merge");
                if let Some(t) = template {
                    new = new
                        .jurisdiction(t.event.jurisdiction.clone())
                        .language(t.event.language.clone());
                }
                consent.record(new)?;
            }
            let current = self.tx.customers().get(survivor)?;
            result = if patch == CustomerPatch::default() {
                current
            } else {
                self.tx
                    .customers()
                    .update(survivor, current.version, patch)?
            };
            let changed: Vec<&str> = moved.keys().map(String::as_str).collect();
            self.tx.audit_change_with(
                Change {
                    action: "merge",
                    entity_type: "customer",
                    entity_id: &survivor.to_string(),
                    changed_fields: &changed,
                },
                crate::changes::ChangeFacts::of_customer(duplicate),
            )?;
            self.tx.audit_change_with(
                Change {
                    action: "merged_into",
                    entity_type: "customer",
                    entity_id: &duplicate.to_string(),
                    changed_fields: &["merged_into"],
                },
                crate::changes::ChangeFacts::of_customer(survivor),
            )?;
        } else {
            for f in &fields {
                if f.taken_from == "duplicate" {
                    apply_preview(&mut result, &d, &f.field);
                }
            }
            for t in &d.tags {
                if !result.tags.contains(t) {
                    result.tags.push(t.clone());
                }
            }
            result.tags.sort();
            let mut attributes = d.attributes.clone();
            attributes.extend(s.attributes.clone());
            result.attributes = attributes;
        }
        Ok(MergePlan {
            survivor,
            duplicate,
            result,
            fields,
            moved,
            consents,
            dry_run,
        })
    }
}

/// Moves every row of [`MOVED`] from `duplicate` (already marked merged
/// into `survivor`) to `survivor`, on SQLite. The append-only tables'
/// triggers allow that one change while `customer_merge_in_progress` holds
/// its row. (On PostgreSQL `custdb_merge_move` does the same as the
/// schema's owner.)
fn move_rows(db: Conn<'_>, duplicate: CustomerId, survivor: CustomerId) -> Result<()> {
    db.execute(
        sql!(sqlite: "INSERT INTO customer_merge_in_progress (one) VALUES (1)", postgres: "SELECT 1"),
        &[],
    )?;
    for (table, column) in MOVED {
        // Table and column names come from the constant list above.
        db.execute(
            &Sql::dynamic(format!(
                "UPDATE {table} SET {column} = ?2 WHERE {column} = ?1"
            )),
            &[&duplicate, &survivor],
        )?;
    }
    db.execute(
        sql!(sqlite: "DELETE FROM customer_merge_in_progress", postgres: "SELECT 1"),
        &[],
    )?;
    Ok(())
}

/// The duplicate's group memberships join the survivor's (a group both
/// are in keeps the survivor's period); its tax exemption goes to the
/// survivor when the survivor has none. Plain tables, on both engines.
fn move_pricing(db: Conn<'_>, duplicate: CustomerId, survivor: CustomerId) -> Result<()> {
    db.execute(
        sql!(
            "INSERT INTO customer_group_members (group_id, customer_id, valid_from, valid_until, \
             added_at) SELECT d.group_id, ?2, d.valid_from, d.valid_until, d.added_at \
             FROM customer_group_members d WHERE d.customer_id = ?1 AND NOT EXISTS \
             (SELECT 1 FROM customer_group_members s WHERE s.customer_id = ?2 \
             AND s.group_id = d.group_id)"
        ),
        &[&duplicate, &survivor],
    )?;
    db.execute(
        sql!("DELETE FROM customer_group_members WHERE customer_id = ?1"),
        &[&duplicate],
    )?;
    db.execute(
        sql!(
            "INSERT INTO customer_tax_exemptions (customer_id, vat_id, reason, created_at) \
             SELECT ?2, vat_id, reason, created_at FROM customer_tax_exemptions \
             WHERE customer_id = ?1 AND NOT EXISTS \
             (SELECT 1 FROM customer_tax_exemptions WHERE customer_id = ?2)"
        ),
        &[&duplicate, &survivor],
    )?;
    db.execute(
        sql!("DELETE FROM customer_tax_exemptions WHERE customer_id = ?1"),
        &[&duplicate],
    )?;
    Ok(())
}

fn apply_preview(result: &mut Customer, d: &Customer, field: &str) {
    match field {
        "given_name" => result.given_name = d.given_name.clone(),
        "family_name" => result.family_name = d.family_name.clone(),
        "email" => result.email = d.email.clone(),
        "phone" => result.phone = d.phone.clone(),
        "company" => result.company = d.company.clone(),
        "locale" => result.locale = d.locale.clone(),
        "birth_date" => result.birth_date = d.birth_date,
        "acquisition_source" => result.acquisition_source = d.acquisition_source.clone(),
        "notes" => result.notes = d.notes.clone(),
        _ => {}
    }
}

crate::one_shot::one_shot! {
    /// Duplicates and merges for single operations:
    /// `store.duplicates().candidates(50)`, `store.duplicates().merge(..)`.
    StoreDuplicates => write merges: Merges, read duplicates: DuplicateReader;
    write {
        fn merge(survivor: CustomerId, duplicate: CustomerId) -> MergePlan;
        fn plan_merge(survivor: CustomerId, duplicate: CustomerId) -> MergePlan;
    }
    read {
        fn candidates(limit: usize) -> Vec<DuplicateCandidate>;
    }
}

// One-shot calls on the store: this domain's accessors (the store layer names no domain).
impl crate::Store {
    /// Duplicate candidates and merges for one-shot calls.
    pub fn duplicates(&self) -> crate::dedupe::StoreDuplicates<'_> {
        crate::dedupe::StoreDuplicates::new(self)
    }
}

// Inside a unit of work: this domain's accessors (the store layer names no domain).
impl<'a> crate::WriteTx<'a> {
    /// Merging duplicate customers.
    pub fn merges(&self) -> crate::dedupe::Merges<'_> {
        crate::dedupe::Merges::new(self)
    }

    /// Finding duplicate customers, on this unit of work's view.
    pub fn duplicates(&self) -> crate::dedupe::DuplicateReader<'_> {
        crate::dedupe::DuplicateReader::new(self.db())
    }
}

// Inside a read transaction: this domain's accessors (the store layer names no domain).
impl<'a> crate::ReadTx<'a> {
    /// Finding duplicate customers.
    pub fn duplicates(&self) -> crate::dedupe::DuplicateReader<'a> {
        crate::dedupe::DuplicateReader::new(self.db())
    }
}
