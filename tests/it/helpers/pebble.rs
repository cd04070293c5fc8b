//! A throw-away ACME CA per test: `pebble` plus `pebble-challtestsrv` as its fake DNS, both on
//! free loopback ports, killed on drop. Pebble's own HTTPS identity (a CA and a `localhost`
//! certificate) is generated with rcgen at every start; nothing is committed.
//!
//! Pebble's VA dials `<A record>:tlsPort` for TLS-ALPN-01: the DNS answers 127.0.0.1 for every
//! name and `tlsPort` is the bridge's HTTPS port. HTTP-01 points at an unused port, so only
//! TLS-ALPN-01 can succeed.

use std::{
    io::{BufRead, BufReader},
    net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};

/// A free loopback port for both TCP and UDP (the fake DNS listens on both).
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding a probe socket");
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port for TCP and UDP");
}

/// A running pebble + challtestsrv pair.
pub struct Pebble {
    children: Vec<Child>,
    /// The ACME directory URL.
    pub directory_url: String,
    /// A PEM bundle for `OP_ACME_CA_ROOTS`: an unrelated decoy CA first, then the CA of
    /// pebble's own HTTPS API, so a client reading only the first certificate would fail.
    pub api_ca: PathBuf,
    api_ca_pem: String,
    management: u16,
    logs: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

fn which(binary: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let p = PathBuf::from(dir).join(binary);
        if p.exists() {
            return p;
        }
    }
    panic!("`{binary}` is not installed: install the Debian package `pebble` (apt-get install -y pebble)");
}

fn api_identity(dir: &std::path::Path) -> (PathBuf, PathBuf, PathBuf, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(DnType::CommonName, "pebble-test-https-ca");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    leaf.subject_alt_names
        .push(SanType::IpAddress(Ipv4Addr::LOCALHOST.into()));
    let leaf = leaf.signed_by(&key, &issuer).unwrap();
    let (ca_path, cert_path, key_path) = (
        dir.join("api-ca.pem"),
        dir.join("api.pem"),
        dir.join("api.key"),
    );
    let decoy_key = KeyPair::generate().unwrap();
    let mut decoy = CertificateParams::new(Vec::<String>::new()).unwrap();
    decoy
        .distinguished_name
        .push(DnType::CommonName, "decoy CA");
    decoy.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let decoy = decoy.self_signed(&decoy_key).unwrap();
    std::fs::write(&ca_path, format!("{}{}", decoy.pem(), ca_cert.pem())).unwrap();
    std::fs::write(&cert_path, leaf.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (ca_path, cert_path, key_path, ca_cert.pem())
}

fn pump(
    stream: impl std::io::Read + Send + 'static,
    sink: Arc<Mutex<Vec<String>>>,
    tag: &'static str,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if std::env::var_os("TEST_LOG").is_some() {
                eprintln!("[{tag}] {line}");
            }
            sink.lock().unwrap().push(line);
        }
    });
}

fn wait_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {port} within 15 s"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

impl Pebble {
    /// Starts the pair; pebble validates TLS-ALPN-01 on `tls_port`. `validity` sets the
    /// lifetime of issued certificates (pebble's default is five years).
    pub fn start(tls_port: u16, validity: Option<Duration>) -> Pebble {
        Self::start_with(tls_port, validity, None)
    }

    /// Like [`Pebble::start`]; with `eab` = (key id, base64url HMAC key), External Account
    /// Binding is required and that key is the only one accepted.
    pub fn start_with(
        tls_port: u16,
        validity: Option<Duration>,
        eab: Option<(&str, &str)>,
    ) -> Pebble {
        let (pebble, challtestsrv) = (which("pebble"), which("pebble-challtestsrv"));
        let dir = tempfile::tempdir().unwrap();
        let (api_ca, cert, key, api_ca_pem) = api_identity(dir.path());
        let (listen, management, dns, dns_mgmt, http) = (
            free_port(),
            free_port(),
            free_port(),
            free_port(),
            free_port(),
        );
        let mut config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{listen}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": cert, "privateKey": key,
            "httpPort": http, "tlsPort": tls_port,
            "ocspResponderURL": "", "externalAccountBindingRequired": false,
        }});
        if let Some((kid, key)) = eab {
            config["pebble"]["externalAccountBindingRequired"] = true.into();
            config["pebble"]["externalAccountMACKeys"] = serde_json::json!({ kid: key });
        }
        if let Some(v) = validity {
            config["pebble"]["certificateValidityPeriod"] = v.as_secs().into();
        }
        let config_path = dir.path().join("pebble.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let mut dns_server = Command::new(challtestsrv)
            .args([
                "-dns01",
                &format!("127.0.0.1:{dns}"),
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
            ])
            .args([
                "-management",
                &format!("127.0.0.1:{dns_mgmt}"),
                "-defaultIPv4",
                "127.0.0.1",
                "-defaultIPv6",
                "",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pebble-challtestsrv (Debian package `pebble`)");
        pump(
            dns_server.stdout.take().unwrap(),
            Arc::clone(&logs),
            "challtestsrv",
        );
        pump(
            dns_server.stderr.take().unwrap(),
            Arc::clone(&logs),
            "challtestsrv",
        );
        let mut ca = Command::new(pebble)
            .arg("-config")
            .arg(&config_path)
            .args(["-dnsserver", &format!("127.0.0.1:{dns}"), "-strict=false"])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pebble (Debian package `pebble`)");
        pump(ca.stdout.take().unwrap(), Arc::clone(&logs), "pebble");
        pump(ca.stderr.take().unwrap(), Arc::clone(&logs), "pebble");
        let me = Pebble {
            children: vec![ca, dns_server],
            directory_url: format!("https://127.0.0.1:{listen}/dir"),
            api_ca,
            api_ca_pem,
            management,
            logs,
            _dir: dir,
        };
        wait_port(dns_mgmt, "pebble-challtestsrv");
        wait_port(listen, "pebble");
        wait_port(management, "pebble management");
        me
    }

    /// The number of orders pebble has accepted (its `Added order` log lines).
    pub fn orders(&self) -> usize {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("Added order"))
            .count()
    }

    /// Pebble's log so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// The root that issues the certificates (new at every pebble start).
    pub async fn issuing_root(&self) -> String {
        let client = reqwest::Client::builder()
            .no_proxy()
            .tls_built_in_root_certs(false)
            .add_root_certificate(
                reqwest::Certificate::from_pem(self.api_ca_pem.as_bytes()).unwrap(),
            )
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let res = client
            .get(format!("https://127.0.0.1:{}/roots/0", self.management))
            .send()
            .await
            .expect("fetching pebble's issuing root");
        assert!(res.status().is_success());
        res.text().await.unwrap()
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
