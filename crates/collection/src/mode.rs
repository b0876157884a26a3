//! Payment modes and what each one requires and implies (DIGIT's PaymentModeEnum and
//! `PaymentEnricher`/`PaymentValidator`).

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentMode {
    Cash,
    Cheque,
    Dd,
    Online,
    Card,
    OfflineNeft,
    OfflineRtgs,
    OnlineNeft,
    OnlineRtgs,
    PostalOrder,
}

const ALL: &[(PaymentMode, &str)] = &[
    (PaymentMode::Cash, "CASH"),
    (PaymentMode::Cheque, "CHEQUE"),
    (PaymentMode::Dd, "DD"),
    (PaymentMode::Online, "ONLINE"),
    (PaymentMode::Card, "CARD"),
    (PaymentMode::OfflineNeft, "OFFLINE_NEFT"),
    (PaymentMode::OfflineRtgs, "OFFLINE_RTGS"),
    (PaymentMode::OnlineNeft, "ONLINE_NEFT"),
    (PaymentMode::OnlineRtgs, "ONLINE_RTGS"),
    (PaymentMode::PostalOrder, "POSTAL_ORDER"),
];

impl PaymentMode {
    /// DIGIT's clients send `Cash` as well as `CASH`.
    pub fn parse(text: &str) -> Option<PaymentMode> {
        ALL.iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(text.trim()))
            .map(|(mode, _)| *mode)
    }

    pub fn as_str(self) -> &'static str {
        ALL.iter()
            .find(|(mode, _)| *mode == self)
            .map(|(_, name)| *name)
            .unwrap_or("CASH")
    }

    /// Money that has already reached the bank: the payment is DEPOSITED and its instrument
    /// REMITTED at once, and it is never cancelled through CANCEL.
    pub fn is_online(self) -> bool {
        matches!(
            self,
            PaymentMode::Card
                | PaymentMode::Online
                | PaymentMode::OnlineNeft
                | PaymentMode::OnlineRtgs
        )
    }

    /// A paper or bank instrument whose number and date the counter clerk records.
    pub fn needs_instrument(self) -> bool {
        matches!(
            self,
            PaymentMode::Cheque
                | PaymentMode::Dd
                | PaymentMode::OfflineNeft
                | PaymentMode::OfflineRtgs
                | PaymentMode::PostalOrder
        )
    }

    pub fn is_cheque_or_dd(self) -> bool {
        matches!(self, PaymentMode::Cheque | PaymentMode::Dd)
    }

    /// Modes whose instrument date is the transaction date (DIGIT sets it).
    pub fn instrument_dated_now(self) -> bool {
        matches!(
            self,
            PaymentMode::Cash
                | PaymentMode::Card
                | PaymentMode::Online
                | PaymentMode::OnlineNeft
                | PaymentMode::OnlineRtgs
        )
    }

    /// Instrument status at creation: REMITTED for online money, APPROVED otherwise.
    pub fn initial_instrument_status(self) -> &'static str {
        if self.is_online() {
            "REMITTED"
        } else {
            "APPROVED"
        }
    }

    /// Payment status at creation: DEPOSITED for online money, NEW otherwise.
    pub fn initial_payment_status(self) -> &'static str {
        if self.is_online() { "DEPOSITED" } else { "NEW" }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_any_case() {
        assert_eq!(PaymentMode::parse("Cash"), Some(PaymentMode::Cash));
        assert_eq!(
            PaymentMode::parse("online_neft"),
            Some(PaymentMode::OnlineNeft)
        );
        assert_eq!(PaymentMode::parse("BITCOIN"), None);
        for (mode, name) in ALL {
            assert_eq!(mode.as_str(), *name);
        }
        assert_eq!(PaymentMode::Online.initial_payment_status(), "DEPOSITED");
        assert_eq!(PaymentMode::Cheque.initial_instrument_status(), "APPROVED");
    }
}
