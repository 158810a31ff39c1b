//! `one_shot!`: the facade an area offers on [`Store`](crate::Store) for
//! single operations, each in its own unit of work (`store.orders().pay(..)`),
//! beside the units of work (`store.write(|tx| tx.orders().pay(..))`) for
//! several operations that must succeed together.

/// Declares a one-shot facade: a `Copy` handle on the store whose methods
/// run the area's writer method in `Store::write` and its reader method
/// in `Store::read` (one consistent snapshot).
macro_rules! one_shot {
    (
        $(#[$meta:meta])*
        $facade:ident => write $warea:ident : $writer:ident, read $rarea:ident : $reader:ident;
        write { $( $(#[$wmeta:meta])* fn $w:ident ( $($wa:ident : $wt:ty),* ) -> $wr:ty; )* }
        read { $( $(#[$rmeta:meta])* fn $r:ident ( $($ra:ident : $rt:ty),* ) -> $rr:ty; )* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        pub struct $facade<'s> {
            store: &'s crate::Store,
        }

        impl<'s> $facade<'s> {
            pub(crate) fn new(store: &'s crate::Store) -> Self {
                $facade { store }
            }

            $(
                #[doc = concat!("[`", stringify!($writer), "::", stringify!($w), "`] in its own unit of work.")]
                ///
                /// # Errors
                ///
                #[doc = concat!("As [`", stringify!($writer), "::", stringify!($w), "`].")]
                $(#[$wmeta])*
                pub fn $w(&self, $($wa: $wt),*) -> crate::Result<$wr> {
                    self.store.write_one(|tx| tx.$warea().$w($(::core::clone::Clone::clone(&$wa)),*))
                }
            )*

            $(
                #[doc = concat!("[`", stringify!($reader), "::", stringify!($r), "`] in its own read transaction.")]
                ///
                /// # Errors
                ///
                #[doc = concat!("As [`", stringify!($reader), "::", stringify!($r), "`].")]
                $(#[$rmeta])*
                pub fn $r(&self, $($ra: $rt),*) -> crate::Result<$rr> {
                    self.store.read(|r| r.$rarea().$r($($ra),*))
                }
            )*
        }
    };
}
pub(crate) use one_shot;
