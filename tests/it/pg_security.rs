//! Security on PostgreSQL: connections that require TLS and verify the
//! server (against the test cluster's own certificate authority), and the
//! two roles, where the application's role cannot rewrite history even
//! when it bypasses custdb. docs/SECURITY.md, "PostgreSQL".

use custdb::{ErrorKind, NewCustomer, Options, Store};

use crate::engines::{cluster, consent_script, customer_script, postgres_store};

/// The append-only tables, written out here rather than taken from the
/// library, so that the test states the rule itself.
const APPEND_ONLY: [&str; 7] = [
    "audit_log",
    "consent_events",
    "customer_interactions",
    "customer_merges",
    "order_events",
    "privacy_erasures",
    "stock_movements",
];

#[test]
fn tls_connections_verify_the_server() {
    let Some(cluster) = cluster() else { return };
    let (name, _) = postgres_store(cluster);
    let tcp = cluster.tcp_connection(&name, "postgres");
    let verified = Options::default().tls_root_certificates(cluster.tls_root_certificate());

    let store = Store::open_postgres_with(&tcp, verified.clone()).unwrap();
    let ann = store.customers().create(NewCustomer::new("Ann")).unwrap();
    assert_eq!(store.customers().get(ann.id).unwrap().display_name, "Ann");
    // Every connection the store holds to this database is encrypted.
    let sessions = cluster.psql(
        "postgres",
        &format!(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl) \
             FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = '{name}'"
        ),
    );
    let counts: Vec<i64> = sessions
        .trim()
        .split('|')
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(counts[0] >= 1 && counts[1] == 0, "{sessions}");
    drop(store);

    // A certificate that does not chain to the trusted authority.
    let err = Store::open_postgres_with(
        &tcp,
        Options::default().tls_root_certificates(cluster.untrusted_root_certificate()),
    )
    .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Io { .. }), "{err}");
    assert!(err.to_string().contains("certificate"), "{err}");

    // The right authority, but the certificate does not name the host.
    let wrong_host = format!(
        "host=db.example.invalid hostaddr=127.0.0.1 port={} user=postgres dbname={name}",
        cluster.port()
    );
    let err = Store::open_postgres_with(&wrong_host, verified.clone()).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Io { .. }), "{err}");
    // The same address under a name the certificate does carry.
    let right_host = format!(
        "host=localhost hostaddr=127.0.0.1 port={} user=postgres dbname={name}",
        cluster.port()
    );
    Store::open_postgres_with(&right_host, verified.clone()).unwrap();

    // A Unix socket has no TLS: asking for it is refused, never downgraded.
    let err = Store::open_postgres_with(&cluster.connection(&name), verified).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Io { .. }), "{err}");

    // Bad option values name the option.
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("ca.pem");
    std::fs::write(&not_pem, "not a certificate").unwrap();
    for file in [not_pem, dir.path().join("missing.pem")] {
        let err = Store::open_postgres_with(&tcp, Options::default().tls_root_certificates(&file))
            .unwrap_err();
        match err.kind() {
            ErrorKind::Invalid { field, .. } => {
                assert_eq!(field, "options.tls_root_certificates")
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn tls_is_refused_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options::default().tls_root_certificates("/etc/ssl/certs/ca-certificates.crt");
    for result in [
        Store::open_with(dir.path().join("shop.db"), options.clone()),
        Store::open_in_memory_with(options),
    ] {
        let err = result.unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Unsupported { .. }), "{err}");
    }
    assert!(!dir.path().join("shop.db").exists(), "nothing was created");
    let store = Store::open_in_memory().unwrap();
    let err = store.grant_runtime_privileges("shop_app").unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Unsupported { .. }), "{err}");
}

#[test]
fn the_runtime_role_cannot_rewrite_history_even_bypassing_custdb() {
    let Some(cluster) = cluster() else { return };
    let database = cluster.empty_database();
    let (owner, app) = (format!("{database}_owner"), format!("{database}_app"));
    cluster.psql(
        "postgres",
        &format!("CREATE ROLE {owner} LOGIN; CREATE ROLE {app} LOGIN"),
    );
    cluster.psql(
        "postgres",
        &format!("ALTER DATABASE {database} OWNER TO {owner}"),
    );
    cluster.psql(&database, &format!("ALTER SCHEMA public OWNER TO {owner}"));

    // The owner migrates and grants; the application's role cannot migrate.
    let owner_store = Store::open_postgres(&cluster.connection_as(&database, &owner)).unwrap();
    for (role, what) in [
        ("postgres", "superuser"),
        (owner.as_str(), "connected as"),
        ("", "1 to 63 bytes"),
    ] {
        let err = owner_store.grant_runtime_privileges(role).unwrap_err();
        match err.kind() {
            ErrorKind::Invalid { field, reason } => {
                assert_eq!(field, "role");
                assert!(reason.contains(what), "{reason}");
            }
            other => panic!("{role}: {other:?}"),
        }
    }
    // A role that belongs to the owner role inherits its ownership: it
    // could disable the triggers, so it is refused, and nothing is granted.
    let member = format!("{database}_member");
    cluster.psql(
        "postgres",
        &format!("CREATE ROLE {member} LOGIN IN ROLE {owner}"),
    );
    let err = owner_store.grant_runtime_privileges(&member).unwrap_err();
    match err.kind() {
        ErrorKind::Invalid { field, reason } => {
            assert_eq!(field, "role");
            assert!(reason.contains("role it belongs to"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let err = owner_store
        .grant_runtime_privileges("no_such_role")
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::NotFound { .. }), "{err}");
    owner_store.grant_runtime_privileges(&app).unwrap();
    // Granting again changes nothing.
    owner_store.grant_runtime_privileges(&app).unwrap();

    // Through custdb, the application's role does everything the customer
    // and consent scripts do, with the same results as on SQLite.
    let app_store = Store::open_postgres(&cluster.connection_as(&database, &app)).unwrap();
    let (_dir, sqlite) = crate::common::file_store();
    assert_eq!(customer_script(&app_store), customer_script(&sqlite));
    assert_eq!(consent_script(&app_store), consent_script(&sqlite));
    // A merge moves interactions and consent events (append-only) to the
    // survivor: through custdb_merge_move, which runs as the owner and
    // only for a customer already marked merged into that survivor.
    let (survivor, duplicate) = merge_fixture(&app_store);
    let plan = app_store.duplicates().merge(survivor, duplicate).unwrap();
    assert_eq!(plan.moved.get("customer_interactions"), Some(&1));
    assert_eq!(plan.moved.get("consent_events"), Some(&1));
    assert_eq!(
        app_store
            .customers()
            .interactions(survivor, None, 10)
            .unwrap()
            .items
            .len(),
        1
    );
    let other = app_store
        .customers()
        .create(custdb::NewCustomer::new("Bystander"))
        .unwrap();
    // Bypassing custdb: a customer that is not archived cannot be merged
    // through the function, merged_into cannot be set directly, the
    // marker that lets append-only rows move cannot be set, and retention
    // applies only a rule that is set.
    let as_app = |sql: &str| cluster.psql_as(&app, &database, sql);
    let err = as_app(&format!(
        "SELECT custdb_merge_move('{}', '{survivor}', 'x', now(), '[]')",
        other.id
    ))
    .unwrap_err();
    assert!(err.contains("cannot be merged"), "{err}");
    let err = as_app(&format!(
        "UPDATE customers SET merged_into = '{survivor}' WHERE id = '{}'",
        other.id
    ))
    .unwrap_err();
    assert!(err.contains("set by a merge only"), "{err}");
    for marker in ["customer_merge_in_progress", "privacy_erasure_in_progress"] {
        let err = as_app(&format!("INSERT INTO {marker} (one) VALUES (1)")).unwrap_err();
        assert!(err.contains("permission denied"), "{marker}: {err}");
    }
    let err = as_app("SELECT custdb_retention_apply('orders', now())").unwrap_err();
    assert!(err.contains("no retention rule"), "{err}");
    // A temporary table cannot stand in for custdb's inside the functions.
    let err = as_app(&format!(
        "CREATE TEMP TABLE customers (id uuid, archived_at timestamptz, erased_at timestamptz, \
         merged_into uuid); INSERT INTO customers VALUES ('{}', now(), NULL, NULL); \
         SELECT custdb_merge_move('{}', '{survivor}', 'x', now(), '[]')",
        other.id, other.id
    ))
    .unwrap_err();
    assert!(err.contains("cannot be merged"), "{err}");
    // Erasure and retention change append-only tables too, through the
    // owner's custdb_erase_subject and custdb_retention_apply.
    let report = app_store.erase_customer(survivor).unwrap();
    assert_eq!(report.rows.get("customer_interactions"), Some(&1));
    assert!(app_store
        .customers()
        .interactions(survivor, None, 10)
        .unwrap()
        .items
        .is_empty());
    app_store
        .write(|tx| {
            tx.privacy()
                .set_retention_rule(custdb::RetentionCategory::Interactions, 1)
        })
        .unwrap();
    let later = chrono::Utc::now() + chrono::Duration::days(3);
    app_store
        .write(|tx| {
            tx.customers().add_interaction(
                other.id,
                custdb::NewInteraction::new(
                    custdb::Channel::Phone,
                    custdb::Direction::Outbound,
                    custdb::InteractionKind::Note,
                )
                .subject("Old call"),
            )
        })
        .unwrap();
    let retention = app_store.apply_retention(later).unwrap();
    assert_eq!(retention.actions.len(), 1, "{retention:?}");
    assert_eq!(retention.actions[0].table, "customer_interactions");
    // Every interaction was older than the cutoff (now + 2 days): all went.
    let left = cluster.psql(&database, "SELECT count(*) FROM customer_interactions");
    assert_eq!(left.trim(), "0", "{retention:?}");
    assert!(retention.actions[0].rows >= 1, "{retention:?}");
    assert!(app_store.check().unwrap().is_ok());
    let verification = app_store.verify_audit().unwrap();
    let entries = verification.entries;
    assert!(entries > 0);
    // The chain step after each commit ran as the application's role.
    assert_eq!(verification.pending, 0, "{verification:?}");

    // Bypassing custdb with the application's credentials: no UPDATE,
    // DELETE or TRUNCATE on any append-only table, no DDL, no migration.
    let as_app = |sql: &str| cluster.psql_as(&app, &database, sql);
    for table in APPEND_ONLY {
        for sql in [
            format!(
                "UPDATE {table} SET {} = {0}",
                first_column(cluster, &database, table)
            ),
            format!("DELETE FROM {table}"),
            format!("TRUNCATE {table}"),
        ] {
            let err = as_app(&sql).expect_err(&sql);
            assert!(err.contains("permission denied"), "{sql}: {err}");
        }
        as_app(&format!("SELECT count(*) FROM {table}")).unwrap();
    }
    for sql in [
        "INSERT INTO custdb_migrations VALUES (99, 'x', 'x', now())",
        "DELETE FROM custdb_migrations",
        "CREATE TABLE intruder (a int)",
        "DROP TRIGGER audit_log_no_delete ON audit_log",
        "ALTER TABLE customers DISABLE TRIGGER ALL",
    ] {
        let err = as_app(sql).expect_err(sql);
        assert!(
            err.contains("permission denied") || err.contains("must be owner"),
            "{sql}: {err}"
        );
    }
    // The application's role sets an entry's hashes only in the chain
    // step, once: a chained entry refuses them.
    let err = as_app("UPDATE audit_log SET hash = hash").unwrap_err();
    assert!(err.contains("append-only"), "{err}");
    // The tables that do change stay writable (the statement matches no
    // row, but needs the privilege to run at all).
    as_app("UPDATE customers SET display_name = display_name WHERE false").unwrap();
    as_app("DELETE FROM customer_tags WHERE false").unwrap();

    // The owner has the privileges, but the triggers still refuse.
    let err = cluster
        .psql_as(&owner, &database, "DELETE FROM audit_log")
        .unwrap_err();
    assert!(err.contains("append-only"), "{err}");
    assert_eq!(app_store.verify_audit().unwrap().entries, entries);
    assert!(app_store.verify_audit().unwrap().broken.is_none());
}

/// Two customers to merge: the duplicate has an interaction and a consent
/// event, both in append-only ledgers.
fn merge_fixture(store: &Store) -> (custdb::CustomerId, custdb::CustomerId) {
    use custdb::{
        Channel, CollectionMethod, ConsentState, DataCategory, Direction, InteractionKind,
        LawfulBasis, NewConsent, NewCustomer, NewInteraction, NewPurpose,
    };
    store
        .write(|tx| {
            let survivor = tx.customers().create(NewCustomer::new("Keep Me"))?.id;
            let duplicate = tx.customers().create(NewCustomer::new("Keep Me Too"))?.id;
            tx.customers().add_interaction(
                duplicate,
                NewInteraction::new(Channel::Email, Direction::Inbound, InteractionKind::Note)
                    .subject("Hello"),
            )?;
            tx.consent().register_purpose(
                NewPurpose::new("merge_news", "News", LawfulBasis::Consent)
                    .data_category(DataCategory::Contact),
            )?;
            tx.consent().record(
                NewConsent::new(
                    duplicate,
                    "merge_news",
                    ConsentState::Given,
                    CollectionMethod::WebForm,
                )
                .notice("v1", "News by email"),
            )?;
            Ok::<_, custdb::Error>((survivor, duplicate))
        })
        .unwrap()
}

/// The first ordinary column of `table`, for an UPDATE that would change nothing
/// (the privilege check comes before any row is looked at).
fn first_column(cluster: &custdb_pgcluster::Cluster, database: &str, table: &str) -> String {
    cluster
        .psql(
            database,
            &format!(
                "SELECT column_name FROM information_schema.columns \
                 WHERE table_name = '{table}' AND is_identity = 'NO' \
                 AND is_generated = 'NEVER' ORDER BY ordinal_position LIMIT 1"
            ),
        )
        .trim()
        .to_owned()
}
