//! What every input record shares when it is read from JSON (or any serde
//! format): it must be an object (a JSON array is not read positionally),
//! an unknown field is an error that names it (`"emial"` does not create a
//! customer without an email), and in a patch `null` clears a field just as
//! `""` does.
//!
//! Each input type derives serde with `#[serde(remote = "Self",
//! deny_unknown_fields)]`, which turns the derived code into inherent
//! functions, and [`strict_serde!`] implements the traits on top of them:
//! `Serialize` as derived, `Deserialize` through a map first, so that only
//! an object gets to the derived code.

/// Implements `Serialize` and `Deserialize` for input types that derive
/// them with `#[serde(remote = "Self", deny_unknown_fields)]`. After a
/// `;`, a patch lists the fields it cannot clear: `null` for one of them
/// is an error naming it (leaving the field out keeps the value).
macro_rules! strict_serde {
    ($ty:ident $(; not_null: $($field:ident),+)?) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                $ty::serialize(self, serializer)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let object = $crate::input::object(deserializer, stringify!($ty))?;
                $($(
                    if object.get(stringify!($field)).is_some_and(serde_json::Value::is_null) {
                        return Err(<D::Error as serde::de::Error>::custom(concat!(
                            "`", stringify!($field), "` cannot be cleared: null is not a value for it \
                             (leave the field out to keep its value)"
                        )));
                    }
                )+)?
                let mut track = serde_path_to_error::Track::new();
                let value = serde_json::Value::Object(object);
                $ty::deserialize(serde_path_to_error::Deserializer::new(value, &mut track))
                    .map_err(|e| $crate::input::at_path(track.path(), e))
                    .map_err(<D::Error as serde::de::Error>::custom)
            }
        }
    };
}
pub(crate) use strict_serde;

/// An error with the path of the field it is about in front (`email:
/// invalid type: integer `5`, expected a string`), unless the message
/// already names it.
pub(crate) fn at_path(path: serde_path_to_error::Path, error: serde_json::Error) -> String {
    let path = path.to_string();
    if path == "." || path.is_empty() {
        error.to_string()
    } else {
        format!("{path}: {error}")
    }
}

/// Reads an object, refusing anything else with an error that says what
/// was expected.
pub(crate) fn object<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
    type_name: &'static str,
) -> Result<serde_json::Map<String, serde_json::Value>, D::Error> {
    struct ObjectOnly(&'static str);
    impl<'de> serde::de::Visitor<'de> for ObjectOnly {
        type Value = serde_json::Map<String, serde_json::Value>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a JSON object for {} (fields by name)", self.0)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut object = serde_json::Map::new();
            while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
                if object.insert(key.clone(), value).is_some() {
                    return Err(serde::de::Error::custom(format_args!(
                        "duplicate field `{key}`"
                    )));
                }
            }
            Ok(object)
        }
    }
    deserializer.deserialize_map(ObjectOnly(type_name))
}

/// `#[serde(default, deserialize_with = "crate::input::clearable")]` on a
/// patch's `Option<Option<T>>`: a missing field leaves the value alone
/// (`None`), `null` clears it (`Some(None)`), as `""` does for text, and a
/// value sets it.
pub(crate) fn clearable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    Ok(Some(Option::<T>::deserialize(deserializer)?))
}

use serde::Deserialize;
