//! One bridge per fuzzing process, started in-process on a free loopback port with a fresh
//! session and embedded store, and a way to send it one raw HTTP/1.1 request.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    sync::OnceLock,
    time::Duration,
};

/// The running bridge: where it listens and the bearer token it accepts.
pub struct Bridge {
    /// The plain-HTTP address.
    pub addr: SocketAddr,
    /// A valid bearer token.
    pub token: String,
}

/// Starts the bridge on first use (a runtime of its own on a background thread) and returns it.
pub fn bridge() -> &'static Bridge {
    static BRIDGE: OnceLock<Bridge> = OnceLock::new();
    BRIDGE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory").keep();
        let session = dir.join("scimsession");
        let (_, token) = scim_bridge::session::create(&session, Default::default())
            .expect("a new session file");
        let env = move |name: &str| -> Option<String> {
            match name {
                "OP_SESSION" => Some(session.display().to_string()),
                "OP_DATA_DIR" => Some(dir.join("data").display().to_string()),
                "OP_PORT" => Some("0".into()),
                "OP_BIND_ADDRESS" => Some("127.0.0.1".into()),
                "OP_REQUEST_TIMEOUT" => Some("10s".into()),
                _ => None,
            }
        };
        let settings = scim_bridge::config::load(None, &env).expect("valid settings");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let running = runtime
            .block_on(scim_bridge::app::start(settings, Default::default()))
            .expect("the bridge starts");
        let addr = running.http_addr;
        std::thread::spawn(move || runtime.block_on(running.wait()));
        Bridge {
            addr,
            token: token.reveal().to_owned(),
        }
    })
}

/// Sends `request` (a whole HTTP/1.1 request; it should ask for `Connection: close`) and
/// returns every byte of the answer. Panics when the bridge does not answer within 20 s.
pub fn exchange(request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(bridge().addr).expect("connect to the bridge");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("a read timeout");
    // The bridge may answer and close before it has read everything (a 413, say); that is fine.
    // No half-close: hyper may take a client's EOF as the end of the connection and drop the
    // answer. `Connection: close` makes the bridge close after answering.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

/// The status code of a raw HTTP/1.1 answer, if it has a status line.
pub fn status(answer: &[u8]) -> Option<u16> {
    let line = answer.split(|b| *b == b'\r').next()?;
    let text = std::str::from_utf8(line).ok()?;
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// A `Connection: close` request with the bridge's bearer token and a SCIM body.
pub fn request(method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: fuzz.test\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        bridge().token,
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}
