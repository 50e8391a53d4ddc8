//! Page sizes and opaque cursors shared by every list.
//!
//! A cursor is base64url of `<kind>:<position>`; anything that does not
//! decode to the expected kind is `INVALID`, never a crash.

use crate::error::AppError;
use base64::Engine;

pub const DEFAULT_PAGE: u64 = 50;
pub const MAX_PAGE: u64 = 500;

/// The page size for `first`/`last`: default 50, at most 500.
pub fn page_size(requested: Option<i32>, arg: &str) -> Result<u64, AppError> {
    match requested {
        None => Ok(DEFAULT_PAGE),
        Some(n) if n < 0 => Err(AppError::Invalid(format!("`{arg}` must not be negative"))),
        Some(n) if n as u64 > MAX_PAGE => Err(AppError::Invalid(format!(
            "`{arg}` must be at most {MAX_PAGE}"
        ))),
        Some(n) => Ok(n as u64),
    }
}

/// Encodes a position in a list of `kind`.
pub fn encode(kind: &str, position: &str) -> String {
    encode_parts(kind, &[position])
}

/// [`encode`] of the position the `parts` spell one after another, without
/// the formatting machinery and into one allocation.
fn encode_parts(kind: &str, parts: &[&str]) -> String {
    let mut out = Vec::new();
    encode_parts_into(kind, parts, &mut out);
    // base64url is ASCII
    String::from_utf8(out).unwrap_or_default()
}

/// Appends [`encode_parts`]`(kind, parts)` to `out` (a page writes a
/// cursor per row into its answer): a position of up to [`SHORT`] bytes
/// is spelled on the stack, none is allocated.
fn encode_parts_into(kind: &str, parts: &[&str], out: &mut Vec<u8>) {
    const SHORT: usize = 96;
    let len = kind.len() + 1 + parts.iter().map(|p| p.len()).sum::<usize>();
    let engine = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut short = [0u8; SHORT];
    let long: Vec<u8>;
    let plain = if len > SHORT {
        long = [kind, ":"]
            .iter()
            .chain(parts)
            .flat_map(|p| p.bytes())
            .collect();
        &long[..]
    } else {
        let mut at = 0;
        for part in [kind, ":"].iter().chain(parts) {
            short[at..at + part.len()].copy_from_slice(part.as_bytes());
            at += part.len();
        }
        &short[..len]
    };
    let at = out.len();
    let encoded = base64::encoded_len(len, false).unwrap_or(0);
    out.resize(at + encoded, 0);
    let written = engine.encode_slice(plain, &mut out[at..]).unwrap_or(0);
    out.truncate(at + written);
}

/// Decodes a cursor of `kind` back into its position.
pub fn decode(kind: &str, cursor: &str, arg: &str) -> Result<String, AppError> {
    let invalid = || AppError::Invalid(format!("`{arg}` is not a cursor of this list"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    text.strip_prefix(kind)
        .and_then(|rest| rest.strip_prefix(':'))
        .map(str::to_string)
        .ok_or_else(invalid)
}

/// Decodes an id cursor of `kind`.
pub fn decode_id(kind: &str, cursor: &str, arg: &str) -> Result<i64, AppError> {
    decode(kind, cursor, arg)?
        .parse()
        .map_err(|_| AppError::Invalid(format!("`{arg}` is not a cursor of this list")))
}

/// Which page of a keyset-paged list.
#[derive(Clone, Debug, Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

/// How a list is sorted: its sort key (`None`: the id itself) and direction.
/// The id always breaks ties, so the order is total and pages never overlap.
pub struct Sort {
    /// The list's cursor kind, e.g. `tx`.
    pub kind: &'static str,
    /// The order's name inside cursors, e.g. `CREATED_AT`.
    pub field: &'static str,
    pub ascending: bool,
    /// The sort key as SQL, `None` when sorting by id.
    pub key: Option<sea_orm::sea_query::Expr>,
    /// The SQL value of a cursor's sort value (timestamps travel as microseconds).
    pub bound: fn(i64) -> Option<sea_orm::sea_query::Expr>,
}

/// A row's place in a sorted list ([`Sort::at`]): what its cursor says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    kind: &'static str,
    field: &'static str,
    dir: &'static str,
    value: i64,
    id: i64,
}

impl Position {
    /// `encode` given the position's parts (spelled on the stack).
    fn encoded<T>(&self, encode: impl FnOnce(&str, &[&str]) -> T) -> T {
        let (mut value_digits, mut id_digits) = (itoa::Buffer::new(), itoa::Buffer::new());
        let position = [
            self.field,
            "|",
            self.dir,
            "|",
            value_digits.format(self.value),
            "|",
            id_digits.format(self.id),
        ];
        encode(self.kind, &position)
    }

    /// The cursor.
    pub fn cursor(&self) -> String {
        self.encoded(encode_parts)
    }

    /// Appends the cursor as a JSON string (base64url needs no escape).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'"');
        self.encoded(|kind, parts| encode_parts_into(kind, parts, out));
        out.push(b'"');
    }
}

/// One page of rows, in list order.
pub struct Page<M> {
    pub rows: Vec<M>,
    pub has_next: bool,
    pub has_previous: bool,
}

impl<M> Page<M> {
    /// No rows: what a connection answers when only its totals were asked for.
    pub fn unread() -> Page<M> {
        Page {
            rows: Vec::new(),
            has_next: false,
            has_previous: false,
        }
    }
}

impl Sort {
    fn dir(&self) -> &'static str {
        if self.ascending {
            "ASC"
        } else {
            "DESC"
        }
    }

    /// The cursor of a row whose sort value is `value`.
    pub fn cursor(&self, value: i64, id: i64) -> String {
        self.at(value, id).cursor()
    }

    /// Where a row whose sort value is `value` stands in the list: its
    /// cursor, spelled when asked for.
    pub fn at(&self, value: i64, id: i64) -> Position {
        Position {
            kind: self.kind,
            field: self.field,
            dir: self.dir(),
            value,
            id,
        }
    }

    fn decode(&self, cursor: &str, arg: &str) -> Result<(i64, i64), AppError> {
        let invalid = || {
            AppError::Invalid(format!(
                "`{arg}` is not a cursor of this list in this order"
            ))
        };
        let text = decode(self.kind, cursor, arg)?;
        match text.split('|').collect::<Vec<_>>().as_slice() {
            [f, d, v, id] if *f == self.field && *d == self.dir() => Ok((
                v.parse().map_err(|_| invalid())?,
                id.parse().map_err(|_| invalid())?,
            )),
            _ => Err(invalid()),
        }
    }
}

/// What a request asks of a list, checked: which way, how many, from where.
pub struct Plan {
    backwards: bool,
    size: u64,
    cursor: Option<(i64, i64)>,
}

impl Plan {
    /// `args` checked against `sort`: one direction, a page size in range,
    /// a cursor of this list in this order.
    pub fn of(sort: &Sort, args: &PageArgs) -> Result<Plan, AppError> {
        if args.first.is_some() && args.last.is_some() {
            return Err(AppError::Invalid("give `first` or `last`, not both".into()));
        }
        if args.after.is_some() && args.before.is_some() {
            return Err(AppError::Invalid(
                "give `after` or `before`, not both".into(),
            ));
        }
        let backwards = args.last.is_some() || (args.before.is_some() && args.first.is_none());
        let size = if backwards {
            page_size(args.last, "last")?
        } else {
            page_size(args.first, "first")?
        };
        let cursor = match (&args.after, &args.before) {
            (Some(c), _) => Some(sort.decode(c, "after")?),
            (_, Some(c)) => Some(sort.decode(c, "before")?),
            _ => None,
        };
        Ok(Plan {
            backwards,
            size,
            cursor,
        })
    }
}

/// The merchant a list belongs to: its column and id.
///
/// A page is read along the merchant's own index whatever the values, with
/// a plan PostgreSQL makes once per connection:
/// - The merchant is matched as `col IN (id, id)`, not `col = id`, and the
///   rows ordered by that column first. With an equality PostgreSQL counts
///   the column as constant and may walk the primary key backwards,
///   filtering: cheap while the merchant owns a large share of the rows, a
///   walk over the whole table for a merchant with few or old rows, and a
///   generic plan cached on a pooled connection chooses that walk for every
///   merchant alike (3 s for an empty merchant's first page over 1,000,000
///   rows, measured). With the list nothing but the merchant's own indexes
///   gives the order (the list is on their first column, so they still do).
/// - The page size is written into the statement, not bound: with a bound
///   `LIMIT` (and with a range in place of the list) the generic plan's
///   estimate is dearer than a custom one and PostgreSQL planned every
///   execution again (0.1 ms of its CPU per page, most of what a first page
///   cost it). Page sizes are few, so the statements are few.
///
/// `plans`: [`crate::db::Plans::Generic`] where nothing but the owner's
/// index decides the plan (no filter): the page is then planned once per
/// connection whatever its cursor.
pub struct Owner<C> {
    pub column: C,
    pub id: i64,
    pub plans: crate::db::Plans,
}

/// Reads one page of `select` (the owner's rows) in `sort` order, forwards
/// (`first`/`after`) or backwards (`last`/`before`), by keyset: rows
/// arriving meanwhile never shift a page.
pub async fn keyset<E: PageRow>(
    d: &crate::deps::Deps,
    select: sea_orm::Select<E>,
    id: E::Column,
    owner: Owner<E::Column>,
    sort: &Sort,
    args: &PageArgs,
) -> Result<Page<E::Model>, AppError> {
    let plan = Plan::of(sort, args)?;
    let plans = owner.plans;
    let statement = keyset_statement(d.db.get_database_backend(), select, id, owner, sort, &plan)?;
    let (mut rows, more) = fetch::<E>(d, statement, plans, plan.size).await?;
    if plan.backwards {
        rows.reverse();
    }
    Ok(Page {
        rows,
        has_next: if plan.backwards {
            plan.cursor.is_some()
        } else {
            more
        },
        has_previous: if plan.backwards {
            more
        } else {
            plan.cursor.is_some()
        },
    })
}

/// The statement [`keyset`] runs: the owner's rows of `select` from the
/// plan's cursor, in list order (reversed when walking backwards), one row
/// more than the page to know whether another follows.
pub fn keyset_statement<E: sea_orm::EntityTrait>(
    backend: sea_orm::DbBackend,
    select: sea_orm::Select<E>,
    id: E::Column,
    owner: Owner<E::Column>,
    sort: &Sort,
    plan: &Plan,
) -> Result<sea_orm::Statement, AppError> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QueryTrait};
    // Walking backwards reads the list in the opposite order, then flips the page.
    let ascending = sort.ascending != plan.backwards;
    let id_expr = Expr::col(id);
    let key = sort.key.clone().unwrap_or_else(|| id_expr.clone());
    let mut select = select.filter(owner.column.is_in([owner.id, owner.id]));
    // From the cursor on, as one condition the index can start from: the id
    // alone, or the row (key, id). (An `OR` of the two comparisons is only a
    // filter to a generic plan, so PostgreSQL planned every such page anew.)
    if let Some((v, last_id)) = plan.cursor {
        let (row, cursor) = match &sort.key {
            Some(key) => {
                let bound = (sort.bound)(v)
                    .ok_or_else(|| AppError::Invalid("the cursor is not valid".into()))?;
                (
                    Expr::tuple([key.clone(), id_expr.clone()]),
                    Expr::tuple([bound, Expr::value(last_id)]),
                )
            }
            None => (id_expr.clone(), Expr::value(last_id)),
        };
        select = select.filter(if ascending {
            row.gt(cursor)
        } else {
            row.lt(cursor)
        });
    }
    let order = if ascending {
        sea_orm::Order::Asc
    } else {
        sea_orm::Order::Desc
    };
    select = select.order_by(owner.column, order.clone());
    if sort.key.is_some() {
        select = select.order_by(key, order.clone());
    }
    let mut statement = select.order_by(id, order).build(backend);
    // a number the plan checked (1..=MAX_PAGE + 1), never caller text
    statement.sql = format!("{} LIMIT {}", statement.sql, plan.size + 1);
    Ok(statement)
}

/// One page of the owner's rows of `select`, newest first, from after the
/// row `after` (an id) when given: the lists paged by id alone, read as
/// [`Owner`] says. Returns the rows and whether more follow.
pub async fn newest_first<E: PageRow>(
    d: &crate::deps::Deps,
    select: sea_orm::Select<E>,
    id: E::Column,
    owner: Owner<E::Column>,
    after: Option<i64>,
    size: u64,
) -> Result<(Vec<E::Model>, bool), AppError> {
    let plans = owner.plans;
    let statement =
        newest_first_statement(d.db.get_database_backend(), select, id, owner, after, size)?;
    fetch::<E>(d, statement, plans, size).await
}

/// `E::find()` for `backend` with its select list as one expression:
/// every column in the entity's order, as sea-orm writes them, written
/// once per entity and backend and cloned after. (`find()` builds the list
/// column by column and the statement writes it again: on the
/// Transactions page that was a sixteenth of a request's instructions.)
/// The statements are the same text: a test compares them.
pub fn find_all<E: sea_orm::EntityTrait>(backend: sea_orm::DbBackend) -> sea_orm::Select<E> {
    find_columns::<E>(backend, u64::MAX)
}

/// [`find_all`] narrowed to some of the columns: those whose place in the
/// entity's order is a bit of `columns` (bit 0 the first column), still
/// in the entity's order. Kept per entity, backend and set, up to
/// [`KEPT_LISTS`] sets (past them written anew each time: the sets follow
/// what clients select, so their number is theirs to choose).
pub fn find_columns<E: sea_orm::EntityTrait>(
    backend: sea_orm::DbBackend,
    columns: u64,
) -> sea_orm::Select<E> {
    use sea_orm::{Iterable, QuerySelect};
    use std::any::TypeId;
    let entity = TypeId::of::<E>();
    // the bits of every column (columns past the 64th are always read)
    let every = match E::Column::iter().count() {
        n @ 0..64 => (1 << n) - 1,
        _ => u64::MAX,
    };
    // the same set however many bits past the last column are set
    let columns = columns & every;
    let same = |e: &TypeId, b: &sea_orm::DbBackend, c: &u64| {
        *e == entity && *b == backend && *c == columns
    };
    let kept = TEMPLATES
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(e, b, c, _)| same(e, b, c))
        .and_then(|(.., s)| s.downcast_ref::<sea_orm::Select<E>>())
        .cloned();
    if let Some(select) = kept {
        return select;
    }
    let listed = E::find().select_only().columns(
        E::Column::iter()
            .enumerate()
            .filter(|(i, _)| *i >= 64 || columns & (1 << i) != 0)
            .map(|(_, c)| c),
    );
    let sql = sea_orm::QueryTrait::build(&listed, backend).sql;
    let Some((list, _)) = sql
        .strip_prefix("SELECT ")
        .and_then(|rest| rest.rsplit_once(" FROM "))
    else {
        return listed;
    };
    let template = E::find()
        .select_only()
        .expr(sea_orm::sea_query::Expr::cust(list.to_owned()));
    let mut templates = TEMPLATES.write().unwrap_or_else(|e| e.into_inner());
    // every column of an entity is always kept: one list per entity and
    // backend, whatever sets clients made [`find_columns`] write before
    if (columns == every || templates.len() < KEPT_LISTS)
        && !templates.iter().any(|(e, b, c, _)| same(e, b, c))
    {
        templates.push((entity, backend, columns, Box::new(template.clone())));
    }
    template
}

/// How many select lists [`find_columns`] keeps (besides every entity's
/// full list, the one [`find_all`] reads, which is always kept).
pub const KEPT_LISTS: usize = 64;

/// The lists [`find_columns`] keeps, by entity, backend and column set: a
/// handful of entities, each on one backend, looked up in a list.
type Templates = std::sync::RwLock<
    Vec<(
        std::any::TypeId,
        sea_orm::DbBackend,
        u64,
        Box<dyn std::any::Any + Send + Sync>,
    )>,
>;
static TEMPLATES: Templates = std::sync::RwLock::new(Vec::new());

/// Whether [`find_columns`] keeps a list for exactly these columns of `E`.
#[cfg(test)]
fn is_kept<E: sea_orm::EntityTrait>(backend: sea_orm::DbBackend, columns: u64) -> bool {
    let entity = std::any::TypeId::of::<E>();
    TEMPLATES
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|(e, b, c, _)| *e == entity && *b == backend && *c == columns)
}

/// An entity whose rows are read a page at a time: how the rows of its
/// page's statement (every column, in the entity's order) become models.
pub trait PageRow: sea_orm::EntityTrait {
    /// By column name, as sea-orm reads any row.
    fn decode_page(rows: &[sea_orm::QueryResult]) -> Result<Vec<Self::Model>, sea_orm::DbErr> {
        rows.iter()
            .map(|r| <Self::Model as sea_orm::FromQueryResult>::from_query_result(r, ""))
            .collect()
    }
}

impl PageRow for entity::withdrawal::Entity {}
impl PageRow for entity::stockpiling::Entity {}
impl PageRow for entity::postback::Entity {}
impl PageRow for entity::audit_entry::Entity {}

/// Runs a page's statement (which reads one row more than `size`): the
/// page's rows and whether more follow.
async fn fetch<E: PageRow>(
    d: &crate::deps::Deps,
    statement: sea_orm::Statement,
    plans: crate::db::Plans,
    size: u64,
) -> Result<(Vec<E::Model>, bool), AppError> {
    let mut rows =
        E::decode_page(&crate::db::read_all(&d.db, d.reads.as_deref(), statement, plans).await?)?;
    let more = rows.len() as u64 > size;
    rows.truncate(size as usize);
    Ok((rows, more))
}

/// The statement [`newest_first`] runs.
pub fn newest_first_statement<E: sea_orm::EntityTrait>(
    backend: sea_orm::DbBackend,
    select: sea_orm::Select<E>,
    id: E::Column,
    owner: Owner<E::Column>,
    after: Option<i64>,
    size: u64,
) -> Result<sea_orm::Statement, AppError> {
    let sort = Sort {
        kind: "",
        field: "ID",
        ascending: false,
        key: None,
        bound: integer_bound,
    };
    let plan = Plan {
        backwards: false,
        size,
        cursor: after.map(|a| (a, a)),
    };
    keyset_statement(backend, select, id, owner, &sort, &plan)
}

/// A microsecond timestamp from a cursor as a SQL value.
pub fn instant_bound(v: i64) -> Option<sea_orm::sea_query::Expr> {
    chrono::DateTime::<chrono::Utc>::from_timestamp_micros(v).map(sea_orm::sea_query::Expr::value)
}

/// A plain integer from a cursor as a SQL value.
pub fn integer_bound(v: i64) -> Option<sea_orm::sea_query::Expr> {
    Some(sea_orm::sea_query::Expr::value(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sorts_cursor_is_its_position_encoded() {
        let sort = Sort {
            kind: "tx",
            field: "CREATED_AT",
            ascending: false,
            key: None,
            bound: |_| None,
        };
        for (value, id) in [(0, 1), (-1_733_000_000_123_456, 42), (i64::MIN, i64::MAX)] {
            let cursor = sort.cursor(value, id);
            assert_eq!(
                cursor,
                encode("tx", &format!("CREATED_AT|DESC|{value}|{id}"))
            );
            assert_eq!(sort.decode(&cursor, "after").unwrap(), (value, id));
            // written into an answer: the same cursor as a JSON string,
            // after what the buffer held
            let mut out = b"[1,".to_vec();
            sort.at(value, id).write_json(&mut out);
            assert_eq!(
                out,
                format!("[1,{}", serde_json::json!(cursor)).into_bytes()
            );
        }
    }

    /// A position too long for the stack buffer is encoded the same way.
    #[test]
    fn long_positions_encode_as_short_ones_do() {
        use base64::Engine;
        for len in [0, 1, 90, 95, 96, 97, 300] {
            let position = "7".repeat(len);
            let cursor = encode("tx", &position);
            assert_eq!(
                cursor,
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("tx:{position}"))
            );
            assert_eq!(decode("tx", &cursor, "after").unwrap(), position);
        }
    }

    /// Every page's select, from the kept template or not: the text
    /// sea-orm writes for `find()`, on both backends, values in place.
    #[test]
    fn find_all_writes_what_find_writes() {
        use sea_orm::{ColumnTrait, DbBackend, EntityTrait, QueryFilter, QueryTrait};
        fn same<E: EntityTrait>(backend: DbBackend, column: E::Column) {
            for _ in 0..2 {
                let kept = find_all::<E>(backend).filter(column.eq(5)).build(backend);
                let found = E::find().filter(column.eq(5)).build(backend);
                assert_eq!(kept.sql, found.sql);
                assert_eq!(kept.values, found.values);
            }
        }
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            same::<entity::transaction::Entity>(backend, entity::transaction::Column::MerchantId);
            same::<entity::withdrawal::Entity>(backend, entity::withdrawal::Column::MerchantId);
            same::<entity::stockpiling::Entity>(backend, entity::stockpiling::Column::MerchantId);
            same::<entity::postback::Entity>(backend, entity::postback::Column::MerchantId);
            same::<entity::audit_entry::Entity>(backend, entity::audit_entry::Column::MerchantId);
        }
    }

    #[test]
    fn find_columns_writes_what_find_writes_of_those_columns() {
        use entity::transaction::{Column, Entity};
        use sea_orm::{ColumnTrait, DbBackend, EntityTrait, Iterable, QueryFilter};
        use sea_orm::{QuerySelect, QueryTrait};
        // more sets than are kept: every one written right, kept or not
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            for set in (0..2 * KEPT_LISTS as u64).map(|n| (n * 0x2_4a5f) | 1) {
                let kept = find_columns::<Entity>(backend, set)
                    .filter(Column::MerchantId.eq(5))
                    .build(backend);
                let found = Entity::find()
                    .select_only()
                    .columns(
                        Column::iter()
                            .enumerate()
                            .filter(|(i, _)| set & (1 << i) != 0)
                            .map(|(_, c)| c),
                    )
                    .filter(Column::MerchantId.eq(5))
                    .build(backend);
                assert_eq!(kept.sql, found.sql);
                assert_eq!(kept.values, found.values);
            }
        }
        // past the kept sets every entity's full list is still kept
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            let audit = entity::audit_entry::Column::iter().count();
            find_all::<entity::audit_entry::Entity>(backend);
            assert!(is_kept::<entity::audit_entry::Entity>(
                backend,
                (1 << audit) - 1
            ));
            find_all::<Entity>(backend);
            assert!(is_kept::<Entity>(
                backend,
                (1 << Column::iter().count()) - 1
            ));
        }
        // bits past the last column change nothing
        let all = find_columns::<Entity>(DbBackend::Postgres, (1 << Column::iter().count()) - 1);
        assert_eq!(
            all.build(DbBackend::Postgres).sql,
            find_all::<Entity>(DbBackend::Postgres)
                .build(DbBackend::Postgres)
                .sql
        );
    }

    #[test]
    fn cursors_round_trip_and_refuse_tampering() {
        let c = encode("audit", "42");
        assert_eq!(decode_id("audit", &c, "after").unwrap(), 42);
        assert!(decode_id("user", &c, "after").is_err());
        assert!(decode_id("audit", "%%%", "after").is_err());
        assert!(decode_id("audit", &encode("audit", "x"), "after").is_err());
    }

    #[test]
    fn an_owners_page_is_a_list_match_ordered_by_the_owner_with_the_size_written_in() {
        use entity::audit_entry::{Column as A, Entity};
        use sea_orm::{DbBackend, EntityTrait};
        let owner = || Owner {
            column: A::MerchantId,
            id: 7,
            plans: crate::db::Plans::Chosen,
        };
        let pg = newest_first_statement(
            DbBackend::Postgres,
            Entity::find(),
            A::Id,
            owner(),
            Some(42),
            20,
        )
        .unwrap();
        assert!(
            pg.sql.contains(r#""merchant_id" IN ($1, $2)"#) && pg.sql.contains(r#""id" < $3"#),
            "{}",
            pg.sql
        );
        assert!(
            pg.sql.ends_with(
                r#"ORDER BY "audit_entries"."merchant_id" DESC, "audit_entries"."id" DESC LIMIT 21"#
            ),
            "{}",
            pg.sql
        );
        assert_eq!(pg.values.unwrap().0.len(), 3);
        let lite =
            newest_first_statement(DbBackend::Sqlite, Entity::find(), A::Id, owner(), None, 500)
                .unwrap();
        assert!(
            lite.sql.contains(r#""merchant_id" IN (?, ?)"#) && lite.sql.ends_with("LIMIT 501"),
            "{}",
            lite.sql
        );
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(page_size(None, "first").unwrap(), 50);
        assert_eq!(page_size(Some(500), "first").unwrap(), 500);
        assert!(page_size(Some(501), "first").is_err());
        assert!(page_size(Some(-1), "first").is_err());
    }
}
