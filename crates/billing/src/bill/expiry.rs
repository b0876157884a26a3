//! When a bill expires: at the end of a day in the tenant's time zone (DIGIT sets 23:59:59 of
//! the day in the JVM's zone; kosh uses the tenant's zone, Asia/Kolkata unless the tenant
//! master names another, and the last millisecond of the day).

use chrono::{NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::demand::Demand;

/// The day whose end the bill of `demand` expires at: the fixed expiry date while it is in
/// the future, else `now + billExpiryTime` when that is set, else today.
pub fn expiry_date(demand: &Demand, now_ms: i64, tz: Tz) -> i64 {
    let day_of = match (demand.fixed_bill_expiry_date, demand.bill_expiry_time) {
        (Some(fixed), _) if fixed > now_ms => fixed,
        (_, Some(period)) if period > 0 => now_ms.saturating_add(period),
        _ => now_ms,
    };
    end_of_day(day_of, tz)
}

/// The last millisecond of the day (in `tz`) that contains `ms`.
pub fn end_of_day(ms: i64, tz: Tz) -> i64 {
    let Some(instant) = Utc.timestamp_millis_opt(ms).single() else {
        return ms;
    };
    let last = NaiveTime::from_hms_milli_opt(23, 59, 59, 999).expect("valid time");
    let local_end = instant.with_timezone(&tz).date_naive().and_time(last);
    tz.from_local_datetime(&local_end)
        .earliest()
        .map(|t| t.timestamp_millis())
        .unwrap_or(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demand::{Audit, DemandStatus};
    use kosh_platform::money::Paise;

    const KOLKATA: Tz = chrono_tz::Asia::Kolkata;
    /// 2019-06-15 10:00:00 IST.
    const NOW: i64 = 1_560_573_000_000;
    /// 2019-06-15 23:59:59.999 IST.
    const END_OF_TODAY: i64 = 1_560_623_399_999;
    const DAY: i64 = 86_400_000;

    fn demand(fixed: Option<i64>, period: Option<i64>) -> Demand {
        Demand {
            id: "d".into(),
            tenant_id: "pb.amritsar".into(),
            consumer_code: "c".into(),
            consumer_type: "t".into(),
            business_service: "PT".into(),
            payer: None,
            tax_period_from: 0,
            tax_period_to: 0,
            minimum_amount_payable: Paise::ZERO,
            bill_expiry_time: period,
            fixed_bill_expiry_date: fixed,
            status: DemandStatus::Active,
            is_payment_completed: false,
            additional_details: None,
            audit: Audit::new("x", 0),
            details: Vec::new(),
        }
    }

    #[test]
    fn defaults_to_the_end_of_today_in_the_tenant_zone() {
        assert_eq!(expiry_date(&demand(None, None), NOW, KOLKATA), END_OF_TODAY);
        // 23:30 UTC is already the next day in Kolkata.
        let late_utc = END_OF_TODAY + 1 + 3 * 60 * 60 * 1000;
        assert_eq!(
            expiry_date(&demand(None, None), late_utc, KOLKATA),
            END_OF_TODAY + DAY
        );
    }

    #[test]
    fn bill_expiry_time_moves_the_day() {
        assert_eq!(
            expiry_date(&demand(None, Some(3 * DAY)), NOW, KOLKATA),
            END_OF_TODAY + 3 * DAY
        );
        assert_eq!(
            expiry_date(&demand(None, Some(0)), NOW, KOLKATA),
            END_OF_TODAY
        );
    }

    #[test]
    fn a_future_fixed_date_wins_a_past_one_does_not() {
        assert_eq!(
            expiry_date(&demand(Some(NOW + 10 * DAY), Some(DAY)), NOW, KOLKATA),
            END_OF_TODAY + 10 * DAY
        );
        assert_eq!(
            expiry_date(&demand(Some(NOW - DAY), Some(DAY)), NOW, KOLKATA),
            END_OF_TODAY + DAY
        );
    }
}
