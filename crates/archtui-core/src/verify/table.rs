//! A replicated table as verify compares it: its key and columns, with
//! PostgreSQL's own type names, and Bucardo's delta and track tables.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// `format_type` of the column.
    pub ty: String,
}

/// A replicated table as verify compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub schema: String,
    pub name: String,
    /// Primary key columns, in the key's order.
    pub key: Vec<Column>,
    /// Every column, in the master's order: the row's text is made of these.
    pub columns: Vec<Column>,
    /// Bucardo's delta and track tables (schema `bucardo`) on the master.
    pub delta: Option<(String, String)>,
}
