//! `archtui serve --metrics ADDR`: the fleet's metrics over HTTP for
//! Prometheus. The per-host supervisors keep every connection open and
//! observe on their own (like `status --watch`); a scrape only assembles
//! their latest observations, so it costs the hosts nothing.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};

use archtui_core::config::Config;
use archtui_core::observation::HostObservation;
use archtui_remote::served::{self, Shelf};
use archtui_remote::{host::Context, supervisor};

pub const SERVE_HELP: &str = "GET /metrics answers with the fleet's metrics (names start with \
archtui_; README, Metrics) from the latest observation of every host; the supervisors observe \
every --every SECS and reconnect by themselves. Listens on 127.0.0.1:9187 unless told otherwise: \
the metrics name hosts and tables, so put it on a public address only behind your own access \
control. Runs until SIGINT or SIGTERM. Exit codes: 2 the address cannot be listened on; 3 the \
config is unusable.";

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on for GET /metrics.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9187")]
    metrics: SocketAddr,
    /// Seconds between two observations of each host (1 to 3600).
    #[arg(long, value_name = "SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    every: u64,
}

pub async fn run(config: Config, args: ServeArgs) -> i32 {
    let listener = match tokio::net::TcpListener::bind(args.metrics).await {
        Ok(l) => l,
        Err(e) => {
            super::warn(&format!(
                "archtui: cannot listen on {}: {e} (pass another --metrics ADDR)",
                args.metrics
            ));
            return 2;
        }
    };
    let ctx = match Context::open(config) {
        Ok(c) => c,
        Err(e) => {
            super::warn(&format!("archtui: {e}"));
            return super::EXIT_UNKNOWN;
        }
    };
    let hosts = ctx.config.hosts();
    let latest = Shelf::new(&hosts);
    // One-shot `status` commands on this config read these readings too.
    let _served = served::serve(&ctx.config, latest.clone(), "serve");
    let (mut rx, handles) = supervisor::spawn_all(&ctx, Duration::from_secs(args.every));
    let collect = {
        let latest = latest.clone();
        tokio::spawn(async move {
            while let Some(obs) = rx.recv().await {
                latest.put(&obs);
            }
        })
    };
    super::warn(&format!(
        "archtui: serving metrics on http://{}/metrics",
        args.metrics
    ));
    let serving = async {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let (ctx, latest) = (ctx.clone(), latest.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let (ctx, latest) = (ctx.clone(), latest.clone());
                    async move { Ok::<_, Infallible>(answer(&req, &ctx, &latest)) }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                // A slow or silent client gives up its connection.
                let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
                let _ = tokio::time::timeout(Duration::from_secs(60), conn).await;
            });
        }
    };
    let stop = super::stop_signal();
    tokio::select! {
        () = serving => {}
        () = stop => {}
    }
    collect.abort();
    for h in handles {
        h.abort();
    }
    0
}

fn answer(req: &Request<Incoming>, ctx: &Context, latest: &Shelf) -> Response<Full<Bytes>> {
    let reply = |code: StatusCode, ty: &str, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = code;
        if let Ok(v) = hyper::header::HeaderValue::from_str(ty) {
            r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
        }
        r
    };
    match (req.method(), req.uri().path()) {
        (&Method::GET | &Method::HEAD, "/metrics") => {
            let current = {
                let l = latest.snapshot();
                HostObservation::latest_or_connecting(&l, &ctx.config.hosts(), chrono::Utc::now())
            };
            let status = super::status::with_journal(archtui_core::fleet::assemble(
                &ctx.config,
                ctx.config.thresholds,
                &current,
                chrono::Utc::now(),
            ));
            let last = archtui_remote::verify::store::load(&archtui_remote::verify::store::path());
            reply(
                StatusCode::OK,
                archtui_core::metrics::CONTENT_TYPE,
                archtui_core::metrics::render(&status, &last),
            )
        }
        (_, "/metrics") => reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".into(),
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "archtui serves /metrics only\n".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn serve_parses_and_defaults_to_loopback() {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from(["archtui", "serve"]).unwrap();
        let Some(crate::cli::Command::Serve(a)) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(a.metrics.to_string(), "127.0.0.1:9187");
        assert!(
            crate::cli::Cli::try_parse_from(["archtui", "serve", "--metrics", "nope"]).is_err()
        );
        let cli = crate::cli::Cli::try_parse_from(["archtui", "status", "--format", "openmetrics"]);
        assert!(cli.is_ok());
    }
}
