//! The loopback stand-in of Google's token endpoint and Directory API
//! (`tests/support/google_directory.py`, PyJWT verifying the assertions), and the two files
//! the bridge reads to reach it.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use serde_json::{json, Value};

use super::bridge::{client, Options};

/// The service account the stand-in knows.
pub const CLIENT_EMAIL: &str = "scim-sync@bridge-test.iam.gserviceaccount.com";
/// The administrator it may act as.
pub const ADMIN: &str = "admin@example.com";
/// The key whose public half the stand-in holds.
pub const KEY: &str = include_str!("../../fixtures/workspace/test-key.pem");
/// A key it does not know (a wrong or rotated key).
pub const OTHER_KEY: &str = include_str!("../../fixtures/workspace/other-key.pem");

/// A running stand-in, killed on drop.
pub struct Google {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Google {
    /// Starts it on a free loopback port.
    pub fn start() -> Google {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new("python3")
            .arg(root.join("tests/support/google_directory.py"))
            .args([
                "--port",
                "0",
                "--client-email",
                CLIENT_EMAIL,
                "--admin",
                ADMIN,
            ])
            .arg("--public-key")
            .arg(root.join("tests/fixtures/workspace/test-key.pub.pem"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the Google stand-in");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("its stdout"))
            .read_line(&mut line)
            .expect("the stand-in's first line");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("the Google stand-in did not start (pip install 'pyjwt[crypto]'; scripts/test does): {line:?}"))
            .to_owned();
        Google { child, base }
    }

    /// One of the stand-in's levers (`directory`, `generate`, `fail`, `expire-tokens`, …).
    pub async fn control(&self, what: &str, body: Value) {
        let res = client()
            .post(format!("{}/_control/{what}", self.base))
            .json(&body)
            .send()
            .await
            .expect("the stand-in answers");
        assert!(
            res.status().is_success(),
            "control {what}: {}",
            res.status()
        );
    }

    /// Its counts of calls (`token_granted`, `users_page`, `injected_403`, …).
    pub async fn stats(&self) -> Value {
        client()
            .get(format!("{}/_control/stats", self.base))
            .send()
            .await
            .expect("the stand-in answers")
            .json()
            .await
            .expect("stats are JSON")
    }

    /// Writes `workspace-credentials.json` (Google's key format, signed with `key`) and
    /// `workspace-settings.json` into `dir`; returns the bridge's options to use them, syncing
    /// every second with short retry pauses.
    pub fn options(&self, dir: &Path, key: &str) -> Options {
        let credentials = dir.join("workspace-credentials.json");
        write_key(&credentials, key, &format!("{}/token", self.base));
        let settings = dir.join("workspace-settings.json");
        std::fs::write(
            &settings,
            json!({"actor": ADMIN, "bridgeAddress": "https://scim.example.com"}).to_string(),
        )
        .expect("write the settings file");
        Options::default()
            .env(
                "OP_WORKSPACE_CREDENTIALS",
                credentials.display().to_string(),
            )
            .env("OP_WORKSPACE_SETTINGS", settings.display().to_string())
            .env("OP_WORKSPACE_API_URL", &self.base)
            .env("OP_WORKSPACE_SYNC_INTERVAL", "1s")
            .env("OP_WORKSPACE_BACKOFF", "50ms")
    }
}

/// A key file as Google's console downloads it.
pub fn write_key(path: &PathBuf, key: &str, token_uri: &str) {
    let file = json!({
        "type": "service_account",
        "project_id": "bridge-test",
        "private_key_id": "0123456789abcdef",
        "private_key": key,
        "client_email": CLIENT_EMAIL,
        "client_id": "109876543210987654321",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "universe_domain": "googleapis.com",
    });
    std::fs::write(path, file.to_string()).expect("write the key file");
}

impl Drop for Google {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
