//! A throwaway PostgreSQL cluster for custdb's tests.
//!
//! [`cluster`] starts one cluster per test process, on first use: `initdb`
//! into a temporary directory (as the unprivileged user `nobody` when the
//! tests run as root, since initdb refuses root), then `postgres` on a
//! private port of 127.0.0.1 and a socket in that directory, with fsync off
//! ([`durable_cluster`] starts a second one that waits for the disk, for
//! benchmarks of durable commits).
//! A small watcher process stops the cluster and removes the directory when
//! the test process exits, however it exits.
//!
//! Each test takes a fresh database copied from a template
//! ([`Cluster::database`]): `CREATE DATABASE ... TEMPLATE`, so tests stay
//! independent and parallel.
//!
//! Where PostgreSQL's server binaries are missing, [`cluster`] says so
//! loudly on stderr and returns `None` (the caller skips); with `CI=true`
//! in the environment it panics instead, so CI never passes by skipping.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// A running cluster.
#[derive(Debug)]
pub struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// Serialises `CREATE DATABASE` from one template.
    create: Mutex<()>,
    templates: Mutex<Vec<String>>,
    /// The hot standby, made on first use ([`Cluster::standby`]).
    standby: OnceLock<Standby>,
    as_root: bool,
}

/// A hot standby of the cluster: a second server made with
/// `pg_basebackup`, following the primary by streaming replication, open
/// for reads. It serves every database of the primary.
#[derive(Debug)]
pub struct Standby {
    dir: PathBuf,
    port: u16,
}

static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(1);

/// The process's cluster, started on first use; `None` (after a loud
/// message) where PostgreSQL is not installed and `CI` is not `true`.
///
/// # Panics
///
/// When the cluster cannot be started, or PostgreSQL is missing under
/// `CI=true`.
pub fn cluster() -> Option<&'static Cluster> {
    CLUSTER.get_or_init(|| start(false)).as_ref()
}

static DURABLE_CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();

/// A second cluster, started on first use, that waits for the disk as a
/// production server does (`fsync`, `synchronous_commit` and
/// `full_page_writes` at their defaults): for benchmarks of durable
/// commits. `None` as for [`cluster`].
///
/// # Panics
///
/// As [`cluster`].
pub fn durable_cluster() -> Option<&'static Cluster> {
    DURABLE_CLUSTER.get_or_init(|| start(true)).as_ref()
}

/// Where the server binaries are: `CUSTDB_PG_BIN`, `PATH`, or Debian's
/// `/usr/lib/postgresql/<version>/bin` (newest first).
fn find_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CUSTDB_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                return Some(dir);
            }
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

fn start(durable: bool) -> Option<Cluster> {
    let Some(bin) = find_bin() else {
        let message = "PostgreSQL's server binaries (initdb, pg_ctl) were not found: the \
                       PostgreSQL half of the tests is SKIPPED. Install them (Debian: \
                       apt-get install postgresql) or set CUSTDB_PG_BIN.";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{message} CI=true makes this a failure.");
        }
        eprintln!("\n*** {message} ***\n");
        return None;
    };
    let as_root = is_root();
    sweep_stale(as_root, &bin);
    let dir = std::env::temp_dir().join(format!(
        "custdb-pg-{}-{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("cluster directory");
    if as_root {
        // initdb refuses root; `nobody` owns the cluster instead.
        run(Command::new("chown").arg("nobody:").arg(&dir));
    }
    let data = dir.join("data");
    let mut initdb = user_command(as_root, &bin.join("initdb"));
    initdb.arg("-D").arg(&data).args([
        "-A",
        "trust",
        "-U",
        "postgres",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
        "--no-sync",
    ]);
    run(&mut initdb);
    let tls = make_certificates(&dir.join("tls"), as_root);
    let port = free_port();
    let speed = if durable {
        ""
    } else {
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    };
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 {speed}\
         -c max_connections=300 -c shared_buffers=64MB \
         -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
        dir.display(),
        tls.join("server.pem").display(),
        tls.join("server.key").display(),
    );
    let mut pg_ctl = user_command(as_root, &bin.join("pg_ctl"));
    pg_ctl
        .arg("-D")
        .arg(&data)
        .arg("-o")
        .arg(&options)
        .arg("-l")
        .arg(dir.join("log"))
        .args(["-w", "-t", "60", "start"]);
    run(&mut pg_ctl);
    watch(as_root, &bin, &dir);
    Some(Cluster {
        bin,
        dir,
        port,
        create: Mutex::new(()),
        templates: Mutex::new(Vec::new()),
        standby: OnceLock::new(),
        as_root,
    })
}

/// Makes, in `tls`, a certificate authority (`ca.pem`), a server
/// certificate it signed for 127.0.0.1 and localhost (`server.pem`,
/// `server.key`, readable by the server's user only) and a second,
/// unrelated authority (`other-ca.pem`) for tests that must be refused.
/// Returns `tls`.
fn make_certificates(tls: &Path, as_root: bool) -> PathBuf {
    std::fs::create_dir_all(tls).expect("tls directory");
    let openssl = |args: &[&str]| {
        run(Command::new("openssl").current_dir(tls).args(args));
    };
    for ca in ["ca", "other-ca"] {
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=custdb test {ca}"),
            "-keyout",
            &format!("{ca}.key"),
            "-out",
            &format!("{ca}.pem"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
    }
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(
        tls.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         extendedKeyUsage=serverAuth\n",
    )
    .expect("server.ext");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    ]);
    // The server refuses a key that others can read.
    run(Command::new("chmod").arg("600").arg(tls.join("server.key")));
    if as_root {
        run(Command::new("chown").arg("-R").arg("nobody:").arg(tls));
    }
    tls.to_path_buf()
}

/// Stops and removes the clusters of test processes that are gone.
///
/// The watcher ([`watch`]) normally does this, but a CI runner or a
/// terminal that kills the whole process group kills the watcher too, and
/// each cluster left behind holds gigabytes (one database per test): a few
/// of them filled the disk under a later run. The process id is in the
/// directory's name (`custdb-pg-<pid>-<n>`); a directory whose process is
/// alive is left alone.
fn sweep_stale(as_root: bool, bin: &Path) {
    // Without /proc every process would look gone.
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("custdb-pg-")) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let dir = entry.path();
        for server in ["standby", "data"] {
            if dir.join(server).join("postmaster.pid").exists() {
                let _ = user_command(as_root, &bin.join("pg_ctl"))
                    .arg("-D")
                    .arg(dir.join(server))
                    .args(["-m", "immediate", "stop"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Stops the cluster and removes its directory once this process is gone.
fn watch(as_root: bool, bin: &Path, dir: &Path) {
    // The standby first, when one was made (its data is in the directory).
    let stop = format!(
        "{pg_ctl} -D {standby} -m immediate stop; {pg_ctl} -D {data} -m immediate stop",
        pg_ctl = bin.join("pg_ctl").display(),
        standby = dir.join("standby").display(),
        data = dir.join("data").display()
    );
    let stop = if as_root {
        format!("runuser -u nobody -- sh -c '{stop}'")
    } else {
        stop
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        dir = dir.display()
    );
    // Never waited for: it outlives this process on purpose, and init
    // reaps it.
    #[allow(clippy::zombie_processes)]
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the cluster's watcher");
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn user_command(as_root: bool, program: &Path) -> Command {
    if as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "nobody", "--"]).arg(program);
        // runuser keeps the working directory, which nobody may not enter.
        c.current_dir("/");
        c
    } else {
        Command::new(program)
    }
}

fn run(command: &mut Command) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Cluster {
    /// The cluster's hot standby, made on first use: `pg_basebackup` of
    /// the running cluster (with the replication settings it writes, `-R`)
    /// into `standby/` of the cluster's directory, started on a port of
    /// its own with the same socket directory; stopped with the cluster.
    ///
    /// # Panics
    ///
    /// When the standby cannot be made or started.
    pub fn standby(&self) -> &Standby {
        self.standby.get_or_init(|| {
            let data = self.dir.join("standby");
            let mut backup = user_command(self.as_root, &self.tool("pg_basebackup"));
            backup
                .arg("-h")
                .arg(&self.dir)
                .arg("-p")
                .arg(self.port.to_string())
                .args(["-U", "postgres", "-D"])
                .arg(&data)
                .args(["-R", "-X", "stream", "-c", "fast", "--no-sync"]);
            run(&mut backup);
            let port = free_port();
            // A hot standby needs at least the primary's max_connections.
            let options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
                 -c full_page_writes=off -c max_connections=300 -c shared_buffers=64MB \
                 -c hot_standby=on -c ssl=off",
                self.dir.display(),
            );
            let mut pg_ctl = user_command(self.as_root, &self.bin.join("pg_ctl"));
            pg_ctl
                .arg("-D")
                .arg(&data)
                .arg("-o")
                .arg(&options)
                .arg("-l")
                .arg(self.dir.join("standby.log"))
                .args(["-w", "-t", "60", "start"]);
            run(&mut pg_ctl);
            Standby {
                dir: self.dir.clone(),
                port,
            }
        })
    }

    /// A PostgreSQL program: beside the server binaries, in Debian's
    /// versioned directory, or on `PATH`.
    fn tool(&self, name: &str) -> PathBuf {
        let beside = self.bin.join(name);
        if beside.is_file() {
            return beside;
        }
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .map(|dir| {
                dir.filter_map(|e| e.ok().map(|e| e.path().join("bin").join(name)))
                    .filter(|p| p.is_file())
                    .collect()
            })
            .unwrap_or_default();
        versions.sort();
        versions.pop().unwrap_or_else(|| PathBuf::from(name))
    }

    /// A connection string for `database` as the superuser `postgres`,
    /// through the cluster's socket.
    pub fn connection(&self, database: &str) -> String {
        format!(
            "host={} port={} user=postgres dbname={database}",
            self.dir.display(),
            self.port
        )
    }

    /// A connection string over TCP on 127.0.0.1.
    pub fn tcp_connection(&self, database: &str, user: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={user} dbname={database}",
            self.port
        )
    }

    /// The certificate authority that signed the server's certificate
    /// (for 127.0.0.1 and localhost), as a PEM file.
    pub fn tls_root_certificate(&self) -> PathBuf {
        self.dir.join("tls").join("ca.pem")
    }

    /// An authority that signed nothing the server presents.
    pub fn untrusted_root_certificate(&self) -> PathBuf {
        self.dir.join("tls").join("other-ca.pem")
    }

    /// The port the cluster listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's directory (its socket, data and log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs SQL through `psql` as the superuser, panicking on any error;
    /// returns what it printed (unaligned, tuples only).
    pub fn psql(&self, database: &str, sql: &str) -> String {
        self.psql_as("postgres", database, sql)
            .unwrap_or_else(|e| panic!("psql failed on {sql:?}: {e}"))
    }

    /// Runs SQL through `psql` as `user` (the cluster trusts local
    /// logins); returns what it printed, or what it said on stderr when
    /// the SQL failed.
    pub fn psql_as(&self, user: &str, database: &str, sql: &str) -> Result<String, String> {
        self.psql_at(self.port, user, database, sql)
    }

    /// `psql` as the superuser on the server at `port` (the standby's),
    /// panicking on any error.
    fn psql_on(&self, port: u16, database: &str, sql: &str) -> String {
        self.psql_at(port, "postgres", database, sql)
            .unwrap_or_else(|e| panic!("psql failed on {sql:?}: {e}"))
    }

    /// [`psql_as`](Cluster::psql_as) on the server at `port`, through the
    /// cluster's socket directory.
    fn psql_at(&self, port: u16, user: &str, database: &str, sql: &str) -> Result<String, String> {
        let psql = ["psql", "/usr/bin/psql"]
            .into_iter()
            .map(|p| self.bin.join(p))
            .find(|p| p.is_file())
            .unwrap_or_else(|| PathBuf::from("psql"));
        let out = Command::new(psql)
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .arg("-h")
            .arg(&self.dir)
            .arg("-p")
            .arg(port.to_string())
            .args(["-U", user, "-d", database, "-c", sql])
            .output()
            .expect("run psql");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// A connection string for `database` as `user`, through the socket.
    pub fn connection_as(&self, database: &str, user: &str) -> String {
        format!(
            "host={} port={} user={user} dbname={database}",
            self.dir.display(),
            self.port
        )
    }

    /// A new, empty database; returns its name.
    pub fn empty_database(&self) -> String {
        let name = format!("t{}", NEXT_DB.fetch_add(1, Ordering::SeqCst));
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        name
    }

    /// A new database copied from the template `template`, which `make`
    /// prepares once (given its connection string) the first time that
    /// template is asked for. Returns the new database's name.
    pub fn database(&self, template: &str, make: impl FnOnce(&str)) -> String {
        let _guard = self.create.lock().unwrap_or_else(|p| p.into_inner());
        {
            let mut templates = self.templates.lock().unwrap_or_else(|p| p.into_inner());
            if !templates.iter().any(|t| t == template) {
                self.psql("postgres", &format!("CREATE DATABASE {template}"));
                make(&self.connection(template));
                templates.push(template.to_owned());
            }
        }
        let name = format!("t{}", NEXT_DB.fetch_add(1, Ordering::SeqCst));
        self.psql(
            "postgres",
            &format!("CREATE DATABASE {name} TEMPLATE {template}"),
        );
        name
    }
}

impl Standby {
    /// A connection string for `database` on the standby, as the
    /// superuser `postgres`, through the socket.
    pub fn connection(&self, database: &str) -> String {
        format!(
            "host={} port={} user=postgres dbname={database}",
            self.dir.display(),
            self.port
        )
    }

    /// Waits (up to a minute) until the standby has replayed everything
    /// the primary had written when this was called, so a test can read
    /// there what it wrote on the primary. (The insert position, not the
    /// write position: the cluster commits asynchronously, so a commit
    /// that returned may not be written out yet.)
    ///
    /// # Panics
    ///
    /// When the standby falls a minute behind.
    pub fn catch_up(&self, primary: &Cluster) {
        let lsn = primary.psql("postgres", "SELECT pg_current_wal_insert_lsn()");
        let lsn = lsn.trim();
        let started = std::time::Instant::now();
        loop {
            let caught = primary.psql_on(
                self.port,
                "postgres",
                &format!("SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn"),
            );
            if caught.trim() == "t" {
                return;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "the standby is a minute behind {lsn}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Runs SQL on the standby through `psql` as the superuser; what it
    /// printed, or what it said when the SQL failed.
    pub fn psql(&self, primary: &Cluster, database: &str, sql: &str) -> Result<String, String> {
        primary.psql_at(self.port, "postgres", database, sql)
    }
}
