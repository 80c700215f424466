//! Core commands against a real server: CREATE, VERIFY, VERIFY_RO, EXPIRE,
//! EXPIREALL (the seed's behaviours, mapped to commands).

mod common;
use common::*;

#[test]
fn created_token_verifies_to_its_user() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (token, first) = create(&mut c, b"alice", &[]);
    assert_eq!(first, 1);
    assert_eq!(verify(&mut c, &token), Some(b"alice".to_vec()));
    let ro = c.cmd(&[&b"MTOKEN.VERIFY_RO"[..], &token]);
    assert_eq!(ro, Reply::Bulk(b"alice".to_vec()));
}
