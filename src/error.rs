//! The one error type of the module: what a Redis client reads after `-`,
//! and what the server log says when the module cannot load.

use std::fmt;

/// An option word of a command, named in argument errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opt {
    Ttl,
    Name,
    Except,
}

impl Opt {
    pub fn word(self) -> &'static str {
        match self {
            Opt::Ttl => "TTL",
            Opt::Name => "NAME",
            Opt::Except => "EXCEPT",
        }
    }

    /// What the option's value is, as its error message says it.
    fn value(self) -> &'static str {
        match self {
            Opt::Ttl => "a number of seconds",
            Opt::Name => "a label",
            Opt::Except => "a token",
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
}

pub type Result<T> = std::result::Result<T, Error>;

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
