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

impl TableSpec {
    /// A key of one integer column: its chunks can be ranges of key
    /// values, whose ends need no scan to find.
    pub fn integer_key(&self) -> bool {
        matches!(self.key.as_slice(), [c] if matches!(c.ty.as_str(), "bigint" | "integer" | "smallint"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(key: &[(&str, &str)]) -> TableSpec {
        let key: Vec<Column> = key
            .iter()
            .map(|(n, t)| Column {
                name: (*n).into(),
                ty: (*t).into(),
            })
            .collect();
        TableSpec {
            schema: "public".into(),
            name: "t".into(),
            columns: key.clone(),
            key,
            delta: None,
        }
    }

    #[test]
    fn integer_keys_are_one_integer_column() {
        assert!(spec(&[("id", "bigint")]).integer_key());
        assert!(spec(&[("id", "integer")]).integer_key());
        assert!(!spec(&[("id", "text")]).integer_key());
        assert!(!spec(&[("id", "numeric")]).integer_key());
        assert!(!spec(&[("a", "bigint"), ("b", "bigint")]).integer_key());
    }
}
