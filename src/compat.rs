//! Differences between the servers that load the module, decided once at
//! load (`init`).
//!
//! Valkey 9 atomic slot migration: Valkey refuses `CLUSTER MIGRATESLOTS` on
//! a node where any loaded module has not set
//! `VALKEYMODULE_OPTIONS_HANDLE_ATOMIC_SLOT_MIGRATION` (`1 << 5` in Valkey
//! 9's valkeymodule.h). mtoken can set it: during an atomic migration the
//! target node receives the slot's keys (plain strings and sorted sets) and
//! the live writes as ordinary commands, and it does not own the slot, nor
//! run client commands for it (clients get MOVED to the source, ASKING does
//! not apply), until the hand-over; the module only ever runs where the slot
//! is owned, so the importing-slot rule in `cluster.rs` is never reached
//! (`tests/cluster_asm.rs` checks this on a real Valkey 9 cluster).
//!
//! The bit is only set on Valkey 9 or newer, and only when the server's
//! `GetModuleOptionsAll` says it knows it. Redis defines no option at bit 5
//! (its redismodule.h, up to the one shipped with redis-module 2.0.8, stops
//! at `1 << 3`) and may give it another meaning later: never set there.

use std::os::raw::c_int;

use redis_module::Context;

use crate::ffi::server;

/// Valkey's `VALKEYMODULE_OPTIONS_HANDLE_ATOMIC_SLOT_MIGRATION`.
pub const VALKEY_HANDLE_ATOMIC_SLOT_MIGRATION: c_int = 1 << 5;

/// What the module knows about the server that loaded it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerKind {
    /// `server_name` of `INFO server` (Valkey: "valkey"; Redis has none).
    pub name: Option<String>,
    /// `valkey_version` of `INFO server`, on Valkey.
    pub valkey_version: Option<String>,
    /// `RedisModule_GetModuleOptionsAll()` (Redis 7.2+, Valkey), if present.
    pub options_all: Option<c_int>,
}

/// `"9.1.2"` → (9, 1, 2); a missing part counts as 0.
pub fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.trim().split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next().unwrap_or(Some(0))?;
    let patch = parts.next().unwrap_or(Some(0))?;
    Some((major, minor, patch))
}

impl ServerKind {
    pub fn is_valkey(&self) -> bool {
        self.name.as_deref() == Some("valkey")
    }

    /// The module options to set: the atomic-slot-migration opt-in on Valkey
    /// 9+ when the server lists it among the options it knows; else none.
    pub fn module_options(&self) -> c_int {
        let valkey9 = self.is_valkey()
            && self
                .valkey_version
                .as_deref()
                .and_then(parse_version)
                .is_some_and(|(major, _, _)| major >= 9);
        let known = self
            .options_all
            .is_some_and(|all| all & VALKEY_HANDLE_ATOMIC_SLOT_MIGRATION != 0);
        if valkey9 && known {
            VALKEY_HANDLE_ATOMIC_SLOT_MIGRATION
        } else {
            0
        }
    }
}

/// Which server loaded the module.
pub fn detect(ctx: &Context) -> ServerKind {
    let mut info =
        server::info_fields(ctx, c"server", &[c"server_name", c"valkey_version"]).into_iter();
    ServerKind {
        name: info.next().flatten(),
        valkey_version: info.next().flatten(),
        options_all: server::module_options_all(),
    }
}

/// Called once from the module's `init`: set the module options this server
/// supports (see the top of this file) and log what was decided.
pub fn init(ctx: &Context) {
    let kind = detect(ctx);
    let options = kind.module_options();
    let opted_in = options != 0 && server::set_module_options(ctx, options);
    // What was found and decided, once per load (no client bytes in it).
    let all = kind.options_all.map_or_else(
        || "no GetModuleOptionsAll".to_string(),
        |a| format!("{a:#x}"),
    );
    ctx.log_notice(
        &format!(
            "mtoken: server {} {}, module options known {all}; atomic slot migration {}",
            kind.name.as_deref().unwrap_or("redis"),
            kind.valkey_version.as_deref().unwrap_or(""),
            if opted_in {
                "supported (opted in)"
            } else {
                "not used"
            }
        )
        .replace('%', "%%"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(name: Option<&str>, version: Option<&str>, all: Option<c_int>) -> ServerKind {
        ServerKind {
            name: name.map(String::from),
            valkey_version: version.map(String::from),
            options_all: all,
        }
    }

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("9.1.2"), Some((9, 1, 2)));
        assert_eq!(parse_version("10"), Some((10, 0, 0)));
        assert_eq!(parse_version("8.1"), Some((8, 1, 0)));
        assert_eq!(parse_version(""), None);
        assert_eq!(parse_version("x.1"), None);
        assert_eq!(parse_version("9.x"), None);
    }

    #[test]
    fn valkey_9_that_knows_the_bit_opts_in() {
        assert_eq!(
            kind(Some("valkey"), Some("9.1.2"), Some(63)).module_options(),
            VALKEY_HANDLE_ATOMIC_SLOT_MIGRATION
        );
        assert_eq!(
            kind(Some("valkey"), Some("10.0.0"), Some(0xff)).module_options(),
            VALKEY_HANDLE_ATOMIC_SLOT_MIGRATION
        );
    }

    #[test]
    fn never_on_redis_or_older_valkey_or_when_unknown() {
        // Redis: no server_name, whatever GetModuleOptionsAll says.
        assert_eq!(kind(None, None, Some(0xff)).module_options(), 0);
        assert_eq!(
            kind(Some("redis"), Some("9.0.0"), Some(0xff)).module_options(),
            0
        );
        // Valkey 8: bit 5 is not atomic slot migration there.
        assert_eq!(
            kind(Some("valkey"), Some("8.1.1"), Some(0xff)).module_options(),
            0
        );
        // Valkey 9 that does not list the bit, or cannot say.
        assert_eq!(
            kind(Some("valkey"), Some("9.0.0"), Some(15)).module_options(),
            0
        );
        assert_eq!(
            kind(Some("valkey"), Some("9.0.0"), None).module_options(),
            0
        );
        assert_eq!(kind(Some("valkey"), None, Some(63)).module_options(), 0);
    }
}
