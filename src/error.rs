//! The one error type of the module: what a Redis client reads after `-`.

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
        }
    }
}
