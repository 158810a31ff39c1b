//! Model-based test: random sequences of customer operations run against
//! the store (on each engine) and against a small in-memory model; every outcome (success or
//! the kind of error) and the final state must agree, and `check()` must
//! pass after every sequence.

use std::collections::{BTreeMap, BTreeSet};

use custdb::{ArchiveState, CustomerFilter, CustomerId, CustomerPatch, NewCustomer, Store};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Create {
        email: Option<u8>,
    },
    Update {
        who: usize,
        stale: bool,
        email: Option<u8>,
    },
    Archive {
        who: usize,
    },
    Restore {
        who: usize,
    },
    Tag {
        who: usize,
        tag: u8,
    },
    Untag {
        who: usize,
        tag: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let email = proptest::option::of(0u8..4);
    prop_oneof![
        email.clone().prop_map(|email| Op::Create { email }),
        (any::<usize>(), any::<bool>(), email).prop_map(|(who, stale, email)| Op::Update {
            who,
            stale,
            email
        }),
        any::<usize>().prop_map(|who| Op::Archive { who }),
        any::<usize>().prop_map(|who| Op::Restore { who }),
        (any::<usize>(), 0u8..3).prop_map(|(who, tag)| Op::Tag { who, tag }),
        (any::<usize>(), 0u8..3).prop_map(|(who, tag)| Op::Untag { who, tag }),
    ]
}

#[derive(Debug, Clone, PartialEq)]
struct Model {
    email: Option<String>,
    archived: bool,
    version: i64,
    tags: BTreeSet<String>,
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Ok,
    Conflict,
    EmailTaken,
    Archived,
}

fn outcome<T>(r: custdb::Result<T>) -> Outcome {
    match r {
        Ok(_) => Outcome::Ok,
        Err(e) if e.is_conflict() => Outcome::Conflict,
        Err(e) if e.is_already_exists() => Outcome::EmailTaken,
        Err(e) if matches!(e.kind(), custdb::ErrorKind::InvalidState { .. }) => Outcome::Archived,
        Err(e) => panic!("unexpected error {e:?}"),
    }
}

fn email_of(n: u8) -> String {
    format!("person{n}@example.com")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn store_agrees_with_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        for (_, store) in crate::common::every_engine() {
            agrees_with_the_model(&store, &ops)?;
        }
    }
}

/// One sequence on one store, against the model.
fn agrees_with_the_model(store: &Store, ops: &[Op]) -> Result<(), TestCaseError> {
    {
        let mut ids: Vec<CustomerId> = Vec::new();
        let mut model: BTreeMap<CustomerId, Model> = BTreeMap::new();
        let taken =
            |model: &BTreeMap<CustomerId, Model>, email: &str, except: Option<CustomerId>| {
                model.iter().any(|(id, m)| {
                    Some(*id) != except && !m.archived && m.email.as_deref() == Some(email)
                })
            };
        for op in ops.iter().cloned() {
            match op {
                Op::Create { email } => {
                    let email = email.map(email_of);
                    let expected = if email.as_deref().is_some_and(|e| taken(&model, e, None)) {
                        Outcome::EmailTaken
                    } else {
                        Outcome::Ok
                    };
                    let mut new = NewCustomer::new("Someone");
                    new.email = email.clone();
                    let result = store.customers().create(new);
                    if let Ok(c) = &result {
                        ids.push(c.id);
                        model.insert(
                            c.id,
                            Model {
                                email,
                                archived: false,
                                version: 1,
                                tags: BTreeSet::new(),
                            },
                        );
                    }
                    prop_assert_eq!(outcome(result), expected);
                }
                Op::Update { who, stale, email } if !ids.is_empty() => {
                    let id = ids[who % ids.len()];
                    let m = model[&id].clone();
                    let email = email.map(email_of);
                    let version = if stale { m.version - 1 } else { m.version };
                    let expected = if stale {
                        Outcome::Conflict
                    } else if m.archived {
                        Outcome::Archived
                    } else if email != m.email
                        && email.as_deref().is_some_and(|e| taken(&model, e, Some(id)))
                    {
                        Outcome::EmailTaken
                    } else {
                        Outcome::Ok
                    };
                    let patch = CustomerPatch {
                        email: Some(email.clone()),
                        ..Default::default()
                    };
                    let result = store.customers().update(id, version, patch);
                    if result.is_ok() && email != m.email {
                        let entry = model.get_mut(&id).unwrap();
                        entry.email = email;
                        entry.version += 1;
                    }
                    prop_assert_eq!(outcome(result), expected);
                }
                Op::Archive { who } if !ids.is_empty() => {
                    let id = ids[who % ids.len()];
                    let result = store.customers().archive(id);
                    let entry = model.get_mut(&id).unwrap();
                    if !entry.archived {
                        entry.archived = true;
                        entry.version += 1;
                    }
                    prop_assert_eq!(outcome(result), Outcome::Ok);
                }
                Op::Restore { who } if !ids.is_empty() => {
                    let id = ids[who % ids.len()];
                    let m = model[&id].clone();
                    let expected = if m.archived
                        && m.email
                            .as_deref()
                            .is_some_and(|e| taken(&model, e, Some(id)))
                    {
                        Outcome::EmailTaken
                    } else {
                        Outcome::Ok
                    };
                    let result = store.customers().restore(id);
                    if result.is_ok() && m.archived {
                        let entry = model.get_mut(&id).unwrap();
                        entry.archived = false;
                        entry.version += 1;
                    }
                    prop_assert_eq!(outcome(result), expected);
                }
                Op::Tag { who, tag } | Op::Untag { who, tag } if !ids.is_empty() => {
                    let adding = matches!(op, Op::Tag { .. });
                    let id = ids[who % ids.len()];
                    let tag = format!("tag{tag}");
                    let m = model[&id].clone();
                    let result = if adding {
                        store.customers().add_tags(id, &[tag.as_str()])
                    } else {
                        store.customers().remove_tags(id, &[tag.as_str()])
                    };
                    let expected = if m.archived {
                        Outcome::Archived
                    } else {
                        Outcome::Ok
                    };
                    if result.is_ok() {
                        let entry = model.get_mut(&id).unwrap();
                        let changed = if adding {
                            entry.tags.insert(tag)
                        } else {
                            entry.tags.remove(&tag)
                        };
                        if changed {
                            entry.version += 1;
                        }
                    }
                    prop_assert_eq!(outcome(result), expected);
                }
                _ => {}
            }
        }
        let all = store
            .customers()
            .list(
                &CustomerFilter::default().archived(ArchiveState::All),
                None,
                1000,
            )
            .unwrap();
        prop_assert_eq!(all.items.len(), model.len());
        for c in all.items {
            let m = &model[&c.id];
            prop_assert_eq!(&c.email, &m.email);
            prop_assert_eq!(c.is_archived(), m.archived);
            prop_assert_eq!(c.version, m.version);
            prop_assert_eq!(
                c.tags.iter().cloned().collect::<BTreeSet<_>>(),
                m.tags.clone()
            );
        }
        let report = store.check().unwrap();
        prop_assert!(report.is_ok(), "{:?}", report.problems);
    }
    Ok(())
}
