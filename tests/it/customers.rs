//! Customers: create, get, update with optimistic concurrency, tags,
//! archive and restore, listing with filters, full-text search. Every test
//! runs on each engine (`common::every_engine`).

use crate::common::assert_consistent;
use chrono::{Duration, NaiveDate, Utc};
use custdb::{
    AddressKind, ArchiveState, CustomerFilter, CustomerPatch, ErrorKind, NewAddress, NewCustomer,
};
use serde_json::json;

#[test]
fn create_normalizes_and_get_returns_the_same_record() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let created = store
            .customers()
            .create(
                NewCustomer::new("  Ada Lovelace ")
                    .given_name("Ada")
                    .family_name("Lovelace")
                    .email("  Ada.Lovelace@Example.COM ")
                    .phone("020 7946 0958")
                    .phone_country("gb")
                    .company("Analytical Engines")
                    .locale("en_gb")
                    .birth_date(NaiveDate::from_ymd_opt(1985, 12, 10).unwrap())
                    .acquisition_source("referral")
                    .tag("VIP")
                    .tag(" vip ")
                    .tag("Newsletter")
                    .attribute("loyalty", json!({"tier": "gold", "points": 1200}))
                    .notes("Prefers email.\nNever call before 10."),
            )
            .unwrap();
        assert_eq!(created.display_name, "Ada Lovelace");
        assert_eq!(created.email.as_deref(), Some("ada.lovelace@example.com"));
        assert_eq!(created.phone.as_deref(), Some("+442079460958"));
        assert_eq!(created.locale.as_deref(), Some("en-GB"));
        assert_eq!(created.tags, vec!["newsletter", "vip"]);
        assert_eq!(created.version, 1);
        assert_eq!(created.created_at, created.updated_at);
        assert!(created.archived_at.is_none());
        assert_eq!(created.id.as_uuid().get_version_num(), 7);

        let got = store.customers().get(created.id).unwrap();
        assert_eq!(got, created);
        let by_email = store
            .customers()
            .get_by_email("ADA.LOVELACE@example.com ")
            .unwrap();
        assert_eq!(by_email, created);
        assert_consistent(&store);
    }
}

#[test]
fn update_applies_a_partial_patch_and_bumps_the_version() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let c = store
            .customers()
            .create(
                NewCustomer::new("Ann")
                    .email("ann@example.com")
                    .company("Old Co")
                    .tag("a"),
            )
            .unwrap();
        let updated = store
            .customers()
            .update(
                c.id,
                1,
                CustomerPatch::default()
                    .company("New Co")
                    .clear_email()
                    .tags(["b", "c"]),
            )
            .unwrap();
        assert_eq!(updated.company.as_deref(), Some("New Co"));
        assert_eq!(updated.email, None);
        assert_eq!(updated.display_name, "Ann", "fields not in the patch stay");
        assert_eq!(updated.tags, vec!["b", "c"]);
        assert_eq!(updated.version, 2);
        assert!(updated.updated_at >= c.updated_at);
        assert_eq!(store.customers().get(c.id).unwrap(), updated);
        // The freed email can be used by another customer.
        store
            .customers()
            .create(NewCustomer::new("Other").email("ann@example.com"))
            .unwrap();
        assert_consistent(&store);
    }
}

#[test]
fn a_patch_that_changes_nothing_writes_nothing() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let c = store
            .customers()
            .create(NewCustomer::new("Ann").company("Co"))
            .unwrap();
        let audit_before = store.read(|r| r.audit().count()).unwrap();
        let same = store
            .customers()
            .update(c.id, 1, CustomerPatch::default().company("Co"))
            .unwrap();
        assert_eq!(same, c);
        assert_eq!(store.read(|r| r.audit().count()).unwrap(), audit_before);
    }
}

#[test]
fn a_stale_version_is_a_conflict_naming_both_versions() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let c = store.customers().create(NewCustomer::new("Ann")).unwrap();
        store
            .customers()
            .update(c.id, 1, CustomerPatch::default().company("A"))
            .unwrap();
        let err = store
            .customers()
            .update(c.id, 1, CustomerPatch::default().company("B"))
            .unwrap_err();
        assert!(err.is_conflict());
        assert_eq!(
            err.kind(),
            &ErrorKind::Conflict {
                entity: "customer",
                id: c.id.to_string(),
                expected_version: 1,
                actual_version: 2
            }
        );
        assert_eq!(
            store.customers().get(c.id).unwrap().company.as_deref(),
            Some("A")
        );
    }
}

#[test]
fn tags_are_added_and_removed_with_version_bumps() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let c = store
            .customers()
            .create(NewCustomer::new("Ann").tag("one"))
            .unwrap();
        let c2 = store
            .customers()
            .add_tags(c.id, &["Two", "one", "three"])
            .unwrap();
        assert_eq!(c2.tags, vec!["one", "three", "two"]);
        assert_eq!(c2.version, 2);
        let c3 = store
            .customers()
            .remove_tags(c.id, &["ONE", "absent"])
            .unwrap();
        assert_eq!(c3.tags, vec!["three", "two"]);
        assert_eq!(c3.version, 3);
        let unchanged = store.customers().add_tags(c.id, &["two"]).unwrap();
        assert_eq!(unchanged.version, 3);
        assert_eq!(store.customers().get(c.id).unwrap(), c3);
        let too_many: Vec<String> = (0..60).map(|i| format!("t{i}")).collect();
        let err = store.customers().add_tags(c.id, &too_many).unwrap_err();
        assert_eq!(err.field(), Some("tags"));
        assert_consistent(&store);
    }
}

#[test]
fn archive_frees_the_email_and_restore_checks_it() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let c = store
            .customers()
            .create(NewCustomer::new("Ann").email("ann@example.com"))
            .unwrap();
        let archived = store.customers().archive(c.id).unwrap();
        assert!(archived.is_archived());
        assert_eq!(archived.version, 2);
        // Archiving again changes nothing.
        assert_eq!(store.customers().archive(c.id).unwrap(), archived);
        // An archived customer is read-only.
        let err = store
            .customers()
            .update(c.id, 2, CustomerPatch::default().company("X"))
            .unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::InvalidState { .. }),
            "{err}"
        );
        let err = store.customers().add_tags(c.id, &["x"]).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::InvalidState { .. }),
            "{err}"
        );
        // Its email is free now.
        assert!(store
            .customers()
            .get_by_email("ann@example.com")
            .unwrap_err()
            .is_not_found());
        let other = store
            .customers()
            .create(NewCustomer::new("Ann 2").email("ann@example.com"))
            .unwrap();
        // Restoring would duplicate the email.
        let err = store.customers().restore(c.id).unwrap_err();
        assert!(err.is_already_exists());
        assert_eq!(err.field(), Some("email"));
        store.customers().archive(other.id).unwrap();
        let restored = store.customers().restore(c.id).unwrap();
        assert!(!restored.is_archived());
        assert_eq!(restored.version, 3);
        assert_eq!(
            store
                .customers()
                .get_by_email("ann@example.com")
                .unwrap()
                .id,
            c.id
        );
        assert_consistent(&store);
    }
}

#[test]
fn list_pages_through_everything_in_creation_order() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let ids: Vec<_> = store
            .write(|tx| {
                (0..25)
                    .map(|i| {
                        tx.customers()
                            .create(NewCustomer::new(format!("C{i:02}")))
                            .map(|c| c.id)
                    })
                    .collect::<custdb::Result<Vec<_>>>()
            })
            .unwrap();
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = store
                .customers()
                .list(&CustomerFilter::default(), cursor.as_ref(), 10)
                .unwrap();
            assert!(page.items.len() <= 10);
            seen.extend(page.items.iter().map(|c| c.id));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, ids);
        // A cursor survives being written out as text and read back.
        let first = store
            .customers()
            .list(&CustomerFilter::default(), None, 5)
            .unwrap();
        let text = first.next_cursor.unwrap().to_string();
        let next = store
            .customers()
            .list(&CustomerFilter::default(), Some(&text.parse().unwrap()), 5)
            .unwrap();
        assert_eq!(next.items[0].id, ids[5]);
    }
}

#[test]
fn list_filters_by_tag_country_time_and_archive_state() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let (uk_vip, fr, archived) = store
            .write(|tx| {
                let c = tx.customers();
                let uk_vip = c.create(NewCustomer::new("UK VIP").tag("vip"))?;
                c.add_address(
                    uk_vip.id,
                    NewAddress::new(AddressKind::Shipping, "1 A St", "Leeds", "GB"),
                )?;
                let fr = c.create(NewCustomer::new("FR").tag("newsletter"))?;
                c.add_address(
                    fr.id,
                    NewAddress::new(AddressKind::Billing, "1 rue B", "Lyon", "FR"),
                )?;
                c.add_address(
                    fr.id,
                    NewAddress::new(AddressKind::Other, "2 B St", "York", "GB"),
                )?;
                let archived = c.create(NewCustomer::new("Gone").tag("vip"))?;
                c.archive(archived.id)?;
                Ok::<_, custdb::Error>((uk_vip, fr, archived))
            })
            .unwrap();
        let names = |filter: CustomerFilter| -> Vec<String> {
            store
                .customers()
                .list(&filter, None, 100)
                .unwrap()
                .items
                .into_iter()
                .map(|c| c.display_name)
                .collect()
        };
        assert_eq!(names(CustomerFilter::default()), vec!["UK VIP", "FR"]);
        assert_eq!(names(CustomerFilter::default().tag("VIP")), vec!["UK VIP"]);
        assert_eq!(
            names(CustomerFilter::default().country("gb")),
            vec!["UK VIP", "FR"]
        );
        assert_eq!(names(CustomerFilter::default().country("FR")), vec!["FR"]);
        assert_eq!(
            names(CustomerFilter::default().archived(ArchiveState::Archived)),
            vec!["Gone"]
        );
        assert_eq!(
            names(
                CustomerFilter::default()
                    .archived(ArchiveState::All)
                    .tag("vip")
            ),
            vec!["UK VIP", "Gone"]
        );
        let now = Utc::now();
        assert!(names(
            CustomerFilter::default()
                .created_between(now + Duration::hours(1), now + Duration::hours(2))
        )
        .is_empty());
        assert_eq!(
            names(
                CustomerFilter::default()
                    .created_between(uk_vip.created_at, fr.created_at + Duration::microseconds(1))
            ),
            vec!["UK VIP", "FR"]
        );
        let _ = archived;
        let err = store
            .customers()
            .list(&CustomerFilter::default().country("XX"), None, 10)
            .unwrap_err();
        assert_eq!(err.field(), Some("filter.country"));
        let err = store
            .customers()
            .list(&CustomerFilter::default(), None, 0)
            .unwrap_err();
        assert_eq!(err.field(), Some("limit"));
        let err = store
            .customers()
            .list(
                &CustomerFilter::default(),
                Some(&"garbage".parse().unwrap()),
                10,
            )
            .unwrap_err();
        assert_eq!(err.field(), Some("cursor"));
    }
}

#[test]
fn search_ranks_names_above_notes_and_ignores_fts_syntax() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        store
            .write(|tx| {
                let c = tx.customers();
                c.create(NewCustomer::new("Mention Only").notes("Met Hopper at the conference."))?;
                c.create(NewCustomer::new("Grace Hopper").email("grace@navy.example"))?;
                c.create(NewCustomer::new("Émile Borel").company("Académie"))?;
                let gone = c.create(NewCustomer::new("Archived Hopper"))?;
                c.archive(gone.id)?;
                Ok::<_, custdb::Error>(())
            })
            .unwrap();
        let hits = store.customers().search("hopper", 10).unwrap();
        let names: Vec<_> = hits.iter().map(|c| c.display_name.as_str()).collect();
        assert_eq!(
            names,
            vec!["Grace Hopper", "Mention Only"],
            "name match first, archived excluded"
        );
        // Prefixes, email parts, diacritics, several words.
        assert_eq!(store.customers().search("gra hop", 10).unwrap().len(), 1);
        assert_eq!(
            store.customers().search("navy", 10).unwrap()[0].display_name,
            "Grace Hopper"
        );
        assert_eq!(
            store.customers().search("emile academie", 10).unwrap()[0].display_name,
            "Émile Borel"
        );
        // FTS5 operators are plain text here.
        assert!(store
            .customers()
            .search("hopper OR NOT \"x\" NEAR(", 10)
            .unwrap()
            .is_empty());
        assert_eq!(store.customers().search("hopper*", 10).unwrap().len(), 2);
        // Updates reach the index.
        let grace = store
            .customers()
            .get_by_email("grace@navy.example")
            .unwrap();
        store
            .customers()
            .update(
                grace.id,
                grace.version,
                CustomerPatch::default().display_name("Admiral Grace"),
            )
            .unwrap();
        assert_eq!(store.customers().search("admiral", 10).unwrap().len(), 1);
        for bad in ["", "  ", "!!!"] {
            assert_eq!(
                store.customers().search(bad, 10).unwrap_err().field(),
                Some("query")
            );
        }
        assert_eq!(
            store
                .customers()
                .search(&"x".repeat(201), 10)
                .unwrap_err()
                .field(),
            Some("query")
        );
        assert_eq!(
            store
                .customers()
                .search("a b c d e f g h i j k l m n o p q", 10)
                .unwrap_err()
                .field(),
            Some("query")
        );
        assert_eq!(
            store.customers().search("x", 101).unwrap_err().field(),
            Some("limit")
        );
        assert_consistent(&store);
    }
}

#[test]
fn phone_without_a_country_is_kept_as_written() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let c = store
            .customers()
            .create(NewCustomer::new("A").phone(" 0301 234567 "))
            .unwrap();
        assert_eq!(c.phone.as_deref(), Some("0301 234567"));
        let c = store
            .customers()
            .create(NewCustomer::new("B").phone("+1 415 555 2671"))
            .unwrap();
        assert_eq!(c.phone.as_deref(), Some("+14155552671"));
    }
}

#[test]
fn customers_round_trip_through_serde() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let c = store
            .customers()
            .create(
                NewCustomer::new("Ann")
                    .email("ann@example.com")
                    .attribute("k", json!([1, 2])),
            )
            .unwrap();
        let text = serde_json::to_string(&c).unwrap();
        let back: custdb::Customer = serde_json::from_str(&text).unwrap();
        assert_eq!(back, c);
        let new: NewCustomer =
            serde_json::from_str(r#"{"display_name":"Bob","tags":["x"]}"#).unwrap();
        assert_eq!(store.customers().create(new).unwrap().tags, vec!["x"]);
    }
}

#[test]
fn page_all_walks_every_page_and_stops_after_an_error() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        for n in 0..23 {
            store
                .customers()
                .create(NewCustomer::new(format!("C{n:02}")))
                .unwrap();
        }
        let filter = CustomerFilter::default();
        let all: Vec<String> = custdb::Page::all(|after| store.customers().list(&filter, after, 5))
            .map(|c| c.unwrap().display_name)
            .collect();
        assert_eq!(all.len(), 23);
        let mut unique = all.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 23, "no customer twice");

        // The second page fails: the first page's items, the error, the end.
        let mut calls = 0;
        let items: Vec<custdb::Result<custdb::Customer>> = custdb::Page::all(|after| {
            calls += 1;
            if calls == 2 {
                return Err(custdb::Error::other(std::io::Error::other("network down")));
            }
            store.customers().list(&filter, after, 5)
        })
        .collect();
        assert_eq!(items.len(), 6);
        assert!(items[..5].iter().all(|i| i.is_ok()));
        assert_eq!(items[5].as_ref().unwrap_err().to_string(), "network down");
    }
}

#[test]
fn get_many_keeps_the_order_given_skips_unknown_ids_and_has_a_limit() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let ids: Vec<custdb::CustomerId> = (0..5)
            .map(|n| {
                store
                    .customers()
                    .create(NewCustomer::new(format!("C{n}")))
                    .unwrap()
                    .id
            })
            .collect();
        let unknown = custdb::CustomerId::new();
        let asked = [ids[3], unknown, ids[0], ids[3], ids[4]];
        let got: Vec<String> = store
            .customers()
            .get_many(&asked)
            .unwrap()
            .into_iter()
            .map(|c| c.display_name)
            .collect();
        assert_eq!(got, vec!["C3", "C0", "C4"]);
        let too_many = vec![ids[0]; custdb::MAX_PAGE_SIZE + 1];
        let err = store.customers().get_many(&too_many).unwrap_err();
        assert_eq!(err.field(), Some("ids"));
    }
}

#[test]
fn search_pages_walk_every_match_once_best_first() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        for n in 0..37 {
            // Ties (same length, one match) and better matches (the word twice).
            let name = if n % 5 == 0 {
                format!("Lee Lee {n}")
            } else {
                format!("Lee {n}")
            };
            store.customers().create(NewCustomer::new(name)).unwrap();
        }
        store
            .customers()
            .create(NewCustomer::new("Someone Else"))
            .unwrap();
        let paged: Vec<custdb::Customer> =
            custdb::Page::all(|after| store.customers().search_page("lee", after, 6))
                .collect::<custdb::Result<_>>()
                .unwrap();
        assert_eq!(paged.len(), 37);
        let mut ids: Vec<_> = paged.iter().map(|c| c.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 37, "no match twice");
        // The first page is what the one-shot search returns.
        let first = store.customers().search("lee", 6).unwrap();
        assert_eq!(
            first.iter().map(|c| c.id).collect::<Vec<_>>(),
            paged[..6].iter().map(|c| c.id).collect::<Vec<_>>()
        );
        let err = store
            .customers()
            .search_page("lee", Some(&"not|a cursor".parse().unwrap()), 6)
            .unwrap_err();
        assert_eq!(err.field(), Some("cursor"));
    }
}
