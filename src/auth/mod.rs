//! Secrets: passwords and session tokens.
//!
//! Both are only ever stored hashed — passwords with argon2id (slow, salted)
//! in the `credentials` table outside the log, session tokens with SHA-256
//! (they are 256 random bits, so a fast hash is enough) inside the
//! `session.opened` event.

pub mod credentials;
pub mod password;
pub mod throttle;
pub mod token;
