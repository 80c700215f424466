//! The one error type of the module: what a Redis client reads after `-`,
//! and why the module refused to load.

use std::ffi::CStr;
use std::fmt;

#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// Wrong number of arguments: Redis's own arity error.
    Arity,
    /// A key of the module's namespace holds another type.
    WrongType,
    /// A cluster slot is being imported and a key the command needs has not
    /// arrived yet: the client should retry (docs/DESIGN.md, "Redis Cluster").
    TryAgain,
    /// An argument error: the whole reply, starting with `ERR `.
    Invalid(&'static str),
    /// A value in the module's namespace that the module did not write.
    Corrupt,
    /// The caller's ACL user may not access a key the command needs.
    NoPerm,
    /// Three fresh tokens in a row hashed to names already taken.
    DigestCollisions,
    /// Redis refused a write the module checked it could make.
    WriteFailed,
    /// The operating system gave no randomness.
    NoRandomness,

    // Load time: configs and registration.
    /// The module arguments are not `NAME VALUE` pairs.
    ModuleArgsNotPairs,
    /// A module argument that names no config; `known` lists those that do.
    UnknownModuleArg {
        name: String,
        known: &'static [&'static str],
    },
    /// A numeric config given something other than a whole number.
    ConfigNotNumber { name: &'static str, value: String },
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
        accepted: &'static [&'static str],
    },
    /// A string config value its check refuses; `reason` names the config.
    ConfigInvalid { value: String, reason: &'static str },
    /// The server has no module configs (before Redis 7.0).
    NoModuleConfigs,
    /// The server refused a config value while applying them (it logs which).
    ConfigRefused,
    /// A module API entry point that loading needs is missing.
    ApiMissing { name: &'static str },
    /// The server refused to create a command.
    CommandNotRegistered { command: &'static CStr },
    /// A command just created could not be looked up.
    CommandNotFound { command: &'static CStr },
    /// The server refused a command's arity, key spec or docs.
    CommandNotDescribed { command: &'static CStr },
    /// The server refused a command's ACL categories.
    AclCategoriesRefused {
        command: &'static CStr,
        categories: String,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The error reply (for `Arity`, Redis writes its own).
    pub fn message(&self) -> &'static str {
        match self {
            Error::Arity => "ERR wrong number of arguments",
            Error::WrongType => "WRONGTYPE Operation against a key holding the wrong kind of value",
            Error::TryAgain => "TRYAGAIN the user's keys are being migrated to this node, retry",
            Error::Invalid(msg) => msg,
            Error::Corrupt => "ERR a key in the mtoken namespace does not hold an mtoken value",
            Error::NoPerm => {
                "NOPERM this user has no permissions to access one of the keys used by the command"
            }
            Error::DigestCollisions => {
                "ERR three new tokens in a row collided with existing entries"
            }
            Error::WriteFailed => "ERR the server refused to write a token entry",
            Error::NoRandomness => "ERR the operating system's random source failed",
            // Load time: never a reply; the log line is the `Display` text.
            Error::ModuleArgsNotPairs
            | Error::UnknownModuleArg { .. }
            | Error::ConfigNotNumber { .. }
            | Error::ConfigOutOfRange { .. }
            | Error::ConfigBadEnum { .. }
            | Error::ConfigInvalid { .. }
            | Error::NoModuleConfigs
            | Error::ConfigRefused
            | Error::ApiMissing { .. }
            | Error::CommandNotRegistered { .. }
            | Error::CommandNotFound { .. }
            | Error::CommandNotDescribed { .. }
            | Error::AclCategoriesRefused { .. } => "ERR the mtoken module failed to load",
        }
    }
}

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
            _ => f.write_str(self.message()),
        }
    }
}
