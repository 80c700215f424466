//! Module configs (docs/DESIGN.md, "Expiry" and "Keys"): registered with Redis so that
//! they work as `--loadmodule libmtoken.so NAME VALUE ...`, as `mtoken.NAME`
//! lines in redis.conf, and with `CONFIG SET/GET mtoken.*`. Every value is
//! validated by Redis (numeric ranges, enum names) or by the setters here.

use std::os::raw::c_int;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicPtr, AtomicU8, Ordering};
use std::sync::{RwLock, RwLockReadGuard};

use redis_module::configuration::{
    register_bool_configuration, register_enum_configuration, register_i64_configuration,
    register_string_configuration, ConfigurationContext, ConfigurationFlags, ConfigurationValue,
};
use redis_module::{enum_configuration, raw, Context, RedisError, RedisString};

use crate::expiry::{Policy, RefreshMode};
use crate::token;

/// The largest TTL or lifetime in seconds (what a token entry can hold).
pub const MAX_SECONDS: i64 = u32::MAX as i64;

enum_configuration! {
    #[allow(non_camel_case_types)]
    #[derive(Debug, PartialEq, Eq)]
    pub enum RefreshOnVerify {
        none = 0,
        token = 1,
        user = 2,
    }
}

/// `mtoken.refresh-on-verify`, readable without a lock on the VERIFY path.
pub struct ModeConfig(AtomicU8);

impl ConfigurationValue<RefreshOnVerify> for ModeConfig {
    fn get(&self, _: &ConfigurationContext) -> RefreshOnVerify {
        match self.0.load(Ordering::Relaxed) {
            0 => RefreshOnVerify::none,
            2 => RefreshOnVerify::user,
            _ => RefreshOnVerify::token,
        }
    }
    fn set(&self, _: &ConfigurationContext, val: RefreshOnVerify) -> Result<(), RedisError> {
        self.0.store(val as u8, Ordering::Relaxed);
        Ok(())
    }
}

/// A string config with a validity check, so CONFIG SET of a bad value
/// fails with a sentence and leaves the old value in place.
pub struct StrConfig {
    value: RwLock<Vec<u8>>,
    /// The value as Redis reads it: Redis does not free what a string
    /// config's getter returns, so the module keeps it until the next set.
    shown: AtomicPtr<raw::RedisModuleString>,
    check: fn(&[u8]) -> Result<(), &'static str>,
}

impl StrConfig {
    pub fn get_bytes(&self) -> Vec<u8> {
        self.read().clone()
    }

    /// The value without a copy, for the length of one command.
    pub fn read(&self) -> RwLockReadGuard<'_, Vec<u8>> {
        self.value.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl ConfigurationValue<RedisString> for StrConfig {
    fn get(&self, _: &ConfigurationContext) -> RedisString {
        let mut shown = self.shown.load(Ordering::Relaxed);
        if shown.is_null() {
            let owned = RedisString::create_from_slice(std::ptr::null_mut(), &self.get_bytes());
            shown = owned.inner;
            std::mem::forget(owned); // kept in `shown`, freed by the next set

            self.shown.store(shown, Ordering::Relaxed);
        }
        // The crate hands this pointer to Redis with `take()`: nothing is
        // freed here, and Redis frees nothing either.
        RedisString::from_redis_module_string(std::ptr::null_mut(), shown)
    }
    fn set(&self, _: &ConfigurationContext, val: RedisString) -> Result<(), RedisError> {
        let bytes = val.as_slice();
        (self.check)(bytes).map_err(RedisError::Str)?;
        let mut guard = self.value.write().unwrap_or_else(|e| e.into_inner());
        *guard = bytes.to_vec();
        let old = self.shown.swap(std::ptr::null_mut(), Ordering::Relaxed);
        if !old.is_null() {
            drop(RedisString::from_redis_module_string(
                std::ptr::null_mut(),
                old,
            ));
        }
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
pub static REFRESH_MODE: ModeConfig = ModeConfig(AtomicU8::new(1));
pub static NAMESPACE: StrConfig = StrConfig {
    value: RwLock::new(Vec::new()),
    shown: AtomicPtr::new(std::ptr::null_mut()),
    check: check_namespace,
};
pub static PREFIX: StrConfig = StrConfig {
    value: RwLock::new(Vec::new()),
    shown: AtomicPtr::new(std::ptr::null_mut()),
    check: check_prefix,
};

fn load(v: &AtomicI64) -> u64 {
    v.load(Ordering::Relaxed).max(0) as u64
}

/// The expiry configs as they are now.
pub fn policy() -> Policy {
    Policy {
        default_ttl: load(&DEFAULT_TTL),
        refresh: match REFRESH_MODE.0.load(Ordering::Relaxed) {
            0 => RefreshMode::None,
            2 => RefreshMode::User,
            _ => RefreshMode::Token,
        },
        refresh_persistent: REFRESH_PERSISTENT.load(Ordering::Relaxed),
        refresh_interval: load(&REFRESH_INTERVAL),
        max_lifetime: load(&MAX_LIFETIME),
    }
}

pub fn max_tokens() -> usize {
    load(&MAX_TOKENS) as usize
}

/// Names accepted after `--loadmodule`, with or without the `mtoken.` prefix.
const NAMES: [&str; 8] = [
    "default-ttl",
    "refresh-on-verify",
    "refresh-persistent",
    "refresh-interval",
    "max-lifetime",
    "max-tokens-per-user",
    "namespace",
    "token-prefix",
];

/// Read `NAME VALUE` pairs from the module arguments.
pub fn parse_module_args(args: &[RedisString]) -> Result<Vec<(&'static str, String)>, String> {
    if !args.len().is_multiple_of(2) {
        return Err("module arguments must be NAME VALUE pairs".into());
    }
    let mut out = Vec::new();
    for pair in args.chunks(2) {
        let raw_name = String::from_utf8_lossy(pair[0].as_slice()).to_ascii_lowercase();
        let name = raw_name.strip_prefix("mtoken.").unwrap_or(&raw_name);
        let Some(known) = NAMES.iter().find(|n| **n == name) else {
            return Err(format!(
                "unknown module argument '{raw_name}' (known: {})",
                NAMES.join(", ")
            ));
        };
        out.push((
            *known,
            String::from_utf8_lossy(pair[1].as_slice()).into_owned(),
        ));
    }
    Ok(out)
}

fn int_arg(args: &[(&str, String)], name: &str, default: i64) -> Result<i64, String> {
    match args.iter().rev().find(|(n, _)| *n == name) {
        None => Ok(default),
        Some((_, v)) => v
            .parse::<i64>()
            .map_err(|_| format!("mtoken.{name} must be a whole number, got '{v}'")),
    }
}

fn str_arg<'a>(args: &'a [(&str, String)], name: &str, default: &'a str) -> &'a str {
    args.iter()
        .rev()
        .find(|(n, _)| *n == name)
        .map_or(default, |(_, v)| v.as_str())
}

/// Register every config, taking defaults from the module arguments, then let
/// Redis apply redis.conf lines and validate everything.
pub fn register(ctx: &Context, args: &[RedisString]) -> Result<(), String> {
    let args = parse_module_args(args)?;
    let flags = || ConfigurationFlags::DEFAULT;
    let ints: [(&str, &'static AtomicI64, i64, i64); 4] = [
        ("default-ttl", &DEFAULT_TTL, 0, MAX_SECONDS),
        ("refresh-interval", &REFRESH_INTERVAL, 60, 86_400 * 365),
        ("max-lifetime", &MAX_LIFETIME, 0, MAX_SECONDS),
        ("max-tokens-per-user", &MAX_TOKENS, 0, 1_000_000),
    ];
    for (name, var, default, max) in ints {
        let value = int_arg(&args, name, default)?;
        // Redis checks CONFIG SET against min/max, but not the default.
        if !(0..=max).contains(&value) {
            return Err(format!(
                "mtoken.{name} must be between 0 and {max}, got {value}"
            ));
        }
        register_i64_configuration(ctx, name, var, value, 0, max, flags(), None);
    }
    let persistent = match str_arg(&args, "refresh-persistent", "yes")
        .to_ascii_lowercase()
        .as_str()
    {
        "yes" | "true" | "1" => true,
        "no" | "false" | "0" => false,
        other => {
            return Err(format!(
                "mtoken.refresh-persistent must be yes or no, got '{other}'"
            ))
        }
    };
    register_bool_configuration(
        ctx,
        "refresh-persistent",
        &REFRESH_PERSISTENT,
        persistent,
        flags(),
        None,
    );
    let mode = match str_arg(&args, "refresh-on-verify", "token")
        .to_ascii_lowercase()
        .as_str()
    {
        "none" => RefreshOnVerify::none,
        "token" => RefreshOnVerify::token,
        "user" => RefreshOnVerify::user,
        other => {
            return Err(format!(
                "mtoken.refresh-on-verify must be none, token or user, got '{other}'"
            ))
        }
    };
    register_enum_configuration(ctx, "refresh-on-verify", &REFRESH_MODE, mode, flags(), None);
    // Checked here too: the crate turns the default into a C string, and a
    // NUL in it would panic during load.
    let ns = str_arg(&args, "namespace", "mtoken");
    check_namespace(ns.as_bytes())?;
    register_string_configuration(ctx, "namespace", &NAMESPACE, ns, flags(), None);
    let prefix = str_arg(&args, "token-prefix", "mt_");
    check_prefix(prefix.as_bytes())?;
    register_string_configuration(ctx, "token-prefix", &PREFIX, prefix, flags(), None);

    let loaded = match unsafe { raw::RedisModule_LoadConfigs } {
        Some(f) => unsafe { f(ctx.ctx) },
        None => {
            return Err("this Redis has no module configs (Redis 7.0 or newer is needed)".into())
        }
    };
    if loaded != raw::REDISMODULE_OK as c_int {
        return Err("a config value was refused (see the line above)".into());
    }
    Ok(())
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
}
