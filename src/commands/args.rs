//! Argument parsing shared by the commands (pure: bytes in, values out),
//! through a cursor in the style of redismodule-rs's `NextArg`.

use crate::error::{Error, Opt, Result};
use crate::record::Ttl;

pub const MAX_USER_LEN: usize = 1024;
pub const MAX_NAME_LEN: usize = 256;
/// Scopes per token, and bytes per scope name.
pub const MAX_SCOPES: usize = 16;
pub const MAX_SCOPE_LEN: usize = 64;
/// The longest and the default grace period of ROTATE, in seconds.
pub const MAX_GRACE: u32 = 3600;
pub const DEFAULT_GRACE: u32 = 30;

/// The arguments of one call after the command name, taken in order.
pub struct Cursor<'a> {
    rest: &'a [&'a [u8]],
}

impl<'a> Cursor<'a> {
    /// `argv` as the handler got it: the command name first.
    pub fn new(argv: &'a [&'a [u8]]) -> Self {
        Cursor {
            rest: argv.get(1..).unwrap_or_default(),
        }
    }

    /// The next argument; an arity error when there is none.
    pub fn next_arg(&mut self) -> Result<&'a [u8]> {
        let (first, rest) = self.rest.split_first().ok_or(Error::Arity)?;
        self.rest = rest;
        Ok(first)
    }

    /// The next argument as a user id.
    pub fn next_user(&mut self) -> Result<&'a [u8]> {
        user(self.next_arg()?)
    }

    /// What is left, for an option parser.
    pub fn rest(self) -> &'a [&'a [u8]] {
        self.rest
    }

    /// The call must end here: an arity error when it does not.
    pub fn done(self) -> Result<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(Error::Arity)
        }
    }
}

/// A user id: binary-safe, 1 to 1024 bytes.
pub fn user(arg: &[u8]) -> Result<&[u8]> {
    if arg.is_empty() {
        return Err(Error::EmptyUser);
    }
    if arg.len() > MAX_USER_LEN {
        return Err(Error::UserTooLong);
    }
    Ok(arg)
}

/// A whole number of seconds, 0 or more, that a token entry can hold.
pub fn seconds(arg: &[u8]) -> Result<u32> {
    if arg.is_empty() || arg.len() > 20 || !arg.iter().all(u8::is_ascii_digit) {
        return Err(Error::NotSeconds);
    }
    // At most 20 ASCII digits: the fold cannot overflow a u128.
    let n = arg.iter().fold(0u128, |n, d| n * 10 + u128::from(d - b'0'));
    u32::try_from(n).map_err(|_| Error::TtlTooLarge)
}

/// A scope name: 1 to 64 bytes of `A-Z a-z 0-9 _ . : / -` (so that it
/// reads the same in a reply, a log and a Python string).
pub fn scope(arg: &[u8]) -> Result<&[u8]> {
    let ok = |c: &u8| c.is_ascii_alphanumeric() || b"_.:/-".contains(c);
    if arg.is_empty() || arg.len() > MAX_SCOPE_LEN || !arg.iter().all(ok) {
        return Err(Error::BadScope);
    }
    Ok(arg)
}

#[derive(Debug, PartialEq, Eq)]
pub struct CreateOptions<'a> {
    pub ttl: Ttl,
    pub name: Option<&'a [u8]>,
    /// Empty: the token holds every scope. Without repeats, in the order given.
    pub scopes: Vec<&'a [u8]>,
}

const CREATE_TAKES: Error = Error::UnknownOption {
    command: "MTOKEN.CREATE",
    takes: "TTL seconds, NAME label and SCOPE name",
};

fn option(word: &[u8], known: &[Opt]) -> Option<Opt> {
    known
        .iter()
        .copied()
        .find(|o| word.eq_ignore_ascii_case(o.word().as_bytes()))
}

/// `[TTL seconds] [NAME label] [SCOPE name ...]`, in any order; TTL and
/// NAME at most once, SCOPE up to `MAX_SCOPES` times (repeats count once).
pub fn create_options<'a>(args: &[&'a [u8]]) -> Result<CreateOptions<'a>> {
    let mut opts = CreateOptions {
        ttl: Ttl::Default,
        name: None,
        scopes: Vec::new(),
    };
    let mut ttl_seen = false;
    let mut rest = args;
    while let [word, tail @ ..] = rest {
        let opt = option(word, &[Opt::Ttl, Opt::Name, Opt::Scope]);
        let Some((value, tail)) = tail.split_first() else {
            return Err(opt.map_or(CREATE_TAKES, Error::MissingValue));
        };
        match opt {
            Some(Opt::Ttl) if ttl_seen => return Err(Error::DuplicateOption(Opt::Ttl)),
            Some(Opt::Ttl) => {
                ttl_seen = true;
                opts.ttl = Ttl::Explicit(seconds(value)?);
            }
            Some(Opt::Name) if opts.name.is_some() => {
                return Err(Error::DuplicateOption(Opt::Name))
            }
            Some(Opt::Name) if value.len() > MAX_NAME_LEN => return Err(Error::NameTooLong),
            Some(Opt::Name) => opts.name = Some(value),
            Some(Opt::Scope) => {
                let name = scope(value)?;
                if !opts.scopes.contains(&name) {
                    if opts.scopes.len() == MAX_SCOPES {
                        return Err(Error::TooManyScopes);
                    }
                    opts.scopes.push(name);
                }
            }
            _ => return Err(CREATE_TAKES),
        }
        rest = tail;
    }
    Ok(opts)
}

/// `[OPT value]`: a command whose only option is `opt`, given at most once.
fn single_option<'a>(
    args: &[&'a [u8]],
    opt: Opt,
    command: &'static str,
    takes: &'static str,
) -> Result<Option<&'a [u8]>> {
    let is_opt = |w: &[u8]| option(w, &[opt]).is_some();
    match args {
        [] => Ok(None),
        [word, value] if is_opt(word) => Ok(Some(value)),
        [word] if is_opt(word) => Err(Error::MissingValue(opt)),
        _ => Err(Error::UnknownOption { command, takes }),
    }
}

/// `[SCOPE name]` of VERIFY and VERIFY_RO.
pub fn scope_option<'a>(command: &'static str, args: &[&'a [u8]]) -> Result<Option<&'a [u8]>> {
    single_option(args, Opt::Scope, command, "SCOPE name")?
        .map(scope)
        .transpose()
}

/// `[GRACE seconds]` of ROTATE: at most `MAX_GRACE`, default `DEFAULT_GRACE`.
pub fn grace_option(args: &[&[u8]]) -> Result<u32> {
    match single_option(args, Opt::Grace, "MTOKEN.ROTATE", "GRACE seconds")? {
        None => Ok(DEFAULT_GRACE),
        Some(secs) => match seconds(secs) {
            Ok(s) if s <= MAX_GRACE => Ok(s),
            _ => Err(Error::BadGrace),
        },
    }
}

/// `[EXCEPT token]` of EXPIREALL.
pub fn except_option<'a>(args: &[&'a [u8]]) -> Result<Option<&'a [u8]>> {
    single_option(args, Opt::Except, "MTOKEN.EXPIREALL", "EXCEPT token")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg<T: std::fmt::Debug>(r: Result<T>) -> String {
        r.expect_err("should fail").to_string()
    }

    #[test]
    fn user_ids_are_checked_for_size_only() {
        assert_eq!(user(b"\x00\xff"), Ok(&b"\x00\xff"[..]));
        assert_eq!(msg(user(b"")), "ERR the user id is empty");
        assert!(user(&[b'a'; 1024]).is_ok());
        assert_eq!(
            msg(user(&[b'a'; 1025])),
            "ERR the user id is longer than 1024 bytes"
        );
    }

    #[test]
    fn seconds_accept_only_plain_whole_numbers() {
        assert_eq!(seconds(b"0"), Ok(0));
        assert_eq!(seconds(b"4294967295"), Ok(u32::MAX));
        for bad in [
            &b"-1"[..],
            b"1.5",
            b"",
            b" 1",
            b"+1",
            b"1e3",
            b"abc",
            b"\xff",
        ] {
            assert!(msg(seconds(bad)).starts_with("ERR TTL must be"), "{bad:?}");
        }
        for big in [
            &b"4294967296"[..],
            b"9223372036854775807",
            b"99999999999999999999",
        ] {
            assert!(msg(seconds(big)).starts_with("ERR TTL is too large"));
        }
        assert!(seconds(&[b'9'; 21]).is_err());
    }

    #[test]
    fn create_options_in_any_order_case_insensitive() {
        let o = create_options(&[b"name", b"phone", b"TtL", b"30"]).expect("valid");
        assert_eq!(
            o,
            CreateOptions {
                ttl: Ttl::Explicit(30),
                name: Some(b"phone"),
                scopes: vec![],
            }
        );
        let o = create_options(&[]).expect("valid");
        assert_eq!(
            o,
            CreateOptions {
                ttl: Ttl::Default,
                name: None,
                scopes: vec![],
            }
        );
    }

    #[test]
    fn create_options_errors_name_the_problem() {
        assert_eq!(
            msg(create_options(&[b"TTL"])),
            "ERR TTL needs a number of seconds"
        );
        assert_eq!(msg(create_options(&[b"NAME"])), "ERR NAME needs a label");
        assert!(msg(create_options(&[b"FOO", b"1"])).starts_with("ERR unknown option"));
        assert!(msg(create_options(&[b"FOO"])).starts_with("ERR unknown option"));
        assert_eq!(
            msg(create_options(&[b"TTL", b"1", b"TTL", b"2"])),
            "ERR TTL given twice"
        );
        assert_eq!(
            msg(create_options(&[b"NAME", b"a", b"NAME", b"b"])),
            "ERR NAME given twice"
        );
        let long = [b'n'; 257];
        assert_eq!(
            msg(create_options(&[b"NAME", &long])),
            "ERR the name is longer than 256 bytes"
        );
        assert!(create_options(&[b"NAME", &long[..256]]).is_ok());
        assert!(msg(create_options(&[b"TTL", b"-5"])).starts_with("ERR TTL must be"));
    }

    proptest::proptest! {
        #[test]
        fn option_parsers_never_panic(args in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::collection::vec(proptest::num::u8::ANY, 0..300),
                proptest::sample::select(vec![
                    b"TTL".to_vec(), b"ttl".to_vec(), b"NAME".to_vec(), b"EXCEPT".to_vec(),
                    b"-1".to_vec(), b"0".to_vec(), b"18446744073709551616".to_vec(),
                    b"9223372036854775807".to_vec(), b"4294967296".to_vec(),
                ]),
            ],
            0..8,
        )) {
            let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
            if let Ok(o) = create_options(&refs) {
                proptest::prop_assert!(o.name.is_none_or(|n| n.len() <= MAX_NAME_LEN));
            }
            let _ = except_option(&refs);
            let _ = scope_option("MTOKEN.VERIFY", &refs);
            let _ = grace_option(&refs);
            for a in &refs {
                let _ = seconds(a);
                let _ = user(a);
            }
        }
    }

    #[test]
    fn scopes_repeat_dedupe_and_are_bounded() {
        let o = create_options(&[b"SCOPE", b"a:read", b"scope", b"b", b"SCOPE", b"a:read"])
            .expect("valid");
        assert_eq!(o.scopes, [&b"a:read"[..], b"b"]);
        assert_eq!(msg(create_options(&[b"SCOPE"])), "ERR SCOPE needs a name");
        for bad in [&b""[..], b"a b", b"caf\xc3\xa9", b"*", &[b'a'; 65]] {
            assert!(
                msg(create_options(&[b"SCOPE", bad])).starts_with("ERR a scope is"),
                "{bad:?}"
            );
        }
        assert!(create_options(&[b"SCOPE", &[b'a'; 64]]).is_ok());
        let names: Vec<Vec<u8>> = (0..17).map(|i| format!("s{i}").into_bytes()).collect();
        let mut args: Vec<&[u8]> = Vec::new();
        for n in &names {
            args.push(b"SCOPE");
            args.push(n);
        }
        assert!(create_options(&args[..32]).is_ok());
        assert_eq!(
            msg(create_options(&args)),
            "ERR a token has at most 16 scopes"
        );
    }

    #[test]
    fn verify_and_rotate_option_shapes() {
        assert_eq!(scope_option("MTOKEN.VERIFY", &[]), Ok(None));
        assert_eq!(
            scope_option("MTOKEN.VERIFY", &[b"scope", b"x"]),
            Ok(Some(&b"x"[..]))
        );
        assert_eq!(
            msg(scope_option("MTOKEN.VERIFY", &[b"SCOPE"])),
            "ERR SCOPE needs a name"
        );
        assert!(msg(scope_option("MTOKEN.VERIFY", &[b"SCOPE", b"a b"])).starts_with("ERR a scope"));
        assert!(msg(scope_option("MTOKEN.VERIFY", &[b"X", b"y"])).starts_with("ERR unknown option"));
        assert_eq!(grace_option(&[]), Ok(DEFAULT_GRACE));
        assert_eq!(grace_option(&[b"grace", b"0"]), Ok(0));
        assert_eq!(grace_option(&[b"GRACE", b"3600"]), Ok(3600));
        for bad in [&b"3601"[..], b"-1", b"x"] {
            assert!(msg(grace_option(&[b"GRACE", bad])).starts_with("ERR GRACE must be"));
        }
        assert_eq!(
            msg(grace_option(&[b"GRACE"])),
            "ERR GRACE needs a number of seconds"
        );
        assert!(msg(grace_option(&[b"TTL", b"1"])).starts_with("ERR unknown option"));
    }

    #[test]
    fn except_option_shapes() {
        assert_eq!(except_option(&[]), Ok(None));
        assert_eq!(except_option(&[b"except", b"tok"]), Ok(Some(&b"tok"[..])));
        assert_eq!(msg(except_option(&[b"EXCEPT"])), "ERR EXCEPT needs a token");
        assert!(msg(except_option(&[b"BUT", b"tok"])).starts_with("ERR unknown option"));
        assert!(except_option(&[b"EXCEPT", b"a", b"b"]).is_err());
    }
}
