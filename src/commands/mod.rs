//! Command registration and the call boundary: arguments in, one reply out.
//!
//! Handlers get the arguments as borrowed byte slices (no copies, no
//! UTF-8 assumptions) and return `Result<()>`: they write their reply only
//! on success, after every check, so an error reply means nothing changed.

use crate::error::{Error, Result};
use crate::events;
use crate::ffi::command::{self, CommandDef};
use crate::ffi::Ctx;
use crate::stats;
use crate::store::redis::RedisStore;
use crate::tokens::Tokens;

mod apply;
pub mod args;
mod create;
mod devices;
mod expire;
mod rotate;
mod table;
mod verify;

pub use table::{ACL_CATEGORY, COMMANDS};

#[cfg(test)]
mod rules_tests;

type Handler = fn(&Ctx, &[&[u8]]) -> Result<()>;

/// Which arguments may carry a token and are hidden from MONITOR and
/// SLOWLOG, also in a call the command rejects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redact {
    Nothing,
    /// Every argument after the command name.
    All,
    /// Every argument after the user but an `EXCEPT` keyword at 2.
    AfterUser,
}

impl Redact {
    fn positions<'a>(self, args: &'a [&'a [u8]]) -> impl Iterator<Item = usize> + 'a {
        let from = match self {
            Redact::Nothing => args.len(),
            Redact::All => 1,
            Redact::AfterUser => 2,
        };
        (from..args.len()).filter(move |&pos| {
            !(self == Redact::AfterUser && pos == 2 && args[pos].eq_ignore_ascii_case(b"EXCEPT"))
        })
    }
}

/// One call of a command: redact, run the handler, turn its error into
/// the reply.
fn run(ctx: &Ctx, args: &[&[u8]], command: &Command) {
    // Before any check: a rejected call may still carry a token.
    for pos in command.redact.positions(args) {
        ctx.redact(pos);
    }
    match (command.handler)(ctx, args) {
        Ok(()) => {}
        Err(Error::Arity) => ctx.wrong_arity(),
        Err(e) => ctx.reply_error(&e.to_string()),
    }
}

/// The tokens as one command sees them: the store over this call's keys
/// (checked against the caller's ACL user; `writes`: the command may
/// write), the expiry configs and the clock, read once.
fn tokens(ctx: &Ctx, writes: bool) -> Tokens<RedisStore<'_>> {
    let mut t = Tokens::new(
        RedisStore::new(ctx, writes),
        crate::config::policy(),
        ctx.now_ms(),
    );
    if writes && events::MODE.get() != events::Mode::Off {
        t.ended = Some(Vec::new());
    }
    t
}

/// Publish the devices a command ended (`mtoken.events`), once it succeeded.
fn publish<S>(ctx: &Ctx, tokens: &mut Tokens<S>) {
    if let Some(ended) = tokens.ended.take() {
        events::publish(ctx, &ended);
    }
}

/// The reply of the commands that log tokens out: how many live ones went.
fn reply_revoked(ctx: &Ctx, removed: u64) {
    stats::REVOKED.add(removed);
    ctx.reply_int(removed as i64);
}

/// One row of the command table: what the server is told, and how a call
/// is handled.
pub struct Command {
    pub def: CommandDef,
    pub handler: Handler,
    pub redact: Redact,
    /// Internal (not for clients): kept out of the `@mtoken` category.
    pub internal: bool,
}

/// `ctx` is the module-load context Redis passed to `RedisModule_OnLoad`.
pub fn register(ctx: &redis_module::Context) -> Result<()> {
    let own_category =
        command::has_acl_categories() && command::add_acl_category(ctx, ACL_CATEGORY);
    for c in &COMMANDS {
        let categories = if !command::has_acl_categories() {
            String::new()
        } else if own_category && !c.internal {
            format!("{} {}", c.def.categories, ACL_CATEGORY.to_string_lossy())
        } else {
            c.def.categories.to_string()
        };
        command::register(ctx, &c.def, &categories)?;
    }
    Ok(())
}

/// `MTOKEN.CREATE user [TTL seconds] [NAME label] [SCOPE name [SCOPE name
/// ...]]`, from the table.
pub fn syntax(def: &CommandDef) -> String {
    let mut out = def.name.to_string_lossy().to_ascii_uppercase();
    for a in def.args {
        let name = a.name.to_string_lossy();
        let word = match a.token {
            Some(t) => format!("{} {name}", t.to_string_lossy()),
            None => name.into_owned(),
        };
        out.push(' ');
        if a.optional && a.multiple {
            out.push_str(&format!("[{word} [{word} ...]]"));
        } else if a.optional {
            out.push_str(&format!("[{word}]"));
        } else {
            out.push_str(&word);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn token_arguments_are_redacted_but_the_except_keyword() {
        let args: [&[u8]; 4] = [b"mtoken.expireall", b"alice", b"except", b"mt_x"];
        assert_eq!(Redact::AfterUser.positions(&args).collect::<Vec<_>>(), [3]);
        let args: [&[u8]; 4] = [b"mtoken.expireall", b"alice", b"mt_x", b"y"];
        assert_eq!(
            Redact::AfterUser.positions(&args).collect::<Vec<_>>(),
            [2, 3]
        );
        assert_eq!(Redact::All.positions(&args).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(Redact::Nothing.positions(&args).count(), 0);
    }

    /// The README's command reference shows each command's syntax as the
    /// table documents it.
    #[test]
    fn readme_shows_each_commands_syntax() {
        let readme = include_str!("../../README.md");
        for c in &COMMANDS {
            let syntax = syntax(&c.def);
            assert!(readme.contains(&syntax), "README lacks `{syntax}`");
        }
    }
}
