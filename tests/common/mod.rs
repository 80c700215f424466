//! The one test harness: a real `redis-server` with the built module loaded,
//! on a free loopback port, and a small binary-safe RESP2/RESP3 client.
//!
//! A server that died during a test (a panic in the module aborts Redis)
//! fails the test when the `Server` is dropped, with the tail of its log.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
}

/// A fresh, empty scratch directory under the system temp dir.
pub fn scratch_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mtoken-test-{tag}-{}-{}",
        std::process::id(),
        free_port()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
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
        };
        s.launch()
            .unwrap_or_else(|log| panic!("redis-server did not start:\n{log}"));
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
        };
        s.launch().map(|()| s)
    }

    fn launch(&mut self) -> Result<(), String> {
        let port = free_port();
        let log = self.dir.join("redis.log");
        let mut cmd = Command::new("redis-server");
        cmd.arg("--port")
            .arg(port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(&log)
            .args(&self.redis_args)
            .arg("--loadmodule")
            .arg(module_path())
            .args(&self.module_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("spawn redis-server: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return Err(std::fs::read_to_string(&log).unwrap_or_default());
            }
            if let Ok(mut c) = Conn::try_open(port) {
                if let Ok(Reply::Simple(s)) = c.try_cmd(&[b"PING"]) {
                    if s == "PONG" {
                        break;
                    }
                }
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err(format!(
                    "timed out\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                ));
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
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
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

    pub fn stop(&mut self, shutdown: &str) {
        if let Some(mut child) = self.child.take() {
            if let Ok(mut c) = Conn::try_open(self.port) {
                let _ = c.try_cmd(&[b"SHUTDOWN", shutdown.as_bytes()]);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
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
            let _ = child.kill();
            let _ = child.wait();
            if crashed && !std::thread::panicking() {
                let log = self.log();
                let tail: Vec<_> = log.lines().rev().take(40).collect();
                let tail: Vec<_> = tail.into_iter().rev().collect();
                panic!("redis-server died during the test:\n{}", tail.join("\n"));
            }
        }
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

    /// Write a command without reading its reply (pipelining, MONITOR).
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> std::io::Result<()> {
        let mut buf = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            let a = a.as_ref();
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a);
            buf.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&buf)
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
