//! A throw-away `redis-server` process per test, on a free loopback port, killed on drop.
//!
//! Owns the process and its temp directory; knows nothing about the store using it.

use std::{
    io::{Read, Write},
    net::{Ipv4Addr, TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// How long a fresh server may take to answer PING.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `redis-server` bound to 127.0.0.1 only, with fsync-always AOF in a temp dir.
pub(crate) struct RedisServer {
    child: Option<Child>,
    port: u16,
    tls: bool,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server on a free port; panics with a clear message if it cannot.
    pub(crate) fn start() -> RedisServer {
        Self::start_on(free_port())
    }

    /// Starts a server on `port` (used to bring a server back on the same address).
    pub(crate) fn start_on(port: u16) -> RedisServer {
        Self::start_with(port, &[])
    }

    /// Starts a server on `port` with more arguments (`--cluster-enabled yes`, `--replicaof …`).
    pub(crate) fn start_with(port: u16, extra: &[&str]) -> RedisServer {
        let dir = tempfile::tempdir().expect("creating a temp dir for redis-server");
        let mut args = vec!["--port".to_owned(), port.to_string()];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        Self::spawn(dir, port, args, false)
    }

    /// Starts a server that loads `rdb` (a snapshot of an earlier deployment) at start-up.
    pub(crate) fn start_from_snapshot(rdb: &std::path::Path) -> RedisServer {
        let dir = tempfile::tempdir().expect("creating a temp dir for redis-server");
        std::fs::copy(rdb, dir.path().join("dump.rdb")).expect("copying the snapshot");
        let port = free_port();
        // Without an AOF Redis loads the RDB file; later arguments override the defaults.
        let args = [
            "--port",
            &port.to_string(),
            "--appendonly",
            "no",
            "--dbfilename",
            "dump.rdb",
        ]
        .map(str::to_owned)
        .to_vec();
        Self::spawn(dir, port, args, false)
    }

    /// Starts a TLS-only server with a fresh self-signed certificate (needs `openssl` on PATH).
    pub(crate) fn start_tls() -> RedisServer {
        let dir = tempfile::tempdir().expect("creating a temp dir for redis-server");
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let status = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=localhost",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("running openssl (Debian package `openssl`) to make a test certificate");
        assert!(
            status.success(),
            "openssl could not make a test certificate"
        );
        let port = free_port();
        let path = |p: &std::path::Path| p.display().to_string();
        let args = vec![
            "--port".to_owned(),
            "0".to_owned(),
            "--tls-port".to_owned(),
            port.to_string(),
            "--tls-cert-file".to_owned(),
            path(&cert),
            "--tls-key-file".to_owned(),
            path(&key),
            "--tls-ca-cert-file".to_owned(),
            path(&cert),
            "--tls-auth-clients".to_owned(),
            "no".to_owned(),
        ];
        Self::spawn(dir, port, args, true)
    }

    fn spawn(dir: tempfile::TempDir, port: u16, args: Vec<String>, tls: bool) -> RedisServer {
        let spawned = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .args(&args)
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "redis-server is not installed: the Redis store tests need it on PATH \
                 (Debian/Ubuntu package `redis-server`: apt-get install redis-server)"
            ),
            Err(e) => panic!("could not start redis-server: {e}"),
        };
        let mut server = RedisServer {
            child: Some(child),
            port,
            tls,
            _dir: dir,
        };
        server.wait_ready();
        server
    }

    /// The server's port on 127.0.0.1.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// A `redis://` (or `rediss://`) URL for the server.
    pub(crate) fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Sends one inline command (e.g. `CLIENT PAUSE 3000 WRITE`) and returns the first line of
    /// the reply.
    pub(crate) fn command(&self, inline: &str) -> String {
        let mut stream =
            TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).expect("connect to redis");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream
            .write_all(format!("{inline}\r\n").as_bytes())
            .unwrap();
        let mut reply = [0u8; 512];
        let n = stream.read(&mut reply).expect("a reply from redis");
        String::from_utf8_lossy(&reply[..n])
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    /// Stops (`SIGSTOP`) or resumes (`SIGCONT`) the process: a server that is alive but
    /// answers nothing, as a stalled host would.
    pub(crate) fn freeze(&self, frozen: bool) {
        let Some(child) = self.child.as_ref() else {
            return;
        };
        let signal = if frozen { "-STOP" } else { "-CONT" };
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill {signal} failed");
    }

    /// Kills the server now (SIGKILL), as an outage would.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("redis-server on port {} exited early: {status}", self.port);
                }
            }
            // A TLS port cannot take a plain PING; accepting connections is enough there.
            let ready = if self.tls {
                listening(self.port)
            } else {
                ping(self.port)
            };
            if ready {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        panic!(
            "redis-server on port {} did not answer PING within {START_TIMEOUT:?}",
            self.port
        );
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port that was free a moment ago (the OS picks it; we release it for the server).
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding a probe socket");
    listener.local_addr().expect("probe socket address").port()
}

/// Whether a server on `port` answers `PING` with `+PONG`.
pub(crate) fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(
        &(Ipv4Addr::LOCALHOST, port).into(),
        Duration::from_millis(200),
    ) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 16];
    stream.write_all(b"PING\r\n").is_ok()
        && stream
            .read(&mut buf)
            .map(|n| buf[..n].starts_with(b"+PONG"))
            .unwrap_or(false)
}

/// Whether something accepts TCP connections on `port`.
fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(
        &(Ipv4Addr::LOCALHOST, port).into(),
        Duration::from_millis(200),
    )
    .is_ok()
}
