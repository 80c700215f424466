//! Errors (docs/DESIGN.md, "Commands" and "Expiry"): configs are validated at CONFIG
//! SET and at load; wrong arity and bad options give an `ERR` sentence and
//! change nothing; a key of the wrong type gives `WRONGTYPE` and changes
//! nothing; hostile token arguments give nil, never an error or a crash;
//! every command declares its key and flags.

mod common;
use common::*;

fn config_get(c: &mut Conn, name: &str) -> String {
    let r = c.cmd(&["CONFIG", "GET", name]).array();
    assert_eq!(r.len(), 2, "CONFIG GET {name}: {r:?}");
    r[1].text()
}

fn try_config_set(c: &mut Conn, name: &str, value: &str) -> Reply {
    c.cmd(&["CONFIG", "SET", name, value])
}

/// Run `args`, expect an error starting with `want`, and check that the
/// dataset and the created-tokens counter did not change.
fn fails_and_changes_nothing(c: &mut Conn, args: &[&[u8]], want: &str) {
    let before = dataset(c);
    let created = info_counter(c, "tokens_created");
    let r = c.cmd(args);
    let shown: Vec<_> = args
        .iter()
        .map(|a| String::from_utf8_lossy(&a[..a.len().min(40)]).into_owned())
        .collect();
    let err = match r {
        Reply::Error(e) => e,
        other => panic!("{shown:?}: expected an error, got {other:?}"),
    };
    assert!(
        err.starts_with(want),
        "{shown:?}: {err:?} (wanted {want:?})"
    );
    assert_eq!(dataset(c), before, "{shown:?} changed the dataset");
    assert_eq!(info_counter(c, "tokens_created"), created, "{shown:?}");
}

// ---- configs ----------------------------------------------------------------

#[test]
fn config_set_rejects_bad_values_and_keeps_the_old_one() {
    let srv = Server::start();
    let mut c = srv.conn();
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "mtoken.default-ttl",
            "0",
            &["-1", "abc", "1.5", "", "99999999999999"],
        ),
        ("mtoken.refresh-interval", "60", &["-1", "soon", "1e3"]),
        ("mtoken.max-lifetime", "0", &["-5", "forever"]),
        (
            "mtoken.max-tokens-per-user",
            "0",
            &["-1", "ten", "99999999999"],
        ),
        (
            "mtoken.refresh-on-verify",
            "token",
            &["bogus", "", "tokens", "all"],
        ),
        ("mtoken.refresh-persistent", "yes", &["maybe", "", "2"]),
        (
            "mtoken.namespace",
            "mtoken",
            &["", "a{b", "a}b", "{x}", "a b", "tab\there", &"n".repeat(65)],
        ),
        (
            "mtoken.token-prefix",
            "mt_",
            &["mt-", "a b", "%s", "é", "{x}", &"p".repeat(33)],
        ),
    ];
    for (name, default, bad) in cases {
        assert_eq!(&config_get(&mut c, name), default);
        for value in bad.iter() {
            let r = try_config_set(&mut c, name, value);
            assert!(r.is_error(), "CONFIG SET {name} {value:?} accepted: {r:?}");
            assert_eq!(&config_get(&mut c, name), default, "{name} after {value:?}");
        }
    }
    // The defaults still produce a working token.
    let (token, _) = create(&mut c, b"alice", &[]);
    assert!(token.starts_with(b"mt_"));
    assert_eq!(verify(&mut c, &token), Some(b"alice".to_vec()));
}

#[test]
fn config_set_accepts_good_values() {
    let srv = Server::start();
    let mut c = srv.conn();
    for (name, value) in [
        ("mtoken.default-ttl", "3600"),
        ("mtoken.refresh-interval", "0"),
        ("mtoken.max-lifetime", "86400"),
        ("mtoken.max-tokens-per-user", "10"),
        ("mtoken.refresh-on-verify", "user"),
        ("mtoken.refresh-persistent", "no"),
        ("mtoken.namespace", "app:auth"),
        ("mtoken.token-prefix", "tok_"),
    ] {
        assert_eq!(
            try_config_set(&mut c, name, value),
            Reply::Simple("OK".into())
        );
        assert_eq!(config_get(&mut c, name), value);
    }
}

#[test]
fn module_args_set_configs_at_load_with_or_without_the_prefix() {
    for name in ["default-ttl", "mtoken.default-ttl", "MTOKEN.DEFAULT-TTL"] {
        let srv = Server::with(&[name, "60", "refresh-on-verify", "user"], &[]);
        let mut c = srv.conn();
        assert_eq!(config_get(&mut c, "mtoken.default-ttl"), "60", "{name}");
        assert_eq!(config_get(&mut c, "mtoken.refresh-on-verify"), "user");
        let (token, _) = create(&mut c, b"alice", &[]);
        let entry = entry_key(&mut c, &token).expect("entry");
        let ttl = c.cmd(&[&b"TTL"[..], &entry]).int();
        assert!((55..=60).contains(&ttl), "TTL {ttl}");
    }
}

#[test]
fn every_config_can_be_given_at_load() {
    let srv = Server::with(
        &[
            "default-ttl",
            "100",
            "refresh-on-verify",
            "none",
            "refresh-persistent",
            "no",
            "refresh-interval",
            "5",
            "max-lifetime",
            "1000",
            "max-tokens-per-user",
            "3",
            "namespace",
            "auth",
            "token-prefix",
            "x_",
        ],
        &[],
    );
    let mut c = srv.conn();
    for (name, value) in [
        ("default-ttl", "100"),
        ("refresh-on-verify", "none"),
        ("refresh-persistent", "no"),
        ("refresh-interval", "5"),
        ("max-lifetime", "1000"),
        ("max-tokens-per-user", "3"),
        ("namespace", "auth"),
        ("token-prefix", "x_"),
    ] {
        assert_eq!(config_get(&mut c, &format!("mtoken.{name}")), value);
    }
    let (token, _) = create(&mut c, b"alice", &[]);
    assert!(token.starts_with(b"x_"));
    assert!(all_keys(&mut c).iter().all(|k| k.starts_with(b"auth:{")));
}

#[test]
fn configs_in_the_server_config_apply_at_load() {
    let srv = Server::with(&[], &["--mtoken.default-ttl", "60"]);
    let mut c = srv.conn();
    assert_eq!(config_get(&mut c, "mtoken.default-ttl"), "60");
}

#[test]
fn a_bad_module_arg_makes_the_server_refuse_to_start() {
    let cases: &[&[&str]] = &[
        &["default-ttl", "-5"],
        &["default-ttl", "soon"],
        &["default-ttl"],
        &["no-such-config", "1"],
        &["refresh-on-verify", "sometimes"],
        &["refresh-persistent", "maybe"],
        &["namespace", "a{b"],
        &["token-prefix", "mt-"],
    ];
    for args in cases {
        match Server::try_with(args, &[]) {
            Ok(mut srv) => {
                srv.stop("NOSAVE");
                panic!("server started with module args {args:?}");
            }
            Err(log) => assert!(
                log.contains("mtoken") || log.contains("Module"),
                "{args:?}: the log does not say why:\n{log}"
            ),
        }
    }
    let r = Server::try_with(&[], &["--mtoken.default-ttl", "-5"]);
    assert!(
        r.is_err(),
        "a bad mtoken.* line in the server config was accepted"
    );
}

// ---- arity and options --------------------------------------------------------

#[test]
fn each_command_rejects_a_wrong_number_of_arguments() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (token, _) = create(&mut c, b"alice", &[]);
    let t: &[u8] = &token;
    let cases: &[&[&[u8]]] = &[
        &[b"MTOKEN.CREATE"],
        &[b"MTOKEN.VERIFY"],
        &[b"MTOKEN.VERIFY_RO"],
        &[b"MTOKEN.ROTATE"],
        &[b"MTOKEN.CHANNEL"],
        &[b"MTOKEN.CHANNEL", b"alice", b"extra"],
        &[b"MTOKEN.EXPIRE"],
        &[b"MTOKEN.EXPIRE", t, b"extra"],
        &[b"MTOKEN.EXPIREALL"],
        &[b"MTOKEN.LIST"],
        &[b"MTOKEN.LIST", b"alice", b"extra"],
        &[b"MTOKEN.REVOKE"],
        &[b"MTOKEN.REVOKE", b"alice"],
        &[b"MTOKEN.REVOKE", b"alice", b"id", b"extra"],
    ];
    for args in cases {
        fails_and_changes_nothing(&mut c, args, "ERR wrong number of arguments");
    }
    // VERIFY and VERIFY_RO take `[SCOPE name]`: a stray word is an option error.
    for cmd in [&b"MTOKEN.VERIFY"[..], b"MTOKEN.VERIFY_RO"] {
        fails_and_changes_nothing(&mut c, &[cmd, t, b"extra"], "ERR unknown option");
    }
    assert_eq!(verify(&mut c, t), Some(b"alice".to_vec()));
}

#[test]
fn create_option_errors_name_the_problem_and_change_nothing() {
    let srv = Server::start();
    let mut c = srv.conn();
    create(&mut c, b"alice", &["NAME", "laptop"]);
    let long_name = vec![b'n'; 257];
    let long_user = vec![b'u'; 1025];
    let cases: &[(&[&[u8]], &str)] = &[
        (&[b"alice", b"FOO", b"1"], "ERR unknown option"),
        (&[b"alice", b"FOO"], "ERR unknown option"),
        (&[b"alice", b"TTL"], "ERR TTL needs a number of seconds"),
        (&[b"alice", b"TTL", b"-1"], "ERR TTL must be"),
        (&[b"alice", b"TTL", b"abc"], "ERR TTL must be"),
        (&[b"alice", b"TTL", b"1.5"], "ERR TTL must be"),
        (&[b"alice", b"TTL", b""], "ERR TTL must be"),
        (&[b"alice", b"TTL", b"+5"], "ERR TTL must be"),
        (&[b"alice", b"TTL", b"4294967296"], "ERR TTL is too large"),
        (
            &[b"alice", b"TTL", b"99999999999999999999"],
            "ERR TTL is too large",
        ),
        (
            &[b"alice", b"TTL", b"1", b"TTL", b"2"],
            "ERR TTL given twice",
        ),
        (&[b"alice", b"NAME"], "ERR NAME needs a label"),
        (
            &[b"alice", b"NAME", b"a", b"NAME", b"b"],
            "ERR NAME given twice",
        ),
        (
            &[b"alice", b"NAME", &long_name],
            "ERR the name is longer than 256 bytes",
        ),
        (&[b"alice", b"TTL", b"5", b"NAME"], "ERR NAME needs a label"),
        (&[b""], "ERR the user id is empty"),
        (&[b"", b"TTL", b"5"], "ERR the user id is empty"),
        (&[&long_user], "ERR the user id is longer than 1024 bytes"),
    ];
    for (args, want) in cases {
        let mut full: Vec<&[u8]> = vec![b"MTOKEN.CREATE"];
        full.extend_from_slice(args);
        fails_and_changes_nothing(&mut c, &full, want);
    }
    // The limits themselves are accepted.
    let name = vec![b'n'; 256];
    let user = vec![b'u'; 1024];
    let r = c.cmd(&[&b"MTOKEN.CREATE"[..], &user, b"NAME", &name]);
    assert_eq!(r.array().len(), 2);
    let (big, _) = create(&mut c, b"bob", &["TTL", "4294967295"]);
    assert_eq!(verify(&mut c, &big), Some(b"bob".to_vec()));
}

#[test]
fn other_commands_reject_bad_options_and_users() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (token, _) = create(&mut c, b"alice", &[]);
    let t: &[u8] = &token;
    let long_user = vec![b'u'; 1025];
    let cases: &[(&[&[u8]], &str)] = &[
        (
            &[b"MTOKEN.EXPIREALL", b"alice", b"FOO"],
            "ERR unknown option",
        ),
        (
            &[b"MTOKEN.EXPIREALL", b"alice", b"BUT", t],
            "ERR unknown option",
        ),
        (
            &[b"MTOKEN.EXPIREALL", b"alice", b"EXCEPT"],
            "ERR EXCEPT needs a token",
        ),
        (
            &[b"MTOKEN.EXPIREALL", b"alice", b"EXCEPT", t, b"x"],
            "ERR unknown option",
        ),
        (&[b"MTOKEN.EXPIREALL", b""], "ERR the user id is empty"),
        (
            &[b"MTOKEN.EXPIREALL", &long_user],
            "ERR the user id is longer",
        ),
        (&[b"MTOKEN.LIST", b""], "ERR the user id is empty"),
        (&[b"MTOKEN.LIST", &long_user], "ERR the user id is longer"),
        (&[b"MTOKEN.REVOKE", b"", b"00"], "ERR the user id is empty"),
    ];
    for (args, want) in cases {
        fails_and_changes_nothing(&mut c, args, want);
    }
    assert_eq!(verify(&mut c, t), Some(b"alice".to_vec()));
}

/// Tokens no client should ever get an error for: nil, and no crash.
#[test]
fn hostile_token_arguments_get_nil_or_zero_never_an_error() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (token, _) = create(&mut c, b"alice", &[]);
    let mut nul_token = token.clone();
    nul_token[10] = 0;
    let hostile: Vec<Vec<u8>> = vec![
        vec![],
        b"\x00".to_vec(),
        vec![0xff; 55],
        vec![b'a'; 1 << 20],
        b"%s%s%s%n%n%p".to_vec(),
        b"mt_".to_vec(),
        [&b"mt_"[..], &[b'0'; 52]].concat(),
        [&b"mt_"[..], &[b'z'; 52]].concat(),
        [&b"{"[..], &token[1..]].concat(),
        "mt_é".repeat(20).into_bytes(),
        nul_token,
        vec![b'_'; 84],
    ];
    let before = dataset(&mut c);
    for h in &hostile {
        let shown = String::from_utf8_lossy(&h[..h.len().min(20)]).into_owned();
        assert_eq!(verify(&mut c, h), None, "{shown}");
        assert_eq!(verify_ro(&mut c, h), None, "{shown}");
        assert_eq!(c.cmd(&[&b"MTOKEN.EXPIRE"[..], h]), Reply::Int(0), "{shown}");
        let r = c.cmd(&[&b"MTOKEN.EXPIREALL"[..], b"nobody", b"EXCEPT", h]);
        assert_eq!(r, Reply::Int(0), "{shown}");
        let r = c.cmd(&[&b"MTOKEN.REVOKE"[..], b"alice", h]);
        assert_eq!(r, Reply::Int(0), "{shown}");
    }
    assert_eq!(dataset(&mut c), before);
    assert_eq!(verify(&mut c, &token), Some(b"alice".to_vec()));
}

// ---- WRONGTYPE --------------------------------------------------------------

/// A user index key name, learnt from a token made and then removed.
fn vacated_index_key(c: &mut Conn, user: &[u8]) -> Vec<u8> {
    create(c, user, &[]);
    let key = index_key(c, user).expect("index key");
    assert_eq!(c.q("FLUSHALL"), Reply::Simple("OK".into()));
    key
}

#[test]
fn wrong_type_at_the_users_index_gives_wrongtype_and_changes_nothing() {
    let srv = Server::start();
    let mut c = srv.conn();
    let key = vacated_index_key(&mut c, b"alice");
    let (other, _) = create(&mut c, b"bob", &[]);
    let some_id = token_id(&other);
    for (put, kind) in [
        (vec![&b"SET"[..], &key, b"not a zset"], "string"),
        (vec![&b"LPUSH"[..], &key, b"x", b"y"], "list"),
        (vec![&b"HSET"[..], &key, b"f", b"v"], "hash"),
    ] {
        assert!(!c.cmd(&put).is_error());
        let cases: &[&[&[u8]]] = &[
            &[b"MTOKEN.CREATE", b"alice"],
            &[b"MTOKEN.CREATE", b"alice", b"TTL", b"5", b"NAME", b"x"],
            &[b"MTOKEN.EXPIREALL", b"alice"],
            &[b"MTOKEN.EXPIREALL", b"alice", b"EXCEPT", &other],
            &[b"MTOKEN.LIST", b"alice"],
            &[b"MTOKEN.REVOKE", b"alice", some_id.as_bytes()],
        ];
        for args in cases {
            fails_and_changes_nothing(&mut c, args, "WRONGTYPE");
        }
        assert_eq!(c.cmd(&[&b"TYPE"[..], &key]).text(), kind);
        c.cmd(&[&b"DEL"[..], &key]);
    }
    assert_eq!(verify(&mut c, &other), Some(b"bob".to_vec()));
}

#[test]
fn verify_and_expire_give_wrongtype_when_the_index_is_replaced() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (token, _) = create(&mut c, b"alice", &[]);
    let index = index_key(&mut c, b"alice").expect("index");
    c.cmd(&[&b"DEL"[..], &index]);
    c.cmd(&[&b"LPUSH"[..], &index, b"x"]);
    // No write needed: the entry alone answers.
    assert_eq!(verify_ro(&mut c, &token), Some(b"alice".to_vec()));
    assert_eq!(verify(&mut c, &token), Some(b"alice".to_vec()));
    // A due refresh must write the index: it refuses and writes nothing.
    try_config_set(&mut c, "mtoken.refresh-interval", "0");
    let t: &[u8] = &token;
    fails_and_changes_nothing(&mut c, &[b"MTOKEN.VERIFY", t], "WRONGTYPE");
    fails_and_changes_nothing(&mut c, &[b"MTOKEN.EXPIRE", t], "WRONGTYPE");
    assert!(entry_key(&mut c, &token).is_some());
}

/// A key of another type at a token entry's name is not the module's: every
/// command that reads or would delete it gets WRONGTYPE (docs/DESIGN.md, "Commands").
#[test]
fn wrong_type_at_a_token_entry_gives_wrongtype_and_changes_nothing() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (token, _) = create(&mut c, b"alice", &[]);
    let entry = entry_key(&mut c, &token).expect("entry");
    c.cmd(&[&b"DEL"[..], &entry]);
    c.cmd(&[&b"LPUSH"[..], &entry, b"x"]);
    let t: &[u8] = &token;
    let id = token_id(&token);
    for args in [
        &[&b"MTOKEN.VERIFY"[..], t][..],
        &[b"MTOKEN.VERIFY_RO", t],
        &[b"MTOKEN.EXPIRE", t],
        &[b"MTOKEN.LIST", b"alice"],
        &[b"MTOKEN.REVOKE", b"alice", id.as_bytes()],
        &[b"MTOKEN.EXPIREALL", b"alice"],
    ] {
        fails_and_changes_nothing(&mut c, args, "WRONGTYPE");
    }
}

#[test]
fn a_foreign_string_at_a_token_entry_gives_an_error_not_a_crash() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (token, _) = create(&mut c, b"alice", &[]);
    let entry = entry_key(&mut c, &token).expect("entry");
    for junk in [
        &b""[..],
        b"garbage",
        &[1u8; 19],
        &[
            1u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, b'a',
        ],
    ] {
        c.cmd(&[&b"SET"[..], &entry, junk]);
        let t: &[u8] = &token;
        for args in [
            &[&b"MTOKEN.VERIFY"[..], t][..],
            &[b"MTOKEN.VERIFY_RO", t],
            &[b"MTOKEN.EXPIRE", t],
            &[b"MTOKEN.LIST", b"alice"],
        ] {
            fails_and_changes_nothing(&mut c, args, "ERR a key in the mtoken namespace");
        }
    }
}
