//! The one test harness: a real `redis-server` with the built module loaded,
//! on a free loopback port, and a small binary-safe RESP2/RESP3 client.
//!
//! A server that died during a test (a panic in the module aborts Redis)
//! fails the test when the `Server` is dropped, with the tail of its log.
//! Nothing here waits without a bound: servers must answer PING within
//! `startup_limit()`, replies come within 30 s, and external tools
//! (`redis-cli --cluster ...`) run under a deadline and are killed past it.
//!
//! Which server: `MTOKEN_SERVER` (default `redis-server` on PATH) and
//! `MTOKEN_CLI` (default `redis-cli`), e.g. a `valkey-server` and a
//! `valkey-cli` (`scripts/test-servers.sh` sets both).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The server binary the tests start: `MTOKEN_SERVER`, else `redis-server`.
pub fn server_bin() -> String {
    std::env::var("MTOKEN_SERVER")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "redis-server".into())
}

/// The command-line client the tests run: `MTOKEN_CLI`, else `redis-cli`.
pub fn cli_bin() -> String {
    std::env::var("MTOKEN_CLI")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "redis-cli".into())
}

/// The module built by `cargo build` / `cargo test` in this target dir.
pub fn module_path() -> PathBuf {
    if let Ok(p) = std::env::var("MTOKEN_MODULE") {
        return PathBuf::from(p);
    }
    // Tests run from <target>/<profile>/deps/, where `cargo test` also
    // leaves the freshly built cdylib.
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps dir");
    for so in [deps.join("libmtoken.so"), deps.join("../libmtoken.so")] {
        if so.exists() {
            return so;
        }
    }
    panic!(
        "module not built next to {} (run `cargo build`)",
        deps.display()
    )
}

/// How long a server may take to start (longer under a wrapper such as valgrind).
fn startup_limit() -> Duration {
    if std::env::var("MTOKEN_REDIS_WRAPPER").is_ok_and(|w| !w.trim().is_empty()) {
        Duration::from_secs(120)
    } else {
        Duration::from_secs(10)
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

pub struct Server {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
    module_args: Vec<String>,
    redis_args: Vec<String>,
    /// Load the module (false: a plain server on the same dir).
    module: bool,
}

/// A fresh, empty scratch directory under the system temp dir, unique to
/// this process and call (pid + counter; `create_dir` refuses an existing
/// one, so two servers never share or delete each other's dir).
pub fn scratch_dir(tag: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    loop {
        let dir = std::env::temp_dir().join(format!(
            "mtoken-test-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        match std::fs::create_dir(&dir) {
            Ok(()) => return dir,
            // Left over by an earlier process with the same pid: skip it.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("scratch dir {}: {e}", dir.display()),
        }
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl Server {
    /// A server with the module and default configs.
    pub fn start() -> Server {
        Server::with(&[], &[])
    }

    /// `module_args` go after `--loadmodule <so>`; `redis_args` are extra
    /// server options such as `["--appendonly", "yes"]`.
    pub fn with(module_args: &[&str], redis_args: &[&str]) -> Server {
        let dir = scratch_dir("srv");
        let mut s = Server {
            port: 0,
            dir,
            child: None,
            module_args: module_args.iter().map(|s| s.to_string()).collect(),
            redis_args: redis_args.iter().map(|s| s.to_string()).collect(),
            module: true,
        };
        s.launch()
            .unwrap_or_else(|log| panic!("the server did not start:\n{log}"));
        s
    }

    /// Try to start a server; `Err(log)` when it refuses (e.g. a bad config).
    pub fn try_with(module_args: &[&str], redis_args: &[&str]) -> Result<Server, String> {
        let mut s = Server {
            port: 0,
            dir: scratch_dir("try"),
            child: None,
            module_args: module_args.iter().map(|s| s.to_string()).collect(),
            redis_args: redis_args.iter().map(|s| s.to_string()).collect(),
            module: true,
        };
        s.launch().map(|()| s)
    }

    /// Start the server on a free port. A port taken between `free_port()`
    /// and the server's bind (another test's server) is retried on a new
    /// port; the server that answers must be our child (its `process_id`).
    fn launch(&mut self) -> Result<(), String> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.launch_once() {
                Err(log) if attempts < 5 && log.contains("Address already in use") => continue,
                other => return other,
            }
        }
    }

    fn launch_once(&mut self) -> Result<(), String> {
        let port = free_port();
        let log = self.dir.join("redis.log");
        // Lossy: a server may log a key name's raw bytes.
        let read_log =
            || String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).into_owned();
        let server = server_bin();
        // MTOKEN_REDIS_WRAPPER runs the server under a tool, e.g.
        // "valgrind --leak-check=full --log-file=/tmp/vg.%p" (scripts/leak-check.sh).
        let wrapper = std::env::var("MTOKEN_REDIS_WRAPPER").unwrap_or_default();
        let mut words = wrapper.split_whitespace();
        let mut cmd = match words.next() {
            Some(tool) => {
                let mut c = Command::new(tool);
                c.args(words).arg(&server);
                c
            }
            None => Command::new(&server),
        };
        cmd.arg("--port")
            .arg(port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            // DEBUG DIGEST is how tests see that an error changed nothing.
            .args(["--enable-debug-command", "yes"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(&log)
            .args(&self.redis_args);
        if self.module {
            cmd.arg("--loadmodule")
                .arg(module_path())
                .args(&self.module_args);
        }
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = cmd.spawn().map_err(|e| format!("spawn {server}: {e}"))?;
        let pid = format!("process_id:{}", child.id());
        let deadline = Instant::now() + startup_limit();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("{server} exited ({status}):\n{}", read_log()));
            }
            // Up: our process answers, and has loaded its AOF/RDB (until
            // then, most commands answer LOADING while INFO and PING work).
            if let Ok(mut c) = Conn::try_open(port) {
                let mut info = |section: &[u8]| match c.try_cmd(&[&b"INFO"[..], section]) {
                    Ok(Reply::Bulk(text)) => String::from_utf8_lossy(&text).into_owned(),
                    _ => String::new(),
                };
                if info(b"server").lines().any(|l| l == pid)
                    && info(b"persistence").lines().any(|l| l == "loading:0")
                {
                    break;
                }
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{server} timed out\n{}", read_log()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.port = port;
        self.child = Some(child);
        Ok(())
    }

    pub fn conn(&self) -> Conn {
        Conn::open(self.port)
    }

    pub fn log(&self) -> String {
        // Lossy: a server may log a key name's raw bytes.
        String::from_utf8_lossy(&std::fs::read(self.dir.join("redis.log")).unwrap_or_default())
            .into_owned()
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Stop the server (SHUTDOWN with the given mode, e.g. "NOSAVE"/"SAVE")
    /// and start it again on the same dir and args.
    pub fn restart(&mut self, shutdown: &str) {
        self.stop(shutdown);
        self.launch()
            .unwrap_or_else(|log| panic!("restart failed:\n{log}"));
    }

    /// Stop the server and start a plain one (no module) on the same dir
    /// and server args; `Err(log)` when it refuses to start.
    pub fn restart_without_module(&mut self, shutdown: &str) -> Result<(), String> {
        self.stop(shutdown);
        self.module = false;
        self.launch()
    }

    pub fn stop(&mut self, shutdown: &str) {
        if let Some(mut child) = self.child.take() {
            if let Ok(mut c) = Conn::try_open(self.port) {
                let _ = c.try_cmd(&[b"SHUTDOWN", shutdown.as_bytes()]);
            }
            let deadline = Instant::now() + startup_limit();
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let crashed = matches!(child.try_wait(), Ok(Some(_)));
            if !crashed && std::env::var("MTOKEN_REDIS_WRAPPER").is_ok() {
                // Let a wrapper such as valgrind see a clean exit and report.
                self.child = Some(child);
                self.stop("NOSAVE");
                return self.cleanup();
            }
            let _ = child.kill();
            let status = child.wait();
            if crashed {
                let msg = format!(
                    "the server on port {} died during the test ({}); its log ends:\n{}",
                    self.port,
                    status.map_or_else(|e| e.to_string(), |s| s.to_string()),
                    tail(&self.log(), 40)
                );
                self.cleanup();
                if std::thread::panicking() {
                    // The test already failed (often on the lost connection):
                    // its captured output shows why the server went away.
                    eprintln!("{msg}");
                    return;
                }
                panic!("{msg}");
            }
        }
        self.cleanup();
    }
}

impl Server {
    fn cleanup(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A RESP reply, RESP3 types included.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<Reply>),
    Map(Vec<(Reply, Reply)>),
    Set(Vec<Reply>),
    Double(String),
    Bool(bool),
    Push(Vec<Reply>),
}

impl Reply {
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Reply::Bulk(b) => b.clone(),
            Reply::Simple(s) => s.clone().into_bytes(),
            other => panic!("expected a string reply, got {other:?}"),
        }
    }
    pub fn text(&self) -> String {
        String::from_utf8(self.bytes()).expect("utf-8 reply")
    }
    pub fn int(&self) -> i64 {
        match self {
            Reply::Int(n) => *n,
            other => panic!("expected an integer reply, got {other:?}"),
        }
    }
    pub fn array(&self) -> Vec<Reply> {
        match self {
            Reply::Array(a) | Reply::Set(a) | Reply::Push(a) => a.clone(),
            other => panic!("expected an array reply, got {other:?}"),
        }
    }
    pub fn is_nil(&self) -> bool {
        matches!(self, Reply::Nil)
    }
    pub fn error(&self) -> String {
        match self {
            Reply::Error(e) => e.clone(),
            other => panic!("expected an error reply, got {other:?}"),
        }
    }
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    pub fn open(port: u16) -> Conn {
        Conn::try_open(port).expect("connect to redis")
    }

    pub fn try_open(port: u16) -> std::io::Result<Conn> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        s.set_nodelay(true)?;
        Ok(Conn {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
        })
    }

    /// Send a command (binary-safe) and read its reply.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        self.try_cmd(args).expect("redis connection")
    }

    /// Shorthand for whitespace-separated text arguments.
    pub fn q(&mut self, line: &str) -> Reply {
        let args: Vec<&str> = line.split_whitespace().collect();
        self.cmd(&args)
    }

    pub fn try_cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> std::io::Result<Reply> {
        self.send(args)?;
        self.read_reply()
    }

    /// The next reply or pushed message within `limit` (pub/sub); `None`
    /// when nothing came. The usual 30 s read timeout applies afterwards.
    pub fn next_within(&mut self, limit: Duration) -> Option<Reply> {
        // The reader and the writer share one socket, and so its timeout.
        self.writer.set_read_timeout(Some(limit)).ok()?;
        let r = self.read_reply().ok();
        let _ = self.writer.set_read_timeout(Some(Duration::from_secs(30)));
        r
    }

    /// Write a command without reading its reply (pipelining, MONITOR).
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> std::io::Result<()> {
        self.writer.write_all(&resp(args))
    }

    fn line(&mut self) -> std::io::Result<String> {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line)?;
        if line.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "closed",
            ));
        }
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    pub fn read_reply(&mut self) -> std::io::Result<Reply> {
        let line = self.line()?;
        let (kind, rest) = line.split_at(1);
        let num = || rest.parse::<i64>().unwrap_or(-1);
        Ok(match kind {
            "+" => Reply::Simple(rest.to_string()),
            "-" => Reply::Error(rest.to_string()),
            ":" => Reply::Int(num()),
            "_" => Reply::Nil,
            "," => Reply::Double(rest.to_string()),
            "#" => Reply::Bool(rest == "t"),
            "$" | "=" | "!" => {
                if num() < 0 {
                    Reply::Nil
                } else {
                    let mut buf = vec![0u8; num() as usize + 2];
                    self.reader.read_exact(&mut buf)?;
                    buf.truncate(num() as usize);
                    if kind == "!" {
                        Reply::Error(String::from_utf8_lossy(&buf).into_owned())
                    } else {
                        Reply::Bulk(buf)
                    }
                }
            }
            "*" | "~" | ">" => {
                if num() < 0 {
                    Reply::Nil
                } else {
                    let items = (0..num())
                        .map(|_| self.read_reply())
                        .collect::<Result<Vec<_>, _>>()?;
                    match kind {
                        "*" => Reply::Array(items),
                        "~" => Reply::Set(items),
                        _ => Reply::Push(items),
                    }
                }
            }
            "%" => {
                let mut pairs = Vec::new();
                for _ in 0..num() {
                    let k = self.read_reply()?;
                    let v = self.read_reply()?;
                    pairs.push((k, v));
                }
                Reply::Map(pairs)
            }
            other => panic!("unknown RESP type {other:?} in {line:?}"),
        })
    }
}

/// Poll `f` every 10 ms until it returns true or `limit` passes.
/// A command as RESP, the way clients send it and a master writes it to
/// replicas and the AOF.
pub fn resp<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `MTOKEN.CREATE user [opts...]` → (token, first).
pub fn create(c: &mut Conn, user: &[u8], opts: &[&str]) -> (Vec<u8>, i64) {
    let mut args: Vec<&[u8]> = vec![b"MTOKEN.CREATE", user];
    args.extend(opts.iter().map(|o| o.as_bytes()));
    let r = c.cmd(&args).array();
    assert_eq!(r.len(), 2, "CREATE reply: {r:?}");
    (r[0].bytes(), r[1].int())
}

/// `MTOKEN.VERIFY token` → Some(user) or None.
pub fn verify(c: &mut Conn, token: &[u8]) -> Option<Vec<u8>> {
    match c.cmd(&[&b"MTOKEN.VERIFY"[..], token]) {
        Reply::Nil => None,
        Reply::Bulk(u) => Some(u),
        other => panic!("VERIFY reply: {other:?}"),
    }
}

/// Every key in the server (binary-safe), by SCAN.
pub fn all_keys(c: &mut Conn) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    let mut cursor = b"0".to_vec();
    loop {
        let r = c.cmd(&[&b"SCAN"[..], &cursor, b"COUNT", b"1000"]).array();
        cursor = r[0].bytes();
        keys.extend(r[1].array().iter().map(|k| k.bytes()));
        if cursor == b"0" {
            return keys;
        }
    }
}

/// Whether `needle` occurs anywhere in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// One key as a test compares it across servers or restarts: its name, its
/// absolute expiry (`PEXPIRETIME`: -1 none) and its value (`GET` for
/// strings, `ZRANGE .. WITHSCORES` for sorted sets, `TYPE` otherwise).
#[derive(Clone, Debug, PartialEq)]
pub struct KeyState {
    pub key: Vec<u8>,
    pub pexpiretime: i64,
    pub value: Vec<Vec<u8>>,
}

/// Every key of the server with its expiry and value, sorted by name.
pub fn dataset(c: &mut Conn) -> Vec<KeyState> {
    let mut keys = all_keys(c);
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|key| {
            let kind = c.cmd(&[&b"TYPE"[..], &key]).text();
            let value = match kind.as_str() {
                "string" => vec![c.cmd(&[&b"GET"[..], &key]).bytes()],
                "zset" => c
                    .cmd(&[&b"ZRANGE"[..], &key, b"0", b"-1", b"WITHSCORES"])
                    .array()
                    .iter()
                    .map(|r| r.bytes())
                    .collect(),
                other => vec![other.as_bytes().to_vec()],
            };
            let pexpiretime = c.cmd(&[&b"PEXPIRETIME"[..], &key]).int();
            KeyState {
                key,
                pexpiretime,
                value,
            }
        })
        .collect()
}

/// The 15-byte digest under which the module stores a token (SHA-256,
/// truncated), i.e. what key names and index members hold.
pub fn token_digest(token: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(token)[..15].to_vec()
}

/// A token's public id as `MTOKEN.LIST` shows it and `MTOKEN.REVOKE` takes.
pub fn token_id(token: &[u8]) -> String {
    token_digest(token)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `MTOKEN.VERIFY_RO token` → Some(user) or None.
pub fn verify_ro(c: &mut Conn, token: &[u8]) -> Option<Vec<u8>> {
    match c.cmd(&[&b"MTOKEN.VERIFY_RO"[..], token]) {
        Reply::Nil => None,
        Reply::Bulk(u) => Some(u),
        other => panic!("VERIFY_RO reply: {other:?}"),
    }
}

/// One `INFO mtoken` counter by its short name, e.g. `"verify_malformed"`.
pub fn info_counter(c: &mut Conn, name: &str) -> u64 {
    let info = c.q("INFO mtoken").text();
    let field = format!("mtoken_{name}:");
    info.lines()
        .find_map(|l| l.strip_prefix(field.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO mtoken:\n{info}"))
}

/// The name of a user's index key (`<ns>:{tag}:u:<user>`), if it exists.
pub fn index_key(c: &mut Conn, user: &[u8]) -> Option<Vec<u8>> {
    let suffix = [&b"}:u:"[..], user].concat();
    all_keys(c).into_iter().find(|k| k.ends_with(&suffix))
}

/// The name of a token's entry key (`<ns>:{tag}:t:<digest>`), if it exists.
pub fn entry_key(c: &mut Conn, token: &[u8]) -> Option<Vec<u8>> {
    let suffix = [&b"}:t:"[..], &token_digest(token)].concat();
    all_keys(c).into_iter().find(|k| k.ends_with(&suffix))
}

/// `PEXPIRETIME key`: absolute expiry in ms, -1 none, -2 no such key.
pub fn pexpiretime(c: &mut Conn, key: &[u8]) -> i64 {
    c.cmd(&[&b"PEXPIRETIME"[..], key]).int()
}

/// The server's clock in ms (`TIME`).
pub fn server_ms(c: &mut Conn) -> u64 {
    let t = c.q("TIME").array();
    let secs: u64 = t[0].text().parse().expect("seconds");
    let micros: u64 = t[1].text().parse().expect("micros");
    secs * 1000 + micros / 1000
}

/// Poll until the server's clock has moved on by at least `ms` milliseconds,
/// so that a later write computes a different absolute time.
pub fn tick_ms(c: &mut Conn, ms: u64) {
    let start = server_ms(c);
    assert!(wait_until(Duration::from_secs(5), || server_ms(c) >= start + ms));
}

// ---------------------------------------------------------------------------
// Redis Cluster: a few servers made into one cluster, and a small
// cluster-aware client (slot routing, MOVED, ASK, TRYAGAIN) for the tests.

/// `CLUSTER KEYSLOT key`, computed here independently of the module: CRC16
/// (XMODEM) of the first non-empty `{...}` (else the whole key), mod 16384.
pub fn cluster_key_slot(key: &[u8]) -> u16 {
    let mut part = key;
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                part = &key[open + 1..open + 1 + len];
            }
        }
    }
    let mut crc: u16 = 0;
    for &b in part {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc & 16383
}

/// An external tool (`redis-cli ...`) running as a child process, its
/// stdout and stderr drained by threads so it never blocks on a full pipe.
pub struct Tool {
    what: String,
    child: Child,
    out: Option<std::thread::JoinHandle<Vec<u8>>>,
    err: Option<std::thread::JoinHandle<Vec<u8>>>,
}

impl Tool {
    /// Start `program args...` with stdin closed.
    pub fn spawn(program: &str, args: &[&str]) -> Tool {
        let what = format!("{program} {}", args.join(" "));
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        let drain = |mut r: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = r.read_to_end(&mut buf);
                buf
            })
        };
        let out = child.stdout.take().map(|r| drain(Box::new(r)));
        let err = child.stderr.take().map(|r| drain(Box::new(r)));
        Tool {
            what,
            child,
            out,
            err,
        }
    }

    /// Wait at most `limit` for the tool to exit and return its output. Past
    /// the limit it is killed and the test fails with what it printed.
    pub fn wait(self, limit: Duration) -> Output {
        self.wait_or(limit, || None)
    }

    /// As `wait`, but also gives up (kills the tool, fails the test) as soon
    /// as `abort` names a reason, e.g. a server the tool talks to died.
    pub fn wait_or(mut self, limit: Duration, mut abort: impl FnMut() -> Option<String>) -> Output {
        let deadline = Instant::now() + limit;
        let status = loop {
            let why = match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => format!("still running after {limit:?}"),
                Ok(None) => match abort() {
                    Some(why) => why,
                    None => {
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    }
                },
                Err(e) => panic!("wait for `{}`: {e}", self.what),
            };
            let _ = self.child.kill();
            let _ = self.child.wait();
            let out = self.collect();
            panic!(
                "`{}` killed: {why}; its output ends:\n{}",
                self.what,
                tail(&output_text(&out.0, &out.1), 40)
            );
        };
        let (stdout, stderr) = self.collect();
        Output {
            status,
            stdout,
            stderr,
        }
    }

    fn collect(&mut self) -> (Vec<u8>, Vec<u8>) {
        let join = |h: Option<std::thread::JoinHandle<Vec<u8>>>| {
            h.map(|h| h.join().unwrap_or_default()).unwrap_or_default()
        };
        (join(self.out.take()), join(self.err.take()))
    }
}

impl Drop for Tool {
    /// A tool still running when its test unwinds is killed, not leaked.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// stdout then stderr, as text.
pub fn output_text(stdout: &[u8], stderr: &[u8]) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(stdout),
        String::from_utf8_lossy(stderr)
    )
}

/// How long one `redis-cli` call may take (a reshard of thousands of slots
/// under traffic included) before it is killed.
pub const CLI_LIMIT: Duration = Duration::from_secs(300);

/// Start the command-line client (`cli_bin()`) with `args`.
pub fn spawn_cli(args: &[&str]) -> Tool {
    Tool::spawn(&cli_bin(), args)
}

/// Run the command-line client with `args` (bounded by 60 s) and collect its output.
pub fn redis_cli(args: &[&str]) -> Output {
    spawn_cli(args).wait(Duration::from_secs(60))
}

/// The port in a redirection's `host:port`.
fn redirect_port(addr: &str) -> u16 {
    addr.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("bad redirection address {addr:?}"))
}

/// Masters only, each a `Server` in its own dir (so `nodes.conf` files do
/// not clash), joined by `redis-cli --cluster create`.
pub struct Cluster {
    pub nodes: Vec<Server>,
    /// `CLUSTER MYID` of each node, in the order of `nodes`.
    pub ids: Vec<String>,
}

impl Cluster {
    /// A hash tag `<prefix><i>` whose slot node `node` serves.
    pub fn tag_on(&self, node: usize, prefix: &str) -> String {
        let (map, port) = (self.slot_map(0), self.ports()[node]);
        (0..)
            .map(|i| format!("{prefix}{i}"))
            .find(|t| map[cluster_key_slot(t.as_bytes()) as usize] == port)
            .unwrap_or_else(|| panic!("no tag on node {node}"))
    }

    /// `n` (>= 3) masters with the module and its default configs.
    pub fn start(n: usize) -> Cluster {
        Cluster::with(n, &[])
    }

    /// `n` (>= 3) masters, each loading the module with `module_args`.
    pub fn with(n: usize, module_args: &[&str]) -> Cluster {
        assert!(n >= 3, "redis-cli --cluster create needs 3 masters");
        let nodes: Vec<Server> = (0..n)
            .map(|_| {
                // An explicit bus port: the default (port + 10000) overflows
                // for ports above 55535.
                let bus = free_port().to_string();
                Server::with(
                    module_args,
                    &[
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-node-timeout",
                        "5000",
                        "--cluster-port",
                        &bus,
                    ],
                )
            })
            .collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect();
        let mut args = vec!["--cluster", "create"];
        args.extend(addrs.iter().map(|a| a.as_str()));
        args.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        let mut nodes = nodes;
        let out = spawn_cli(&args).wait_or(Duration::from_secs(60), || dead_nodes(&mut nodes));
        assert!(
            out.status.success(),
            "--cluster create failed:\n{}",
            output_text(&out.stdout, &out.stderr)
        );
        let ids = nodes
            .iter()
            .map(|s| s.conn().q("CLUSTER MYID").text())
            .collect();
        let cluster = Cluster { nodes, ids };
        cluster.wait_stable();
        cluster
    }

    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|s| s.port).collect()
    }

    /// `127.0.0.1:<port>` of node `i`.
    pub fn addr(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.nodes[i].port)
    }

    /// Which node (index into `nodes`) listens on `port`.
    pub fn node_at(&self, port: u16) -> usize {
        self.nodes
            .iter()
            .position(|s| s.port == port)
            .unwrap_or_else(|| panic!("no node on port {port}"))
    }

    /// For each slot, the port of its master as node `i` sees it
    /// (`CLUSTER SLOTS`; 0 when uncovered).
    pub fn slot_map(&self, i: usize) -> Vec<u16> {
        slot_map_of(&mut self.nodes[i].conn())
    }

    /// Wait (bounded) until every node reports `cluster_state:ok` and all
    /// nodes agree on who serves every slot.
    pub fn wait_stable(&self) {
        let ok = wait_until(Duration::from_secs(30), || {
            let all_ok = self.nodes.iter().all(|s| {
                s.conn()
                    .q("CLUSTER INFO")
                    .text()
                    .contains("cluster_state:ok")
            });
            all_ok && {
                let first = self.slot_map(0);
                !first.contains(&0) && (1..self.nodes.len()).all(|i| self.slot_map(i) == first)
            }
        });
        assert!(ok, "cluster did not become stable");
    }

    /// A cluster-aware client that knows the current slot map.
    pub fn client(&self) -> ClusterClient {
        let mut c = ClusterClient::new(self.nodes[0].port);
        c.load_slots();
        c
    }

    /// `redis-cli --cluster check`, polled (bounded) until it passes while
    /// gossip settles; returns its last output.
    pub fn check(&self) -> String {
        let addr = self.addr(0);
        let mut text = String::new();
        let ok = wait_until(Duration::from_secs(30), || {
            let out = redis_cli(&["--cluster", "check", &addr]);
            text = output_text(&out.stdout, &out.stderr);
            out.status.success() && !text.contains("[ERR]") && !text.contains("[WARNING]")
        });
        assert!(ok, "redis-cli --cluster check never passed:\n{text}");
        text
    }
}

/// `Some(ports and log tails)` when any of `nodes` has exited.
pub fn dead_nodes(nodes: &mut [Server]) -> Option<String> {
    let dead: Vec<String> = nodes
        .iter_mut()
        .filter_map(|s| (!s.alive()).then_some(s))
        .map(|s| {
            format!(
                "the server on port {} died; its log ends:\n{}",
                s.port,
                tail(&s.log(), 20)
            )
        })
        .collect();
    (!dead.is_empty()).then(|| dead.join("\n"))
}

/// For each slot, the port of its master per `CLUSTER SLOTS` on `c`.
pub fn slot_map_of(c: &mut Conn) -> Vec<u16> {
    let mut map = vec![0u16; 16384];
    for range in c.q("CLUSTER SLOTS").array() {
        let r = range.array();
        let (lo, hi) = (r[0].int() as usize, r[1].int() as usize);
        let port = r[2].array()[1].int() as u16;
        for slot in map.iter_mut().take(hi + 1).skip(lo) {
            *slot = port;
        }
    }
    map
}

/// A minimal cluster client: routes a command by its first argument's slot
/// (every MTOKEN command's key is argument 1), follows `MOVED` (remembering
/// the new owner) and `ASK` (one `ASKING` + command on the named node), and
/// retries `TRYAGAIN` from the slot's owner with a short, bounded backoff.
pub struct ClusterClient {
    seed: u16,
    slots: Vec<u16>,
    conns: std::collections::HashMap<u16, Conn>,
    /// Total time a single command may spend retrying TRYAGAIN.
    pub patience: Duration,
    pub moved: u64,
    pub asked: u64,
    pub tryagain: u64,
}

impl ClusterClient {
    /// A client that knows nothing yet: every slot goes to `seed` until a
    /// `MOVED` says otherwise.
    pub fn new(seed: u16) -> ClusterClient {
        ClusterClient {
            seed,
            slots: vec![0; 16384],
            conns: std::collections::HashMap::new(),
            patience: Duration::from_secs(20),
            moved: 0,
            asked: 0,
            tryagain: 0,
        }
    }

    /// Learn the whole slot map (`CLUSTER SLOTS` on the seed node).
    pub fn load_slots(&mut self) {
        let seed = self.seed;
        self.slots = slot_map_of(self.conn(seed));
    }

    /// The connection to the node on `port` (opened on first use).
    pub fn conn(&mut self, port: u16) -> &mut Conn {
        self.conns.entry(port).or_insert_with(|| Conn::open(port))
    }

    /// The node this client would send `key`'s commands to first.
    pub fn port_for(&self, key: &[u8]) -> u16 {
        match self.slots[cluster_key_slot(key) as usize] {
            0 => self.seed,
            port => port,
        }
    }

    /// Send a command routed by `args[1]` and return the final reply (an
    /// error other than MOVED / ASK / TRYAGAIN is returned as is).
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        let slot = cluster_key_slot(args[1].as_ref()) as usize;
        let deadline = Instant::now() + self.patience;
        let mut backoff = Duration::from_millis(1);
        let mut target = self.port_for(args[1].as_ref());
        let mut asking = false;
        let mut hops = 0;
        loop {
            let conn = self.conn(target);
            let reply = if asking {
                conn.send(&[b"ASKING"]).expect("redis connection");
                conn.send(args).expect("redis connection");
                let ok = conn.read_reply().expect("redis connection");
                assert_eq!(ok, Reply::Simple("OK".into()), "ASKING reply");
                conn.read_reply().expect("redis connection")
            } else {
                conn.cmd(args)
            };
            asking = false;
            let err = match &reply {
                Reply::Error(e) => e.clone(),
                _ => return reply,
            };
            let mut words = err.split_whitespace();
            match words.next() {
                Some("MOVED") => {
                    let port = redirect_port(words.nth(1).unwrap_or(""));
                    self.slots[slot] = port;
                    self.moved += 1;
                    target = port;
                }
                Some("ASK") => {
                    target = redirect_port(words.nth(1).unwrap_or(""));
                    self.asked += 1;
                    asking = true;
                }
                Some("TRYAGAIN") => {
                    self.tryagain += 1;
                    assert!(
                        Instant::now() < deadline,
                        "still TRYAGAIN after {:?}: {err}",
                        self.patience
                    );
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_millis(50));
                    target = self.port_for(args[1].as_ref());
                    hops = 0;
                    continue;
                }
                _ => return reply,
            }
            hops += 1;
            assert!(hops < 16, "redirection loop for slot {slot}: {err}");
        }
    }

    /// Shorthand for whitespace-separated text arguments.
    pub fn q(&mut self, line: &str) -> Reply {
        let args: Vec<&str> = line.split_whitespace().collect();
        self.cmd(&args)
    }

    /// `MTOKEN.CREATE user [opts...]` → (token, first).
    pub fn create(&mut self, user: &[u8], opts: &[&str]) -> (Vec<u8>, i64) {
        let mut args: Vec<&[u8]> = vec![b"MTOKEN.CREATE", user];
        args.extend(opts.iter().map(|o| o.as_bytes()));
        let r = self.cmd(&args);
        let r = match r {
            Reply::Array(a) if a.len() == 2 => a,
            other => panic!("CREATE reply: {other:?}"),
        };
        (r[0].bytes(), r[1].int())
    }

    /// `MTOKEN.VERIFY token` → Some(user) or None.
    pub fn verify(&mut self, token: &[u8]) -> Option<Vec<u8>> {
        match self.cmd(&[&b"MTOKEN.VERIFY"[..], token]) {
            Reply::Nil => None,
            Reply::Bulk(u) => Some(u),
            other => panic!("VERIFY reply: {other:?}"),
        }
    }

    /// A command that must answer an integer (EXPIRE, EXPIREALL, REVOKE).
    pub fn int<A: AsRef<[u8]>>(&mut self, args: &[A]) -> i64 {
        match self.cmd(args) {
            Reply::Int(n) => n,
            other => panic!("expected an integer reply, got {other:?}"),
        }
    }
}

/// Run `f` on `clients` threads, each with its own connection, released
/// together by a barrier; returns their results in thread order.
pub fn in_parallel<T, F>(srv: &Server, clients: usize, f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize, &mut Conn) -> T + Send + Sync + 'static,
{
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(clients));
    let f = std::sync::Arc::new(f);
    let workers: Vec<_> = (0..clients)
        .map(|i| {
            let mut c = srv.conn();
            let (barrier, f) = (barrier.clone(), f.clone());
            std::thread::spawn(move || {
                barrier.wait();
                f(i, &mut c)
            })
        })
        .collect();
    workers
        .into_iter()
        .map(|w| w.join().expect("client thread"))
        .collect()
}

/// The server's version as (major, minor), from `INFO server`
/// (`valkey_version` on Valkey, else `redis_version`).
pub fn server_version(c: &mut Conn) -> (u32, u32) {
    let info = c.q("INFO server").text();
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
    };
    let v = field("valkey_version:")
        .or_else(|| field("redis_version:"))
        .unwrap_or_default();
    let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// A master and a replica of it, both with the module, the link up.
pub fn master_and_replica() -> (Server, Server) {
    let master = Server::with(&[], &["--repl-diskless-sync-delay", "0"]);
    let port = master.port.to_string();
    let replica = Server::with(&[], &["--replicaof", "127.0.0.1", &port]);
    let mut r = replica.conn();
    let up = wait_until(Duration::from_secs(20), || {
        let info = r.q("INFO replication").text();
        info.contains("master_link_status:up")
    });
    assert!(up, "replica never linked:\n{}", replica.log());
    (master, replica)
}

/// Wait until the replica has acknowledged every write made so far.
pub fn sync(m: &mut Conn) {
    assert_eq!(m.q("WAIT 1 5000"), Reply::Int(1), "replica did not ack");
}

/// A numeric field of `INFO section` (e.g. `master_repl_offset`).
pub fn info_field(c: &mut Conn, section: &str, name: &str) -> i64 {
    let info = c.q(&format!("INFO {section}")).text();
    let prefix = format!("{name}:");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in INFO {section}"))
}

/// `CONFIG SET name value`, expecting OK.
pub fn config_set(c: &mut Conn, name: &str, value: &str) {
    let r = c.cmd(&["CONFIG", "SET", name, value]);
    assert_eq!(r, Reply::Simple("OK".into()), "CONFIG SET {name} {value}");
}

/// Every byte string inside a reply, flattened (for "does X appear").
pub fn flatten(r: &Reply, out: &mut Vec<u8>) {
    match r {
        Reply::Simple(s) | Reply::Error(s) | Reply::Double(s) => {
            out.extend_from_slice(s.as_bytes())
        }
        Reply::Bulk(b) => out.extend_from_slice(b),
        Reply::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Reply::Array(a) | Reply::Set(a) | Reply::Push(a) => {
            for x in a {
                flatten(x, out);
                out.push(b' ');
            }
        }
        Reply::Map(pairs) => {
            for (k, v) in pairs {
                flatten(k, out);
                flatten(v, out);
            }
        }
        Reply::Nil | Reply::Bool(_) => {}
    }
}

/// Whether any part of a token's secret shows in `hay`: its two halves are
/// checked, so a truncated or partial copy also counts.
pub fn leaks(hay: &[u8], token: &[u8]) -> bool {
    let n = token.len();
    // PREFIX SECRET(43) CHECK(6) SLOT(3): the secret ends 9 chars from the end.
    let secret = &token[n - 52..n - 9];
    contains(hay, &secret[..20]) || contains(hay, &secret[20..])
}

pub fn assert_no_leak(what: &str, hay: &[u8], tokens: &[&[u8]]) {
    for t in tokens {
        assert!(
            !leaks(hay, t),
            "{what} shows token {}:\n{}",
            String::from_utf8_lossy(t),
            String::from_utf8_lossy(hay)
        );
    }
}
