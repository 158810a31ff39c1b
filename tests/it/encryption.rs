//! Encryption at rest. Without the `sqlcipher` feature a key is refused
//! with a typed error; with it (CI builds and runs this file both ways) the
//! file holds no readable byte of its contents, and a wrong or missing key
//! is a typed error.

use custdb::{ErrorKind, Options, Store};

#[cfg(not(feature = "sqlcipher"))]
#[test]
fn a_key_without_the_feature_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = Store::open_with(
        dir.path().join("x.db"),
        Options::default().encryption_key("k"),
    )
    .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::EncryptionUnavailable),
        "{err:?}"
    );
    assert!(!dir.path().join("x.db").exists(), "nothing was created");
}

#[test]
fn the_key_never_shows_in_debug_output() {
    let options = Options::default().encryption_key("correct horse battery staple");
    let shown = format!("{options:?}");
    assert!(!shown.contains("horse"), "{shown}");
}

#[cfg(feature = "sqlcipher")]
mod sqlcipher {
    use super::*;
    use crate::common::assert_consistent;
    use custdb::NewCustomer;

    const EMAIL: &str = "secret.person@example.com";

    fn encrypted(dir: &tempfile::TempDir, key: &str) -> Store {
        Store::open_with(
            dir.path().join("enc.db"),
            Options::default().encryption_key(key),
        )
        .unwrap()
    }

    #[test]
    fn the_file_holds_nothing_readable_and_reopens_with_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = encrypted(&dir, "k1");
        let c = store
            .customers()
            .create(NewCustomer::new("Secret Person").email(EMAIL))
            .unwrap();
        assert_consistent(&store);
        drop(store);
        for name in ["enc.db", "enc.db-wal"] {
            let path = dir.path().join(name);
            if path.exists() {
                let bytes = std::fs::read(&path).unwrap();
                assert!(
                    !bytes.windows(EMAIL.len()).any(|w| w == EMAIL.as_bytes()),
                    "{name} holds the email in clear"
                );
                assert!(
                    !bytes.starts_with(b"SQLite format 3"),
                    "{name} has a plain header"
                );
            }
        }
        let store = encrypted(&dir, "k1");
        assert_eq!(
            store.customers().get(c.id).unwrap().email.as_deref(),
            Some(EMAIL)
        );
    }

    #[test]
    fn a_wrong_or_missing_key_is_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        drop(encrypted(&dir, "right"));
        let before = std::fs::read(dir.path().join("enc.db")).unwrap();
        let wrong = Store::open_with(
            dir.path().join("enc.db"),
            Options::default().encryption_key("wrong"),
        )
        .unwrap_err();
        assert!(
            matches!(wrong.kind(), ErrorKind::WrongKey { .. }),
            "{wrong:?}"
        );
        let missing = Store::open(dir.path().join("enc.db")).unwrap_err();
        assert!(
            matches!(missing.kind(), ErrorKind::WrongKey { .. }),
            "{missing:?}"
        );
        assert_eq!(
            before,
            std::fs::read(dir.path().join("enc.db")).unwrap(),
            "file untouched"
        );
    }

    #[test]
    fn backups_of_an_encrypted_store_stay_encrypted() {
        let dir = tempfile::tempdir().unwrap();
        let store = encrypted(&dir, "k2");
        store
            .customers()
            .create(NewCustomer::new("Secret Person").email(EMAIL))
            .unwrap();
        let backup = store.backup_to(dir.path().join("b.db"), |_| {}).unwrap();
        let bytes = std::fs::read(&backup.path).unwrap();
        assert!(!bytes.windows(EMAIL.len()).any(|w| w == EMAIL.as_bytes()));
        let wrong =
            Store::restore(&backup.path, dir.path().join("r1.db"), Options::default()).unwrap_err();
        assert!(
            matches!(wrong.kind(), ErrorKind::WrongKey { .. }),
            "{wrong:?}"
        );
        let restored = Store::restore(
            &backup.path,
            dir.path().join("r2.db"),
            Options::default().encryption_key("k2"),
        )
        .unwrap();
        assert_consistent(&restored);
    }
}
