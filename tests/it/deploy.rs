//! The deployment files (`docker-compose.yml`, `deploy/`): their structure, that every `OP_*`
//! name they set is a real setting (a typo would be silently ignored by the bridge), the
//! Kubernetes manifests against the Kubernetes schemas, and that every metric the Grafana
//! dashboard and the alert rules query exists on a running bridge.

use std::{
    collections::BTreeSet,
    io::Write,
    net::{Ipv4Addr, TcpStream},
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use serde::Deserialize;
use serde_yaml::Value;

use crate::{
    helpers::{
        bridge::{Bridge, Options},
        pebble::{free_port, Pebble},
        redis::RedisServer,
    },
    tls::{acme_options, https_client, list_users, wait_https},
};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The settings the bridge reads, as `OP_*` names, from the `KEYS` list in `src/config/raw.rs`
/// (crate-private, so read from the source; the test below checks the parse found them all).
fn known_settings() -> BTreeSet<String> {
    let src = read("src/config/raw.rs");
    let start = src
        .find("const KEYS: &[&str] = &[")
        .expect("KEYS in raw.rs");
    let list = &src[start..start + src[start..].find("];").unwrap()];
    list.split('"')
        .skip(1)
        .step_by(2)
        .map(|k| format!("OP_{}", k.to_ascii_uppercase()))
        .collect()
}

#[test]
fn the_settings_list_is_read_completely() {
    let known = known_settings();
    // First, last and a few between: a broken parse would miss some of them.
    for name in [
        "OP_SESSION",
        "OP_REDIS_URL",
        "OP_TLS_DOMAIN",
        "OP_LETSENCRYPT_EMAIL",
    ] {
        assert!(known.contains(name), "{name} not in {known:?}");
    }
    assert!(known.len() >= 30, "{known:?}");
}

fn assert_known(names: impl IntoIterator<Item = String>, file: &str) -> usize {
    let known = known_settings();
    let mut n = 0;
    for name in names.into_iter().filter(|n| n.starts_with("OP_")) {
        assert!(known.contains(&name), "{file}: {name} is not a setting");
        n += 1;
    }
    n
}

fn str_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

fn env_map(service: &Value) -> Vec<(String, String)> {
    service["environment"]
        .as_mapping()
        .map(|m| m.iter().map(|(k, v)| (str_of(k), str_of(v))).collect())
        .unwrap_or_default()
}

#[test]
fn compose_file_mounts_the_session_for_user_999_and_sets_only_known_settings() {
    let doc: Value = serde_yaml::from_str(&read("docker-compose.yml")).unwrap();
    let services = doc["services"].as_mapping().unwrap();
    let names: BTreeSet<String> = services.keys().map(str_of).collect();
    assert_eq!(
        names,
        ["pebble", "redis", "scim", "scim-acme"]
            .map(String::from)
            .into()
    );
    assert_eq!(doc["secrets"]["scimsession"]["file"], "./scimsession");

    for bridge in ["scim", "scim-acme"] {
        let svc = &doc["services"][bridge];
        let secret = &svc["secrets"][0];
        assert_eq!(secret["source"], "scimsession", "{bridge}");
        assert_eq!(secret["target"], "/home/opuser/.op/scimsession", "{bridge}");
        assert_eq!(str_of(&secret["uid"]), "999", "{bridge}");
        assert_eq!(str_of(&secret["gid"]), "999", "{bridge}");
        let env = env_map(svc);
        assert!(
            env.contains(&("OP_SESSION".into(), "/home/opuser/.op/scimsession".into())),
            "{bridge}: {env:?}"
        );
        assert!(
            env.contains(&("OP_REDIS_URL".into(), "redis://redis:6379".into())),
            "{bridge}: {env:?}"
        );
        assert!(assert_known(env.into_iter().map(|(k, _)| k), bridge) >= 2);
    }
    let ports = |svc: &str| -> Vec<String> {
        doc["services"][svc]["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(str_of)
            .collect()
    };
    assert_eq!(ports("scim"), ["3002:3002"]);
    // Each profile publishes only what it needs: HTTPS for clients, and on loopback only the
    // plain port (probes and /metrics) and pebble's management port (its issuing root).
    assert_eq!(ports("scim-acme"), ["8443:8443", "127.0.0.1:3003:3002"]);
    assert_eq!(ports("pebble"), ["127.0.0.1:15000:15000"]);
    assert!(
        doc["services"]["redis"]["ports"].is_null(),
        "Redis is never published"
    );

    // Redis holds the directory: persistence on every write, never evict.
    let redis_cmd = str_of(&doc["services"]["redis"]["command"]);
    for flag in [
        "--appendonly yes",
        "--appendfsync always",
        "--maxmemory-policy noeviction",
    ] {
        assert!(redis_cmd.contains(flag), "{redis_cmd}");
    }

    // The pebble set is opt-in, and its validation reaches the bridge's HTTPS port under the
    // bridge's domain.
    for svc in ["pebble", "scim-acme"] {
        assert_eq!(doc["services"][svc]["profiles"][0], "pebble", "{svc}");
    }
    for svc in ["scim", "redis"] {
        assert!(doc["services"][svc]["profiles"].is_null(), "{svc}");
    }
    let acme = env_map(&doc["services"]["scim-acme"]);
    let get = |k: &str| acme.iter().find(|(n, _)| n == k).unwrap().1.clone();
    let pebble: serde_json::Value =
        serde_json::from_str(&read("deploy/pebble/pebble-config.json")).unwrap();
    assert_eq!(
        pebble["pebble"]["tlsPort"].to_string(),
        get("OP_HTTPS_PORT")
    );
    assert_eq!(
        doc["services"]["scim-acme"]["networks"]["default"]["aliases"][0],
        Value::String(get("OP_TLS_DOMAIN"))
    );
    assert!(get("OP_ACME_DIRECTORY_URL").starts_with("https://pebble:14000/"));
}

#[test]
fn the_workspace_compose_override_mounts_both_files_where_its_settings_point() {
    let doc: Value = serde_yaml::from_str(&read("docker-compose.workspace.yml")).unwrap();
    let svc = &doc["services"]["scim"];
    let env = env_map(svc);
    assert_eq!(
        assert_known(
            env.iter().map(|(k, _)| k.clone()),
            "docker-compose.workspace.yml"
        ),
        2
    );
    let secrets = svc["secrets"].as_sequence().unwrap();
    for (var, source, file) in [
        (
            "OP_WORKSPACE_CREDENTIALS",
            "workspace-credentials",
            "./workspace-credentials.json",
        ),
        (
            "OP_WORKSPACE_SETTINGS",
            "workspace-settings",
            "./workspace-settings.json",
        ),
    ] {
        let path = &env.iter().find(|(k, _)| k == var).unwrap().1;
        let secret = secrets
            .iter()
            .find(|s| s["source"] == source)
            .unwrap_or_else(|| panic!("no secret {source}"));
        assert_eq!(&str_of(&secret["target"]), path, "{var}");
        assert_eq!(str_of(&secret["uid"]), "999");
        assert_eq!(doc["secrets"][source]["file"], file);
    }
}

#[test]
fn dockerfile_sets_only_known_settings() {
    let text = read("Dockerfile");
    let names = text
        .split(|c: char| c.is_whitespace() || c == '=' || c == '\\')
        .filter(|w| w.starts_with("OP_"))
        .map(String::from);
    assert!(assert_known(names, "Dockerfile") >= 4);
}

/// The image's health check runs `ping` with the binary the image installs (not `--version`,
/// which checks nothing), and gives it more time than its own timeout.
#[test]
fn dockerfile_healthcheck_pings_the_bridge() {
    let text = read("Dockerfile");
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} line in the Dockerfile"))
    };
    let installed = line("COPY --from=build ")
        .split_whitespace()
        .last()
        .unwrap();
    let healthcheck = line("HEALTHCHECK ");
    let (options, command) = healthcheck
        .split_once(" CMD ")
        .expect("HEALTHCHECK ... CMD [...]");
    let command: Vec<String> = serde_json::from_str(command).expect("the exec form");
    assert_eq!(command, [installed, "ping"]);
    let timeout = options
        .split_whitespace()
        .find_map(|o| o.strip_prefix("--timeout="))
        .and_then(|t| t.strip_suffix('s'))
        .and_then(|t| t.parse::<u64>().ok())
        .expect("--timeout=Ns");
    assert!(Duration::from_secs(timeout) > scim_bridge::probe::TIMEOUT);
    let entrypoint: Vec<String> =
        serde_json::from_str(line("ENTRYPOINT ").trim_start_matches("ENTRYPOINT ")).unwrap();
    assert_eq!(entrypoint, [installed]);
}

/// Every document of every `deploy/kubernetes/*.yaml` (not `monitoring/`, which needs a CRD).
fn manifests() -> Vec<(String, Value)> {
    let dir = repo("deploy/kubernetes");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for de in serde_yaml::Deserializer::from_str(&text) {
            let doc = Value::deserialize(de).unwrap();
            let name = format!(
                "{}/{}",
                str_of(&doc["kind"]),
                str_of(&doc["metadata"]["name"])
            );
            docs.push((name, doc));
        }
    }
    docs
}

fn find<'a>(docs: &'a [(String, Value)], name: &str) -> &'a Value {
    &docs
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .1
}

#[test]
fn kubernetes_manifests_pass_the_kubernetes_schemas() {
    let files: Vec<PathBuf> = std::fs::read_dir(repo("deploy/kubernetes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    let out = Command::new("kubernetes-validate")
        .args(["--strict", "--quiet", "--no-warn"])
        .args(&files)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run kubernetes-validate ({e}): install the PyPI package \
                 `kubernetes-validate` (pip install kubernetes-validate; scripts/test does)"
            )
        });
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The manifests deploy unchanged apart from the domain, so they name a published image: the
/// one the release workflow pushes, tagged with this crate's version (a version bump that
/// forgets the manifests fails here).
#[test]
fn kubernetes_runs_the_image_the_release_workflow_publishes_for_this_version() {
    let docs = manifests();
    let deploy = find(&docs, "Deployment/scim-bridge");
    let image = str_of(&deploy["spec"]["template"]["spec"]["containers"][0]["image"]);
    let (name, tag) = image.rsplit_once(':').expect("an image with a tag");
    assert_eq!(tag, env!("CARGO_PKG_VERSION"), "{image}");
    assert!(
        name.contains('/') && name.contains('.'),
        "a registry image, not a local one: {image}"
    );

    let workflow: Value = serde_yaml::from_str(&read(".github/workflows/release.yml")).unwrap();
    let steps = workflow["jobs"]["image"]["steps"].as_sequence().unwrap();
    let push = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("docker/build-push-action"))
        })
        .expect("a build-push step");
    assert_eq!(push["with"]["push"], Value::Bool(true));
    let tags = str_of(&push["with"]["tags"]);
    assert!(
        tags.lines()
            .any(|t| t.trim() == format!("{name}:${{{{ steps.version.outputs.version }}}}")),
        "the workflow does not push {name}:<version>: {tags}"
    );
    // It refuses a tag that is not the crate version, so image tag == Cargo.toml version.
    let check = steps
        .iter()
        .find(|s| s["id"].as_str() == Some("version"))
        .expect("a version step");
    assert!(str_of(&check["run"]).contains("Cargo.toml"));
}

#[test]
fn kubernetes_manifests_wire_secret_store_and_ports_together() {
    let docs = manifests();
    let names: BTreeSet<&str> = docs.iter().map(|(n, _)| n.as_str()).collect();
    for want in [
        "ConfigMap/scim-bridge",
        "Deployment/scim-bridge",
        "Service/scim-bridge",
        "Deployment/redis",
        "Service/redis",
        "PersistentVolumeClaim/redis-data",
        "PodDisruptionBudget/scim-bridge",
    ] {
        assert!(names.contains(want), "{want} missing: {names:?}");
    }

    // Every OP_* name: ConfigMap keys, container env, and the README's `kubectl set env`.
    let config = find(&docs, "ConfigMap/scim-bridge");
    let mut op_names: Vec<String> = config["data"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(str_of)
        .collect();
    let deploy = find(&docs, "Deployment/scim-bridge");
    let pod = &deploy["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let env: Vec<(String, String)> = container["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| (str_of(&e["name"]), str_of(&e["value"])))
        .collect();
    op_names.extend(env.iter().map(|(k, _)| k.clone()));
    let readme = read("deploy/kubernetes/README.md");
    op_names.extend(
        readme
            .split(|c: char| c.is_whitespace() || c == '=' || c == '`')
            .filter(|w| w.starts_with("OP_") && w.len() > 3)
            .map(|w| w.trim_end_matches(['-', ',', '.', ':']).to_owned()),
    );
    assert!(readme.contains("kubectl create secret generic scimsession --from-file=scimsession="));
    assert!(readme.contains("kubectl set env deploy/scim-bridge OP_TLS_DOMAIN="));
    assert!(assert_known(op_names, "deploy/kubernetes") >= 5);

    // The store: the ConfigMap's URL names the Redis Service and its port.
    assert_eq!(config["data"]["OP_REDIS_URL"], "redis://redis:6379");
    let redis_svc = find(&docs, "Service/redis");
    assert_eq!(redis_svc["spec"]["ports"][0]["port"], 6379);
    let redis = &find(&docs, "Deployment/redis")["spec"]["template"]["spec"];
    let args: Vec<String> = redis["containers"][0]["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(str_of)
        .collect();
    let args = args.join(" ");
    for flag in [
        "--appendonly yes",
        "--appendfsync always",
        "--maxmemory-policy noeviction",
    ] {
        assert!(args.contains(flag), "{args}");
    }
    assert_eq!(
        redis["volumes"][0]["persistentVolumeClaim"]["claimName"],
        "redis-data"
    );

    // The session secret lands at the path the image reads, for user 999.
    assert_eq!(pod["securityContext"]["runAsUser"], 999);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let csc = &container["securityContext"];
    assert_eq!(csc["readOnlyRootFilesystem"], true);
    assert_eq!(csc["allowPrivilegeEscalation"], false);
    assert_eq!(csc["capabilities"]["drop"][0], "ALL");
    let mount = container["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "scimsession")
        .unwrap();
    let volume = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "scimsession")
        .unwrap();
    assert_eq!(volume["secret"]["secretName"], "scimsession");
    let session_path = format!("{}/scimsession", str_of(&mount["mountPath"]));
    assert!(
        env.contains(&("OP_SESSION".into(), session_path.clone())),
        "{session_path}"
    );
    assert_eq!(session_path, "/home/opuser/.op/scimsession");

    // 443 outside → the container port the bridge's HTTPS listener uses.
    let lb = find(&docs, "Service/scim-bridge");
    assert_eq!(lb["spec"]["type"], "LoadBalancer");
    // Pods must see client addresses, not nodes', for the per-address limits and allowlist.
    assert_eq!(lb["spec"]["externalTrafficPolicy"], "Local");
    assert!(readme.contains("externalTrafficPolicy: Local"));
    let port = &lb["spec"]["ports"][0];
    assert_eq!(port["port"], 443);
    let target = container["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|p| p["name"] == port["targetPort"])
        .unwrap();
    let https_port = env.iter().find(|(k, _)| k == "OP_HTTPS_PORT").unwrap();
    assert_eq!(str_of(&target["containerPort"]), https_port.1);

    // Probes use the plain-HTTP port, which answers without a token: liveness and startup on
    // /ping (never restart pods for a store outage), readiness on /ready (the store answers).
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/ready");
    for probe in ["startupProbe", "livenessProbe"] {
        assert_eq!(container[probe]["httpGet"]["path"], "/ping", "{probe}");
        assert_eq!(container[probe]["httpGet"]["port"], "http", "{probe}");
    }
    let resources = &container["resources"];
    assert_eq!(resources["requests"]["memory"], "256Mi");
    assert_eq!(resources["limits"]["memory"], "512Mi");
}

/// Metric names (`scim_bridge_…`) in a text.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, _) in text.match_indices("scim_bridge_") {
        let name: String = text[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        names.insert(name);
    }
    names
}

/// Names of the samples in a Prometheus text exposition.
fn exposed(metrics: &str) -> BTreeSet<String> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(String::from)
        .collect()
}

/// A bridge with HTTPS from pebble, after one request, one garbage handshake and one refused
/// session file: every series the dashboard draws exists then.
#[tokio::test(flavor = "multi_thread")]
async fn every_metric_the_dashboard_and_alerts_query_exists_on_a_running_bridge() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&read("deploy/grafana/scim-bridge.json")).unwrap();
    let mut exprs = String::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            exprs.push_str(target["expr"].as_str().unwrap());
            exprs.push('\n');
        }
    }
    let mut wanted = metric_names(&exprs);
    assert!(wanted.len() >= 10, "{wanted:?}");
    wanted.extend(metric_names(&read("deploy/prometheus/scrape.yml")));

    let port = free_port();
    let pebble = Pebble::start(port, None);
    let bridge =
        Bridge::start_with(acme_options(&pebble, port).env("OP_SESSION_RELOAD_INTERVAL", "100ms"));
    let root = pebble.issuing_root().await;
    let https = https_client(port, &root, false);
    wait_https(&https, port, Duration::from_secs(60)).await;
    list_users(&https, port, &bridge.bearer()).await;
    // Not TLS at all: a handshake failure (reason "protocol").
    let mut garbage = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    garbage.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    drop(garbage);
    std::fs::write(&bridge.session, b"{\"format\": \"half-written").unwrap();
    assert!(bridge.wait_for_log("session file change refused", Duration::from_secs(10)));

    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = bridge.metrics().await;
        let have = exposed(&metrics);
        let missing: Vec<_> = wanted.iter().filter(|m| !have.contains(*m)).collect();
        if missing.is_empty() {
            assert!(metrics.contains("scim_bridge_store_up 1"), "{metrics}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "queried but not exposed: {missing:?}\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The store alert relies on `store_up` moving without anyone calling `/health`.
#[tokio::test(flavor = "multi_thread")]
async fn store_up_follows_the_store_at_every_scrape() {
    let mut redis = RedisServer::start();
    let bridge = Bridge::start_with(
        Options::default()
            .env("OP_REDIS_URL", redis.url())
            .env("OP_STORE_TIMEOUT", "1s"),
    );
    // Nobody calls /health here: only the scrape itself can move store_up.
    assert!(bridge.metrics().await.contains("scim_bridge_store_up 1"));
    redis.kill();
    // A healthy check is reused for up to 2 s (so unauthenticated scrapes cannot drive store
    // writes); the outage must show within a few seconds.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = bridge.metrics().await;
        if metrics.contains("scim_bridge_store_up 0") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "store_up never fell: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
