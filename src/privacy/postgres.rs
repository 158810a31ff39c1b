//! The personal-data map on PostgreSQL: its SQL fragments in PostgreSQL's
//! dialect, and the two functions through which erasure and retention
//! change the append-only tables there.
//!
//! The map's fragments are written once, in SQLite's dialect;
//! [`fragment`] rewrites the few idioms PostgreSQL spells otherwise. The
//! application's runtime role may not update or delete rows of the
//! append-only tables at all (`Store::grant_runtime_privileges`), so the
//! statements that erasure and retention run on them are generated from
//! the map into `custdb_erase_subject` and `custdb_retention_apply`,
//! functions the schema's owner defines (`SECURITY DEFINER`). They do no
//! more than custdb's API lets any caller do: the erasure always records
//! itself in `privacy_erasures`, and retention applies only a rule that is
//! set, its cutoff computed inside from the rule's period. Their text
//! is in the PostgreSQL baseline verbatim; a test fails when the map and
//! the baseline disagree ([`functions`]).

// The generator runs in the test that checks the baseline against it.
#![cfg_attr(not(test), allow(dead_code))]

use super::map::{Erasure, RetentionAction, RowErasure, TableClass, PERSONAL_DATA_MAP};

/// A map fragment (a subject condition, an age, an erasure expression) in
/// PostgreSQL's dialect. The rewrites cover every idiom the map uses:
///
/// - `json_remove(col, '$.key')` is `(col - 'key')` on `jsonb`;
/// - the audit trail's `entity_id` is text while ids are `uuid`: the id
///   parameter is compared as text, and ids selected to compare with it
///   are cast to text.
pub(crate) fn fragment(sqlite: &str) -> String {
    let mut out = sqlite.to_owned();
    while let Some(start) = out.find("json_remove(") {
        let rest = &out[start + "json_remove(".len()..];
        let Some((column, rest)) = rest.split_once(", '$.") else {
            break;
        };
        let Some((key, rest)) = rest.split_once("')") else {
            break;
        };
        out = format!("{}({column} - '{key}'){rest}", &out[..start]);
    }
    out.replace(
        "entity_id = ?1",
        "entity_id = CAST(CAST(?1 AS uuid) AS text)",
    )
    .replace(
        "entity_id IN (SELECT id FROM",
        "entity_id IN (SELECT CAST(id AS text) FROM",
    )
}

/// `column = expression, ...` for a table's erasable columns, in
/// PostgreSQL's dialect.
fn sets(t: &TableClass) -> String {
    t.personal_columns()
        .filter_map(|c| match c.erasure {
            Erasure::Set(expr) => Some(format!("{} = {}", c.column, fragment(expr))),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rows of `t` that still hold something to erase, in PostgreSQL's
/// dialect.
fn pending(t: &TableClass) -> String {
    t.personal_columns()
        .filter_map(|c| match c.erasure {
            Erasure::Set(expr) => Some(format!("{} IS DISTINCT FROM {}", c.column, fragment(expr))),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// The statement that erases `t`'s rows about the subject (`p_subject`,
/// a PL/pgSQL parameter: its `p_` keeps it from meeting a column's name,
/// such as the interactions' `subject`), or `None` when the table keeps
/// them whole.
fn erase_statement(t: &TableClass, subject: &str) -> Option<String> {
    let condition = fragment(subject).replace("?1", "p_subject");
    match t.rows {
        RowErasure::DeleteRows => Some(format!("DELETE FROM {} WHERE {condition}", t.table)),
        RowErasure::KeepRows => {
            let sets = sets(t);
            (!sets.is_empty()).then(|| format!("UPDATE {} SET {sets} WHERE {condition}", t.table))
        }
    }
}

/// The retention statement of `t` for rows older than `p_cutoff` (a
/// PL/pgSQL parameter), when its rule deletes rows or erases columns.
fn retention_statement(t: &TableClass) -> Option<String> {
    let r = t.retention?;
    let age = format!("{} < p_cutoff", fragment(r.age));
    match r.action {
        RetentionAction::DeleteRows => Some(format!("DELETE FROM {} WHERE {age}", t.table)),
        RetentionAction::EraseColumns => Some(format!(
            "UPDATE {} SET {} WHERE {age} AND ({})",
            t.table,
            sets(t),
            pending(t)
        )),
        RetentionAction::EraseSubject => None,
    }
}

/// The SQL of `custdb_erase_subject` and `custdb_retention_apply`,
/// generated from the map; the PostgreSQL baseline holds exactly this
/// text (`privacy::postgres::tests`).
pub(crate) fn functions() -> String {
    let mut erase = String::new();
    for t in PERSONAL_DATA_MAP {
        let Some(subject) = t.subject else { continue };
        let Some(statement) = erase_statement(t, subject) else {
            continue;
        };
        erase.push_str(&format!(
            "    {statement};\n    GET DIAGNOSTICS v_rows = ROW_COUNT;\n    \
             IF v_rows > 0 THEN v_counts := v_counts || jsonb_build_object('{}', v_rows); \
             END IF;\n",
            t.table
        ));
    }
    let mut retention = String::new();
    for t in PERSONAL_DATA_MAP {
        let Some(statement) = retention_statement(t) else {
            continue;
        };
        let keyword = if retention.is_empty() { "IF" } else { "ELSIF" };
        let category = t.retention.map(|r| r.category.as_str()).unwrap_or_default();
        retention.push_str(&format!(
            "    {keyword} p_table = '{}' THEN\n        \
             SELECT period_days INTO v_days FROM retention_rules WHERE category = '{category}';\n        \
             IF v_days IS NULL THEN\n            \
             RAISE EXCEPTION 'no retention rule for %', p_table USING ERRCODE = '23CD2';\n        \
             END IF;\n        \
             p_cutoff := p_now - (v_days * 86400) * interval '1 second';\n        \
             {statement};\n        \
             GET DIAGNOSTICS v_rows = ROW_COUNT;\n",
            t.table
        ));
    }
    format!(
        "-- BEGIN generated from the personal-data map (src/privacy/postgres.rs)\n\
         CREATE FUNCTION custdb_erase_subject(p_subject uuid, p_at timestamptz, p_actor text, \
         p_ground text) RETURNS jsonb\n\
         LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$\n\
         DECLARE\n    v_counts jsonb := '{{}}';\n    v_rows bigint;\nBEGIN\n    \
         IF NOT EXISTS (SELECT 1 FROM customers WHERE id = p_subject AND erased_at IS NULL) THEN\n        \
         RAISE EXCEPTION 'customer % is unknown or already erased', p_subject \
         USING ERRCODE = '23CD2';\n    \
         END IF;\n    INSERT INTO privacy_erasure_in_progress (one) VALUES (1);\n\
         {erase}    \
         UPDATE customers SET erased_at = p_at, archived_at = coalesce(archived_at, p_at), \
         updated_at = p_at, version = version + 1 WHERE id = p_subject;\n    \
         DELETE FROM privacy_erasure_in_progress;\n    \
         INSERT INTO privacy_erasures (customer_id, erased_at, actor_id, ground, rows) \
         VALUES (p_subject, p_at, p_actor, p_ground, v_counts);\n    \
         RETURN v_counts;\nEND\n$$;\n\
         REVOKE ALL ON FUNCTION custdb_erase_subject(uuid, timestamptz, text, text) FROM PUBLIC;\n\n\
         CREATE FUNCTION custdb_retention_apply(p_table text, p_now timestamptz) \
         RETURNS bigint\n\
         LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$\n\
         DECLARE\n    v_rows bigint;\n    v_days bigint;\n    p_cutoff timestamptz;\nBEGIN\n    \
         INSERT INTO privacy_erasure_in_progress (one) VALUES (1);\n\
         {retention}    ELSE\n        \
         RAISE EXCEPTION 'no retention statement for table %', p_table USING ERRCODE = '23CD2';\n    \
         END IF;\n    DELETE FROM privacy_erasure_in_progress;\n    RETURN v_rows;\nEND\n$$;\n\
         REVOKE ALL ON FUNCTION custdb_retention_apply(text, timestamptz) FROM PUBLIC;\n\
         -- END generated from the personal-data map\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The newest PostgreSQL migration that writes the functions holds
    /// them verbatim: a change to the map that erasure or retention would
    /// run differently must reach the PostgreSQL schema too, in a new
    /// migration that drops and writes them again.
    #[test]
    fn the_newest_migration_holds_the_functions_the_map_generates() {
        let newest = crate::schema::postgres::POSTGRES_MIGRATIONS
            .iter()
            .rev()
            .find(|m| {
                m.sql
                    .contains("-- BEGIN generated from the personal-data map")
            })
            .expect("a migration writes the functions");
        let generated = functions();
        assert!(
            newest.sql.contains(&generated),
            "PostgreSQL migration {} does not hold the functions the personal-data map \
             generates; they are:\n\n{generated}",
            newest.version
        );
    }

    #[test]
    fn fragments_translate_the_idioms_of_the_map() {
        assert_eq!(
            fragment("json_remove(detail, '$.tracking_number')"),
            "(detail - 'tracking_number')"
        );
        assert_eq!(
            fragment("entity_id = ?1 OR entity_id IN (SELECT id FROM orders)"),
            "entity_id = CAST(CAST(?1 AS uuid) AS text) OR entity_id IN \
             (SELECT CAST(id AS text) FROM orders)"
        );
        assert_eq!(fragment("customer_id = ?1"), "customer_id = ?1");
    }
}
