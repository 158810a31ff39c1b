//! The consent ledger: purposes of processing registered by the
//! application, and an append-only record of consent events shaped after
//! ISO/IEC TS 27560 (who, for what purpose, which state, under which notice
//! text, collected how, where, in which language, valid until when, and who
//! recorded it).
//!
//! The state of a customer's consent to a purpose at an instant is the
//! state of the latest event (by event time, then by the order recorded)
//! that happened at or before that instant; a `given` event whose
//! `valid_until` has passed counts as `expired`. Nothing is ever updated or
//! deleted: SQL triggers refuse it, except while a subject is being erased
//! (see [`Privacy::erase`](crate::Privacy::erase)).
//!
//! # Example
//!
//! ```
//! use chrono::Utc;
//! use custdb::{CollectionMethod, LawfulBasis, NewConsent, NewCustomer, NewPurpose, ConsentState, DataCategory, Store};
//!
//! let store = Store::open_in_memory()?;
//! let allowed = store.write(|tx| {
//!     let ann = tx.customers().create(NewCustomer::new("Ann").email("ann@example.com"))?;
//!     tx.consent().register_purpose(
//!         NewPurpose::new("newsletter", "A monthly email about new products", LawfulBasis::Consent)
//!             .data_category(DataCategory::Contact),
//!     )?;
//!     tx.consent().record(
//!         NewConsent::new(ann.id, "newsletter", ConsentState::Given, CollectionMethod::WebForm)
//!             .notice("2026-01", "Yes, send me the monthly newsletter.")
//!             .channel("website")
//!             .jurisdiction("GB")
//!             .language("en"),
//!     )?;
//!     tx.consent().can_process(ann.id, "newsletter", Utc::now())
//! })?;
//! assert!(allowed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use crate::audit::Change;
use crate::db::{sql, Conn, Json, Row};
use crate::error::JsonResult;
use crate::error::{Error, ErrorKind, Result};
use crate::id::{ConsentEventId, CustomerId};
use crate::page::{check_limit, into_page, Cursor, Page};
use crate::text_enum::text_enum;
use crate::unit::{CheckReport, WriteTx};
use crate::validate;

/// Longest purpose id, in characters.
pub const MAX_PURPOSE_ID_LEN: usize = 64;
/// Longest purpose description, in characters.
pub const MAX_PURPOSE_DESCRIPTION_LEN: usize = 1000;
/// Longest notice text, in characters.
pub const MAX_NOTICE_TEXT_LEN: usize = 100_000;
/// Longest notice version, channel, in characters.
pub const MAX_NOTICE_VERSION_LEN: usize = 64;
/// Longest evidence reference, in characters.
pub const MAX_EVIDENCE_REFERENCE_LEN: usize = 200;
/// How far in the future an event time may be, to allow for clocks that
/// disagree a little between the device that collected the consent and the
/// one that records it.
pub const MAX_EVENT_CLOCK_SKEW: Duration = Duration::minutes(5);

text_enum!(
    /// The lawful basis of a purpose (GDPR Art. 6(1)).
    LawfulBasis {
        /// (a) The person consented.
        Consent = "consent",
        /// (b) Needed for a contract with the person.
        Contract = "contract",
        /// (c) Required by law.
        LegalObligation = "legal_obligation",
        /// (d) To protect someone's vital interests.
        VitalInterests = "vital_interests",
        /// (e) A task in the public interest.
        PublicTask = "public_task",
        /// (f) The controller's legitimate interests; the person may object.
        LegitimateInterests = "legitimate_interests",
    }
);

text_enum!(
    /// The state a consent event records (ISO/IEC TS 27560 consent status).
    ConsentState {
        /// Consent was asked for; no answer yet. Does not allow processing.
        Requested = "requested",
        /// Consent was given.
        Given = "given",
        /// Consent was refused (or, for a legitimate-interest purpose, the
        /// person objected).
        Refused = "refused",
        /// Consent given earlier was withdrawn.
        Withdrawn = "withdrawn",
        /// Consent ran out (recorded explicitly; a `given` event past its
        /// `valid_until` also reads as expired).
        Expired = "expired",
        /// Consent recorded earlier turned out not to be valid (for example
        /// collected under a wrong notice).
        Invalidated = "invalidated",
    }
);

text_enum!(
    /// How a consent event was collected.
    CollectionMethod {
        /// A form on a website.
        WebForm = "web_form",
        /// A mobile application.
        MobileApp = "mobile_app",
        /// A signed paper form.
        Paper = "paper",
        /// Another system, through an API.
        Api = "api",
        /// Said aloud (in person or on the phone) and noted.
        Verbal = "verbal",
        /// An email from the person.
        Email = "email",
        /// A phone call.
        Phone = "phone",
        /// At a shop counter.
        InStore = "in_store",
        /// Imported from another system.
        Import = "import",
        /// Written by custdb while erasing the subject.
        Erasure = "erasure",
        /// Written by the application on its own (for example an expiry).
        System = "system",
    }
);

text_enum!(
    /// A category of personal data (GDPR Art. 30(1)(c)); used by purposes,
    /// the personal-data map and consent receipts.
    DataCategory {
        /// Names and the like.
        Identity = "identity",
        /// Email, phone.
        Contact = "contact",
        /// Postal addresses.
        Address = "address",
        /// Birth date, locale.
        Demographic = "demographic",
        /// Free-form profile data: tags, attributes, notes.
        Profile = "profile",
        /// What was said or written to or by the person.
        Communication = "communication",
        /// Orders, deliveries and their history.
        Commercial = "commercial",
        /// Payment references.
        Financial = "financial",
        /// Consent records and their evidence.
        Consent = "consent",
        /// Ids that point at a person without naming them.
        Pseudonymous = "pseudonymous",
        /// Who on the staff did something.
        Staff = "staff",
    }
);

/// A purpose of processing to register.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewPurpose {
    /// A stable id chosen by the application (`newsletter`,
    /// `order_fulfilment`): 1 to [`MAX_PURPOSE_ID_LEN`] characters of
    /// `a-z`, `0-9`, `_`, `-`, `.`.
    pub id: String,
    /// What the data is used for, as shown to people.
    pub description: String,
    /// The lawful basis.
    pub lawful_basis: LawfulBasis,
    /// Whether processing needs the person's consent. Always true for
    /// [`LawfulBasis::Consent`].
    pub consent_required: bool,
    /// The categories of personal data processed for it (at least one).
    pub data_categories: Vec<DataCategory>,
}
crate::input::strict_serde!(NewPurpose);

impl NewPurpose {
    /// A purpose; consent is required exactly when the basis is consent.
    pub fn new(
        id: impl Into<String>,
        description: impl Into<String>,
        lawful_basis: LawfulBasis,
    ) -> Self {
        NewPurpose {
            id: id.into(),
            description: description.into(),
            lawful_basis,
            consent_required: lawful_basis == LawfulBasis::Consent,
            data_categories: Vec::new(),
        }
    }

    /// Adds a category of personal data processed for the purpose.
    pub fn data_category(mut self, category: DataCategory) -> Self {
        if !self.data_categories.contains(&category) {
            self.data_categories.push(category);
        }
        self
    }

    /// Requires consent even though the basis is not consent (for example
    /// a legitimate-interest purpose run on an opt-in basis).
    pub fn consent_required(mut self, required: bool) -> Self {
        self.consent_required = required;
        self
    }
}

/// A registered purpose.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Purpose {
    /// The id.
    pub id: String,
    /// What the data is used for.
    pub description: String,
    /// The lawful basis.
    pub lawful_basis: LawfulBasis,
    /// Whether processing needs consent.
    pub consent_required: bool,
    /// The categories of personal data processed for it.
    pub data_categories: Vec<DataCategory>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

/// A consent event to record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewConsent {
    /// Whose consent.
    pub customer_id: CustomerId,
    /// For which registered purpose.
    pub purpose_id: String,
    /// The state recorded.
    pub state: ConsentState,
    /// How it was collected.
    pub collection_method: CollectionMethod,
    /// The version of the notice or policy shown, with its exact text; see
    /// [`notice`](NewConsent::notice). Required for `given`.
    pub notice: Option<Notice>,
    /// Where: `website`, `shop-paris`, `call-centre` (1 to 64 characters).
    pub channel: String,
    /// The jurisdiction whose law applies: an ISO 3166 code (`GB`,
    /// `US-CA`) or a region (`EU`), 2 to 16 characters.
    pub jurisdiction: String,
    /// The language the notice was shown in, a BCP 47 tag.
    pub language: String,
    /// A reference to the evidence kept elsewhere (a form submission id, a
    /// scanned form's file name), at most
    /// [`MAX_EVIDENCE_REFERENCE_LEN`] characters. Erasure removes it.
    pub evidence_reference: Option<String>,
    /// When it happened; the transaction time when `None`. At most
    /// [`MAX_EVENT_CLOCK_SKEW`] in the future.
    pub occurred_at: Option<DateTime<Utc>>,
    /// When a `given` consent stops counting.
    pub valid_until: Option<DateTime<Utc>>,
}
crate::input::strict_serde!(NewConsent);

/// The notice or policy a person saw: its version and exact text. custdb
/// keeps the text once, by its SHA-256 hash, and each event keeps the hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Notice {
    /// The version label (1 to 64 characters).
    pub version: String,
    /// The exact text shown (1 to [`MAX_NOTICE_TEXT_LEN`] characters).
    pub text: String,
}

impl NewConsent {
    /// A consent event with the defaults: channel `unspecified`,
    /// jurisdiction `EU`, language `en`, now, no expiry.
    pub fn new(
        customer_id: CustomerId,
        purpose_id: impl Into<String>,
        state: ConsentState,
        collection_method: CollectionMethod,
    ) -> Self {
        NewConsent {
            customer_id,
            purpose_id: purpose_id.into(),
            state,
            collection_method,
            notice: None,
            channel: "unspecified".into(),
            jurisdiction: "EU".into(),
            language: "en".into(),
            evidence_reference: None,
            occurred_at: None,
            valid_until: None,
        }
    }

    /// The notice shown: its version and exact text.
    pub fn notice(mut self, version: impl Into<String>, text: impl Into<String>) -> Self {
        self.notice = Some(Notice {
            version: version.into(),
            text: text.into(),
        });
        self
    }

    /// Where it was collected.
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = channel.into();
        self
    }

    /// The jurisdiction.
    pub fn jurisdiction(mut self, jurisdiction: impl Into<String>) -> Self {
        self.jurisdiction = jurisdiction.into();
        self
    }

    /// The language.
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = language.into();
        self
    }

    /// A reference to evidence kept elsewhere.
    pub fn evidence_reference(mut self, reference: impl Into<String>) -> Self {
        self.evidence_reference = Some(reference.into());
        self
    }

    /// When it happened.
    pub fn occurred_at(mut self, at: DateTime<Utc>) -> Self {
        self.occurred_at = Some(at);
        self
    }

    /// When it stops counting.
    pub fn valid_until(mut self, at: DateTime<Utc>) -> Self {
        self.valid_until = Some(at);
        self
    }
}

/// One recorded consent event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct ConsentEvent {
    /// The event's id (the receipt id).
    pub id: ConsentEventId,
    /// Whose consent.
    pub customer_id: CustomerId,
    /// The purpose.
    pub purpose_id: String,
    /// The state recorded.
    pub state: ConsentState,
    /// The notice version shown.
    pub notice_version: Option<String>,
    /// SHA-256 of the notice text, lowercase hex.
    pub notice_hash: Option<String>,
    /// How it was collected.
    pub collection_method: CollectionMethod,
    /// Where.
    pub channel: String,
    /// The jurisdiction.
    pub jurisdiction: String,
    /// The language.
    pub language: String,
    /// The evidence reference (removed by erasure).
    pub evidence_reference: Option<String>,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// When a given consent stops counting.
    pub valid_until: Option<DateTime<Utc>>,
    /// When custdb recorded it.
    pub recorded_at: DateTime<Utc>,
    /// The actor who recorded it.
    pub recorded_by: String,
}

/// A customer's consent to one purpose at an instant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct ConsentStatus {
    /// The purpose.
    pub purpose_id: String,
    /// The effective state: the latest event's, with a lapsed `given`
    /// reading as `expired`.
    pub state: ConsentState,
    /// The event it comes from.
    pub event: ConsentEvent,
}

/// Who the controller is, for consent receipts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Controller {
    /// The controller's name.
    pub name: String,
    /// A contact (a person or a role).
    pub contact: String,
    /// Postal address.
    pub address: String,
    /// Email.
    pub email: String,
    /// Phone.
    pub phone: String,
    /// Web site.
    #[serde(default)]
    pub url: Option<String>,
}
crate::input::strict_serde!(Controller);

/// A consent receipt in the Kantara Initiative Consent Receipt
/// Specification v1.1 layout (field names as the specification spells
/// them).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConsentReceipt {
    /// The specification version, `KI-CR-v1.1.0`.
    pub version: String,
    /// The jurisdiction.
    pub jurisdiction: String,
    /// When consent was given, in seconds since the epoch.
    pub consent_timestamp: i64,
    /// How it was collected.
    pub collection_method: String,
    /// The receipt's id (the event id).
    #[serde(rename = "consentReceiptID")]
    pub consent_receipt_id: String,
    /// The language.
    pub language: String,
    /// The person, by their pseudonymous customer id.
    pub pii_principal_id: String,
    /// The controller.
    pub pii_controllers: Vec<ReceiptController>,
    /// The privacy policy's address.
    pub policy_url: String,
    /// The service and its purposes.
    pub services: Vec<ReceiptService>,
    /// Whether sensitive personal data is involved.
    pub sensitive: bool,
    /// Categories of sensitive data.
    pub spi_cat: Vec<String>,
}

/// A controller in a [`ConsentReceipt`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReceiptController {
    /// Name.
    pub pii_controller: String,
    /// Contact.
    pub contact: String,
    /// Address.
    pub address: String,
    /// Email.
    pub email: String,
    /// Phone.
    pub phone: String,
    /// Web site.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pii_controller_url: Option<String>,
}

/// A service in a [`ConsentReceipt`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReceiptService {
    /// The service's name.
    pub service: String,
    /// Its purposes.
    pub purposes: Vec<ReceiptPurpose>,
}

/// A purpose in a [`ConsentReceipt`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReceiptPurpose {
    /// The purpose's description.
    pub purpose: String,
    /// The purpose's id and lawful basis.
    pub purpose_category: Vec<String>,
    /// `EXPLICIT` for a recorded state.
    pub consent_type: String,
    /// The categories of personal data.
    pub pii_category: Vec<String>,
    /// Whether it is the primary purpose.
    pub primary_purpose: bool,
    /// When or how it ends.
    pub termination: String,
    /// Whether data is disclosed to third parties.
    pub third_party_disclosure: bool,
}

// ---------------------------------------------------------------------------

/// The columns of an event, in [`event_from_row`]'s order.
macro_rules! select_event {
    () => {
        "SELECT id, customer_id, purpose_id, state, notice_version, \
         notice_hash, collection_method, channel, jurisdiction, language, evidence_reference, \
         occurred_at, valid_until, recorded_at, recorded_by FROM consent_events "
    };
}

fn event_from_row(row: &Row<'_>) -> Result<ConsentEvent> {
    Ok(ConsentEvent {
        id: row.get(0)?,
        customer_id: row.get(1)?,
        purpose_id: row.get(2)?,
        state: row.get(3)?,
        notice_version: row.get(4)?,
        notice_hash: row.get(5)?,
        collection_method: row.get(6)?,
        channel: row.get(7)?,
        jurisdiction: row.get(8)?,
        language: row.get(9)?,
        evidence_reference: row.get(10)?,
        occurred_at: row.get(11)?,
        valid_until: row.get(12)?,
        recorded_at: row.get(13)?,
        recorded_by: row.get(14)?,
    })
}

fn effective(event: ConsentEvent, at: DateTime<Utc>) -> ConsentStatus {
    let lapsed = event.state == ConsentState::Given && event.valid_until.is_some_and(|u| u <= at);
    ConsentStatus {
        purpose_id: event.purpose_id.clone(),
        state: if lapsed {
            ConsentState::Expired
        } else {
            event.state
        },
        event,
    }
}

/// Read access to purposes and the consent ledger.
#[derive(Debug)]
pub struct ConsentReader<'a> {
    db: crate::db::Conn<'a>,
}

impl<'a> ConsentReader<'a> {
    pub(crate) fn new(db: crate::db::Conn<'a>) -> Self {
        ConsentReader { db }
    }

    /// A registered purpose.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`].
    pub fn purpose(&self, id: &str) -> Result<Purpose> {
        self.db
            .query_opt(sql!(sql::PURPOSE), &[&id], purpose_from_row)?
            .ok_or_else(|| Error::not_found("purpose", id))
    }

    /// Every registered purpose, by id.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn purposes(&self) -> Result<Vec<Purpose>> {
        self.db.query_vec(
            sql!(
                "SELECT id, description, lawful_basis, consent_required, data_categories, \
                 created_at FROM consent_purposes ORDER BY id"
            ),
            &[],
            purpose_from_row,
        )
    }

    /// One event.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`].
    pub fn event(&self, id: ConsentEventId) -> Result<ConsentEvent> {
        self.db
            .query_opt(
                sql!(concat!(select_event!(), "WHERE id = ?1")),
                &[&id],
                event_from_row,
            )?
            .ok_or_else(|| Error::not_found("consent event", id))
    }

    /// The customer's current consent to each purpose that has events
    /// (as of now; see [`states_at`](ConsentReader::states_at)).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown customer.
    pub fn current_states(&self, customer_id: CustomerId) -> Result<Vec<ConsentStatus>> {
        self.states_at(customer_id, crate::time::now())
    }

    /// The customer's consent to each purpose that has events, at `at`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown customer;
    /// [`ErrorKind::Invalid`] on `at` outside the range of [`crate::time`].
    pub fn states_at(
        &self,
        customer_id: CustomerId,
        at: DateTime<Utc>,
    ) -> Result<Vec<ConsentStatus>> {
        let at = crate::time::checked("at", at)?;
        crate::customer::CustomerReader::new(self.db).require(customer_id)?;
        self.db.query_vec(
            sql!(concat!(
                select_event!(),
                "WHERE seq IN (SELECT (SELECT e2.seq FROM consent_events e2 \
                 WHERE e2.customer_id = ?1 AND e2.purpose_id = p.purpose_id AND e2.occurred_at <= ?2 \
                 ORDER BY e2.occurred_at DESC, e2.seq DESC LIMIT 1) FROM (SELECT DISTINCT purpose_id \
                 FROM consent_events WHERE customer_id = ?1) p) ORDER BY purpose_id"
            )),
            &[&customer_id, &at],
            |r| Ok(effective(event_from_row(r)?, at)),
        )
    }

    /// The customer's consent to one purpose at `at`: `None` when no event
    /// had happened by then.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown customer or purpose;
    /// [`ErrorKind::Invalid`] on `at` outside the range of [`crate::time`].
    pub fn state_at(
        &self,
        customer_id: CustomerId,
        purpose_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<ConsentStatus>> {
        let at = crate::time::checked("at", at)?;
        crate::customer::CustomerReader::new(self.db).require(customer_id)?;
        self.purpose(purpose_id)?;
        self.latest(customer_id, purpose_id, at)
    }

    fn latest(
        &self,
        customer_id: CustomerId,
        purpose_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<ConsentStatus>> {
        self.db
            .query_opt(sql!(sql::LATEST), &[&customer_id, &purpose_id, &at], |r| {
                Ok(effective(event_from_row(r)?, at))
            })
    }

    /// May the customer's data be processed for the purpose at `at`?
    ///
    /// - A purpose that requires consent: only while the latest event is
    ///   `given` and not past its `valid_until`.
    /// - A legitimate-interest purpose without required consent: unless the
    ///   latest event is `refused` or `withdrawn` (the person objected).
    /// - Contract, legal obligation, vital interests, public task: yes.
    /// - An erased customer: never.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown customer or purpose;
    /// [`ErrorKind::Invalid`] on `at` outside the range of [`crate::time`].
    pub fn can_process(
        &self,
        customer_id: CustomerId,
        purpose_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let at = crate::time::checked("at", at)?;
        let erased: bool = self
            .db
            .query_opt(sql!(sql::ERASED), &[&customer_id], |r| r.get(0))?
            .ok_or_else(|| Error::not_found("customer", customer_id))?;
        let purpose = self.purpose(purpose_id)?;
        if erased {
            return Ok(false);
        }
        let state = self.latest(customer_id, purpose_id, at)?.map(|s| s.state);
        Ok(if purpose.consent_required {
            state == Some(ConsentState::Given)
        } else if purpose.lawful_basis == LawfulBasis::LegitimateInterests {
            !matches!(state, Some(ConsentState::Refused | ConsentState::Withdrawn))
        } else {
            true
        })
    }

    /// Every event of a customer, oldest first (by event time); only one
    /// purpose's when `purpose_id` is given.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown customer.
    pub fn history(
        &self,
        customer_id: CustomerId,
        purpose_id: Option<&str>,
    ) -> Result<Vec<ConsentEvent>> {
        crate::customer::CustomerReader::new(self.db).require(customer_id)?;
        // CAST gives the parameter a type PostgreSQL can infer.
        self.db.query_vec(
            sql!(concat!(
                select_event!(),
                "WHERE customer_id = ?1 AND (CAST(?2 AS text) IS NULL OR purpose_id = ?2) \
                 ORDER BY occurred_at, seq"
            )),
            &[&customer_id, &purpose_id],
            event_from_row,
        )
    }

    /// The customers whose consent to the purpose is `given` and not
    /// expired at `at`, by id, a page at a time.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown purpose;
    /// [`ErrorKind::Invalid`] for a bad cursor or limit, or `at` outside the
    /// range of [`crate::time`].
    pub fn consenting(
        &self,
        purpose_id: &str,
        at: DateTime<Utc>,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<CustomerId>> {
        let limit = check_limit(limit)?;
        let at = crate::time::checked("at", at)?;
        self.purpose(purpose_id)?;
        // Ids are UUIDv7: every id sorts after the nil id.
        let after = match after {
            Some(c) => *CustomerId::parse(c.key()?, "cursor")?.as_uuid(),
            None => uuid::Uuid::nil(),
        };
        let ids: Vec<CustomerId> = self.db.query_vec(
            sql!(sql::CONSENTING),
            &[&purpose_id, &at, &after, &(limit + 1)],
            |r| r.get(0),
        )?;
        Ok(into_page(ids, limit, |id| id.to_string()))
    }

    /// Which of `customer_ids` consent to the purpose at `at` (latest event
    /// an unexpired `given`), in one statement: what a page of customers
    /// filtered by consent needs, instead of one lookup per customer.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown purpose.
    pub(crate) fn consenting_among(
        &self,
        purpose_id: &str,
        customer_ids: &[CustomerId],
        at: DateTime<Utc>,
    ) -> Result<std::collections::BTreeSet<CustomerId>> {
        self.purpose(purpose_id)?;
        let ids = serde_json::to_string(customer_ids).written()?;
        let found: Vec<CustomerId> = self.db.query_vec(
            sql!(sqlite: sql::CONSENTING_AMONG, postgres: CONSENTING_AMONG_PG),
            &[&Json(&ids), &purpose_id, &at],
            |r| r.get(0),
        )?;
        Ok(found.into_iter().collect())
    }

    /// The event as a Kantara consent receipt.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown event.
    pub fn receipt(
        &self,
        id: ConsentEventId,
        controller: &Controller,
        policy_url: &str,
        service: &str,
    ) -> Result<ConsentReceipt> {
        let event = self.event(id)?;
        let purpose = self.purpose(&event.purpose_id)?;
        Ok(ConsentReceipt {
            version: "KI-CR-v1.1.0".into(),
            jurisdiction: event.jurisdiction.clone(),
            consent_timestamp: event.occurred_at.timestamp(),
            collection_method: event.collection_method.as_str().into(),
            consent_receipt_id: event.id.to_string(),
            language: event.language.clone(),
            pii_principal_id: event.customer_id.to_string(),
            pii_controllers: vec![ReceiptController {
                pii_controller: controller.name.clone(),
                contact: controller.contact.clone(),
                address: controller.address.clone(),
                email: controller.email.clone(),
                phone: controller.phone.clone(),
                pii_controller_url: controller.url.clone(),
            }],
            policy_url: policy_url.into(),
            services: vec![ReceiptService {
                service: service.into(),
                purposes: vec![ReceiptPurpose {
                    purpose: purpose.description.clone(),
                    purpose_category: vec![
                        purpose.id.clone(),
                        purpose.lawful_basis.as_str().into(),
                    ],
                    consent_type: "EXPLICIT".into(),
                    pii_category: purpose
                        .data_categories
                        .iter()
                        .map(|c| c.as_str().to_owned())
                        .collect(),
                    primary_purpose: true,
                    termination: match event.valid_until {
                        Some(u) => format!(
                            "{} (or on withdrawal)",
                            u.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                        ),
                        None => "on withdrawal".into(),
                    },
                    third_party_disclosure: false,
                }],
            }],
            sensitive: false,
            spi_cat: Vec::new(),
        })
    }
}

/// [`sql::CONSENTING_AMONG`] on PostgreSQL: the ids arrive as a jsonb array.
const CONSENTING_AMONG_PG: &str = "SELECT j.value::uuid \
    FROM jsonb_array_elements_text(?1::jsonb) AS j(value) \
    WHERE EXISTS (SELECT 1 FROM consent_events e WHERE e.customer_id = j.value::uuid \
      AND e.purpose_id = ?2 AND e.state = 'given' AND e.occurred_at <= ?3 \
      AND (e.valid_until IS NULL OR e.valid_until > ?3) \
      AND e.seq = (SELECT e2.seq FROM consent_events e2 WHERE e2.customer_id = j.value::uuid \
        AND e2.purpose_id = ?2 AND e2.occurred_at <= ?3 \
        ORDER BY e2.occurred_at DESC, e2.seq DESC LIMIT 1))";

fn purpose_from_row(row: &Row<'_>) -> Result<Purpose> {
    let categories: String = row.get(4)?;
    Ok(Purpose {
        id: row.get(0)?,
        description: row.get(1)?,
        lawful_basis: row.get(2)?,
        consent_required: row.get(3)?,
        data_categories: serde_json::from_str(&categories).stored()?,
        created_at: row.get(5)?,
    })
}

/// Recording purposes and consent events, inside a unit of work.
#[derive(Debug)]
pub struct Consents<'t> {
    tx: &'t WriteTx<'t>,
    reader: ConsentReader<'t>,
}

impl<'t> std::ops::Deref for Consents<'t> {
    type Target = ConsentReader<'t>;
    fn deref(&self) -> &ConsentReader<'t> {
        &self.reader
    }
}

impl<'t> Consents<'t> {
    pub(crate) fn new(tx: &'t WriteTx<'t>) -> Self {
        Consents {
            tx,
            reader: ConsentReader::new(tx.db()),
        }
    }

    /// Registers a purpose. Registering the same purpose again (same id,
    /// same fields) returns it and writes nothing.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] on `id`, `description`, `data_categories`
    /// (empty) or `consent_required` (false with the consent basis);
    /// [`ErrorKind::AlreadyExists`] on `id` when a purpose with that id and
    /// different fields exists (purposes are evidence: they do not change
    /// under the events that refer to them).
    pub fn register_purpose(&self, new: NewPurpose) -> Result<Purpose> {
        self.tx.atomic(|| {
            let id = new.id.trim();
            if id.is_empty()
                || id.chars().count() > MAX_PURPOSE_ID_LEN
                || !id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.".contains(c))
            {
                return Err(Error::invalid(
                    "id",
                    format!(
                    "{id:?} must be 1 to {MAX_PURPOSE_ID_LEN} characters of a-z, 0-9, '_', '-', '.'"
                ),
                ));
            }
            let description = validate::required_text(
                "description",
                &new.description,
                MAX_PURPOSE_DESCRIPTION_LEN,
            )?;
            if new.data_categories.is_empty() {
                return Err(Error::invalid(
                    "data_categories",
                    "name at least one category of personal data the purpose processes",
                ));
            }
            if new.lawful_basis == LawfulBasis::Consent && !new.consent_required {
                return Err(Error::invalid(
                    "consent_required",
                    "a purpose based on consent requires consent",
                ));
            }
            if let Ok(existing) = self.purpose(id) {
                let same = existing.description == description
                    && existing.lawful_basis == new.lawful_basis
                    && existing.consent_required == new.consent_required
                    && existing.data_categories == new.data_categories;
                if same {
                    return Ok(existing);
                }
                return Err(Error::new(ErrorKind::AlreadyExists {
                    entity: "purpose",
                    field: "id",
                }));
            }
            let categories = serde_json::to_string(&new.data_categories).written()?;
            self.tx.db().execute(
                sql!(
                    "INSERT INTO consent_purposes (id, description, lawful_basis, consent_required, \
                     data_categories, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ),
                &[
                    &id,
                    &description,
                    &new.lawful_basis,
                    &new.consent_required,
                    &Json(&categories),
                    &self.tx.now(),
                ],
            )?;
            self.tx.audit_change(Change {
                action: "register_purpose",
                entity_type: "purpose",
                entity_id: id,
                changed_fields: &[
                    "description",
                    "lawful_basis",
                    "consent_required",
                    "data_categories",
                ],
            })?;
            self.purpose(id)
        })
    }

    /// Records a consent event.
    ///
    /// A withdrawal needs a consent to withdraw: withdrawing when the
    /// current state is not `given` is refused, so that the ledger never
    /// shows a withdrawal of something that was never granted. (Record a
    /// `refused` event to note a "no".)
    ///
    /// # Errors
    ///
    /// - [`ErrorKind::Invalid`] naming the field: `purpose_id` (not
    ///   registered), `notice` (missing for `given`; version or text empty or
    ///   too long), `channel`, `jurisdiction`, `language`,
    ///   `evidence_reference`, `occurred_at` (more than
    ///   [`MAX_EVENT_CLOCK_SKEW`] in the future), `valid_until` (not after
    ///   the event, or set on a state other than `given`); either time
    ///   outside the range of [`crate::time`];
    /// - [`ErrorKind::NotFound`] for an unknown customer;
    /// - [`ErrorKind::InvalidState`] for an erased customer, or a
    ///   withdrawal of a consent that is not given.
    ///
    /// # Example
    ///
    /// ```
    /// use custdb::{CollectionMethod, ConsentState, DataCategory, LawfulBasis, NewConsent,
    ///              NewCustomer, NewPurpose, Store};
    ///
    /// let store = Store::open_in_memory()?;
    /// let ann = store.write(|tx| {
    ///     tx.consent().register_purpose(
    ///         NewPurpose::new("newsletter", "Monthly news", LawfulBasis::Consent)
    ///             .data_category(DataCategory::Contact),
    ///     )?;
    ///     let ann = tx.customers().create(NewCustomer::new("Ann").email("ann@example.com"))?;
    ///     tx.consent().record(
    ///         NewConsent::new(ann.id, "newsletter", ConsentState::Given, CollectionMethod::WebForm)
    ///             // The exact text the person agreed to is kept with the event.
    ///             .notice("2026-01", "Send me the monthly newsletter."),
    ///     )?;
    ///     Ok::<_, custdb::Error>(ann)
    /// })?;
    /// let now = chrono::Utc::now();
    /// assert!(store.read(|r| r.consent().can_process(ann.id, "newsletter", now))?);
    /// # Ok::<(), custdb::Error>(())
    /// ```
    pub fn record(&self, new: NewConsent) -> Result<ConsentEvent> {
        self.tx.atomic(|| self.record_inner(new))
    }

    fn record_inner(&self, new: NewConsent) -> Result<ConsentEvent> {
        let erased: bool = self
            .tx
            .db()
            .query_opt(sql!(sql::ERASED), &[&new.customer_id], |r| r.get(0))?
            .ok_or_else(|| Error::not_found("customer", new.customer_id))?;
        if erased {
            return Err(Error::new(ErrorKind::InvalidState {
                entity: "customer",
                id: new.customer_id.to_string(),
                reason: "is erased; nothing more is recorded about it".into(),
            }));
        }
        let purpose = self.purpose(new.purpose_id.trim()).map_err(|_| {
            Error::invalid(
                "purpose_id",
                format!("{:?} is not a registered purpose", new.purpose_id),
            )
        })?;
        let now = self.tx.now();
        let occurred_at = crate::time::checked_opt("occurred_at", new.occurred_at)?.unwrap_or(now);
        let valid_until = crate::time::checked_opt("valid_until", new.valid_until)?;
        if occurred_at > now + MAX_EVENT_CLOCK_SKEW {
            return Err(Error::invalid(
                "occurred_at",
                format!(
                    "is in the future by more than {} minutes",
                    MAX_EVENT_CLOCK_SKEW.num_minutes()
                ),
            ));
        }
        if let Some(until) = valid_until {
            if new.state != ConsentState::Given {
                return Err(Error::invalid(
                    "valid_until",
                    "only a given consent has a validity",
                ));
            }
            if until <= occurred_at {
                return Err(Error::invalid("valid_until", "must be after occurred_at"));
            }
        }
        let notice = match &new.notice {
            Some(n) => {
                let version =
                    validate::required_text("notice.version", &n.version, MAX_NOTICE_VERSION_LEN)?;
                if n.text.trim().is_empty() || n.text.chars().count() > MAX_NOTICE_TEXT_LEN {
                    return Err(Error::invalid(
                        "notice.text",
                        format!("must be 1 to {MAX_NOTICE_TEXT_LEN} characters"),
                    ));
                }
                // Kept exactly as shown (its hash is the proof), but no
                // engine-dependent byte: PostgreSQL's text holds no NUL.
                if n.text.contains('\0') {
                    return Err(Error::invalid(
                        "notice.text",
                        "contains a NUL character (U+0000)",
                    ));
                }
                Some((version, n.text.as_str()))
            }
            None if new.state == ConsentState::Given => {
                return Err(Error::invalid(
                    "notice",
                    "a given consent must say which notice text the person saw",
                ))
            }
            None => None,
        };
        let channel = validate::required_text("channel", &new.channel, 64)?;
        let jurisdiction = new.jurisdiction.trim();
        if !(2..=16).contains(&jurisdiction.len())
            || !jurisdiction
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(Error::invalid(
                "jurisdiction",
                format!("{jurisdiction:?} must be an upper-case code such as GB, EU or US-CA"),
            ));
        }
        let language = validate::locale("language", &new.language)?;
        let evidence = validate::optional_text(
            "evidence_reference",
            new.evidence_reference.as_deref(),
            MAX_EVIDENCE_REFERENCE_LEN,
        )?;
        if new.state == ConsentState::Withdrawn {
            let current = self.latest(new.customer_id, &purpose.id, occurred_at)?;
            if current.as_ref().map(|s| s.state) != Some(ConsentState::Given) {
                return Err(Error::new(ErrorKind::InvalidState {
                    entity: "consent",
                    id: format!("{}/{}", new.customer_id, purpose.id),
                    reason: format!(
                        "cannot be withdrawn: its state is {}",
                        current.map_or("none (never given)", |s| s.state.as_str())
                    ),
                }));
            }
        }
        let notice_hash = match notice {
            Some((version, text)) => {
                let hash = crate::schema::hex(&Sha256::digest(text.as_bytes()));
                self.tx.db().execute(
                    sql!(
                        "INSERT INTO consent_notices (hash, version, text, created_at) \
                         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (hash) DO NOTHING"
                    ),
                    &[&hash, &version, &text, &now],
                )?;
                Some((version, hash))
            }
            None => None,
        };
        let id = insert_event(
            self.tx,
            &EventRow {
                customer_id: new.customer_id,
                purpose_id: &purpose.id,
                state: new.state,
                notice: notice_hash.as_ref().map(|(v, h)| (v.as_str(), h.as_str())),
                collection_method: new.collection_method,
                channel: &channel,
                jurisdiction,
                language: &language,
                evidence_reference: evidence.as_deref(),
                occurred_at,
                valid_until,
            },
        )?;
        self.tx.audit_change_with(
            Change {
                action: "record_consent",
                entity_type: "customer",
                entity_id: &new.customer_id.to_string(),
                changed_fields: &["consent"],
            },
            crate::changes::ChangeFacts {
                purpose: Some(purpose.id.clone()),
                status: Some(new.state.as_str().to_owned()),
                ..crate::changes::ChangeFacts::current()
            },
        )?;
        self.event(id)
    }

    /// Withdraws every consent of the customer that is `given` now, as
    /// `withdrawn` events recorded with `method`. Returns the events.
    pub(crate) fn withdraw_all(
        &self,
        customer_id: CustomerId,
        method: CollectionMethod,
    ) -> Result<Vec<ConsentEventId>> {
        let now = self.tx.now();
        let mut out = Vec::new();
        for status in self.states_at(customer_id, now)? {
            if status.state != ConsentState::Given {
                continue;
            }
            out.push(insert_event(
                self.tx,
                &EventRow {
                    customer_id,
                    purpose_id: &status.purpose_id,
                    state: ConsentState::Withdrawn,
                    notice: None,
                    collection_method: method,
                    channel: "custdb",
                    jurisdiction: &status.event.jurisdiction,
                    language: &status.event.language,
                    evidence_reference: None,
                    occurred_at: now,
                    valid_until: None,
                },
            )?);
            // The erasure's audit entry covers the withdrawal; followers of
            // the change feed still learn each decision.
            crate::changes::emit(
                self.tx,
                crate::changes::ChangeKind::ConsentRecorded,
                &customer_id.to_string(),
                &crate::changes::ChangeFacts {
                    purpose: Some(status.purpose_id.clone()),
                    status: Some(ConsentState::Withdrawn.as_str().to_owned()),
                    fields: vec!["consent".to_owned()],
                    ..crate::changes::ChangeFacts::current()
                },
            )?;
        }
        Ok(out)
    }
}

struct EventRow<'a> {
    customer_id: CustomerId,
    purpose_id: &'a str,
    state: ConsentState,
    notice: Option<(&'a str, &'a str)>,
    collection_method: CollectionMethod,
    channel: &'a str,
    jurisdiction: &'a str,
    language: &'a str,
    evidence_reference: Option<&'a str>,
    occurred_at: DateTime<Utc>,
    valid_until: Option<DateTime<Utc>>,
}

fn insert_event(tx: &WriteTx<'_>, e: &EventRow<'_>) -> Result<ConsentEventId> {
    let id = ConsentEventId::new();
    tx.db().execute(
        sql!(sql::INSERT_EVENT),
        &[
            &id,
            &e.customer_id,
            &e.purpose_id,
            &e.state,
            &e.notice.map(|n| n.0),
            &e.notice.map(|n| n.1),
            &e.collection_method,
            &e.channel,
            &e.jurisdiction,
            &e.language,
            &e.evidence_reference,
            &e.occurred_at,
            &e.valid_until,
            &tx.now(),
            &tx.actor().id(),
        ],
    )?;
    Ok(id)
}

crate::bench_sql::sql_module! {
    /// The consent statements, public only so that the benchmarks' raw-rusqlite
    /// baselines run exactly the same text. Not part of the API.
    mod sql {
    /// A purpose by id.
    pub const PURPOSE: &str = "SELECT id, description, lawful_basis, consent_required, \
        data_categories, created_at FROM consent_purposes WHERE id = ?1";
    /// Whether a customer is erased.
    pub const ERASED: &str = "SELECT erased_at IS NOT NULL FROM customers WHERE id = ?1";
    /// Appends a consent event.
    pub const INSERT_EVENT: &str = "INSERT INTO consent_events (id, customer_id, purpose_id, \
        state, notice_version, notice_hash, collection_method, channel, jurisdiction, language, \
        evidence_reference, occurred_at, valid_until, recorded_at, recorded_by) \
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
    /// The latest event of a customer for a purpose at or before ?3.
    pub const LATEST: &str = "SELECT id, customer_id, purpose_id, state, notice_version, \
        notice_hash, collection_method, channel, jurisdiction, language, evidence_reference, \
        occurred_at, valid_until, recorded_at, recorded_by FROM consent_events \
        WHERE customer_id = ?1 AND purpose_id = ?2 AND occurred_at <= ?3 \
        ORDER BY occurred_at DESC, seq DESC LIMIT 1";
    /// Which customers of the JSON array ?1 have, for purpose ?2 at ?3, an
    /// unexpired `given` as their latest event.
    pub const CONSENTING_AMONG: &str = "SELECT j.value FROM json_each(?1) j \
        WHERE EXISTS (SELECT 1 FROM consent_events e WHERE e.customer_id = j.value \
          AND e.purpose_id = ?2 AND e.state = 'given' AND e.occurred_at <= ?3 \
          AND (e.valid_until IS NULL OR e.valid_until > ?3) \
          AND e.seq = (SELECT e2.seq FROM consent_events e2 WHERE e2.customer_id = j.value \
            AND e2.purpose_id = ?2 AND e2.occurred_at <= ?3 \
            ORDER BY e2.occurred_at DESC, e2.seq DESC LIMIT 1))";
    /// Customers whose latest event for purpose ?1 at ?2 is an unexpired
    /// `given`, after customer id ?3, at most ?4.
    pub const CONSENTING: &str = "SELECT e.customer_id FROM consent_events e \
        WHERE e.purpose_id = ?1 AND e.customer_id > ?3 AND e.state = 'given' \
        AND e.occurred_at <= ?2 AND (e.valid_until IS NULL OR e.valid_until > ?2) \
        AND e.seq = (SELECT e2.seq FROM consent_events e2 WHERE e2.purpose_id = ?1 \
          AND e2.customer_id = e.customer_id AND e2.occurred_at <= ?2 \
          ORDER BY e2.occurred_at DESC, e2.seq DESC LIMIT 1) \
        GROUP BY e.customer_id ORDER BY e.customer_id LIMIT ?4";
    }
}

/// Ledger invariants: every event's purpose and customer exist (foreign
/// keys); a notice hash names a stored notice whose text hashes to it.
pub(crate) fn check(conn: Conn<'_>, report: &mut CheckReport) -> Result<()> {
    conn.query_each(
        sql!(
            "SELECT e.id, e.notice_hash FROM consent_events e \
             WHERE e.notice_hash IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM consent_notices n WHERE n.hash = e.notice_hash)"
        ),
        &[],
        |r| {
            let id: crate::db::AnyText = r.get(0)?;
            let hash: String = r.get(1)?;
            report.push(format!(
                "consent event {}: notice {hash} is not stored",
                id.0
            ));
            Ok(())
        },
    )?;
    conn.query_each(sql!("SELECT hash, text FROM consent_notices"), &[], |r| {
        let hash: String = r.get(0)?;
        let text: String = r.get(1)?;
        if crate::schema::hex(&Sha256::digest(text.as_bytes())) != hash {
            report.push(format!(
                "consent notice {hash}: its text does not hash to its key"
            ));
        }
        Ok(())
    })?;
    Ok(())
}

crate::one_shot::one_shot! {
    /// Purposes and the consent ledger for single operations, each its own
    /// unit of work: `store.consent().record(new)`.
    StoreConsents => write consent: Consents, read consent: ConsentReader;
    write {
        fn register_purpose(new: NewPurpose) -> Purpose;
        fn record(new: NewConsent) -> ConsentEvent;
    }
    read {
        fn purpose(id: &str) -> Purpose;
        fn purposes() -> Vec<Purpose>;
        fn event(id: ConsentEventId) -> ConsentEvent;
        fn current_states(customer_id: CustomerId) -> Vec<ConsentStatus>;
        fn states_at(customer_id: CustomerId, at: DateTime<Utc>) -> Vec<ConsentStatus>;
        fn state_at(customer_id: CustomerId, purpose_id: &str, at: DateTime<Utc>) -> Option<ConsentStatus>;
        fn can_process(customer_id: CustomerId, purpose_id: &str, at: DateTime<Utc>) -> bool;
        fn history(customer_id: CustomerId, purpose_id: Option<&str>) -> Vec<ConsentEvent>;
        fn consenting(purpose_id: &str, at: DateTime<Utc>, after: Option<&Cursor>, limit: usize) -> Page<CustomerId>;
        fn receipt(id: ConsentEventId, controller: &Controller, policy_url: &str, service: &str) -> ConsentReceipt;
    }
}

// One-shot calls on the store: this domain's accessors (the store layer names no domain).
impl crate::Store {
    /// Purposes and consent for one-shot calls.
    pub fn consent(&self) -> crate::consent::StoreConsents<'_> {
        crate::consent::StoreConsents::new(self)
    }
}

// Inside a unit of work: this domain's accessors (the store layer names no domain).
impl<'a> crate::WriteTx<'a> {
    /// Purposes and the consent ledger.
    pub fn consent(&self) -> crate::consent::Consents<'_> {
        crate::consent::Consents::new(self)
    }
}

// Inside a read transaction: this domain's accessors (the store layer names no domain).
impl<'a> crate::ReadTx<'a> {
    /// Purposes and the consent ledger, read-only.
    pub fn consent(&self) -> crate::consent::ConsentReader<'a> {
        crate::consent::ConsentReader::new(self.db())
    }
}
