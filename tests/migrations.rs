//! Every fixture database in tests/fixtures/ (one per released schema
//! version) upgrades to the latest schema with its data intact.

mod common;

use std::path::PathBuf;

use common::assert_consistent;
use custdb::schema::{LATEST_VERSION, MIGRATIONS};
use custdb::{AddressKind, ArchiveState, CustomerFilter, Store};

fn fixtures() -> Vec<(i64, PathBuf)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut found: Vec<(i64, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name()?.to_str()?.to_owned();
            let version = name.strip_prefix('v')?.strip_suffix(".db")?.parse().ok()?;
            Some((version, path))
        })
        .collect();
    found.sort();
    found
}

#[test]
fn there_is_a_fixture_for_every_schema_version() {
    let versions: Vec<i64> = fixtures().iter().map(|(v, _)| *v).collect();
    let expected: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(
        versions, expected,
        "add tests/fixtures/v{LATEST_VERSION}.db (see its README)"
    );
}

#[test]
fn every_fixture_upgrades_with_its_data_intact() {
    for (version, fixture) in fixtures() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("copy.db");
        std::fs::copy(&fixture, &path).unwrap();
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            let found: i64 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(
                found,
                version,
                "{} is not at version {version}",
                fixture.display()
            );
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.connection_settings().unwrap().schema_version,
            LATEST_VERSION
        );
        assert_consistent(&store);

        let ada = store.customers().get_by_email("ada@example.com").unwrap();
        assert_eq!(ada.display_name, "Ada Lovelace");
        assert_eq!(ada.given_name.as_deref(), Some("Ada"));
        assert_eq!(ada.phone.as_deref(), Some("+442079460958"));
        assert_eq!(ada.company.as_deref(), Some("Analytical Engines"));
        assert_eq!(ada.locale.as_deref(), Some("en-GB"));
        assert_eq!(ada.tags, vec!["newsletter", "vip"]);
        assert_eq!(ada.attributes["loyalty"]["tier"], "gold");
        assert_eq!(ada.notes.as_deref(), Some("Fixture customer one."));
        let addresses = store.customers().addresses(ada.id).unwrap();
        assert_eq!(addresses.len(), 2);
        assert!(addresses.iter().all(|a| a.is_default));
        assert!(addresses.iter().any(
            |a| a.kind == AddressKind::Billing && a.postal_code.as_deref() == Some("SW1Y 4JH")
        ));
        let timeline = store.customers().interactions(ada.id, None, 10).unwrap();
        assert_eq!(timeline.items.len(), 1);
        assert_eq!(timeline.items[0].rating, Some(4));
        assert_eq!(timeline.items[0].recorded_by, "fixture");

        let grace = store.customers().get_by_email("grace@example.org").unwrap();
        assert_eq!(
            store.customers().addresses(grace.id).unwrap()[0].country,
            "US"
        );
        let archived = store
            .customers()
            .list(
                &CustomerFilter::default().archived(ArchiveState::Archived),
                None,
                10,
            )
            .unwrap();
        assert_eq!(archived.items.len(), 1);
        assert_eq!(archived.items[0].email.as_deref(), Some("gone@example.net"));
        assert_eq!(
            store.customers().search("lovelace", 5).unwrap()[0].id,
            ada.id
        );
        let audit = store
            .read(|r| r.audit().for_entity("customer", &ada.id.to_string(), 10))
            .unwrap();
        assert_eq!(audit[0].action, "create");
        assert_eq!(audit[0].actor_id, "fixture");

        // The upgraded file keeps working.
        store
            .customers()
            .update(
                ada.id,
                ada.version,
                custdb::CustomerPatch::default().company("Engines Ltd"),
            )
            .unwrap();
        assert_consistent(&store);
    }
}

#[test]
fn the_fixture_in_the_repository_is_not_modified_by_tests() {
    // Tests work on copies; the committed file stays at its own version.
    for (version, fixture) in fixtures() {
        let conn = rusqlite::Connection::open_with_flags(
            &fixture,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(found, version);
    }
}
