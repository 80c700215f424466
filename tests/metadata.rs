//! What the server is told about each command: flags, exact arity, key
//! specs, `COMMAND DOCS`, ACL categories where the server has them.

mod common;
use common::*;

/// (name, arity, flags it has, flags it lacks, key spec flags)
type Expected = (
    &'static str,
    i64,
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);
const COMMANDS: &[Expected] = &[
    (
        "mtoken.create",
        -2,
        &["write", "denyoom"],
        &["readonly", "fast"],
        &["RW", "insert", "not_key"],
    ),
    (
        "mtoken.verify",
        -2,
        &["write", "fast"],
        &["readonly", "denyoom"],
        &["RW", "access", "update", "not_key"],
    ),
    (
        "mtoken.verify_ro",
        -2,
        &["fast"],
        &["write", "readonly"],
        &["RO", "access", "not_key"],
    ),
    (
        "mtoken.expire",
        2,
        &["write", "fast"],
        &["readonly", "denyoom"],
        &["RW", "delete", "not_key"],
    ),
    (
        "mtoken.expireall",
        -2,
        &["write"],
        &["readonly", "denyoom"],
        &["RW", "delete", "not_key"],
    ),
    (
        "mtoken.list",
        2,
        &[],
        &["write", "readonly"],
        &["RO", "access", "not_key"],
    ),
    (
        "mtoken.revoke",
        3,
        &["write", "fast"],
        &["readonly", "denyoom"],
        &["RW", "delete", "not_key"],
    ),
    (
        "mtoken.rotate",
        -2,
        &["write", "fast", "denyoom"],
        &["readonly"],
        &["RW", "insert", "not_key"],
    ),
    (
        "mtoken.channel",
        2,
        &["fast"],
        &["write", "readonly"],
        &["RO", "access", "not_key"],
    ),
];

fn texts(r: &Reply) -> Vec<String> {
    r.array().iter().map(|f| f.text()).collect()
}

/// A RESP2 map (flat array of pairs) as pairs.
fn pairs(r: &Reply) -> Vec<(String, Reply)> {
    r.array()
        .chunks(2)
        .map(|p| (p[0].text(), p[1].clone()))
        .collect()
}

fn field(r: &Reply, name: &str) -> Reply {
    pairs(r)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no field {name} in {r:?}"))
}

#[test]
fn command_info_gives_exact_arity_flags_key_range_and_not_key_specs() {
    let srv = Server::start();
    let mut c = srv.conn();
    for (name, arity, has, lacks, spec_flags) in COMMANDS {
        let info = c.cmd(&["COMMAND", "INFO", name]).array();
        let info = info[0].array();
        assert_eq!(info[0].text(), *name);
        assert_eq!(info[1], Reply::Int(*arity), "{name} arity");
        let flags = texts(&info[2]);
        for f in has.iter() {
            assert!(flags.iter().any(|x| x == f), "{name} lacks {f}: {flags:?}");
        }
        for f in lacks.iter() {
            assert!(!flags.iter().any(|x| x == f), "{name} has {f}: {flags:?}");
        }
        // Legacy first/last/step: what cluster clients route by.
        assert_eq!(
            info[3..6],
            [Reply::Int(1), Reply::Int(1), Reply::Int(1)],
            "{name}"
        );
        let specs = info[8].array();
        assert_eq!(specs.len(), 1, "{name}: one key spec");
        let got = texts(&field(&specs[0], "flags"));
        let mut want: Vec<String> = spec_flags.iter().map(|s| s.to_string()).collect();
        let mut got_sorted = got.clone();
        want.sort();
        got_sorted.sort();
        assert_eq!(got_sorted, want, "{name} key spec flags");
    }
}

#[test]
fn wrong_arity_is_refused_by_the_server_before_the_module_runs() {
    let srv = Server::start();
    let mut c = srv.conn();
    for args in [
        &["MTOKEN.VERIFY"][..],
        &["MTOKEN.VERIFY_RO"],
        &["MTOKEN.ROTATE"],
        &["MTOKEN.CHANNEL"],
        &["MTOKEN.CHANNEL", "a", "b"],
        &["MTOKEN.EXPIRE"],
        &["MTOKEN.LIST", "a", "b"],
        &["MTOKEN.REVOKE", "a"],
        &["MTOKEN.REVOKE", "a", "b", "c"],
        &["MTOKEN.CREATE"],
        &["MTOKEN.EXPIREALL"],
    ] {
        let e = c.cmd(args).error();
        assert!(e.contains("wrong number of arguments"), "{args:?}: {e}");
    }
    assert_eq!(dataset(&mut c), vec![]);
}

#[test]
fn command_docs_describe_every_command_and_argument() {
    let srv = Server::start();
    let mut c = srv.conn();
    let args_of = |c: &mut Conn, name: &str| -> Vec<(String, String, Option<String>, bool)> {
        let docs = c.cmd(&["COMMAND", "DOCS", name]).array();
        assert_eq!(docs[0].text(), name);
        let d = &docs[1];
        for f in ["summary", "since", "complexity"] {
            assert!(!field(d, f).text().is_empty(), "{name}: no {f}");
        }
        // The version that added the command: this one or an earlier one.
        let version =
            |v: &str| -> Vec<u32> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
        let since = field(d, "since").text();
        assert!(
            version(&since) <= version(env!("CARGO_PKG_VERSION")),
            "{name}: since {since}"
        );
        field(d, "arguments")
            .array()
            .iter()
            .map(|a| {
                let p = pairs(a);
                let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.text());
                let optional = p
                    .iter()
                    .find(|(n, _)| n == "flags")
                    .is_some_and(|(_, v)| texts(v).iter().any(|f| f == "optional"));
                (
                    get("name").unwrap_or_default(),
                    get("type").unwrap_or_default(),
                    get("token"),
                    optional,
                )
            })
            .collect()
    };
    let s = |x: &str| x.to_string();
    assert_eq!(
        args_of(&mut c, "mtoken.create"),
        vec![
            (s("user"), s("key"), None, false),
            (s("seconds"), s("integer"), Some(s("TTL")), true),
            (s("label"), s("string"), Some(s("NAME")), true),
            (s("name"), s("string"), Some(s("SCOPE")), true),
        ]
    );
    assert_eq!(
        args_of(&mut c, "mtoken.expireall"),
        vec![
            (s("user"), s("key"), None, false),
            (s("token"), s("string"), Some(s("EXCEPT")), true),
        ]
    );
    assert_eq!(
        args_of(&mut c, "mtoken.revoke"),
        vec![
            (s("user"), s("key"), None, false),
            (s("id"), s("string"), None, false),
        ]
    );
    for name in ["mtoken.verify", "mtoken.verify_ro"] {
        assert_eq!(
            args_of(&mut c, name),
            vec![
                (s("token"), s("key"), None, false),
                (s("name"), s("string"), Some(s("SCOPE")), true),
            ]
        );
    }
    assert_eq!(
        args_of(&mut c, "mtoken.expire"),
        vec![(s("token"), s("key"), None, false)]
    );
    assert_eq!(
        args_of(&mut c, "mtoken.rotate"),
        vec![
            (s("token"), s("key"), None, false),
            (s("seconds"), s("integer"), Some(s("GRACE")), true),
        ]
    );
    assert_eq!(
        args_of(&mut c, "mtoken.list"),
        vec![(s("user"), s("key"), None, false)]
    );
}

/// `ACL CAT` lists categories and their commands on servers that let a
/// module set them (Redis 7.2+, Valkey); on 7.0 grants go by name.
#[test]
fn acl_categories_where_the_server_has_them() {
    let srv = Server::start();
    let mut c = srv.conn();
    let cats = texts(&c.cmd(&["ACL", "CAT"]));
    // COMMAND INFO's categories (element 6): `ACL CAT <category>` leaves
    // module commands out on some servers (7.4).
    let in_category = |c: &mut Conn, cat: &str| -> Vec<String> {
        let want = format!("@{cat}");
        let mut out = Vec::new();
        for name in [
            "mtoken.create",
            "mtoken.verify",
            "mtoken.verify_ro",
            "mtoken.expire",
            "mtoken.expireall",
            "mtoken.list",
            "mtoken.revoke",
            "mtoken.rotate",
            "mtoken.channel",
        ] {
            let info = c.cmd(&["COMMAND", "INFO", name]).array();
            let info = info[0].array();
            if texts(&info[6]).contains(&want) {
                out.push(name.to_string());
            }
        }
        out
    };
    let read = in_category(&mut c, "read");
    let has_categories = read.iter().any(|n| n == "mtoken.verify_ro");
    let version = server_version(&mut c);
    if version < (7, 2) {
        assert!(!has_categories, "7.0 has no module categories");
        return;
    }
    assert!(has_categories, "{version:?}: mtoken.verify_ro not in @read");
    let write = in_category(&mut c, "write");
    let fast = in_category(&mut c, "fast");
    for n in ["mtoken.verify_ro", "mtoken.list"] {
        assert!(read.iter().any(|x| x == n), "{n} in @read");
        assert!(!write.iter().any(|x| x == n), "{n} not in @write");
    }
    for n in [
        "mtoken.create",
        "mtoken.verify",
        "mtoken.expire",
        "mtoken.expireall",
        "mtoken.revoke",
    ] {
        assert!(write.iter().any(|x| x == n), "{n} in @write");
    }
    for n in [
        "mtoken.verify",
        "mtoken.verify_ro",
        "mtoken.expire",
        "mtoken.revoke",
    ] {
        assert!(fast.iter().any(|x| x == n), "{n} in @fast");
    }
    if cats.iter().any(|x| x == "mtoken") {
        assert_eq!(in_category(&mut c, "mtoken").len(), 9);
    }
    // A user granted by category can verify and create.
    c.q("ACL SETUSER edge on >pw +@read +@write ~*");
    let mut e = srv.conn();
    assert_eq!(e.q("AUTH edge pw"), Reply::Simple("OK".into()));
    let (tok, _) = create(&mut e, b"alice", &[]);
    assert_eq!(verify_ro(&mut e, &tok), Some(b"alice".to_vec()));
}

#[test]
fn module_list_and_info_report_the_crate_version() {
    let srv = Server::start();
    let mut c = srv.conn();
    let want = env!("CARGO_PKG_VERSION");
    let (major, minor, patch) = {
        let v: Vec<i64> = want.split('.').map(|x| x.parse().unwrap()).collect();
        (v[0], v[1], v[2])
    };
    let modules = c.q("MODULE LIST").array();
    let m = modules
        .iter()
        .find(|m| field(m, "name").text() == "mtoken")
        .expect("mtoken loaded");
    assert_eq!(
        field(m, "ver"),
        Reply::Int(major * 10000 + minor * 100 + patch)
    );
    let info = c.q("INFO mtoken").text();
    assert!(
        info.contains(&format!("mtoken_version:{want}")),
        "INFO mtoken: {info}"
    );
}
