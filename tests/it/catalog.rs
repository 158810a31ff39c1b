//! The catalog beyond products and variants: editing, draft and archived
//! products, media references, the category tree, collections and product
//! search (docs/CATALOG.md). Every test runs on each engine and ends with
//! `check()` clean.

use std::collections::BTreeSet;
use std::str::FromStr;

use custdb::{
    CategoryPatch, ChangeKind, CollectionPatch, Currency, Decimal, ErrorKind, MediaKind,
    NewCategory, NewCollection, NewCustomer, NewMedia, NewOrder, NewOrderLine, NewProduct,
    NewVariant, Page, ProductId, ProductPatch, ProductStatus, VariantPatch,
};

use crate::common::{assert_consistent, every_engine, OnEngine};

fn gbp(amount: &str) -> Decimal {
    Decimal::from_str(amount).unwrap()
}

fn product(store: &OnEngine, name: &str, sku: &str) -> custdb::Product {
    store
        .catalog()
        .create_product(NewProduct::new(name).variant(NewVariant::new(
            sku,
            gbp("9.99"),
            Currency::GBP,
        )))
        .unwrap()
}

fn invalid_field(e: &custdb::Error) -> String {
    match e.kind() {
        ErrorKind::Invalid { field, .. } => field.clone(),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

/// The feed's head once every committed event is visible (on PostgreSQL
/// events become visible with the audit chain step after their commit,
/// which verifying the chain runs).
fn head(store: &OnEngine) -> i64 {
    store.verify_audit().unwrap();
    store.changes().head().unwrap()
}

/// The feed's events after `position`, every committed one visible.
fn events_after(store: &OnEngine, position: i64) -> Vec<custdb::ChangeEvent> {
    store.verify_audit().unwrap();
    store.changes().after(position, 1000).unwrap()
}

/// The kinds of the feed's events after `position`.
fn kinds_after(store: &OnEngine, position: i64) -> Vec<ChangeKind> {
    events_after(store, position)
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

#[test]
fn products_are_edited_with_versions_and_every_change_is_an_event() {
    for (engine, store) in every_engine() {
        let tea = product(&store, "Tea", "TEA");
        let head = head(&store);
        let edited = store
            .catalog()
            .update_product(
                tea.id,
                tea.version,
                ProductPatch::default()
                    .name("Earl Grey")
                    .description("Bergamot"),
            )
            .unwrap();
        assert_eq!(edited.name, "Earl Grey", "{engine}");
        assert_eq!(edited.description.as_deref(), Some("Bergamot"));
        assert_eq!(edited.version, tea.version + 1);
        // A stale version is a conflict and changes nothing.
        let stale = store
            .catalog()
            .update_product(tea.id, tea.version, ProductPatch::default().name("Other"))
            .unwrap_err();
        assert!(
            matches!(stale.kind(), ErrorKind::Conflict { .. }),
            "{engine}"
        );
        // An empty name is refused by field.
        let e = store
            .catalog()
            .update_product(tea.id, edited.version, ProductPatch::default().name("  "))
            .unwrap_err();
        assert_eq!(invalid_field(&e), "name");
        // Clearing the description; the same values again change nothing.
        let cleared = store
            .catalog()
            .update_product(
                tea.id,
                edited.version,
                ProductPatch::default().clear_description(),
            )
            .unwrap();
        assert_eq!(cleared.description, None);
        let same = store
            .catalog()
            .update_product(
                tea.id,
                cleared.version,
                ProductPatch::default().name("Earl Grey"),
            )
            .unwrap();
        assert_eq!(same.version, cleared.version, "{engine}: nothing changed");
        let events = events_after(&store, head);
        assert_eq!(events.len(), 2, "{engine}: {events:?}");
        assert!(events.iter().all(|e| e.kind == ChangeKind::ProductUpdated));
        assert_eq!(events[0].facts.fields, ["name", "description"]);
        assert_eq!(events[1].facts.fields, ["description"]);
        assert_consistent(&store);
    }
}

#[test]
fn a_draft_product_is_not_sold_until_it_is_active() {
    for (engine, store) in every_engine() {
        let ann = store
            .customers()
            .create(NewCustomer::new("Ann"))
            .unwrap()
            .id;
        let kit = store
            .catalog()
            .create_product(
                NewProduct::new("Spring kit")
                    .status(ProductStatus::Draft)
                    .variant(NewVariant::new("KIT", gbp("20"), Currency::GBP).track_stock(false)),
            )
            .unwrap();
        assert_eq!(kit.status, ProductStatus::Draft, "{engine}");
        let order = || {
            store
                .orders()
                .place(NewOrder::for_customer(ann, Currency::GBP).line(NewOrderLine::new("KIT", 1)))
        };
        let e = order().unwrap_err();
        assert_eq!(invalid_field(&e), "lines[0].sku", "{engine}");
        assert!(e.to_string().contains("draft"), "{e}");
        let head = head(&store);
        let live = store
            .catalog()
            .update_product(
                kit.id,
                kit.version,
                ProductPatch::default().status(ProductStatus::Active),
            )
            .unwrap();
        assert_eq!(live.status, ProductStatus::Active);
        let events = events_after(&store, head);
        assert_eq!(events[0].kind, ChangeKind::ProductUpdated);
        assert_eq!(events[0].facts.status.as_deref(), Some("active"));
        order().unwrap();
        assert_consistent(&store);
    }
}

#[test]
fn restoring_a_product_restores_the_variants_archived_with_it() {
    for (engine, store) in every_engine() {
        let tee = store
            .catalog()
            .create_product(
                NewProduct::new("Tee")
                    .variant(NewVariant::new("TEE-S", gbp("15"), Currency::GBP))
                    .variant(NewVariant::new("TEE-M", gbp("15"), Currency::GBP)),
            )
            .unwrap();
        let (small, medium) = (tee.variants[0].id, tee.variants[1].id);
        // The small one was withdrawn first; then the whole product.
        store.catalog().archive_variant(small).unwrap();
        let archived = store.catalog().archive_product(tee.id).unwrap();
        assert!(archived.archived_at.is_some());
        // An archived product is not edited, and its variants are not
        // restored one by one.
        let e = store
            .catalog()
            .update_product(tee.id, archived.version, ProductPatch::default().name("X"))
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::InvalidState { .. }),
            "{engine}"
        );
        let e = store.catalog().restore_variant(medium).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::InvalidState { .. }),
            "{engine}"
        );
        let e = store
            .catalog()
            .add_media(tee.id, NewMedia::image("late.jpg"))
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::InvalidState { .. }),
            "{engine}"
        );
        let e = store
            .catalog()
            .set_product_categories(tee.id, Vec::new())
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::InvalidState { .. }),
            "{engine}"
        );
        let head = head(&store);
        let restored = store.catalog().restore_product(tee.id).unwrap();
        assert!(restored.archived_at.is_none(), "{engine}");
        let by_sku = |sku: &str| restored.variants.iter().find(|v| v.sku == sku).unwrap();
        assert!(!by_sku("TEE-M").is_archived(), "{engine}: archived with it");
        assert!(
            by_sku("TEE-S").is_archived(),
            "{engine}: archived before it"
        );
        assert_eq!(
            kinds_after(&store, head),
            [ChangeKind::VariantRestored, ChangeKind::ProductRestored]
        );
        // Restoring again changes nothing; the small one comes back alone.
        let again = store.catalog().restore_product(tee.id).unwrap();
        assert_eq!(again.version, restored.version);
        assert!(!store
            .catalog()
            .restore_variant(small)
            .unwrap()
            .is_archived());
        assert_consistent(&store);
    }
}

#[test]
fn media_references_are_kept_in_position_order_and_checked() {
    for (engine, store) in every_engine() {
        let tea = product(&store, "Tea", "TEA");
        let c = store.catalog();
        let front = c
            .add_media(
                tea.id,
                NewMedia::image("https://cdn.example.com/tea/front.jpg").alt_text("Tin, front"),
            )
            .unwrap();
        let sheet = c
            .add_media(tea.id, NewMedia::document("/srv/docs/tea-safety.pdf"))
            .unwrap();
        let hero = c
            .add_media(
                tea.id,
                NewMedia::image("https://cdn.example.com/tea/hero.jpg").position(0),
            )
            .unwrap();
        assert_eq!((front.position, sheet.position), (0, 1), "{engine}");
        assert_eq!(sheet.kind, MediaKind::Document);
        let p = c.product(tea.id).unwrap();
        let order: Vec<_> = p.media.iter().map(|m| m.id).collect();
        // Position 0 twice: ties by id, so the first added comes first.
        assert_eq!(order, [front.id, hero.id, sheet.id], "{engine}");
        assert_eq!(p.media[0].alt_text.as_deref(), Some("Tin, front"));
        // Bad input, by field; nothing added.
        for (bad, field) in [
            (NewMedia::image(""), "reference"),
            (NewMedia::image("a\u{7}b"), "reference"),
            (NewMedia::image("x".repeat(2049)), "reference"),
            (
                NewMedia::image("ok.jpg").alt_text("y".repeat(501)),
                "alt_text",
            ),
            (NewMedia::image("ok.jpg").position(1_000_001), "position"),
        ] {
            let e = c.add_media(tea.id, bad).unwrap_err();
            assert_eq!(invalid_field(&e), field, "{engine}");
        }
        assert_eq!(c.product(tea.id).unwrap().media.len(), 3);
        let after = c.remove_media(hero.id).unwrap();
        assert_eq!(after.media.len(), 2, "{engine}");
        let e = c.remove_media(hero.id).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::NotFound { .. }));
        for n in 2..custdb::catalog::MAX_MEDIA_PER_PRODUCT {
            c.add_media(tea.id, NewMedia::image(format!("{n}.jpg")))
                .unwrap();
        }
        let e = c
            .add_media(tea.id, NewMedia::image("one-too-many.jpg"))
            .unwrap_err();
        assert_eq!(invalid_field(&e), "media", "{engine}");
        assert_consistent(&store);
    }
}

#[test]
fn categories_form_a_tree_without_cycles_or_depth_beyond_the_limit() {
    for (engine, store) in every_engine() {
        let c = store.catalog();
        let drinks = c.create_category(NewCategory::new("Drinks")).unwrap();
        let tea = c
            .create_category(NewCategory::new("Tea").parent(drinks.id))
            .unwrap();
        let green = c
            .create_category(NewCategory::new("Green").parent(tea.id))
            .unwrap();
        let food = c.create_category(NewCategory::new("Food")).unwrap();
        assert_eq!(
            (drinks.depth, tea.depth, green.depth),
            (0, 1, 2),
            "{engine}"
        );
        // Tree order: top level by name, each followed by its subtree.
        let names: Vec<_> = c
            .categories()
            .unwrap()
            .into_iter()
            .map(|c| (c.name, c.depth))
            .collect();
        assert_eq!(
            names,
            [
                ("Drinks".to_owned(), 0),
                ("Tea".to_owned(), 1),
                ("Green".to_owned(), 2),
                ("Food".to_owned(), 0)
            ],
            "{engine}"
        );
        // Names are unique among siblings only.
        let e = c
            .create_category(NewCategory::new("Tea").parent(drinks.id))
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::AlreadyExists { .. }),
            "{engine}"
        );
        c.create_category(NewCategory::new("Tea").parent(food.id))
            .unwrap();
        let e = c.create_category(NewCategory::new("Food")).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::AlreadyExists { .. }),
            "{engine}"
        );
        // A move below itself or its own subtree would make a cycle.
        for target in [drinks.id, green.id] {
            let e = c
                .update_category(
                    drinks.id,
                    drinks.version,
                    CategoryPatch::default().parent(Some(target)),
                )
                .unwrap_err();
            assert_eq!(invalid_field(&e), "parent_id", "{engine}");
        }
        let e = c
            .create_category(NewCategory::new("Orphan").parent(custdb::CategoryId::new()))
            .unwrap_err();
        assert_eq!(invalid_field(&e), "parent_id");
        // Depth: a chain down to the limit, then one more is refused.
        let mut parent = green.clone();
        while parent.depth < custdb::catalog::MAX_CATEGORY_DEPTH {
            parent = c
                .create_category(
                    NewCategory::new(format!("L{}", parent.depth + 1)).parent(parent.id),
                )
                .unwrap();
        }
        let e = c
            .create_category(NewCategory::new("Too deep").parent(parent.id))
            .unwrap_err();
        assert_eq!(invalid_field(&e), "parent_id", "{engine}");
        // Moving the deep chain's root one level lower would push its
        // leaf past the limit.
        let shelf = c
            .create_category(NewCategory::new("Shelf").parent(food.id))
            .unwrap();
        let e = c
            .update_category(
                tea.id,
                tea.version,
                CategoryPatch::default().parent(Some(shelf.id)),
            )
            .unwrap_err();
        assert_eq!(invalid_field(&e), "parent_id", "{engine}");
        // A legal move and a rename.
        let moved = c
            .update_category(
                food.id,
                food.version,
                CategoryPatch::default()
                    .parent(Some(drinks.id))
                    .name("Snacks"),
            )
            .unwrap();
        assert_eq!(
            (moved.depth, moved.name.as_str()),
            (1, "Snacks"),
            "{engine}"
        );
        let top = c
            .update_category(
                moved.id,
                moved.version,
                CategoryPatch::default().parent(None),
            )
            .unwrap();
        assert_eq!(top.parent_id, None);
        // A category with subcategories is not deleted.
        let e = c.delete_category(drinks.id).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::InvalidState { .. }),
            "{engine}"
        );
        assert_consistent(&store);
    }
}

#[test]
fn category_listings_include_subcategories_when_asked_and_follow_renames_in_search() {
    for (engine, store) in every_engine() {
        let c = store.catalog();
        let drinks = c.create_category(NewCategory::new("Drinks")).unwrap();
        let tea = c
            .create_category(NewCategory::new("Tea").parent(drinks.id))
            .unwrap();
        let earl = c
            .create_product(
                NewProduct::new("Earl Grey")
                    .category(tea.id)
                    .variant(NewVariant::new("EG", gbp("4"), Currency::GBP)),
            )
            .unwrap();
        let juice = c
            .create_product(
                NewProduct::new("Apple juice")
                    .category(drinks.id)
                    .variant(NewVariant::new("AJ", gbp("2"), Currency::GBP)),
            )
            .unwrap();
        let old = c
            .create_product(
                NewProduct::new("Assam")
                    .category(tea.id)
                    .variant(NewVariant::new("AS", gbp("4"), Currency::GBP)),
            )
            .unwrap();
        c.archive_product(old.id).unwrap();
        assert_eq!(earl.category_ids, [tea.id], "{engine}");
        let names = |page: Page<custdb::Product>| -> Vec<String> {
            page.items.into_iter().map(|p| p.name).collect()
        };
        assert_eq!(
            names(c.category_products(drinks.id, false, None, 10).unwrap()),
            ["Apple juice"],
            "{engine}"
        );
        assert_eq!(
            names(c.category_products(drinks.id, true, None, 10).unwrap()),
            ["Apple juice", "Earl Grey"],
            "{engine}: archived Assam left out"
        );
        let first = c.category_products(drinks.id, true, None, 1).unwrap();
        let second = c
            .category_products(drinks.id, true, first.next_cursor.as_ref(), 1)
            .unwrap();
        assert_eq!(names(second.clone()), ["Earl Grey"]);
        assert!(second.next_cursor.is_none());
        // Search finds products by their categories' names and their
        // ancestors'; a rename reaches the index.
        let found = |q: &str| -> BTreeSet<ProductId> {
            c.search_products(q, None, 100)
                .unwrap()
                .items
                .into_iter()
                .map(|p| p.id)
                .collect()
        };
        assert_eq!(
            found("drinks"),
            BTreeSet::from([earl.id, juice.id]),
            "{engine}"
        );
        c.update_category(
            drinks.id,
            drinks.version,
            CategoryPatch::default().name("Beverages"),
        )
        .unwrap();
        assert!(found("drinks").is_empty(), "{engine}");
        assert_eq!(found("beverages"), BTreeSet::from([earl.id, juice.id]));
        // Re-categorising: replace, then delete the category a product is in.
        let moved = c.set_product_categories(juice.id, vec![tea.id]).unwrap();
        assert_eq!(moved.category_ids, [tea.id]);
        let e = c
            .set_product_categories(juice.id, vec![tea.id, tea.id])
            .unwrap_err();
        assert_eq!(invalid_field(&e), "category_ids[1]", "{engine}");
        let e = c
            .set_product_categories(juice.id, vec![custdb::CategoryId::new()])
            .unwrap_err();
        assert_eq!(invalid_field(&e), "category_ids[0]");
        let head = head(&store);
        let before = c.product(juice.id).unwrap().version;
        c.delete_category(tea.id).unwrap();
        assert_eq!(c.product(juice.id).unwrap().version, before + 1, "{engine}");
        assert!(
            c.product(juice.id).unwrap().category_ids.is_empty(),
            "{engine}"
        );
        let kinds = kinds_after(&store, head);
        assert_eq!(kinds[0], ChangeKind::CategoryDeleted, "{engine}");
        assert_eq!(
            kinds
                .iter()
                .filter(|k| **k == ChangeKind::ProductUpdated)
                .count(),
            3,
            "{engine}: Earl Grey, Assam and the juice left the category"
        );
        assert!(found("tea").is_empty(), "{engine}");
        assert_consistent(&store);
    }
}

#[test]
fn collections_keep_their_products_in_hand_made_order() {
    for (engine, store) in every_engine() {
        let c = store.catalog();
        let a = product(&store, "Alpha", "A");
        let b = product(&store, "Beta", "B");
        let g = product(&store, "Gamma", "G");
        let summer = c
            .create_collection(NewCollection::new("Summer picks").description("Sunny"))
            .unwrap();
        let e = c
            .create_collection(NewCollection::new("Summer picks"))
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::AlreadyExists { .. }),
            "{engine}"
        );
        for p in [&g, &a, &b] {
            c.add_to_collection(summer.id, p.id).unwrap();
        }
        // Adding again keeps the place.
        let again = c.add_to_collection(summer.id, g.id).unwrap();
        assert_eq!(again.product_count, 3, "{engine}");
        let names =
            |after: Option<&custdb::Cursor>, limit| -> (Vec<String>, Option<custdb::Cursor>) {
                let page = c.collection_products(summer.id, after, limit).unwrap();
                (
                    page.items.into_iter().map(|p| p.name).collect(),
                    page.next_cursor,
                )
            };
        let (first, cursor) = names(None, 2);
        assert_eq!(first, ["Gamma", "Alpha"], "{engine}");
        let (rest, end) = names(cursor.as_ref(), 2);
        assert_eq!(rest, ["Beta"]);
        assert!(end.is_none());
        c.remove_from_collection(summer.id, a.id).unwrap();
        let set = c
            .set_collection_products(summer.id, vec![b.id, a.id, g.id])
            .unwrap();
        assert_eq!(set.product_count, 3);
        assert_eq!(names(None, 10).0, ["Beta", "Alpha", "Gamma"], "{engine}");
        let e = c
            .set_collection_products(summer.id, vec![b.id, b.id])
            .unwrap_err();
        assert_eq!(invalid_field(&e), "product_ids[1]", "{engine}");
        let e = c
            .set_collection_products(summer.id, vec![ProductId::new()])
            .unwrap_err();
        assert_eq!(invalid_field(&e), "product_ids[0]");
        // Archived products leave the listing, not the list.
        c.archive_product(a.id).unwrap();
        assert_eq!(names(None, 10).0, ["Beta", "Gamma"], "{engine}");
        assert_eq!(c.collection(summer.id).unwrap().product_count, 3);
        let renamed = c
            .update_collection(
                summer.id,
                c.collection(summer.id).unwrap().version,
                CollectionPatch::default().name("Summer"),
            )
            .unwrap();
        assert_eq!(renamed.name, "Summer");
        assert_eq!(renamed.description.as_deref(), Some("Sunny"));
        assert_eq!(c.collections().unwrap().len(), 1);
        let head = head(&store);
        c.delete_collection(summer.id).unwrap();
        assert_eq!(kinds_after(&store, head), [ChangeKind::CollectionDeleted]);
        assert!(c.collections().unwrap().is_empty(), "{engine}");
        let e = c.collection(summer.id).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::NotFound { .. }));
        assert_consistent(&store);
    }
}

#[test]
fn search_finds_products_by_title_codes_and_description_best_first() {
    for (engine, store) in every_engine() {
        let c = store.catalog();
        let mug = c
            .create_product(
                NewProduct::new("Enamel mug")
                    .description("Holds a pint of tea")
                    .variant(
                        NewVariant::new("MUG-ENM-01", gbp("8"), Currency::GBP)
                            .barcode("5012345678900"),
                    ),
            )
            .unwrap();
        let tea = c
            .create_product(NewProduct::new("Tea caddy").variant(NewVariant::new(
                "CADDY",
                gbp("12"),
                Currency::GBP,
            )))
            .unwrap();
        let ids = |q: &str| -> Vec<ProductId> {
            c.search_products(q, None, 10)
                .unwrap()
                .items
                .into_iter()
                .map(|p| p.id)
                .collect()
        };
        assert_eq!(ids("enamel"), [mug.id], "{engine}");
        assert_eq!(ids("MUG-ENM"), [mug.id], "{engine}: by SKU");
        assert_eq!(ids("5012345678900"), [mug.id], "{engine}: by barcode");
        // "tea" is in the caddy's title and the mug's description: the
        // title weighs more.
        assert_eq!(ids("tea"), [tea.id, mug.id], "{engine}");
        // A barcode added later is found; an archived product is not.
        let variant = &tea.variants[0];
        c.update_variant(
            variant.id,
            variant.version,
            VariantPatch {
                barcode: Some("4006381333931".into()),
                ..VariantPatch::default()
            },
        )
        .unwrap();
        assert_eq!(ids("4006381333931"), [tea.id], "{engine}");
        c.add_variant(
            tea.id,
            NewVariant::new("CADDY-XL", gbp("15"), Currency::GBP),
        )
        .unwrap();
        assert_eq!(ids("caddy xl"), [tea.id], "{engine}");
        c.archive_product(mug.id).unwrap();
        assert!(ids("enamel").is_empty(), "{engine}");
        // Bad queries, by field.
        for bad in ["", "  --  ", &"word ".repeat(17)] {
            let e = c.search_products(bad, None, 10).unwrap_err();
            assert_eq!(invalid_field(&e), "query", "{engine}");
        }
        let e = c.search_products("tea", None, 0).unwrap_err();
        assert_eq!(invalid_field(&e), "limit");
        // A cursor from another listing is refused.
        let listing = c
            .products(custdb::ArchiveState::All, None, 1)
            .unwrap()
            .next_cursor
            .unwrap();
        let e = c.search_products("tea", Some(&listing), 10).unwrap_err();
        assert_eq!(invalid_field(&e), "cursor", "{engine}");
        assert_consistent(&store);
    }
}

#[test]
fn search_pages_through_every_match_once() {
    for (engine, store) in every_engine() {
        store
            .write(|tx| {
                for n in 0..45 {
                    tx.catalog().create_product(
                        NewProduct::new(format!("Candle {n}"))
                            .description(if n % 3 == 0 {
                                "candle wax candle"
                            } else {
                                "wax"
                            })
                            .variant(NewVariant::new(format!("C-{n}"), gbp("3"), Currency::GBP)),
                    )?;
                }
                Ok::<_, custdb::Error>(())
            })
            .unwrap();
        let all: Vec<custdb::Product> =
            Page::all(|after| store.catalog().search_products("candle", after, 7))
                .collect::<Result<_, _>>()
                .unwrap();
        let distinct: BTreeSet<_> = all.iter().map(|p| p.id).collect();
        assert_eq!((all.len(), distinct.len()), (45, 45), "{engine}");
        assert_consistent(&store);
    }
}

#[test]
fn check_finds_a_search_row_changed_behind_custdbs_back() {
    for (engine, store) in every_engine() {
        product(&store, "Tea", "TEA");
        assert_consistent(&store);
        store.tamper(
            "product_search",
            &[],
            "UPDATE product_search SET title = 'Coffee'",
        );
        let report = store.check().unwrap();
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.contains("search row is not current")),
            "{engine}: {:?}",
            report.problems
        );
    }
}
