//! Names the planner gives to what its statements define: common table expressions, relation
//! aliases and columns. Every spelling is here, in [`Alias`]'s `Display`; nothing else writes one.

use std::fmt;

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
    /// A derived column of metric *i* (made after the statement): `__m{i}_{column}`.
    Derived(usize, DerivedColumn),

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
            Alias::State => f.write_str("__state"),
            Alias::Period => f.write_str("__period"),
            Alias::Window => f.write_str("__window"),
            Alias::Entity => f.write_str("entity_id"),
            Alias::SliceValue => f.write_str("slice_value"),
            Alias::SegmentValue => f.write_str("segment_value"),
            Alias::Metric(i) => write!(f, "__m{i}"),
            Alias::Numerator(i) => write!(f, "__n{i}"),
            Alias::Denominator(i) => write!(f, "__d{i}"),
            Alias::Derived(i, column) => write!(f, "__m{i}_{}", column.name()),
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
        }
    }
}
