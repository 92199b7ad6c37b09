//! The vendor's field kinds (種別, `index.md`), its date formats, and Japan's clock.
//!
//! | kind | the vendor's rule | here |
//! |---|---|---|
//! | メール形式 | `/^([a-z0-9\+_\-]+)(\.[a-z0-9\+_\-]+)*@([a-z0-9\-]+\.)+[a-z]+$/ix` | [`is_email`], the same rule spelled out |
//! | 半角英数 | `A-Za-z0-9` | [`is_half_width_alnum`] |
//! | 半角英数 + 記号 | `A-Za-z0-9` and ASCII punctuation (no space) | [`is_half_width_alnum_symbol`] |
//! | 日付 | `yyyy(-\|/)m(-\|/)d`, month and day with optional leading zeros | [`parse_date`]: the pattern, *and* a real calendar day |
//! | 日時 (search filters) | `yyyy/mm/dd hh:mm:ss`, time optional | [`parse_datetime_bound`] |
//! | datetimes in answers | `yyyy/mm/dd hh:mm:ss`, Japan time | [`parse_vendor_datetime`], [`format_datetime`] |
//!
//! The vendor's date pattern admits `2022/02/31`; whether it then refuses it is
//! **unknown**. We refuse it (a date that does not exist is never what a producer meant),
//! and so does the sandbox: the stricter reading.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, Timelike, Utc};

/// Japan's offset: every date and time of the vendor is Japan time (no daylight saving).
pub fn jst() -> FixedOffset {
    // +9 h is within ±24 h, so this never falls back; UTC would be the harmless fallback.
    FixedOffset::east_opt(9 * 3600).unwrap_or_else(|| Utc.fix())
}

/// Today in Japan.
pub fn today_jst() -> NaiveDate {
    now_jst().date()
}

/// Now in Japan, to the second (the vendor's resolution).
pub fn now_jst() -> NaiveDateTime {
    to_jst(Utc::now())
}

/// A moment as the vendor's wall clock shows it, to the second.
pub fn to_jst(at: DateTime<Utc>) -> NaiveDateTime {
    let local = at.with_timezone(&jst()).naive_local();
    local.with_nanosecond(0).unwrap_or(local)
}

/// メール形式. Case-insensitive, as the vendor's `/i`.
pub fn is_email(text: &str) -> bool {
    let atom = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '_' | '-'))
    };
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let labels: Vec<&str> = domain.split('.').collect();
    let Some((top, inner)) = labels.split_last() else {
        return false;
    };
    local.split('.').all(atom)
        && !inner.is_empty()
        && inner.iter().all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && !top.is_empty()
        && top.chars().all(|c| c.is_ascii_alphabetic())
}

/// 半角英数: ASCII letters and digits only.
pub fn is_half_width_alnum(text: &str) -> bool {
    text.chars().all(|c| c.is_ascii_alphanumeric())
}

/// 半角英数 + 記号: ASCII letters, digits and punctuation (`!` to `~`); no space.
pub fn is_half_width_alnum_symbol(text: &str) -> bool {
    text.chars().all(|c| c.is_ascii_graphic())
}

/// 日付: `yyyy/mm/dd` or `yyyy-mm-dd` (either separator in either place, as the vendor's
/// pattern allows), month and day with or without a leading zero, and a real day.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let mut parts = text.split(['/', '-']);
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || year.len() != 4 || !(1..=2).contains(&month.len()) {
        return None;
    }
    if !(1..=2).contains(&day.len()) {
        return None;
    }
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if !(digits(year) && digits(month) && digits(day)) {
        return None;
    }
    NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?)
}

/// A search bound (日時, 19 characters): a date, or a date and `hh:mm:ss`. A date alone
/// is `None` in the second place: the caller decides whether it means the day's first
/// second (`_from`) or its last (`_to`), as the vendor documents.
pub fn parse_datetime_bound(text: &str) -> Option<(NaiveDate, Option<NaiveTime>)> {
    match text.split_once(' ') {
        None => Some((parse_date(text)?, None)),
        Some((date, time)) => {
            if time.len() != 8 {
                return None;
            }
            let time = NaiveTime::parse_from_str(time, "%H:%M:%S").ok()?;
            Some((parse_date(date)?, Some(time)))
        }
    }
}

/// A datetime of an answer (`2022/01/02 00:00:00`, Japan time); `-` separators too.
pub fn parse_vendor_datetime(text: &str) -> Option<NaiveDateTime> {
    match parse_datetime_bound(text.trim())? {
        (date, Some(time)) => Some(date.and_time(time)),
        (_, None) => None,
    }
}

/// `2022/01/01`, as the vendor's examples write dates.
pub fn format_date(date: NaiveDate) -> String {
    date.format("%Y/%m/%d").to_string()
}

/// `2022/01/02 00:00:00`.
pub fn format_datetime(at: NaiveDateTime) -> String {
    at.format("%Y/%m/%d %H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_follow_the_vendors_pattern() {
        for good in [
            "sample@robotpayment.co.jp",
            "Robot_Payment@Example.COM",
            "a.b+c-d@x-y.example.jp",
        ] {
            assert!(is_email(good), "{good}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@example.com",
            "a..b@example.com",
            ".a@example.com",
            "a@example.c0m",
            "a@exa_mple.com",
            "a b@example.com",
            "a@b@example.com",
            "a@.example.com",
            "山田@example.com",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn half_width_kinds() {
        assert!(is_half_width_alnum("abcXYZ019"));
        assert!(!is_half_width_alnum("abc-1"));
        assert!(!is_half_width_alnum("ａｂｃ"));
        assert!(is_half_width_alnum_symbol(
            r##"billing_code_001!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~"##
        ));
        assert!(!is_half_width_alnum_symbol("with space"));
        assert!(!is_half_width_alnum_symbol("請求先"));
        assert!(!is_half_width_alnum_symbol("tab\t"));
    }

    #[test]
    fn dates_take_both_separators_and_optional_zeros() {
        let day = NaiveDate::from_ymd_opt(2022, 1, 2).expect("date");
        for good in ["2022/01/02", "2022-01-02", "2022/1/2", "2022-1/02"] {
            assert_eq!(parse_date(good), Some(day), "{good}");
        }
        for bad in [
            "",
            "22/01/02",
            "2022/13/01",
            "2022/00/10",
            "2022/02/30",
            "2022/001/02",
            "2022.01.02",
            "2022/01/02 00:00:00",
            "２０２２/01/02",
            "2022/+1/02",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn datetimes_of_answers_and_bounds() {
        let at = parse_vendor_datetime("2022/01/02 03:04:05").expect("parses");
        assert_eq!(format_datetime(at), "2022/01/02 03:04:05");
        assert_eq!(parse_vendor_datetime("2022/01/02"), None);
        assert_eq!(parse_vendor_datetime("2022/01/02 3:04:05"), None);
        assert_eq!(parse_vendor_datetime("2022/01/02 24:00:00"), None);
        let (date, time) = parse_datetime_bound("2022/05/13").expect("date alone");
        assert_eq!(format_date(date), "2022/05/13");
        assert_eq!(time, None);
        assert!(parse_datetime_bound("2022/05/12 10:00:00").is_some_and(|(_, t)| t.is_some()));
    }

    #[test]
    fn japan_is_nine_hours_ahead() {
        let utc = DateTime::parse_from_rfc3339("2022-01-01T15:30:00.5Z")
            .expect("date")
            .with_timezone(&Utc);
        assert_eq!(format_datetime(to_jst(utc)), "2022/01/02 00:30:00");
    }
}
