//! Secrets: passwords, session tokens and API keys.
//!
//! All are only ever stored hashed — passwords with argon2id (slow, salted)
//! in the `credentials` table outside the log, session tokens and API keys
//! with SHA-256 (they are 256 random bits, so a fast hash is enough) inside
//! the `session.opened` and `service_account.key_issued` events. When a key
//! was last used is kept beside them (`key_uses`), not in the log.

pub mod api_key;
pub mod credentials;
pub mod key_uses;
pub mod password;
pub mod throttle;
pub mod token;
