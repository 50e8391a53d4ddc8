//! Statuses and kinds stored as TEXT: one macro makes each a string-backed
//! sea-orm enum (the stored text does not change, so no data migration),
//! serialised by serde as the same text (the bus format and postback bodies
//! keep their strings), with `as_str` for the few raw SQL statements. With
//! the `graphql` feature, enums the API exposes as they are also derive
//! `async_graphql::Enum` (its default SCREAMING_SNAKE_CASE names are the
//! stored text), so one type carries a status from the row to the wire.

/// `text_enum! { /// docs  #[graphql] pub enum Name { /// docs  Variant = "TEXT", … } }`
#[macro_export]
macro_rules! text_enum {
    (@define [$($derive:path),*] $(#[$m:meta])* $vis:vis enum $name:ident {
        $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)?
    }) => {
        $(#[$m])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
            sea_orm::entity::prelude::EnumIter, sea_orm::entity::prelude::DeriveActiveEnum,
            serde::Serialize, serde::Deserialize
            $(, $derive)*
        )]
        #[sea_orm(rs_type = "String", db_type = "Text")]
        $vis enum $name {
            $($(#[$vm])* #[sea_orm(string_value = $text)] #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// The stored text.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl $crate::TextEnum for $name {
            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(format!("unknown {} `{}`", stringify!($name), other)),
                }
            }
        }
    };
    (#[graphql] $($rest:tt)*) => {
        #[cfg(feature = "graphql")]
        $crate::text_enum!(@define [async_graphql::Enum] $($rest)*);
        #[cfg(not(feature = "graphql"))]
        $crate::text_enum!(@define [] $($rest)*);
    };
    ($($rest:tt)*) => {
        $crate::text_enum!(@define [] $($rest)*);
    };
}

/// A status or kind stored as text.
pub trait TextEnum: Copy {
    /// The stored text.
    fn as_str(self) -> &'static str;

    /// The stored text as an SQL string literal, for raw statements (the
    /// texts are fixed identifiers: nothing to escape).
    fn sql(self) -> String {
        format!("'{}'", self.as_str())
    }
}

/// `('A', 'B')`: the stored texts of `values` as an SQL list, for `IN`.
pub fn sql_list<T: TextEnum>(values: &[T]) -> String {
    let items: Vec<String> = values.iter().map(|v| v.sql()).collect();
    format!("({})", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation_request::ActivationRequestStatus;
    use crate::api_key::ApiKeyScope;
    use crate::export::ExportKind;
    use crate::merchant::{AfterPaymentAction, PluginTheme};
    use crate::postback::{AttemptOutcome, PostbackDeliveryStatus, PostbackKind};
    use crate::postback_endpoint::PostbackCircuit;
    use crate::stat_bucket::{DashboardDateKind, StatSection};
    use crate::stockpiling::StockpilingStatus;
    use crate::transaction::{
        Direction, Originality, PostbackStatus, TransactionStatus, TransactionType,
    };
    use crate::user::{Language, Role};
    use crate::withdrawal::{WithdrawalPostbackStatus, WithdrawalRequestKind, WithdrawalStatus};
    use sea_orm::{ActiveEnum, Iterable};

    /// Every variant of `T`: its stored text, its serde text, `FromStr`.
    fn texts<T>() -> Vec<&'static str>
    where
        T: TextEnum + ActiveEnum<Value = String> + Iterable + serde::Serialize,
        T: std::str::FromStr<Err = String> + PartialEq + std::fmt::Debug,
    {
        T::iter()
            .map(|v| {
                assert_eq!(v.to_value(), v.as_str());
                assert_eq!(serde_json::to_value(v).unwrap(), v.as_str());
                assert_eq!(v.as_str().parse::<T>(), Ok(v));
                v.as_str()
            })
            .collect()
    }

    /// The stored (and sent: events, postbacks, CSV) text of every status
    /// and kind. Rows written before the types existed hold these strings:
    /// changing one is a data migration, not a rename.
    #[test]
    fn the_stored_text_of_every_status_and_kind_is_unchanged() {
        assert_eq!(texts::<Direction>(), ["INCOMING", "OUTGOING"]);
        assert_eq!(texts::<TransactionType>(), ["MANUAL", "AUTO"]);
        assert_eq!(texts::<Originality>(), ["NORMAL", "SCAM"]);
        assert_eq!(
            texts::<PostbackStatus>(),
            [
                "STOCKPILING_NOT_FOUND",
                "STOCKPILING_IN_PROGRESS",
                "QUEUED",
                "SENT",
                "ERROR_SENDING"
            ]
        );
        assert_eq!(texts::<TransactionStatus>(), ["NOT_ACTIVATED", "ACTIVATED"]);
        assert_eq!(
            texts::<ActivationRequestStatus>(),
            ["WAITING", "ACTIVATED", "EXPIRED", "REJECTED"]
        );
        assert_eq!(texts::<StockpilingStatus>(), ["IN_PROGRESS", "COMPLETED"]);
        assert_eq!(texts::<PostbackKind>(), ["DEPOSIT", "WITHDRAWAL"]);
        assert_eq!(
            texts::<PostbackDeliveryStatus>(),
            ["PENDING", "RETRYING", "DELIVERED", "FAILED"]
        );
        assert_eq!(texts::<AttemptOutcome>(), ["SENT", "ERROR"]);
        assert_eq!(texts::<PostbackCircuit>(), ["CLOSED", "OPEN", "HALF_OPEN"]);
        assert_eq!(texts::<ExportKind>(), ["TRANSACTIONS", "WITHDRAWALS"]);
        assert_eq!(
            texts::<DashboardDateKind>(),
            ["ACTIVATION", "CREATION", "STOCKPILING_END"]
        );
        assert_eq!(texts::<StatSection>(), ["T", "W"]);
        assert_eq!(texts::<WithdrawalStatus>(), ["NEW", "APPROVED", "REJECTED"]);
        assert_eq!(texts::<WithdrawalRequestKind>(), ["MANUAL", "API"]);
        assert_eq!(
            texts::<WithdrawalPostbackStatus>(),
            ["NOT_SENT", "RECEIVED", "ERROR"]
        );
        assert_eq!(texts::<Role>(), ["OWNER", "OPERATOR", "VIEWER"]);
        assert_eq!(texts::<Language>(), ["EN", "RU", "HI", "BN", "UR"]);
        assert_eq!(texts::<ApiKeyScope>(), ["MERCHANT", "INGEST", "PLATFORM"]);
        assert_eq!(
            texts::<PluginTheme>(),
            ["DARK", "LIGHT", "WHITE_GREEN", "CUSTOM"]
        );
        assert_eq!(texts::<AfterPaymentAction>(), ["SHOW_RESULT", "REDIRECT"]);
        assert_eq!(
            "BOGUS".parse::<Direction>(),
            Err("unknown Direction `BOGUS`".into())
        );
    }

    #[test]
    fn raw_sql_gets_quoted_lists() {
        assert_eq!(PostbackCircuit::Closed.sql(), "'CLOSED'");
        assert_eq!(
            sql_list(&PostbackDeliveryStatus::DUE),
            "('PENDING', 'RETRYING')"
        );
    }
}
