//! Input validation shared by every aggregate: text limits, email, phone,
//! country, locale, tags and custom attributes.
//!
//! Every check returns [`ErrorKind::Invalid`](crate::ErrorKind::Invalid)
//! naming the field and the reason. Lengths are counted in characters
//! (Unicode scalar values), as SQLite's `length()` counts them, so the SQL
//! `CHECK` backstops agree with these limits.

use crate::error::{Error, Result};

/// Trims `value` and checks it is non-empty, at most `max_chars` long,
/// free of control characters and bidirectional overrides, and has at
/// least one visible character.
pub(crate) fn required_text(field: &str, value: &str, max_chars: usize) -> Result<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    single_line(field, trimmed, max_chars)
}

/// Like [`required_text`] for an optional field: `None`, or a value that is
/// empty after trimming, means "no value".
pub(crate) fn optional_text(
    field: &str,
    value: Option<&str>,
    max_chars: usize,
) -> Result<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => single_line(field, v, max_chars).map(Some),
    }
}

/// Characters that show nothing: white space, zero-width spaces and
/// joiners, the word joiner and invisible operators, BOMs, soft hyphens,
/// Hangul fillers, variation selectors, tag characters, direction marks.
/// A text made only of these looks empty but is not, so two customers
/// "named" differently look the same.
pub(crate) fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
            | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// The bidirectional embeddings, overrides and isolates (U+202A to U+202E,
/// U+2066 to U+2069). They reorder the text around them on screen, so a
/// name or reference can display as something other than what is stored
/// ("Trojan Source"). Right-to-left scripts need none of them; the
/// direction marks U+200E and U+200F stay allowed.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The checks every text shares: no bidirectional controls, and at least
/// one visible character.
fn check_visible(field: &str, value: &str) -> Result<()> {
    if value.chars().any(is_bidi_control) {
        return Err(Error::invalid(
            field,
            "contains bidirectional override or isolate characters (U+202A-U+202E, \
             U+2066-U+2069), which make text display as something else",
        ));
    }
    if value.chars().all(is_invisible) {
        return Err(Error::invalid(
            field,
            "has no visible character (only spaces, zero-width or other invisible characters)",
        ));
    }
    Ok(())
}

/// Refuses a value holding a payment card number: a run of 13 to 19 digits
/// (spaces or dashes between them allowed) that passes the Luhn check.
/// custdb never stores a card number (PAN); a payment is referenced by the
/// provider's token or transaction id.
pub(crate) fn no_card_number(field: &str, value: &str) -> Result<()> {
    let mut digits: Vec<u8> = Vec::new();
    let check = |digits: &mut Vec<u8>| -> Result<()> {
        // A whole run only: windows of a longer run would match one digit
        // string in ten by chance.
        if (13..=19).contains(&digits.len()) && luhn(digits) {
            return Err(Error::invalid(
                field,
                "looks like a payment card number (it passes the Luhn check); \
                 custdb never stores card numbers: store the payment provider's \
                 token or transaction id instead",
            ));
        }
        digits.clear();
        Ok(())
    };
    for c in value.chars() {
        match c {
            '0'..='9' => digits.push(c as u8 - b'0'),
            ' ' | '-' if !digits.is_empty() => {}
            _ => check(&mut digits)?,
        }
    }
    check(&mut digits)
}

/// The Luhn (mod 10) check of a card number's digits.
fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// An optional multi-line text (notes, a message body): line breaks and tabs
/// are kept, other control characters are refused.
pub(crate) fn optional_long_text(
    field: &str,
    value: Option<&str>,
    max_chars: usize,
) -> Result<Option<String>> {
    let Some(v) = value.map(str::trim) else {
        return Ok(None);
    };
    if v.is_empty() {
        return Ok(None);
    }
    check_len(field, v, max_chars)?;
    if v.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Error::invalid(field, "contains control characters"));
    }
    check_visible(field, v)?;
    Ok(Some(v.to_owned()))
}

fn single_line(field: &str, value: &str, max_chars: usize) -> Result<String> {
    check_len(field, value, max_chars)?;
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            "contains control characters (line breaks are not allowed here)",
        ));
    }
    check_visible(field, value)?;
    Ok(value.to_owned())
}

fn check_len(field: &str, value: &str, max_chars: usize) -> Result<()> {
    // Bytes bound characters from above: skip counting for short strings,
    // and refuse very long ones without walking all of them.
    if value.len() > max_chars {
        let chars = value.chars().take(max_chars + 1).count();
        if chars > max_chars {
            return Err(Error::invalid(
                field,
                format!("is longer than {max_chars} characters"),
            ));
        }
    }
    Ok(())
}

/// Longest accepted email address, in characters (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// Trims and lowercases an email address and checks its syntax (RFC 5322
/// addr-spec, with a dotted domain).
///
/// The whole address is lowercased: the local part is case-sensitive in
/// theory, but no mailbox provider in use treats it so, and customers type
/// their address in varying case.
pub(crate) fn email(field: &str, value: &str) -> Result<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    check_len(field, trimmed, MAX_EMAIL_LEN)?;
    let normalized = trimmed.to_lowercase();
    if normalized.chars().count() > MAX_EMAIL_LEN {
        return Err(Error::invalid(
            field,
            format!("is longer than {MAX_EMAIL_LEN} characters"),
        ));
    }
    let parsed = email_address::EmailAddress::parse_with_options(
        &normalized,
        email_address::Options::default()
            .with_required_tld()
            .without_display_text()
            .without_domain_literal(),
    )
    .map_err(|e| Error::invalid(field, format!("is not an email address: {e}")))?;
    Ok(parsed.as_str().to_owned())
}

/// Normalizes an email to look it up: trimmed and lowercased like a stored
/// email, with only the cheap checks (length, one `@` with text on both
/// sides). A full syntax check is not needed to look up: a malformed
/// address is simply not found, since every stored address passed
/// [`email`] when it was written.
pub(crate) fn email_key(field: &str, value: &str) -> Result<String> {
    let trimmed = value.trim();
    check_len(field, trimmed, MAX_EMAIL_LEN)?;
    match trimmed.split_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
            Ok(trimmed.to_lowercase())
        }
        _ => Err(Error::invalid(
            field,
            "is not an email address: it needs text on both sides of an @",
        )),
    }
}

/// Longest phone number accepted as input, in characters.
pub const MAX_PHONE_LEN: usize = 32;

/// Normalizes a phone number.
///
/// A number written with a leading `+` (or `00`) is parsed as international
/// and must be valid; it is stored in E.164 (`+447700900123`). A national
/// number is parsed with the given country and stored in E.164 too. Without a
/// country a national number cannot be placed: it is stored as written,
/// trimmed, after checking it holds only digits, spaces and `()-./`.
pub(crate) fn phone(field: &str, value: &str, country: Option<&str>) -> Result<String> {
    let trimmed = required_text(field, value, MAX_PHONE_LEN)?;
    if !trimmed
        .chars()
        .all(|c| c.is_ascii_digit() || " +()-./".contains(c))
    {
        return Err(Error::invalid(
            field,
            "may hold only digits, spaces, a leading + and ()-./",
        ));
    }
    let digits = trimmed.chars().filter(char::is_ascii_digit).count();
    if !(3..=17).contains(&digits) {
        return Err(Error::invalid(field, "must have between 3 and 17 digits"));
    }
    let international = trimmed.starts_with('+') || trimmed.starts_with("00");
    let region =
        match country {
            Some(c) => Some(c.parse::<phonenumber::country::Id>().map_err(|_| {
                Error::invalid(field, format!("cannot place numbers of country {c}"))
            })?),
            None if international => None,
            None => return Ok(trimmed),
        };
    let number = phonenumber::parse(region, &trimmed)
        .map_err(|e| Error::invalid(field, format!("is not a phone number: {e}")))?;
    if !phonenumber::is_valid(&number) {
        return Err(Error::invalid(
            field,
            "is not a valid number for its country",
        ));
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// ISO 3166-1 alpha-2 codes officially assigned, sorted.
const COUNTRY_CODES: &[&str] = &[
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// Checks an ISO 3166-1 alpha-2 country code, accepting any case, and
/// returns it in upper case.
pub(crate) fn country(field: &str, value: &str) -> Result<String> {
    let code = value.trim().to_ascii_uppercase();
    if COUNTRY_CODES.binary_search(&code.as_str()).is_ok() {
        Ok(code)
    } else {
        Err(Error::invalid(
            field,
            format!(
                "{:?} is not an ISO 3166-1 alpha-2 country code",
                value.chars().take(8).collect::<String>()
            ),
        ))
    }
}

/// Longest locale tag, in characters (BCP 47 recommends 35).
pub const MAX_LOCALE_LEN: usize = 35;

/// Checks a BCP 47 language tag of the common shape (`en`, `en-GB`,
/// `zh-Hant-TW`, `es-419`) and returns it in canonical case: language lower,
/// script title, region upper.
pub(crate) fn locale(field: &str, value: &str) -> Result<String> {
    let tag = required_text(field, value, MAX_LOCALE_LEN)?.replace('_', "-");
    let mut parts = tag.split('-');
    let bad = || Error::invalid(field, "is not a BCP 47 language tag such as en or en-GB");
    let language = parts.next().ok_or_else(bad)?;
    if !(2..=3).contains(&language.len()) || !language.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(bad());
    }
    let mut out = language.to_ascii_lowercase();
    for part in parts {
        if part.is_empty() || part.len() > 8 || !part.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad());
        }
        out.push('-');
        match part.len() {
            4 if part.chars().all(|c| c.is_ascii_alphabetic()) => {
                out.push_str(&part[..1].to_ascii_uppercase());
                out.push_str(&part[1..].to_ascii_lowercase());
            }
            2 | 3 => out.push_str(&part.to_ascii_uppercase()),
            _ => out.push_str(&part.to_ascii_lowercase()),
        }
    }
    Ok(out)
}

/// Longest tag, in characters.
pub const MAX_TAG_LEN: usize = 64;

/// Trims and lowercases a tag; refuses empty, long or control-character tags.
pub(crate) fn tag(field: &str, value: &str) -> Result<String> {
    Ok(required_text(field, value, MAX_TAG_LEN)?.to_lowercase())
}

/// Limits on custom attributes.
pub const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;
/// Deepest nesting of custom attributes (the top-level object is depth 1).
pub const MAX_ATTRIBUTES_DEPTH: usize = 8;
/// Longest attribute key, in characters.
pub const MAX_ATTRIBUTE_KEY_LEN: usize = 64;

/// Checks custom attributes: at most [`MAX_ATTRIBUTES_BYTES`] as compact
/// JSON, nested at most [`MAX_ATTRIBUTES_DEPTH`] deep, keys non-empty and at
/// most [`MAX_ATTRIBUTE_KEY_LEN`] characters. Returns the compact JSON.
/// Refuses a JSON document with a NUL character (U+0000) in any key or
/// string: PostgreSQL's `jsonb` cannot hold one, so the same document
/// would be stored on one engine and not the other.
pub(crate) fn json_without_nul(field: &str, value: &serde_json::Value) -> Result<()> {
    let refused = || Error::invalid(field, "contains a NUL character (U+0000)");
    match value {
        serde_json::Value::String(s) if s.contains('\0') => Err(refused()),
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                if key.contains('\0') {
                    return Err(refused());
                }
                json_without_nul(field, v)?;
            }
            Ok(())
        }
        serde_json::Value::Array(items) => {
            for v in items {
                json_without_nul(field, v)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

pub(crate) fn attributes(
    field: &str,
    value: &serde_json::Map<String, serde_json::Value>,
) -> Result<String> {
    fn walk(field: &str, value: &serde_json::Value, depth: usize) -> Result<()> {
        if depth > MAX_ATTRIBUTES_DEPTH {
            return Err(Error::invalid(
                field,
                format!("is nested deeper than {MAX_ATTRIBUTES_DEPTH} levels"),
            ));
        }
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map {
                    if key.is_empty() || key.chars().count() > MAX_ATTRIBUTE_KEY_LEN {
                        return Err(Error::invalid(
                            field,
                            format!("has a key that is empty or longer than {MAX_ATTRIBUTE_KEY_LEN} characters"),
                        ));
                    }
                    walk(field, v, depth + 1)?;
                }
            }
            serde_json::Value::Array(items) => {
                for v in items {
                    walk(field, v, depth + 1)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
    for (key, v) in value {
        if key.is_empty() || key.chars().count() > MAX_ATTRIBUTE_KEY_LEN {
            return Err(Error::invalid(
                field,
                format!(
                    "has a key that is empty or longer than {MAX_ATTRIBUTE_KEY_LEN} characters"
                ),
            ));
        }
        walk(field, v, 2)?;
        if key.contains('\0') {
            return Err(Error::invalid(field, "contains a NUL character (U+0000)"));
        }
        json_without_nul(field, v)?;
    }
    let json = serde_json::to_string(value)
        .map_err(|e| Error::invalid(field, format!("cannot be written as JSON: {e}")))?;
    if json.len() > MAX_ATTRIBUTES_BYTES {
        return Err(Error::invalid(
            field,
            format!(
                "is {} bytes as JSON, more than the limit of {MAX_ATTRIBUTES_BYTES}",
                json.len()
            ),
        ));
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_list_is_sorted_unique_and_complete() {
        assert!(COUNTRY_CODES.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(COUNTRY_CODES.len(), 249);
        assert_eq!(country("c", " gb ").unwrap(), "GB");
        assert!(country("c", "UK").is_err());
        assert!(country("c", "XX").is_err());
    }

    #[test]
    fn emails_are_normalized() {
        assert_eq!(email("e", "  Ada@Example.COM ").unwrap(), "ada@example.com");
        for bad in [
            "",
            "ada",
            "ada@",
            "@x.com",
            "ada@localhost",
            "a b@x.com",
            "Ada <ada@x.com>",
        ] {
            assert_eq!(email("e", bad).unwrap_err().field(), Some("e"), "{bad:?}");
        }
    }

    #[test]
    fn phones_become_e164_when_the_country_is_known() {
        assert_eq!(
            phone("p", "+44 20 7946 0958", None).unwrap(),
            "+442079460958"
        );
        assert_eq!(
            phone("p", "020 7946 0958", Some("GB")).unwrap(),
            "+442079460958"
        );
        assert_eq!(
            phone("p", "(415) 555-2671", Some("US")).unwrap(),
            "+14155552671"
        );
        assert_eq!(phone("p", "0301234567", None).unwrap(), "0301234567");
        assert!(phone("p", "+44 12", None).is_err());
        assert!(phone("p", "call me", None).is_err());
    }

    #[test]
    fn locales_get_canonical_case() {
        assert_eq!(locale("l", "en_gb").unwrap(), "en-GB");
        assert_eq!(locale("l", "ZH-hant-tw").unwrap(), "zh-Hant-TW");
        assert_eq!(locale("l", "es-419").unwrap(), "es-419");
        assert!(locale("l", "english").is_err());
        assert!(locale("l", "en--GB").is_err());
    }

    #[test]
    fn invisible_only_and_bidi_text_is_refused() {
        for bad in [
            "\u{200B}",
            "\u{FEFF}\u{2060}",
            "\u{200B} \u{200D}",
            "\u{3164}",
        ] {
            let err = required_text("name", bad, 100).unwrap_err();
            assert!(
                err.to_string().contains("no visible character"),
                "{bad:?}: {err}"
            );
        }
        for bad in ["Ann\u{202E}gpj.exe", "\u{2066}Bob\u{2069}"] {
            let err = required_text("name", bad, 100).unwrap_err();
            assert!(err.to_string().contains("bidirectional"), "{bad:?}: {err}");
        }
        for good in [
            "Ann",
            "\u{05E9}\u{05E8}\u{05D4}",
            "A\u{200D}B",
            "Zo\u{0065}\u{0301}",
        ] {
            required_text("name", good, 100).unwrap();
        }
    }

    #[test]
    fn card_numbers_are_refused() {
        for pan in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "ref-5500-0000-0000-0004",
            "pi_378282246310005",
        ] {
            assert!(no_card_number("provider_reference", pan).is_err(), "{pan}");
        }
        for ok in [
            "pi_3MtwBwLkdIwHu7ix28a3tqPa",
            "4111111111111112",
            "123456789012",
            "ch_1234",
        ] {
            no_card_number("provider_reference", ok).unwrap();
        }
    }

    #[test]
    fn text_limits_count_characters() {
        assert!(required_text("n", &"é".repeat(10), 10).is_ok());
        assert!(required_text("n", &"é".repeat(11), 10).is_err());
        assert!(required_text("n", "   ", 10).is_err());
        assert!(required_text("n", "a\nb", 10).is_err());
        assert_eq!(
            optional_long_text("b", Some(" a\nb "), 10)
                .unwrap()
                .as_deref(),
            Some("a\nb")
        );
    }
}
