//! Real Redis topologies on loopback: a Cluster of masters with replicas, and a master with a
//! replica behind three sentinels. Every process is a real `redis-server` on a free 127.0.0.1
//! port, killed when its owner drops; set-up is bounded in time and panics with what it saw.
//!
//! Owns the processes and `redis-cli` calls that shape them; knows nothing about the store.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use super::redis::{free_port, ping, RedisServer};

/// How long a topology may take to form (cluster slots agreed, sentinels seeing the master).
const FORM_TIMEOUT: Duration = Duration::from_secs(30);

/// `redis-cli -p PORT ARGS…`, its standard output (empty when it could not run).
pub(crate) fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "redis-cli is not installed: the topology tests need it on PATH \
             (Debian/Ubuntu package `redis-tools`, installed with `redis-server`)"
        ),
        Err(e) => panic!("could not run redis-cli: {e}"),
    }
}

/// Polls `ready` every 100 ms until it holds or [`FORM_TIMEOUT`] passes (then panics with `what`).
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + FORM_TIMEOUT;
    while Instant::now() < deadline {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} not within {FORM_TIMEOUT:?}");
}

/// A Redis Cluster: `masters` masters, each with `replicas` replicas, all slots assigned.
pub(crate) struct RedisCluster {
    pub(crate) nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts the nodes, joins them with `redis-cli --cluster create` and waits until every
    /// node reports `cluster_state:ok`.
    pub(crate) fn start(masters: usize, replicas: usize) -> RedisCluster {
        let count = masters * (1 + replicas);
        let nodes: Vec<RedisServer> = (0..count)
            .map(|_| {
                RedisServer::start_with(
                    free_port(),
                    &[
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-node-timeout",
                        "1000",
                    ],
                )
            })
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port()))
            .collect();
        let mut args = vec!["--cluster", "create"];
        args.extend(addresses.iter().map(String::as_str));
        let replicas_arg = replicas.to_string();
        args.extend(["--cluster-replicas", &replicas_arg, "--cluster-yes"]);
        let out = cli(nodes[0].port(), &args);
        assert!(
            out.contains("[OK] All 16384 slots covered"),
            "redis-cli --cluster create failed:\n{out}"
        );
        let cluster = RedisCluster { nodes };
        wait_until("every cluster node reporting cluster_state:ok", || {
            cluster
                .nodes
                .iter()
                .all(|n| cli(n.port(), &["CLUSTER", "INFO"]).contains("cluster_state:ok"))
        });
        wait_until("every cluster replica linked to its master", || {
            let replicas: Vec<u16> = cluster
                .nodes
                .iter()
                .map(RedisServer::port)
                .filter(|&p| cli(p, &["ROLE"]).starts_with("slave"))
                .collect();
            replicas.len() == masters * replicas_per(count, masters)
                && replicas
                    .iter()
                    .all(|&p| cli(p, &["INFO", "replication"]).contains("master_link_status:up"))
        });
        cluster
    }

    /// The `redis-cluster://` URL with every node as a seed.
    pub(crate) fn url(&self) -> String {
        let mut ports = self.nodes.iter().map(RedisServer::port);
        let first = ports.next().expect("a cluster has nodes");
        let seeds: Vec<String> = ports.map(|p| format!("node=127.0.0.1:{p}")).collect();
        format!("redis-cluster://127.0.0.1:{first}?{}", seeds.join("&"))
    }
}

/// Replicas per master in a cluster of `count` nodes and `masters` masters.
fn replicas_per(count: usize, masters: usize) -> usize {
    count / masters - 1
}

/// One `redis-server --sentinel` process on a free port, watching `mymaster`.
pub(crate) struct Sentinel {
    child: Option<Child>,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Sentinel {
    fn start(master_port: u16) -> Sentinel {
        let dir = tempfile::tempdir().expect("creating a temp dir for a sentinel");
        let port = free_port();
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {dir}\n\
                 sentinel monitor mymaster 127.0.0.1 {master_port} 2\n\
                 sentinel down-after-milliseconds mymaster 1000\n\
                 sentinel failover-timeout mymaster 5000\n\
                 sentinel parallel-syncs mymaster 1\n",
                dir = dir.path().display()
            ),
        )
        .expect("writing sentinel.conf");
        let child = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting redis-server --sentinel");
        let sentinel = Sentinel {
            child: Some(child),
            port,
            _dir: dir,
        };
        wait_until(&format!("sentinel on port {port} answering PING"), || {
            ping(port)
        });
        sentinel
    }

    /// The sentinel's port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A master, one replica and three sentinels (quorum 2).
pub(crate) struct SentinelGroup {
    pub(crate) master: RedisServer,
    pub(crate) replica: RedisServer,
    pub(crate) sentinels: Vec<Sentinel>,
}

impl SentinelGroup {
    /// Starts the master and its replica, waits for the replica's link, then the sentinels,
    /// and waits until every sentinel knows the master and its replica.
    pub(crate) fn start() -> SentinelGroup {
        let master = RedisServer::start();
        let master_port = master.port().to_string();
        let replica =
            RedisServer::start_with(free_port(), &["--replicaof", "127.0.0.1", &master_port]);
        wait_until("the replica linked to its master", || {
            cli(replica.port(), &["INFO", "replication"]).contains("master_link_status:up")
        });
        let sentinels: Vec<Sentinel> = (0..3).map(|_| Sentinel::start(master.port())).collect();
        wait_until(
            "every sentinel seeing the replica and the other sentinels",
            || {
                sentinels.iter().all(|s| {
                    let info = cli(s.port(), &["SENTINEL", "MASTER", "mymaster"]);
                    let field = |name: &str| {
                        let lines: Vec<&str> = info.lines().map(str::trim).collect();
                        lines
                            .iter()
                            .position(|l| *l == name)
                            .and_then(|i| lines.get(i + 1))
                            .and_then(|v| v.parse::<u32>().ok())
                            .unwrap_or(0)
                    };
                    field("num-slaves") >= 1 && field("num-other-sentinels") >= 2
                })
            },
        );
        SentinelGroup {
            master,
            replica,
            sentinels,
        }
    }

    /// The `redis-sentinel://` URL naming every sentinel and the master `mymaster`.
    pub(crate) fn url(&self) -> String {
        let mut ports = self.sentinels.iter().map(Sentinel::port);
        let first = ports.next().expect("three sentinels");
        let others: String = ports.map(|p| format!("&node=127.0.0.1:{p}")).collect();
        format!("redis-sentinel://127.0.0.1:{first}?sentinelServiceName=mymaster{others}")
    }

    /// The port the sentinels currently name as master.
    pub(crate) fn current_master(&self) -> Option<u16> {
        let out = cli(
            self.sentinels[0].port(),
            &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"],
        );
        out.lines().nth(1)?.trim().parse().ok()
    }
}
