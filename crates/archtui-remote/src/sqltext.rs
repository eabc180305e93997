//! SQL text and its parameters, as verify and its Bucardo reads build
//! them over a table's key and columns: identifiers quoted (`pg::ident`),
//! values always parameters, sent as text and cast on the server to the
//! key column's type. Pure.

use tokio_postgres::types::ToSql;

use crate::pg::ident;
use archtui_core::verify::chunk::{Key, Range};
pub use archtui_core::verify::table::{Column, TableSpec};

/// `schema.table`, quoted.
pub fn qualified(spec: &TableSpec) -> String {
    format!("{}.{}", ident(&spec.schema), ident(&spec.name))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    Text(String),
    Texts(Vec<String>),
}

/// A statement and its parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub sql: String,
    pub params: Vec<Param>,
}

impl Query {
    pub fn new() -> Query {
        Query::default()
    }

    /// Adds a parameter; returns its placeholder.
    pub fn bind(&mut self, p: Param) -> String {
        self.params.push(p);
        format!("${}", self.params.len())
    }

    pub fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| match p {
                Param::Text(s) => s as &(dyn ToSql + Sync),
                Param::Texts(v) => v as &(dyn ToSql + Sync),
            })
            .collect()
    }
}

pub fn cols(alias: &str, cs: &[Column]) -> Vec<String> {
    cs.iter()
        .map(|c| format!("{alias}.{}", ident(&c.name)))
        .collect()
}

/// `t.k1, t.k2`
pub fn key_cols(spec: &TableSpec, alias: &str) -> String {
    cols(alias, &spec.key).join(", ")
}

/// `t.k1::text, t.k2::text`
pub fn key_text(spec: &TableSpec, alias: &str) -> String {
    cols(alias, &spec.key)
        .iter()
        .map(|c| format!("{c}::text"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The row's hash: a 64-bit hash of the text of its columns, in the
/// master's column order (a slave whose columns were added in another
/// order still hashes alike). hashtextextended is hashtext's 64-bit form
/// and as fast; a sum of them needs no sort and splits by subtraction.
pub fn row_hash(spec: &TableSpec, alias: &str) -> String {
    format!(
        "hashtextextended(ROW({})::text, 0)",
        cols(alias, &spec.columns).join(", ")
    )
}

/// `alias.key OP key` as a row comparison, the key bound as text.
pub fn compare(q: &mut Query, spec: &TableSpec, alias: &str, op: &str, key: &Key) -> String {
    let vals: Vec<String> = spec
        .key
        .iter()
        .zip(key)
        .map(|(c, v)| {
            let p = q.bind(Param::Text(v.clone()));
            format!("{p}::text::{}", c.ty)
        })
        .collect();
    if spec.key.len() == 1 {
        format!("{} {op} {}", key_cols(spec, alias), vals[0])
    } else {
        format!(
            "ROW({}) {op} ROW({})",
            key_cols(spec, alias),
            vals.join(", ")
        )
    }
}

/// The range's condition on `alias`; `true` for the whole table.
pub fn range_cond(q: &mut Query, spec: &TableSpec, alias: &str, r: &Range) -> String {
    let mut parts = Vec::new();
    if let Some(lo) = &r.lo {
        parts.push(compare(q, spec, alias, ">", lo));
    }
    if let Some(hi) = &r.hi {
        parts.push(compare(q, spec, alias, "<=", hi));
    }
    if parts.is_empty() {
        "true".into()
    } else {
        parts.join(" AND ")
    }
}

/// `unnest($a::text[], $b::text[]) AS x(k0, k1)` over `keys`, by column.
pub fn unnest(q: &mut Query, spec: &TableSpec, keys: &[Key]) -> String {
    let mut args = Vec::new();
    for i in 0..spec.key.len() {
        let column: Vec<String> = keys
            .iter()
            .map(|k| k.get(i).cloned().unwrap_or_default())
            .collect();
        args.push(format!("{}::text[]", q.bind(Param::Texts(column))));
    }
    let names: Vec<String> = (0..spec.key.len()).map(|i| format!("k{i}")).collect();
    format!("unnest({}) AS x({})", args.join(", "), names.join(", "))
}

/// `alias.k1 = x.k0::t1 AND ...`: a row of `alias` matches one of `unnest`.
pub fn matches_x(spec: &TableSpec, alias: &str) -> String {
    spec.key
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{alias}.{} = x.k{i}::{}", ident(&c.name), c.ty))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Leaves out `keys` (changes in flight); nothing when there are none.
pub fn exclude(q: &mut Query, spec: &TableSpec, alias: &str, keys: &[Key]) -> String {
    if keys.is_empty() {
        return String::new();
    }
    let x = unnest(q, spec, keys);
    format!(
        " AND NOT EXISTS (SELECT 1 FROM {x} WHERE {})",
        matches_x(spec, alias)
    )
}

/// Tables and keys the SQL tests build on.
#[cfg(test)]
pub mod fixtures {
    use super::*;

    pub fn col(name: &str, ty: &str) -> Column {
        Column {
            name: name.into(),
            ty: ty.into(),
        }
    }

    pub fn items() -> TableSpec {
        TableSpec {
            schema: "public".into(),
            name: "items".into(),
            key: vec![col("id", "bigint")],
            columns: vec![col("id", "bigint"), col("title", "text")],
            delta: Some(("delta_public_items".into(), "track_public_items".into())),
        }
    }

    pub fn pair() -> TableSpec {
        TableSpec {
            schema: "public".into(),
            name: "Pair".into(),
            key: vec![col("a", "integer"), col("b", "text")],
            columns: vec![
                col("a", "integer"),
                col("b", "text"),
                col("v", "double precision"),
            ],
            delta: None,
        }
    }

    pub fn k(v: &[&str]) -> Key {
        v.iter().map(|s| s.to_string()).collect()
    }
}
