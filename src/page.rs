//! Keyset pagination: a [`Page`] of results and the opaque [`Cursor`] that
//! continues it.
//!
//! Keyset (seek) pagination asks for "the rows after this key" instead of
//! "skip N rows", so every page costs the same however deep it is, and rows
//! inserted meanwhile neither repeat nor vanish from later pages.

use std::fmt;

use crate::error::{Error, Result};

/// The most items one page may hold.
pub const MAX_PAGE_SIZE: usize = 1000;

/// One page of results, and the cursor for the next page when there is one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Page<T> {
    /// The items of this page, in the listing's order.
    pub items: Vec<T>,
    /// Pass this to the same call to get the next page; `None` on the last
    /// page.
    pub next_cursor: Option<Cursor>,
}

impl<T> Page<T> {
    /// Every item of a listing, page after page, as one iterator: `fetch`
    /// is the listing call, given the cursor of the page to read (`None`
    /// for the first). Pages are read lazily, one at a time, so memory
    /// holds one page whatever the listing's length. After an error the
    /// iterator ends.
    ///
    /// # Example
    ///
    /// ```
    /// use custdb::{CustomerFilter, NewCustomer, Page, Store};
    ///
    /// let store = Store::open_in_memory()?;
    /// for n in 0..25 {
    ///     store.customers().create(NewCustomer::new(format!("C{n}")))?;
    /// }
    /// let filter = CustomerFilter::default();
    /// let mut names = Vec::new();
    /// for customer in Page::all(|after| store.customers().list(&filter, after, 10)) {
    ///     names.push(customer?.display_name);
    /// }
    /// assert_eq!(names.len(), 25);
    /// # Ok::<(), custdb::Error>(())
    /// ```
    pub fn all<F>(fetch: F) -> AllItems<T, F>
    where
        F: FnMut(Option<&Cursor>) -> Result<Page<T>>,
    {
        AllItems {
            fetch,
            items: Vec::new().into_iter(),
            next: Some(None),
        }
    }
}

/// The iterator of [`Page::all`].
pub struct AllItems<T, F> {
    fetch: F,
    items: std::vec::IntoIter<T>,
    /// The page still to read: `Some(None)` the first, `Some(Some(c))` the
    /// one after `c`, `None` when there is none (or after an error).
    next: Option<Option<Cursor>>,
}

impl<T, F> fmt::Debug for AllItems<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AllItems")
            .field("buffered", &self.items.len())
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl<T, F> Iterator for AllItems<T, F>
where
    F: FnMut(Option<&Cursor>) -> Result<Page<T>>,
{
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        loop {
            if let Some(item) = self.items.next() {
                return Some(Ok(item));
            }
            let cursor = self.next.take()?;
            match (self.fetch)(cursor.as_ref()) {
                Ok(page) => {
                    self.next = page.next_cursor.map(Some);
                    self.items = page.items.into_iter();
                }
                Err(err) => return Some(Err(err)),
            }
        }
    }
}

/// An opaque position in a listing. Only pass back a cursor to the listing
/// that produced it; a cursor that does not parse is an
/// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) error on `cursor`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct Cursor(String);

/// Longest text a cursor may have, in characters (not bytes: a key that
/// holds a product name of 200 Cyrillic characters is 400 bytes). The
/// longest key any listing makes (a product id, `|`, and a name of
/// [`MAX_PRODUCT_NAME_LEN`](crate::catalog::MAX_PRODUCT_NAME_LEN)
/// characters) is well inside it, so every page of valid data has a next
/// page that works.
pub const MAX_CURSOR_CHARS: usize = 512;

impl Cursor {
    pub(crate) fn from_key(key: String) -> Cursor {
        debug_assert!(
            key.chars().count() <= MAX_CURSOR_CHARS,
            "a listing made a cursor it would refuse: {key:?}"
        );
        Cursor(key)
    }

    /// The cursor's key, checked for length.
    pub(crate) fn key(&self) -> Result<&str> {
        // The byte test first bounds the work of counting characters.
        if self.0.len() > 4 * MAX_CURSOR_CHARS || self.0.chars().count() > MAX_CURSOR_CHARS {
            return Err(Error::invalid(
                "cursor",
                format!("is longer than {MAX_CURSOR_CHARS} characters: not a cursor custdb made"),
            ));
        }
        Ok(&self.0)
    }

    /// The cursor as text, to hand to a client and take back later.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Cursor {
    type Err = Error;
    fn from_str(s: &str) -> Result<Cursor> {
        let cursor = Cursor(s.to_owned());
        cursor.key()?;
        Ok(cursor)
    }
}

/// Checks a page size: 1 to [`MAX_PAGE_SIZE`].
pub(crate) fn check_limit(limit: usize) -> Result<usize> {
    if limit == 0 || limit > MAX_PAGE_SIZE {
        return Err(Error::invalid(
            "limit",
            format!("is {limit}, must be between 1 and {MAX_PAGE_SIZE}"),
        ));
    }
    Ok(limit)
}

/// Turns `limit + 1` fetched rows into a page: the extra row only says that
/// another page exists.
pub(crate) fn into_page<T>(
    mut items: Vec<T>,
    limit: usize,
    key_of: impl Fn(&T) -> String,
) -> Page<T> {
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|last| Cursor::from_key(key_of(last)))
    } else {
        None
    };
    Page { items, next_cursor }
}
