//! `MTOKEN.APPLY key batch`: internal. What a master sends its replicas and
//! writes to its AOF for one command's writes (see `effects.rs`); refused
//! from clients, whose writes go through the other commands.

use crate::commands::args::Cursor;
use crate::effects;
use crate::error::{Error, Result};
use crate::ffi::Ctx;
use crate::store::replay::replay;

pub fn apply(ctx: &Ctx, argv: &[&[u8]]) -> Result<()> {
    let mut args = Cursor::new(argv);
    let _key = args.next_arg()?;
    let batch = args.next_arg()?;
    args.done()?;
    if !ctx.from_master_or_aof() {
        return Err(Error::InternalCommand);
    }
    let ops = effects::decode(batch).ok_or(Error::BadBatch)?;
    let replayed = replay(ctx, &ops);
    // Into this server's own AOF (a replica's sub-replicas get the
    // master's stream as it came) — also when one write failed: the
    // others were applied (as in MULTI/EXEC), and an AOF without them
    // would reload into another dataset than this server holds. Replaying
    // the batch from the AOF fails the same write the same way.
    ctx.replicate_verbatim();
    replayed?;
    ctx.reply_ok();
    Ok(())
}
