//! Module configs (docs/DESIGN.md, "Expiry and refresh" and "Keys"): registered with Redis so that
//! they work as `--loadmodule libmtoken.so NAME VALUE ...`, as `mtoken.NAME`
//! lines in redis.conf, and with `CONFIG SET/GET mtoken.*`. Every value is
//! validated by Redis (numeric ranges, enum names) or by the setters here.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, Ordering};

use redis_module::configuration::{
    register_bool_configuration, register_enum_configuration, register_i64_configuration,
    register_string_configuration, ConfigurationContext, ConfigurationFlags, ConfigurationValue,
    EnumConfigurationValue,
};
use redis_module::{Context, RedisError, RedisString};

use crate::error::Error;
use crate::events;
use crate::expiry::{Policy, RefreshMode};
use crate::ffi::config::{self as ffi_config, StringConfig};
use crate::token;

/// The largest TTL or lifetime in seconds (what a token entry can hold).
pub const MAX_SECONDS: i64 = u32::MAX as i64;

/// An enum config's values, each with the name Redis shows; Redis also
/// knows a value by a number, its place here.
pub trait Named: Copy + PartialEq + Send + Sync + 'static {
    const NAMES: &'static [(&'static str, Self)];
}

impl Named for RefreshMode {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("none", RefreshMode::None),
        ("token", RefreshMode::Token),
        ("user", RefreshMode::User),
    ];
}

/// A value of a `Named` enum as the crate's enum configs take it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Choice<T>(pub T);

impl<T: Named> From<Choice<T>> for i32 {
    fn from(c: Choice<T>) -> i32 {
        T::NAMES.iter().position(|&(_, v)| v == c.0).unwrap_or(0) as i32
    }
}

impl<T: Named> TryFrom<i32> for Choice<T> {
    type Error = RedisError;

    fn try_from(n: i32) -> Result<Self, RedisError> {
        usize::try_from(n)
            .ok()
            .and_then(|i| T::NAMES.get(i))
            .map(|&(_, v)| Choice(v))
            .ok_or(RedisError::Str("Value is not supported"))
    }
}

impl<T: Named> EnumConfigurationValue for Choice<T> {
    fn get_options(&self) -> (Vec<String>, Vec<i32>) {
        (0..)
            .zip(T::NAMES)
            .map(|(i, &(name, _))| (name.to_string(), i))
            .unzip()
    }
}

/// An enum config's current value, readable without a lock (VERIFY reads
/// the refresh mode on every call).
pub struct EnumConfig<T> {
    /// The value's place in `T::NAMES`; until Redis sets it, `default`.
    index: AtomicI32,
    default: T,
}

impl<T: Named> EnumConfig<T> {
    pub const fn new(default: T) -> Self {
        EnumConfig {
            index: AtomicI32::new(-1),
            default,
        }
    }

    pub fn get(&self) -> T {
        usize::try_from(self.index.load(Ordering::Relaxed))
            .ok()
            .and_then(|i| T::NAMES.get(i))
            .map_or(self.default, |&(_, v)| v)
    }
}

impl<T: Named> ConfigurationValue<Choice<T>> for EnumConfig<T> {
    fn get(&self, _: &ConfigurationContext) -> Choice<T> {
        Choice(EnumConfig::get(self))
    }
    fn set(&self, _: &ConfigurationContext, value: Choice<T>) -> Result<(), RedisError> {
        self.index.store(value.into(), Ordering::Relaxed);
        Ok(())
    }
}

pub fn check_namespace(ns: &[u8]) -> Result<(), &'static str> {
    if ns.is_empty() || ns.len() > crate::keys::MAX_NAMESPACE {
        return Err("mtoken.namespace must be 1 to 64 bytes");
    }
    if !ns
        .iter()
        .all(|&c| c.is_ascii_graphic() && c != b'{' && c != b'}')
    {
        return Err("mtoken.namespace may hold only printable ASCII without spaces, '{' or '}'");
    }
    Ok(())
}

pub fn check_prefix(prefix: &[u8]) -> Result<(), &'static str> {
    if token::valid_prefix(prefix) {
        Ok(())
    } else {
        Err("mtoken.token-prefix may hold only A-Z, a-z, 0-9 and '_', at most 32 chars")
    }
}

pub static DEFAULT_TTL: AtomicI64 = AtomicI64::new(0);
pub static REFRESH_INTERVAL: AtomicI64 = AtomicI64::new(60);
pub static MAX_LIFETIME: AtomicI64 = AtomicI64::new(0);
pub static MAX_TOKENS: AtomicI64 = AtomicI64::new(0);
pub static REFRESH_PERSISTENT: AtomicBool = AtomicBool::new(true);
/// `mtoken.replicate-native`: replicate writes as native commands rather
/// than one `MTOKEN.APPLY` per command (docs/DESIGN.md, "Writes,
/// replication, persistence").
pub static REPLICATE_NATIVE: AtomicBool = AtomicBool::new(false);
pub static REFRESH_MODE: EnumConfig<RefreshMode> = EnumConfig::new(RefreshMode::Token);
pub static REUSE_WINDOW: AtomicI64 = AtomicI64::new(DEFAULT_REUSE_WINDOW);
pub static NAMESPACE: StringConfig = StringConfig::new(check_namespace);
pub static PREFIX: StringConfig = StringConfig::new(check_prefix);

fn load(v: &AtomicI64) -> u64 {
    v.load(Ordering::Relaxed).max(0) as u64
}

/// The expiry configs as they are now.
pub fn policy() -> Policy {
    Policy {
        default_ttl: load(&DEFAULT_TTL),
        refresh: REFRESH_MODE.get(),
        refresh_persistent: REFRESH_PERSISTENT.load(Ordering::Relaxed),
        refresh_interval: load(&REFRESH_INTERVAL),
        max_lifetime: load(&MAX_LIFETIME),
    }
}

pub fn replicate_native() -> bool {
    REPLICATE_NATIVE.load(Ordering::Relaxed)
}

pub fn max_tokens() -> usize {
    load(&MAX_TOKENS) as usize
}

/// `mtoken.rotation-reuse-window`: seconds a replaced token is remembered
/// at most (docs/DESIGN.md, "Rotation").
pub const DEFAULT_REUSE_WINDOW: i64 = 7 * 86_400;

pub fn reuse_window() -> u64 {
    load(&REUSE_WINDOW)
}

/// Names accepted after `--loadmodule`, with or without the `mtoken.` prefix.
const NAMES: [&str; 11] = [
    "default-ttl",
    "refresh-on-verify",
    "refresh-persistent",
    "refresh-interval",
    "max-lifetime",
    "max-tokens-per-user",
    "namespace",
    "token-prefix",
    "replicate-native",
    "events",
    "rotation-reuse-window",
];

/// Read `NAME VALUE` pairs from the module arguments.
pub fn parse_module_args(args: &[RedisString]) -> Result<Vec<(&'static str, String)>, Error> {
    if !args.len().is_multiple_of(2) {
        return Err(Error::ModuleArgsNotPairs);
    }
    let mut out = Vec::new();
    for pair in args.chunks(2) {
        let raw_name = String::from_utf8_lossy(pair[0].as_slice()).to_ascii_lowercase();
        let name = raw_name.strip_prefix("mtoken.").unwrap_or(&raw_name);
        let Some(known) = NAMES.iter().find(|n| **n == name) else {
            return Err(Error::UnknownModuleArg {
                name: raw_name,
                known: &NAMES,
            });
        };
        out.push((
            *known,
            String::from_utf8_lossy(pair[1].as_slice()).into_owned(),
        ));
    }
    Ok(out)
}

fn int_arg(args: &[(&str, String)], name: &'static str, default: i64) -> Result<i64, Error> {
    match args.iter().rev().find(|(n, _)| *n == name) {
        None => Ok(default),
        Some((_, v)) => v.parse::<i64>().map_err(|_| Error::ConfigNotNumber {
            name,
            value: v.clone(),
        }),
    }
}

/// The value of `name` among `accepted`, compared without case.
fn enum_arg<T: Copy + PartialEq>(
    args: &[(&str, String)],
    name: &'static str,
    default: T,
    values: &[(&'static str, T)],
) -> Result<T, Error> {
    let Some((_, given)) = args.iter().rev().find(|(n, _)| *n == name) else {
        return Ok(default);
    };
    values
        .iter()
        .find(|(v, _)| v.eq_ignore_ascii_case(given))
        .map(|&(_, value)| value)
        .ok_or_else(|| Error::ConfigBadEnum {
            name,
            value: given.clone(),
            // The first name of each value (`yes`, not its synonyms).
            accepted: values
                .iter()
                .enumerate()
                .filter(|&(i, &(_, v))| !values[..i].iter().any(|&(_, w)| w == v))
                .map(|(_, &(n, _))| n)
                .collect(),
        })
}

/// A string config's value given at load, checked as CONFIG SET checks it.
/// (Checked here too: the crate turns the default into a C string, and a
/// NUL in it would panic during load.)
fn string_arg<'a>(
    args: &'a [(&str, String)],
    name: &str,
    default: &'a str,
    check: fn(&[u8]) -> Result<(), &'static str>,
) -> Result<&'a str, Error> {
    let value = str_arg(args, name, default);
    check(value.as_bytes()).map_err(|reason| Error::ConfigInvalid {
        value: value.to_string(),
        reason,
    })?;
    Ok(value)
}

fn str_arg<'a>(args: &'a [(&str, String)], name: &str, default: &'a str) -> &'a str {
    args.iter()
        .rev()
        .find(|(n, _)| *n == name)
        .map_or(default, |(_, v)| v.as_str())
}

/// Register every config, taking defaults from the module arguments, then let
/// Redis apply redis.conf lines and validate everything.
pub fn register(ctx: &Context, args: &[RedisString]) -> Result<(), Error> {
    let args = parse_module_args(args)?;
    let flags = || ConfigurationFlags::DEFAULT;
    let ints: [(&str, &'static AtomicI64, i64, i64); 5] = [
        ("default-ttl", &DEFAULT_TTL, 0, MAX_SECONDS),
        ("refresh-interval", &REFRESH_INTERVAL, 60, 86_400 * 365),
        ("max-lifetime", &MAX_LIFETIME, 0, MAX_SECONDS),
        ("max-tokens-per-user", &MAX_TOKENS, 0, 1_000_000),
        (
            "rotation-reuse-window",
            &REUSE_WINDOW,
            DEFAULT_REUSE_WINDOW,
            MAX_SECONDS,
        ),
    ];
    for (name, var, default, max) in ints {
        let value = int_arg(&args, name, default)?;
        // Redis checks CONFIG SET against min/max, but not the default.
        if !(0..=max).contains(&value) {
            return Err(Error::ConfigOutOfRange {
                name,
                value,
                min: 0,
                max,
            });
        }
        register_i64_configuration(ctx, name, var, value, 0, max, flags(), None);
    }
    let yes_no = [
        ("yes", true),
        ("true", true),
        ("1", true),
        ("no", false),
        ("false", false),
        ("0", false),
    ];
    let bools: [(&str, &'static AtomicBool, bool); 2] = [
        ("refresh-persistent", &REFRESH_PERSISTENT, true),
        ("replicate-native", &REPLICATE_NATIVE, false),
    ];
    for (name, var, default) in bools {
        let value = enum_arg(&args, name, default, &yes_no)?;
        register_bool_configuration(ctx, name, var, value, flags(), None);
    }
    let mode = enum_arg(
        &args,
        "refresh-on-verify",
        RefreshMode::Token,
        RefreshMode::NAMES,
    )?;
    register_enum_configuration(
        ctx,
        "refresh-on-verify",
        &REFRESH_MODE,
        Choice(mode),
        flags(),
        None,
    );
    let events = enum_arg(&args, "events", events::Mode::Off, events::Mode::NAMES)?;
    register_enum_configuration(ctx, "events", &events::MODE, Choice(events), flags(), None);
    let ns = string_arg(&args, "namespace", "mtoken", check_namespace)?;
    register_string_configuration(ctx, "namespace", &NAMESPACE, ns, flags(), None);
    let prefix = string_arg(&args, "token-prefix", "mt_", check_prefix)?;
    register_string_configuration(ctx, "token-prefix", &PREFIX, prefix, flags(), None);
    ffi_config::load(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_rules() {
        assert!(check_namespace(b"mtoken").is_ok());
        assert!(check_namespace(b"app:auth").is_ok());
        assert!(check_namespace(b"").is_err());
        assert!(check_namespace(b"a{b").is_err());
        assert!(check_namespace(b"a b").is_err());
        assert!(check_namespace(&[b'a'; 65]).is_err());
    }

    #[test]
    fn prefix_rules() {
        assert!(check_prefix(b"mt_").is_ok());
        assert!(check_prefix(b"").is_ok());
        assert!(check_prefix(b"mt-").is_err());
        assert!(check_prefix(b"%s").is_err());
    }

    #[test]
    fn refresh_modes_round_trip_through_their_numbers() {
        let (names, numbers) = Choice(RefreshMode::Token).get_options();
        assert_eq!(names, ["none", "token", "user"]);
        for ((name, mode), n) in RefreshMode::NAMES.iter().zip(numbers) {
            assert_eq!(Choice::try_from(n).ok(), Some(Choice(*mode)), "{name}");
            assert_eq!(i32::from(Choice(*mode)), n);
        }
        assert!(Choice::<RefreshMode>::try_from(3).is_err());
        assert!(Choice::<RefreshMode>::try_from(-1).is_err());
        // Until Redis sets it, a config reads as its default.
        let config = EnumConfig::new(RefreshMode::User);
        assert_eq!(config.get(), RefreshMode::User);
    }

    fn given(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        pairs.iter().map(|&(n, v)| (n, v.to_string())).collect()
    }

    #[test]
    fn module_arg_values_are_checked_and_the_error_names_them() {
        let args = given(&[
            ("default-ttl", "soon"),
            ("refresh-on-verify", "Sometimes"),
            ("namespace", "a{b"),
        ]);
        let e = int_arg(&args, "default-ttl", 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "mtoken.default-ttl must be a whole number, got 'soon'"
        );
        let e = enum_arg(
            &args,
            "refresh-on-verify",
            RefreshMode::Token,
            RefreshMode::NAMES,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "mtoken.refresh-on-verify must be none, token or user, got 'Sometimes'"
        );
        let e = string_arg(&args, "namespace", "mtoken", check_namespace).unwrap_err();
        assert!(e.to_string().starts_with("mtoken.namespace may hold only"));
        assert!(e.to_string().ends_with("got 'a{b'"));
        let e = Error::ConfigOutOfRange {
            name: "max-tokens-per-user",
            value: -1,
            min: 0,
            max: 1_000_000,
        };
        assert_eq!(
            e.to_string(),
            "mtoken.max-tokens-per-user must be between 0 and 1000000, got -1"
        );
    }

    #[test]
    fn module_arg_values_default_and_ignore_case() {
        let args = given(&[("refresh-on-verify", "USER"), ("refresh-on-verify", "none")]);
        // The last of repeated names wins, as in redis.conf.
        let mode = enum_arg(
            &args,
            "refresh-on-verify",
            RefreshMode::Token,
            RefreshMode::NAMES,
        );
        assert_eq!(mode, Ok(RefreshMode::None));
        let args = given(&[("refresh-on-verify", "USER")]);
        let mode = enum_arg(
            &args,
            "refresh-on-verify",
            RefreshMode::Token,
            RefreshMode::NAMES,
        );
        assert_eq!(mode, Ok(RefreshMode::User));
        assert_eq!(int_arg(&[], "default-ttl", 7), Ok(7));
        assert_eq!(
            string_arg(&[], "token-prefix", "mt_", check_prefix),
            Ok("mt_")
        );
    }
}
