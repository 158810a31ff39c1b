//! `text_enum!`: an enum stored as text, with its names in one place.

/// Declares a `Copy` enum whose values are stored as fixed lowercase text:
/// `ALL`, `as_str()` and a `from_db()` that refuses unknown text.
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
        #[serde(rename_all = "snake_case")]
        #[non_exhaustive]
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

            /// Parses the stored name (what [`as_str`](Self::as_str) and
            /// `Display` give), naming `field` in the error.
            ///
            /// # Errors
            ///
            /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) on `field`
            /// for any other text; the reason lists the accepted names.
            pub fn parse(text: &str, field: &str) -> crate::Result<$name> {
                match text {
                    $($text => Ok($name::$variant),)*
                    _ => Err(crate::Error::invalid(
                        field,
                        format!(
                            "must be one of {}",
                            [$($text),*].join(", ")
                        ),
                    )),
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

        impl crate::db::ToValue for $name {
            fn to_value(&self) -> crate::db::Value<'_> {
                crate::db::Value::Text(self.as_str())
            }
        }

        impl crate::db::FromValue for $name {
            fn from_value(value: crate::db::ValueRef<'_>) -> crate::Result<Self> {
                match value {
                    $(crate::db::ValueRef::Text($text) => Ok($name::$variant),)*
                    crate::db::ValueRef::Text(other) => Err(crate::Error::corrupt(format!(
                        concat!("stored ", stringify!($name), " {:?} is not one custdb writes"),
                        other
                    ))),
                    v => Err(v.unexpected(stringify!($name))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::Error;

            /// Parses the stored name; the error names the field as the
            /// type's name (`OrderStatus`).
            fn from_str(text: &str) -> crate::Result<$name> {
                $name::parse(text, stringify!($name))
            }
        }
    };
}
pub(crate) use text_enum;
