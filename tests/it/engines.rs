//! The same behaviour on both engines: customers (addresses, tags,
//! attributes, interactions, search, pagination, optimistic concurrency),
//! consent, the audit trail and access run one script on SQLite and on
//! PostgreSQL,
//! and what each engine answers is compared. Then what only PostgreSQL has
//! to prove: several writers at once, a database that is not custdb's,
//! options and operations that exist only on files, and passwords kept out
//! of every message.
//!
//! The PostgreSQL half uses the throwaway cluster of `custdb-pgcluster`;
//! without PostgreSQL's server binaries it is skipped loudly (a failure
//! under `CI=true`).

use std::sync::Arc;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use custdb::{
    Actor, AddressKind, AddressPatch, ArchiveState, AuditFilter, Channel, CustomerFilter,
    CustomerPatch, Direction, ErrorKind, InteractionKind, NewAddress, NewCustomer, NewInteraction,
    Options, Page, Permission, Store,
};
use custdb_pgcluster::Cluster;

/// The cluster, or `None` after the harness said loudly why not.
pub(crate) fn cluster() -> Option<&'static Cluster> {
    custdb_pgcluster::cluster()
}

/// A fresh, migrated PostgreSQL database: a copy of a template that custdb
/// migrated once.
pub(crate) fn postgres_store(cluster: &Cluster) -> (String, Store) {
    let name = cluster.database("custdb_template", |connection| {
        drop(Store::open_postgres(connection).expect("migrate the template"));
    });
    let store = Store::open_postgres(&cluster.connection(&name)).expect("open PostgreSQL");
    (name, store)
}

/// Every engine this machine has: SQLite always, PostgreSQL when installed.
fn engines() -> Vec<(&'static str, Store, Option<tempfile::TempDir>)> {
    let (dir, sqlite) = crate::common::file_store();
    let mut out = vec![("SQLite", sqlite, Some(dir))];
    if let Some(cluster) = cluster() {
        out.push(("PostgreSQL", postgres_store(cluster).1, None));
    }
    out
}

/// Runs `script` on every engine's fresh store and checks that every
/// engine wrote the same transcript, line by line; returns it.
fn same_on_every_engine(script: fn(&Store) -> Vec<String>) -> Vec<String> {
    let mut transcripts = Vec::new();
    for (engine, store, _dir) in engines() {
        transcripts.push((engine, script(&store)));
    }
    let (first, expected) = &transcripts[0];
    for (engine, got) in &transcripts[1..] {
        for (a, b) in expected.iter().zip(got) {
            assert_eq!(a, b, "{first} and {engine} differ");
        }
        assert_eq!(expected.len(), got.len(), "{first} and {engine} differ");
    }
    transcripts.swap_remove(0).1
}

/// One script over customers, addresses, interactions, search and audit;
/// returns a transcript that must be the same on every engine.
pub(crate) fn customer_script(store: &Store) -> Vec<String> {
    let mut log = Vec::new();
    let ann = store
        .customers()
        .create(
            NewCustomer::new("Ann Lee")
                .email("  Ann@Example.com ")
                .phone("020 7946 0958")
                .phone_country("GB")
                .birth_date(NaiveDate::from_ymd_opt(1990, 2, 28).unwrap())
                .tag("vip")
                .tag("b2b")
                .attribute("tier", serde_json::json!({"level": 2, "since": "2020"})),
        )
        .unwrap();
    log.push(format!(
        "created {} {:?} {:?} {:?} {:?} {:?}",
        ann.display_name, ann.email, ann.phone, ann.birth_date, ann.tags, ann.attributes
    ));
    let read = store.customers().get(ann.id).unwrap();
    assert_eq!(read, ann, "what create returns is what get reads");
    assert_eq!(
        store
            .customers()
            .get_by_email("ANN@example.com")
            .unwrap()
            .id,
        ann.id
    );
    let twin = store
        .customers()
        .create(NewCustomer::new("Ann Twin").email("ann@example.com"))
        .unwrap_err();
    log.push(format!("twin email: {:?}", twin.kind()));
    // Optimistic concurrency.
    let v1 = store
        .customers()
        .update(
            ann.id,
            ann.version,
            CustomerPatch::default().company("Acme"),
        )
        .unwrap();
    let stale = store
        .customers()
        .update(
            ann.id,
            ann.version,
            CustomerPatch::default().company("Other"),
        )
        .unwrap_err();
    log.push(format!("stale update: {}", stale.is_conflict()));
    let v2 = store.customers().add_tags(ann.id, &["gold"]).unwrap();
    let v3 = store.customers().remove_tags(ann.id, &["b2b"]).unwrap();
    log.push(format!(
        "versions {} {} {} tags {:?}",
        v1.version, v2.version, v3.version, v3.tags
    ));
    // More customers for listing and search.
    for n in 0..25 {
        store
            .customers()
            .create(NewCustomer::new(format!("Lee {n:02}")).tag(if n % 2 == 0 {
                "even"
            } else {
                "odd"
            }))
            .unwrap();
    }
    let evens: Vec<String> = Page::all(|after| {
        store
            .customers()
            .list(&CustomerFilter::default().tag("even"), after, 4)
    })
    .map(|c| c.unwrap().display_name)
    .collect();
    log.push(format!("even, paged by 4: {evens:?}"));
    let all_time = CustomerFilter::default().created_between(
        Utc.with_ymd_and_hms(1000, 1, 1, 0, 0, 0).unwrap(),
        Utc::now() + Duration::days(365 * 5000),
    );
    let everyone = store.customers().list(&all_time, None, 100).unwrap();
    log.push(format!(
        "listed with extreme bounds: {}",
        everyone.items.len()
    ));
    let none = store
        .customers()
        .list(
            &CustomerFilter::default().created_between(
                Utc.with_ymd_and_hms(1990, 1, 1, 0, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(1991, 1, 1, 0, 0, 0).unwrap(),
            ),
            None,
            100,
        )
        .unwrap();
    log.push(format!("listed in 1990: {}", none.items.len()));
    let hits = store.customers().search("lee", 50).unwrap();
    log.push(format!(
        "search lee: {}, first {}",
        hits.len(),
        hits[0].display_name
    ));
    let paged: Vec<String> = Page::all(|after| store.customers().search_page("lee", after, 7))
        .map(|c| c.unwrap().display_name)
        .collect();
    let mut sorted = paged.clone();
    sorted.sort();
    sorted.dedup();
    log.push(format!(
        "search pages: {} distinct of {}",
        sorted.len(),
        paged.len()
    ));
    log.push(format!(
        "search by email word: {:?}",
        store
            .customers()
            .search("example", 5)
            .unwrap()
            .iter()
            .map(|c| c.display_name.clone())
            .collect::<Vec<_>>()
    ));
    let bad = store.customers().search("!!!", 5).unwrap_err();
    log.push(format!(
        "bad query: {}",
        matches!(bad.kind(), ErrorKind::Invalid { .. })
    ));
    // Addresses.
    let home = store
        .customers()
        .add_address(
            ann.id,
            NewAddress::new(AddressKind::Shipping, "1 High St", "London", "gb"),
        )
        .unwrap();
    let work = store
        .customers()
        .add_address(
            ann.id,
            NewAddress::new(AddressKind::Shipping, "2 Low St", "Leeds", "GB").make_default(),
        )
        .unwrap();
    store
        .customers()
        .update_address(
            home.id,
            AddressPatch {
                city: Some("Bath".into()),
                ..AddressPatch::default()
            },
        )
        .unwrap();
    store.customers().set_default_address(home.id).unwrap();
    store.customers().delete_address(work.id).unwrap();
    let addresses = store.customers().addresses(ann.id).unwrap();
    log.push(format!(
        "addresses: {:?}",
        addresses
            .iter()
            .map(|a| (a.city.clone(), a.country.clone(), a.is_default))
            .collect::<Vec<_>>()
    ));
    let in_gb = store
        .customers()
        .list(&CustomerFilter::default().country("GB"), None, 10)
        .unwrap();
    log.push(format!("in GB: {}", in_gb.items.len()));
    // Interactions, paged newest first.
    for n in 0..5 {
        store
            .customers()
            .add_interaction(
                ann.id,
                NewInteraction::new(Channel::Email, Direction::Inbound, InteractionKind::Note)
                    .subject(format!("note {n}"))
                    .occurred_at(Utc.with_ymd_and_hms(2024, 1, 1 + n, 9, 0, 0).unwrap()),
            )
            .unwrap();
    }
    let timeline: Vec<String> = Page::all(|after| store.customers().interactions(ann.id, after, 2))
        .map(|i| i.unwrap().subject.unwrap())
        .collect();
    log.push(format!("timeline: {timeline:?}"));
    // Archive frees the email; restore is refused while it is taken.
    store.customers().archive(ann.id).unwrap();
    let newcomer = store
        .customers()
        .create(NewCustomer::new("New Ann").email("ann@example.com"))
        .unwrap();
    let refused = store.customers().restore(ann.id).unwrap_err();
    log.push(format!(
        "restore while taken: {}",
        refused.is_already_exists()
    ));
    let archived = store
        .customers()
        .list(
            &CustomerFilter::default().archived(ArchiveState::Archived),
            None,
            10,
        )
        .unwrap();
    log.push(format!("archived: {}", archived.items.len()));
    store.customers().archive(newcomer.id).unwrap();
    log.push(format!(
        "restored: {}",
        store
            .customers()
            .restore(ann.id)
            .unwrap()
            .archived_at
            .is_none()
    ));
    // The trail.
    let v = store.verify_audit().unwrap();
    log.push(format!("audit entries {} broken {:?}", v.entries, v.broken));
    let about_ann = store
        .read(|r| r.audit().for_entity("customer", &ann.id.to_string(), 100))
        .unwrap();
    log.push(format!(
        "audit about ann: {:?}",
        about_ann
            .iter()
            .map(|e| e.action.clone())
            .collect::<Vec<_>>()
    ));
    let filtered: Vec<String> = Page::all(|after| {
        store.read(|r| {
            r.audit().query(
                &AuditFilter::default()
                    .entity("address", home.id.to_string())
                    .between(
                        Utc::now() - Duration::days(1),
                        Utc::now() + Duration::days(1),
                    ),
                after,
                2,
            )
        })
    })
    .map(|e| e.unwrap().action)
    .collect();
    log.push(format!("audit about the home address: {filtered:?}"));
    let head = store.read(|r| r.audit().head()).unwrap().unwrap();
    assert_eq!(head.seq as u64, v.entries);
    assert!(store
        .read(|r| r.audit().verify_against(&head))
        .unwrap()
        .broken
        .is_none());
    let report = store.check().unwrap();
    assert!(report.is_ok(), "{report:?}");
    log
}

#[test]
fn customers_and_the_trail_behave_the_same_on_every_engine() {
    let expected = same_on_every_engine(customer_script);
    // Spot-check that the script saw what it should (not merely the same
    // thing twice).
    let text = expected.join("\n");
    assert!(text.contains("twin email: AlreadyExists"), "{text}");
    assert!(text.contains("stale update: true"), "{text}");
    assert!(
        text.contains("timeline: [\"note 4\", \"note 3\", \"note 2\", \"note 1\", \"note 0\"]"),
        "{text}"
    );
    assert!(text.contains("search pages: 26 distinct of 26"), "{text}");
    assert!(text.contains("restore while taken: true"), "{text}");
}

/// One consent script; the transcript must be the same on every engine.
pub(crate) fn consent_script(store: &Store) -> Vec<String> {
    use custdb::{
        CollectionMethod, ConsentState, Controller, DataCategory, LawfulBasis, NewConsent,
        NewPurpose,
    };
    let mut log = Vec::new();
    let purpose = store
        .consent()
        .register_purpose(
            NewPurpose::new("marketing", "Offers by email", LawfulBasis::Consent)
                .data_category(DataCategory::Contact),
        )
        .unwrap();
    log.push(format!(
        "purpose {} {:?} {:?}",
        purpose.id, purpose.lawful_basis, purpose.data_categories
    ));
    assert_eq!(store.consent().purposes().unwrap().len(), 1);
    let mut customers = Vec::new();
    for n in 0..6 {
        customers.push(
            store
                .customers()
                .create(NewCustomer::new(format!("Person {n}")).email(format!("p{n}@example.com")))
                .unwrap(),
        );
    }
    let t0 = Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap();
    for (n, c) in customers.iter().enumerate() {
        let mut given = NewConsent::new(
            c.id,
            "marketing",
            ConsentState::Given,
            CollectionMethod::WebForm,
        )
        .notice("2025-01", "Send me offers.")
        .occurred_at(t0 + Duration::days(n as i64));
        if n == 5 {
            given = given.valid_until(t0 + Duration::days(30));
        }
        store.consent().record(given).unwrap();
    }
    let e = store
        .consent()
        .record(
            NewConsent::new(
                customers[1].id,
                "marketing",
                ConsentState::Withdrawn,
                CollectionMethod::Email,
            )
            .occurred_at(t0 + Duration::days(10)),
        )
        .unwrap();
    let refused = store
        .consent()
        .record(NewConsent::new(
            customers[1].id,
            "marketing",
            ConsentState::Withdrawn,
            CollectionMethod::Email,
        ))
        .unwrap_err();
    log.push(format!(
        "withdraw twice: {}",
        matches!(refused.kind(), ErrorKind::InvalidState { .. })
    ));
    let later = t0 + Duration::days(60);
    for c in &customers {
        log.push(format!(
            "{}: now {} at t0+2 {} history {}",
            c.display_name,
            store
                .consent()
                .can_process(c.id, "marketing", later)
                .unwrap(),
            store
                .consent()
                .can_process(c.id, "marketing", t0 + Duration::days(2))
                .unwrap(),
            store
                .consent()
                .history(c.id, Some("marketing"))
                .unwrap()
                .len()
        ));
    }
    let states = store.consent().states_at(customers[5].id, later).unwrap();
    log.push(format!(
        "expired: {:?}",
        states.iter().map(|s| s.state).collect::<Vec<_>>()
    ));
    let consenting: Vec<String> =
        Page::all(|after| store.consent().consenting("marketing", later, after, 2))
            .map(|id| {
                let id = id.unwrap();
                customers
                    .iter()
                    .find(|c| c.id == id)
                    .unwrap()
                    .display_name
                    .clone()
            })
            .collect();
    log.push(format!("consenting: {consenting:?}"));
    let receipt = store
        .consent()
        .receipt(
            e.id,
            &Controller {
                name: "Shop".into(),
                contact: "DPO".into(),
                address: "1 High St".into(),
                email: "dpo@example.com".into(),
                phone: "+44".into(),
                url: None,
            },
            "https://example.com/privacy",
            "newsletter",
        )
        .unwrap();
    log.push(format!(
        "receipt {} {}",
        receipt.collection_method, receipt.consent_timestamp
    ));
    // A role scoped to the purpose sees only consenting customers.
    store.access().grant("mara", "marketing").unwrap();
    let mara = store
        .as_actor(&Actor::new("mara", "Mara").unwrap())
        .unwrap();
    let visible = mara
        .customers()
        .list(&CustomerFilter::default(), None, 50)
        .unwrap()
        .items
        .len();
    log.push(format!("the marketing role sees {visible} customers"));
    assert!(store.check().unwrap().is_ok());
    log
}

#[test]
fn consent_behaves_the_same_on_every_engine() {
    let expected = same_on_every_engine(consent_script);
    let text = expected.join("\n");
    assert!(text.contains("withdraw twice: true"), "{text}");
    assert!(
        text.contains("Person 1: now false at t0+2 true history 2"),
        "{text}"
    );
    assert!(text.contains("Person 5: now false"), "{text}");
    assert!(
        text.contains("consenting: [\"Person 0\", \"Person 2\", \"Person 3\", \"Person 4\"]"),
        "{text}"
    );
}

#[test]
fn roles_grants_and_acting_behave_the_same_on_every_engine() {
    for (engine, store, _dir) in engines() {
        let role = store
            .access()
            .define_role(
                "clerk",
                &[Permission::ReadCustomers, Permission::WriteCustomers],
                None,
            )
            .unwrap();
        assert!(!role.builtin, "{engine}");
        store.access().grant("dana", "clerk").unwrap();
        store.access().grant("dana", "clerk").unwrap();
        assert_eq!(
            store.access().grants("dana").unwrap().roles.len(),
            1,
            "{engine}"
        );
        let dana = store
            .as_actor(&Actor::new("dana", "Dana").unwrap())
            .unwrap();
        let c = dana
            .customers()
            .create(NewCustomer::new("Made by Dana"))
            .unwrap();
        // Without ReadPersonalData the name reads masked, on both engines.
        let seen = dana.customers().get(c.id).unwrap();
        assert_eq!(seen.id, c.id);
        assert_ne!(seen.display_name, "Made by Dana", "{engine}");
        let denied = dana.access().grant("eve", "admin").unwrap_err();
        assert!(
            matches!(denied.kind(), ErrorKind::PermissionDenied { .. }),
            "{engine}: {denied}"
        );
        store.access().revoke("dana", "clerk").unwrap();
        let gone = store.access().revoke("dana", "clerk").unwrap_err();
        assert!(gone.is_not_found(), "{engine}");
        let by_dana = store
            .read(|r| {
                r.audit()
                    .query(&AuditFilter::default().actor("dana"), None, 50)
            })
            .unwrap();
        assert_eq!(by_dana.items.len(), 1, "{engine}: one create by dana");
        assert!(store.check().unwrap().is_ok(), "{engine}");
        assert!(store.verify_audit().unwrap().broken.is_none(), "{engine}");
    }
}

/// Several stores on one database (as several servers would be) write at
/// once: the audit chain stays one verifiable line, an email is taken once,
/// and a stale version loses.
#[test]
fn several_writers_at_once_on_postgres() {
    let Some(cluster) = cluster() else { return };
    let (name, store) = postgres_store(cluster);
    let connection = cluster.connection(&name);
    let target = store
        .customers()
        .create(NewCustomer::new("Contested"))
        .unwrap();
    let stores: Vec<Store> = (0..4)
        .map(|_| Store::open_postgres(&connection).unwrap())
        .collect();
    let barrier = Arc::new(std::sync::Barrier::new(stores.len()));
    let results: Vec<(usize, usize, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(n, st)| {
                let barrier = Arc::clone(&barrier);
                s.spawn(move || {
                    barrier.wait();
                    for i in 0..20 {
                        st.customers()
                            .create(NewCustomer::new(format!("Writer {n} #{i}")))
                            .unwrap();
                    }
                    let email = st
                        .customers()
                        .create(NewCustomer::new(format!("Claimant {n}")).email("one@example.com"));
                    let won_email = match email {
                        Ok(_) => 1,
                        Err(e) if e.is_already_exists() => 0,
                        Err(e) => panic!("unexpected: {e}"),
                    };
                    let update = st.customers().update(
                        target.id,
                        target.version,
                        CustomerPatch::default().company(format!("Company {n}")),
                    );
                    let won_update = match update {
                        Ok(_) => 1,
                        Err(e) if e.is_conflict() => 0,
                        Err(e) => panic!("unexpected: {e}"),
                    };
                    (n, won_email, won_update)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        results.iter().map(|r| r.1).sum::<usize>(),
        1,
        "one claimant got the email"
    );
    assert_eq!(
        results.iter().map(|r| r.2).sum::<usize>(),
        1,
        "one update won the version"
    );
    let v = store.verify_audit().unwrap();
    assert!(v.broken.is_none(), "{v:?}");
    // 1 contested create + 80 creates + 1 email winner + 1 update.
    assert_eq!(v.entries, 83);
    assert!(store.check().unwrap().is_ok());
}

#[test]
fn a_foreign_or_newer_postgres_database_is_refused_with_nothing_written() {
    let Some(cluster) = cluster() else { return };
    // Another application's database.
    let foreign = cluster.empty_database();
    cluster.psql(
        &foreign,
        "CREATE TABLE invoices (id int PRIMARY KEY); INSERT INTO invoices VALUES (1)",
    );
    let err = Store::open_postgres(&cluster.connection(&foreign)).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::ForeignDatabase { .. }),
        "{err}"
    );
    assert_eq!(
        cluster.psql(&foreign, "SELECT string_agg(table_name, ',') FROM information_schema.tables WHERE table_schema = 'public'").trim(),
        "invoices",
        "nothing was created"
    );
    // A database from a newer custdb.
    let (newer, store) = postgres_store(cluster);
    drop(store);
    cluster.psql(
        &newer,
        "INSERT INTO custdb_migrations VALUES (99, 'future', 'x', now())",
    );
    let err = Store::open_postgres(&cluster.connection(&newer)).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::SchemaTooNew { found: 99, .. }),
        "{err}"
    );
    // A database whose baseline differs from the shipped one.
    let (changed, store) = postgres_store(cluster);
    drop(store);
    cluster.psql(&changed, "UPDATE custdb_migrations SET checksum = 'abc'");
    let err = Store::open_postgres(&cluster.connection(&changed)).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::MigrationMismatch { .. }),
        "{err}"
    );
}

#[test]
fn a_read_only_postgres_store_reads_and_refuses_writes() {
    let Some(cluster) = cluster() else { return };
    let empty = cluster.empty_database();
    let err = Store::open_postgres_with(
        &cluster.connection(&empty),
        Options::default().read_only(true),
    )
    .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::SchemaTooOld { found: 0, .. }),
        "{err}"
    );
    assert_eq!(
        cluster
            .psql(
                &empty,
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            )
            .trim(),
        "0",
        "a read-only open migrates nothing"
    );
    let (name, store) = postgres_store(cluster);
    let ann = store.customers().create(NewCustomer::new("Ann")).unwrap();
    let reader = Store::open_postgres_with(
        &cluster.connection(&name),
        Options::default().read_only(true),
    )
    .unwrap();
    assert_eq!(reader.customers().get(ann.id).unwrap().display_name, "Ann");
    let err = reader
        .customers()
        .create(NewCustomer::new("Bob"))
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::ReadOnly), "{err}");
}

#[test]
fn servers_starting_at_once_migrate_once() {
    let Some(cluster) = cluster() else { return };
    let name = cluster.empty_database();
    let connection = cluster.connection(&name);
    let stores: Vec<Store> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| Store::open_postgres(&connection).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // One row per migration of the PostgreSQL track (7, the baseline, to
    // the latest), each written once.
    let track = custdb::schema::LATEST_VERSION - 6;
    assert_eq!(
        cluster
            .psql(
                &name,
                "SELECT count(*) || ' ' || count(DISTINCT version) FROM custdb_migrations"
            )
            .trim(),
        format!("{track} {track}")
    );
    stores[0]
        .customers()
        .create(NewCustomer::new("After"))
        .unwrap();
    assert_eq!(stores[3].customers().search("after", 5).unwrap().len(), 1);
}

#[test]
fn what_exists_only_on_files_is_typed_unsupported_on_postgres() {
    let Some(cluster) = cluster() else { return };
    let (name, store) = postgres_store(cluster);
    let dir = tempfile::tempdir().unwrap();
    for err in [
        store
            .backup_to(dir.path().join("b.db"), |_| {})
            .unwrap_err(),
        store.vacuum_into(dir.path().join("v.db")).unwrap_err(),
        store.checkpoint().unwrap_err(),
    ] {
        match err.kind() {
            ErrorKind::Unsupported {
                engine, instead, ..
            } => {
                assert_eq!(*engine, "PostgreSQL");
                assert!(!instead.is_empty());
            }
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }
    assert!(store
        .backup_to(dir.path().join("b.db"), |_| {})
        .unwrap_err()
        .to_string()
        .contains("pg_dump"));
    let connection = cluster.connection(&name);
    for options in [
        Options::default().encryption_key("secret"),
        Options::default().max_size_bytes(10 << 20),
    ] {
        let err = Store::open_postgres_with(&connection, options).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Unsupported { .. }), "{err}");
    }
}

#[test]
fn a_password_never_shows_in_errors_or_debug_output() {
    let Some(cluster) = cluster() else { return };
    // Nothing listens on this port: the connection fails.
    let connection = format!(
        "host=127.0.0.1 port={} user=postgres password=Sup3rSecretPw dbname=x connect_timeout=2",
        cluster.port() + 1
    );
    let err = Store::open_postgres(&connection).unwrap_err();
    assert!(!err.to_string().contains("Sup3rSecretPw"), "{err}");
    assert!(!format!("{err:?}").contains("Sup3rSecretPw"), "{err:?}");
    let url = "postgresql://postgres:Sup3rSecretPw@127.0.0.1:1/x?connect_timeout=1";
    let err = Store::open_postgres(url).unwrap_err();
    assert!(
        !format!("{err} {err:?}").contains("Sup3rSecretPw"),
        "{err:?}"
    );
    let err = Store::open_postgres("host=x port=notaport password=Sup3rSecretPw").unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Invalid { .. }), "{err}");
    assert!(
        !format!("{err} {err:?}").contains("Sup3rSecretPw"),
        "{err:?}"
    );
    // A working store's Debug.
    let (name, _) = postgres_store(cluster);
    cluster.psql("postgres", "ALTER USER postgres PASSWORD 'Sup3rSecretPw'");
    let store = Store::open_postgres(&format!(
        "{} password=Sup3rSecretPw",
        cluster.connection(&name)
    ))
    .unwrap();
    assert!(!format!("{store:?}").contains("Sup3rSecretPw"), "{store:?}");
}

#[test]
fn a_unit_of_work_reads_its_own_trail_on_every_engine() {
    for (engine, store, _dir) in engines() {
        let before = store.read(|r| r.audit().count()).unwrap();
        let (ann, cid) = store
            .write(|tx| {
                let ann = tx.customers().create(NewCustomer::new("Ann"))?;
                // On PostgreSQL the entry is held for the commit; reading
                // the trail inside the unit of work inserts it first.
                assert_eq!(tx.audit().count()?, before + 1, "{engine}");
                let about = tx.audit().for_entity("customer", &ann.id.to_string(), 10)?;
                assert_eq!(about.len(), 1, "{engine}");
                // A refused operation leaves nothing in the trail.
                let err = tx
                    .customers()
                    .create(NewCustomer::new("Bad").email("not an email"))
                    .unwrap_err();
                assert!(matches!(err.kind(), ErrorKind::Invalid { .. }), "{engine}");
                let cid = tx.customers().create(NewCustomer::new("Cid"))?;
                assert_eq!(tx.audit().count()?, before + 2, "{engine}");
                assert!(tx.audit().verify()?.broken.is_none(), "{engine}");
                Ok::<_, custdb::Error>((ann, cid))
            })
            .unwrap();
        // A unit of work that reads its trail and then fails leaves nothing.
        let err = store
            .write(|tx| {
                tx.customers().create(NewCustomer::new("Gone"))?;
                assert_eq!(tx.audit().count()?, before + 3, "{engine}");
                tx.customers()
                    .create(NewCustomer::new("Bad").email("not an email"))?;
                Ok::<_, custdb::Error>(())
            })
            .unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Invalid { .. }), "{engine}");
        let v = store.verify_audit().unwrap();
        assert!(v.broken.is_none(), "{engine}: {v:?}");
        assert_eq!(v.entries, before + 2, "{engine}");
        let ids: Vec<String> = store
            .read(|r| r.audit().query(&AuditFilter::default(), None, 100))
            .unwrap()
            .items
            .into_iter()
            .map(|e| e.entity_id)
            .collect();
        assert!(ids.contains(&ann.id.to_string()) && ids.contains(&cid.id.to_string()));
        assert!(store.check().unwrap().is_ok(), "{engine}");
    }
}

/// The synchronous postgres client drives a runtime of its own, which
/// tokio refuses to start or drop on a thread that runs async tasks. A
/// PostgreSQL store called straight from async code must not panic: on a
/// multi-thread runtime it works (custdb steps aside with
/// `block_in_place`); on a current-thread runtime, which has no other
/// thread to hand its tasks to, a call is a typed `Unsupported` naming the
/// async facade; opening and dropping the store work on both.
#[test]
fn a_postgres_store_called_from_async_tasks_never_panics() {
    let Some(cluster) = cluster() else { return };
    let (name, _) = postgres_store(cluster);
    let connection = cluster.connection(&name);

    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let conn = connection.clone();
    multi.block_on(async move {
        let store = Store::open_postgres(&conn).unwrap();
        let tasks: Vec<_> = (0..4)
            .map(|n| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .customers()
                        .create(NewCustomer::new(format!("Async {n}")))
                        .unwrap()
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let count = store.read(|r| r.audit().count()).unwrap();
        assert_eq!(count, 4);
        drop(store);
    });

    let single = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    single.block_on(async move {
        let store = Store::open_postgres(&connection).unwrap();
        let err = store
            .customers()
            .create(NewCustomer::new("Blocked"))
            .unwrap_err();
        match err.kind() {
            ErrorKind::Unsupported { instead, .. } => {
                assert!(instead.contains("AsyncStore"), "{instead}")
            }
            other => panic!("{other:?}"),
        }
        // Work handed to a blocking thread runs.
        let s = store.clone();
        tokio::task::spawn_blocking(move || s.customers().create(NewCustomer::new("Fine")))
            .await
            .unwrap()
            .unwrap();
        drop(store);
    });
}

/// The catalog: products, variants, SKU and barcode uniqueness, versions,
/// archiving, pages; a transcript that must be the same on every engine.
fn catalog_script(store: &Store) -> Vec<String> {
    use custdb::{Currency, Decimal, NewProduct, NewVariant, VariantPatch};
    let mut log = Vec::new();
    let tea = store
        .catalog()
        .create_product(
            NewProduct::new("Tea")
                .description("Loose leaf")
                .variant(
                    NewVariant::new("TEA-100", Decimal::new(450, 2), Currency::GBP)
                        .title("100 g")
                        .option("weight", "100 g")
                        .barcode("5012345678900"),
                )
                .variant(NewVariant::new(
                    "TEA-250",
                    Decimal::new(995, 2),
                    Currency::GBP,
                )),
        )
        .unwrap();
    log.push(format!(
        "tea: {} {:?} {} variants, v{}",
        tea.name,
        tea.description,
        tea.variants.len(),
        tea.version
    ));
    for v in &tea.variants {
        log.push(format!(
            "variant {} {:?} {:?} {:?} {} track {} backorder {}",
            v.sku, v.title, v.options, v.barcode, v.price, v.track_stock, v.allow_backorder
        ));
    }
    let dup = store
        .catalog()
        .create_product(NewProduct::new("Copy").variant(NewVariant::new(
            "TEA-100",
            Decimal::ONE,
            Currency::GBP,
        )));
    log.push(format!("duplicate sku: {}", dup.unwrap_err()));
    let dup =
        store
            .catalog()
            .create_product(NewProduct::new("Copy").variant(
                NewVariant::new("OTHER", Decimal::ONE, Currency::GBP).barcode("5012345678900"),
            ));
    log.push(format!("duplicate barcode: {}", dup.unwrap_err()));
    let bad = store
        .catalog()
        .create_product(NewProduct::new("Bad").variant(NewVariant::new(
            " ",
            Decimal::ONE,
            Currency::GBP,
        )));
    log.push(format!("bad: {}", bad.unwrap_err()));
    let coffee = store
        .catalog()
        .create_product(NewProduct::new("Coffee"))
        .unwrap();
    let beans = store
        .catalog()
        .add_variant(
            coffee.id,
            NewVariant::new("COF-1", Decimal::new(1200, 2), Currency::EUR),
        )
        .unwrap();
    let updated = store
        .catalog()
        .update_variant(
            beans.id,
            beans.version,
            VariantPatch::default()
                .price(Decimal::new(1350, 2))
                .title("1 kg"),
        )
        .unwrap();
    log.push(format!(
        "updated: {} {:?} v{}",
        updated.price, updated.title, updated.version
    ));
    let stale = store.catalog().update_variant(
        beans.id,
        beans.version,
        VariantPatch::default().price(Decimal::ONE),
    );
    log.push(without_ids(&format!("stale: {}", stale.unwrap_err())));
    let by_sku = store.catalog().variant_by_sku(" COF-1 ").unwrap();
    let by_barcode = store.catalog().variant_by_barcode("5012345678900").unwrap();
    log.push(format!(
        "by sku {} by barcode {}",
        by_sku.sku, by_barcode.sku
    ));
    log.push(format!(
        "unknown sku: {}",
        store.catalog().variant_by_sku("NOPE").unwrap_err()
    ));
    let archived = store.catalog().archive_product(coffee.id).unwrap();
    log.push(format!(
        "archived: {} variants archived {}",
        archived.archived_at.is_some(),
        archived.variants.iter().all(|v| v.is_archived())
    ));
    let late = store.catalog().add_variant(
        coffee.id,
        NewVariant::new("COF-2", Decimal::ONE, Currency::EUR),
    );
    log.push(without_ids(&format!(
        "add to archived: {}",
        late.unwrap_err()
    )));
    for state in [
        ArchiveState::Active,
        ArchiveState::Archived,
        ArchiveState::All,
    ] {
        let mut names = Vec::new();
        let mut cursor = None;
        loop {
            let page = store.catalog().products(state, cursor.as_ref(), 1).unwrap();
            names.extend(
                page.items
                    .iter()
                    .map(|p| format!("{}({})", p.name, p.variants.len())),
            );
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        log.push(format!("{state:?}: {names:?}"));
    }
    let report = store.check().unwrap();
    log.push(format!("check: {}", report.is_ok()));
    log
}

/// `text` with every UUID replaced by `<id>`: ids differ between runs.
fn without_ids(text: &str) -> String {
    let is_uuid = |w: &[u8]| {
        w.len() == 36
            && w.iter().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => *b == b'-',
                _ => b.is_ascii_hexdigit(),
            })
    };
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        if i + 36 <= bytes.len() && is_uuid(&bytes[i..i + 36]) {
            out.push_str("<id>");
            i += 36;
        } else {
            let c = text[i..].chars().next().unwrap_or_default();
            out.push(c);
            i += c.len_utf8().max(1);
        }
    }
    out
}

/// Four more stores on the database `name` (as four servers would open
/// it), released together at a barrier to run `f`; returns what each
/// returned.
fn on_four_servers<T: Send>(
    cluster: &Cluster,
    name: &str,
    f: impl Fn(&Store) -> T + Sync,
) -> Vec<T> {
    let connection = cluster.connection(name);
    let stores: Vec<Store> = (0..4)
        .map(|_| Store::open_postgres(&connection).unwrap())
        .collect();
    let barrier = std::sync::Barrier::new(stores.len());
    std::thread::scope(|s| {
        let handles: Vec<_> = stores
            .iter()
            .map(|st| {
                let (barrier, f) = (&barrier, &f);
                s.spawn(move || {
                    barrier.wait();
                    f(st)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn the_catalog_behaves_the_same_on_every_engine() {
    let transcript = same_on_every_engine(catalog_script);
    assert!(
        transcript.iter().any(|l| l == "check: true"),
        "{transcript:?}"
    );
}

#[test]
fn several_servers_racing_for_one_sku_on_postgres() {
    use custdb::{Currency, Decimal, NewProduct, NewVariant};
    let Some(cluster) = cluster() else { return };
    let (name, store) = postgres_store(cluster);
    let product = store
        .catalog()
        .create_product(NewProduct::new("Contested"))
        .unwrap();
    let won: usize = on_four_servers(cluster, &name, |st| {
        match st.catalog().add_variant(
            product.id,
            NewVariant::new("ONE-SKU", Decimal::ONE, Currency::GBP),
        ) {
            Ok(_) => 1,
            Err(e) if e.is_already_exists() => 0,
            Err(e) => panic!("unexpected: {e}"),
        }
    })
    .into_iter()
    .sum();
    assert_eq!(won, 1, "one server added the SKU");
    assert_eq!(
        store.catalog().product(product.id).unwrap().variants.len(),
        1
    );
    assert!(store.check().unwrap().is_ok());
}

/// Inventory: warehouses, the ledger (receipts, adjustments, counts,
/// transfers), reservations with expiry, shortfalls, levels, pages of
/// movements, replenishment reports; the same transcript on every engine.
fn inventory_script(store: &Store) -> Vec<String> {
    use custdb::{Currency, Decimal, NewProduct, NewVariant, NewWarehouse, ReplenishmentRule};
    let mut log = Vec::new();
    let product = store
        .catalog()
        .create_product(
            NewProduct::new("Tea")
                .variant(NewVariant::new("TEA", Decimal::new(450, 2), Currency::GBP))
                .variant(
                    NewVariant::new("MUG", Decimal::new(800, 2), Currency::GBP).track_stock(false),
                ),
        )
        .unwrap();
    let (tea, mug) = (&product.variants[0], &product.variants[1]);
    let main = store
        .inventory()
        .create_warehouse(NewWarehouse::new("main", "Main").priority(1))
        .unwrap();
    let north = store
        .inventory()
        .create_warehouse(NewWarehouse::new("NORTH", "North").priority(2))
        .unwrap();
    log.push(format!(
        "warehouses: {} {} {}",
        main.code, north.code, main.priority
    ));
    let dup = store
        .inventory()
        .create_warehouse(NewWarehouse::new("Main", "Again"));
    log.push(without_ids(&format!(
        "duplicate code: {}",
        dup.unwrap_err()
    )));
    let inv = store.inventory();
    let m = inv.receive(tea.id, main.id, 10).unwrap();
    log.push(format!(
        "receipt: {:?} {} {}",
        m.kind,
        m.on_hand_delta,
        m.seq > 0
    ));
    inv.adjust(tea.id, main.id, -2, "damaged").unwrap();
    log.push(format!(
        "count: {:?}",
        inv.count(tea.id, main.id, 7)
            .unwrap()
            .map(|m| m.on_hand_delta)
    ));
    log.push(format!(
        "count same: {:?}",
        inv.count(tea.id, main.id, 7).unwrap().is_some()
    ));
    inv.transfer(tea.id, main.id, north.id, 3).unwrap();
    let short = inv.adjust(tea.id, main.id, -5, "lost");
    log.push(without_ids(&format!("shortfall: {}", short.unwrap_err())));
    let untracked = inv.receive(mug.id, main.id, 1);
    log.push(without_ids(&format!(
        "untracked: {}",
        untracked.unwrap_err()
    )));
    let now = chrono::Utc::now();
    let held = inv
        .reserve(tea.id, main.id, 3, Some(now + Duration::hours(1)))
        .unwrap();
    log.push(format!(
        "reserved: {} open {} expires {}",
        held.quantity,
        held.open_quantity,
        held.expires_at.is_some()
    ));
    let over = inv.reserve(tea.id, main.id, 2, None);
    log.push(without_ids(&format!("over-reserve: {}", over.unwrap_err())));
    let level = inv.level(tea.id, main.id).unwrap();
    log.push(format!(
        "level main: on_hand {} reserved {} available {}",
        level.on_hand, level.reserved, level.available
    ));
    log.push(format!(
        "released later: {}",
        inv.release_expired(now + Duration::hours(2)).unwrap()
    ));
    let after = inv.reservation(held.id).unwrap();
    log.push(format!(
        "after expiry: open {} reason {:?} closed {}",
        after.open_quantity,
        after.closed_reason,
        after.closed_at.is_some()
    ));
    let kept = inv.reserve(tea.id, north.id, 1, None).unwrap();
    let released = inv.release(kept.id).unwrap();
    log.push(format!("released: {:?}", released.closed_reason));
    log.push(without_ids(&format!(
        "release twice: {}",
        inv.release(kept.id).unwrap_err()
    )));
    log.push(format!("available: {}", inv.available(tea.id).unwrap()));
    for l in inv.levels(tea.id).unwrap() {
        log.push(format!(
            "level {} {} {}",
            l.warehouse_code, l.on_hand, l.available
        ));
    }
    let mut kinds = Vec::new();
    let mut cursor = None;
    loop {
        let page = inv.movements(tea.id, cursor.as_ref(), 3).unwrap();
        kinds.extend(
            page.items
                .iter()
                .map(|m| format!("{:?}{:+}/{:+}", m.kind, m.on_hand_delta, m.reserved_delta)),
        );
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    log.push(format!("ledger: {kinds:?}"));
    inv.set_replenishment_rule(
        tea.id,
        main.id,
        ReplenishmentRule {
            reorder_point: 5,
            target_level: 20,
            order_multiple: 6,
        },
    )
    .unwrap();
    inv.set_replenishment_rule(
        tea.id,
        north.id,
        ReplenishmentRule {
            reorder_point: 0,
            target_level: 1,
            order_multiple: 1,
        },
    )
    .unwrap();
    for line in inv.replenishment_suggestions().unwrap() {
        log.push(format!(
            "suggest {} {}",
            line.level.warehouse_code, line.quantity
        ));
    }
    for line in inv.overstock().unwrap() {
        log.push(format!(
            "overstock {} {}",
            line.level.warehouse_code, line.quantity
        ));
    }
    let bad_rule = inv.set_replenishment_rule(
        tea.id,
        main.id,
        ReplenishmentRule {
            reorder_point: 5,
            target_level: 5,
            order_multiple: 1,
        },
    );
    log.push(format!("bad rule: {}", bad_rule.unwrap_err()));
    log.push(format!("check: {}", store.check().unwrap().is_ok()));
    log
}

#[test]
fn inventory_behaves_the_same_on_every_engine() {
    let transcript = same_on_every_engine(inventory_script);
    assert!(
        transcript.iter().any(|l| l == "check: true"),
        "{transcript:?}"
    );
}

/// Four servers reserve one unit at a time from scarce stock: exactly the
/// stock is reserved, every other attempt is the typed shortfall, and the
/// balance never goes below zero.
#[test]
fn several_servers_reserving_scarce_stock_on_postgres() {
    use custdb::{Currency, Decimal, NewProduct, NewVariant, NewWarehouse};
    let Some(cluster) = cluster() else { return };
    let (name, store) = postgres_store(cluster);
    let product = store
        .catalog()
        .create_product(NewProduct::new("Hot").variant(NewVariant::new(
            "HOT",
            Decimal::ONE,
            Currency::GBP,
        )))
        .unwrap();
    let variant = product.variants[0].id;
    let warehouse = store
        .inventory()
        .create_warehouse(NewWarehouse::new("W", "Warehouse"))
        .unwrap()
        .id;
    store.inventory().receive(variant, warehouse, 25).unwrap();
    let reserved: usize = on_four_servers(cluster, &name, |st| {
        let mut got = 0;
        for _ in 0..10 {
            match st.inventory().reserve(variant, warehouse, 1, None) {
                Ok(_) => got += 1,
                Err(e) if matches!(e.kind(), ErrorKind::Shortfall { .. }) => {}
                Err(e) => panic!("unexpected: {e}"),
            }
        }
        got
    })
    .into_iter()
    .sum();
    assert_eq!(reserved, 25, "exactly the stock was reserved");
    let level = store.inventory().level(variant, warehouse).unwrap();
    assert_eq!(
        (level.on_hand, level.reserved, level.available),
        (25, 25, 0)
    );
    let report = store.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

/// Customers exported as CSV and JSON Lines from each engine: the same
/// rows and fields (ids and times aside, which differ between runs).
fn export_script(store: &Store) -> Vec<String> {
    let mut log = Vec::new();
    for n in 0..5 {
        store
            .customers()
            .create(
                NewCustomer::new(format!("Customer {n}"))
                    .email(format!("c{n}@example.com"))
                    .tag("export")
                    .attribute("rank", serde_json::json!(n)),
            )
            .unwrap();
    }
    let mut csv = Vec::new();
    let rows = store.export_customers_csv(&mut csv).unwrap().rows;
    log.push(format!("csv rows: {rows}"));
    let csv = String::from_utf8(csv).unwrap();
    let mut lines: Vec<&str> = csv.lines().collect();
    log.push(format!("header: {}", lines.remove(0)));
    let mut fields: Vec<String> = lines
        .iter()
        .map(|l| {
            // Columns 1 to 12: the fields, without the id and the times.
            let columns: Vec<&str> = l.split(',').collect();
            columns[1..13].join(",")
        })
        .collect();
    fields.sort();
    log.extend(fields);
    let mut jsonl = Vec::new();
    let rows = store.export_customers_jsonl(&mut jsonl).unwrap().rows;
    let mut names: Vec<String> = String::from_utf8(jsonl)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!("{} {} {}", v["display_name"], v["tags"], v["attributes"])
        })
        .collect();
    names.sort();
    log.push(format!("jsonl rows: {rows}"));
    log.extend(names);
    log
}

#[test]
fn customer_exports_are_the_same_on_every_engine() {
    let transcript = same_on_every_engine(export_script);
    assert!(
        transcript.contains(&"csv rows: 5".to_owned()),
        "{transcript:?}"
    );
    assert!(
        transcript.contains(&"jsonl rows: 5".to_owned()),
        "{transcript:?}"
    );
}

/// A variant with `units` in each of two warehouses, on a fresh PostgreSQL
/// database; returns the database's name, the store and the ids.
fn two_stocked_warehouses(
    cluster: &Cluster,
    units: i64,
) -> (
    String,
    Store,
    custdb::VariantId,
    custdb::WarehouseId,
    custdb::WarehouseId,
) {
    use custdb::{Currency, Decimal, NewProduct, NewVariant, NewWarehouse};
    let (name, store) = postgres_store(cluster);
    let product = store
        .catalog()
        .create_product(NewProduct::new("Tea").variant(NewVariant::new(
            "TEA",
            Decimal::ONE,
            Currency::GBP,
        )))
        .unwrap();
    let v = product.variants[0].id;
    let a = store
        .inventory()
        .create_warehouse(NewWarehouse::new("A", "A"))
        .unwrap()
        .id;
    let b = store
        .inventory()
        .create_warehouse(NewWarehouse::new("B", "B"))
        .unwrap()
        .id;
    store.inventory().receive(v, a, units).unwrap();
    store.inventory().receive(v, b, units).unwrap();
    (name, store, v, a, b)
}

/// Two units of work that lock the same two balances in opposite orders
/// deadlock; PostgreSQL aborts one. custdb reports it as a retryable
/// `Contention` with nothing written, and running it again succeeds.
#[test]
fn a_deadlock_is_a_retryable_contention_on_postgres() {
    let Some(cluster) = cluster() else { return };
    let (_, store, v, a, b) = two_stocked_warehouses(cluster, 10);
    let barrier = std::sync::Barrier::new(2);
    let results: Vec<custdb::Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = [(a, b), (b, a)]
            .into_iter()
            .map(|(first, second)| {
                let (store, barrier) = (&store, &barrier);
                s.spawn(move || {
                    store.write(|tx| {
                        tx.inventory().adjust(v, first, 1, "first")?;
                        barrier.wait();
                        tx.inventory().adjust(v, second, 1, "second")?;
                        Ok(())
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let failed: Vec<&custdb::Error> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(failed.len(), 1, "{results:?}");
    assert!(failed[0].is_retryable(), "{}", failed[0]);
    assert!(
        matches!(failed[0].kind(), ErrorKind::Contention { .. }),
        "{}",
        failed[0]
    );
    // The loser wrote nothing: one unit of work's two units are there.
    let total = |store: &Store| store.inventory().available(v).unwrap();
    assert_eq!(total(&store), 22);
    store
        .write(|tx| {
            tx.inventory().adjust(v, b, 1, "again")?;
            tx.inventory().adjust(v, a, 1, "again")
        })
        .unwrap();
    assert_eq!(total(&store), 24);
    assert!(store.check().unwrap().is_ok());
}

/// Transfers one way and the other at once, as one-shot calls: custdb
/// locks both balances in one fixed order (and would run a one-shot call
/// again after a collision), so every transfer succeeds and the stock is
/// conserved.
#[test]
fn opposite_transfers_at_once_all_succeed_on_postgres() {
    let Some(cluster) = cluster() else { return };
    let (_, store, v, a, b) = two_stocked_warehouses(cluster, 100);
    std::thread::scope(|s| {
        for (from, to) in [(a, b), (b, a), (a, b), (b, a)] {
            let store = &store;
            s.spawn(move || {
                for _ in 0..15 {
                    store.inventory().transfer(v, from, to, 1).unwrap();
                }
            });
        }
    });
    let levels = store.inventory().levels(v).unwrap();
    assert_eq!(levels.iter().map(|l| l.on_hand).sum::<i64>(), 200);
    assert_eq!(
        levels.iter().map(|l| l.on_hand).collect::<Vec<_>>(),
        vec![100, 100]
    );
    assert!(store.check().unwrap().is_ok());
}

/// Orders from placement to refund: idempotent placement, partial and
/// authorised payments, partial shipment, delivery, a return, refunds, a
/// cancellation, a credit note, a historical order, every listing over
/// them and the order exports (CSV, JSON Lines); the same transcript on
/// every engine.
fn orders_script(store: &Store) -> Vec<String> {
    use custdb::{
        Currency, Decimal, HistoricalLine, HistoricalOrder, NewCreditNote, NewOrder, NewOrderLine,
        NewPayment, NewProduct, NewRefund, NewReturn, NewReturnLine, NewShipment, NewVariant,
        NewWarehouse, OrderStatus, PaymentMethod,
    };
    let d = |s: &str| s.parse::<Decimal>().unwrap();
    let mut log = Vec::new();
    let ann = store
        .customers()
        .create(NewCustomer::new("Ann").email("ann@example.com"))
        .unwrap();
    store
        .customers()
        .add_address(
            ann.id,
            NewAddress::new(AddressKind::Shipping, "1 High St", "Bath", "GB"),
        )
        .unwrap();
    let product = store
        .catalog()
        .create_product(
            NewProduct::new("Tea")
                .variant(NewVariant::new("TEA", d("4.50"), Currency::GBP).title("Loose"))
                .variant(NewVariant::new("MUG", d("0.3333"), Currency::GBP))
                .variant(NewVariant::new("CARD", d("10"), Currency::GBP).track_stock(false)),
        )
        .unwrap();
    let (tea, mug, card) = (
        &product.variants[0],
        &product.variants[1],
        &product.variants[2],
    );
    let w = store
        .inventory()
        .create_warehouse(NewWarehouse::new("main", "Main"))
        .unwrap();
    store.inventory().receive(tea.id, w.id, 10).unwrap();
    store.inventory().receive(mug.id, w.id, 5).unwrap();
    let new = || {
        NewOrder::for_customer(ann.id, Currency::GBP)
            .line(NewOrderLine::new("TEA", 3).tax_rate(d("0.2")))
            .line(NewOrderLine::new("MUG", 2).discount(d("0.10")))
            .line(NewOrderLine::new("CARD", 1))
            .shipping(d("3.95"))
            .idempotency_key("basket-1")
    };
    let order = store.orders().place(new()).unwrap();
    let again = store.orders().place(new()).unwrap();
    log.push(format!(
        "placed: #{} {:?} {} {} {} lines {} same again {}",
        order_ranks(store)[&order.number],
        order.status,
        order.subtotal,
        order.tax_total,
        order.total,
        order.lines.len(),
        again == order
    ));
    log.push(format!(
        "ship to: {:?}; titles: {:?}",
        order.shipping_address.as_ref().map(|a| &a.city),
        order.lines.iter().map(|l| &l.title).collect::<Vec<_>>()
    ));
    let other = store
        .orders()
        .place(
            NewOrder::for_customer(ann.id, Currency::GBP)
                .line(NewOrderLine::new("TEA", 1))
                .idempotency_key("basket-1"),
        )
        .unwrap_err();
    log.push(without_ids(&format!("other request, same key: {other}")));
    let short = store
        .orders()
        .place(
            NewOrder::for_guest("g@example.com", Currency::GBP).line(NewOrderLine::new("TEA", 8)),
        )
        .unwrap_err();
    log.push(format!("short: {short}"));
    let level = store.inventory().level(tea.id, w.id).unwrap();
    log.push(format!("tea: {} {}", level.reserved, level.available));
    let auth = store
        .orders()
        .authorize_payment(
            order.id,
            NewPayment::new(PaymentMethod::Card, d("10")).provider("stripe", "pi_1"),
        )
        .unwrap();
    store.orders().fail_payment(auth.id).unwrap();
    let auth = store
        .orders()
        .authorize_payment(order.id, NewPayment::new(PaymentMethod::Card, d("10")))
        .unwrap();
    store.orders().capture_payment(auth.id).unwrap();
    let over = store
        .orders()
        .pay(order.id, NewPayment::new(PaymentMethod::Card, d("1000")))
        .unwrap_err();
    log.push(format!("overpay: {over}"));
    let rest = order.total.amount - d("10");
    store
        .orders()
        .pay(order.id, NewPayment::new(PaymentMethod::Cash, rest))
        .unwrap();
    let shipped = store
        .orders()
        .ship(
            order.id,
            NewShipment::everything("DHL", "T1").line("TEA", 2),
        )
        .unwrap();
    log.push(format!("shipment: {:?}", shipped.lines));
    store
        .orders()
        .ship(order.id, NewShipment::everything("DHL", "T2"))
        .unwrap();
    store.orders().mark_delivered(order.id).unwrap();
    let back = store
        .orders()
        .return_items(
            order.id,
            NewReturn::new("too strong").line(NewReturnLine::restocked("TEA", 1)),
        )
        .unwrap();
    log.push(format!("returned: {:?}", back.lines.len()));
    let refunds = store
        .orders()
        .refund(order.id, NewRefund::new(d("12.00"), "goodwill"))
        .unwrap();
    log.push(format!(
        "refunds: {:?}",
        refunds
            .iter()
            .map(|r| r.amount.to_string())
            .collect::<Vec<_>>()
    ));
    let got = store.orders().get(order.id).unwrap();
    log.push(format!(
        "order: {:?} paid {} refunded {} shipped {:?} returned {:?} v{}",
        got.status,
        got.paid,
        got.refunded,
        got.lines
            .iter()
            .map(|l| l.quantity_shipped)
            .collect::<Vec<_>>(),
        got.lines
            .iter()
            .map(|l| l.quantity_returned)
            .collect::<Vec<_>>(),
        got.version
    ));
    log.push(format!(
        "events: {:?}",
        store
            .orders()
            .events(order.id)
            .unwrap()
            .iter()
            .map(|e| format!("{}:{:?}", e.kind, e.to_status))
            .collect::<Vec<_>>()
    ));
    log.push(format!(
        "payments: {:?}",
        store
            .orders()
            .payments(order.id)
            .unwrap()
            .iter()
            .map(|p| format!("{:?} {} {}", p.status, p.amount, p.refunded))
            .collect::<Vec<_>>()
    ));
    log.push(format!(
        "shipments: {}; returns: {}; refunds: {}",
        store.orders().shipments(order.id).unwrap().len(),
        store.orders().returns(order.id).unwrap().len(),
        store.orders().refunds(order.id).unwrap().len()
    ));
    let cancelled = store
        .orders()
        .place(
            NewOrder::for_guest("Guest@Example.com", Currency::GBP)
                .line(NewOrderLine::new("MUG", 1)),
        )
        .unwrap();
    store.orders().cancel(cancelled.id, "changed mind").unwrap();
    let late = store
        .orders()
        .ship(cancelled.id, NewShipment::everything("DHL", "X"))
        .unwrap_err();
    log.push(without_ids(&format!("ship a cancelled order: {late}")));
    let note = store
        .orders()
        .issue_credit_note(&NewCreditNote {
            customer_id: Some(ann.id),
            currency: Currency::GBP,
            amount: d("5"),
            reason: "late delivery".into(),
            lines: serde_json::json!([{"sku": "TEA"}]),
            country: Some("gb".into()),
            issued_at: Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap(),
            to_store_credit: false,
        })
        .unwrap();
    log.push(format!(
        "credit note: {} {} {:?} {}",
        note.amount, note.reason, note.country, note.lines
    ));
    let historical = store
        .orders()
        .record_historical(&HistoricalOrder {
            customer_id: Some(ann.id),
            guest_email: None,
            currency: Currency::GBP,
            country: Some("FR".into()),
            placed_at: Utc.with_ymd_and_hms(2020, 1, 2, 3, 4, 5).unwrap(),
            lines: vec![HistoricalLine {
                variant_id: card.id,
                quantity: 2,
                unit_price: d("9.99"),
            }],
            shipping: Decimal::ZERO,
        })
        .unwrap();
    let h = store.orders().get(historical).unwrap();
    // Numbers by rank: a sequence (PostgreSQL) leaves a gap where the
    // shortfall above rolled back, the file's max() + 1 does not.
    let rank = order_ranks(store);
    log.push(format!(
        "historical: #{} {:?} {} {} {:?}",
        rank[&h.number], h.status, h.total, h.placed_at, h.country
    ));
    let by_number = store.orders().by_number(h.number).unwrap();
    log.push(format!("by number: {}", by_number.id == h.id));
    let mut numbers = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.orders().history(ann.id, cursor.as_ref(), 1).unwrap();
        numbers.extend(page.items.iter().map(|o| (rank[&o.number], o.status)));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    log.push(format!("history: {numbers:?}"));
    let cancelled_page = store
        .orders()
        .by_status(OrderStatus::Cancelled, None, 10)
        .unwrap();
    log.push(format!(
        "cancelled: {:?}",
        cancelled_page
            .items
            .iter()
            .map(|o| rank[&o.number])
            .collect::<Vec<_>>()
    ));
    log.push(format!(
        "lifetime value: {:?}",
        store
            .orders()
            .lifetime_value(ann.id)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    ));
    let sales = store
        .orders()
        .sales_by_variant(
            Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap(),
            Utc::now() + Duration::days(1),
        )
        .unwrap();
    log.push(format!(
        "sales: {:?}",
        sales
            .iter()
            .map(|s| format!(
                "{} {} {} {}",
                s.sku, s.quantity_sold, s.quantity_returned, s.revenue
            ))
            .collect::<Vec<_>>()
    ));
    let mut each = Vec::new();
    store
        .read(|r| {
            r.orders().each_order(|o| {
                each.push((rank[&o.number], o.lines.len()));
                Ok(())
            })
        })
        .unwrap();
    log.push(format!("each order: {each:?}"));
    let mut csv = Vec::new();
    let n = store.export_orders_csv(&mut csv).unwrap().rows;
    log.push(format!("order export, CSV: {n} orders"));
    let mut rows: Vec<String> = String::from_utf8(csv)
        .unwrap()
        .lines()
        .map(|line| {
            // Without the ids (columns 0 and 2) and the placement time (7),
            // the number (1) by rank.
            let columns: Vec<&str> = line.split(',').collect();
            columns
                .iter()
                .enumerate()
                .filter(|(i, _)| ![0, 2, 7].contains(i))
                .map(|(i, c)| match c.parse::<i64>() {
                    Ok(n) if i == 1 => rank[&n].to_string(),
                    _ => (*c).to_owned(),
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    rows[1..].sort();
    log.extend(rows);
    let mut jsonl = Vec::new();
    let n = store.export_orders_jsonl(&mut jsonl).unwrap().rows;
    let mut orders: Vec<String> = String::from_utf8(jsonl)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!(
                "#{} {} {} lines {}",
                rank[&v["number"].as_i64().unwrap()],
                v["status"],
                v["total"],
                v["lines"].as_array().map_or(0, Vec::len)
            )
        })
        .collect();
    orders.sort();
    log.push(format!("order export, JSON Lines: {n} orders"));
    log.extend(orders);
    let report = store.check().unwrap();
    log.push(format!("check: {}", report.is_ok()));
    log.push(format!("problems: {:?}", report.problems));
    log
}

/// Each order number's rank among the store's order numbers (1 for the
/// smallest).
fn order_ranks(store: &Store) -> std::collections::BTreeMap<i64, usize> {
    let mut numbers = Vec::new();
    store
        .read(|r| {
            r.orders().each_order(|o| {
                numbers.push(o.number);
                Ok(())
            })
        })
        .unwrap();
    numbers.sort_unstable();
    numbers.into_iter().zip(1..).collect()
}

#[test]
fn orders_behave_the_same_on_every_engine() {
    let transcript = same_on_every_engine(orders_script);
    assert!(
        transcript.iter().any(|l| l == "check: true"),
        "{transcript:?}"
    );
}

/// Four servers place orders at once whose two lines come in opposite
/// orders, while each also places one shared idempotency key: no
/// deadlock and no error but shortfalls, exactly the stock sold, order
/// numbers without a twin, and one order for the key.
#[test]
fn several_servers_placing_orders_on_postgres() {
    use custdb::{Currency, Decimal, NewOrder, NewOrderLine, NewProduct, NewVariant, NewWarehouse};
    let Some(cluster) = cluster() else { return };
    let (name, store) = postgres_store(cluster);
    store
        .catalog()
        .create_product(
            NewProduct::new("Pair")
                .variant(NewVariant::new("LEFT", Decimal::ONE, Currency::GBP))
                .variant(NewVariant::new("RIGHT", Decimal::ONE, Currency::GBP)),
        )
        .unwrap();
    let w = store
        .inventory()
        .create_warehouse(NewWarehouse::new("W", "W"))
        .unwrap();
    for sku in ["LEFT", "RIGHT"] {
        let v = store.catalog().variant_by_sku(sku).unwrap();
        store.inventory().receive(v.id, w.id, 30).unwrap();
    }
    let buyer = store.customers().create(NewCustomer::new("Buyer")).unwrap();
    let results = on_four_servers(cluster, &name, |st| {
        let keyed = st
            .orders()
            .place(
                NewOrder::for_customer(buyer.id, Currency::GBP)
                    .line(NewOrderLine::new("LEFT", 1))
                    .idempotency_key("the-same-basket"),
            )
            .unwrap()
            .id;
        let (mut sold, mut short) = (0, 0);
        for i in 0..20 {
            let (first, second) = if i % 2 == 0 {
                ("LEFT", "RIGHT")
            } else {
                ("RIGHT", "LEFT")
            };
            match st.write(|tx| {
                tx.orders().place(
                    NewOrder::for_customer(buyer.id, Currency::GBP)
                        .line(NewOrderLine::new(first, 1))
                        .line(NewOrderLine::new(second, 1)),
                )
            }) {
                Ok(_) => sold += 1,
                Err(e) if e.is_shortfall() => short += 1,
                Err(e) => panic!("unexpected: {e}"),
            }
        }
        (keyed, sold, short)
    });
    let keyed: std::collections::BTreeSet<_> = results.iter().map(|r| r.0).collect();
    assert_eq!(keyed.len(), 1, "one order for the one key");
    let sold: usize = results.iter().map(|r| r.1).sum();
    // 30 of each: one LEFT went to the keyed order, so 29 pairs sell.
    assert_eq!(sold, 29, "{results:?}");
    let mut numbers = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .orders()
            .history(buyer.id, cursor.as_ref(), 100)
            .unwrap();
        numbers.extend(page.items.iter().map(|o| o.number));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    numbers.sort_unstable();
    numbers.dedup();
    // Unique; the placements that fell short took a number too (a
    // sequence never gives one back), so there are gaps.
    assert_eq!(numbers.len(), 30, "one number each, never twice");
    assert!(numbers[0] >= 1);
    for (sku, left) in [("LEFT", 0), ("RIGHT", 1)] {
        let v = store.catalog().variant_by_sku(sku).unwrap();
        assert_eq!(store.inventory().level(v.id, w.id).unwrap().available, left);
    }
    let report = store.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

/// Four servers pay the same order in full at once: one payment is taken,
/// the others are refused as typed errors (the order is paid), never an
/// overpayment.
#[test]
fn several_servers_paying_one_order_on_postgres() {
    use custdb::{
        Currency, Decimal, NewOrder, NewOrderLine, NewPayment, NewProduct, NewVariant, OrderStatus,
        PaymentMethod,
    };
    let Some(cluster) = cluster() else { return };
    let (name, store) = postgres_store(cluster);
    store
        .catalog()
        .create_product(
            NewProduct::new("Card")
                .variant(NewVariant::new("CARD", Decimal::TEN, Currency::GBP).track_stock(false)),
        )
        .unwrap();
    let order = store
        .orders()
        .place(
            NewOrder::for_guest("g@example.com", Currency::GBP).line(NewOrderLine::new("CARD", 1)),
        )
        .unwrap();
    let paid: usize = on_four_servers(cluster, &name, |st| {
        match st.orders().pay(
            order.id,
            NewPayment::new(PaymentMethod::Card, order.total.amount),
        ) {
            Ok(_) => 1,
            Err(e) if matches!(e.kind(), ErrorKind::InvalidTransition { .. }) => 0,
            Err(e) => panic!("unexpected: {e}"),
        }
    })
    .into_iter()
    .sum();
    assert_eq!(paid, 1, "one payment taken");
    let got = store.orders().get(order.id).unwrap();
    assert_eq!((got.status, got.paid), (OrderStatus::Paid, order.total));
    assert_eq!(store.orders().payments(order.id).unwrap().len(), 1);
    assert!(store.check().unwrap().is_ok());
}

/// A hot standby (a second server made with `pg_basebackup`, streaming
/// from the primary): with `Options::read_replica`, one-shot reads and
/// `Store::read` go to it and may lag; `Store::read_fresh` and everything
/// inside a unit of work go to the primary. Replay is paused on the
/// standby to make the lag certain.
#[test]
fn reads_go_to_a_hot_standby_and_fresh_reads_to_the_primary() {
    let Some(cluster) = cluster() else { return };
    let standby = cluster.standby();
    let (name, _) = postgres_store(cluster);
    standby.catch_up(cluster);
    let store = Store::open_postgres_with(
        &cluster.connection(&name),
        Options::default().read_replica(standby.connection(&name)),
    )
    .unwrap();
    let ann = store.customers().create(NewCustomer::new("Ann")).unwrap();
    standby.catch_up(cluster);
    assert_eq!(store.customers().get(ann.id).unwrap().display_name, "Ann");

    standby
        .psql(cluster, "postgres", "SELECT pg_wal_replay_pause()")
        .unwrap();
    while standby
        .psql(
            cluster,
            "postgres",
            "SELECT pg_get_wal_replay_pause_state()",
        )
        .unwrap()
        .trim()
        != "paused"
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let bob = store.customers().create(NewCustomer::new("Bob")).unwrap();
    // The standby has not replayed Bob: reads sent there do not see him.
    let lagging = store.customers().get(bob.id).unwrap_err();
    assert!(lagging.is_not_found(), "{lagging}");
    assert!(store.read(|r| r.customers().get(bob.id)).is_err());
    // A fresh read, a unit of work and a one-shot write read the primary.
    assert_eq!(
        store
            .read_fresh(|r| r.customers().get(bob.id))
            .unwrap()
            .display_name,
        "Bob"
    );
    let updated = store
        .customers()
        .update(bob.id, 1, CustomerPatch::default().company("Acme"))
        .unwrap();
    assert_eq!(updated.version, 2);
    store
        .write(|tx| {
            assert_eq!(tx.customers().get(bob.id)?.version, 2);
            Ok::<_, custdb::Error>(())
        })
        .unwrap();
    standby
        .psql(cluster, "postgres", "SELECT pg_wal_replay_resume()")
        .unwrap();
    standby.catch_up(cluster);
    assert_eq!(
        store.customers().get(bob.id).unwrap().company.as_deref(),
        Some("Acme")
    );
    // check() and the audit verification run on the standby's snapshot.
    assert!(store.check().unwrap().is_ok());
    assert!(store.verify_audit().unwrap().broken.is_none());

    // A standby that does not hold custdb's schema is refused at open.
    let err = Store::open_postgres_with(
        &cluster.connection(&name),
        Options::default().read_replica(standby.connection("postgres")),
    )
    .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::SchemaTooOld { .. }),
        "{err}"
    );
    let err = Store::open_postgres_with(
        &cluster.connection(&name),
        Options::default().read_replica("port=notaport password=Sup3rSecretPw"),
    )
    .unwrap_err();
    assert!(
        matches!(&err.kind(), ErrorKind::Invalid { field, .. } if field == "options.read_replica"),
        "{err}"
    );
    assert!(!format!("{err} {err:?}").contains("Sup3rSecretPw"));
    let options = Options::default().read_replica("host=x password=Sup3rSecretPw");
    assert!(!format!("{options:?}").contains("Sup3rSecretPw"));
    // SQLite has no standby.
    let dir = tempfile::tempdir().unwrap();
    let err = Store::open_with(dir.path().join("x.db"), options).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Unsupported { .. }), "{err}");
}

/// The supported move from the file to a server: the committed slice of
/// the Online Retail data set imported into an SQLite file, then copied
/// into an empty PostgreSQL database. Every row arrives (per table, the
/// same counts), `check()` holds, the audit chain verifies to the same
/// head, the reports read the same, and the copy takes new writes (order
/// numbers and ledger positions go on after the copied ones).
#[test]
fn an_sqlite_store_copies_into_postgres_whole() {
    use custdb::{Currency, Decimal, NewOrder, NewOrderLine, NewProduct, NewVariant, TimeRange};
    let Some(cluster) = cluster() else { return };
    let (_dir, file) = crate::common::file_store();
    crate::common::import_retail_head(&file);
    // A merge, so that a row refers to a later row of its own table.
    let first = file
        .customers()
        .create(NewCustomer::new("Merged Later"))
        .unwrap();
    let survivor = file
        .customers()
        .create(NewCustomer::new("Survivor"))
        .unwrap();
    file.duplicates().merge(survivor.id, first.id).unwrap();
    let name = cluster.empty_database();
    let server = Store::open_postgres(&cluster.connection(&name)).unwrap();
    let mut seen = Vec::new();
    let report = file
        .copy_into(&server, |table, n| seen.push((table.to_owned(), n)))
        .unwrap();
    assert_eq!(seen.len(), report.tables.len());
    let conn = rusqlite::Connection::open(file.path().unwrap()).unwrap();
    for (table, n) in &report.tables {
        let in_file: i64 = conn
            .query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(*n, in_file as u64, "{table}");
    }
    assert!(report.tables["orders"] > 300, "{report:?}");
    assert!(report.tables["audit_log"] > 1000, "{report:?}");
    assert!(server.check().unwrap().is_ok(), "{:?}", server.check());
    let (a, b) = (file.verify_audit().unwrap(), server.verify_audit().unwrap());
    assert!(b.is_ok(), "{b:?}");
    assert_eq!((a.entries, a.head), (b.entries, b.head));
    let range = TimeRange::all();
    assert_eq!(
        file.reports().revenue_by_country(range, 50).unwrap(),
        server.reports().revenue_by_country(range, 50).unwrap()
    );
    assert_eq!(
        file.reports().counts().unwrap(),
        server.reports().counts().unwrap()
    );
    let mut a = Vec::new();
    let mut b = Vec::new();
    file.read(|r| {
        r.orders().each_order(|o| {
            a.push(o);
            Ok(())
        })
    })
    .unwrap();
    server
        .read(|r| {
            r.orders().each_order(|o| {
                b.push(o);
                Ok(())
            })
        })
        .unwrap();
    assert_eq!(a, b, "every order reads the same");

    // Copying again, or into a non-empty database, is refused.
    let again = file.copy_into(&server, |_, _| {}).unwrap_err();
    assert!(
        matches!(again.kind(), ErrorKind::InvalidState { .. }),
        "{again}"
    );
    let wrong_way = server.copy_into(&file, |_, _| {}).unwrap_err();
    assert!(
        matches!(wrong_way.kind(), ErrorKind::Unsupported { .. }),
        "{wrong_way}"
    );

    // The copy goes on: a new order takes the next number, the ledger and
    // the chain go on.
    let last = server.reports().counts().unwrap().orders as i64;
    server
        .catalog()
        .create_product(
            NewProduct::new("After").variant(
                NewVariant::new("AFTER-1", Decimal::ONE, Currency::GBP).track_stock(false),
            ),
        )
        .unwrap();
    let order = server
        .orders()
        .place(
            NewOrder::for_guest("after@example.com", Currency::GBP)
                .line(NewOrderLine::new("AFTER-1", 1)),
        )
        .unwrap();
    assert_eq!(order.number, last + 1);
    assert!(server.verify_audit().unwrap().is_ok());
    assert!(server.check().unwrap().is_ok());
}

/// Two units of work that each ship two orders, whose stock they take in
/// opposite orders, collide on PostgreSQL (one gets `Contention`) unless
/// they lock their batch first with `Orders::lock_orders`, after which
/// both succeed.
#[test]
fn shipping_batches_locked_first_never_collide_on_postgres() {
    use custdb::{
        Currency, Decimal, NewOrder, NewOrderLine, NewPayment, NewProduct, NewShipment, NewVariant,
        NewWarehouse, OrderId, PaymentMethod,
    };
    let Some(cluster) = cluster() else { return };
    let (_, store) = postgres_store(cluster);
    store
        .catalog()
        .create_product(
            NewProduct::new("Pair")
                .variant(NewVariant::new("X", Decimal::ONE, Currency::GBP))
                .variant(NewVariant::new("Y", Decimal::ONE, Currency::GBP)),
        )
        .unwrap();
    let w = store
        .inventory()
        .create_warehouse(NewWarehouse::new("W", "W"))
        .unwrap();
    for sku in ["X", "Y"] {
        let v = store.catalog().variant_by_sku(sku).unwrap();
        store.inventory().receive(v.id, w.id, 100).unwrap();
    }
    let paid = |sku: &str| -> OrderId {
        let o = store
            .orders()
            .place(
                NewOrder::for_guest("g@example.com", Currency::GBP).line(NewOrderLine::new(sku, 1)),
            )
            .unwrap();
        store
            .orders()
            .pay(o.id, NewPayment::new(PaymentMethod::Card, o.total.amount))
            .unwrap();
        o.id
    };
    let run = |lock_first: bool| -> Vec<custdb::Result<()>> {
        let batches = [[paid("X"), paid("Y")], [paid("Y"), paid("X")]];
        let (start, between) = (std::sync::Barrier::new(2), std::sync::Barrier::new(2));
        std::thread::scope(|s| {
            let handles: Vec<_> = batches
                .iter()
                .map(|batch| {
                    let (store, start, between) = (&store, &start, &between);
                    s.spawn(move || {
                        start.wait();
                        store.write(|tx| {
                            if lock_first {
                                tx.orders().lock_orders(batch)?;
                                // Hold the locks a while: the other unit
                                // of work, started at the same moment,
                                // must wait here rather than in between.
                                std::thread::sleep(std::time::Duration::from_millis(150));
                            }
                            tx.orders()
                                .ship(batch[0], NewShipment::everything("post", "1"))?;
                            if !lock_first {
                                // Both hold their first order's stock.
                                between.wait();
                            }
                            tx.orders()
                                .ship(batch[1], NewShipment::everything("post", "2"))?;
                            Ok(())
                        })
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    };
    let unlocked = run(false);
    let failed: Vec<_> = unlocked.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(failed.len(), 1, "{unlocked:?}");
    assert!(
        matches!(failed[0].kind(), ErrorKind::Contention { .. }),
        "{}",
        failed[0]
    );
    for _ in 0..5 {
        let locked = run(true);
        assert!(locked.iter().all(Result::is_ok), "{locked:?}");
    }
    assert!(store.check().unwrap().is_ok());
}
