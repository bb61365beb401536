//! The statements the planner builds, as a small typed model rendered once through the backend's
//! dialect: expressions ([`Sql`]), `SELECT`s with their relations, joins and grouping, common
//! table expressions, and the names a statement defines ([`Alias`], whose `Display` holds every
//! spelling; nothing else writes one).

use std::fmt;

use chrono::NaiveDateTime;
use sqlparser::ast::Expr;

use super::{Dialect, Ident, SqlType};
use crate::period::TimeUnit;
use crate::result::DerivedColumn;

/// A name a statement defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Alias {
    // Common table expressions.
    /// The labelled dimension table of a segment: `__segment`.
    Segment,
    /// The partial aggregates of the two-stage plan's first stage: `__pre`.
    Pre,
    /// The labelled rows of the one-pass plan: `__base`.
    Base,
    /// The union of every state's rows: `__states`.
    States,

    // Relation aliases.
    /// The fact table: `__fact`.
    Fact,
    /// The segment's labelled dimension table, as joined: `__dim`.
    Dimension,
    /// The segment's dimension table itself: `_dim` (spec predicates may qualify columns so).
    DimensionTable,
    /// The dimension rows with their label: `__labelled`.
    Labelled,
    /// The first stage's rows, as the second stage reads them: `__r`.
    Row,
    /// The windows rows are grouped by: `__w`.
    Windows,
    /// The value list of the *n*th component of a state's slice: `__v{n}`.
    SliceValues(usize),
    /// The value list of the segment: `__vg`.
    SegmentValues,
    /// The rows a range value is computed from: `__range`.
    Range,
    /// The offsets that spread a row over the ranges holding its period: `__o`.
    Offsets,
    /// The states and labels a first-stage row is spread over: `__f`.
    Fanout,
    /// The states' rows, grouped: `__grouped`.
    Grouped,
    /// The baseline state's number, as a row: `__baseline`.
    Baseline,

    // Columns of the statement's result (see `plan::layout`).
    /// Which slice × segment state a row belongs to: `__state`.
    State,
    /// The period's key (first stage) or start (result): `__period`.
    Period,
    /// The window a row belongs to: `__window`.
    Window,
    /// The entity, as text: `entity_id`.
    Entity,
    /// The slice value: `slice_value`.
    SliceValue,
    /// The segment value: `segment_value`.
    SegmentValue,
    /// The value of metric *i*: `__m{i}`.
    Metric(usize),
    /// The numerator of metric *i*: `__n{i}`.
    Numerator(usize),
    /// The denominator of metric *i*: `__d{i}`.
    Denominator(usize),
    /// The number of rows metric *i*'s filter holds for (the statement's), or whether the row
    /// holds metric *i* at all (1 or 0; derived rows): `__c{i}`.
    Count(usize),
    /// A derived column of metric *i* (made after the statement): `__m{i}_{column}`.
    Derived(usize, DerivedColumn),
    /// The number of the last period of a range (see `plan::range`): `__end`.
    End,

    // Columns inside a statement.
    /// Partial aggregate *i* of the first stage: `__p{i}`.
    Partial(usize),
    /// Where aggregate call *i* of a fragment is, while it is decomposed: `__agg{i}`.
    Aggregate(usize),
    /// The key of the *n*th leaf slice: its column (`__s{n}`), or the mask of its values
    /// `30·k … 30·k+29` (`__s{n}_{k}`).
    SliceKey { slice: usize, mask: Option<usize> },
    /// The segment's key: its label (`__g`), or the mask of its values (`__g_{k}`).
    SegmentKey { mask: Option<usize> },
    /// The entity key of the first stage: `__entity`.
    EntityKey,
    /// The grouping set a first-stage row belongs to: `__set`.
    Set,
    /// The dimension table's join key: `__key`.
    Key,
    /// A dimension row's label: `__label`.
    Label,
    /// A value list's mask column (which mask key holds the value): `__mask`.
    Mask,
    /// A value list's bit: `__bit`.
    Bit,
    /// A value list's value name: `__name`.
    Name,
    /// A window's index (0: the request's): `__i`.
    WindowIndex,
    /// A window's first instant: `__lo`.
    WindowStart,
    /// A window's end (exclusive): `__hi`.
    WindowEnd,
    /// An offset in periods: `__k`.
    Offset,
    /// A period's number (see [`Sql::PeriodNumber`]): `__pn`.
    PeriodNumber,
    /// The number of the next period with a row: `__next`.
    Next,
    /// A value counted once: `__value`.
    Value,
    /// Whether a row of a [`Join::Lateral`] list holds: `__keep`.
    Keep,
}

impl Alias {
    /// The index of an [`Alias::Aggregate`] placeholder's spelling.
    pub(crate) fn parse_aggregate(text: &str) -> Option<usize> {
        text.strip_prefix("__agg")?.parse().ok()
    }
}

impl fmt::Display for Alias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Alias::Segment => f.write_str("__segment"),
            Alias::Pre => f.write_str("__pre"),
            Alias::Base => f.write_str("__base"),
            Alias::States => f.write_str("__states"),
            Alias::Fact => f.write_str("__fact"),
            Alias::Dimension => f.write_str("__dim"),
            Alias::DimensionTable => f.write_str("_dim"),
            Alias::Labelled => f.write_str("__labelled"),
            Alias::Row => f.write_str("__r"),
            Alias::Windows => f.write_str("__w"),
            Alias::SliceValues(n) => write!(f, "__v{n}"),
            Alias::SegmentValues => f.write_str("__vg"),
            Alias::Range => f.write_str("__range"),
            Alias::Offsets => f.write_str("__o"),
            Alias::Fanout => f.write_str("__f"),
            Alias::Grouped => f.write_str("__grouped"),
            Alias::Baseline => f.write_str("__baseline"),
            Alias::State => f.write_str("__state"),
            Alias::Period => f.write_str("__period"),
            Alias::Window => f.write_str("__window"),
            Alias::Entity => f.write_str("entity_id"),
            Alias::SliceValue => f.write_str("slice_value"),
            Alias::SegmentValue => f.write_str("segment_value"),
            Alias::Metric(i) => write!(f, "__m{i}"),
            Alias::Numerator(i) => write!(f, "__n{i}"),
            Alias::Denominator(i) => write!(f, "__d{i}"),
            Alias::Count(i) => write!(f, "__c{i}"),
            Alias::Derived(i, column) => write!(f, "__m{i}_{}", column.name()),
            Alias::End => f.write_str("__end"),
            Alias::Partial(i) => write!(f, "__p{i}"),
            Alias::Aggregate(i) => write!(f, "__agg{i}"),
            Alias::SliceKey { slice, mask: None } => write!(f, "__s{slice}"),
            Alias::SliceKey {
                slice,
                mask: Some(k),
            } => write!(f, "__s{slice}_{k}"),
            Alias::SegmentKey { mask: None } => f.write_str("__g"),
            Alias::SegmentKey { mask: Some(k) } => write!(f, "__g_{k}"),
            Alias::EntityKey => f.write_str("__entity"),
            Alias::Set => f.write_str("__set"),
            Alias::Key => f.write_str("__key"),
            Alias::Label => f.write_str("__label"),
            Alias::Mask => f.write_str("__mask"),
            Alias::Bit => f.write_str("__bit"),
            Alias::Name => f.write_str("__name"),
            Alias::WindowIndex => f.write_str("__i"),
            Alias::WindowStart => f.write_str("__lo"),
            Alias::WindowEnd => f.write_str("__hi"),
            Alias::Offset => f.write_str("__k"),
            Alias::PeriodNumber => f.write_str("__pn"),
            Alias::Next => f.write_str("__next"),
            Alias::Value => f.write_str("__value"),
            Alias::Keep => f.write_str("__keep"),
        }
    }
}

/// An expression the planner writes. Its leaves that depend on the backend (names from specs,
/// literals, types, time arithmetic) are rendered by the dialect.
#[derive(Debug, Clone)]
pub(crate) enum Sql {
    /// A name the statement defines: `__p0`.
    Name(Alias),
    /// A column of a relation the statement defines: `__r.__period`.
    Of(Alias, Alias),
    /// A column named in a spec: `"event_ts"`.
    Column(Ident),
    /// A column named in a spec, of a relation: `__fact."referrer_id"`.
    ColumnOf(Alias, Ident),
    /// A spec fragment, parsed and translated for the backend (or decomposed from one).
    Fragment(Box<Expr>),
    /// An integer.
    Int(i64),
    /// `NULL`.
    Null,
    /// `TRUE`.
    True,
    /// A string literal.
    Text(String),
    /// A bound of a time window for a time column of the given type.
    TimeBound(NaiveDateTime, Option<String>),
    /// `CAST(x AS type)`.
    Cast(Box<Sql>, SqlType),
    /// A function call: `SUM(x)`.
    Call(String, Vec<Sql>),
    /// `DISTINCT x`, as an aggregate's argument.
    Distinct(Box<Sql>),
    /// `a op b`.
    Binary(Box<Sql>, Op, Box<Sql>),
    /// `((a) OR (b) ...)`.
    Any(Vec<Sql>),
    /// `(x)`.
    Parens(Box<Sql>),
    /// `x IS NOT NULL`.
    NotNull(Box<Sql>),
    /// `x IS NULL`.
    IsNull(Box<Sql>),
    /// `CASE WHEN c THEN t [ELSE e] END`.
    When(Box<Sql>, Box<Sql>, Option<Box<Sql>>),
    /// `CASE x WHEN a THEN b ... END`.
    Switch(Box<Sql>, Vec<(Sql, Sql)>),
    /// A timestamp's period, as a value to group rows by (see [`Dialect::period_key`]).
    PeriodKey(Box<Sql>, TimeUnit),
    /// The start of the period of a [`Sql::PeriodKey`].
    PeriodStart(Box<Sql>, TimeUnit),
    /// The number of the period of a [`Sql::PeriodKey`], as `period::ordinal` numbers them.
    PeriodNumber(Box<Sql>, TimeUnit),
    /// A window function's call over rows ordered by `order_by` within partitions:
    /// `LEAD(x) OVER (PARTITION BY a, b ORDER BY c)`.
    Over {
        call: Box<Sql>,
        partition_by: Vec<Sql>,
        order_by: Vec<Sql>,
    },
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Add,
    Divide,
    BitAnd,
    Concat,
    And,
    Eq,
    NotEq,
    AtLeast,
    Below,
    AtMost,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Add => "+",
            Op::Divide => "/",
            Op::BitAnd => "&",
            Op::Concat => "||",
            Op::And => "AND",
            Op::Eq => "=",
            Op::NotEq => "<>",
            Op::AtLeast => ">=",
            Op::Below => "<",
            Op::AtMost => "<=",
        }
    }
}

impl Sql {
    /// `a op b`.
    pub(crate) fn binary(a: Sql, op: Op, b: Sql) -> Sql {
        Sql::Binary(Box::new(a), op, Box::new(b))
    }

    /// A call of `name`.
    pub(crate) fn call(name: impl Into<String>, args: Vec<Sql>) -> Sql {
        Sql::Call(name.into(), args)
    }

    /// `CAST(self AS ty)`.
    pub(crate) fn cast(self, ty: SqlType) -> Sql {
        Sql::Cast(Box::new(self), ty)
    }

    /// `(self)`.
    pub(crate) fn parens(self) -> Sql {
        Sql::Parens(Box::new(self))
    }

    /// The items joined by `op` from the left (`a op b op c`); `None` for no items.
    pub(crate) fn chain(items: impl IntoIterator<Item = Sql>, op: Op) -> Option<Sql> {
        items.into_iter().reduce(|a, b| Sql::binary(a, op, b))
    }

    /// The expression as SQL of `d`.
    pub(crate) fn render(&self, d: &dyn Dialect) -> String {
        match self {
            Sql::Name(alias) => alias.to_string(),
            Sql::Of(relation, column) => format!("{relation}.{column}"),
            Sql::Column(ident) => d.column(ident),
            Sql::ColumnOf(relation, ident) => format!("{relation}.{}", d.column(ident)),
            Sql::Fragment(expr) => expr.to_string(),
            Sql::Int(i) => i.to_string(),
            Sql::Null => "NULL".to_string(),
            Sql::True => "TRUE".to_string(),
            Sql::Text(text) => d.string(text),
            Sql::TimeBound(ts, column_type) => d.time_bound(*ts, column_type.as_deref()),
            Sql::Cast(x, ty) => d.cast(&x.render(d), *ty),
            Sql::Call(name, args) => format!("{name}({})", list(args, d)),
            Sql::Distinct(x) => format!("DISTINCT {}", x.render(d)),
            Sql::Binary(a, op, b) => format!("{} {} {}", a.render(d), op.symbol(), b.render(d)),
            Sql::Any(items) => {
                let items: Vec<String> = items.iter().map(|i| i.render(d)).collect();
                format!("(({}))", items.join(") OR ("))
            }
            Sql::Parens(x) => format!("({})", x.render(d)),
            Sql::NotNull(x) => format!("{} IS NOT NULL", x.render(d)),
            Sql::IsNull(x) => format!("{} IS NULL", x.render(d)),
            Sql::When(when, then, otherwise) => match otherwise {
                Some(e) => format!(
                    "CASE WHEN {} THEN {} ELSE {} END",
                    when.render(d),
                    then.render(d),
                    e.render(d)
                ),
                None => format!("CASE WHEN {} THEN {} END", when.render(d), then.render(d)),
            },
            Sql::Switch(subject, arms) => {
                let arms: Vec<String> = arms
                    .iter()
                    .map(|(a, b)| format!("WHEN {} THEN {}", a.render(d), b.render(d)))
                    .collect();
                format!("CASE {} {} END", subject.render(d), arms.join(" "))
            }
            Sql::PeriodKey(x, unit) => d.period_key(&x.render(d), *unit),
            Sql::PeriodStart(x, unit) => d.period_start(&x.render(d), *unit),
            Sql::PeriodNumber(x, unit) => d.period_number(&x.render(d), *unit),
            Sql::Over {
                call,
                partition_by,
                order_by,
            } => {
                let partition = match partition_by.as_slice() {
                    [] => String::new(),
                    keys => format!("PARTITION BY {} ", list(keys, d)),
                };
                format!(
                    "{} OVER ({partition}ORDER BY {})",
                    call.render(d),
                    list(order_by, d)
                )
            }
        }
    }
}

fn list(items: &[Sql], d: &dyn Dialect) -> String {
    items
        .iter()
        .map(|i| i.render(d))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a `FROM` or `JOIN` reads.
#[derive(Debug, Clone)]
pub(crate) enum Relation {
    /// A source's table (its SQL from the catalog): `"events" AS __fact`.
    Table(String, Alias),
    /// A common table expression: `__states`.
    Cte(Alias),
    /// A common table expression under another name: `__pre AS __r`.
    CteAs(Alias, Alias),
    /// A query: `(SELECT ...) AS __labelled`.
    Query(Box<Select>, Alias),
    /// Literal rows: `(VALUES ...) AS __v0(__mask, __bit, __name)`.
    Values {
        rows: Vec<Vec<Sql>>,
        alias: Alias,
        columns: Vec<Alias>,
    },
}

impl Relation {
    fn render(&self, d: &dyn Dialect) -> String {
        match self {
            Relation::Table(sql, alias) => format!("{sql} AS {alias}"),
            Relation::Cte(name) => name.to_string(),
            Relation::CteAs(name, alias) => format!("{name} AS {alias}"),
            Relation::Query(select, alias) => format!("({}) AS {alias}", select.render(d)),
            Relation::Values {
                rows,
                alias,
                columns,
            } => render_rows(d, rows, *alias, columns, |rows, alias, columns| {
                d.values(rows, alias, columns)
            }),
        }
    }
}

/// A join.
#[derive(Debug, Clone)]
pub(crate) enum Join {
    /// `LEFT JOIN relation ON condition`.
    Left(Relation, Sql),
    /// `JOIN relation ON condition`.
    Inner(Relation, Sql),
    /// `CROSS JOIN relation`.
    Cross(Relation),
    /// `FULL OUTER JOIN relation ON condition`.
    Full(Relation, Sql),
    /// Rows computed from each row of the relations before, with the given column names (see
    /// [`Dialect::lateral_rows`]).
    Lateral {
        rows: Vec<Vec<Sql>>,
        alias: Alias,
        columns: Vec<Alias>,
    },
}

impl Join {
    pub(crate) fn render(&self, d: &dyn Dialect) -> String {
        match self {
            Join::Left(r, on) => format!("LEFT JOIN {} ON {}", r.render(d), on.render(d)),
            Join::Inner(r, on) => format!("JOIN {} ON {}", r.render(d), on.render(d)),
            Join::Cross(r) => format!("CROSS JOIN {}", r.render(d)),
            Join::Full(r, on) => format!("FULL OUTER JOIN {} ON {}", r.render(d), on.render(d)),
            Join::Lateral {
                rows,
                alias,
                columns,
            } => render_rows(d, rows, *alias, columns, |rows, alias, columns| {
                d.lateral_rows(rows, alias, columns)
            }),
        }
    }
}

/// Rows of expressions, their alias and column names, rendered and given to `render` (a
/// dialect's form of literal or lateral rows).
fn render_rows(
    d: &dyn Dialect,
    rows: &[Vec<Sql>],
    alias: Alias,
    columns: &[Alias],
    render: impl FnOnce(&[Vec<String>], &str, &[&str]) -> String,
) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|v| v.render(d)).collect())
        .collect();
    let columns: Vec<String> = columns.iter().map(Alias::to_string).collect();
    let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
    render(&rows, &alias.to_string(), &columns)
}

/// How rows are grouped.
#[derive(Debug, Clone, Default)]
pub(crate) enum GroupBy {
    /// Not at all (one group of every row, with aggregates).
    #[default]
    Nothing,
    /// By these expressions.
    By(Vec<Sql>),
    /// By each of these sets of expressions.
    Sets(Vec<Vec<Sql>>),
}

/// How a `SELECT` is laid out as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Style {
    /// In a common table expression, an item per line.
    #[default]
    Block,
    /// In a common table expression, the items on one line.
    Lines,
    /// The statement's last `SELECT`.
    Top,
    /// On one line (a query inside an expression or relation).
    Inline,
}

/// An item of a select list.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub expr: Sql,
    pub alias: Option<Alias>,
}

impl Item {
    /// `expr AS alias`.
    pub(crate) fn new(expr: Sql, alias: Alias) -> Item {
        Item {
            expr,
            alias: Some(alias),
        }
    }

    /// `expr`, under its own name.
    pub(crate) fn bare(expr: Sql) -> Item {
        Item { expr, alias: None }
    }

    /// `expr AS alias`, or the alias alone when `expr` is written as it.
    fn render(&self, d: &dyn Dialect) -> String {
        let expr = self.expr.render(d);
        match self.alias {
            Some(alias) if expr == alias.to_string() => expr,
            Some(alias) => format!("{expr} AS {alias}"),
            None => expr,
        }
    }
}

/// A `SELECT`.
#[derive(Debug, Clone)]
pub(crate) struct Select {
    pub items: Vec<Item>,
    pub from: Relation,
    pub joins: Vec<Join>,
    /// Conditions that must all hold.
    pub filter: Vec<Sql>,
    pub group_by: GroupBy,
    /// Conditions on the groups that must all hold.
    pub having: Vec<Sql>,
    pub order_by: Vec<Sql>,
    pub style: Style,
}

impl Select {
    /// `SELECT items FROM from`, laid out as `style`.
    pub(crate) fn new(items: Vec<Item>, from: Relation, style: Style) -> Select {
        Select {
            items,
            from,
            joins: Vec::new(),
            filter: Vec::new(),
            group_by: GroupBy::Nothing,
            having: Vec::new(),
            order_by: Vec::new(),
            style,
        }
    }

    pub(crate) fn render(&self, d: &dyn Dialect) -> String {
        let (items, clause) = match self.style {
            Style::Block => (",\n        ", "\n    "),
            Style::Lines => (", ", "\n    "),
            Style::Top => (", ", "\n"),
            Style::Inline => (", ", " "),
        };
        let rendered: Vec<String> = self.items.iter().map(|i| i.render(d)).collect();
        let mut sql = format!("SELECT {}", rendered.join(items));
        sql.push_str(&format!("{clause}FROM {}", self.from.render(d)));
        for join in &self.joins {
            sql.push_str(&format!("{clause}{}", join.render(d)));
        }
        if !self.filter.is_empty() {
            sql.push_str(&format!("{clause}WHERE {}", and(&self.filter, d)));
        }
        match &self.group_by {
            GroupBy::Nothing => {}
            GroupBy::By(keys) => sql.push_str(&format!("{clause}GROUP BY {}", list(keys, d))),
            GroupBy::Sets(sets) => {
                let sets: Vec<String> = sets.iter().map(|s| format!("({})", list(s, d))).collect();
                sql.push_str(&format!(
                    "{clause}GROUP BY GROUPING SETS ({})",
                    sets.join(", ")
                ));
            }
        }
        if !self.having.is_empty() {
            sql.push_str(&format!("{clause}HAVING {}", and(&self.having, d)));
        }
        if !self.order_by.is_empty() {
            sql.push_str(&format!("{clause}ORDER BY {}", list(&self.order_by, d)));
        }
        sql
    }
}

fn and(items: &[Sql], d: &dyn Dialect) -> String {
    items
        .iter()
        .map(|i| i.render(d))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// A common table expression: one `SELECT`, or several joined by `UNION ALL`.
#[derive(Debug, Clone)]
pub(crate) struct Cte {
    pub name: Alias,
    /// Computed once although read more than once (where the dialect can say so).
    pub materialized: bool,
    pub branches: Vec<Select>,
}

/// A statement: common table expressions, then the `SELECT` that returns its rows.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub ctes: Vec<Cte>,
    pub body: Select,
}

impl Statement {
    /// The statement as SQL of `d`.
    pub(crate) fn render(&self, d: &dyn Dialect) -> String {
        let ctes: Vec<String> = self
            .ctes
            .iter()
            .map(|cte| {
                let branches: Vec<String> = cte.branches.iter().map(|b| b.render(d)).collect();
                let (name, body) = (cte.name.to_string(), branches.join("\n    UNION ALL\n    "));
                if cte.materialized {
                    d.materialized(&name, &body)
                } else {
                    format!("{name} AS (\n    {body}\n)")
                }
            })
            .collect();
        format!("WITH {}\n{}", ctes.join(",\n"), self.body.render(d))
    }
}
