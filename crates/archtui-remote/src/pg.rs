//! tokio-postgres over the forwarded socket, with per-query timeouts that
//! also cancel the query on the server, and notifications (LISTEN)
//! broadcast to whoever subscribed.

use std::path::Path;
use std::time::Duration;

use futures_util::stream::poll_fn;
use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{AsyncMessage, Client, NoTls, Notification, Row};

use archtui_core::credentials::Secret;

/// Marks a query that was cancelled for taking too long.
const TIMED_OUT: &str = "query cancelled after";

/// Why a connect, a statement or a column read failed. Its text is what
/// the operator reads; `String::from` keeps callers that still pass text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PgError {
    /// The connect got no answer in time.
    #[error("no answer within {secs} s")]
    NoAnswer { secs: u64 },
    /// A statement ran past its timeout and was cancelled on the server.
    #[error("{} {secs} s", TIMED_OUT)]
    TimedOut { secs: u64 },
    /// The server or the connection refused (`describe`'s text).
    #[error("{0}")]
    Failed(String),
    /// A column whose value the client cannot decode.
    #[error("column {column}: {why}")]
    Column { column: String, why: String },
    /// What the answer means for archtui (a schema or registry missing).
    #[error("{0}")]
    Unexpected(String),
    /// Another error, with what was being read when it happened.
    #[error("{what}: {source}")]
    Within { what: String, source: Box<PgError> },
}

impl PgError {
    /// This error, said to have happened while reading `what`.
    pub fn within(self, what: impl Into<String>) -> PgError {
        PgError::Within {
            what: what.into(),
            source: Box::new(self),
        }
    }

    /// The error under its contexts.
    pub fn root(&self) -> &PgError {
        match self {
            PgError::Within { source, .. } => source.root(),
            e => e,
        }
    }
}

impl From<PgError> for String {
    fn from(e: PgError) -> String {
        e.to_string()
    }
}

pub struct Pg {
    client: Client,
    timeout: Duration,
    notifications: broadcast::Sender<Notification>,
    /// Aborted on drop so a dropped client never leaves a task behind.
    driver: tokio::task::JoinHandle<()>,
}

impl Drop for Pg {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

pub struct Params<'a> {
    pub socket_dir: &'a Path,
    pub port: u16,
    pub user: &'a str,
    pub dbname: &'a str,
    pub password: Option<Secret>,
    pub timeout: Duration,
    /// Shown in pg_stat_activity; a slave's supervisor records it as who
    /// paused a sync. `None`: "archtui".
    pub application_name: Option<&'a str>,
}

/// Error text of a failed connect or query; never holds the password,
/// which tokio-postgres does not echo.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        // The top-level text ("error communicating with the server") hides
        // the cause, which is what the operator needs.
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

impl Pg {
    pub async fn connect(p: Params<'_>) -> Result<Pg, PgError> {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host_path(p.socket_dir)
            .port(p.port)
            .user(p.user)
            .dbname(p.dbname)
            .application_name(p.application_name.unwrap_or("archtui"))
            // Bucardo's tables are never analyzed, so the planner's
            // estimates of our small reads pass jit_above_cost and a fresh
            // backend spends ~45 ms compiling each: more than the read.
            .options("-c jit=off")
            .connect_timeout(p.timeout);
        if let Some(pw) = &p.password {
            cfg.password(pw.expose());
        }
        let connecting = tokio::time::timeout(p.timeout, cfg.connect(NoTls));
        tracing::debug!(
            db = p.dbname,
            user = p.user,
            port = p.port,
            "postgres connect"
        );
        let (client, mut conn) = match connecting.await {
            Err(_) => {
                tracing::warn!(
                    db = p.dbname,
                    limit_s = p.timeout.as_secs(),
                    "postgres connect timed out"
                );
                return Err(PgError::NoAnswer {
                    secs: p.timeout.as_secs(),
                });
            }
            Ok(Err(e)) => {
                let why = describe(&e);
                tracing::warn!(db = p.dbname, reason = %why, "postgres connect failed");
                return Err(PgError::Failed(why));
            }
            Ok(Ok(pair)) => pair,
        };
        tracing::debug!(db = p.dbname, "postgres connected");
        let (tx, _) = broadcast::channel(NOTIFICATION_BACKLOG);
        let notifications = tx.clone();
        let driver = tokio::spawn(async move {
            let mut messages = poll_fn(move |cx| conn.poll_message(cx));
            while let Some(Ok(msg)) = messages.next().await {
                if let AsyncMessage::Notification(n) = msg {
                    let _ = tx.send(n);
                }
            }
        });
        Ok(Pg {
            client,
            timeout: p.timeout,
            notifications,
            driver,
        })
    }

    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Runs a query; past the timeout the server is told to cancel it.
    /// Without parameters it is one round trip (`query_typed`: parse, bind
    /// and execute sent together), not a prepare's round trip first: over
    /// a forward through SSH every round trip counts, a round has dozens.
    pub async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, PgError> {
        if params.is_empty() {
            return self.bounded(self.client.query_typed(sql, &[])).await;
        }
        self.bounded(self.client.query(sql, params)).await
    }

    /// A query whose parameters are all text, in one round trip like a
    /// query without any (their type is said, not asked of the server).
    pub async fn query_text(&self, sql: &str, params: &[&str]) -> Result<Vec<Row>, PgError> {
        let typed: Vec<(&(dyn ToSql + Sync), Type)> = params
            .iter()
            .map(|p| (p as &(dyn ToSql + Sync), Type::TEXT))
            .collect();
        self.bounded(self.client.query_typed(sql, &typed)).await
    }

    /// Runs statements; past the timeout the server is told to cancel them.
    pub async fn execute_batch(&self, sql: &str) -> Result<(), PgError> {
        self.bounded(self.client.batch_execute(sql)).await
    }

    /// `work` within the timeout, else cancelled on the server too, so a
    /// stuck statement does not hold locks after the console gave up.
    async fn bounded<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, PgError> {
        match tokio::time::timeout(self.timeout, work).await {
            Ok(r) => r.map_err(|e| PgError::Failed(describe(&e))),
            Err(_) => {
                tracing::warn!(
                    limit_s = self.timeout.as_secs(),
                    "postgres statement timed out; cancelling it"
                );
                let token = self.client.cancel_token();
                let _ =
                    tokio::time::timeout(Duration::from_secs(2), token.cancel_query(NoTls)).await;
                Err(PgError::TimedOut {
                    secs: self.timeout.as_secs(),
                })
            }
        }
    }

    /// Notifications from now on. A receiver that falls more than
    /// `NOTIFICATION_BACKLOG` behind gets `Lagged`, never blocks the client.
    pub fn subscribe(&self) -> broadcast::Receiver<Notification> {
        self.notifications.subscribe()
    }
}

/// Notifications kept for a slow subscriber.
pub const NOTIFICATION_BACKLOG: usize = 256;

/// Waits for a notification on `channel`, skipping others (which other
/// subscribers still get).
pub async fn wait_notification(
    rx: &mut broadcast::Receiver<Notification>,
    channel: &str,
    within: Duration,
) -> Option<Notification> {
    tokio::time::timeout(within, async {
        loop {
            match rx.recv().await {
                Ok(n) if n.channel() == channel => return Some(n),
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .await
    .ok()
    .flatten()
}

/// One column of a remote row, decoded; a value the client cannot decode
/// (an unexpected type, a NULL where none belongs) is an error that names
/// the column and the mismatch, never a panic.
pub fn col<'a, T, I>(row: &'a Row, idx: I) -> Result<T, PgError>
where
    T: tokio_postgres::types::FromSql<'a>,
    I: tokio_postgres::row::RowIndex + std::fmt::Display + Copy,
{
    row.try_get(idx).map_err(|e| PgError::Column {
        column: idx.to_string(),
        why: describe(&e),
    })
}

/// The first row's first column, if there is a row.
pub fn first<'a, T>(rows: &'a [Row]) -> Result<Option<T>, PgError>
where
    T: tokio_postgres::types::FromSql<'a>,
{
    rows.first().map(|r| col(r, 0)).transpose()
}

/// A channel or identifier name quoted for SQL (tokio-postgres has none).
pub fn ident(name: &str) -> String {
    postgres_protocol::escape::escape_identifier(name)
}

#[cfg(test)]
mod tests {
    use super::PgError;

    #[test]
    fn errors_say_what_the_text_said_and_keep_their_kind_under_context() {
        let t = PgError::TimedOut { secs: 5 }.within("sync archive_jukebox");
        assert_eq!(
            t.to_string(),
            "sync archive_jukebox: query cancelled after 5 s"
        );
        assert_eq!(t.root(), &PgError::TimedOut { secs: 5 });
        let c = PgError::Column {
            column: "status".into(),
            why: "unexpected NULL".into(),
        };
        assert_eq!(String::from(c), "column status: unexpected NULL");
        assert_eq!(
            PgError::NoAnswer { secs: 3 }.to_string(),
            "no answer within 3 s"
        );
    }
}
