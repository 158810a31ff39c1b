//! `text_enum!`: an enum stored as text, with its names in one place.

/// Declares a `Copy` enum whose values are stored as fixed lowercase text:
/// `ALL`, `as_str()` and a `from_db()` that refuses unknown text.
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),*
                }
            }

            #[allow(dead_code)]
            pub(crate) fn from_db(text: &str) -> rusqlite::Result<$name> {
                match text {
                    $($text => Ok($name::$variant),)*
                    other => Err(rusqlite::Error::InvalidColumnType(
                        0,
                        format!(concat!(stringify!($name), " {:?}"), other),
                        rusqlite::types::Type::Text,
                    )),
                }
            }
        }
    };
}
pub(crate) use text_enum;
