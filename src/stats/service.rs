//! The dashboard: validating the filter, reading the buckets as local days,
//! converting into the display currency with the rate of each day.

use super::days;
use crate::auth::model::Actor;
use crate::catalog::model::Catalog;
use crate::db::Sql;
use crate::deps::Deps;
use crate::error::{AppError, AppResult};
use crate::money::Money;
use chrono::NaiveDate;
use chrono_tz::Tz;
use rust_decimal::{Decimal, RoundingStrategy};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, QueryOrder, QuerySelect};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;

/// Longest range a dashboard covers: `to` at most this many days after `from`.
pub const MAX_RANGE_DAYS: i64 = 366;

/// The date that places a row on a day.
pub use entity::stat_bucket::DashboardDateKind as DateKind;
use entity::stat_bucket::StatSection;

/// A validated dashboard filter.
#[derive(Clone, Debug)]
pub struct Filter {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub date_kind: DateKind,
    /// Arrival currencies; `None` for all.
    pub currencies: Option<Vec<String>>,
    pub display_currency: String,
    pub countries: Option<Vec<String>>,
    pub payment_systems: Option<Vec<String>>,
    pub completed_only: bool,
}

/// One day of a line.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub date: NaiveDate,
    pub amount: Decimal,
    pub count: i64,
}

/// A transactions or withdrawals section.
#[derive(Clone, Debug)]
pub struct Section {
    pub period: (Decimal, i64),
    pub today: (Decimal, i64),
    pub total: Vec<Point>,
    /// Payment system code and its line, converted.
    pub by_payment_system: Vec<(String, Vec<Point>)>,
    /// (currency, payment system) and its line in that currency.
    pub by_arrival_currency: Vec<(String, String, Vec<Point>)>,
}

#[derive(Clone, Debug)]
pub struct Dashboard {
    pub display_currency: String,
    pub timezone: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub transactions: Section,
    pub withdrawals: Section,
    /// Currencies whose amounts were left out for want of a rate.
    pub missing_rates: Vec<String>,
}

fn invalid(path: &[&str], message: impl Into<String>) -> AppError {
    AppError::InvalidField(path.iter().map(|s| s.to_string()).collect(), message.into())
}

/// Checks a filter against the catalogue: the range, currencies, countries
/// and payment systems; the first problem found is the error.
pub fn validate(catalog: &Catalog, f: &Filter) -> AppResult<()> {
    if f.from > f.to {
        return Err(invalid(&["filter", "to"], "`to` is before `from`"));
    }
    if (f.to - f.from).num_days() > MAX_RANGE_DAYS {
        return Err(invalid(
            &["filter", "to"],
            format!("a dashboard covers at most {MAX_RANGE_DAYS} days after `from`"),
        ));
    }
    if catalog.currency(&f.display_currency).is_none() {
        return Err(invalid(
            &["filter", "displayCurrency"],
            format!("unknown currency `{}`", f.display_currency),
        ));
    }
    for (i, c) in f.currencies.iter().flatten().enumerate() {
        if catalog.currency(c).is_none() {
            return Err(invalid(
                &["filter", "currencies", &i.to_string()],
                format!("unknown currency `{c}`"),
            ));
        }
    }
    for (i, c) in f.countries.iter().flatten().enumerate() {
        if !catalog.payment_systems.iter().any(|p| &p.country == c) {
            return Err(invalid(
                &["filter", "countries", &i.to_string()],
                format!("no payment system works in country `{c}`"),
            ));
        }
    }
    for (i, p) in f.payment_systems.iter().flatten().enumerate() {
        if catalog.payment_system(p).is_none() {
            return Err(invalid(
                &["filter", "paymentSystems", &i.to_string()],
                format!("unknown payment system `{p}`"),
            ));
        }
    }
    Ok(())
}

/// One aggregated row: local day number, payment system, currency, sum in
/// minor units, number of rows.
#[derive(Clone, Debug)]
pub struct Row {
    pub day: i64,
    pub payment_system: String,
    pub currency: String,
    pub amount_minor: i64,
    pub count: i64,
}

/// Sums of one section over local days [from, to) of the merchant's zone,
/// read from the daily rollup.
async fn fetch(
    db: &impl ConnectionTrait,
    merchant_id: i64,
    transactions: bool,
    f: &Filter,
    (from, to): (NaiveDate, NaiveDate),
) -> AppResult<Vec<Row>> {
    let (a, b) = (days::number_of(from), days::number_of(to));
    // (a withdrawal has no stockpiling: its "end" is its processing)
    let kind = match (transactions, f.date_kind) {
        (false, DateKind::StockpilingEnd) => DateKind::Activation,
        (_, kind) => kind,
    };
    let mut q = Sql::new(db.get_database_backend());
    let head = format!(
        "SELECT day, payment_system, currency, \
         CAST(SUM(amount_minor) AS BIGINT) AS amount_minor, CAST(SUM(count) AS BIGINT) AS n \
         FROM stat_days WHERE merchant_id = {} AND section = {} AND kind = {} \
         AND day >= {} AND day < {}",
        q.bind(merchant_id),
        q.bind(if transactions {
            StatSection::Transactions
        } else {
            StatSection::Withdrawals
        }),
        q.bind(kind),
        q.bind(a),
        q.bind(b),
    );
    q.text = head;
    q.is_in("currency", f.currencies.as_deref());
    q.is_in("country", f.countries.as_deref());
    q.is_in("payment_system", f.payment_systems.as_deref());
    if transactions && f.completed_only {
        q.text.push_str(" AND completed = 1");
    }
    // rows emptied again (a SCAM mark, a completion) stay behind as zeros
    q.text
        .push_str(" GROUP BY day, payment_system, currency HAVING SUM(count) <> 0");
    let rows = db.query_all_raw(q.statement()).await?;
    rows.iter()
        .map(|r| {
            Ok(Row {
                day: r.try_get("", "day")?,
                payment_system: r.try_get("", "payment_system")?,
                currency: r.try_get("", "currency")?,
                amount_minor: r.try_get("", "amount_minor")?,
                count: r.try_get("", "n")?,
            })
        })
        .collect()
}

/// Exchange rates by currency, each list sorted by date.
#[derive(Clone, Debug, Default)]
pub struct Rates(pub HashMap<String, Vec<(NaiveDate, Decimal)>>);

impl Rates {
    /// The USD value of one unit of `currency` in force on `day`: the latest
    /// rate on or before it; USD is 1 unless published otherwise.
    pub fn on(&self, currency: &str, day: NaiveDate) -> Option<Decimal> {
        let found = self.0.get(currency).and_then(|list| {
            let i = list.partition_point(|(d, _)| *d <= day);
            (i > 0).then(|| list[i - 1].1)
        });
        found.or_else(|| (currency == "USD").then_some(Decimal::ONE))
    }
}

async fn load_rates(
    db: &impl ConnectionTrait,
    currencies: &BTreeSet<String>,
    until: NaiveDate,
) -> AppResult<Rates> {
    let mut q = Sql::new(db.get_database_backend());
    let until = q.bind(until.format("%Y-%m-%d").to_string());
    q.text = format!("SELECT currency, date, usd FROM exchange_rates WHERE date <= {until}");
    let currencies: Vec<String> = currencies.iter().cloned().collect();
    q.is_in("currency", Some(&currencies));
    q.text.push_str(" ORDER BY currency, date");
    let rows = db.query_all_raw(q.statement()).await?;
    let mut rates = Rates::default();
    for r in rows {
        let currency: String = r.try_get("", "currency")?;
        let date: String = r.try_get("", "date")?;
        let usd: String = r.try_get("", "usd")?;
        let date = NaiveDate::parse_from_str(&date, "%Y-%m-%d").map_err(anyhow::Error::new)?;
        let usd = Decimal::from_str(&usd).map_err(anyhow::Error::new)?;
        rates.0.entry(currency).or_default().push((date, usd));
    }
    Ok(rates)
}

/// Converts `minor` units of `currency` into `display` with the rates of
/// `day`, unrounded; `Err` names the currency that lacked a rate.
pub fn convert(
    catalog: &Catalog,
    rates: &Rates,
    minor: i64,
    currency: &str,
    display: &str,
    day: NaiveDate,
) -> Result<Decimal, String> {
    let amount = catalog.decimal(&Money::new(minor, currency));
    if currency == display {
        return Ok(amount);
    }
    let from = rates
        .on(currency, day)
        .ok_or_else(|| currency.to_string())?;
    let to = rates.on(display, day).ok_or_else(|| display.to_string())?;
    amount
        .checked_mul(from)
        .and_then(|x| x.checked_div(to))
        .ok_or_else(|| currency.to_string())
}

/// Rounds a day's converted sum once, half to even, to the display currency's digits.
pub fn round(catalog: &Catalog, display: &str, amount: Decimal) -> Decimal {
    let units = catalog.minor_units(display);
    let mut rounded = amount.round_dp_with_strategy(units, RoundingStrategy::MidpointNearestEven);
    rounded.rescale(units);
    rounded
}

/// Builds a section from its aggregated rows.
#[allow(clippy::too_many_arguments)]
fn assemble(
    catalog: &Catalog,
    rates: &Rates,
    f: &Filter,
    today: NaiveDate,
    period: &[Row],
    today_rows: &[Row],
    missing: &mut BTreeSet<String>,
) -> Section {
    let first = days::number_of(f.from);
    let n = (days::number_of(f.to) - first + 1) as usize;
    let display = f.display_currency.as_str();
    let mut total = vec![(Decimal::ZERO, 0i64); n];
    let mut by_ps: BTreeMap<usize, Vec<(Decimal, i64)>> = BTreeMap::new();
    let mut by_cur: BTreeMap<(String, usize), Vec<(i64, i64)>> = BTreeMap::new();
    let position = |code: &str| {
        catalog
            .payment_systems
            .iter()
            .position(|p| p.code == code)
            .unwrap_or(usize::MAX)
    };
    for code in f.payment_systems.iter().flatten() {
        by_ps
            .entry(position(code))
            .or_insert_with(|| vec![(Decimal::ZERO, 0); n]);
    }
    for r in period {
        let i = (r.day - first) as usize;
        if i >= n {
            continue;
        }
        let date = days::date_of(r.day);
        let amount = match convert(catalog, rates, r.amount_minor, &r.currency, display, date) {
            Ok(a) => a,
            Err(lacking) => {
                missing.insert(lacking);
                Decimal::ZERO
            }
        };
        let p = position(&r.payment_system);
        total[i].0 += amount;
        total[i].1 += r.count;
        let line = by_ps
            .entry(p)
            .or_insert_with(|| vec![(Decimal::ZERO, 0); n]);
        line[i].0 += amount;
        line[i].1 += r.count;
        let line = by_cur
            .entry((r.currency.clone(), p))
            .or_insert_with(|| vec![(0, 0); n]);
        line[i].0 += r.amount_minor;
        line[i].1 += r.count;
    }
    let points = |line: Vec<(Decimal, i64)>| -> Vec<Point> {
        line.into_iter()
            .enumerate()
            .map(|(i, (amount, count))| Point {
                date: days::date_of(first + i as i64),
                amount: round(catalog, display, amount),
                count,
            })
            .collect()
    };
    let total = points(total);
    let period_total = total
        .iter()
        .fold((Decimal::ZERO, 0), |(a, c), p| (a + p.amount, c + p.count));
    let code = |p: usize| {
        catalog
            .payment_systems
            .get(p)
            .map(|s| s.code.clone())
            .unwrap_or_default()
    };
    let by_payment_system = by_ps
        .into_iter()
        .filter(|(p, _)| *p != usize::MAX)
        .map(|(p, line)| (code(p), points(line)))
        .collect();
    let by_arrival_currency = by_cur
        .into_iter()
        .filter(|((_, p), _)| *p != usize::MAX)
        .map(|((currency, p), line)| {
            let line = line
                .into_iter()
                .enumerate()
                .map(|(i, (minor, count))| Point {
                    date: days::date_of(first + i as i64),
                    amount: catalog.decimal(&Money::new(minor, currency.clone())),
                    count,
                })
                .collect();
            (currency, code(p), line)
        })
        .collect();
    let mut today_sum = (Decimal::ZERO, 0);
    for r in today_rows {
        match convert(catalog, rates, r.amount_minor, &r.currency, display, today) {
            Ok(a) => today_sum.0 += a,
            Err(lacking) => {
                missing.insert(lacking);
            }
        }
        today_sum.1 += r.count;
    }
    Section {
        period: period_total,
        today: (round(catalog, display, today_sum.0), today_sum.1),
        total,
        by_payment_system,
        by_arrival_currency,
    }
}

/// How far a rebuild is: merchants done of all, bucket rows written so far.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct RebuildProgress {
    pub merchants_done: usize,
    pub merchants: usize,
    pub bucket_rows: u64,
}

/// Recomputes the statistics of one merchant (or all) from the raw rows,
/// one merchant per write transaction: that merchant's writers wait for
/// its slice (so no change is counted twice or lost), nobody waits for
/// the whole rebuild. `progress` hears after each merchant.
#[tracing::instrument(name = "db.stats.rebuild", skip_all)]
pub async fn rebuild(
    d: &Deps,
    actor: &Actor,
    merchant_id: Option<i64>,
    mut progress: impl FnMut(RebuildProgress),
) -> AppResult<u64> {
    let reach = actor.key_with_scope(crate::auth::model::Scope::Platform)?;
    match merchant_id {
        Some(id) if !reach.covers(id) => return Err(AppError::Forbidden),
        None => reach.everything()?,
        Some(_) => {}
    }
    let merchants: Vec<i64> = match merchant_id {
        Some(id) => {
            if entity::merchant::Entity::find_by_id(id)
                .one(&d.db)
                .await?
                .is_none()
            {
                return Err(AppError::Invalid(format!("merchant {id} does not exist")));
            }
            vec![id]
        }
        None => {
            entity::merchant::Entity::find()
                .select_only()
                .column(entity::merchant::Column::Id)
                .order_by_asc(entity::merchant::Column::Id)
                .into_tuple()
                .all(&d.db)
                .await?
        }
    };
    let mut total = 0;
    for (done, id) in merchants.iter().enumerate() {
        let rows = crate::db::write(d, actor, async |txn, _now| {
            if txn.get_database_backend() == DbBackend::Postgres {
                txn.execute_unprepared("LOCK TABLE stat_buckets IN EXCLUSIVE MODE")
                    .await?;
            }
            let rows = super::buckets::rebuild(txn, *id).await?;
            let entry = crate::audit::Audit {
                merchant_id: Some(*id),
                action: "stats.rebuild",
                subject: None,
                details: serde_json::json!({ "bucket_rows": rows }),
            };
            Ok(crate::db::Change::done(rows).audited(entry))
        })
        .await?;
        total += rows;
        progress(RebuildProgress {
            merchants_done: done + 1,
            merchants: merchants.len(),
            bucket_rows: total,
        });
    }
    Ok(total)
}

/// The dashboard of the caller's merchant.
#[tracing::instrument(name = "db.stats.dashboard", skip_all)]
pub async fn dashboard(d: &Deps, actor: &Actor, f: Filter) -> AppResult<Dashboard> {
    let tenant = actor.reader()?;
    validate(&d.catalog, &f)?;
    // One snapshot: the zone and the days rolled up in it agree even while
    // the zone is being changed.
    let txn = crate::db::begin_snapshot(&d.db).await?;
    let merchant = entity::merchant::Entity::find_by_id(tenant.merchant_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let tz: Tz = merchant.timezone.parse().unwrap_or(chrono_tz::UTC);
    let today = d.clock.now().with_timezone(&tz).date_naive();
    let range = (f.from, f.to.succ_opt().unwrap_or(f.to));
    let today_range = (today, today.succ_opt().unwrap_or(today));
    let m = merchant.id;
    let t = fetch(&txn, m, true, &f, range).await?;
    let t_today = fetch(&txn, m, true, &f, today_range).await?;
    let w = fetch(&txn, m, false, &f, range).await?;
    let w_today = fetch(&txn, m, false, &f, today_range).await?;
    let mut currencies: BTreeSet<String> = [&t, &t_today, &w, &w_today]
        .iter()
        .flat_map(|rows| rows.iter().map(|r| r.currency.clone()))
        .collect();
    currencies.insert(f.display_currency.clone());
    let rates = load_rates(&txn, &currencies, today.max(f.to)).await?;
    txn.commit().await?;
    let mut missing = BTreeSet::new();
    let transactions = assemble(&d.catalog, &rates, &f, today, &t, &t_today, &mut missing);
    let withdrawals = assemble(&d.catalog, &rates, &f, today, &w, &w_today, &mut missing);
    Ok(Dashboard {
        display_currency: f.display_currency,
        timezone: merchant.timezone,
        from: f.from,
        to: f.to,
        transactions,
        withdrawals,
        missing_rates: missing.into_iter().collect(),
    })
}
