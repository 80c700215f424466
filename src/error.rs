//! The one error type of the module: what a Redis client reads after `-`,
//! and what the server log says when the module cannot load.

use std::ffi::CStr;
use std::fmt;

/// An option word of a command, named in argument errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opt {
    Ttl,
    Name,
    Except,
    Scope,
    Grace,
}

impl Opt {
    pub fn word(self) -> &'static str {
        match self {
            Opt::Ttl => "TTL",
            Opt::Name => "NAME",
            Opt::Except => "EXCEPT",
            Opt::Scope => "SCOPE",
            Opt::Grace => "GRACE",
        }
    }

    /// What the option's value is, as its error message says it.
    fn value(self) -> &'static str {
        match self {
            Opt::Ttl => "a number of seconds",
            Opt::Name => "a label",
            Opt::Except => "a token",
            Opt::Scope => "a name",
            Opt::Grace => "a number of seconds",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// Wrong number of arguments: Redis's own arity error.
    Arity,
    /// A key of the module's namespace holds another type.
    WrongType,
    /// A cluster slot is being imported and a key the command needs has not
    /// arrived yet: the client should retry (docs/DESIGN.md, "Redis Cluster").
    TryAgain,
    /// The caller's ACL user may not access a key the command needs.
    NoPerm,

    // Arguments.
    EmptyUser,
    /// Longer than `commands::args::MAX_USER_LEN`.
    UserTooLong,
    /// Longer than `commands::args::MAX_NAME_LEN`.
    NameTooLong,
    /// A TTL that is not a plain whole number of seconds.
    NotSeconds,
    /// A TTL beyond what a token entry holds (u32 seconds).
    TtlTooLarge,
    /// A scope name outside `commands::args::scope`'s rules.
    BadScope,
    /// More than `commands::args::MAX_SCOPES` scopes.
    TooManyScopes,
    /// A GRACE that is not 0 to `commands::args::MAX_GRACE` seconds.
    BadGrace,
    /// An option word as the last argument, without its value.
    MissingValue(Opt),
    DuplicateOption(Opt),
    /// A word that is no option of `command`, which takes `takes`.
    UnknownOption {
        command: &'static str,
        takes: &'static str,
    },

    // Stored values and the server.
    /// A value in the module's namespace that the module did not write.
    ForeignValue,
    /// Three fresh tokens in a row hashed to names already taken.
    DigestCollisions,
    /// The server refused a write to a key the module had opened for it.
    WriteRefused,
    /// The operating system gave no randomness.
    NoRandomness,
    /// `MTOKEN.APPLY` called by a client.
    InternalCommand,
    /// An `MTOKEN.APPLY` batch this version did not write.
    BadBatch,

    // Load time: configs and registration.
    /// The module arguments are not `NAME VALUE` pairs.
    ModuleArgsNotPairs,
    /// A module argument that names no config; `known` lists those that do.
    UnknownModuleArg {
        name: String,
        known: &'static [&'static str],
    },
    /// A numeric config given something other than a whole number.
    ConfigNotNumber {
        name: &'static str,
        value: String,
    },
    /// A numeric config outside its range.
    ConfigOutOfRange {
        name: &'static str,
        value: i64,
        min: i64,
        max: i64,
    },
    /// A yes/no or enum config given a name it does not take.
    ConfigBadEnum {
        name: &'static str,
        value: String,
        accepted: Vec<&'static str>,
    },
    /// A string config value its check refuses; `reason` names the config.
    ConfigInvalid {
        value: String,
        reason: &'static str,
    },
    /// The server has no module configs (before Redis 7.0).
    NoModuleConfigs,
    /// The server refused a config value while applying them (it logs which).
    ConfigRefused,
    /// A module API entry point that loading needs is missing.
    ApiMissing {
        name: &'static str,
    },
    /// The server refused to create a command.
    CommandNotRegistered {
        command: &'static CStr,
    },
    /// A command just created could not be looked up.
    CommandNotFound {
        command: &'static CStr,
    },
    /// The server refused a command's arity, key spec or docs.
    CommandNotDescribed {
        command: &'static CStr,
    },
    /// The server refused a command's ACL categories.
    AclCategoriesRefused {
        command: &'static CStr,
        categories: String,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

/// `a`, `a or b`, `a, b or c`.
fn one_of(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [only] => (*only).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Arity => f.write_str("ERR wrong number of arguments"),
            Error::WrongType => {
                f.write_str("WRONGTYPE Operation against a key holding the wrong kind of value")
            }
            Error::TryAgain => {
                f.write_str("TRYAGAIN the user's keys are being migrated to this node, retry")
            }
            Error::NoPerm => f.write_str(
                "NOPERM this user has no permissions to access one of the keys used by the command",
            ),
            Error::EmptyUser => f.write_str("ERR the user id is empty"),
            Error::UserTooLong => write!(
                f,
                "ERR the user id is longer than {} bytes",
                crate::commands::args::MAX_USER_LEN
            ),
            Error::NameTooLong => write!(
                f,
                "ERR the name is longer than {} bytes",
                crate::commands::args::MAX_NAME_LEN
            ),
            Error::NotSeconds => {
                f.write_str("ERR TTL must be a whole number of seconds, 0 or more")
            }
            Error::TtlTooLarge => write!(f, "ERR TTL is too large (at most {} seconds)", u32::MAX),
            Error::BadScope => write!(
                f,
                "ERR a scope is 1 to {} characters of A-Z a-z 0-9 _ . : / -",
                crate::commands::args::MAX_SCOPE_LEN
            ),
            Error::TooManyScopes => write!(
                f,
                "ERR a token has at most {} scopes",
                crate::commands::args::MAX_SCOPES
            ),
            Error::BadGrace => write!(
                f,
                "ERR GRACE must be a whole number of seconds from 0 to {}",
                crate::commands::args::MAX_GRACE
            ),
            Error::MissingValue(o) => write!(f, "ERR {} needs {}", o.word(), o.value()),
            Error::DuplicateOption(o) => write!(f, "ERR {} given twice", o.word()),
            Error::UnknownOption { command, takes } => {
                write!(f, "ERR unknown option: {command} takes {takes}")
            }
            Error::ForeignValue => {
                f.write_str("ERR a key in the mtoken namespace does not hold an mtoken value")
            }
            Error::DigestCollisions => {
                f.write_str("ERR three new tokens in a row collided with existing entries")
            }
            Error::WriteRefused => f.write_str("ERR the server refused a write to a token key"),
            Error::NoRandomness => f.write_str("ERR the operating system's random source failed"),
            Error::InternalCommand => f.write_str(
                "ERR MTOKEN.APPLY is internal: it only runs from the replication stream or the AOF",
            ),
            Error::BadBatch => {
                f.write_str("ERR MTOKEN.APPLY: not a batch of writes this mtoken version encodes")
            }
            Error::ModuleArgsNotPairs => f.write_str("module arguments must be NAME VALUE pairs"),
            Error::UnknownModuleArg { name, known } => write!(
                f,
                "unknown module argument '{name}' (known: {})",
                known.join(", ")
            ),
            Error::ConfigNotNumber { name, value } => {
                write!(f, "mtoken.{name} must be a whole number, got '{value}'")
            }
            Error::ConfigOutOfRange {
                name,
                value,
                min,
                max,
            } => write!(
                f,
                "mtoken.{name} must be between {min} and {max}, got {value}"
            ),
            Error::ConfigBadEnum {
                name,
                value,
                accepted,
            } => write!(
                f,
                "mtoken.{name} must be {}, got '{value}'",
                one_of(accepted)
            ),
            Error::ConfigInvalid { value, reason } => write!(f, "{reason}, got '{value}'"),
            Error::NoModuleConfigs => {
                f.write_str("this Redis has no module configs (Redis 7.0 or newer is needed)")
            }
            Error::ConfigRefused => f.write_str("a config value was refused (see the line above)"),
            Error::ApiMissing { name } => write!(f, "this server has no {name}"),
            Error::CommandNotRegistered { command } => {
                write!(f, "could not register {}", command.to_string_lossy())
            }
            Error::CommandNotFound { command } => write!(
                f,
                "could not look up {} after registering it",
                command.to_string_lossy()
            ),
            Error::CommandNotDescribed { command } => write!(
                f,
                "could not describe {} (arity, key spec, docs)",
                command.to_string_lossy()
            ),
            Error::AclCategoriesRefused {
                command,
                categories,
            } => write!(
                f,
                "could not set the ACL categories of {} to '{categories}'",
                command.to_string_lossy()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reply_starts_with_an_error_code_and_is_one_line() {
        let all = [
            Error::Arity,
            Error::WrongType,
            Error::TryAgain,
            Error::NoPerm,
            Error::EmptyUser,
            Error::UserTooLong,
            Error::NameTooLong,
            Error::NotSeconds,
            Error::TtlTooLarge,
            Error::BadScope,
            Error::TooManyScopes,
            Error::BadGrace,
            Error::MissingValue(Opt::Scope),
            Error::MissingValue(Opt::Ttl),
            Error::DuplicateOption(Opt::Name),
            Error::UnknownOption {
                command: "MTOKEN.X",
                takes: "Y",
            },
            Error::ForeignValue,
            Error::DigestCollisions,
            Error::WriteRefused,
            Error::NoRandomness,
            Error::InternalCommand,
            Error::BadBatch,
        ];
        for e in all {
            let text = e.to_string();
            let code = text.split(' ').next().unwrap_or_default();
            assert!(
                !code.is_empty() && code.bytes().all(|b| b.is_ascii_uppercase()),
                "{text}"
            );
            assert!(!text.contains(['\r', '\n']), "{text}");
        }
    }
}
