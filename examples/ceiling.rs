//! The ceiling for `bench/load.py --ceiling`: a bare hyper 1 server (the same hyper-util
//! auto builder and tokio runtime as the bridge, nothing else) that answers every request
//! with fixed bytes. A bridge benchmark's rate divided by this server's, on the same machine
//! in the same run, says how much of the cost is the bridge's own work.
//!
//!     cargo build --release --example ceiling
//!     target/release/examples/ceiling --port 0 --route filter= lookup.json --route /Users/ user.json
//!
//! A request is answered with the file of the first `--route` whose text its path and query
//! contain, as `application/scim+json` (404 when none does), so the bridge's own wrk scripts
//! drive both servers alike. Prints `listening on 127.0.0.1:PORT` when ready; loopback only.

use std::{convert::Infallible, net::SocketAddr, sync::Arc};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{body::Incoming, service::service_fn, Request, Response, StatusCode};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto::Builder,
};

fn answer(routes: &[(String, Bytes)], req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let target = req.uri().path_and_query().map_or("", |p| p.as_str());
    match routes
        .iter()
        .find(|(text, _)| target.contains(text.as_str()))
    {
        Some((_, body)) => Response::builder()
            .header("content-type", "application/scim+json")
            .body(Full::new(body.clone()))
            .expect("a fixed response builds"),
        None => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::new()))
            .expect("a fixed response builds"),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut port = 0u16;
    let mut routes = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("--port takes a number")
            }
            "--route" => {
                let (text, path) = (args.next(), args.next());
                let (Some(text), Some(path)) = (text, path) else {
                    eprintln!("--route takes a text and a file");
                    std::process::exit(2);
                };
                routes.push((text, Bytes::from(std::fs::read(&path)?)));
            }
            _ => {
                eprintln!("usage: ceiling [--port N] --route TEXT FILE [--route TEXT FILE …]");
                std::process::exit(2);
            }
        }
    }
    let routes: Arc<[(String, Bytes)]> = routes.into();
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let routes = Arc::clone(&routes);
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let res = answer(&routes, &req);
                async move { Ok::<_, Infallible>(res) }
            });
            let _ = Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
