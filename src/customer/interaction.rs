//! A customer's interaction history: an append-only timeline of notes,
//! calls, complaints, reviews, sales and support contacts.
//!
//! Entries are never changed or deleted (SQL triggers refuse it); a
//! correction is a new entry. The timeline lists newest first by
//! `occurred_at`, with keyset pagination.

use crate::db::{sql, Row, TimeBound};
use chrono::{DateTime, Duration, Utc};

use super::{CustomerReader, Customers};
use crate::audit::Change;
use crate::error::{Error, Result};
use crate::id::{CustomerId, InteractionId};
use crate::page::{check_limit, into_page, Cursor, Page};
use crate::text_enum::text_enum;
use crate::validate;

/// Longest subject, in characters.
pub const MAX_SUBJECT_LEN: usize = 200;
/// Longest body, in characters.
pub const MAX_BODY_LEN: usize = 20_000;
/// How far in the future `occurred_at` may lie (clock skew between devices).
pub const MAX_FUTURE_SKEW_HOURS: i64 = 24;

text_enum!(
    /// Where an interaction happened.
    Channel {
        /// Email.
        Email = "email",
        /// A phone call.
        Phone = "phone",
        /// Chat or messaging.
        Chat = "chat",
        /// A meeting.
        Meeting = "meeting",
        /// In a shop.
        InStore = "in_store",
        /// On the web site.
        Web = "web",
        /// Social media.
        Social = "social",
        /// Postal mail.
        Mail = "mail",
        /// Anything else.
        Other = "other",
    }
);

text_enum!(
    /// Who reached out.
    Direction {
        /// The customer contacted the business.
        Inbound = "inbound",
        /// The business contacted the customer.
        Outbound = "outbound",
        /// A note within the business, not sent to the customer.
        Internal = "internal",
    }
);

text_enum!(
    /// What an interaction was about.
    InteractionKind {
        /// A note.
        Note = "note",
        /// A complaint.
        Complaint = "complaint",
        /// A review; the only kind that may carry a rating.
        Review = "review",
        /// A support contact.
        Support = "support",
        /// A sale.
        Sale = "sale",
        /// A question.
        Inquiry = "inquiry",
        /// Feedback.
        Feedback = "feedback",
        /// A marketing contact.
        Marketing = "marketing",
        /// Anything else.
        Other = "other",
    }
);

/// One entry of a customer's timeline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Interaction {
    /// The entry's id.
    pub id: InteractionId,
    /// The customer.
    pub customer_id: CustomerId,
    /// Where it happened.
    pub channel: Channel,
    /// Who reached out.
    pub direction: Direction,
    /// What it was about.
    pub kind: InteractionKind,
    /// A one-line subject.
    pub subject: Option<String>,
    /// The text.
    pub body: Option<String>,
    /// For reviews: 1 to 5 stars.
    pub rating: Option<u8>,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// The id of the actor who recorded it.
    pub recorded_by: String,
}

/// An interaction to append. A subject or a body is required.
///
/// # Example
///
/// ```
/// use custdb::{Channel, Direction, InteractionKind, NewCustomer, NewInteraction, Store};
///
/// let store = Store::open_in_memory()?;
/// let c = store.customers().create(NewCustomer::new("Ann"))?;
/// let review = NewInteraction::new(Channel::Web, Direction::Inbound, InteractionKind::Review)
///     .subject("Lovely teapot")
///     .rating(5);
/// store.customers().add_interaction(c.id, review)?;
/// let page = store.customers().interactions(c.id, None, 20)?;
/// assert_eq!(page.items[0].rating, Some(5));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewInteraction {
    /// Where it happened.
    pub channel: Channel,
    /// Who reached out.
    pub direction: Direction,
    /// What it was about.
    pub kind: InteractionKind,
    /// Subject.
    #[serde(default)]
    pub subject: Option<String>,
    /// Body.
    #[serde(default)]
    pub body: Option<String>,
    /// Rating, 1 to 5, reviews only.
    #[serde(default)]
    pub rating: Option<u8>,
    /// When it happened; the transaction time when `None`.
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}
crate::input::strict_serde!(NewInteraction);

impl NewInteraction {
    /// An interaction of this channel, direction and kind.
    pub fn new(channel: Channel, direction: Direction, kind: InteractionKind) -> Self {
        NewInteraction {
            channel,
            direction,
            kind,
            subject: None,
            body: None,
            rating: None,
            occurred_at: None,
        }
    }

    super::setters!(
        /// Sets the subject.
        subject,
        /// Sets the body.
        body,
    );

    /// Sets the rating (reviews only, 1 to 5).
    pub fn rating(mut self, stars: u8) -> Self {
        self.rating = Some(stars);
        self
    }

    /// Sets when it happened.
    pub fn occurred_at(mut self, at: DateTime<Utc>) -> Self {
        self.occurred_at = Some(at);
        self
    }
}

macro_rules! select_interactions {
    ($rest:literal) => {
        concat!(
            "SELECT id, customer_id, channel, direction, kind, subject, body, rating, \
             occurred_at, recorded_at, recorded_by FROM customer_interactions ",
            $rest
        )
    };
}

fn interaction_from_row(row: &Row<'_>) -> Result<Interaction> {
    Ok(Interaction {
        id: row.get(0)?,
        customer_id: row.get(1)?,
        channel: row.get(2)?,
        direction: row.get(3)?,
        kind: row.get(4)?,
        subject: row.get(5)?,
        body: row.get(6)?,
        rating: row.get(7)?,
        occurred_at: row.get(8)?,
        recorded_at: row.get(9)?,
        recorded_by: row.get(10)?,
    })
}

impl CustomerReader<'_> {
    /// The customer's timeline, newest first (by `occurred_at`, then id).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an unknown
    /// customer; [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) for a bad
    /// cursor or limit.
    pub fn interactions(
        &self,
        customer_id: CustomerId,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Interaction>> {
        let limit = check_limit(limit)?;
        self.require(customer_id)?;
        // The cursor is "<occurred_at>|<id>" of the last entry shown; a
        // bound after every storable time means "from the top".
        let (before_at, before_id) = match after {
            None => (TimeBound(DateTime::<Utc>::MAX_UTC), uuid::Uuid::max()),
            Some(c) => {
                let key = c.key()?;
                let (at, id) = key
                    .split_once('|')
                    .ok_or_else(|| Error::invalid("cursor", "is not an interaction cursor"))?;
                let at = DateTime::parse_from_rfc3339(at)
                    .map_err(|_| Error::invalid("cursor", "is not an interaction cursor"))?;
                let id = InteractionId::parse(id, "cursor")?;
                (TimeBound(at.with_timezone(&Utc)), *id.as_uuid())
            }
        };
        let items = self.db().query_vec(
            sql!(select_interactions!(
                "WHERE customer_id = ?1 AND (occurred_at, id) < (?2, ?3) \
                 ORDER BY occurred_at DESC, id DESC LIMIT ?4"
            )),
            &[&customer_id, &before_at, &before_id, &(limit + 1)],
            interaction_from_row,
        )?;
        Ok(into_page(items, limit, |i| {
            format!("{}|{}", crate::time::to_db(&i.occurred_at), i.id)
        }))
    }
}

impl Customers<'_> {
    /// Appends an interaction to an active customer's timeline, recorded by
    /// the unit of work's actor.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an unknown
    /// customer, [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState)
    /// when archived, [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) naming
    /// `interaction.<field>`: neither subject nor body, text over its limit, a
    /// rating outside 1..=5 or on a kind other than review, an `occurred_at`
    /// outside the range custdb stores ([`crate::time`]) or more than
    /// [`MAX_FUTURE_SKEW_HOURS`] ahead.
    pub fn add_interaction(
        &self,
        customer_id: CustomerId,
        new: NewInteraction,
    ) -> Result<Interaction> {
        self.tx().atomic(|| {
            self.require_active(customer_id)?;
            let subject = validate::optional_text(
                "interaction.subject",
                new.subject.as_deref(),
                MAX_SUBJECT_LEN,
            )?;
            let body = validate::optional_long_text(
                "interaction.body",
                new.body.as_deref(),
                MAX_BODY_LEN,
            )?;
            if subject.is_none() && body.is_none() {
                return Err(Error::invalid(
                    "interaction.subject",
                    "a subject or a body is required",
                ));
            }
            if let Some(stars) = new.rating {
                if new.kind != InteractionKind::Review {
                    return Err(Error::invalid(
                        "interaction.rating",
                        "only a review may carry a rating",
                    ));
                }
                if !(1..=5).contains(&stars) {
                    return Err(Error::invalid(
                        "interaction.rating",
                        format!("is {stars}, must be 1 to 5"),
                    ));
                }
            }
            let now = self.tx().now();
            let occurred_at = match new.occurred_at {
                Some(at) => crate::time::checked("interaction.occurred_at", at)?,
                None => now,
            };
            if occurred_at > now + Duration::hours(MAX_FUTURE_SKEW_HOURS) {
                return Err(Error::invalid(
                    "interaction.occurred_at",
                    format!("is more than {MAX_FUTURE_SKEW_HOURS} hours in the future"),
                ));
            }
            let id = InteractionId::new();
            let recorded_by = self.tx().actor().id().to_owned();
            self.tx().db().execute(
                sql!(
                    "INSERT INTO customer_interactions (id, customer_id, channel, direction, kind, \
                     subject, body, rating, occurred_at, recorded_at, recorded_by) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                ),
                &[
                    &id,
                    &customer_id,
                    &new.channel,
                    &new.direction,
                    &new.kind,
                    &subject,
                    &body,
                    &new.rating,
                    &occurred_at,
                    &now,
                    &recorded_by,
                ],
            )?;
            self.tx().audit_change_with(
                Change {
                    action: "create",
                    entity_type: "interaction",
                    entity_id: &id.to_string(),
                    changed_fields: &["customer_id", "channel", "direction", "kind"],
                },
                crate::changes::ChangeFacts::of_customer(customer_id),
            )?;
            Ok(Interaction {
                id,
                customer_id,
                channel: new.channel,
                direction: new.direction,
                kind: new.kind,
                subject,
                body,
                rating: new.rating,
                occurred_at,
                recorded_at: now,
                recorded_by,
            })
        })
    }
}
